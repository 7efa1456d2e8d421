"""Witnesses: the few hits that together make a true query true, the *decisive* hits a snippet shows.

``Match.hits`` lists every occurrence of every positive term in every true branch (docs/rule-language.md section 6); on a long
article they are spread over the whole text. A witness keeps one occurrence per leaf that has to be there: a term
or set its first occurrence (in the text before the title: the snippet shows text), unless a sibling under an AND
wants a nearer one; an OR the true branch whose witness needs the fewest snippet windows, then the earliest; an
AND one witness per conjunct, near each other (each of a few conjuncts, the rarest, is tried as the anchor the others
come near); a NEAR/ONEAR one pair within the distance; a field scope its field; a regex its first match; NOT and
META none.

Computed only for a rule that matched, from the document's cached occurrences (:class:`DocState`) with binary
searches: a term occurring 100,000 times costs a bisect, an OR of 5,000 branches one look at each.
"""

from __future__ import annotations

from bisect import bisect_left
from functools import lru_cache

from monitor.rules.compile import AND, FIELD, NEAR, OR, REGEX, SET, TERM, CNode
from monitor.rules.evaluate import Chunk, DocState, RegexTimeout, SpanHit, is_true, near_used, regex_first
from monitor.rules.snippet import SNIPPET_CHARS

__all__ = ["witness"]

_DEFAULT_SCOPE = ("title", "text")
#: The snippet's field first: a witness in the text explains a match better than one in the title.
_FIELD_RANK = {"text": 0, "title": 1, "url": 2, "author": 3}
#: Conjuncts of an AND tried as the anchor the others are chosen near (the ones with the fewest occurrences).
_ANCHORS = 4
_READING = {"title": 0, "text": 1, "url": 2, "author": 3}
#: A distance larger than any within a field: a hit in another field than the target.
_FAR = 1 << 62
#: Occurrences of an AND's anchor tried as the place the others come near (the first ones in the text).
_TRIES = 32
#: How far back a NEAR occurrence's partner is looked for among the other operand's occurrences.
_BACK = 64
_Target = tuple[str, int, int]
_Witness = list[SpanHit]
#: Not in the cache.
_UNKNOWN: _Witness = []


def witness(st: DocState, c: CNode, scope: tuple[str, ...] = _DEFAULT_SCOPE) -> list[SpanHit]:
    """The decisive hits of the true query ``c`` (empty when only NOT or META made it true), in reading order."""
    found = _Finder(st).find(c, scope, None) or []
    return sorted(set(found), key=lambda h: (_READING.get(h[0], 4), h[1], h[2]))


def _spread(hits: _Witness) -> tuple[int, int, int, int]:
    """How a witness reads, smaller is better: (no text hit, windows of the snippet's size it needs, extent in the
    text, first offset)."""
    if len(hits) == 1:
        f, s, e = hits[0]
        return (0, 1, e - s, s) if f == "text" else (1, 1, 0, s)
    spans = sorted((s, e) for f, s, e in hits if f == "text")
    if not spans:
        return 1, 1, 0, min((s for _, s, _ in hits), default=0)
    windows, start = 1, spans[0][0]
    for s, e in spans:
        if e - start > SNIPPET_CHARS:
            windows, start = windows + 1, s
    return 0, windows, max(e for _, e in spans) - spans[0][0], spans[0][0]


def _gap(hits: _Witness, target: _Target) -> int:
    """Characters between the witness's hits in the target's field and the target (``_FAR`` when none is there)."""
    field, lo, hi = target
    best = _FAR
    for f, s, e in hits:
        if f == field:
            best = min(best, max(0, lo - e, s - hi))
    return best


def _target(hits: _Witness) -> _Target | None:
    """The stretch of the text a witness covers, for its siblings to come near (None: it has no hit in the text,
    and nearness in a title says nothing the snippet shows)."""
    spans = [(s, e) for f, s, e in hits if f == "text"]
    if not spans:
        return None
    return "text", min(s for s, _ in spans), max(e for _, e in spans)


class _Finder:
    """The witness searches over one document: caches NEAR pairs and witnesses between the tries and between the
    rules (their compiled nodes are shared: :meth:`~monitor.rules.compile.TermTable.node`)."""

    def __init__(self, st: DocState) -> None:
        self.st = st
        if st.witnesses is None:  # the article's first witness
            st.witnesses = ({}, {}, {}, {})
        self._canonical: dict[tuple[int, tuple[str, ...]], _Witness | None] = st.witnesses[0]
        self._near_spans: dict[tuple[int, str], list[tuple[int, int]]] = st.witnesses[1]
        self._counts: dict[tuple[int, tuple[str, ...]], int] = st.witnesses[2]
        self._pairs: dict[tuple[int, str, tuple[int, int]], _Witness] = st.witnesses[3]
        #: The witnesses of nodes with a regex inside, for this rule only.
        self.volatile: dict[tuple[int, tuple[str, ...]], _Witness | None] = {}
        self._regex_nodes = st.table.volatile

    def find(self, c: CNode, scope: tuple[str, ...], target: _Target | None) -> _Witness | None:
        """The witness of ``c`` (None: false), near ``target`` if given."""
        if c[0] == TERM:  # the commonest node, cheaper to find again than to cache
            return self._term((c[1],), scope, target)
        if target is None:
            key = (id(c), scope)
            # A node with a regex inside is searched once per rule: each rule's search spends regex time.
            cache = self.volatile if id(c) in self._regex_nodes else self._canonical
            if key not in cache:
                cache[key] = self._find(c, scope, None)
            return cache[key]
        known = self._canonical.get((id(c), scope), _UNKNOWN)
        if known is None:
            return None  # false, near the target or not
        if known is not _UNKNOWN and c[0] in (SET, NEAR) and target[0] not in scope:
            return known  # a term or NEAR looks for the target in its field only
        return self._find(c, scope, target)

    def _find(self, c: CNode, scope: tuple[str, ...], target: _Target | None) -> _Witness | None:
        kind = c[0]
        if kind == TERM or kind == SET:
            got = self.st.memo.get((id(c), scope)) if kind == SET else None  # evaluated: its spans are there
            return self._term((c[1],) if kind == TERM else c[1], scope, target, got[1] if got else None)
        if kind == AND:
            return self._and(c[1], scope, target)
        if kind == OR:
            return self._or(c[1], scope, target)
        if kind == FIELD:
            return self.find(c[2], (c[1],), target)
        if kind == NEAR:
            return self._near(c, scope, target)
        try:
            if kind == REGEX:
                first = regex_first(self.st, c, scope)
                return [first] if first is not None else None
            return [] if is_true(self.st, c, scope) else None  # NOT and META: true or false, nothing to show
        except RegexTimeout:  # decided already when the rule was evaluated; here it only costs a mark
            return None

    def _term(
        self, tids: tuple[int, ...], scope: tuple[str, ...], target: _Target | None, chunks: list[Chunk] | None = None
    ) -> _Witness | None:
        """The occurrence of a term or set, its spans read from ``chunks`` (the set's evaluation) if given."""
        best: SpanHit | None = None
        best_key = (_FAR, _FAR, _FAR)
        # The text first: an occurrence there (near the target, which is in the text, or not) beats any other.
        for field in _text_first(scope):
            if best is not None:
                break
            near = target is not None and target[0] == field
            if chunks is None:
                found = [self.st.term_spans(t, field) for t in self.st.live(tids, field)]
            else:
                found = [spans for f, spans in chunks if f == field]
            for spans in found:
                if not spans:
                    continue
                if near:
                    assert target is not None
                    span = _nearest(spans, target[1], target[2])
                    key = (0, max(0, target[1] - span[1], span[0] - target[2]), span[0])
                else:
                    span = spans[0]
                    key = (1, _FIELD_RANK.get(field, 4), span[0])
                if key < best_key:
                    best, best_key = (field, *span), key
        return None if best is None else [best]

    def _and(self, kids: tuple[CNode, ...], scope: tuple[str, ...], target: _Target | None) -> _Witness | None:
        if target is not None:
            out: _Witness = []
            for x in kids:
                w = self.find(x, scope, target)
                if w is None:
                    return None
                out += w
            return out
        found: list[_Witness] = []
        for x in kids:
            w = self.find(x, scope, None)
            if w is None:
                return None
            found.append(w)
        shown = [i for i, w in enumerate(found) if w]
        if len(shown) <= 1:
            return [h for w in found for h in w]
        counts = {i: self.count(kids[i], scope) for i in shown}
        anchors = sorted(shown, key=counts.__getitem__)[:_ANCHORS]
        if counts[anchors[0]] == 1 and _target(found[anchors[0]]):  # every witness holds that one occurrence
            anchors = anchors[:1]
        best: _Witness = []
        best_key = (2, 0, 0, 0)
        for more in (False, True):  # the anchors' first occurrences; then, if those need several windows, later ones
            if more and best_key[:2] <= (0, 1):
                break
            for i, tried in ((a, w) for a in anchors for w in (self._tries(kids[a], scope) if more else [found[a]])):
                near = _target(tried)
                combo = list(tried)
                for j in shown:
                    if j != i:
                        combo += (self.find(kids[j], scope, near) if near else None) or found[j]
                no_text, windows, extent, start = _spread(combo)
                key = (no_text, windows, start, extent)  # the fewest windows, then the earliest, as an OR's branches
                if key < best_key:
                    best, best_key = combo, key
        return best

    def _tries(self, c: CNode, scope: tuple[str, ...]) -> list[_Witness]:
        """More witnesses of an AND's anchor for the others to come near: for a term, set or NEAR its first
        ``_TRIES`` occurrences in the text (a later B…C window may have A in its sentence, the first one not)."""
        kind = c[0]
        if "text" not in scope or kind not in (TERM, SET, NEAR):
            return []
        if kind == NEAR:
            return [self._pair_hits(c, "text", u) for u in near_used(self.st, c, "text")[:_TRIES]]
        tids = (c[1],) if kind == TERM else c[1]
        live = self.st.live(tids, "text")
        spans = sorted({span for t in live for span in self.st.term_spans(t, "text")[:_TRIES]})[:_TRIES]
        return [[("text", s, e)] for s, e in spans]

    def _or(self, kids: tuple[CNode, ...], scope: tuple[str, ...], target: _Target | None) -> _Witness | None:
        best: _Witness | None = None
        best_key: tuple[int, ...] = ()
        best_gap = _FAR + 1
        for x in kids:
            w = self.find(x, scope, target)
            if w is None:
                continue
            gap = 0 if target is None else _gap(w, target)
            if gap > best_gap:
                continue
            no_text, windows, extent, start = _spread(w)
            key = (gap, no_text, windows, start, extent)  # the nearest, else the earliest of the compact ones
            if best is None or key < best_key:
                best, best_key, best_gap = w, key, gap
        return best

    def _near(self, c: CNode, scope: tuple[str, ...], target: _Target | None) -> _Witness | None:
        best: _Witness | None = None
        for field in scope:
            used = near_used(self.st, c, field)
            if not used:
                continue
            near = target is not None and target[0] == field
            k = 0
            if near:
                assert target is not None
                spans = self._spans(c, field, used)
                k = bisect_left(spans, _nearest(spans, target[1], target[2]))
            w = self._pair_hits(c, field, used[k])
            if near or best is None or _FIELD_RANK.get(field, 4) < _FIELD_RANK.get(best[0][0], 4):
                best = w
            if near:
                break
        return best

    def _spans(self, c: CNode, field: str, used: list[tuple[int, int]]) -> list[tuple[int, int]]:
        key = (id(c), field)
        if key not in self._near_spans:
            self._near_spans[key] = self.st.fields[field].spans(used)
        return self._near_spans[key]

    def _pair_hits(self, c: CNode, field: str, u: tuple[int, int]) -> _Witness:
        """The hits of ``u`` and its nearest partner (:meth:`_pair`); cached."""
        key = (id(c), field, u)
        got = self._pairs.get(key)
        if got is None:
            got = self._pairs[key] = [(field, s, e) for s, e in self.st.fields[field].spans(self._pair(c, field, u))]
        return got

    def _pair(self, c: CNode, field: str, u: tuple[int, int]) -> list[tuple[int, int]]:
        """``u`` (an occurrence with a partner) and its nearest partner, in words."""
        _, left, right, dist, ordered = c
        a_occ, b_occ = self.st.operand_occ(left, field), self.st.operand_occ(right, field)
        found: list[tuple[int, tuple[int, int]]] = []  # (words between, partner)
        if _has(a_occ, u):  # u as the left operand: a right one starting after it (or, NEAR, ending before it)
            found += _after(b_occ, u, dist) + ([] if ordered else _before(b_occ, u, dist))
        if _has(b_occ, u):
            found += _before(a_occ, u, dist) + ([] if ordered else _after(a_occ, u, dist))
        if not found:
            return [u]
        return sorted([u, min(found)[1]])

    def count(self, c: CNode, scope: tuple[str, ...]) -> int:
        """About how many places ``c`` could be witnessed at (fewer: a better anchor); cached."""
        key = (id(c), scope)
        got = self._counts.get(key)
        if got is None:
            got = self._counts[key] = self._count(c, scope)
        return got

    def _count(self, c: CNode, scope: tuple[str, ...]) -> int:
        kind = c[0]
        got = self.st.memo.get((id(c), scope)) if kind == SET or kind == NEAR else None
        if got is not None:  # evaluated: its hits are its occurrences (a NEAR's: those with a partner)
            return sum(len(spans) for _, spans in got[1])
        if kind == TERM or kind == SET:
            tids = (c[1],) if kind == TERM else c[1]
            return sum(len(self.st.term_spans(t, f)) for f in scope for t in self.st.live(tids, f))
        if kind == NEAR:
            return sum(len(near_used(self.st, c, f)) for f in scope)
        if kind == FIELD:
            return self.count(c[2], (c[1],))
        if kind == OR:
            return sum(self.count(x, scope) for x in c[1])
        if kind == AND:
            return min((self.count(x, scope) for x in c[1]), default=_FAR)
        return _FAR  # a regex, NOT or META: never the anchor


@lru_cache(maxsize=64)
def _text_first(scope: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(scope, key=lambda f: _FIELD_RANK.get(f, 4)))


def _nearest(spans: list[tuple[int, int]], lo: int, hi: int) -> tuple[int, int]:
    """The span of ``spans`` (sorted, not empty) nearest to ``lo..hi``: one of the two around ``lo``."""
    i = bisect_left(spans, (lo, -1))
    around = spans[max(0, i - 1) : i + 1]
    return min(around, key=lambda s: (max(0, lo - s[1], s[0] - hi), s[0]))


def _has(occ: list[tuple[int, int]], u: tuple[int, int]) -> bool:
    i = bisect_left(occ, u)
    return i < len(occ) and occ[i] == u


def _after(occ: list[tuple[int, int]], u: tuple[int, int], dist: int) -> list[tuple[int, tuple[int, int]]]:
    """The first occurrence starting within ``dist`` words after ``u`` ends."""
    i = bisect_left(occ, (u[1] + 1, -1))
    if i < len(occ) and occ[i][0] <= u[1] + 1 + dist:
        return [(occ[i][0] - u[1] - 1, occ[i])]
    return []


def _before(occ: list[tuple[int, int]], u: tuple[int, int], dist: int) -> list[tuple[int, tuple[int, int]]]:
    """The nearest occurrence ending within ``dist`` words before ``u`` starts (a bounded look back)."""
    i = bisect_left(occ, (u[0], -1))
    best: list[tuple[int, tuple[int, int]]] = []
    for o in reversed(occ[max(0, i - _BACK) : i]):
        if u[0] - 1 - dist <= o[1] <= u[0] - 1 and (not best or u[0] - 1 - o[1] < best[0][0]):
            best = [(u[0] - 1 - o[1], o)]
        if o[0] < u[0] - 1 - dist - _BACK:
            break
    return best
