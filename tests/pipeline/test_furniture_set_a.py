"""Page furniture through the real pipeline: the labelled furniture set (tests/support/furniture_pages.py, docs/furniture.md).

167 article pages on a loopback site, five site templates, one RSS feed per template, ONE ``monitor poll`` with the
shipped rules into a temporary SQLite store, then ``monitor matches --format json``. An off-topic story whose
furniture (most-read lists, comments, promos, widgets...) carries topic bait raises no alert; an on-topic story with
off-topic furniture raises at least the rules of its label. Numbers by kind: ``python -m tests.support.furniture_report``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator

import pytest

from monitor.rules import Document, RuleSet, load_rules
from tests.support.furniture_pages import KINDS, Page, pages
from tests.support.furniture_report import PROJECT, Outcome, run_set, tables

LANGUAGES = {"en", "km", "th", "zh", "id", "vi", "ms", "fr"}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    """The whole set, polled once for the module (the poll is the slow part: ~10 s)."""
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith("MONITOR_")]:
            env.delenv(name)  # the autouse clean environment is per test; this fixture runs before it
        yield run_set(tmp_path_factory.mktemp("furniture"))


@pytest.fixture(scope="module")
def shipped() -> RuleSet:
    return load_rules([PROJECT / "rules"])


def _fired(rules: RuleSet, page: Page, text: str) -> set[str]:
    return {m.rule.id for m in rules.match(Document(title=page.story.title, text=text, lang=page.story.lang))}


def test_the_set_is_large_varied_and_its_bait_would_alert_if_matched(shipped: RuleSet) -> None:
    everything = pages()
    off = [p for p in everything if not p.on_topic]
    on = [p for p in everything if p.on_topic]
    assert len(everything) >= 150 and len(off) >= 100 and len(on) >= 50
    assert len({p.id for p in everything}) == len(everything)
    kinds = Counter(p.block.kind for p in off)
    assert set(kinds) == set(KINDS) and min(kinds.values()) >= 5, kinds
    assert set(Counter(p.block.kind for p in on)) == set(KINDS)
    assert {p.story.lang for p in off} == LANGUAGES and {p.block.lang for p in off} == LANGUAGES
    assert {p.place for p in off} == {"before", "top", "inline", "end", "after"}
    assert any(not p.block.heading for p in off if p.block.kind != "headless")  # lists without a heading too
    for page in off:
        body = "\n".join(page.story.body)
        assert not _fired(shipped, page, body), f"{page.story.id}: the story itself is on topic"
        assert _fired(shipped, page, f"{body}\n{page.block.text()}"), f"{page.id}: its furniture is no bait"
    for page in on:
        missing = page.story.match - _fired(shipped, page, "\n".join(page.story.body))
        assert not missing, f"{page.story.id}: the clean story misses {missing}"


def test_every_page_was_fetched_and_stored(outcome: Outcome) -> None:
    assert not outcome.unfetched, outcome.unfetched
    per_feed = Counter(p.feed for p in pages())
    assert {str(f["name"]): f["articles"] for f in outcome.feeds} == dict(per_feed), outcome.poll_output
    assert all(f["last_status"] == "ok" and not f["failed_entries"] for f in outcome.feeds), outcome.feeds


def test_the_story_itself_is_stored_whole_beside_its_furniture(outcome: Outcome) -> None:
    cut = outcome.body_losses()
    by_kind = dict(Counter(p.block.kind for p in cut))
    assert len(cut) == 0, f"{len(cut)} pages lost part of their story, by furniture kind {by_kind}:\n" + "\n".join(
        outcome.explain(p) for p in cut
    )


def test_no_off_topic_page_alerts_on_its_furniture(outcome: Outcome) -> None:
    false = outcome.false_alerts()
    by_kind = Counter(p.block.kind for p in false)
    assert len(false) == 0, (
        f"{len(false)} off-topic pages alerted, by furniture kind {dict(by_kind)}:\n"
        + "\n".join(outcome.explain(p) for p in false)
        + "\n\n"
        + tables(outcome)
    )


def test_every_on_topic_page_raises_the_rules_of_its_label(outcome: Outcome) -> None:
    missed = outcome.misses()
    assert len(missed) == 0, (
        f"{len(missed)} on-topic pages missed, by furniture kind "
        f"{dict(Counter(p.block.kind for p in missed))}:\n" + "\n".join(outcome.explain(p) for p in missed)
    )
