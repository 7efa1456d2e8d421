"""One poll over a hostile internet: every misbehaving feed is recorded with its reason, the good feed is processed,
article links to private addresses are refused, and memory stays bounded."""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path

import pytest

from monitor.config import DatabaseSettings, FeedSettings, FetchSettings, RulesSettings, Settings
from monitor.daemon import RuleWatcher, run_cycle
from monitor.store import Store
from tests.support.hostile import HostileServer
from tests.support.newssite import NewsSite

HOSTILE = {  # feed name -> (path on the hostile server, what its recorded error must say)
    "stall": ("/stall/30", "timed out"),
    "drip": ("/drip", "timed out"),
    "reset": ("/reset", ""),
    "server-error": ("/status/500", "500"),
    "rate-limited": ("/retry-after/120", "429"),
    "redirect-loop": ("/loop/a", "redirect"),
    "to-metadata": ("/redirect-to?url=http://169.254.169.254/latest/meta-data/", "link-local"),
    "to-unspecified": ("/redirect-to?url=http://0.0.0.0:9/feed.xml", "unspecified"),
    "gzip-bomb": ("/gzip-bomb", "larger than"),
    "gzip-bomb-10gb": ("/gzip-bomb-big", "larger than"),
    "huge": ("/huge", "larger than"),
    "billion-laughs": ("/body/billion-laughs.xml", "entit"),
}
PRIVATE_LINKS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Sneaky</title><link>http://127.0.0.1/</link>
<item><title>Police raid scam compound in Bavet</title><link>http://169.254.169.254/latest/meta-data/</link>
<guid>s1</guid><description>Police raided a scam compound in Bavet and detained 120 people.</description></item>
<item><title>Second raid on a scam compound</title><link>http://[::ffff:169.254.169.254]/x</link>
<guid>s2</guid><description>Police raided another scam compound near Bavet, freeing 40 workers.</description></item>
<item><title>Third raid</title><link>http://0.0.0.0:9/x</link>
<guid>s3</guid><description>Police raided a third scam compound in Bavet on Friday.</description></item>
</channel></rss>"""


@pytest.mark.slow
def test_one_poll_over_hostile_feeds(
    tmp_path: Path,
    hostile_server: HostileServer,  # noqa: F811
    news_site: NewsSite,
) -> None:  # noqa: F811
    news_site.add(
        "good",
        "Police raid scam compound in Poipet",
        "Police raided a scam compound in Poipet on Monday and detained 270 foreign workers.",
    )
    news_site.raw["/feeds/sneaky.xml"] = PRIVATE_LINKS
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(
        "rules:\n  - id: raids\n    title: Raids\n    query: 'raid* AND \"scam compound\"'\n"
    )
    feeds = [FeedSettings(name=name, url=hostile_server.url(path)) for name, (path, _) in HOSTILE.items()]
    feeds += [
        FeedSettings(name="invalid-xml", url=hostile_server.url("/body/invalid.xml")),
        FeedSettings(name="good", url=news_site.feed_url("good")),
        FeedSettings(name="sneaky", url=f"{news_site.base}/feeds/sneaky.xml"),
    ]
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'm.db'}"),
        fetch=FetchSettings(allow_private=True, timeout=2, connect_timeout=2, max_bytes="1MB", extract_processes=1),
        rules=RulesSettings(paths=(tmp_path / "rules",)),
        feeds=tuple(feeds),
    )
    store = Store.open(settings.database.url)
    store.sync_feeds(settings.feeds)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results = {
        r.feed: r for r in asyncio.run(run_cycle(settings, store, RuleWatcher(settings).current, due_only=False))
    }
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024

    assert (results["good"].status, results["good"].new, results["good"].matched) == ("ok", 1, 1)
    recorded = {f.name: f for f in store.list_feeds()}
    for name, (_, reason) in HOSTILE.items():
        assert results[name].status == "error", name
        feed = recorded[name]
        assert feed.last_status == "error" and feed.consecutive_failures == 1, name
        assert feed.last_error and reason in feed.last_error.lower(), (name, feed.last_error)
        assert "\n" not in feed.last_error
    # malformed XML that the parser can still read is handled (its entries kept), never a crash
    assert results["invalid-xml"].status in ("ok", "error")
    assert recorded["rate-limited"].next_poll is not None
    assert recorded["to-metadata"].blocked_requests == 1

    # links to private addresses inside a feed: never fetched; the feed's own text is used; each refusal counted
    assert (results["sneaky"].status, results["sneaky"].new, results["sneaky"].matched) == ("ok", 3, 3)
    assert recorded["sneaky"].blocked_requests == 3
    assert not any("169.254" in path for path, _ in news_site.requests)
    assert grown_mb < 150, f"memory grew by {grown_mb:.0f} MB"
    store.close()
