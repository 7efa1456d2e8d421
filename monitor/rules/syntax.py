"""The query language parser (docs/rule-language.md sections 2 and 6): query text -> :mod:`~monitor.rules.nodes` tree.

A recursive-descent parser over the tokens of :mod:`monitor.rules.lexer`. Precedence, tightest first:
NOT/-, NEAR/ONEAR, AND (also juxtaposition), OR. Errors are :class:`~monitor.errors.RuleError` with
``column`` set (1-based, into the query text) and no path; the loader adds the file position. Every error the
parse can go on after (a bad term, field, regex or NEAR operand, an undefined set, an OR branch with no positive
term) is collected; a structural one (a missing parenthesis or operand) ends the parse. Several errors are raised
together as a :class:`~monitor.errors.RuleSetError`, whose ``errors`` lists them by column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import regex

from monitor.errors import RuleError, RuleSetError
from monitor.rules.lexer import META_FIELDS, Lexer, Token, syntax_error
from monitor.rules.nodes import (
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
from monitor.rules.regexterm import MAX_REGEX_SIZE, make_regex
from monitor.rules.text import split_words
from monitor.rules.yamlpos import did_you_mean

__all__ = [
    "MAX_NESTING",
    "MAX_QUERY_CHARS",
    "MAX_REGEX_SIZE",
    "SetResolver",
    "make_term",
    "parse_query",
    "parse_set_entry",
]

#: Looks a set up by name: its flattened terms, or None when the set is not defined.
SetResolver = Callable[[str], "tuple[Term, ...] | None"]


_MIN_PREFIX = 3
#: A longer query (or set entry) is refused: parsing is linear, but a hostile file could hold megabytes of it.
MAX_QUERY_CHARS = 100_000
#: Parentheses, NOT and fields nested deeper than this are refused: the parser and every walk over the tree
#: recurse once per level (a rule needs a handful).
MAX_NESTING = 32


def _check_length(text: str, what: str) -> None:
    if len(text) > MAX_QUERY_CHARS:
        raise syntax_error(
            f"{what} is {len(text):,} characters long, more than the {MAX_QUERY_CHARS:,} allowed "
            "(put long lists of terms in sets)",
            1,
        )


def make_term(text: str, col: int, *, exact: bool) -> Term | None:
    """Build a term from a word or phrase as written; None when it holds no word (punctuation)."""
    pieces = split_words(text, wildcards=True)
    elems: list[Elem] = []
    for k, p in enumerate(pieces):
        word = p.cased if exact else p.text
        if p.nospace and word == "*":
            nxt = pieces[k + 1] if k + 1 < len(pieces) else None
            if nxt is not None and nxt.nospace and nxt.joined:
                raise syntax_error(f"in '{text}', '*' inside a word of a no-space script can only come last", col)
            if not elems or not elems[-1].nospace or not p.joined:
                raise syntax_error(f"'{text}': at least 1 character must come before '*'", col)
            continue  # substring matching makes a trailing '*' a no-op
        joined = p.joined and p.nospace and bool(elems) and elems[-1].nospace
        if p.nospace and word == "?":
            elems.append(Elem("?", r"\X", True, joined))
        elif "*" in word or "?" in word:
            before = word.split("*", 1)[0] if "*" in word else word
            if "*" in word and len(before.replace("?", "")) < _MIN_PREFIX:
                raise syntax_error(
                    f"'{text}': a wildcard needs at least {_MIN_PREFIX} letters before the first '*'", col
                )
            pattern = "".join(".*" if c == "*" else "." if c == "?" else regex.escape(c) for c in word)
            elems.append(Elem(word, pattern, p.nospace, joined))
        else:
            elems.append(Elem(word, None, p.nospace, joined))
    if not elems:
        return None
    return Term(col, tuple(elems), exact)


def _placeholder(col: int) -> Term:
    """Stands for an operand whose error is already reported, so the parse goes on to find the next error."""
    return Term(col, (Elem("?", None, False, False),), False)


class _Parser:
    def __init__(self, query: str, sets: SetResolver | None, errors: list[RuleError], set_names: Sequence[str]) -> None:
        self.lexer = Lexer(query, errors)
        self.toks = self.lexer.run()
        self.k = 0
        self.sets = sets
        self.set_names = set_names
        self.depth = -1  # a query's first operand is at depth 0, inside one parenthesis at depth 1

    @property
    def tok(self) -> Token:
        return self.toks[self.k]

    def _next(self) -> Token:
        t = self.toks[self.k]
        self.k += 1
        return t

    def parse(self) -> Node:
        if self.tok.kind == "EOF":
            raise syntax_error("empty query", 1)
        node = self._or()
        if self.tok.kind == ")":
            raise syntax_error("unexpected ')' without a matching '('", self.tok.col)
        if self.tok.kind != "EOF":  # pragma: no cover - every other token starts an operand
            raise syntax_error(f"unexpected '{self.tok.text}'", self.tok.col)
        return node

    def _or(self) -> Node:
        first = self.tok
        if first.kind == "OR":
            raise syntax_error("'OR' needs a term on its left", first.col)
        children = [self._and()]
        while self.tok.kind == "OR":
            op = self._next()
            if self.tok.kind in ("EOF", ")", "OR", "AND"):
                raise syntax_error("'OR' needs a term on its right", op.col)
            children.append(self._and())
        return children[0] if len(children) == 1 else Or(children[0].col, tuple(children))

    def _starts_operand(self) -> bool:
        return self.tok.kind in ("(", "NOT", "FIELD", "TERM", "PHRASE", "REGEX", "SET", "BAD")

    def _and(self) -> Node:
        if self.tok.kind in ("AND", "NEAR"):
            raise syntax_error(f"'{self.tok.text}' needs a term on its left", self.tok.col)
        children = [self._near()]
        while True:
            if self.tok.kind == "AND":
                op = self._next()
                if not self._starts_operand():
                    raise syntax_error("'AND' needs a term on its right", op.col)
            elif not self._starts_operand():
                break
            children.append(self._near())
        return children[0] if len(children) == 1 else And(children[0].col, tuple(children))

    def _near(self) -> Node:
        left = self._unary()
        while self.tok.kind == "NEAR":
            op = self._next()
            if not self._starts_operand():
                raise syntax_error(f"'{op.text}/{op.distance}' needs a term on its right", op.col)
            right = self._unary()
            for operand in (left, right):
                try:
                    _check_near_operand(operand, op.text)
                except RuleError as e:
                    self.lexer.soft(e)
            left = Near(left.col, left, right, op.distance, op.ordered)
        return left

    def _unary(self) -> Node:
        # Every level of nesting (a parenthesis, a NOT, a field) passes through here.
        if self.depth >= MAX_NESTING:  # `depth + 1` levels deep once inside
            raise syntax_error(
                f"the query nests parentheses, NOT and fields more than {MAX_NESTING} deep", self.tok.col
            )
        self.depth += 1
        try:
            return self._unary_inner()
        finally:
            self.depth -= 1

    def _unary_inner(self) -> Node:
        if self.tok.kind == "NOT":
            op = self._next()
            if not self._starts_operand():
                raise syntax_error(f"'{op.text}' needs a term on its right", op.col)
            return Not(op.col, self._unary())
        return self._primary()

    def _primary(self) -> Node:
        t = self._next()
        while t.kind in ("TERM", "PHRASE"):
            try:
                term = make_term(t.text, t.col, exact=t.exact)
            except RuleError as e:
                self.lexer.soft(e)
                return _placeholder(t.col)
            if term is not None:
                return term
            if t.exact or t.kind == "PHRASE" or not self._starts_operand():
                self.lexer.soft(syntax_error(f"'{t.text}' holds no word to search for", t.col))
                return _placeholder(t.col)
            t = self._next()  # punctuation between terms: skip it (in a loop: a hostile query repeats it)
        if t.kind == "BAD":
            return _placeholder(t.col)
        if t.kind == "NOT":  # `a & NOT b`, `a & -b`
            self.k -= 1
            return self._unary()
        if t.kind == "(":
            if self.tok.kind == ")":
                self.lexer.soft(syntax_error("empty parentheses", t.col))
                self._next()
                return _placeholder(t.col)
            node = self._or()
            if self.tok.kind != ")":
                raise syntax_error("missing ')' to close this '('", t.col)
            self._next()
            return node
        if t.kind == "FIELD":
            return self._field(t)
        if t.kind == "REGEX":
            try:
                return make_regex(t)
            except RuleError as e:
                self.lexer.soft(e)
                return _placeholder(t.col)
        if t.kind == "SET":
            return self._set(t)
        raise syntax_error(f"unexpected '{t.text or t.kind}'", t.col)  # pragma: no cover

    def _field(self, t: Token) -> Node:
        if t.text in META_FIELDS:
            v = self._next()
            if v.kind not in ("TERM", "PHRASE") or v.exact or not v.text.strip():
                raise syntax_error(f"'{t.text}:' takes a plain value, e.g. {t.text}:name", t.col)
            return Meta(t.col, t.text, v.text.strip())
        if not self._starts_operand():
            raise syntax_error(f"'{t.text}:' needs a term after it", t.col)
        return FieldScope(t.col, t.text, self._unary())  # `title:-x` is title:(NOT x), as `-title:x` is NOT title:x

    def _set(self, t: Token) -> Node:
        if self.sets is None:
            return SetRef(t.col, t.text)
        terms = self.sets(t.text)
        if terms is None:
            self.lexer.soft(syntax_error(f"undefined set '@{t.text}'{did_you_mean(t.text, self.set_names)}", t.col))
            return SetRef(t.col, t.text, ())
        return SetRef(t.col, t.text, terms)


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
        And: "an AND",
        Not: "a NOT",
        FieldScope: "a field",
        Near: "another NEAR",
        Regex: "a regex",
        Meta: "a feed:/lang: filter",
    }[type(node)]
    return why, node


def _check_near_operand(node: Node, op: str) -> None:
    problem = _near_problem(node)
    if problem:
        raise syntax_error(
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


def _check_positive(root: Node, report: Callable[[RuleError], None]) -> None:
    if not _positive(root) and not isinstance(root, Or):
        report(syntax_error(f"'{root}' has no positive term: a query must search for at least one word", root.col))
    for node in iter_nodes(root, entries=False):  # set entries hold no OR
        if isinstance(node, Or):
            for c in node.children:
                if not _positive(c):
                    report(
                        syntax_error(
                            f"OR branch '{c}' has no positive term: each OR branch must search for a word", c.col
                        )
                    )


def parse_query(query: str, sets: SetResolver | None = None, *, set_names: Sequence[str] = ()) -> Node:
    """Parse a query. ``sets`` resolves ``@name``; without it set references stay unresolved. ``set_names``: the
    defined sets, for the "did you mean" of an undefined one.

    Raises:
        RuleError: with ``column`` pointing into ``query``; a ``RuleSetError`` listing them when there are several.
    """
    _check_length(query, "the query")
    errors: list[RuleError] = []
    try:
        parser = _Parser(query, sets, errors, set_names)
        root = parser.parse()
        _check_positive(root, parser.lexer.soft)
    except RuleError as e:  # a structural error: the parse cannot go on
        errors.append(e)
    if errors:
        errors.sort(key=lambda e: e.column)
        raise errors[0] if len(errors) == 1 else RuleSetError(errors)
    return root


def parse_set_entry(entry: str) -> Term | SetRef:
    """Parse one set entry: a term, a phrase (quoted or several plain words) or ``@other``.

    Raises:
        RuleError: an operator, parenthesis, field, NOT or regex in the entry.
    """
    _check_length(entry, "the set entry")
    toks = Lexer(entry).run()[:-1]
    if not toks:
        raise syntax_error("empty set entry", 1)
    for t in toks:
        why = {
            "AND": "an operator",
            "OR": "an operator",
            "NEAR": "an operator",
            "NOT": "a NOT",
            "(": "a parenthesis",
            ")": "a parenthesis",
            "FIELD": "a field",
            "REGEX": "a regex",
        }.get(t.kind)
        if why:
            raise syntax_error(f"a set entry is one term or phrase and may not contain {why}", t.col)
    if len(toks) == 1 and toks[0].kind == "SET":
        return SetRef(toks[0].col, toks[0].text)
    if len(toks) == 1:
        term = make_term(toks[0].text, 1, exact=toks[0].exact)
    elif all(t.kind == "TERM" and not t.exact for t in toks):
        term = make_term(entry, 1, exact=False)  # several plain words: a phrase
    else:
        raise syntax_error("a set entry is one term or phrase; quote a phrase or use several entries", toks[1].col)
    if term is None:
        raise syntax_error(f"set entry '{entry}' holds no word to search for", 1)
    return term
