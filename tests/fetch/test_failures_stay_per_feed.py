"""Issue 11, the fetch layer through the real pipeline on loopback: a crafted page fails only its entry, a crafted
Retry-After only its feed, and loopback is reachable only by the feeds the operator opened it for."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from monitor.clock import now_utc
from monitor.config import FeedSettings, FetchSettings, RulesSettings, Settings, load_settings
from monitor.daemon import RuleWatcher, run_cycle
from monitor.errors import ConfigError
from monitor.extractpool import ExtractorPool
from monitor.fetch import MAX_RETRY_AFTER
from monitor.pipeline import FeedResult
from monitor.store import Store
from tests.support.hostile import HostileServer
from tests.support.newssite import NewsSite

# Link targets that each once escaped page fetching as a non-FetchError or carried a huge value (issue 11).
CRAFTED_PAGES = {
    "codings": {"Content-Encoding": "gzip,", "times": "3000"},  # RecursionError in the decoder chain
    "superscript-retry": {"status": "503", "Retry-After": "²"},  # isdigit() true, float() fails
    "huge-retry": {"status": "503", "Retry-After": "99999999999999999999"},
    "far-retry-date": {"status": "429", "Retry-After": "Fri, 31 Dec 9999 23:59:59 -2359"},
    "long-location": {"status": "302", "Location": "/a", "times": "8000"},  # 16 KB
    "location-bad-port": {"status": "302", "Location": "http://127.0.0.1:99999999999999999999/"},
    "markup-reason": {"status": "500", "reason": "[/x][link=http://evil.test]\x1b[2J\u202e", "times": "50"},
    "long-etag": {"ETag": '"x', "times": "5000"},
}


def _item(n: int, link: str) -> str:
    return (
        f"<item><title>Raid number {n} on a scam compound</title><link>{link.replace('&', '&amp;')}</link>"
        f"<guid>item-{n}</guid><description>Police raided scam compound {n} near Bavet.</description></item>"
    )


def _rss(links: list[str]) -> str:
    items = "".join(_item(n, link) for n, link in enumerate(links))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'


def _settings(tmp_path: Path, feeds: list[FeedSettings], **fetch: Any) -> Settings:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "r.yaml").write_text(
        "rules:\n  - id: raids\n    title: Raids\n    query: 'raid* AND \"scam compound\"'\n"
    )
    return Settings(
        fetch=FetchSettings(**{"timeout": 5, "connect_timeout": 2, "extract_processes": 1, **fetch}),
        rules=RulesSettings(paths=(tmp_path / "rules",)),
        feeds=tuple(feeds),
    )


@pytest.fixture(scope="module")
def extractor() -> Iterator[ExtractorPool]:
    with ExtractorPool(1) as pool:  # one pool for the module: starting its worker is most of a poll's time
        yield pool


def _poll(settings: Settings, store: Store, extractor: ExtractorPool) -> dict[str, FeedResult]:  # noqa: F811
    store.sync_feeds(settings.feeds)
    rules = RuleWatcher(settings).current
    results = asyncio.run(run_cycle(settings, store, rules, due_only=False, extractor=extractor))
    return {r.feed: r for r in results}


def test_crafted_pages_fail_only_their_own_entry(
    tmp_path: Path,
    store: Store,
    extractor: ExtractorPool,
    hostile_server: HostileServer,  # noqa: F811
    news_site: NewsSite,  # noqa: F811
) -> None:
    good = news_site.add("x", "Police raid scam compound in Poipet", "Police raided a scam compound in Poipet.")
    links = [hostile_server.url("/headers?" + urlencode(q)) for q in CRAFTED_PAGES.values()] + [good]
    news_site.raw["/feeds/crafted.xml"] = _rss(links)
    feed = FeedSettings(
        name="crafted", url=f"{news_site.base}/feeds/crafted.xml", allow_private=True, allow_private_links=True
    )

    result = _poll(_settings(tmp_path, [feed]), store, extractor)["crafted"]

    assert (result.status, result.new, result.matched) == ("ok", len(links), len(links)), result.error
    assert store.count_articles() == len(links)
    recorded = store.get_feed("crafted")
    assert recorded is not None and recorded.last_error is None and recorded.consecutive_failures == 0
    # each entry is seen: the next poll has nothing new (so nothing is lost or retried forever)
    assert _poll(_settings(tmp_path, [feed]), store, extractor)["crafted"].new == 0


CRAFTED_RETRY_AFTER = {  # feed name -> (status, Retry-After, times repeated, the wait recorded)
    "20-digits": ("503", "99999999999999999999", 1, MAX_RETRY_AFTER),  # once an OverflowError that failed the poll
    "5000-digits": ("503", "9", 5000, MAX_RETRY_AFTER),  # past int()'s 4300-digit limit
    "year-9999": ("429", "Fri, 31 Dec 9999 23:59:59 GMT", 1, MAX_RETRY_AFTER),
    "year-10000-in-utc": ("429", "Fri, 31 Dec 9999 23:59:59 -2359", 1, MAX_RETRY_AFTER),
    "superscript": ("503", "²", 1, None),  # once a ValueError
    "arabic-digits": ("503", "١٢", 1, None),
}


def test_crafted_retry_after_on_a_feed_fails_only_that_feed(
    tmp_path: Path,
    store: Store,
    extractor: ExtractorPool,
    hostile_server: HostileServer,  # noqa: F811
    news_site: NewsSite,  # noqa: F811
) -> None:
    news_site.add("good", "Police raid scam compound in Poipet", "Police raided a scam compound in Poipet.")
    feeds = [FeedSettings(name="good", url=news_site.feed_url("good"), allow_private=True, allow_private_links=True)]
    for name, (status, value, times, _) in CRAFTED_RETRY_AFTER.items():
        query = urlencode({"status": status, "Retry-After": value, "times": times})
        feeds.append(FeedSettings(name=name, url=hostile_server.url(f"/headers?{query}"), allow_private=True))
    before = now_utc()

    results = _poll(_settings(tmp_path, feeds), store, extractor)

    assert (results["good"].status, results["good"].new) == ("ok", 1)
    recorded = {f.name: f for f in store.list_feeds()}
    for name, (status, _, _, retry_after) in CRAFTED_RETRY_AFTER.items():
        assert results[name].status == "error" and f"HTTP {status}" in (results[name].error or ""), name
        feed = recorded[name]
        assert feed.next_poll is not None and feed.next_poll - before <= timedelta(days=7, minutes=1), name
        if retry_after is None:
            assert feed.retry_after_until is None, name
        else:
            assert feed.retry_after_until is not None, name
            assert timedelta(seconds=retry_after - 60) < feed.retry_after_until - before, name


def test_loopback_is_reachable_only_by_the_feeds_opened_for_it(
    tmp_path: Path,
    store: Store,
    extractor: ExtractorPool,
    news_site: NewsSite,  # noqa: F811
    hostile_server: HostileServer,  # noqa: F811
) -> None:
    intranet_page = news_site.add(
        "intranet",
        "Police raid scam compound in Poipet",
        "Police raided a scam compound in Poipet and freed 40 workers.",
    )
    targets = [news_site.add("other", f"Internal page {n}", "An internal page.") for n in range(2)]
    targets += [
        hostile_server.url("/echo"),
        hostile_server.url("/feed.xml", host="localhost"),
        hostile_server.url("/feed.xml", host="[::ffff:127.0.0.1]"),
    ]
    news_site.raw["/feeds/hostile.xml"] = _rss(targets)
    feeds = [
        FeedSettings(name="intranet", url=news_site.feed_url("intranet"), allow_private=True, allow_private_links=True),
        # its own URL is opened for it, its links are not: allow_private never implies allow_private_links
        FeedSettings(name="hostile", url=f"{news_site.base}/feeds/hostile.xml", allow_private=True),
        FeedSettings(name="closed", url=news_site.feed_url("intranet")),
    ]
    store.add_feed("from-cli", news_site.feed_url("intranet"))  # a CLI feed: never opened
    hostile_requests = len(hostile_server.requests)

    results = _poll(_settings(tmp_path, feeds), store, extractor)

    assert (results["intranet"].status, results["intranet"].new) == ("ok", 1)
    assert news_site.hits(intranet_page.removeprefix(news_site.base))  # its page was fetched
    assert (results["hostile"].status, results["hostile"].new) == ("ok", len(targets))
    assert not any(news_site.hits(t.removeprefix(news_site.base)) for t in targets[:2])
    assert len(hostile_server.requests) == hostile_requests
    recorded = {f.name: f for f in store.list_feeds()}
    assert recorded["hostile"].blocked_requests == len(targets)
    for name in ("closed", "from-cli"):
        assert results[name].status == "error"
        assert "set allow_private = true on this feed's [[feeds]] entry" in (recorded[name].last_error or "")
        assert recorded[name].blocked_requests == 1


def test_the_global_switch_still_opens_every_feed_and_link(
    tmp_path: Path,
    store: Store,
    extractor: ExtractorPool,
    news_site: NewsSite,  # noqa: F811
) -> None:
    page = news_site.add("demo", "Police raid scam compound in Poipet", "Police raided a scam compound in Poipet.")
    store.add_feed("from-cli", news_site.feed_url("demo"))
    results = _poll(_settings(tmp_path, [], allow_private=True), store, extractor)
    assert (results["from-cli"].status, results["from-cli"].new) == ("ok", 1)
    assert news_site.hits(page.removeprefix(news_site.base))


# --- config.toml ---


def _config(tmp_path: Path, feed_keys: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[fetch]\ntimeout = "5s"\n\n[[feeds]]\nurl = "http://intranet.test/rss"\n{feed_keys}\n')
    return path


def test_per_feed_keys_are_read_and_default_to_closed(tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path, 'allow_private = true\n\n[[feeds]]\nurl = "http://b.test/"'), {})
    assert [(f.allow_private, f.allow_private_links) for f in settings.feeds] == [(True, False), (False, False)]
    settings = load_settings(_config(tmp_path, "allow_private_links = true"), {})
    assert (settings.feeds[0].allow_private, settings.feeds[0].allow_private_links) == (False, True)
    assert settings.fetch.allow_private is False


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ('allow_private = "maybe"', "feeds[0].allow_private: Input should be a valid boolean"),
        ("allow_privat = true", "unknown key 'allow_privat' (did you mean 'allow_private'?)"),
        ("allow_private_link = true", "(did you mean 'allow_private_links'?)"),
    ],
)
def test_bad_per_feed_keys_name_file_and_line(tmp_path: Path, keys: str, message: str) -> None:
    path = _config(tmp_path, keys)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    assert str(caught.value).startswith(f"{path}:6: ") and message in str(caught.value)
