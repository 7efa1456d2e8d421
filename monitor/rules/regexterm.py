"""A ``/regex/`` term of a query: NFKC-normalised, compiled once to check it, and refused when its counted repeats
would make the ``regex`` engine's program explode (docs/rule-language.md sections 2 and 6)."""

from __future__ import annotations

import re
import unicodedata

import regex

from monitor.rules.lexer import Token, syntax_error
from monitor.rules.nodes import Regex

__all__ = ["MAX_REGEX_SIZE", "make_regex"]

#: A regex whose counted repeats (``{n}``) expand to more steps than this is refused: compiling it takes memory
#: in proportion (a million steps: about 200 MB).
MAX_REGEX_SIZE = 100_000


def make_regex(t: Token) -> Regex:
    pattern = unicodedata.normalize("NFKC", t.text)
    shown = t.text if len(t.text) <= 60 else t.text[:59] + "…"
    if _expanded_size(pattern) > MAX_REGEX_SIZE:
        raise syntax_error(
            f"regex /{shown}/ repeats too much: its counted repeats ({{n}}) multiply to more than "
            f"{MAX_REGEX_SIZE:,} steps",
            t.col,
        )
    try:
        regex.compile(pattern, regex.IGNORECASE if t.flag else 0)
    except regex.error as e:
        raise syntax_error(f"invalid regex /{shown}/: {e}", t.col) from e
    except RecursionError as e:  # the `regex` parser recurses once per nested group
        raise syntax_error(f"invalid regex /{shown}/: groups nested too deep", t.col) from e
    except ValueError as e:  # a repeat count of thousands of digits
        raise syntax_error(f"invalid regex /{shown}/: {e}", t.col) from e
    return Regex(t.col, pattern, t.flag)


_COUNTED_REPEAT = re.compile(r"\{(\d*)(?:,(\d*))?\}")


def _expanded_size(pattern: str) -> int:
    """Roughly how many steps ``regex`` compiles ``pattern`` into: counted repeats (``x{n}``) copy what they
    repeat, so nested ones multiply (``((a{100}){100}){100}`` took 450 MB to compile; one more level, all memory)."""
    sizes = [0]  # per open group, the size of its contents so far
    i = 0
    while i < len(pattern):
        c = pattern[i]
        size, i = 1, i + 1
        if c == "\\":
            i += 1
        elif c == "[":  # a class is one step: skip to its end (a ']' first in it is literal)
            end = pattern.find("]", i + 1 if pattern[i : i + 1] in ("]", "^") else i)
            i = len(pattern) if end < 0 else end + 1
        elif c == "(":
            sizes.append(0)
            continue
        elif c == ")" and len(sizes) > 1:
            size = sizes.pop()
        m = _COUNTED_REPEAT.match(pattern, i)
        if m and any(m.groups()):
            digits = max(((g or "0").lstrip("0") or "0" for g in m.groups()), key=len)
            size *= int(digits) if len(digits) <= 9 else 10**9
            i = m.end()
        sizes[-1] += size
    return sum(sizes)
