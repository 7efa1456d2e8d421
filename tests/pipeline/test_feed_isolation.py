"""Issue 11 in the pipeline and the daemon: one bad entry fails only itself, a slow feed delays only itself, a
feed cannot pre-claim or take over another site's article, one 301 does not move a feed, a huge feed does not
hold the event loop. Everything through the real pipeline on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor import daemon as daemon_module
from monitor import dedup
from monitor.clock import now_utc
from monitor.config import (
    ChannelSettings,
    DatabaseSettings,
    FeedSettings,
    FetchSettings,
    RouteSettings,
    RulesSettings,
    SchedulerSettings,
    Settings,
)
from monitor.daemon import Daemon, RuleWatcher, run_cycle
from monitor.errors import StoreError
from monitor.extractpool import ExtractorPool
from monitor.fetch.guard import SystemResolver
from monitor.lang import detect_language
from monitor.notify.compose import story_alert
from monitor.pipeline import FeedResult
from monitor.rules import Document, Match, RuleSet
from monitor.store import Store, is_transient
from tests.support.hostile import HostileServer
from tests.support.newssite import NewsSite

# End to end through real servers and processes: in the full suite, not the fast loop.
pytestmark = pytest.mark.slow

RULES = """
rules:
  - id: scam-raid
    title: Raid on a scam compound
    query: 'raid* AND "scam compound*"'
    severity: high
"""
RAID = (
    "Police raid scam compound in Poipet",
    "Police raided a scam compound in Poipet on Monday and detained 270 foreign workers. The National "
    "Committee for Counter Trafficking said the workers had been forced to defraud victims online. Officers "
    "seized hundreds of phones and computers, the provincial police chief told reporters at the scene.",
)
TOURISM = (
    "Angkor welcomes record visitors",
    "Siem Reap received more visitors this year than in any year since 2019. Hotels reported occupancy "
    "above 70 percent during the high season, officials said on Monday. Guides welcomed the recovery.",
)


class TestHosts(SystemResolver):
    """Names under ``.test`` are this machine, so loopback servers can play distinct sites (wire.test, ...)."""

    async def resolve(self, host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host.endswith(".test") else await super().resolve(host, port)


def rss(*items: dict[str, str]) -> str:
    """An RSS 2.0 feed; each item gives title, link, guid, description and optionally content."""
    body = "".join(
        f"<item><title>{i['title']}</title><link>{i['link']}</link><guid>{i['guid']}</guid>"
        f"<description>{i.get('description', '')}</description>"
        + (f"<content:encoded><![CDATA[{i['content']}]]></content:encoded>" if "content" in i else "")
        + "</item>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title>'
        f"{body}</channel></rss>"
    )


@pytest.fixture(scope="module")
def extractor() -> Iterator[ExtractorPool]:
    """One warm extraction worker (and language model) for the module, so time budgets measure polling only."""
    with ExtractorPool(1, timeout=30) as pool:
        asyncio.run(pool.extract(f"<html><body><p>{RAID[1]}</p></body></html>".encode(), "http://x.test/"))
        detect_language(RAID[1])
        yield pool


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(RULES, encoding="utf-8")
    return tmp_path / "rules"


def settings_for(url: str, rules_dir: Path, feeds: list[FeedSettings], **sections: Any) -> Settings:
    return Settings(
        database=DatabaseSettings(url=url),
        fetch=sections.pop("fetch", FetchSettings(allow_private=True, extract_processes=1)),
        rules=RulesSettings(paths=(rules_dir,)),
        feeds=tuple(feeds),
        channels={"chat": ChannelSettings(urls=("json://127.0.0.1:9/hook",), format="markdown")},
        routes=(RouteSettings(channels=("chat",), severity="high"),),
        **sections,
    )


class Harness:
    """A store and settings, polled the way ``monitor poll`` does, with ``.test`` names resolving to loopback."""

    def __init__(self, settings: Settings, extractor: ExtractorPool) -> None:
        self.settings = settings
        self.extractor = extractor
        self.store = Store.open(settings.database.url)
        self.store.sync_feeds(settings.feeds)
        self.rules = RuleWatcher(settings).current

    def poll(self, *names: str, rules: Any = None) -> dict[str, FeedResult]:
        results = asyncio.run(
            run_cycle(
                self.settings,
                self.store,
                rules or self.rules,
                due_only=False,
                force=True,
                names=names,
                extractor=self.extractor,
                resolver=TestHosts(),
            )
        )
        return {r.feed: r for r in results}

    def feed(self, name: str) -> Any:
        found = self.store.get_feed(name)
        assert found is not None
        return found

    def titles(self) -> set[str]:
        """The titles of every stored article (ids are small in a test's fresh database)."""
        return {a.title for i in range(1, 100) if (a := self.store.get_article(i)) is not None}


@pytest.fixture
def make_harness(store_url: str, rules_dir: Path, extractor: ExtractorPool) -> Iterator[Any]:  # noqa: F811
    made: list[Harness] = []

    def make(feeds: list[FeedSettings], **sections: Any) -> Harness:
        harness = Harness(settings_for(store_url, rules_dir, feeds, **sections), extractor)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.store.close()


class BuggyRules:
    """The real rule set, with a bug that raises on one item (an unforeseen exception in matching)."""

    def __init__(self, rules: RuleSet) -> None:
        self._rules = rules

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rules, name)

    def match(self, document: Document) -> list[Match]:
        if "BOOM" in document.title:
            raise RuntimeError("a bug that only this item triggers")
        return list(self._rules.match(document))


# --- the entry boundary ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("full_text", [True, False])  # each entry analysed alone, or the feed's entries at once
def test_an_entry_that_raises_fails_alone_is_recorded_and_not_retried(
    make_harness: Any, news_site: NewsSite, caplog: pytest.LogCaptureFixture, full_text: bool
) -> None:  # noqa: F811
    news_site.add("mekong", *RAID)
    news_site.add("mekong", "BOOM: an item that breaks matching", TOURISM[1])
    news_site.add("mekong", *TOURISM)
    h = make_harness([FeedSettings(name="mekong", url=news_site.feed_url("mekong"), full_text=full_text)])
    buggy = BuggyRules(h.rules())
    with caplog.at_level(logging.WARNING, logger="monitor.pipeline"):
        result = h.poll(rules=lambda: buggy)["mekong"]
    assert (result.status, result.new, result.matched) == ("ok", 3, 1)  # the feed's other entries are stored
    assert h.store.count_articles() == 2 and [m.rule for m in h.store.list_matches()] == ["scam-raid"]
    feed = h.feed("mekong")
    assert feed.last_status == "ok" and feed.consecutive_failures == 0
    assert feed.failed_entries == 1 and "RuntimeError" in feed.last_entry_error
    assert feed.as_json()["failed_entries"] == 1
    assert any("entry failed" in r.getMessage() and "RuntimeError" in r.getMessage() for r in caplog.records)
    # marked seen: the next poll does not try it again, and a new entry is processed as usual
    news_site.add("mekong", "Second raid on a scam compound", RAID[1].replace("Poipet", "Bavet"))
    result = h.poll(rules=lambda: buggy)["mekong"]
    assert (result.status, result.new) == ("ok", 1)
    assert h.feed("mekong").failed_entries == 1 and h.store.count_articles() == 3


def test_entries_a_database_may_refuse_fail_alone_and_the_connection_stays_usable(
    make_harness: Any, news_site: NewsSite
) -> None:  # noqa: F811
    """Lone surrogates, NUL (PostgreSQL refuses it in text), a 10 KB GUID and a 5 KB link (over PostgreSQL's
    B-tree limit): each entry is stored or fails alone; the entries after it are stored on the same pool."""
    base = f"{news_site.base}/news"
    items = [
        {"id": "ok-1", "url": f"{base}/ok1.html", "title": RAID[0], "content_text": RAID[1]},
        {
            "id": "surrogate",
            "url": f"{base}/s.html",
            "title": "Lone \ud800 surrogate",
            "content_text": "x \udfff y",
            "authors": [{"name": "\ud83d"}],
        },
        {"id": "nul\u0000guid", "url": f"{base}/n.html", "title": "NUL \u0000 title", "content_text": "a\u0000b"},
        {"id": "g" * 10_000, "url": f"{base}/long-guid.html", "title": "Long GUID", "content_text": TOURISM[1]},
        {"id": "long-link", "url": f"{base}/{'p' * 5000}.html", "title": "Long link", "content_text": TOURISM[1]},
        {"id": "ok-2", "url": f"{base}/ok2.html", "title": TOURISM[0], "content_text": TOURISM[1]},
    ]
    news_site.raw["/feeds/odd.json"] = json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": "odd", "items": items}
    )
    h = make_harness([FeedSettings(name="odd", url=f"{news_site.base}/feeds/odd.json", full_text=False)])
    result = h.poll()["odd"]
    assert result.status == "ok" and result.new == len(items)
    feed = h.feed("odd")
    assert feed.last_status == "ok"
    assert {RAID[0], TOURISM[0], "Long GUID", "Long link"} <= h.titles()  # before and after the odd ones
    assert h.store.count_articles() + feed.failed_entries == len(items)  # every entry stored or recorded
    assert h.poll()["odd"].new == 0  # nothing is retried at every poll


# --- a slow feed delays only itself ---------------------------------------------------------------------------


def _slow_and_healthy(
    news_site: NewsSite,
    hostile: HostileServer,
    rules_dir: Path,
    url: str,  # noqa: F811
    feed_timeout: float,
    drip_host: str = "drip.test",
) -> Settings:
    """'slow': one good link, then four links that drip a byte a second; 'healthy': due every 0.3 s."""
    news_site.add("pages", *RAID, slug="good")
    drips = [
        {
            "title": f"Drip {i}",
            "link": hostile.url(f"/drip?track=1&n={i}", host=drip_host),
            "guid": f"d{i}",
            "description": "slow",
        }
        for i in range(4)
    ]
    news_site.raw["/feeds/slow.xml"] = rss(
        {"title": RAID[0], "link": f"{news_site.base}/news/good.html", "guid": "good", "description": "raid"}, *drips
    )
    news_site.add("healthy", *TOURISM)
    return settings_for(
        url,
        rules_dir,
        [
            FeedSettings(name="slow", url=f"{news_site.base}/feeds/slow.xml"),
            # On the drips' host the healthy feed's own article page would wait for the host's page slots (politeness
            # per host, per_host = 2), so there it takes its text from the feed: its feed requests are what must flow.
            FeedSettings(
                name="healthy", url=news_site.feed_url("healthy"), interval=0.3, full_text=drip_host == "drip.test"
            ),
        ],
        scheduler=SchedulerSettings(tick=0.1, poll_interval=60, feed_timeout=feed_timeout),
        fetch=FetchSettings(allow_private=True, extract_processes=1, timeout=30),
    )


async def _run_daemon(
    settings: Settings, store: Store, extractor: ExtractorPool, until: Any, *, limit: float = 20.0
) -> float:
    """Run the daemon until ``until(store)`` is true, stop it; returns the seconds the stop took."""
    daemon = Daemon(settings, store, resolver=TestHosts(), extractor=extractor)
    running = asyncio.create_task(daemon.run())
    deadline = time.monotonic() + limit
    while not until(store) and time.monotonic() < deadline and not running.done():
        await asyncio.sleep(0.05)
    stopping = time.monotonic()
    daemon.stop()
    await asyncio.wait_for(running, 10)
    return time.monotonic() - stopping


# The pages drip on their own host, or on the healthy feed's host (127.0.0.1): the per-host slots they fill must
# not hold back that feed's own request (feeds and pages queue in separate lanes).
@pytest.mark.parametrize("drip_host", ["drip.test", "127.0.0.1"], ids=["other-host", "same-host"])
def test_a_slow_feed_delays_only_itself_and_is_cut_at_its_time_budget(
    store_url: str,
    rules_dir: Path,
    news_site: NewsSite,
    extractor: ExtractorPool,  # noqa: F811
    hostile_server: HostileServer,
    drip_host: str,
) -> None:  # noqa: F811
    settings = _slow_and_healthy(news_site, hostile_server, rules_dir, store_url, feed_timeout=1.5, drip_host=drip_host)
    store = Store.open(store_url)
    healthy_polls_while_slow_ran: list[int] = []

    def slow_recorded(store: Store) -> bool:
        slow = store.get_feed("slow")
        if slow is not None and slow.last_status is None:  # its poll is still running
            healthy_polls_while_slow_ran.append(len(news_site.hits("/feeds/healthy.xml")))
        return slow is not None and slow.last_status is not None

    try:
        asyncio.run(_run_daemon(settings, store, extractor, slow_recorded))
        slow, healthy = store.get_feed("slow"), store.get_feed("healthy")
        assert slow is not None and healthy is not None
        # the healthy feed kept its rate while the slow feed's links dripped (one poll before: it waited)
        assert max(healthy_polls_while_slow_ran) >= 3, healthy_polls_while_slow_ran
        assert healthy.last_status in ("ok", "not_modified") and healthy.consecutive_failures == 0
        # the slow feed alone failed, at its budget, and its entry stored before the cut stays stored
        assert slow.last_status == "error" and "feed_timeout" in (slow.last_error or "")
        assert slow.consecutive_failures == 1 and slow.next_poll is not None and slow.next_poll > now_utc()
        assert [m.article.feed for m in store.list_matches()] == ["slow"]
    finally:
        store.close()


def test_stopping_the_daemon_cancels_a_running_poll_cleanly(
    store_url: str,
    rules_dir: Path,
    news_site: NewsSite,
    extractor: ExtractorPool,  # noqa: F811
    hostile_server: HostileServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # noqa: F811
    monkeypatch.setattr(daemon_module, "SHUTDOWN_GRACE", 0.3)
    settings = _slow_and_healthy(news_site, hostile_server, rules_dir, store_url, feed_timeout=60)
    store = Store.open(store_url)
    try:
        took = asyncio.run(_run_daemon(settings, store, extractor, lambda s: s.count_articles() >= 2))
        assert took < 3.0  # grace, then cancelled: not the 60 s budget
        slow = store.get_feed("slow")
        assert slow is not None and slow.last_status is None  # nothing recorded for the cancelled poll
        assert slow.next_poll is None or slow.next_poll <= now_utc()  # still due
        # due again at once, for any worker: the cancelled poll's claim was released, not left to its lease
        assert "slow" in [f.name for f in store.take_due_feeds(now_utc(), lease=60, worker="another worker")]
        assert [m.article.feed for m in store.list_matches()] == ["slow"]  # what was stored stays stored
        healthy = store.get_feed("healthy")  # polled once or more (a later poll is a 304) while the slow one ran
        assert (
            healthy is not None and healthy.last_status in ("ok", "not_modified") and not healthy.consecutive_failures
        )
    finally:
        store.close()


# --- a feed cannot pre-claim or take over another site's article ----------------------------------------------


def _wire_and_mirror(news_site: NewsSite, make_harness: Any, mirror_item: dict[str, str]) -> Harness:  # noqa: F811
    port = news_site.base.rsplit(":", 1)[1]
    wire, mirror = f"http://wire.test:{port}", f"http://mirror.test:{port}"
    news_site.add("pages", *RAID, slug="raid")
    news_site.raw["/feeds/wire.xml"] = rss(
        {"title": RAID[0], "link": f"{wire}/news/raid.html", "guid": "w1", "description": RAID[1][:80]}
    )
    news_site.raw["/feeds/mirror.xml"] = rss({"link": f"{wire}/news/raid.html", "guid": "m1", **mirror_item})
    return make_harness(
        [
            FeedSettings(name="wire", url=f"{wire}/feeds/wire.xml"),  # type: ignore[no-any-return]
            FeedSettings(name="mirror", url=f"{mirror}/feeds/mirror.xml"),
        ]
    )


def test_a_feed_listing_another_sites_article_first_cannot_suppress_its_alert(
    make_harness: Any, news_site: NewsSite
) -> None:  # noqa: F811
    decoy = " ".join([TOURISM[1]] * 5)  # longer than the page: the mirror's text wins for its own copy
    h = _wire_and_mirror(news_site, make_harness, {"title": "Nothing to see", "content": decoy})
    assert h.poll("mirror")["mirror"].matched == 0
    result = h.poll("wire")["wire"]
    assert (result.status, result.new, result.matched) == ("ok", 1, 1)
    [match] = h.store.list_matches()
    assert match.article.feed == "wire" and match.article.title == RAID[0]
    assert [(d.channel, d.status) for d in match.deliveries] == [("chat", "pending")]  # it alerts
    wire_copy = h.store.get_article(match.article.id)
    assert wire_copy is not None and wire_copy.owned and wire_copy.canonical_url.startswith("http://wire.test")
    assert h.store.count_articles() == 2  # the mirror's copy is kept, under its own feed's key


def test_the_outlets_own_copy_takes_over_a_pending_alert_from_a_foreign_copy(
    make_harness: Any, news_site: NewsSite
) -> None:  # noqa: F811
    h = _wire_and_mirror(
        news_site, make_harness, {"title": "HOSTILE HEADLINE: raid on scam compound", "content": RAID[1]}
    )
    assert h.poll("mirror")["mirror"].matched == 1  # a copy of the story, first: it is the story's alert for now
    [pending] = h.store.list_deliveries()
    assert pending.feed_name == "mirror" and not pending.article_owned
    assert h.poll("wire")["wire"].matched == 1  # the outlet's own copy joins the story and takes the alert over
    [pending] = h.store.list_deliveries()
    assert (pending.feed_name, pending.article_title, pending.article_owned) == ("wire", RAID[0], True)
    alert = story_alert([pending], {}, h.store.story_articles)
    assert alert.article.title == RAID[0] and alert.article.feed == "wire"
    assert [a.feed for a in alert.also_reported] == ["mirror"]


def test_a_foreign_copy_after_the_outlets_own_is_a_duplicate(make_harness: Any, news_site: NewsSite) -> None:  # noqa: F811
    h = _wire_and_mirror(
        news_site, make_harness, {"title": "HOSTILE HEADLINE: raid on scam compound", "content": RAID[1]}
    )
    assert h.poll("wire")["wire"].matched == 1
    assert h.poll("mirror")["mirror"].new == 1
    assert h.store.count_articles() == 1  # the mirror's copy is the wire's article: nothing new, nothing alerts
    [delivery] = h.store.list_deliveries()
    assert delivery.feed_name == "wire"


def test_the_alert_prefers_an_owned_copy_among_its_rows(make_harness: Any, news_site: NewsSite) -> None:  # noqa: F811
    h = _wire_and_mirror(
        news_site, make_harness, {"title": "HOSTILE HEADLINE: raid on scam compound", "content": RAID[1]}
    )
    h.poll("mirror")
    h.poll("wire")
    row = h.store.list_deliveries()[0]
    foreign = replace(
        row,
        id=row.id + 1,
        rule_id="other",
        article_owned=False,
        article_title="HOSTILE",
        matched_at=(row.matched_at or now_utc()).replace(year=2000),
    )  # older, but foreign
    assert story_alert([foreign, row], {}).article.title == RAID[0]


def test_a_feed_owns_the_links_of_its_own_site() -> None:
    assert dedup.site("https://www.bbc.co.uk/news/1") == dedup.site("https://feeds.bbc.co.uk/rss.xml") == "bbc.co.uk"
    assert dedup.site("https://bbc.co.uk.evil.com/x") == "evil.com"
    assert dedup.site("https://alice.github.io/a") != dedup.site("https://mallory.github.io/feed")  # public suffix
    assert dedup.site("http://127.0.0.1:8080/x") == "127.0.0.1" and dedup.site("http://[::1]/") == "::1"
    assert dedup.site("http://x.test:1/") == "x.test" and dedup.site("not a url") == ""
    assert dedup.site("https://bücher.de/a") == dedup.site("https://www.xn--bcher-kva.de/feed")  # IDN, one site
    # read as canonical_url reads the key: the host after the userinfo, whatever a browser might make of it
    assert dedup.site(dedup.canonical_url("https://bbc.co.uk@evil.com/x")) == "evil.com"


def test_storable_keys_are_bounded_and_stable() -> None:
    assert dedup.storable_key("guid:abc") == "guid:abc"
    for odd in ("g" * 5000, "a\x00b", "a\ud800b", "é" * 600):
        key = dedup.storable_key(odd)
        assert key.startswith("sha256:") and len(key) == 71 and key == dedup.storable_key(odd)


# --- a 301 is honoured only when it repeats -------------------------------------------------------------------


def test_one_permanent_redirect_does_not_move_a_feed(make_harness: Any, news_site: NewsSite) -> None:  # noqa: F811
    news_site.add("wire", *RAID)
    h = make_harness([FeedSettings(name="wire", url=news_site.feed_url("wire"))])
    news_site.raw["/feeds/evil-a.xml"] = news_site.raw["/feeds/evil-b.xml"] = rss()
    news_site.answers["/feeds/wire.xml"] = (301, {"Location": f"{news_site.base}/feeds/evil-a.xml"})
    assert h.poll()["wire"].status == "ok"
    news_site.answers["/feeds/wire.xml"] = (301, {"Location": f"{news_site.base}/feeds/evil-b.xml"})
    assert h.poll()["wire"].status in ("ok", "not_modified")  # a different target: still not moved
    assert h.feed("wire").url == news_site.feed_url("wire")
    assert h.feed("wire").redirect_pending == f"{news_site.base}/feeds/evil-b.xml"
    del news_site.answers["/feeds/wire.xml"]
    assert h.poll()["wire"].status in ("ok", "not_modified")  # the redirect stopped: forgotten
    feed = h.feed("wire")
    assert (feed.url, feed.config_url, feed.redirect_pending) == (news_site.feed_url("wire"),) * 2 + (None,)


# --- a huge feed does not hold the event loop -----------------------------------------------------------------


def test_a_huge_feed_is_parsed_without_holding_the_event_loop(
    tmp_path: Path,
    rules_dir: Path,
    news_site: NewsSite,
    extractor: ExtractorPool,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("monitor.pipeline.MAX_ENTRIES_PER_POLL", 20)
    news_site.raw["/feeds/huge.xml"] = rss(
        *({"title": f"T{i}", "link": f"{news_site.base}/a/{i}", "guid": f"g{i}"} for i in range(6_000))
    )
    settings = settings_for(
        f"sqlite:///{tmp_path / 'm.db'}",
        rules_dir,
        [FeedSettings(name="huge", url=f"{news_site.base}/feeds/huge.xml", full_text=False)],
        fetch=FetchSettings(allow_private=True, max_bytes=20_000_000, extract_processes=1),
    )
    h = Harness(settings, extractor)

    async def poll_and_beat() -> tuple[list[FeedResult], float]:
        gaps: list[float] = []

        async def beat_gaps() -> None:
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        beating = asyncio.create_task(beat_gaps())
        results = await run_cycle(settings, h.store, h.rules, due_only=False, extractor=extractor)
        beating.cancel()
        return results, max(gaps)

    try:
        [result], worst = asyncio.run(poll_and_beat())
        assert (result.status, result.new) == ("ok", 20)
        assert worst < max(0.5, result.seconds / 4), (worst, result.seconds)  # parsing alone takes seconds
    finally:
        h.store.close()


# --- a page is its own unit -----------------------------------------------------------------------------------


def test_a_page_that_breaks_the_fetcher_falls_back_to_the_feed_text(
    make_harness: Any, news_site: NewsSite, hostile_server: HostileServer
) -> None:  # noqa: F811
    """A Content-Encoding of thousands of codings, a 503 with ``Retry-After: ²``: whatever the page does, the
    entry is stored from the feed's own text and the feed's other entries are processed."""
    links = [
        hostile_server.url("/encoded/" + ",".join(["gzip"] * 3000), host="pages.test"),
        hostile_server.url("/retry-after/%C2%B2?status=503", host="pages.test"),
    ]
    news_site.raw["/feeds/pages.xml"] = rss(
        *(
            {"title": f"{RAID[0]} ({i})", "link": link, "guid": f"p{i}", "description": RAID[1]}
            for i, link in enumerate(links)
        )
    )
    h = make_harness([FeedSettings(name="pages", url=f"{news_site.base}/feeds/pages.xml")])
    result = h.poll()["pages"]
    assert (result.status, result.new) == ("ok", 2)
    assert h.store.count_articles() == 2 and h.feed("pages").failed_entries == 0
    assert all(not h.store.get_article(m.article.id).extracted for m in h.store.list_matches())


def test_copies_of_one_link_from_feeds_that_do_not_own_it_are_one_story(make_harness: Any, news_site: NewsSite) -> None:  # noqa: F811
    port = news_site.base.rsplit(":", 1)[1]
    link = f"http://wire.test:{port}/news/gone.html"  # the page is gone: each copy keeps its feed's short text
    for name, text in (("agg1", "Police raid a scam compound"), ("agg2", "Raid on scam compound reported")):
        news_site.raw[f"/feeds/{name}.xml"] = rss({"title": text, "link": link, "guid": "x", "description": text})
    h = make_harness([FeedSettings(name=n, url=f"http://{n}.test:{port}/feeds/{n}.xml") for n in ("agg1", "agg2")])
    h.poll("agg1")
    h.poll("agg2")
    assert h.store.count_articles() == 2  # each feed's copy is kept, neither claims the link
    assert len({m.story for m in h.store.list_matches()}) == 1 and len(h.store.list_deliveries()) == 1


def test_a_database_locked_for_a_moment_loses_no_entry(
    tmp_path: Path, rules_dir: Path, news_site: NewsSite, extractor: ExtractorPool
) -> None:  # noqa: F811
    """A transient store error is not an entry's fault: the entry stays unseen and is stored at the next poll."""
    news_site.add("mekong", *RAID)
    news_site.add("mekong", *TOURISM)
    path = tmp_path / "m.db"
    settings = settings_for(
        f"sqlite:///{path}", rules_dir, [FeedSettings(name="mekong", url=news_site.feed_url("mekong"))]
    )
    store = Store.open(settings.database.url, busy_timeout=0.2)
    store.sync_feeds(settings.feeds)
    rules = RuleWatcher(settings).current
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock through the whole poll
        asyncio.run(run_cycle(settings, store, rules, due_only=False, extractor=extractor))
        assert store.count_articles() == 0
        locker.execute("ROLLBACK")
        [result] = asyncio.run(run_cycle(settings, store, rules, due_only=False, extractor=extractor))
        assert (result.status, result.new, result.matched) == ("ok", 2, 1)
        assert store.count_articles() == 2 and store.get_feed("mekong").failed_entries == 0  # type: ignore[union-attr]
    finally:
        locker.close()
        store.close()


def test_only_store_errors_that_may_pass_are_transient(store_url: str) -> None:  # noqa: F811
    with Store.open(store_url) as store:
        feed = store.add_feed("a", "https://a.example/feed")
        with pytest.raises(StoreError) as refused:
            store.add_feed("a", "https://a.example/feed")  # a constraint: the data's fault
        assert not is_transient(refused.value) and not is_transient(RuntimeError("x"))
        if store.dialect == "postgresql":
            with pytest.raises(StoreError) as nul:
                store.mark_entries_seen(feed.id, ["guid:a\x00b"])
            assert not is_transient(nul.value)
    down = Store.open("postgresql+psycopg://nobody@127.0.0.1:1/none", migrate=False)
    with pytest.raises(StoreError) as unreachable:
        down.list_feeds()
    assert is_transient(unreachable.value)


@pytest.mark.parametrize("value", ["99999999999999999999", "1e400", "-5"])
def test_a_huge_retry_after_is_a_failure_of_its_feed_only(make_harness: Any, news_site: NewsSite, value: str) -> None:  # noqa: F811
    news_site.add("mekong", *RAID)
    news_site.answers["/feeds/wire.xml"] = (429, {"Retry-After": value})
    h = make_harness(
        [
            FeedSettings(name="mekong", url=news_site.feed_url("mekong")),
            FeedSettings(name="wire", url=news_site.feed_url("wire")),
        ]
    )
    results = h.poll()
    assert results["mekong"].status == "ok" and results["wire"].status == "error"
    wire = h.feed("wire")
    assert wire.last_status == "error" and wire.next_poll is not None
    assert wire.next_poll <= now_utc() + timedelta(days=31)  # honoured, within reason


def test_an_unmapped_store_error_fails_neither_the_feed_nor_the_poll(
    make_harness: Any, news_site: NewsSite, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: F811
    """The boundaries' own store writes (marking a failed entry seen, recording the feed's state) may raise what
    the store does not map (a driver's UnicodeEncodeError): the poll still returns every feed's result."""
    news_site.add("mekong", *RAID)
    news_site.add("wire", *TOURISM)
    h = make_harness(
        [
            FeedSettings(name="mekong", url=news_site.feed_url("mekong")),
            FeedSettings(name="wire", url=news_site.feed_url("wire")),
        ]
    )
    record = h.store.update_feed_state
    mekong_id = h.feed("mekong").id

    def flaky(feed_id: int, state: Any, **fence: Any) -> bool:
        if feed_id == mekong_id:
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        return record(feed_id, state, **fence)

    monkeypatch.setattr(h.store, "update_feed_state", flaky)
    results = h.poll()
    assert results["mekong"].status == "ok" and results["wire"].status == "ok"
    assert h.feed("wire").last_status == "ok" and h.store.count_articles() == 2
