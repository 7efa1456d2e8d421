"""Evaluating compiled queries over one document: truth, hits (RULES.md sections 4 and 6) and snippets."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import ahocorasick

from monitor.rules.compile import AND, FIELD, META, NEAR, NOT, OR, REGEX, SET, TERM, CNode, TermTable
from monitor.rules.model import Document
from monitor.rules.text import Field, normalise

__all__ = ["DocState", "RegexTimeout", "SpanHit", "evaluate", "is_true", "make_snippet"]

_log = logging.getLogger(__name__)

DEFAULT_SCOPE = ("title", "text")
_ALL_FIELDS = ("title", "text", "url", "author")
#: Seconds a regex may run over one field before the rule fails for that article.
REGEX_TIMEOUT = 0.25
SNIPPET_CHARS = 300

#: (field, start, end): a hit as offsets into the document's field text.
SpanHit = tuple[str, int, int]
_Occ = tuple[int, int]


class RegexTimeout(Exception):
    """A regex ran past :data:`REGEX_TIMEOUT`; the rule fails for this article."""


class DocState:
    """One document, normalised and scanned once, shared by every rule evaluated on it."""

    def __init__(
        self,
        doc: Document,
        table: TermTable,
        automaton: ahocorasick.Automaton | None,
        detect: Callable[[str], str | None],
    ) -> None:
        self.doc = doc
        self.table = table
        self.fields: dict[str, Field] = {name: normalise(getattr(doc, name)) for name in _ALL_FIELDS}
        self.fired: dict[str, dict[int, list[int]]] = {name: {} for name in _ALL_FIELDS}
        if automaton is not None:
            for name, f in self.fields.items():
                fired = self.fired[name]
                for end, kid in automaton.iter(f.norm):
                    fired.setdefault(kid, []).append(end)
        self._occ: dict[tuple[int, str], list[_Occ]] = {}
        self._detect = detect
        self._lang: str | None = doc.lang
        self._lang_done = doc.lang is not None
        self.feeds = {doc.feed.casefold(), *(t.casefold() for t in doc.feed_tags)} - {""}

    def fired_keys(self) -> set[int]:
        out: set[int] = set()
        for fired in self.fired.values():
            out.update(fired)
        return out

    @property
    def lang(self) -> str | None:
        if not self._lang_done:
            self._lang = self._detect(f"{self.doc.title}\n{self.doc.text}")
            self._lang_done = True
        return self._lang

    def term_occ(self, tid: int, field: str) -> list[_Occ]:
        cached = self._occ.get((tid, field))
        if cached is None:
            ct = self.table.terms[tid]
            kid = None if ct.key is None else self.table.keys[ct.key]
            ends = None if kid is None else self.fired[field].get(kid)
            cached = ct.occurrences(self.fields[field], ends)
            self._occ[(tid, field)] = cached
        return cached

    def spans(self, field: str, occs: Iterable[_Occ]) -> list[SpanHit]:
        f = self.fields[field]
        starts, ends = f.starts, f.ends
        return [(field, starts[a], ends[b]) for a, b in occs]


def _operand_occ(st: DocState, c: CNode, field: str) -> list[_Occ]:
    kind = c[0]
    if kind == TERM:
        return st.term_occ(c[1], field)
    if kind == SET:
        return sorted({o for t in c[1] for o in st.term_occ(t, field)})
    return sorted({o for x in c[1] for o in _operand_occ(st, x, field)})  # OR of operands


def _near_pairs(st: DocState, c: CNode, field: str, first_only: bool) -> set[_Occ]:
    """Occurrences of either operand that have a partner within the distance (first pair only if asked)."""
    _, left, right, dist, ordered = c
    used: set[_Occ] = set()
    a_occ = _operand_occ(st, left, field)
    if not a_occ:
        return used
    for a in a_occ:
        for b in _operand_occ(st, right, field):
            if 0 <= b[0] - a[1] - 1 <= dist or (not ordered and 0 <= a[0] - b[1] - 1 <= dist):
                used.add(a)
                used.add(b)
                if first_only:
                    return used
    return used


def _regex(st: DocState, c: CNode, scope: tuple[str, ...], first_only: bool) -> list[SpanHit]:
    hits: list[SpanHit] = []
    for field in scope:
        f = st.fields[field]
        try:
            for m in c[1].finditer(f.nfkc, timeout=REGEX_TIMEOUT):
                hits.append((field, *f.nfkc_span(m.start(), m.end())))
                if first_only:
                    return hits
        except TimeoutError as e:
            raise RegexTimeout(f"{c[2]} timed out on field {field}") from e
    return hits


def is_true(st: DocState, c: CNode, scope: tuple[str, ...] = DEFAULT_SCOPE) -> bool:
    """Truth of ``c`` over the document (no hits are collected).

    Raises:
        RegexTimeout: a regex of the query ran too long.
    """
    kind = c[0]
    if kind == TERM:
        return any(st.term_occ(c[1], field) for field in scope)
    if kind == SET:
        return any(st.term_occ(t, field) for field in scope for t in c[1])
    if kind == AND:
        return all(is_true(st, x, scope) for x in c[1])
    if kind == OR:
        return any(is_true(st, x, scope) for x in c[1])
    if kind == NOT:
        return not is_true(st, c[1], scope)
    if kind == FIELD:
        return is_true(st, c[2], (c[1],))
    if kind == NEAR:
        return any(_near_pairs(st, c, field, True) for field in scope)
    if kind == REGEX:
        return bool(_regex(st, c, scope, True))
    if kind == META:
        if c[1] == "feed":
            return bool(c[2] in st.feeds)
        lang = st.lang
        return lang is not None and lang.casefold() == c[2]
    raise TypeError(f"unknown compiled node {kind}")  # pragma: no cover


def _hits(st: DocState, c: CNode, scope: tuple[str, ...], out: list[SpanHit]) -> None:
    """Append the hits of a node already known to be true: every positive term of every true branch."""
    kind = c[0]
    if kind == TERM or kind == SET:
        for field in scope:
            for t in (c[1],) if kind == TERM else c[1]:
                out.extend(st.spans(field, st.term_occ(t, field)))
    elif kind == AND:
        for x in c[1]:
            _hits(st, x, scope, out)
    elif kind == OR:
        for x in c[1]:
            if is_true(st, x, scope):
                _hits(st, x, scope, out)
    elif kind == FIELD:
        _hits(st, c[2], (c[1],), out)
    elif kind == NEAR:
        for field in scope:
            out.extend(st.spans(field, sorted(_near_pairs(st, c, field, False))))
    elif kind == REGEX:
        out.extend(_regex(st, c, scope, False))
    # NOT and META produce no hits


def evaluate(st: DocState, c: CNode, scope: tuple[str, ...] = DEFAULT_SCOPE) -> tuple[bool, list[SpanHit]]:
    """Truth of ``c`` over the document and, when true, the hits of its true positive branches.

    Raises:
        RegexTimeout: a regex of the query ran too long.
    """
    if not is_true(st, c, scope):
        return False, []
    out: list[SpanHit] = []
    _hits(st, c, scope, out)
    return True, out


def make_snippet(doc: Document, hits: list[SpanHit]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """About 300 characters of plain text around the first hits, and the hits' offsets inside it."""
    if not hits:
        return " ".join(doc.text[:SNIPPET_CHARS].split()), ()
    in_text = [h for h in hits if h[0] == "text"]
    field = "text" if in_text else hits[0][0]
    source: str = getattr(doc, field)
    spans = sorted((s, e) for f, s, e in hits if f == field)
    first = spans[0][0]
    lo = max(0, first - SNIPPET_CHARS // 4)
    if lo > 0:
        cut = source.rfind(" ", 0, lo)
        lo = cut + 1 if lo - cut < 40 else lo
    hi = min(len(source), lo + SNIPPET_CHARS)
    if hi < len(source):
        cut = source.find(" ", hi)
        hi = cut if 0 <= cut - hi < 40 else hi
    # Collapse whitespace while keeping a map from source offsets to snippet offsets.
    out: list[str] = []
    pos_map: dict[int, int] = {}
    prev_space = True
    for i in range(lo, hi):
        pos_map[i] = len(out)
        ch = source[i]
        if ch.isspace():
            if not prev_space:
                out.append(" ")
            prev_space = True
        else:
            out.append(ch)
            prev_space = False
    pos_map[hi] = len(out)
    prefix = "…" if lo > 0 else ""
    body = "".join(out).rstrip()
    suffix = "…" if hi < len(source) else ""
    shift = len(prefix)
    marks = tuple(
        (pos_map[s] + shift, min(pos_map[e], len(body)) + shift) for s, e in spans if lo <= s and e <= hi
    )
    return prefix + body + suffix, marks
