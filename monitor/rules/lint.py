"""Warnings for operator look-alikes in a query: words that are valid but were probably meant as operators.

The contract makes lower-case ``and``, ``or``, ``not``, ``near`` ordinary words, and rule files are shared, so
these are warnings, never errors: ``junta or tatmadaw`` searches the three words, ``junta NEAR5 airstrike`` the
word ``near5``. A quoted word (``"or"``) is taken as meant and not warned about.
"""

from __future__ import annotations

import re

from monitor.errors import RuleError
from monitor.rules.lexer import Lexer, Token

__all__ = ["MAX_LOOKALIKES", "lookalikes"]

#: At most this many warnings per query (a hostile query could repeat ``or`` thousands of times).
MAX_LOOKALIKES = 10
_WHAT = {"and": ("AND", "for both"), "or": ("OR", "for either"), "not": ("NOT", "to exclude")}
# `NEAR5`, `near/5`, `Onear/5`: the distance glued on, or a slash with the wrong case.
_NEAR_LIKE = re.compile(r"(o?near)(/?)(\d+)", re.IGNORECASE)
_ENDS_OPERAND = ("TERM", "PHRASE", "REGEX", "SET", ")")
_STARTS_OPERAND = ("TERM", "PHRASE", "REGEX", "SET", "(", "NOT", "FIELD")


def lookalikes(query: str) -> list[tuple[int, str]]:
    """(1-based column, message) of each word of ``query`` that looks like a mistyped operator.

    A query with a syntax error gets none (its error is reported instead)."""
    try:
        toks = Lexer(query).run()
    except RuleError:
        return []
    out: list[tuple[int, str]] = []
    for k, t in enumerate(toks):
        if t.kind != "TERM" or t.exact or (k and toks[k - 1].kind == "FIELD"):  # `feed:or` is a value
            continue
        message = _message(t.text, toks[k - 1] if k else None, toks[k + 1])
        if message:
            out.append((t.col, message))
            if len(out) >= MAX_LOOKALIKES:
                break
    return out


def _message(word: str, before: Token | None, after: Token) -> str | None:
    near = _NEAR_LIKE.fullmatch(word)
    if near:
        op = near.group(1).upper()
        return (
            f"'{word}' is a word here; write {op}/{near.group(3)} for words at most {near.group(3)} apart"
            f"{' in this order' if op == 'ONEAR' else ''}"
        )
    low = word.lower()
    if low not in ("and", "or", "not", "near", "onear"):
        return None
    between = before is not None and before.kind in _ENDS_OPERAND and after.kind in _STARTS_OPERAND
    if not (between or (low == "not" and after.kind in _STARTS_OPERAND)):
        return None
    if low in ("near", "onear"):
        return f"'{word}' is a word here; write {low.upper()}/n for words at most n apart (e.g. {low.upper()}/5)"
    op, meaning = _WHAT[low]
    return f"'{word}' is a word here; write {op} {meaning}"
