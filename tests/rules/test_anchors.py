"""Rule anchors: which keys (in which field) a rule needs before the matcher evaluates it.

The anchors only decide which rules are evaluated, never a result: a rule whose required words are all in
the article is still found, and one missing any of them is skipped without evaluation.
"""

from __future__ import annotations

from monitor.rules import Document, RuleSet
from monitor.rules.anchors import PLACES, best_group, requirements
from monitor.rules.compile import TermTable, compile_node
from monitor.rules.syntax import parse_query

_EITHER = "title or text"


def _groups(query: str) -> tuple[TermTable, list[frozenset[int]]]:
    table = TermTable()
    c = compile_node(parse_query(query), table)
    return table, requirements(c, table)


def _words(table: TermTable, group: frozenset[int]) -> set[tuple[str, str]]:
    """(key without spaces, place) of each token of a group."""
    keys = {kid: key.strip() for key, kid in table.keys.items()}
    n = len(table.keys)
    return {(keys[t % n], PLACES[t // n]) for t in group}


def test_and_needs_a_key_of_every_child() -> None:
    table, groups = _groups("alpha AND (beta OR gamma) AND delta")
    assert [_words(table, g) for g in groups] == [
        {("alpha", _EITHER)},
        {("beta", _EITHER), ("gamma", _EITHER)},
        {("delta", _EITHER)},
    ]


def test_a_field_scope_narrows_the_tokens_to_that_field() -> None:
    table, groups = _groups("title:alpha AND url:beta")
    assert [_words(table, g) for g in groups] == [{("alpha", "title")}, {("beta", "url")}]


def test_or_of_ands_is_distributed() -> None:
    table, groups = _groups("alpha OR (beta AND gamma)")
    assert [_words(table, g) for g in groups] == [
        {("alpha", _EITHER), ("beta", _EITHER)},
        {("alpha", _EITHER), ("gamma", _EITHER)},
    ]


def test_not_regex_and_filters_need_nothing() -> None:
    assert _groups("/a+b/ AND NOT alpha AND lang:en")[1] == []
    table, groups = _groups("alpha NOT beta")
    assert [_words(table, g) for g in groups] == [{("alpha", _EITHER)}]


def test_best_group_prefers_one_field_and_long_keys() -> None:
    table, groups = _groups("scam AND title:scam AND raid")
    best = best_group(groups, table)
    assert best is not None and _words(table, best) == {("scam", "title")}
    table, groups = _groups("rai* AND cambodia")
    best = best_group(groups, table)
    assert best is not None and _words(table, best) == {("cambodia", _EITHER)}


def test_a_rule_is_evaluated_only_when_every_required_key_occurs() -> None:
    rs = RuleSet.from_queries({"both": "alpha AND beta", "title": "title:alpha AND beta", "or": "alpha OR gamma"})
    only_alpha = rs._state(Document(text="alpha here"))  # noqa: SLF001 - the candidates are the point
    assert [rs.rules[i].id for i in rs._candidates(only_alpha)] == ["or"]  # noqa: SLF001
    in_text = rs._state(Document(text="alpha beta"))  # noqa: SLF001
    assert [rs.rules[i].id for i in rs._candidates(in_text)] == ["both", "or"]  # noqa: SLF001
    in_title = Document(title="Alpha", text="beta")
    assert [m.rule.id for m in rs.match(in_title)] == ["both", "title", "or"]
