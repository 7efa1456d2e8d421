"""Retention and copy benchmark (issue 17): how fast ``[store] keep_articles`` prunes and ``monitor db copy`` copies,
and how long one prune batch holds its transaction (what a poll's write may wait for).

A store is filled in bulk (no poll: the rows only, as the pipeline leaves them) with ``--articles`` articles fetched
evenly over the last 300 days, each its own story with 24 story keys and about 2,000 characters of text (a
full-text article), 1 in 100 matched with a sent delivery. Then, timed:

1. a prune with a 180-day retention (about 40% of the articles go): wall time, this process's CPU time, articles
   per second, and the longest and the median batch (one transaction each);
2. the next prune, which removes the stories the first one emptied;
3. ``copy_store`` of the pruned store into an empty database: rows per second, verified.

The database is SQLite (a temporary file) unless ``--postgres URL`` is given (a fresh schema there, dropped after);
the copy goes SQLite -> PostgreSQL when both are at hand (``--postgres`` with ``--copy-from-sqlite``), else into a
second database of the same kind. PostgreSQL's own CPU is not counted (another process): its wall time is.

Usage: ``python benchmarks/bench_retention.py [--articles 100000] [--postgres URL] [--copy-from-sqlite] [--write]``;
``--write`` replaces the "## Retention and copy (issue 17)" section of docs/benchmarks.md with the run's table.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from benchmarks.docs_section import write_section  # noqa: E402
from monitor.clock import now_utc  # noqa: E402
from monitor.retention import cutoff  # noqa: E402
from monitor.store import PruneReport, Store  # noqa: E402
from monitor.store.copy import copy_store  # noqa: E402
from monitor.store.retention import PRUNE_BATCH  # noqa: E402
from monitor.store.tables import metadata  # noqa: E402

__all__ = ["main"]

HEADING = "Retention and copy (issue 17)"
_CHUNK = 1000
_KEEP = 180 * 86400.0
_SPAN = timedelta(days=300)
_WORDS = (
    "ministry council provincial harvest market football weather festival bridge school hospital budget rice "
    "exports tourism airport railway election assembly court river flood season prices bank the of and to in a "
    "said on for with was is by that at as from his her it be has have were are will new more than after year "
    "officials police government minister people city province week monday tuesday report percent million"
).split()


def _fill(store: Store, articles: int, now: datetime) -> None:
    """``articles`` articles over the last 300 days, one story each with 24 keys; 1 in 100 matched and alerted."""
    engine = store._live_engine()  # a benchmark's bulk load; the application writes through the store's methods
    tables = metadata.tables
    step = _SPAN / articles
    rng = random.Random(17)
    with engine.begin() as conn:
        feed = {"id": 1, "name": "bench", "url": "https://news.example/feed", "tags": [], "created_at": now}
        conn.execute(insert(tables["feeds"]), [feed])
        for start in range(0, articles, _CHUNK):
            ids = range(start + 1, min(articles, start + _CHUNK) + 1)
            when = {i: now - step * (articles - i) for i in ids}
            conn.execute(insert(tables["stories"]), [{"id": i, "created_at": when[i], "title": f"t{i}"} for i in ids])
            conn.execute(
                insert(tables["story_keys"]),
                [{"key": i * 100 + k, "story_id": i} for i in ids for k in range(24)],
            )
            texts = {i: " ".join(rng.choices(_WORDS, k=330)) for i in ids}  # about 2,000 characters each
            conn.execute(insert(tables["articles"]), [_article(i, when[i], texts[i]) for i in ids])
            conn.execute(insert(tables["entries"]), [{"feed_id": 1, "key": f"guid-{i}"} for i in ids])
            matched = [i for i in ids if i % 100 == 0]
            if matched:
                conn.execute(insert(tables["matches"]), [_match(i, when[i]) for i in matched])
                conn.execute(
                    insert(tables["deliveries"]),
                    [
                        {
                            "match_id": None,
                            "channel": "chat",
                            "story_id": i,
                            "rule_id": "r1",
                            "status": "sent",
                            "created_at": when[i],
                        }
                        for i in matched
                    ],
                )
        if engine.dialect.name == "postgresql":  # the ids were given: move the sequences on, as db copy does
            for table in ("feeds", "stories", "articles", "matches", "deliveries"):
                conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
                )


def _article(i: int, when: datetime, body: str) -> dict[str, Any]:
    return {
        "id": i,
        "canonical_url": f"https://news.example/{i}.html",
        "url": f"https://news.example/{i}.html",
        "content_hash": f"{i:064x}",
        "title": f"Article {i}",
        "text": body,
        "published": when,
        "lang": "en",
        "feed_id": 1,
        "feed_name": "bench",
        "story_id": i,
        "fetched_at": when,
        "extracted": True,
        "owned": True,
        "furniture": "",
    }


def _match(i: int, when: datetime) -> dict[str, Any]:
    return {
        "article_id": i,
        "rule_id": "r1",
        "rule_version": "1",
        "severity": "high",
        "tags": [],
        "hits": [],
        "snippet": "",
        "story_id": i,
        "matched_at": when,
    }


@contextmanager
def _database(postgres: str | None, folder: Path, name: str) -> Iterator[str]:
    """The URL of an empty database: a SQLite file in ``folder``, or a fresh schema of ``postgres`` (dropped after)."""
    if not postgres:
        yield f"sqlite:///{folder / (name + '.db')}"
        return
    schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield make_url(postgres).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _size(store: Store, url: str) -> int:
    """Bytes the database takes: tables, indexes and TOAST (PostgreSQL), or the file (SQLite, checkpointed)."""
    if store.dialect == "sqlite":
        with store._live_engine().connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # the bulk load's pages into the file
        return Path(make_url(url).database or "").stat().st_size
    with store._live_engine().connect() as conn:
        size = conn.execute(
            text(
                "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            )
        ).scalar_one()
    return int(size or 0)


def _timed_prune(store: Store, now: datetime) -> tuple[PruneReport, float, float, list[float]]:
    """A prune's report, wall and CPU seconds, and each batch's seconds (its transaction, select to commit)."""
    batches: list[float] = []
    mark = [time.perf_counter()]

    def progress(_report: PruneReport) -> None:
        moment = time.perf_counter()
        batches.append(moment - mark[0])
        mark[0] = moment

    wall, cpu = time.perf_counter(), time.process_time()
    report = store.prune_articles(cutoff(now, _KEEP), progress=progress)
    return report, time.perf_counter() - wall, time.process_time() - cpu, batches


def run(articles: int, postgres: str | None, copy_from_sqlite: bool, copy: bool = True) -> dict[str, Any]:
    """One fill, two prunes and a copy; the numbers of each."""
    now = now_utc()
    found: dict[str, Any] = {"articles": articles}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source_pg = postgres if not copy_from_sqlite else None
        with _database(source_pg, folder, "source") as url:
            with Store.open(url) as store:
                started = time.perf_counter()
                _fill(store, articles, now)
                found["fill seconds"] = time.perf_counter() - started
                found["bytes per article"] = _size(store, url) / articles
                report, wall, cpu, batches = _timed_prune(store, now)
                found.update(
                    {
                        "dialect": store.dialect,
                        "pruned": report.articles,
                        "kept": report.kept,
                        "story keys": report.story_keys,
                        "prune wall": wall,
                        "prune cpu": cpu,
                        "batches": report.batches,
                        "batch median": statistics.median(batches) if batches else 0.0,
                        "batch max": max(batches, default=0.0),
                    }
                )
                wall, cpu = time.perf_counter(), time.process_time()
                again = store.prune_articles(cutoff(now, _KEEP))
                found.update(
                    {"stories": again.stories, "stories wall": time.perf_counter() - wall},
                )
                found["stories cpu"] = time.process_time() - cpu
            if not copy:
                return found
            with _database(postgres, folder, "target") as target:
                wall, cpu = time.perf_counter(), time.process_time()
                copied = copy_store(url, target)
                found.update(
                    {
                        "copy": f"{_kind(url)} -> {_kind(target)}",
                        "copy rows": copied.rows,
                        "copy wall": time.perf_counter() - wall,
                        "copy cpu": time.process_time() - cpu,
                        "copy verified": copied.verified,
                    }
                )
    return found


def _kind(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgresql") else "SQLite"


def _table(found: dict[str, Any]) -> str:
    pruned = found["pruned"]
    lines = [
        "| step | result | wall | CPU (this process) | rate |",
        "|---|---|---|---|---|",
        f"| fill ({found['dialect']}) | {found['articles']:,} articles: {found['bytes per article']:,.0f} bytes "
        f"per article with its story, keys, entry and indexes | {found['fill seconds']:.1f} s | | |",
        f"| prune, 180 days kept ({found['dialect']}) | {pruned:,} articles and {found['story keys']:,} story keys "
        f"removed in {found['batches']} batches; {found['kept']:,} older kept (matched) "
        f"| {found['prune wall']:.1f} s | {found['prune cpu']:.1f} s | {pruned / found['prune wall']:,.0f} "
        "articles/s |",
        f"| one prune batch ({PRUNE_BATCH} articles, one transaction) | median {found['batch median'] * 1000:.0f} ms, "
        f"longest {found['batch max'] * 1000:.0f} ms | | | |",
        f"| next prune: the emptied stories | {found['stories']:,} stories removed "
        f"| {found['stories wall']:.1f} s | {found['stories cpu']:.1f} s | |",
    ]
    if "copy rows" in found:
        rows = found["copy rows"]
        lines.append(
            f"| `db copy` ({found['copy']}) | {rows:,} rows, verified: {found['copy verified']} "
            f"| {found['copy wall']:.1f} s | {found['copy cpu']:.1f} s | {rows / found['copy wall']:,.0f} rows/s |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--postgres", default=os.environ.get("MONITOR_BENCH_POSTGRES", ""), metavar="URL")
    parser.add_argument("--copy-from-sqlite", action="store_true", help="prune on SQLite, copy onto PostgreSQL")
    parser.add_argument("--skip-copy", action="store_true", help="fill and prune only")
    parser.add_argument("--write", action="store_true", help=f"replace '## {HEADING}' in docs/benchmarks.md")
    args = parser.parse_args(argv)
    found = run(args.articles, args.postgres or None, args.copy_from_sqlite and bool(args.postgres), not args.skip_copy)
    table = _table(found)
    print(table)
    if args.write:
        load = os.getloadavg()[0]
        section = (
            f"## {HEADING}\n\n"
            f"`benchmarks/bench_retention.py --articles {args.articles}`: {args.articles:,} articles over 300 days "
            "(each its own story with 24 story keys, about 2,000 characters; 1 in 100 matched and alerted), "
            f"{platform.python_implementation()} {platform.python_version()} on {os.cpu_count()} cores shared with "
            f"other work (load average {load:.1f} at the end). One run; CPU is this process's (the database "
            "server's is not counted).\n\n"
            f"{table}\n"
        )
        write_section(HEADING, section)
    return found


if __name__ == "__main__":
    main()
