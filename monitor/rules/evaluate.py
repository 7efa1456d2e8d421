"""Evaluating compiled queries over one document: truth, hits (docs/rule-language.md sections 4 and 6) and snippets.

Truth and hits come from per-document caches of term occurrences (NEAR/ONEAR: :mod:`monitor.rules.near`); the
witness and the snippet are built only for rules that matched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from time import perf_counter
from typing import Any

import daachorse

from monitor.rules.compile import AND, FIELD, META, NEAR, NOT, OR, REGEX, SET, TERM, CNode, TermTable
from monitor.rules.fields import Fields, Fired
from monitor.rules.model import Document, Hit
from monitor.rules.near import near_true, near_used
from monitor.rules.snippet import SNIPPET_CHARS, make_snippet
from monitor.rules.text import Field

__all__ = [
    "Chunk",
    "DocState",
    "EXAMPLES_REGEX_TIMEOUT",
    "MAX_FIELD_CHARS",
    "REGEX_TIMEOUT",
    "RegexBudget",
    "RegexTimeout",
    "SNIPPET_CHARS",
    "SpanHit",
    "evaluate",
    "evaluate_chunks",
    "is_true",
    "make_snippet",
    "near_used",
    "regex_first",
]

_log = logging.getLogger(__name__)

_DEFAULT_SCOPE = ("title", "text")
_ALL_FIELDS = ("title", "text", "url", "author")
#: Seconds of regex search one article may use, all its rules and fields together (read when the article's
#: state is made). A regex still running when it is spent, or started after, fails its rule for that article.
REGEX_TIMEOUT = 0.5
#: Seconds of regex search all the examples of a rule set share when it is loaded (``rules check``, a reload):
#: thousands of examples of a catastrophic regex would otherwise take REGEX_TIMEOUT each.
EXAMPLES_REGEX_TIMEOUT = 5.0
#: Characters of each field the matcher reads (an article of 1.2 million characters of Thai still costs about
#: 650 MB and 4 s to normalise; news articles are under 100,000). Offsets stay those of the full text.
MAX_FIELD_CHARS = 1_200_000
#: How many hits a regex collects between checks of the budget (the engine counts only its own time).
_REGEX_CHECK_EVERY = 4096

#: (field, start, end): a hit as offsets into the document's field text.
SpanHit = tuple[str, int, int]
#: Hits as evaluation keeps them: a field and the (start, end) of spans in it, sorted (a term's, a NEAR's...).
Chunk = tuple[str, list[tuple[int, int]]]
_Occ = tuple[int, int]
_NO_OCC: list[_Occ] = []
_NO_SPANS: list[tuple[int, int]] = []


class RegexBudget:
    """Seconds of regex search left. Charging one also charges its parent, whose remainder also bounds it: an
    article's budget inside the one that all of a rule set's examples share."""

    def __init__(self, seconds: float, parent: RegexBudget | None = None) -> None:
        self._left = seconds
        self._parent = parent

    @property
    def left(self) -> float:
        return self._left if self._parent is None else min(self._left, self._parent.left)

    def charge(self, seconds: float) -> None:
        self._left -= seconds
        if self._parent is not None:
            self._parent.charge(seconds)


class RegexTimeout(Exception):
    """A regex ran past what was left of the article's :data:`REGEX_TIMEOUT`; the rule fails for this article."""


class DocState:
    """One document, normalised and scanned once, shared by every rule evaluated on it."""

    def __init__(
        self,
        doc: Document,
        table: TermTable,
        automaton: daachorse.DoubleArrayAhoCorasick | None,
        detect: Callable[[str], str | None],
        budget: RegexBudget | None = None,
    ) -> None:
        self.doc = doc
        self.table = table
        #: Regex search time left for this article (:data:`REGEX_TIMEOUT`, within ``budget`` if given).
        self.budget = RegexBudget(REGEX_TIMEOUT, budget)
        #: Fields longer than :data:`MAX_FIELD_CHARS`, which only the start of is read.
        self.cut = tuple(name for name in _ALL_FIELDS if len(getattr(doc, name)) > MAX_FIELD_CHARS)
        self.fields: dict[str, Field] = Fields(doc, MAX_FIELD_CHARS)
        # Per field, the ids of the keys that occur; where they occur is found only for terms evaluated.
        self.fired: dict[str, AbstractSet[int]] = Fired(self.fields, automaton)
        # Per field: term id -> occurrences, and NEAR operand (term ids) -> merged occurrences.
        self._occ: dict[str, dict[int, list[_Occ]]] = {name: {} for name in _ALL_FIELDS}
        # Per field: term id -> spans of its occurrences in the field's text.
        self._spans: dict[str, dict[int, list[tuple[int, int]]]] = {name: {} for name in _ALL_FIELDS}
        # Keyed by the operand's identity (one tuple per distinct operand: TermTable.canonical).
        self._operands: dict[tuple[str, int], list[_Occ]] = {}
        self._live: dict[tuple[int, str], tuple[int, ...]] = {}
        # Per (NEAR node, field): the occurrences with a partner (``near_used``).
        self.near: dict[tuple[int, str], list[_Occ]] = {}
        #: Per (compiled node, scope): its truth and hits (:func:`_collect`).
        self.memo: dict[tuple[int, tuple[str, ...]], tuple[bool, list[Chunk]]] = {}
        self._hits: dict[SpanHit, Hit] = {}
        #: The caches of this article's witness searches (:mod:`monitor.rules.witness`), kept for the next rule.
        self.witnesses: Any = None
        self._detect = detect
        self._lang: str | None = doc.lang or None  # an empty language is an absent one: detected
        self._lang_done = self._lang is not None
        self.feeds = {doc.feed.casefold(), *(t.casefold() for t in doc.feed_tags)} - {""}

    @property
    def lang(self) -> str | None:
        if not self._lang_done:
            self._lang = self._detect(f"{self.doc.title}\n{self.doc.text}")
            self._lang_done = True
        return self._lang

    def live(self, tids: tuple[int, ...], field: str) -> tuple[int, ...]:
        """The terms of ``tids`` (a set, a NEAR operand) that can occur in ``field`` (:meth:`TermTable.present`),
        cached per document by the tuple's identity: one of two terms or more is a compiled node's, alive as long
        as the rule set; a single term (callers build such tuples on the fly) is returned as it is."""
        if len(tids) < 2:
            return tids
        got = self._live.get((id(tids), field))
        if got is None:
            got = self._live[(id(tids), field)] = self.table.present(tids, self.fired[field])
        return got

    def has(self, tid: int, field: str) -> bool:
        """Whether term ``tid`` occurs in ``field``: one set look-up when its key did not occur, or when the key
        alone proves the term (a plain word or phrase); else its occurrences are computed (and cached)."""
        ct = self.table.terms[tid]
        if ct.kid is not None:
            if ct.kid not in self.fired[field]:
                return False
            if not ct.verify:
                return True
        if ct.piece is not None and self.fields[field].plain:
            return bool(self.term_spans(tid, field))
        return bool(self.term_occ(tid, field))

    def term_spans(self, tid: int, field: str) -> list[tuple[int, int]]:
        """(start, end) in the field's text of every occurrence of term ``tid``, sorted; cached.

        A one-word term in a field on the ASCII path is found straight in the text; other terms through their
        word occurrences and the field's word offsets.
        """
        cache = self._spans[field]
        cached = cache.get(tid)
        if cached is None:
            ct = self.table.terms[tid]
            f = self.fields[field]
            if ct.kid is not None and ct.kid not in self.fired[field]:
                cached = _NO_SPANS
            elif ct.piece is not None and f.plain:
                cached = ct.text_spans(f)
            else:
                cached = f.spans(self.term_occ(tid, field))
            cache[tid] = cached
        return cached

    def term_occ(self, tid: int, field: str) -> list[_Occ]:
        """(first word, last word) of every occurrence of term ``tid`` in ``field``, sorted; cached."""
        cache = self._occ[field]
        cached = cache.get(tid)
        if cached is None:
            ct = self.table.terms[tid]
            if ct.key is None:
                cached = ct.occurrences(self.fields[field], None)
            else:
                f = self.fields[field]
                cached = ct.occurrences(f, f.find_all(ct.key)) if ct.kid in self.fired[field] else _NO_OCC
            cache[tid] = cached
        return cached

    def operand_occ(self, tids: tuple[int, ...], field: str) -> list[_Occ]:
        """Sorted distinct occurrences of any of ``tids`` (a NEAR operand) in ``field``; cached."""
        if len(tids) == 1:
            return self.term_occ(tids[0], field)
        cached = self._operands.get((field, id(tids)))
        if cached is None:
            live = self.live(tids, field)
            if len(live) < 2:  # the commonest: none of a set's terms is in the field, or one is
                cached = self.term_occ(live[0], field) if live else _NO_OCC
            else:
                merged: set[_Occ] = set()
                for t in live:
                    merged.update(self.term_occ(t, field))
                cached = sorted(merged)
            self._operands[(field, id(tids))] = cached
        return cached

    def hits(self, spans: list[SpanHit]) -> tuple[Hit, ...]:
        """The :class:`Hit` of each span, made once per article (the rules that match it share most of them)."""
        made = self._hits
        out = []
        for span in spans:
            hit = made.get(span)
            if hit is None:
                field, start, end = span
                hit = made[span] = Hit(field, start, end, getattr(self.doc, field)[start:end])
            out.append(hit)
        return tuple(out)


def _regex(st: DocState, c: CNode, scope: tuple[str, ...], first_only: bool) -> list[SpanHit]:
    """The regex's matches in the fields of ``scope``, searched within what is left of the article's budget
    (``st.budget``, which this charges).

    Raises:
        RegexTimeout: the budget ran out (or had before this search began).
    """
    hits: list[SpanHit] = []
    _ = [st.fields[name].nfkc for name in scope]  # built on first use: outside the regex's budget, as before
    start = perf_counter()
    field = scope[0]
    try:
        for field in scope:
            f = st.fields[field]
            left = st.budget.left - (perf_counter() - start)
            if left <= 0:
                raise TimeoutError
            for n, m in enumerate(c[1].finditer(f.nfkc, timeout=left), 1):
                hits.append((field, *f.nfkc_span(m.start(), m.end())))
                if first_only:
                    return hits
                if n % _REGEX_CHECK_EVERY == 0 and perf_counter() - start > st.budget.left:
                    raise TimeoutError  # many cheap matches: the engine's clock would not stop them
    except TimeoutError as e:
        # Spent, whatever our clock says: the engine's own may stop a hair before it.
        st.budget.charge(max(0.0, st.budget.left - (perf_counter() - start)))
        raise RegexTimeout(f"{c[2]} ran out of the article's {REGEX_TIMEOUT} s of regex time on field {field}") from e
    finally:
        st.budget.charge(perf_counter() - start)
    return hits


def regex_first(st: DocState, c: CNode, scope: tuple[str, ...]) -> SpanHit | None:
    """The first match of a REGEX node in ``scope`` (see :func:`_regex`)."""
    hits = _regex(st, c, scope, True)
    return hits[0] if hits else None


def is_true(st: DocState, c: CNode, scope: tuple[str, ...] = _DEFAULT_SCOPE) -> bool:
    """Truth of ``c`` over the document (no hits are collected).

    Raises:
        RegexTimeout: a regex of the query ran too long.
    """
    kind = c[0]
    if kind == TERM:
        tid = c[1]
        for field in scope:
            if st.has(tid, field):
                return True
        return False
    if kind == AND:
        for x in c[1]:
            if not is_true(st, x, scope):
                return False
        return True
    if kind == OR:
        for x in c[1]:
            if is_true(st, x, scope):
                return True
        return False
    if kind == SET:
        for field in scope:
            for t in st.live(c[1], field):
                if st.has(t, field):
                    return True
        return False
    if kind == NOT:
        return not is_true(st, c[1], scope)
    if kind == FIELD:
        return is_true(st, c[2], (c[1],))
    if kind == NEAR:
        for field in scope:
            if near_true(st, c, field):
                return True
        return False
    if kind == REGEX:
        return bool(_regex(st, c, scope, True))
    if kind == META:
        if c[1] == "feed":
            return bool(c[2] in st.feeds)
        lang = st.lang
        return lang is not None and lang.casefold() == c[2]
    raise TypeError(f"unknown compiled node {kind}")  # pragma: no cover


def _collect(st: DocState, c: CNode, scope: tuple[str, ...], out: list[Chunk]) -> bool:
    """Truth of ``c``, appending the hits of its true positive branches to ``out`` in the same walk, as chunks.

    Nearly every rule evaluated matches (its keys occurred), so one walk that drops the hits of a false AND
    costs less than deciding the truth first and walking again for the hits. A node's result is kept for the
    article (``st.memo``): the shipped rules share most of their subqueries (compiled nodes are shared,
    :meth:`TermTable.node`), so each is evaluated once per article. Not a node with a regex inside
    (``TermTable.volatile``): every rule's search spends the article's regex time, as it always did.
    """
    if c[0] == TERM:
        found = False
        for field in scope:
            spans = st.term_spans(c[1], field)
            if spans:
                found = True
                out.append((field, spans))
        return found
    key = (id(c), scope)
    got = st.memo.get(key)
    if got is None:
        chunks: list[Chunk] = []
        got = (_collect_node(st, c, scope, chunks), chunks)
        if id(c) not in st.table.volatile:
            st.memo[key] = got
    if got[0]:
        out += got[1]
    return got[0]


def _collect_node(st: DocState, c: CNode, scope: tuple[str, ...], out: list[Chunk]) -> bool:
    kind = c[0]
    if kind == SET:
        found = False
        for field in scope:
            for t in st.live(c[1], field):
                spans = st.term_spans(t, field)
                if spans:
                    found = True
                    out.append((field, spans))
        return found
    if kind == AND:
        for x in c[1]:
            if not _collect(st, x, scope, out):
                out.clear()
                return False
        return True
    if kind == OR:
        found = False
        for x in c[1]:
            found = _collect(st, x, scope, out) or found
        return found
    if kind == FIELD:
        return _collect(st, c[2], (c[1],), out)
    if kind == NEAR:
        found = False
        for field in scope:
            used = near_used(st, c, field)
            if used:
                found = True
                out.append((field, st.fields[field].spans(used)))
        return found
    if kind == REGEX:
        hits = _regex(st, c, scope, False)
        for field in scope:
            spans = [(s, e) for f, s, e in hits if f == field]
            if spans:
                out.append((field, spans))
        return bool(hits)
    return is_true(st, c, scope)  # NOT and META produce no hits


def evaluate(st: DocState, c: CNode, scope: tuple[str, ...] = _DEFAULT_SCOPE) -> tuple[bool, list[SpanHit]]:
    """Truth of ``c`` over the document and, when true, the hits of its true positive branches.

    Raises:
        RegexTimeout: a regex of the query ran too long.
    """
    ok, chunks = evaluate_chunks(st, c, scope)
    return ok, [(field, start, end) for field, spans in chunks for start, end in spans]


def evaluate_chunks(st: DocState, c: CNode, scope: tuple[str, ...] = _DEFAULT_SCOPE) -> tuple[bool, list[Chunk]]:
    """:func:`evaluate` with the hits as they are kept: (field, spans) chunks, which may repeat and overlap; their
    lists are the article's caches, not to be changed.

    Raises:
        RegexTimeout: a regex of the query ran too long.
    """
    out: list[Chunk] = []
    if not _collect(st, c, scope, out):
        return False, []
    return True, out
