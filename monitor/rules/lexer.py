"""The query lexer: query text -> tokens (``(``, ``)``, operators, fields, terms, phrases, regexes, sets).

Used by :mod:`monitor.rules.syntax`, which parses the tokens. Errors are :class:`~monitor.errors.RuleError` with
``column`` set (1-based, into the query text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import regex

from monitor.errors import RuleError
from monitor.rules.nodes import TEXT_FIELDS

__all__ = ["Lexer", "MAX_QUERY_ERRORS", "META_FIELDS", "Token", "syntax_error"]

#: Metadata fields (filters, not text): ``feed:x``, ``lang:xx``.
META_FIELDS = ("feed", "lang")
# Not before "//": `https://x` is a URL (words), not a field named "https". The stdlib's `re`: `regex` took time
# in proportion to the whole query for each match at a position with this lookahead (quadratic on long queries).
_FIELD_RE = re.compile(r"([A-Za-z][A-Za-z0-9_]*):(?=\S)(?!//)")
_SET_RE = regex.compile(r"@([A-Za-z0-9_]*)")
_NEAR_RE = regex.compile(r"(O?NEAR)(?:/(\S*))?")
#: Phrase quotes: the straight one, and the curly ones a query pasted from a word processor carries (“…”, „…“).
_QUOTES = '"\u201c\u201d\u201e'
_QUOTE_RE = regex.compile(f"[{_QUOTES}]")
#: A query stops being read after this many errors (each is reported; a hostile query could hold thousands).
MAX_QUERY_ERRORS = 10


def _stop(ch: str) -> bool:
    """Whether ``ch`` ends a word: whitespace (a no-break space too, as ``run`` skips it), a parenthesis, a quote."""
    return ch.isspace() or ch in "()" or ch in _QUOTES


def syntax_error(message: str, col: int) -> RuleError:
    """A query syntax error at 1-based column ``col``."""
    return RuleError(message, column=col)


@dataclass(frozen=True, slots=True)
class Token:
    """One token of a query and its 1-based column."""

    kind: str  # ( ) AND OR NOT NEAR FIELD TERM PHRASE REGEX SET EOF, and BAD: an operand already reported
    col: int
    text: str = ""
    exact: bool = False
    distance: int = 0
    ordered: bool = False
    flag: bool = False


class Lexer:
    """Cuts a query into tokens: ``Lexer(query).run()``, ending with an ``EOF`` token.

    With an ``errors`` list, an error that leaves the rest of the query readable (an unknown field, a bad set
    name or regex flag, a NEAR without a distance) is appended there and lexing goes on; without one, it is raised.
    """

    def __init__(self, query: str, errors: list[RuleError] | None = None) -> None:
        self.q = query
        self.i = 0
        self.toks: list[Token] = []
        self.errors = errors

    def soft(self, error: RuleError) -> None:
        """Report an error the parse can go on after (raise it when no list collects them)."""
        if self.errors is None:
            raise error
        self.errors.append(error)
        if len(self.errors) >= MAX_QUERY_ERRORS:
            raise syntax_error(f"stopped reading the query after {MAX_QUERY_ERRORS} errors", error.column)

    def run(self) -> list[Token]:
        q = self.q
        while True:
            while self.i < len(q) and q[self.i].isspace():
                self.i += 1
            if self.i >= len(q):
                self.toks.append(Token("EOF", len(q) + 1))
                return self.toks
            self._one()

    def _one(self) -> None:
        q, i = self.q, self.i
        ch, col = q[i], i + 1
        if ch in "()":
            self.toks.append(Token(ch, col))
            self.i += 1
        elif ch in _QUOTES:
            self._phrase(col, exact=False)
        elif ch == "/":
            self._regex(col)
        elif ch == "=":
            self.i += 1
            if self.i >= len(q) or (_stop(q[self.i]) and q[self.i] not in _QUOTES):
                self.soft(syntax_error("'=' must be followed by a term or a phrase", col))
            elif q[self.i] in _QUOTES:
                self._phrase(col, exact=True)
            else:
                self._word(col, exact=True)
        elif ch == "-":
            self.i += 1
            if self.i < len(q) and not (q[self.i].isspace() or q[self.i] == ")"):
                self.toks.append(Token("NOT", col, "-"))  # `-x`, `-"a b"`, `-(…)`
            # else: a lone '-' between spaces is punctuation
        elif ch == "@":
            m = _SET_RE.match(q, i)
            assert m is not None
            end = m.end()
            if not m.group(1) or (end < len(q) and not _stop(q[end])) or m.group(1).lower() != m.group(1):
                self.soft(syntax_error("a set name after '@' is lower-case letters, digits and '_'", col))
                while end < len(q) and not _stop(q[end]):
                    end += 1
                self.toks.append(Token("BAD", col))
            else:
                self.toks.append(Token("SET", col, m.group(1)))
            self.i = end
        else:
            m = _FIELD_RE.match(q, i)
            if m:
                self._field(m.group(1), col)
                self.i = m.end()
            else:
                self._word(col, exact=False)

    def _field(self, name: str, col: int) -> None:
        known = TEXT_FIELDS + META_FIELDS
        if name not in known:
            hint = " (field names are lower case)" if name.lower() in known else ""
            self.soft(syntax_error(f"unknown field '{name}'{hint}; fields are {', '.join(known)}", col))
        self.toks.append(Token("FIELD", col, name))

    def _phrase(self, col: int, *, exact: bool) -> None:
        start = self.i + 1
        m = _QUOTE_RE.search(self.q, start)
        if m is None:
            raise syntax_error("unterminated phrase: no closing '\"'", self.i + 1)
        self.toks.append(Token("PHRASE", col, self.q[start : m.start()], exact=exact))
        self.i = m.end()

    def _regex(self, col: int) -> None:
        q, j = self.q, self.i + 1
        out: list[str] = []
        while j < len(q) and q[j] != "/":
            if q[j] == "\\" and j + 1 < len(q):
                out.append("/" if q[j + 1] == "/" else q[j : j + 2])
                j += 2
            else:
                out.append(q[j])
                j += 1
        if j >= len(q):
            raise syntax_error("unterminated regex: no closing '/'", col)
        j += 1
        flag = False
        if j < len(q) and q[j] == "i":
            flag, j = True, j + 1
        if j < len(q) and not _stop(q[j]):
            self.soft(syntax_error(f"unknown regex flag '{q[j]}' (only 'i' is allowed)", j + 1))
            while j < len(q) and not _stop(q[j]):
                j += 1
        pattern = "".join(out)
        if not pattern:
            self.soft(syntax_error("empty regex", col))
        self.toks.append(Token("REGEX", col, pattern, flag=flag) if pattern else Token("BAD", col))
        self.i = j

    def _word(self, col: int, *, exact: bool) -> None:
        q, j = self.q, self.i
        while j < len(q) and not _stop(q[j]):
            j += 1
        word = q[self.i : j]
        self.i = j
        if not exact:
            if word in ("AND", "OR", "NOT"):
                self.toks.append(Token(word, col, word))
                return
            m = _NEAR_RE.fullmatch(word)
            if m:
                self._near(m.group(1), m.group(2), col)
                return
        self.toks.append(Token("TERM", col, word, exact=exact))

    def _near(self, op: str, dist: str | None, col: int) -> None:
        if dist is None:
            self.soft(syntax_error(f"{op} needs a distance: write {op}/n with n a whole number", col))
            dist = "0"
        if not dist.isascii() or not dist.isdigit():
            self.soft(syntax_error(f"{op}/{dist}: the distance must be a whole number", col))
            dist = "0"
        digits = dist.lstrip("0") or "0"
        # More words than any field holds: no need to convert thousands of digits (int() refuses past 4,300).
        distance = int(digits) if len(digits) <= 15 else 10**15
        self.toks.append(Token("NEAR", col, op, distance=distance, ordered=op == "ONEAR"))
