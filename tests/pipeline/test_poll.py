"""The pipeline end to end against a loopback news site: poll, extract, match, store, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.clock import now_utc
from monitor.config import (
    ChannelSettings,
    DatabaseSettings,
    FeedSettings,
    FetchSettings,
    RouteSettings,
    RulesSettings,
    Settings,
)
from monitor.daemon import RuleWatcher, run_cycle
from monitor.extractpool import ExtractorPool
from monitor.pipeline import FeedResult, backoff_delay, select_feeds
from monitor.store import Store
from tests.support.newssite import NewsSite

RULES = """
rules:
  - id: scam-raid
    title: Raid on a scam compound
    query: 'raid* AND ("scam compound*" OR "scam cent*")'
    severity: high
    tags: [scams]
"""
RAID = (
    "Police raid scam compound in Poipet",
    "Police raided a scam compound in Poipet on Monday and detained 270 foreign workers.\n"
    "The National Committee for Counter Trafficking said the workers had been forced to defraud victims online.\n"
    "Officers seized hundreds of phones and computers, the provincial police chief told reporters at the scene.",
)
TOURISM = (
    "Angkor welcomes record visitors",
    "Siem Reap received more visitors this year than in any year since 2019.\n"
    "Hotels reported occupancy above 70 percent during the high season, officials said on Monday.\n"
    "Guides welcomed the recovery, while prices for temple passes rose faster than wages.",
)


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "test.yaml").write_text(RULES, encoding="utf-8")
    return folder


def make_settings(url: str, rules_dir: Path, feeds: dict[str, str], **extra: object) -> Settings:
    return Settings(
        database=DatabaseSettings(url=url),
        fetch=FetchSettings(allow_private=True, extract_processes=1),
        rules=RulesSettings(paths=(rules_dir,)),
        feeds=tuple(FeedSettings(url=u, name=n) for n, u in feeds.items()),
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def extractor() -> Iterator[ExtractorPool]:
    """One extraction worker for the module: starting a pool per poll would dominate the test's time."""
    with ExtractorPool(1, timeout=30) as pool:
        yield pool


class Harness:
    """A store, settings and the rule set, polled the way ``monitor poll`` does."""

    def __init__(self, settings: Settings, extractor: ExtractorPool) -> None:
        self.settings = settings
        self.extractor = extractor
        self.store = Store.open(settings.database.url)
        self.store.sync_feeds(settings.feeds)
        self.rules = RuleWatcher(settings)

    def poll(self, **kwargs: object) -> dict[str, FeedResult]:
        results = asyncio.run(
            run_cycle(self.settings, self.store, self.rules.current, due_only=False, extractor=self.extractor, **kwargs)
        )  # type: ignore[arg-type]
        return {r.feed: r for r in results}


@pytest.fixture
def harness(
    store_url: str,
    rules_dir: Path,
    news_site: NewsSite,  # noqa: F811
    extractor: ExtractorPool,
) -> Iterator[Harness]:
    feeds = {"mekong": news_site.feed_url("mekong"), "wire": news_site.feed_url("wire")}
    channels = {"chat": ChannelSettings(urls=("json://127.0.0.1:9/hook",), format="markdown")}
    routes = (RouteSettings(channels=("chat",), severity="high"),)
    h = Harness(make_settings(store_url, rules_dir, feeds, channels=channels, routes=routes), extractor)
    yield h
    h.store.close()


def test_first_poll_stores_new_articles_with_extracted_text_and_matches(harness: Harness, news_site: NewsSite) -> None:
    news_site.add("mekong", *RAID)
    news_site.add("mekong", *TOURISM)
    results = harness.poll()
    assert (results["mekong"].status, results["mekong"].new, results["mekong"].matched) == ("ok", 2, 1)
    [match] = harness.store.list_matches()
    assert match.rule == "scam-raid" and match.severity == "high"
    assert match.article.title == RAID[0] and match.article.feed == "mekong"
    assert {h.text.lower() for h in match.hits} >= {"raided", "scam compound"}
    assert "scam compound" in match.snippet
    article = harness.store.get_article(match.article.id)
    assert article is not None and article.extracted
    assert "forced to defraud victims online" in article.text  # the page's text, beyond the feed's summary
    assert "reader88" not in article.text and "Subscribe" not in article.text  # no comments or navigation
    # the match's delivery is in the outbox, written with it
    assert [(d.channel, d.status) for d in match.deliveries] == [("chat", "pending")]


def test_second_poll_is_a_conditional_get_that_does_no_work(harness: Harness, news_site: NewsSite) -> None:
    news_site.add("mekong", *RAID)
    harness.poll()
    page_requests = sum(1 for p, _ in news_site.requests if p.startswith("/news/"))
    results = harness.poll()
    assert results["mekong"].status == "not_modified" and results["mekong"].new == 0
    assert news_site.hits("/feeds/mekong.xml")[-1].get("If-None-Match")
    assert sum(1 for p, _ in news_site.requests if p.startswith("/news/")) == page_requests
    feed = harness.store.get_feed("mekong")
    assert feed is not None and feed.last_status == "not_modified" and feed.last_success is not None


def test_only_entries_added_since_the_last_poll_are_processed(harness: Harness, news_site: NewsSite) -> None:
    news_site.add("mekong", *TOURISM)
    assert harness.poll()["mekong"].new == 1
    news_site.add("mekong", *RAID)
    result = harness.poll()["mekong"]
    assert (result.status, result.new, result.matched) == ("ok", 1, 1)
    assert harness.store.count_articles() == 2


def test_the_same_article_through_two_feeds_is_stored_once(harness: Harness, news_site: NewsSite) -> None:
    news_site.add("mekong", *RAID, slug="raid")
    news_site.add("wire", *RAID, slug="raid")
    results = harness.poll()
    assert results["mekong"].new == 1 and results["wire"].new == 1
    assert harness.store.count_articles() == 1
    assert len(harness.store.list_matches()) == 1


def test_a_failing_feed_is_recorded_and_backs_off_while_the_others_work(harness: Harness, news_site: NewsSite) -> None:
    news_site.add("mekong", *RAID)
    news_site.broken.add("/feeds/wire.xml")
    results = harness.poll()
    assert results["mekong"].status == "ok"
    assert results["wire"].status == "error" and "500" in (results["wire"].error or "")
    wire = harness.store.get_feed("wire")
    assert wire is not None and wire.consecutive_failures == 1 and wire.last_error and "500" in wire.last_error
    assert wire.next_poll is not None and wire.next_poll > now_utc()
    # inside its back-off window `poll` skips it and says why; --force polls it anyway
    assert harness.poll()["wire"].status == "skipped"
    assert harness.poll(force=True)["wire"].status == "error"
    assert harness.store.get_feed("wire").consecutive_failures == 2  # type: ignore[union-attr]


def test_an_unreachable_page_falls_back_to_the_feed_summary(harness: Harness, news_site: NewsSite) -> None:
    url = news_site.add("mekong", *RAID)
    news_site.broken.add(url.removeprefix(news_site.base))
    result = harness.poll()["mekong"]
    assert (result.status, result.new, result.matched) == ("ok", 1, 1)
    [match] = harness.store.list_matches()
    article = harness.store.get_article(match.article.id)
    assert article is not None and not article.extracted and article.text.startswith("Police raided")


def test_old_entries_are_stored_and_matched_but_not_alerted(harness: Harness, news_site: NewsSite) -> None:

    news_site.add("mekong", *RAID, published=datetime.now(UTC) - timedelta(days=10))
    harness.poll()
    [match] = harness.store.list_matches()
    assert match.deliveries == ()


def test_backoff_doubles_and_is_capped_and_honours_retry_after() -> None:
    assert [backoff_delay(n, 600, 6 * 3600) for n in (1, 2, 3)] == [600, 1200, 2400]
    assert backoff_delay(10, 600, 6 * 3600) == 6 * 3600
    assert backoff_delay(1, 600, 6 * 3600, retry_after=7200) == 7200


def test_select_feeds_skips_feeds_waiting_out_a_failure(harness: Harness) -> None:
    from dataclasses import replace

    now = now_utc()
    feeds = harness.store.list_feeds()
    waiting = replace(feeds[0], consecutive_failures=2, next_poll=now + timedelta(hours=1))
    healthy_later = replace(feeds[1], next_poll=now + timedelta(hours=1))
    chosen, skipped = select_feeds([waiting, healthy_later], now, due_only=False)
    assert chosen == [healthy_later] and skipped[0][0] == waiting and "back-off" in skipped[0][1]
    assert select_feeds([waiting, healthy_later], now, due_only=True) == ([], [])


def test_a_permanent_redirect_moves_the_feed_only_when_it_repeats(harness: Harness, news_site: NewsSite) -> None:
    news_site.add("moved", *RAID)
    news_site.answers["/feeds/wire.xml"] = (301, {"Location": news_site.feed_url("moved")})
    assert harness.poll()["wire"].status == "ok"  # the redirect is followed, but one 301 does not move the feed
    wire = harness.store.get_feed("wire")
    assert wire is not None and wire.url == news_site.feed_url("wire")
    assert wire.redirect_pending == news_site.feed_url("moved")
    assert harness.poll()["wire"].status == "not_modified"  # the same 301 on the next poll: moved
    wire = harness.store.get_feed("wire")
    assert wire is not None and wire.url == news_site.feed_url("moved") and wire.redirect_pending is None
    assert wire.config_url == news_site.feed_url("wire")  # `feeds list` can show what the config names
    # a restart (config synced again) keeps the new URL while the config still names the old one
    harness.store.sync_feeds(harness.settings.feeds)
    assert harness.store.get_feed("wire").url == news_site.feed_url("moved")  # type: ignore[union-attr]
    assert harness.poll()["wire"].status == "not_modified"
    assert len(news_site.hits("/feeds/wire.xml")) == 2  # the old URL: asked twice, then no more
    # a new URL in the config wins
    moved = harness.settings.feeds[1].model_copy(update={"url": news_site.feed_url("mekong")})
    harness.store.sync_feeds([harness.settings.feeds[0], moved])
    assert harness.store.get_feed("wire").url == news_site.feed_url("mekong")  # type: ignore[union-attr]


def test_a_feed_that_is_gone_is_retired(harness: Harness, news_site: NewsSite) -> None:
    news_site.answers["/feeds/wire.xml"] = (410, {})
    assert harness.poll()["wire"].status == "error"
    wire = harness.store.get_feed("wire")
    assert wire is not None and not wire.enabled and wire.last_status == "gone"
    assert "wire" not in harness.poll()  # a retired feed is not polled again


def test_retry_after_is_honoured(harness: Harness, news_site: NewsSite) -> None:
    news_site.answers["/feeds/wire.xml"] = (429, {"Retry-After": "7200"})
    before = now_utc()
    assert harness.poll()["wire"].status == "error"
    wire = harness.store.get_feed("wire")
    assert wire is not None and wire.next_poll is not None and wire.next_poll >= before + timedelta(seconds=7200)
    result = harness.poll()["wire"]
    assert result.status == "skipped" and "retry-after" in (result.error or "")


def test_a_feed_with_more_new_entries_than_one_poll_takes_is_finished_on_the_next_polls(
    harness: Harness, news_site: NewsSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("monitor.pipeline.MAX_ENTRIES_PER_POLL", 2)
    for i in range(5):
        news_site.add("mekong", f"Story {i} from the provinces", TOURISM[1])
    assert [harness.poll()["mekong"].new for _ in range(4)] == [2, 2, 1, 0]
    assert harness.store.count_articles() == 5
