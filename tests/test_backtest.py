"""The backtest engine (``Monitor.backtest``): a rule, a query or a rule's text over the stored articles of the last
days, compared with the stored matches of its id, on SQLite and PostgreSQL; it reads and never writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import MetaData, select

from monitor.errors import RuleSetError, UnknownRuleError
from monitor.store import Store
from tests.support.corpus import GAINED, KEPT, LOST, OLD, Corpus


@pytest.fixture
def corpus(store: Store, tmp_path: Path) -> Corpus:
    return Corpus.build(store, tmp_path)


def _by_status(result: object) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in result.items:  # type: ignore[attr-defined]
        out.setdefault(item.status, []).append(item.article.title)
    return out


def test_a_rule_in_force_gains_and_loses_against_its_stored_matches(corpus: Corpus) -> None:
    corpus.store.set_feedback(corpus.matches["lost"], False, "ana")
    result = corpus.monitor().backtest(rule="scam-raid", days=30)
    assert result.scanned == 5  # the article of 40 days ago is outside the window
    assert _by_status(result) == {"gained": [GAINED[0]], "lost": [LOST[0]], "kept": [KEPT[0]]}
    assert (result.counts, result.baseline, result.matched) == ({"gained": 1, "lost": 1, "kept": 1}, 2, 2)
    gained = next(i for i in result.items if i.status == "gained")
    # the snippet an alert would show, with the decisive words marked where they are
    assert {gained.snippet[s:e].casefold() for s, e in gained.snippet_hits} >= {"arrested", "scam compound"}
    assert {h.text for h in gained.decisive} == {"arrested", "scam compound"} and gained.match_id is None
    lost = next(i for i in result.items if i.status == "lost")
    assert lost.match_id == corpus.matches["lost"] and lost.judgement is not None and not lost.judgement.relevant
    assert result.judged == {"lost": {"relevant": 0, "not_relevant": 1}}
    wider = corpus.monitor().backtest(rule="scam-raid", days=60)
    assert OLD[0] in _by_status(wider)["kept"] and wider.scanned == 6


def test_a_query_is_tried_in_place_of_a_rules_query_with_its_filters_and_sets(corpus: Corpus) -> None:
    m = corpus.monitor()
    result = m.backtest(rule="scam-raid", query='"scam compound*" AND (@raid_words OR reopen*)', days=30)
    assert _by_status(result) == {"gained": [GAINED[0]], "kept": [KEPT[0], LOST[0]]}
    # the casino rule sees only feeds tagged asia: the stored feed's tags reach the matcher
    assert [i.article.title for i in m.backtest(rule="casino", days=30).items] == ["Casino tax rises"]
    alone = m.backtest(query="casino*", days=30)
    assert alone.compared_with is None and alone.counts["gained"] == 1 and alone.draft.rule.id == "query"


def test_a_rules_text_is_compared_with_the_stored_matches_of_its_id(corpus: Corpus) -> None:
    text = "id: scam-raid\ntitle: Tighter\nquery: 'raid* AND \"scam compound*\" AND Poipet'\n"
    result = corpus.monitor().backtest(text=text, days=30)
    assert result.compared_with == "scam-raid"
    assert _by_status(result) == {"lost": [LOST[0]], "kept": [KEPT[0]]}


def test_limit_keeps_the_counts_whole(corpus: Corpus) -> None:
    result = corpus.monitor().backtest(query="scam*", days=30, limit=1)
    assert result.counts["gained"] == 3 and len(result.items) == 1
    corpus.store.set_feedback(corpus.matches["kept"], True, "ana")
    whole, counted = (corpus.monitor().backtest(rule="scam-raid", days=60, limit=n) for n in (None, 0))
    assert counted.items == () and (counted.counts, counted.judged) == (whole.counts, whole.judged)
    assert whole.judged == {"kept": {"relevant": 1, "not_relevant": 0}}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"query": "raid AND"}, RuleSetError, "query, column 6: 'AND' needs a term on its right"),
        ({"query": "@nope AND raid"}, RuleSetError, "undefined set '@nope'"),
        ({"rule": "scam-rad"}, UnknownRuleError, "did you mean 'scam-raid'"),
        ({"text": "id: x\ntitle: X\nqeury: a\n"}, RuleSetError, "draft.yaml:3:1: unknown key 'qeury'"),
        ({}, ValueError, "give a rule id, a query or a rule's text"),
    ],
)
def test_bad_input_is_one_clear_error(corpus: Corpus, kwargs: dict[str, str], error: type, message: str) -> None:
    with pytest.raises(error) as caught:
        corpus.monitor().backtest(days=30, **kwargs)  # type: ignore[arg-type]
    shown = "; ".join(map(str, getattr(caught.value, "errors", [caught.value])))
    assert message in shown


def _snapshot(store: Store) -> dict[str, list[tuple[object, ...]]]:
    meta = MetaData()
    engine = store._live_engine()
    meta.reflect(engine)
    with engine.connect() as conn:
        return {name: sorted(map(tuple, conn.execute(select(table))), key=repr) for name, table in meta.tables.items()}


def test_a_backtest_changes_nothing_in_the_store(corpus: Corpus) -> None:
    before = _snapshot(corpus.store)
    m = corpus.monitor()
    m.backtest(rule="scam-raid", days=365)
    m.backtest(text=corpus.settings.rules.paths[0].joinpath("news.yaml").read_text(), rule="casino", days=365)
    assert _snapshot(corpus.store) == before
