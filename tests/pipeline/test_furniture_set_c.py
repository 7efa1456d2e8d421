"""Page furniture through the real pipeline, set C: written blind as the final judge, while the detector was tuned on
sets A and B.

85 article pages (tests/support/furniture_pages_c.py, tests/data/furniture/set-c/) on a loopback site, nine site
templates (Next.js-style, Blogger, Medium-like, Vietnamese, Indonesian, Thai and Chinese portals, a Khmer WordPress site,
a French regional site), one RSS feed per template, ONE ``monitor poll`` with the shipped rules into a temporary SQLite
store, then ``monitor matches --format json``: the same run and the same assertions as sets A and B.
Numbers: ``python -m tests.support.furniture_report --set c``; the first pass is in docs/furniture.md.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator

import pytest

from monitor.rules import Document, RuleSet, load_rules
from tests.support.furniture_pages_c import KINDS_C, PLACES_C, TEMPLATES_C, PageC, clean_misses, pages_c
from tests.support.furniture_report import LANGUAGES, PROJECT, SET_C, Outcome, run_set, tables


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    """The whole set, polled once for the module."""
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith("MONITOR_")]:
            env.delenv(name)  # the autouse clean environment is per test; this fixture runs before it
        yield run_set(tmp_path_factory.mktemp("furniture-c"), SET_C)


@pytest.fixture(scope="module")
def shipped() -> RuleSet:
    return load_rules([PROJECT / "rules"])


def _fired(rules: RuleSet, page: PageC, text: str) -> set[str]:
    return {m.rule.id for m in rules.match(Document(title=page.story.title, text=text, lang=page.story.lang))}


def test_set_c_is_large_varied_and_its_bait_would_alert_if_matched(shipped: RuleSet) -> None:
    everything = pages_c()
    off = [p for p in everything if not p.on_topic]
    on = [p for p in everything if p.on_topic]
    assert len(everything) >= 80 and len(off) >= 55 and len(on) >= 25
    assert len({p.id for p in everything}) == len(everything)
    assert all(p.block.bait for p in off) and not any(p.block.bait for p in on)
    kinds = Counter(p.block.kind for p in off)
    assert set(kinds) == set(KINDS_C) and min(kinds.values()) >= 2, kinds
    assert len({p.block.kind for p in on}) >= 15
    assert {p.story.lang for p in off} == set(LANGUAGES) == {p.story.lang for p in on}
    assert {p.place for p in off} == set(PLACES_C) and {p.template for p in off} == set(TEMPLATES_C)
    for story in {p.story.id for p in off}:  # a story's pages differ in kind and template
        mine = [p for p in off if p.story.id == story]
        assert len({p.block.kind for p in mine}) == len({p.template for p in mine}) == len(mine), story
    for page in off:
        body = "\n".join(page.story.body)
        assert not _fired(shipped, page, body), f"{page.story.id}: the story itself is on topic"
        assert _fired(shipped, page, f"{body}\n{page.block.text()}"), f"{page.id}: its furniture is no bait"
    for page in on:
        fired = _fired(shipped, page, "\n".join(page.story.body))
        assert page.story.match <= fired, f"{page.story.id}: the clean story misses {page.story.match - fired}"
        closed = clean_misses().get(page.story.id, frozenset()) & fired
        assert not closed, f"{page.story.id}: the rules now meet {closed}; remove it from clean_miss"


def test_every_page_of_set_c_was_fetched_and_stored(outcome: Outcome) -> None:
    assert not outcome.unfetched, outcome.unfetched
    per_feed = Counter(p.feed for p in pages_c())
    assert {str(f["name"]): f["articles"] for f in outcome.feeds} == dict(per_feed), outcome.poll_output
    assert all(f["last_status"] == "ok" and not f["failed_entries"] for f in outcome.feeds), outcome.feeds


def test_set_c_story_is_stored_whole_beside_its_furniture(outcome: Outcome) -> None:
    cut = outcome.body_losses()
    by_kind = dict(Counter(p.block.kind for p in cut))
    assert len(cut) == 0, f"{len(cut)} pages lost part of their story, by furniture kind {by_kind}:\n" + "\n".join(
        outcome.explain(p) for p in cut
    )


#: The one blind failure left (docs/furniture.md, "Set C on the detector's second round"): an embedded tweet that
#: trafilatura reads into the story's paragraph. When it stops alerting, remove it from here.
KNOWN_GAPS = {"c-zh-xigang-airport--embed-inline-blogger"}


def test_no_off_topic_page_of_set_c_alerts_on_its_furniture(outcome: Outcome) -> None:
    alerted = outcome.false_alerts()
    assert KNOWN_GAPS <= {p.id for p in alerted}, "a known gap is closed: remove it from KNOWN_GAPS"
    false = [p for p in alerted if p.id not in KNOWN_GAPS]
    by_kind = Counter(p.block.kind for p in false)
    assert len(false) == 0, (
        f"{len(false)} off-topic pages alerted, by furniture kind {dict(by_kind)}:\n"
        + "\n".join(outcome.explain(p) for p in false)
        + "\n\n"
        + tables(outcome)
    )


def test_every_on_topic_page_of_set_c_raises_the_rules_of_its_label(outcome: Outcome) -> None:
    missed = outcome.misses()
    assert len(missed) == 0, (
        f"{len(missed)} on-topic pages missed, by furniture kind "
        f"{dict(Counter(p.block.kind for p in missed))}:\n" + "\n".join(outcome.explain(p) for p in missed)
    )
