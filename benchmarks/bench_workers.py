"""Several workers on one PostgreSQL: a first poll and an all-304 cycle with 1, 2 and 3 workers, and the time they
wait on locks; the full-text first poll with 1 and 2 workers (issue 17).

Run: ``.venv/bin/python benchmarks/bench_workers.py [--feeds 5000] [--entries 20] [--workers 1,2,3]
[--full-text-feeds 32] [--full-text-workers 1,2] [--database URL]``. The database defaults to
``MONITOR_TEST_DATABASE_URL``; each configuration gets a fresh schema of its own, dropped afterwards. The loopback
sites are ``poll_site.py`` in a process of their own (as ``bench_poll.py`` serves them). Each worker is a process of
its own that polls the way ``monitor run`` does, without its tick: it keeps ``[fetch] concurrency`` polls running,
claiming due feeds for them as slots free (``pipeline.due_feeds``: ``FOR UPDATE SKIP LOCKED`` claims), until no feed
is due and none of its polls runs. Every worker is started and warm (imports, extraction pool, rules) before the
clock starts, on a signal, for all at once. A cycle ends when the last worker is done. After the first cycle every
feed is made due again (``next_poll`` and claims cleared) for the all-304 cycle.

Lock waits, two ways: each worker times its story-lock statements (``ArticleStore._lock_batch_story_keys``: the one
statement that takes a writer batch's advisory locks), and a sampler reads ``pg_stat_activity`` every 0.1 s during
the first cycle, counting the workers' sessions waiting on a lock (``wait_event_type = 'Lock'``, by event: advisory,
transactionid, tuple...), which gives an estimate of session-seconds spent waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from bench_poll import WORKERS, serve  # noqa: E402

__all__ = ["main", "measure"]

DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
APP = "bench-workers"  # the workers' application_name, so the sampler counts only their sessions
SAMPLE = 0.1  # seconds between two looks at pg_stat_activity


# ---- a worker (a process of its own) ----


def _settings(url: str, feeds: list[str], full_text: bool) -> Any:
    from monitor.config import (
        ChannelSettings,
        DatabaseSettings,
        FeedSettings,
        FetchSettings,
        RouteSettings,
        RulesSettings,
        Settings,
    )

    return Settings(
        database=DatabaseSettings(url=url),
        fetch=FetchSettings(allow_private=True, full_text=full_text, concurrency=WORKERS),
        rules=RulesSettings(paths=(ROOT / "rules",)),
        feeds=tuple(FeedSettings(url=u, name=f"feed-{i}") for i, u in enumerate(feeds)),
        # A routed channel, so the polls plan deliveries (the outbox); nothing is sent in this benchmark.
        channels={"chat": ChannelSettings(urls=("json://127.0.0.1:9/alerts",))},
        routes=(RouteSettings(channels=("chat",)),),
    )


def worker_side(url: str, feeds_file: Path, full_text: bool) -> None:
    """Wait for ``go`` on stdin, run one cycle, print its JSON line; again until stdin closes."""
    from monitor.api import Monitor
    from monitor.daemon import RuleWatcher
    from monitor.feedstate import parallel_polls
    from monitor.pipeline import FeedResult, due_feeds, poll_feed
    from monitor.store import Store
    from monitor.store.articles import ArticleStore

    lock_seconds = [0.0, 0]
    taking = ArticleStore._lock_batch_story_keys

    def timed(self: ArticleStore, keys: Any) -> None:
        started = time.perf_counter()
        try:
            taking(self, keys)
        finally:
            lock_seconds[0] += time.perf_counter() - started
            lock_seconds[1] += 1

    ArticleStore._lock_batch_story_keys = timed  # type: ignore[method-assign]
    settings = _settings(url, json.loads(feeds_file.read_text()), full_text)
    store = Store.open(url, migrate=False)
    watcher = RuleWatcher(settings)
    monitor = Monitor(settings, store, rules=watcher.current)

    async def cycle(ctx: Any) -> dict[str, Any]:
        lock_seconds[:] = [0.0, 0]
        started, cpu = time.perf_counter(), time.process_time()
        running: dict[int, asyncio.Task[FeedResult]] = {}
        results: list[FeedResult] = []
        while True:
            room = parallel_polls(settings) - len(running)
            if room > 0:
                for feed in await asyncio.to_thread(due_feeds, ctx, ctx.clock(), room, running.keys()):
                    running[feed.id] = asyncio.create_task(poll_feed(feed, ctx))
            if not running:
                break
            done, _ = await asyncio.wait(running.values(), timeout=0.05, return_when=asyncio.FIRST_COMPLETED)
            for feed_id, task in list(running.items()):
                if task in done:
                    results.append(task.result())
                    del running[feed_id]
        return {
            "seconds": time.perf_counter() - started,
            "cpu": time.process_time() - cpu,
            "feeds": len(results),
            "entries": sum(r.new for r in results),
            "errors": sum(r.status == "error" for r in results),
            "not_modified": sum(r.status == "not_modified" for r in results),
            "lock_seconds": lock_seconds[0],
            "lock_statements": lock_seconds[1],
        }

    async def main() -> None:
        async with monitor.session() as ctx:
            print("ready", flush=True)
            for line in sys.stdin:
                if line.strip() != "go":
                    break
                print(json.dumps(await cycle(ctx)), flush=True)

    asyncio.run(main())
    store.close()


# ---- the driver ----


@contextmanager
def schema(base: str) -> Iterator[str]:
    """A fresh schema on ``base``, migrated and dropped afterwards; yields its URL (with the workers' name)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from monitor.store import Store

    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        url = (
            make_url(base)
            .update_query_dict({"options": f"-csearch_path={name}", "application_name": APP})
            .render_as_string(hide_password=False)
        )
        Store.open(url).close()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


class Sampler:
    """Counts the workers' sessions waiting on a lock in ``pg_stat_activity``, every ``SAMPLE`` s, while on."""

    def __init__(self, base: str) -> None:
        from sqlalchemy import create_engine

        self._engine = create_engine(base)
        self.waits: Counter[str] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._engine.dispose()

    def _run(self) -> None:
        from sqlalchemy import text

        query = text(
            "SELECT wait_event, count(*) FROM pg_stat_activity WHERE application_name = :app "
            "AND state = 'active' AND wait_event_type = 'Lock' GROUP BY wait_event"
        )
        with self._engine.connect() as conn:
            while not self._stop.wait(SAMPLE):
                for event, count in conn.execute(query, {"app": APP}):
                    self.waits[str(event)] += int(count)
                self.samples += 1
                conn.commit()

    def seconds(self) -> dict[str, float]:
        """Estimated session-seconds spent waiting, by lock kind."""
        return {event: round(count * SAMPLE, 1) for event, count in self.waits.items()}


def _reset_feeds(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE feeds SET next_poll = NULL, claimed_by = NULL, claimed_until = NULL"))
    finally:
        engine.dispose()


def _counts(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM articles), (SELECT count(DISTINCT canonical_url) FROM articles), "
                    "(SELECT count(*) FROM matches), (SELECT count(*) FROM deliveries)"
                )
            ).one()
    finally:
        engine.dispose()
    return dict(zip(("articles", "distinct_urls", "matches", "deliveries"), map(int, row), strict=True))


def measure(base: str, urls: list[str], workers: int, *, full_text: bool, folder: Path) -> dict[str, Any]:
    """A first cycle (with the lock sampler) and an all-304 cycle of ``workers`` workers on a fresh schema."""
    from monitor.store import Store

    feeds_file = folder / f"feeds-{len(urls)}.json"
    feeds_file.write_text(json.dumps(urls))
    with schema(base) as url:
        with Store.open(url, migrate=False) as store:
            store.sync_feeds(_settings(url, urls, full_text).feeds)
        argv = [sys.executable, __file__, "--worker-side", url, str(feeds_file), str(int(full_text))]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        procs = [
            subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
            for _ in range(workers)
        ]
        try:
            for proc in procs:
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            with Sampler(base) as sampler:
                first = _cycle(procs)
            _reset_feeds(url)
            second = _cycle(procs)
        finally:
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.close()
            for proc in procs:
                proc.wait(60)
        counts = _counts(url)
    return {
        "workers": workers,
        "full_text": full_text,
        "first": first,
        "second": second,
        "lock_waits_sampled": sampler.seconds(),
        "samples": sampler.samples,
        "stored": counts,
    }


def _cycle(procs: list[subprocess.Popen[str]]) -> dict[str, Any]:
    started = time.perf_counter()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    per_worker = []
    for proc in procs:
        assert proc.stdout is not None
        per_worker.append(json.loads(proc.stdout.readline()))
    return {"seconds": time.perf_counter() - started, "per_worker": per_worker}


def _line(result: dict[str, Any]) -> str:
    first, second = result["first"], result["second"]
    entries = sum(w["entries"] for w in first["per_worker"])
    cpu = sum(w["cpu"] for w in first["per_worker"])
    lock = sum(w["lock_seconds"] for w in first["per_worker"])
    return (
        f"| {result['workers']} | {'full text' if result['full_text'] else 'feed text'} | "
        f"first {first['seconds']:.1f} s, {entries} entries, {entries / first['seconds']:.1f} articles/s "
        f"(workers' CPU {cpu:.1f} s; feeds per worker {[w['feeds'] for w in first['per_worker']]}) | "
        f"all-304 {second['seconds']:.2f} s (CPU {sum(w['cpu'] for w in second['per_worker']):.1f} s) | "
        f"story-lock statements {lock:.2f} s in all | sampled lock waits {result['lock_waits_sampled']} | "
        f"stored {result['stored']} | runs: {json.dumps(result)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=5000)
    parser.add_argument("--entries", type=int, default=20, help="entries per feed")
    parser.add_argument("--hosts", type=int, default=25, help="loopback addresses the feeds are spread over")
    parser.add_argument("--workers", default="1,2,3", help="worker counts, comma-separated")
    # Two workers' worth of polls (2 x concurrency 16): each worker's first claim takes its share at once.
    parser.add_argument("--full-text-feeds", type=int, default=32, help="feeds of the full-text part (0: skip)")
    parser.add_argument("--full-text-workers", default="1,2")
    parser.add_argument("--database", default=os.environ.get("MONITOR_TEST_DATABASE_URL") or DEFAULT_DATABASE)
    parser.add_argument("--worker-side", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_side:
        url, feeds_file, text = args.worker_side
        worker_side(url, Path(feeds_file), text == "1")
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.feeds:
            with serve(args.feeds, args.entries, args.hosts, 0) as urls:
                for count in (int(n) for n in args.workers.split(",")):
                    print(_line(measure(args.database, urls, count, full_text=False, folder=Path(tmp))), flush=True)
        if args.full_text_feeds:
            with serve(args.full_text_feeds, 20, args.hosts, args.full_text_feeds) as urls:
                for count in (int(n) for n in args.full_text_workers.split(",")):
                    print(_line(measure(args.database, urls, count, full_text=True, folder=Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
