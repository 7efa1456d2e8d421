"""The compiled matcher: a loaded rule set -> matches for a document.

All rules are compiled together. One Aho-Corasick pass per field over the normalised words finds the keys
present; only rules whose anchors occurred and whose other required keys occurred too (``anchors``), plus the
few that need a scan of every article, are evaluated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import ahocorasick

from monitor.rules.anchors import PLACES, best_group, requirements, token
from monitor.rules.compile import CNode, TermTable, compile_node
from monitor.rules.evaluate import DocState, RegexTimeout, evaluate, make_snippet
from monitor.rules.model import Document, Hit, Match, Rule
from monitor.rules.nodes import And, FieldScope, Near, Node, Not, Or, SetRef
from monitor.rules.syntax import parse_query

__all__ = ["Explanation", "RuleSet"]

_log = logging.getLogger(__name__)
_FIELD_ORDER = {"title": 0, "text": 1, "url": 2, "author": 3}


def _default_detect(text: str) -> str | None:
    from monitor.lang import detect_language

    return detect_language(text)


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
        self._detect = detect_language or _default_detect
        self._table = TermTable()
        self._compiled: list[CNode] = []
        self._scan: list[int] = []
        # Per rule, the token groups besides its anchors that must all have occurred: checked with set look-ups
        # before the rule is evaluated (``a AND b`` is indexed by one key, and needs the other too).
        self._checks: dict[int, tuple[frozenset[int], ...]] = {}
        for rule in self.rules:
            assert rule.node is not None, f"rule {rule.id} has no parsed query"
            self._compiled.append(compile_node(rule.node, self._table))
        key_rules: dict[int, list[int]] = {}
        for i, c in enumerate(self._compiled):  # tokens need the final number of keys
            groups = requirements(c, self._table)
            found = best_group(groups, self._table)
            if found is None:
                self._scan.append(i)
                continue
            for tok in found:
                key_rules.setdefault(tok, []).append(i)
            others = tuple(g for g in groups if g != found)
            if others:
                self._checks[i] = others
        # Indexed by token (a key in a place): the rules anchored on it (most tokens anchor none).
        nkeys = len(self._table.keys)
        self._key_rules: list[tuple[int, ...]] = [()] * (nkeys * len(PLACES))
        for tok, anchored in key_rules.items():
            self._key_rules[tok] = tuple(anchored)
        # The tokens that anchor some rule: fired tokens are filtered by it in C before the look-ups.
        self._anchors: frozenset[int] = frozenset(key_rules)
        # Per rule, its other groups (``_checks``) or None: a list index is cheaper than a dict look-up.
        self._check_list: list[tuple[frozenset[int], ...] | None] = [
            self._checks.get(i) for i in range(len(self.rules))
        ]
        # The single-field places some rule needs (title:, url:...), with the offset of their tokens.
        used = {tok // max(1, nkeys) for tok in key_rules} | {
            tok // max(1, nkeys) for groups in self._checks.values() for g in groups for tok in g
        }
        self._places = [(token(0, p, self._table), PLACES[p]) for p in sorted(used) if p > 0]
        self._automaton: ahocorasick.Automaton | None = None
        if self._table.keys:
            a = ahocorasick.Automaton(ahocorasick.STORE_INTS)  # int values: ~10% faster to iterate than objects
            for key, kid in self._table.keys.items():
                a.add_word(key, kid)
            a.make_automaton()
            self._automaton = a

    @classmethod
    def from_queries(cls, queries: Mapping[str, str], **kwargs: object) -> RuleSet:
        """A rule set straight from ``{rule_id: query}`` (no sets, no files): handy in code and tests."""
        rules = [Rule(id=k, title=k, query=q, node=parse_query(q)) for k, q in queries.items()]
        return cls(rules, **kwargs)  # type: ignore[arg-type]

    @property
    def scan_rules(self) -> tuple[Rule, ...]:
        """Rules evaluated on every article because no term anchors them (regex-only branches)."""
        return tuple(self.rules[i] for i in self._scan)

    def get(self, rule_id: str) -> Rule | None:
        """The rule with this id, or None."""
        i = self._by_id.get(rule_id)
        return None if i is None else self.rules[i]

    def __len__(self) -> int:
        return len(self.rules)

    def _state(self, doc: Document) -> DocState:
        return DocState(doc, self._table, self._automaton, self._detect)

    def match(self, doc: Document) -> list[Match]:
        """Every enabled rule that matches ``doc``, in rule order."""
        st = self._state(doc)
        out: list[Match] = []
        for i in self._candidates(st):
            rule = self.rules[i]
            if rule.enabled:
                m = self._match_one(i, st)
                if m is not None:
                    out.append(m)
        return out

    def _candidates(self, st: DocState) -> list[int]:
        """Rules (indexes, sorted) whose anchors and required keys occurred, plus the scanned ones."""
        fired = st.fired
        tokens: set[int] = set().union(fired["title"], fired["text"])  # place 0: the key ids themselves
        for offset, name in self._places:
            if fired[name]:
                tokens.update(map(offset.__add__, fired[name]))  # token(kid, place), in C
        anchored = self._anchors.intersection(tokens)
        candidates = set(self._scan).union(*map(self._key_rules.__getitem__, anchored))
        checks = self._check_list
        out: list[int] = []
        for i in sorted(candidates):
            groups = checks[i]
            if groups is not None:
                for group in groups:
                    if tokens.isdisjoint(group):
                        break
                else:
                    out.append(i)
            else:
                out.append(i)
        return out

    def match_rule(self, rule_id: str, doc: Document) -> Match | None:
        """Match one rule against ``doc``, even if it is disabled (used to run examples)."""
        i = self._by_id[rule_id]
        return self._match_one(i, self._state(doc))

    def _match_one(self, i: int, st: DocState) -> Match | None:
        rule = self.rules[i]
        if rule.lang and st.lang not in rule.lang:
            return None
        if rule.feeds and not st.feeds & {f.casefold() for f in rule.feeds}:
            return None
        try:
            ok, spans = evaluate(st, self._compiled[i])
        except RegexTimeout as e:
            _log.warning("rule regex timeout rule=%s error=%s", rule.id, e)
            return None
        if not ok:
            return None
        ordered = sorted(set(spans), key=lambda h: (_FIELD_ORDER[h[0]], h[1], h[2]))
        hits = tuple(Hit(f, s, e, getattr(st.doc, f)[s:e]) for f, s, e in ordered)
        snippet, marks = make_snippet(st.doc, ordered)
        return Match(rule, hits, snippet, marks)

    def explain(self, rule_id: str, doc: Document) -> Explanation:
        """The rule's query as a tree, each node with its truth and hits on ``doc``.

        Raises:
            KeyError: no rule has this id.
        """
        rule = self.rules[self._by_id[rule_id]]
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
