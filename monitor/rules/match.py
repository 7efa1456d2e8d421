"""The compiled matcher: a loaded rule set -> matches for a document.

All rules are compiled together. One Aho-Corasick pass per field over the normalised words finds the keys
present; only rules whose anchors occurred and whose other required keys occurred too (``anchors``), plus the
few that need a scan of every article, are evaluated.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import daachorse

from monitor.errors import UnknownRuleError
from monitor.rules.anchors import PLACES, best_group, group_cost, requirements, token
from monitor.rules.compile import CNode, TermTable, compile_node
from monitor.rules.evaluate import (
    MAX_FIELD_CHARS,
    Chunk,
    DocState,
    RegexBudget,
    RegexTimeout,
    SpanHit,
    evaluate,
    evaluate_chunks,
    make_snippet,
)
from monitor.rules.model import Document, Hit, Match, Rule
from monitor.rules.nodes import TEXT_FIELDS, And, FieldScope, Near, Node, Not, Or, SetRef, Term
from monitor.rules.syntax import parse_query
from monitor.rules.witness import witness
from monitor.rules.yamlpos import did_you_mean

__all__ = ["Explanation", "MAX_HITS", "Matches", "RuleSet"]

_log = logging.getLogger(__name__)
#: Hits' reading order: by field, then by offsets.
#: A match keeps at most this many hits, the first in reading order (an article repeating a word 100,000 times
#: would otherwise store and send them all).
MAX_HITS = 100_000
#: Characters of an article's URL or title shown in log lines.
_LOG_LABEL_CHARS = 100
_USERINFO = re.compile(r"//[^/@?#]*@")
#: The filter token of a rule that has no such filter: always among an article's tokens.
_ALWAYS = -1
#: An anchored rule as its anchor tokens list it: (index, filter group 1 as two tokens, filter group 2 as two
#: tokens, further groups or None). A group of one token is that token twice; no group at all is ``_ALWAYS``.
_Spec = tuple[int, int, int, int, int, tuple[frozenset[int], ...] | None]


def _default_detect(text: str) -> str | None:
    from monitor.lang import detect_language

    return detect_language(text)


def _ordered_hits(chunks: list[Chunk], limit: int) -> list[SpanHit]:
    """The distinct hits of ``chunks`` in reading order (title, text, url, author; by offsets), the first
    ``limit``."""
    if len(chunks) == 1:  # one term or NEAR
        field, spans = chunks[0]
        return [(field, start, end) for start, end in sorted(set(spans))[:limit]]
    by_field: dict[str, dict[int, list[tuple[int, int]]]] = {}
    for field, spans in chunks:
        by_field.setdefault(field, {})[id(spans)] = spans  # a term shared by branches: once
    out: list[SpanHit] = []
    for field in TEXT_FIELDS:
        lists = by_field.get(field)
        if lists:
            merged = sorted(set().union(*lists.values()))
            out += [(field, start, end) for start, end in merged[: limit - len(out)]]
            if len(out) >= limit:
                break
    return out


class Matches(list[Match]):
    """The matches of one document, in rule order: a plain list, plus what could not be decided.

    ``timed_out``: ids of the rules whose regex ran out of the article's time budget
    (:data:`~monitor.rules.evaluate.REGEX_TIMEOUT`); each failed for this article and was logged as a warning.
    """

    timed_out: tuple[str, ...] = ()


def _article_label(doc: Document) -> str:
    """The article as log lines name it: its URL (without ``user:password@``), else its title, on one line and
    truncated."""
    label = " ".join((_USERINFO.sub("//", doc.url) or doc.title or doc.text[:_LOG_LABEL_CHARS]).split())
    return label if len(label) <= _LOG_LABEL_CHARS else label[: _LOG_LABEL_CHARS - 1] + "…"


@dataclass(frozen=True, slots=True)
class Explanation:
    """One node of ``rules explain``: the query text, its truth and the words that made it so."""

    query: str
    value: bool
    hits: tuple[Hit, ...]
    children: tuple[Explanation, ...] = ()


class RuleSet:
    """Loaded, validated and compiled rules. Build with :func:`monitor.rules.load_rules`."""

    def __init__(
        self,
        rules: Sequence[Rule],
        warnings: Sequence[str] = (),
        *,
        detect_language: Callable[[str], str | None] | None = None,
    ) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.warnings: tuple[str, ...] = tuple(warnings)
        self._by_id = {r.id: i for i, r in enumerate(self.rules)}
        # The rules' lang and feeds filters, case-folded once: both compare case-insensitively (docs/rules.md).
        self._langs = [frozenset(code.casefold() for code in r.lang) for r in self.rules]
        self._feeds = [frozenset(feed.casefold() for feed in r.feeds) for r in self.rules]
        self._detect = detect_language or _default_detect
        self._table = TermTable()
        self._compiled: list[CNode] = []
        self._scan: list[int] = []
        for rule in self.rules:
            assert rule.node is not None, f"rule {rule.id} has no parsed query"
            self._compiled.append(compile_node(rule.node, self._table))
        self._index_rules()
        # A byte-wise double-array automaton over the UTF-8 keys: a pattern's id is its position, the key id.
        # Compact (1.3 MB at 10,000 rules, 3.2 MB for pyahocorasick's trie), so its pass misses the cache less.
        self._automaton: daachorse.DoubleArrayAhoCorasick | None = None
        if self._table.keys:
            self._automaton = daachorse.DoubleArrayAhoCorasick([key.encode() for key in self._table.keys])

    def _index_rules(self) -> None:
        """Index each rule by the token groups it cannot be true without (``anchors``), for ``_candidates``.

        A rule is listed under each token of its best group (its anchor), as a :data:`_Spec`: its next two
        groups of one or two tokens (``a AND b``: the key of ``b``) are its *filters*, checked inline for the
        few dozen anchored rules of an article; any further group is checked with set operations.
        """
        nkeys = len(self._table.keys)
        first: dict[int, list[_Spec]] = {}
        needed: set[int] = set()
        for i, c in enumerate(self._compiled):  # tokens need the final number of keys
            groups = requirements(c, self._table)
            anchor = best_group(groups, self._table)
            if anchor is None:
                self._scan.append(i)
                continue
            others = [g for g in groups if g != anchor]
            small = sorted((g for g in others if len(g) <= 2), key=lambda g: group_cost(g, self._table))[:2]
            for group in small:
                others.remove(group)
            pairs = [(min(g), max(g)) for g in small] + [(_ALWAYS, _ALWAYS)] * (2 - len(small))
            spec = (i, *pairs[0], *pairs[1], tuple(others) or None)
            for tok in anchor:
                first.setdefault(tok, []).append(spec)
            needed.update(*groups)
        # Per token, the specs of the rules it anchors: one tuple each, so that checking a rule reads one object.
        self._first: list[tuple[_Spec, ...]] = [()] * (nkeys * len(PLACES))
        for tok, specs in first.items():
            self._first[tok] = tuple(specs)
        # Which tokens anchor a rule, one byte each (38 KB at 10,000 rules): unlike a set of them (512 KB), it stays
        # in cache after the automaton's pass, so testing an article's ~150 tokens costs less (docs/benchmarks.md).
        self._anchored = bytes(map(bool, self._first))
        # The single-field places some rule needs (title:, url:...), with the offset of their tokens.
        used = {tok // max(1, nkeys) for tok in needed}
        self._places = [(token(0, p, self._table), PLACES[p]) for p in sorted(used) if p > 0]

    @classmethod
    def from_queries(cls, queries: Mapping[str, str], **kwargs: object) -> RuleSet:
        """A rule set straight from ``{rule_id: query}`` (no sets, no files): handy in code and tests.

        Raises:
            RuleError: a query does not parse, or names a set (there are none here).
        """
        no_sets: dict[str, tuple[Term, ...]] = {}
        rules = [Rule(id=k, title=k, query=q, node=parse_query(q, no_sets.get)) for k, q in queries.items()]
        return cls(rules, **kwargs)  # type: ignore[arg-type]

    @property
    def scan_rules(self) -> tuple[Rule, ...]:
        """Rules evaluated on every article because no term anchors them (regex-only branches)."""
        return tuple(self.rules[i] for i in self._scan)

    def get(self, rule_id: str) -> Rule | None:
        """The rule with this id, or None."""
        i = self._by_id.get(rule_id)
        return None if i is None else self.rules[i]

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id.

        Raises:
            UnknownRuleError: no rule has this id (with a close one suggested).
        """
        rule = self.get(rule_id)
        if rule is None:
            raise UnknownRuleError(f"no rule with id '{rule_id}'{did_you_mean(rule_id, list(self._by_id))}")
        return rule

    def __len__(self) -> int:
        return len(self.rules)

    def _state(self, doc: Document, budget: RegexBudget | None = None) -> DocState:
        return DocState(doc, self._table, self._automaton, self._detect, budget)

    def match(self, doc: Document) -> Matches:
        """Every enabled rule that matches ``doc``, in rule order (a list; see :class:`Matches` for the rules
        whose regex ran out of time on it)."""
        st = self._state(doc)
        if st.cut:
            _log.warning(
                "rule matching reads only the first %d characters of field=%s article=%r",
                MAX_FIELD_CHARS,
                ",".join(st.cut),
                _article_label(doc),
            )
        out = Matches()
        timed_out: list[str] = []
        for i in self._candidates(st):
            rule = self.rules[i]
            if rule.enabled:
                m = self._match_one(i, st, timed_out)
                if m is not None:
                    out.append(m)
        out.timed_out = tuple(timed_out)
        return out

    def _candidates(self, st: DocState) -> list[int]:
        """Rules (indexes, sorted) whose anchors and required keys occurred, plus the scanned ones."""
        fired = st.fired
        tokens = set(fired["text"])  # place 0: the key ids themselves (title or text)
        tokens.update(fired["title"])
        for offset, name in self._places:
            if fired[name]:
                tokens.update(map(offset.__add__, fired[name]))  # token(kid, place), in C
        # Most tokens anchor no rule: the byte map drops them before their rules are looked up.
        first, anchored_map = self._first, self._anchored
        anchored = chain.from_iterable([first[t] for t in tokens if anchored_map[t]])
        tokens.add(_ALWAYS)
        # A plain comprehension: for a few dozen rules, cheaper than setting up C-level map chains.
        found = {
            s[0]
            for s in anchored
            if (s[1] in tokens or s[2] in tokens)
            and (s[3] in tokens or s[4] in tokens)
            and (s[5] is None or not any(map(tokens.isdisjoint, s[5])))
        }
        found.update(self._scan)
        return sorted(found)

    def match_rule(
        self, rule_id: str, doc: Document, timed_out: list[str] | None = None, budget: RegexBudget | None = None
    ) -> Match | None:
        """Match one rule against ``doc``, even if it is disabled (used to run examples); its id is appended to
        ``timed_out`` when its regex ran out of time (the article's, or ``budget``'s, shared by several calls)."""
        i = self._by_id[rule_id]
        return self._match_one(i, self._state(doc, budget), timed_out)

    def matching(self, doc: Document, timed_out: list[str] | None = None) -> list[str]:
        """The ids of the enabled rules that match ``doc``, in rule order: ``match`` without building hits, witness
        and snippet (a backtest counts far more matches than it shows). Rules whose regex ran out of time are
        appended to ``timed_out``."""
        st = self._state(doc)
        found = []
        for i in self._candidates(st):
            if self.rules[i].enabled and self._holds(i, st, timed_out)[0]:
                found.append(self.rules[i].id)
        return found

    def _holds(self, i: int, st: DocState, timed_out: list[str] | None) -> tuple[bool, list[Chunk]]:
        """Whether rule ``i`` matches (its filters, then its query), and the query's spans."""
        rule = self.rules[i]
        langs, feeds = self._langs[i], self._feeds[i]
        if langs and (st.lang or "").casefold() not in langs:
            return False, []
        if feeds and feeds.isdisjoint(st.feeds):
            return False, []
        try:
            return evaluate_chunks(st, self._compiled[i])
        except RegexTimeout as e:
            _log.warning("rule regex timeout rule=%s article=%r error=%s", rule.id, _article_label(st.doc), e)
            if timed_out is not None:
                timed_out.append(rule.id)
            return False, []

    def _match_one(self, i: int, st: DocState, timed_out: list[str] | None = None) -> Match | None:
        rule = self.rules[i]
        ok, chunks = self._holds(i, st, timed_out)
        if not ok:
            return None
        ordered = _ordered_hits(chunks, MAX_HITS)
        decisive = witness(st, self._compiled[i])
        snippet, marks = make_snippet(st.doc, ordered, decisive)
        return Match(rule, st.hits(ordered), snippet, marks, st.hits(decisive))

    def explain(self, rule_id: str, doc: Document) -> Explanation:
        """The rule's query as a tree, each node with its truth and hits on ``doc``.

        Raises:
            UnknownRuleError: no rule has this id.
        """
        rule = self.rule(rule_id)
        assert rule.node is not None
        st = self._state(doc)
        return self._explain(rule.node, st, ("title", "text"))

    def _explain(self, node: Node, st: DocState, scope: tuple[str, ...]) -> Explanation:
        try:
            ok, spans = evaluate(st, compile_node(node, self._table), scope)
        except RegexTimeout:
            ok, spans = False, []
        hits = tuple(Hit(f, s, e, getattr(st.doc, f)[s:e]) for f, s, e in sorted(set(spans)))
        kids: list[Node] = []
        if isinstance(node, (And, Or)):
            kids = list(node.children)
        elif isinstance(node, Not):
            kids = [node.child]
        elif isinstance(node, Near):
            kids = [node.left, node.right]
        elif isinstance(node, SetRef):
            kids = list(node.terms)
        if isinstance(node, FieldScope):
            scope = (node.field,)
            kids = [node.child]
        children = tuple(self._explain(k, st, scope) for k in kids)
        return Explanation(str(node), ok, hits, children)
