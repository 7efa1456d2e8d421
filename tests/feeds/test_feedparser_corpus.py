"""Every eval feed (feedparser's corpus, real news feeds, edge cases) through Fetcher.fetch + parse_feed on loopback.

Nothing may crash or hang: each file either parses or raises FeedParseError. Real news feeds must all yield entries,
and every well-formed corpus file whose expectation names an entry must yield one.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.config import FetchSettings
from monitor.errors import FeedParseError
from monitor.feeds import parse_feed
from monitor.fetch import Fetcher
from tests.conftest import EVAL, needs_eval
from tests.support.hostile import HostileServer

ROOT = EVAL / "feeds"
pytestmark = [
    pytest.mark.slow,
    needs_eval(ROOT),
]

_EXPECTS_ENTRY = re.compile(rb"^Expect:.*\bentries\[0\]", re.M)


@dataclass(frozen=True)
class Outcome:
    path: str
    entries: int  # -1: FeedParseError
    error: str = ""
    title: str = ""


def _files(*parts: str) -> list[Path]:
    base = ROOT.joinpath(*parts)
    return sorted(p for p in base.rglob("*") if p.is_file() and p.suffix in (".xml", ".json", ".rdf", ".opml", ".atom"))


def _run(server: HostileServer, files: list[Path]) -> list[Outcome]:
    # 4 at once is faster than 16 here: client, server and parser share one GIL on 2 cores.
    settings = FetchSettings(allow_private=True, timeout=10.0, concurrency=4, per_host=4)

    async def one(fetcher: Fetcher, path: Path) -> Outcome:
        rel = path.relative_to(ROOT).as_posix()
        result = await fetcher.fetch(server.url("/file/" + rel))  # a FetchError here fails the test: loopback
        try:
            feed = parse_feed(result.body, result.final_url, result.headers)
        except FeedParseError as e:
            return Outcome(rel, -1, str(e))
        return Outcome(rel, len(feed.entries), title=feed.title)

    async def go() -> list[Outcome]:
        async with Fetcher(settings) as fetcher:
            return list(await asyncio.gather(*(one(fetcher, p) for p in files)))

    return asyncio.run(go())


def test_feedparser_corpus_never_raises_anything_but_feed_parse_error(hostile_server: HostileServer) -> None:
    files = _files("feedparser-corpus")
    started = time.monotonic()
    outcomes = _run(hostile_server, files)
    elapsed = time.monotonic() - started
    assert len(outcomes) == len(files) > 2000
    failed = [o for o in outcomes if o.entries < 0]
    with_entries = sum(o.entries > 0 for o in outcomes)
    print(
        f"feedparser corpus: {len(files)} files, {with_entries} with entries, {len(failed)} FeedParseError, "
        f"{elapsed:.1f}s"
    )
    assert all("\n" not in o.error for o in failed)
    by_path = {o.path: o for o in outcomes}
    missing = [
        p.relative_to(ROOT).as_posix()
        for p in files
        if "/wellformed/" in p.as_posix()
        and _EXPECTS_ENTRY.search(p.read_bytes()[:2000])
        and by_path[p.relative_to(ROOT).as_posix()].entries == 0
    ]
    assert missing == []
    assert elapsed < 60


def test_real_news_feeds_all_yield_entries(hostile_server: HostileServer) -> None:
    outcomes = _run(hostile_server, _files("real", "news"))
    assert len(outcomes) >= 50
    assert [o for o in outcomes if o.entries <= 0] == []


def test_real_edge_cases_parse_or_fail_cleanly(hostile_server: HostileServer) -> None:
    outcomes = {o.path.rsplit("/", 1)[1]: o for o in _run(hostile_server, _files("real", "edgecases"))}
    assert len(outcomes) >= 21
    # Odd encodings, BOMs, broken prologs and the JSON Feed still give entries; an OPML is not a feed.
    failed = sorted(name for name, o in outcomes.items() if o.entries <= 0)
    print("edge cases without entries:", failed)
    assert outcomes["subs.opml"].entries <= 0
    assert outcomes["jsonfeed_3960.json"].entries > 0
    assert outcomes["donthitsave_utf8_bom.rss.xml"].entries > 0
    assert outcomes["kc0011_gb2312.rss.xml"].entries > 0
    titles = {
        "miniflux_encoding_iso-8859-1.xml": "Café",
        "miniflux_encoding_windows-1252.xml": "Euro €",
        "miniflux_encoding_windows-1252-incorrect-prolog.xml": "Euro €",  # UTF-8 mislabelled as windows-1252
        "miniflux_encoding_koi8r.xml": "Пример RSS ленты",
        "miniflux_encoding_utf8-incorrect-prolog.xml": "테스트 피드",
        "miniflux_encoding_invalid-prolog.xml": "테스트 피드",
    }
    assert {name: outcomes[name].title for name in titles} == titles
