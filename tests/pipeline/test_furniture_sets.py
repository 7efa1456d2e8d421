"""Page furniture through the real pipeline: the three labelled furniture sets (docs/furniture.md).

Set A (167 pages, tests/support/furniture_pages.py), set B (94, written blind after the detector was tuned on A,
tests/support/furniture_pages_b.py) and set C (85, written blind while it was tuned on A and B, never seen by the tuner,
tests/support/furniture_pages_c.py). Each set is served from a loopback site, one RSS feed per site template, and
polled by ONE ``monitor poll`` with the shipped rules into a temporary SQLite store, then read back with
``monitor matches --format json``. An off-topic story whose furniture (most-read lists, comments, promos, widgets…)
carries topic bait raises no alert; an on-topic story with off-topic furniture raises at least the rules of its
label; every story is stored whole. Numbers by kind: ``python -m tests.support.furniture_report``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping

import pytest

from monitor.rules import Document, RuleSet, load_rules
from tests.support import furniture_pages_b, furniture_pages_c
from tests.support.furniture_report import LANGUAGES, PROJECT, SET_A, SET_B, SET_C, AnyPage, Outcome, run_set, tables

# End to end through real servers and processes: in the full suite, not the fast loop.
pytestmark = pytest.mark.slow

SETS = {"a": SET_A, "b": SET_B, "c": SET_C}
#: At least: pages, off-topic pages, on-topic pages, off-topic pages of each furniture kind.
SIZES = {"a": (150, 100, 50, 5), "b": (90, 60, 30, 2), "c": (80, 55, 25, 2)}
#: Labels the shipped rules miss on a clean story (a rule gap, not furniture), per set.
CLEAN_MISSES: dict[str, Callable[[], Mapping[str, frozenset[str]]]] = {
    "a": dict,
    "b": furniture_pages_b.clean_misses,
    "c": furniture_pages_c.clean_misses,
}
#: The blind failures left (docs/furniture.md, "Set C on the detector's second round"): an embedded tweet that
#: trafilatura reads into a short story's paragraph. When one stops alerting, remove it from here.
KNOWN_GAPS = {"c": {"c-zh-xigang-airport--embed-inline-blogger"}}


@pytest.fixture(scope="module", params=sorted(SETS))
def outcome(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    """One set, polled once for the module (the poll is the slow part: 5-10 s a set)."""
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith("MONITOR_")]:
            env.delenv(name)  # the autouse clean environment is per test; this fixture runs before it
        yield run_set(tmp_path_factory.mktemp(f"furniture-{request.param}"), SETS[request.param])


@pytest.fixture(scope="module")
def shipped() -> RuleSet:
    return load_rules([PROJECT / "rules"])


def _fired(rules: RuleSet, page: AnyPage, text: str) -> set[str]:
    return {m.rule.id for m in rules.match(Document(title=page.story.title, text=text, lang=page.story.lang))}


@pytest.mark.parametrize("name", sorted(SETS))
def test_each_set_is_large_varied_and_its_bait_would_alert_if_matched(name: str, shipped: RuleSet) -> None:
    labelled, (size, size_off, size_on, per_kind) = SETS[name], SIZES[name]
    everything = labelled.pages()
    off = [p for p in everything if not p.on_topic]
    on = [p for p in everything if p.on_topic]
    assert len(everything) >= size and len(off) >= size_off and len(on) >= size_on
    assert len({p.id for p in everything}) == len(everything)
    kinds = Counter(p.block.kind for p in off)
    assert set(kinds) == set(labelled.kinds) and min(kinds.values()) >= per_kind, kinds
    assert {p.story.lang for p in off} == set(LANGUAGES) == {p.story.lang for p in on}
    assert {p.place for p in off} == set(labelled.places) and {p.template for p in off} == set(labelled.templates)
    if name == "a":
        assert set(Counter(p.block.kind for p in on)) == set(labelled.kinds)
        assert {p.block.lang for p in off} == set(LANGUAGES)
        assert any(not p.block.heading for p in off if p.block.kind != "headless")
    else:
        assert all(p.block.bait for p in off) and not any(p.block.bait for p in on)
        assert len({p.block.kind for p in on}) >= 15
        for story in {p.story.id for p in off}:  # a story's pages differ in kind and template
            mine = [p for p in off if p.story.id == story]
            assert len({p.block.kind for p in mine}) == len({p.template for p in mine}) == len(mine), story
    clean_misses = CLEAN_MISSES[name]()
    for page in off:
        body = "\n".join(page.story.body)
        assert not _fired(shipped, page, body), f"{page.story.id}: the story itself is on topic"
        assert _fired(shipped, page, f"{body}\n{page.block.text()}"), f"{page.id}: its furniture is no bait"
    for page in on:
        fired = _fired(shipped, page, "\n".join(page.story.body))
        assert page.story.match <= fired, f"{page.story.id}: the clean story misses {page.story.match - fired}"
        closed = clean_misses.get(page.story.id, frozenset()) & fired
        assert not closed, f"{page.story.id}: the rules now meet {closed}; remove it from clean_miss"


def test_every_page_was_fetched_and_stored(outcome: Outcome) -> None:
    assert not outcome.unfetched, outcome.unfetched
    per_feed = Counter(p.feed for p in outcome.pages())
    assert {str(f["name"]): f["articles"] for f in outcome.feeds} == dict(per_feed), outcome.poll_output
    assert all(f["last_status"] == "ok" and not f["failed_entries"] for f in outcome.feeds), outcome.feeds


def test_the_story_itself_is_stored_whole_beside_its_furniture(outcome: Outcome) -> None:
    cut = outcome.body_losses()
    by_kind = dict(Counter(p.block.kind for p in cut))
    assert not cut, f"{len(cut)} pages lost part of their story, by furniture kind {by_kind}:\n" + "\n".join(
        outcome.explain(p) for p in cut
    )


def test_no_off_topic_page_alerts_on_its_furniture(outcome: Outcome) -> None:
    known = KNOWN_GAPS.get(outcome.labelled.name.lower(), set())
    alerted = outcome.false_alerts()
    assert known <= {p.id for p in alerted}, "a known gap is closed: remove it from KNOWN_GAPS"
    false = [p for p in alerted if p.id not in known]
    by_kind = Counter(p.block.kind for p in false)
    assert not false, (
        f"{len(false)} off-topic pages alerted, by furniture kind {dict(by_kind)}:\n"
        + "\n".join(outcome.explain(p) for p in false)
        + "\n\n"
        + tables(outcome)
    )


def test_every_on_topic_page_raises_the_rules_of_its_label(outcome: Outcome) -> None:
    missed = outcome.misses()
    assert not missed, (
        f"{len(missed)} on-topic pages missed, by furniture kind "
        f"{dict(Counter(p.block.kind for p in missed))}:\n" + "\n".join(outcome.explain(p) for p in missed)
    )
