"""Operator views on a big store: a ``/metrics`` scrape, the Feeds page and the Deliveries page, server side.

A SQLite store is filled in bulk (no poll: the rows only, as the pipeline would leave them) with 100,000 articles
over 60 days from 200 feeds, 20,000 matches of 20 rules and 30,000 deliveries to 3 channels. Each view is then
requested through the app (FastAPI's TestClient: routing, the store's queries, rendering) ``--rounds`` times after
a warm-up; the median and p95 of the wall time are reported, with the store's own part alone for the scrape
(``Store.store_counts``) and the Feeds page (``Store.feed_activity``).

Usage: ``python benchmarks/bench_ops.py [--rounds 20] [--write]``; ``--write`` replaces the "## Operator views"
section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from benchmarks.docs_section import write_section  # noqa: E402
from monitor.api import Monitor  # noqa: E402
from monitor.clock import now_utc  # noqa: E402
from monitor.config import DatabaseSettings, Settings  # noqa: E402
from monitor.rules import RuleSet  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.store.tables import metadata  # noqa: E402
from monitor.web import create_app  # noqa: E402

ARTICLES, MATCHES, DELIVERIES, FEEDS, RULES = 100_000, 20_000, 30_000, 200, 20
DAYS = 60


def fill(store: Store) -> None:
    """The rows, inserted in bulk in one transaction."""
    now = now_utc()
    tables = metadata.tables
    feeds = [
        {
            "id": i + 1,
            "name": f"feed-{i:03d}",
            "url": f"https://site{i}.example/feed",
            "tags": [],
            "enabled": True,
            "source": "config",
            "last_status": "error" if i % 17 == 0 else "ok",
            "last_success": now - timedelta(minutes=i % 30),
            "last_polled": now - timedelta(minutes=i % 30),
            "next_poll": now + timedelta(minutes=15),
            "consecutive_failures": 3 if i % 17 == 0 else 0,
            "blocked_requests": 0,
            "created_at": now - timedelta(days=DAYS),
        }
        for i in range(FEEDS)
    ]
    step = timedelta(days=DAYS) / ARTICLES
    stories = [{"id": i + 1, "created_at": now, "title": f"Story {i}"} for i in range(ARTICLES)]
    articles = [
        {
            "id": i + 1,
            "canonical_url": f"https://site{i % FEEDS}.example/a/{i}",
            "url": f"https://site{i % FEEDS}.example/a/{i}",
            "content_hash": f"h{i}",
            "title": f"Article {i}",
            "text": "Police raided a compound in Poipet on Monday. " * 8,
            "published": now - step * (ARTICLES - 1 - i),  # stored oldest first, as a poll would
            "lang": "en",
            "feed_id": i % FEEDS + 1,
            "feed_name": f"feed-{i % FEEDS:03d}",
            "story_id": i + 1,
            "fetched_at": now - step * (ARTICLES - 1 - i),
            "extracted": True,
            "owned": True,
            "furniture": "",
        }
        for i in range(ARTICLES)
    ]
    matches = [
        {
            "id": i + 1,
            "article_id": i * (ARTICLES // MATCHES) + 1,
            "rule_id": f"rule-{i % RULES:02d}",
            "rule_version": "v1",
            "severity": "high",
            "tags": [],
            "hits": [],
            "snippet": "Police raided a compound",
            "story_id": i * (ARTICLES // MATCHES) + 1,
            "matched_at": now - step * i * (ARTICLES // MATCHES),
        }
        for i in range(MATCHES)
    ]
    channels = ("chat", "email", "pager")
    deliveries = [
        {
            "id": i + 1,
            "match_id": i % MATCHES + 1,
            "channel": channels[i // MATCHES],
            "story_id": i % MATCHES * (ARTICLES // MATCHES) + 1,
            "rule_id": f"rule-{i % RULES:02d}",
            "mode": "immediate",
            "status": "failed" if i % 50 == 0 else ("pending" if i % 7 == 0 else "sent"),
            "attempts": 1,
            "last_error": "HTTP 500" if i % 50 == 0 else None,
            "created_at": now - step * i,
        }
        for i in range(DELIVERIES)
    ]
    with store._write("benchmark fill") as conn:
        for name, rows in (
            ("feeds", feeds),
            ("stories", stories),
            ("articles", articles),
            ("matches", matches),
            ("deliveries", deliveries),
        ):
            conn.execute(insert(tables[name]), rows)


def timed(call: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Median and p95 of ``rounds`` calls after two warm-up calls, in milliseconds."""
    call()
    call()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * len(times)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--write", action="store_true", help="replace the section in docs/benchmarks.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database=DatabaseSettings(url=f"sqlite:///{Path(folder) / 'bench.db'}"))
        monitor = Monitor(settings, rules=RuleSet(()))
        started = time.perf_counter()
        fill(monitor.store)
        filled = time.perf_counter() - started
        client = TestClient(create_app(monitor))
        html = {"accept": "text/html"}

        def get(path: str, **headers: str) -> Callable[[], object]:
            def call() -> None:
                answer = client.get(path, headers=headers)
                assert answer.status_code == 200, (path, answer.status_code)

            return call

        rows = [
            ("`GET /metrics` (a scrape)", timed(get("/metrics"), args.rounds)),
            ("`Store.store_counts()` (its store part)", timed(monitor.store.store_counts, args.rounds)),
            ("`GET /feeds` (200 feeds)", timed(get("/feeds", **html), args.rounds)),
            (
                "`Store.feed_activity()` (its store part)",
                timed(lambda: monitor.store.feed_activity(now_utc()), args.rounds),
            ),
            ("`GET /deliveries` (newest 100)", timed(get("/deliveries", **html), args.rounds)),
            ("`GET /deliveries?status=failed`", timed(get("/deliveries?status=failed", **html), args.rounds)),
            ("`GET /api/v1/feeds`", timed(get("/api/v1/feeds"), args.rounds)),
        ]
        monitor.close()
    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at the end (other work on the machine inflates every number)"
    )
    lines = [
        "## Operator views",
        "",
        f"`python benchmarks/bench_ops.py --rounds {args.rounds}` on {machine}: a SQLite store with "
        f"{ARTICLES:,} articles over {DAYS} days from {FEEDS} feeds, {MATCHES:,} matches of {RULES} rules and "
        f"{DELIVERIES:,} deliveries (filled in {filled:.1f} s); each view requested through the app "
        "(TestClient: routing, queries, rendering), wall time in ms after a warm-up.",
        "",
        "| view | median | p95 |",
        "|---|---:|---:|",
        *(f"| {name} | {median:.1f} | {p95:.1f} |" for name, (median, p95) in rows),
        "",
    ]
    section = "\n".join(lines)
    print(section)
    if args.write:
        write_section("Operator views", section)


if __name__ == "__main__":
    main()
