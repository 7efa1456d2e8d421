"""Poll-cycle benchmark: N loopback feeds of M entries each, a first poll and a second one that is all 304s.

Run: ``.venv/bin/python benchmarks/bench_poll.py [--feeds 500] [--entries 20] [--full-text-feeds 50]``.
Everything runs on this machine: a threaded HTTP server on 127.0.0.1 serves the feeds and article pages, the real
pipeline (fetch, parse, extract, match with the shipped rules, store in a fresh SQLite file) polls them.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import resource
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.config import DatabaseSettings, FeedSettings, FetchSettings, RulesSettings, Settings  # noqa: E402
from monitor.daemon import RuleWatcher, run_cycle  # noqa: E402
from monitor.demo import DemoArticle, article_page, demo_articles, rss_feed  # noqa: E402
from monitor.store import Store  # noqa: E402

__all__: list[str] = []

# Filler around each seed's text: everyday news words, none of them a rule term, so each article carries the
# seed's matches once, as a real article would (not fifty repetitions of "scam").
_WORDS = (
    "ministry officials province workers court report government week village market company minister "
    "investigation labour rights economy tourism farmers rice rubber exports festival weather school road "
    "bridge hospital election budget students teachers prices fuel harvest river season council"
).split()


def _articles(feed: int, entries: int, seeds: list[DemoArticle], rng: random.Random) -> list[DemoArticle]:
    now = datetime.now(UTC)
    out = []
    for i in range(entries):
        seed = seeds[rng.randrange(len(seeds))]
        filler = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(400, 900)))
        body = f"{seed.body}\n{filler.capitalize()}."
        slug = hashlib.sha1(f"{feed}-{i}".encode()).hexdigest()[:12]
        out.append(DemoArticle(slug, f"{seed.title} ({feed}-{i})", body, now - timedelta(minutes=i)))
    return out


class _Site:
    """The feeds spread over ``hosts`` news sites, one threaded server per loopback address (127.0.0.1, .2, …),
    as a real deployment polls many hosts: per-host politeness limits then apply per site, not to everything."""

    def __init__(self, feeds: int, entries: int, hosts: int) -> None:
        rng = random.Random(7)
        seeds = demo_articles()
        self.servers = [ThreadingHTTPServer((f"127.0.0.{h + 1}", 0), _Handler) for h in range(hosts)]
        self.feed_urls = []
        for f in range(feeds):
            server = self.servers[f % hosts]
            base = f"http://{server.server_address[0]}:{server.server_address[1]}"
            articles = _articles(f, entries, seeds, rng)
            _PAGES[f"/feeds/{f}.xml"] = rss_feed(articles, base).encode()
            for a in articles:
                _PAGES[f"/news/{a.slug}.html"] = article_page(a, articles[:4]).encode()
            self.feed_urls.append(f"{base}/feeds/{f}.xml")
        for server in self.servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


_PAGES: dict[str, bytes] = {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802
        data = _PAGES.get(self.path)
        if data is None:
            self.send_error(404)
            return
        etag = '"' + hashlib.md5(data).hexdigest() + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header(
            "Content-Type",
            "text/html; charset=utf-8" if self.path.endswith("html") else "application/rss+xml; charset=utf-8",
        )
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _cycle(settings: Settings, store: Store, watcher: RuleWatcher) -> tuple[float, dict[str, int]]:
    started = time.perf_counter()
    results = asyncio.run(run_cycle(settings, store, watcher.current, due_only=False))
    elapsed = time.perf_counter() - started
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    counts["new"] = sum(r.new for r in results)
    return elapsed, counts


def run(feeds: int, entries: int, full_text: bool, folder: Path, hosts: int) -> None:
    site = _Site(feeds, entries, hosts)
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{folder / f'bench-{feeds}-{full_text}.db'}"),
        fetch=FetchSettings(allow_private=True, full_text=full_text),
        rules=RulesSettings(paths=(ROOT / "rules",)),
        feeds=tuple(FeedSettings(url=u, name=f"feed-{i}") for i, u in enumerate(site.feed_urls)),
    )
    watcher = RuleWatcher(settings)
    store = Store.open(settings.database.url)
    store.sync_feeds(settings.feeds)
    first, counts1 = _cycle(settings, store, watcher)
    second, counts2 = _cycle(settings, store, watcher)
    matches = len(store.list_matches())
    store.close()
    site.close()
    label = "full text" if full_text else "feed text only"
    print(
        f"| {feeds} feeds × {entries} entries on {hosts} hosts, {label} | first poll {first:.1f} s ({counts1['new'] / first:.0f} "
        f"entries/s, {counts1}) | second poll {second:.2f} s ({counts2}) | {matches} matches |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--full-text-feeds", type=int, default=50, help="feeds for the full-text run (0: skip)")
    parser.add_argument("--hosts", type=int, default=25, help="loopback hosts the feeds are spread over")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(args.feeds, args.entries, False, Path(tmp), args.hosts)
        if args.full_text_feeds:
            run(args.full_text_feeds, args.entries, True, Path(tmp), args.hosts)
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
