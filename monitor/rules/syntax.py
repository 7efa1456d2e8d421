"""The query language parser (RULES.md sections 2 and 6): query text -> :mod:`~monitor.rules.nodes` tree.

A hand-written lexer and recursive-descent parser. Precedence, tightest first: NOT/-, NEAR/ONEAR, AND
(also juxtaposition), OR. Errors are :class:`~monitor.errors.RuleError` with ``column`` set (1-based, into
the query text) and no path; the loader adds the file position.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import regex

from monitor.errors import RuleError
from monitor.rules.nodes import (
    TEXT_FIELDS,
    And,
    Elem,
    FieldScope,
    Meta,
    Near,
    Node,
    Not,
    Or,
    Regex,
    SetRef,
    Term,
    iter_nodes,
)
from monitor.rules.text import split_words

__all__ = ["SetResolver", "parse_query", "parse_set_entry"]

#: Looks a set up by name: its flattened terms, or None when the set is not defined.
SetResolver = Callable[[str], "tuple[Term, ...] | None"]

_META_FIELDS = ("feed", "lang")
_FIELD_RE = regex.compile(r"([A-Za-z][A-Za-z0-9_]*):(?=\S)")
_SET_RE = regex.compile(r"@([A-Za-z0-9_]*)")
_NEAR_RE = regex.compile(r"(O?NEAR)(?:/(\S*))?")
_STOP = frozenset(" \t\r\n()\"")
_MIN_PREFIX = 3


def _error(message: str, col: int) -> RuleError:
    return RuleError(message, column=col)


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # ( ) AND OR NOT NEAR FIELD TERM PHRASE REGEX SET EOF
    col: int
    text: str = ""
    exact: bool = False
    distance: int = 0
    ordered: bool = False
    flag: bool = False


class _Lexer:
    def __init__(self, query: str) -> None:
        self.q = query
        self.i = 0
        self.toks: list[_Tok] = []

    def run(self) -> list[_Tok]:
        q = self.q
        while True:
            while self.i < len(q) and q[self.i].isspace():
                self.i += 1
            if self.i >= len(q):
                self.toks.append(_Tok("EOF", len(q) + 1))
                return self.toks
            self._one()

    def _one(self) -> None:
        q, i = self.q, self.i
        ch, col = q[i], i + 1
        if ch in "()":
            self.toks.append(_Tok(ch, col))
            self.i += 1
        elif ch == '"':
            self._phrase(col, exact=False)
        elif ch == "/":
            self._regex(col)
        elif ch == "=":
            self.i += 1
            if self.i >= len(q) or q[self.i] in _STOP - {'"'}:
                raise _error("'=' must be followed by a term or a phrase", col)
            if q[self.i] == '"':
                self._phrase(col, exact=True)
            else:
                self._word(col, exact=True)
        elif ch == "-":
            self.i += 1
            if self.i < len(q) and q[self.i] not in _STOP - {'"', "("}:
                self.toks.append(_Tok("NOT", col, "-"))
            elif self.i < len(q) and q[self.i] in '"(':
                self.toks.append(_Tok("NOT", col, "-"))
            # else: a lone '-' between spaces is punctuation
        elif ch == "@":
            m = _SET_RE.match(q, i)
            assert m is not None
            end = m.end()
            if not m.group(1) or (end < len(q) and q[end] not in _STOP) or m.group(1).lower() != m.group(1):
                raise _error("a set name after '@' is lower-case letters, digits and '_'", col)
            self.toks.append(_Tok("SET", col, m.group(1)))
            self.i = end
        else:
            m = _FIELD_RE.match(q, i)
            if m:
                self._field(m.group(1), col)
                self.i = m.end()
            else:
                self._word(col, exact=False)

    def _field(self, name: str, col: int) -> None:
        known = TEXT_FIELDS + _META_FIELDS
        if name not in known:
            hint = " (field names are lower case)" if name.lower() in known else ""
            raise _error(f"unknown field '{name}'{hint}; fields are {', '.join(known)}", col)
        self.toks.append(_Tok("FIELD", col, name))

    def _phrase(self, col: int, *, exact: bool) -> None:
        start = self.i + 1
        end = self.q.find('"', start)
        if end < 0:
            raise _error("unterminated phrase: no closing '\"'", self.i + 1)
        self.toks.append(_Tok("PHRASE", col, self.q[start:end], exact=exact))
        self.i = end + 1

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
            raise _error("unterminated regex: no closing '/'", col)
        j += 1
        flag = False
        if j < len(q) and q[j] == "i":
            flag, j = True, j + 1
        if j < len(q) and q[j] not in _STOP:
            raise _error(f"unknown regex flag '{q[j]}' (only 'i' is allowed)", j + 1)
        pattern = "".join(out)
        if not pattern:
            raise _error("empty regex", col)
        self.toks.append(_Tok("REGEX", col, pattern, flag=flag))
        self.i = j

    def _word(self, col: int, *, exact: bool) -> None:
        q, j = self.q, self.i
        while j < len(q) and q[j] not in _STOP:
            j += 1
        word = q[self.i : j]
        self.i = j
        if not exact:
            if word in ("AND", "OR", "NOT"):
                self.toks.append(_Tok(word, col, word))
                return
            m = _NEAR_RE.fullmatch(word)
            if m:
                self._near(m.group(1), m.group(2), col)
                return
        self.toks.append(_Tok("TERM", col, word, exact=exact))

    def _near(self, op: str, dist: str | None, col: int) -> None:
        if dist is None:
            raise _error(f"{op} needs a distance: write {op}/n with n a whole number", col)
        if not dist.isascii() or not dist.isdigit():
            raise _error(f"{op}/{dist}: the distance must be a whole number", col)
        self.toks.append(_Tok("NEAR", col, op, distance=int(dist), ordered=op == "ONEAR"))


def make_term(text: str, col: int, *, exact: bool) -> Term | None:
    """Build a term from a word or phrase as written; None when it holds no word (punctuation)."""
    pieces = split_words(text, wildcards=True)
    elems: list[Elem] = []
    for k, p in enumerate(pieces):
        word = p.cased if exact else p.text
        if p.nospace and word == "*":
            nxt = pieces[k + 1] if k + 1 < len(pieces) else None
            if nxt is not None and nxt.nospace and nxt.joined:
                raise _error(f"in '{text}', '*' inside a word of a no-space script can only come last", col)
            if not elems or not elems[-1].nospace or not p.joined:
                raise _error(f"'{text}': at least 1 character must come before '*'", col)
            continue  # substring matching makes a trailing '*' a no-op
        joined = p.joined and p.nospace and bool(elems) and elems[-1].nospace
        if p.nospace and word == "?":
            elems.append(Elem("?", r"\X", True, joined))
        elif "*" in word or "?" in word:
            before = word.split("*", 1)[0] if "*" in word else word
            if "*" in word and len(before.replace("?", "")) < _MIN_PREFIX:
                raise _error(
                    f"'{text}': a wildcard needs at least {_MIN_PREFIX} letters before the first '*'", col
                )
            pattern = "".join(
                ".*" if c == "*" else "." if c == "?" else regex.escape(c) for c in word
            )
            elems.append(Elem(word, pattern, p.nospace, joined))
        else:
            elems.append(Elem(word, None, p.nospace, joined))
    if not elems:
        return None
    return Term(col, tuple(elems), exact)


class _Parser:
    def __init__(self, query: str, sets: SetResolver | None) -> None:
        self.toks = _Lexer(query).run()
        self.k = 0
        self.sets = sets

    @property
    def tok(self) -> _Tok:
        return self.toks[self.k]

    def _next(self) -> _Tok:
        t = self.toks[self.k]
        self.k += 1
        return t

    def parse(self) -> Node:
        if self.tok.kind == "EOF":
            raise _error("empty query", 1)
        node = self._or()
        if self.tok.kind == ")":
            raise _error("unexpected ')' without a matching '('", self.tok.col)
        if self.tok.kind != "EOF":  # pragma: no cover - every other token starts an operand
            raise _error(f"unexpected '{self.tok.text}'", self.tok.col)
        return node

    def _or(self) -> Node:
        first = self.tok
        if first.kind == "OR":
            raise _error("'OR' needs a term on its left", first.col)
        children = [self._and()]
        while self.tok.kind == "OR":
            op = self._next()
            if self.tok.kind in ("EOF", ")", "OR", "AND"):
                raise _error("'OR' needs a term on its right", op.col)
            children.append(self._and())
        return children[0] if len(children) == 1 else Or(children[0].col, tuple(children))

    def _starts_operand(self) -> bool:
        return self.tok.kind in ("(", "NOT", "FIELD", "TERM", "PHRASE", "REGEX", "SET")

    def _and(self) -> Node:
        if self.tok.kind in ("AND", "NEAR"):
            raise _error(f"'{self.tok.text}' needs a term on its left", self.tok.col)
        children = [self._near()]
        while True:
            if self.tok.kind == "AND":
                op = self._next()
                if not self._starts_operand():
                    raise _error("'AND' needs a term on its right", op.col)
            elif not self._starts_operand():
                break
            children.append(self._near())
        return children[0] if len(children) == 1 else And(children[0].col, tuple(children))

    def _near(self) -> Node:
        left = self._unary()
        while self.tok.kind == "NEAR":
            op = self._next()
            if not self._starts_operand():
                raise _error(f"'{op.text}/{op.distance}' needs a term on its right", op.col)
            right = self._unary()
            _check_near_operand(left, op.text)
            _check_near_operand(right, op.text)
            left = Near(left.col, left, right, op.distance, op.ordered)
        return left

    def _unary(self) -> Node:
        if self.tok.kind == "NOT":
            op = self._next()
            if not self._starts_operand():
                raise _error(f"'{op.text}' needs a term on its right", op.col)
            return Not(op.col, self._unary())
        return self._primary()

    def _primary(self) -> Node:
        t = self._next()
        if t.kind == "(":
            if self.tok.kind == ")":
                raise _error("empty parentheses", t.col)
            node = self._or()
            if self.tok.kind != ")":
                raise _error("missing ')' to close this '('", t.col)
            self._next()
            return node
        if t.kind == "FIELD":
            return self._field(t)
        if t.kind in ("TERM", "PHRASE"):
            term = make_term(t.text, t.col, exact=t.exact)
            if term is None:
                if t.exact or t.kind == "PHRASE" or not self._starts_operand():
                    raise _error(f"'{t.text}' holds no word to search for", t.col)
                return self._primary()  # punctuation between terms: skip it
            return term
        if t.kind == "REGEX":
            return _make_regex(t)
        if t.kind == "SET":
            return self._set(t)
        raise _error(f"unexpected '{t.text or t.kind}'", t.col)  # pragma: no cover

    def _field(self, t: _Tok) -> Node:
        if t.text in _META_FIELDS:
            v = self._next()
            if v.kind not in ("TERM", "PHRASE") or v.exact or not v.text.strip():
                raise _error(f"'{t.text}:' takes a plain value, e.g. {t.text}:name", t.col)
            return Meta(t.col, t.text, v.text.strip())
        if not self._starts_operand():
            raise _error(f"'{t.text}:' needs a term after it", t.col)
        return FieldScope(t.col, t.text, self._primary())

    def _set(self, t: _Tok) -> Node:
        if self.sets is None:
            return SetRef(t.col, t.text)
        terms = self.sets(t.text)
        if terms is None:
            raise _error(f"undefined set '@{t.text}'", t.col)
        return SetRef(t.col, t.text, terms)


def _make_regex(t: _Tok) -> Regex:
    import unicodedata

    pattern = unicodedata.normalize("NFKC", t.text)
    try:
        regex.compile(pattern, regex.IGNORECASE if t.flag else 0)
    except regex.error as e:
        raise _error(f"invalid regex /{t.text}/: {e}", t.col) from e
    return Regex(t.col, pattern, t.flag)


def _near_problem(node: Node) -> tuple[str, Node] | None:
    """Why ``node`` cannot be a NEAR operand (and the offending node), or None when it can."""
    if isinstance(node, (Term, SetRef)):
        return None
    if isinstance(node, Or):
        for c in node.children:
            problem = _near_problem(c)
            if problem:
                return problem
        return None
    why = {
        And: "an AND", Not: "a NOT", FieldScope: "a field", Near: "another NEAR",
        Regex: "a regex", Meta: "a feed:/lang: filter",
    }[type(node)]
    return why, node


def _check_near_operand(node: Node, op: str) -> None:
    problem = _near_problem(node)
    if problem:
        raise _error(
            f"{op} operands must be terms, phrases, sets or a parenthesised OR of those, not {problem[0]}",
            problem[1].col,
        )


def _positive(node: Node) -> bool:
    if isinstance(node, (Term, SetRef, Regex, Near)):
        return True
    if isinstance(node, FieldScope):
        return _positive(node.child)
    if isinstance(node, And):
        return any(_positive(c) for c in node.children)
    if isinstance(node, Or):
        return all(_positive(c) for c in node.children)
    return False  # Not, Meta


def _check_positive(root: Node) -> None:
    if not _positive(root) and not isinstance(root, Or):
        raise _error(
            f"'{root}' has no positive term: a query must search for at least one word", root.col
        )
    for node in iter_nodes(root):
        if isinstance(node, Or):
            for c in node.children:
                if not _positive(c):
                    raise _error(
                        f"OR branch '{c}' has no positive term: each OR branch must search for a word",
                        c.col,
                    )


def parse_query(query: str, sets: SetResolver | None = None) -> Node:
    """Parse a query. ``sets`` resolves ``@name``; without it set references stay unresolved.

    Raises:
        RuleError: with ``column`` pointing into ``query``.
    """
    root = _Parser(query, sets).parse()
    _check_positive(root)
    return root


def parse_set_entry(entry: str) -> Term | SetRef:
    """Parse one set entry: a term, a phrase (quoted or several plain words) or ``@other``.

    Raises:
        RuleError: an operator, parenthesis, field, NOT or regex in the entry.
    """
    toks = _Lexer(entry).run()[:-1]
    if not toks:
        raise _error("empty set entry", 1)
    for t in toks:
        why = {
            "AND": "an operator", "OR": "an operator", "NEAR": "an operator", "NOT": "a NOT",
            "(": "a parenthesis", ")": "a parenthesis", "FIELD": "a field", "REGEX": "a regex",
        }.get(t.kind)
        if why:
            raise _error(f"a set entry is one term or phrase and may not contain {why}", t.col)
    if len(toks) == 1 and toks[0].kind == "SET":
        return SetRef(toks[0].col, toks[0].text)
    if len(toks) == 1:
        term = make_term(toks[0].text, 1, exact=toks[0].exact)
    elif all(t.kind == "TERM" and not t.exact for t in toks):
        term = make_term(entry, 1, exact=False)  # several plain words: a phrase
    else:
        raise _error("a set entry is one term or phrase; quote a phrase or use several entries", toks[1].col)
    if term is None:
        raise _error(f"set entry '{entry}' holds no word to search for", 1)
    return term
