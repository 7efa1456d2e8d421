"""Poll-cycle benchmark, side by side with lemon24/reader: the same loopback feeds, a first poll and an all-304 one.

Run: ``.venv/bin/python benchmarks/bench_poll.py --against-reader [--sizes 500x20,5000x20] [--full-text-feeds 25]``.
Without ``--against-reader`` only monitor runs. Every party is a process of its own, so none competes with
another for an interpreter: the loopback sites (``poll_site.py``, H addresses 127.0.0.1 …), reader (in a venv of
its own, ``--reader-venv``, made with ``pip install reader`` when missing: reader is never a dependency of
monitor) and monitor, one after the other on fresh SQLite files. Fair terms: reader's ``update_feeds(workers=16)``
against monitor's ``[fetch] concurrency = 16``; full text off for both. Monitor's poll also matches every entry
with the shipped rules, detects its language, computes story keys and plans deliveries for a routed channel (the
outbox), none of which reader does. During monitor's first poll a probe measures the event loop's lag (how late a
10 ms sleep wakes), and the loop's own thread's CPU time is reported beside the process's.

The full-text part is monitor alone: a first poll of ``--full-text-feeds`` feeds of 20 entries with their pages
fetched and extracted, against the extraction pool alone on the same pages (the floor); both start their
extraction workers before the clock (a daemon's pool outlives its polls). Its pages are real ones
when the evaluation data is there: the extraction benchmark's 181 article pages (``$MONITOR_EVAL_DIR`` or
``../shared/eval``, taken in turn; tens of ms each to extract, as the web's pages are), else the synthetic seed
pages (2 ms each: the ratio then measures monitor's per-entry overhead more than extraction). The result line says
which ran (``poll_site.page_source``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

__all__ = ["full_text_report", "main", "side_by_side"]

READER_VENV = HERE / ".reader-venv"
WORKERS = 16


@contextmanager
def serve(feeds: int, entries: int, hosts: int, page_feeds: int) -> Iterator[list[str]]:
    """The loopback sites in a process of their own while the block runs; yields the feed URLs."""
    args = [sys.executable, str(HERE / "poll_site.py"), str(feeds), str(entries), str(hosts), str(page_feeds)]
    with subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as site:
        try:
            assert site.stdout is not None
            yield json.loads(site.stdout.readline())
        finally:
            assert site.stdin is not None
            site.stdin.close()
            site.wait(10)


def reader_python(venv: Path) -> Path:
    """The venv's python, the venv made and ``reader`` installed in it when missing."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = "import reader, reader._vendor.feedparser.sgml"
    if subprocess.run([str(python), "-c", probe], capture_output=True).returncode:
        # reader's vendored feedparser imports ``sgmllib``; the feedparser release pip picks may not bring it
        subprocess.run([str(python), "-m", "pip", "install", "-q", "reader", "sgmllib3k"], check=True)
    return python


def _side(argv: list[str]) -> dict[str, Any]:
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run_reader(python: Path, urls_file: Path, folder: Path) -> dict[str, Any]:
    db = folder / f"reader-{time.monotonic_ns()}.sqlite"
    return _side([str(python), str(HERE / "reader_side.py"), str(urls_file), str(db), str(WORKERS)])


def run_monitor(urls_file: Path, folder: Path, full_text: bool) -> dict[str, Any]:
    db = folder / f"monitor-{time.monotonic_ns()}.db"
    return _side([sys.executable, __file__, "--monitor-side", str(urls_file), str(db), str(int(full_text))])


# ---- monitor's side (in its own process) ----


async def _lag_probe(lags: list[float], stop: asyncio.Event, period: float = 0.01) -> None:
    """How late a ``period`` sleep wakes, again and again until ``stop``: the event loop's lag."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(period)
        lags.append(time.perf_counter() - started - period)


def _percentile(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def monitor_side(urls_file: Path, db: Path, full_text: bool) -> None:
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
    from monitor.store import Store

    urls = json.loads(urls_file.read_text())
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{db}"),
        fetch=FetchSettings(allow_private=True, full_text=full_text, concurrency=WORKERS),
        rules=RulesSettings(paths=(ROOT / "rules",)),
        feeds=tuple(FeedSettings(url=u, name=f"feed-{i}") for i, u in enumerate(urls)),
        # A routed channel, so the poll plans deliveries (the outbox); nothing is sent in this benchmark.
        channels={"chat": ChannelSettings(urls=("json://127.0.0.1:9/alerts",))},
        routes=(RouteSettings(channels=("chat",)),),
    )
    watcher = RuleWatcher(settings)
    # With full text, the pool's workers are started before the clock, as the pool alone's are (pool_side): the
    # ratio compares the poll with extraction, not with the workers' start-up (imports, language model: ~1.5 s).
    fetch = settings.fetch
    extractor = ExtractorPool(fetch.extract_processes, timeout=fetch.extract_timeout) if full_text else None
    if extractor is not None:
        extractor.map(_pages(urls[:1])[:4])
    store = Store.open(settings.database.url)
    store.sync_feeds(settings.feeds)

    async def idle_lag() -> list[float]:  # the machine's own share of the lag: the probe alone, no poll
        lags: list[float] = []
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(2.0, stop.set)
        await _lag_probe(lags, stop)
        return lags

    async def cycle(probe: bool) -> tuple[float, float, tuple[float, float], list[Any], list[float]]:
        lags: list[float] = []
        stop = asyncio.Event()
        task = asyncio.create_task(_lag_probe(lags, stop)) if probe else None
        started, cpu, loop_cpu = time.perf_counter(), time.process_time(), time.thread_time()
        workers_cpu = _workers_cpu(extractor)
        results = await run_cycle(settings, store, watcher.current, due_only=False, extractor=extractor)
        elapsed, cpu, loop_cpu = (
            time.perf_counter() - started,
            time.process_time() - cpu,
            time.thread_time() - loop_cpu,  # the event loop's own thread (the probe's wake-ups included)
        )
        workers_cpu = _workers_cpu(extractor) - workers_cpu
        stop.set()
        if task is not None:
            await task
        return elapsed, cpu, (loop_cpu, workers_cpu), results, lags

    idle = asyncio.run(idle_lag())
    first, first_cpu, (first_loop_cpu, workers_cpu), results, lags = asyncio.run(cycle(True))
    second, second_cpu, _, results2, _ = asyncio.run(cycle(False))
    statuses = sorted({r.status for r in results2})
    out = {
        "first": first,
        "second": second,
        "first_cpu": first_cpu,
        "second_cpu": second_cpu,
        "first_loop_cpu": first_loop_cpu,
        "workers_cpu": workers_cpu,  # the extraction workers' during the first poll (full text)
        "idle_lag_p99_ms": 1000 * _percentile(idle, 0.99),
        "entries": sum(r.new for r in results),
        "errors": [sum(r.status == "error" for r in rs) for rs in (results, results2)],
        "second_statuses": statuses,
        "matches": len(store.list_matches()),
        "articles": store.count_articles(),
        "lag_p99_ms": 1000 * _percentile(lags, 0.99),
        "lag_max_ms": 1000 * max(lags, default=0.0),
    }
    store.close()
    if extractor is not None:
        extractor.close()
    print(json.dumps(out))


def _pages(urls: list[str]) -> list[tuple[bytes, str]]:
    """The pages of the feeds' entries: (bytes, URL), fetched one by one."""
    from monitor.feeds import parse_feed

    pages = []
    for url in urls:
        with urllib.request.urlopen(url) as response:
            parsed = parse_feed(response.read(), url, {})
        for entry in parsed.entries:
            with urllib.request.urlopen(entry.url) as response:
                pages.append((response.read(), entry.url))
    return pages


def pool_side(urls_file: Path) -> None:
    """The extraction pool alone on the full-text feeds' pages: their bytes fetched first, then timed."""
    from monitor.extractpool import ExtractorPool

    pages = _pages(json.loads(urls_file.read_text()))
    with ExtractorPool() as pool:
        pool.map(pages[:4])  # start the workers (imports, language model) before the clock
        started, cpu = time.perf_counter(), _workers_cpu(pool)
        pool.map(pages)
        elapsed, cpu = time.perf_counter() - started, _workers_cpu(pool) - cpu
    print(json.dumps({"pages": len(pages), "seconds": elapsed, "workers_cpu": cpu}))


def _workers_cpu(pool: Any) -> float:
    """CPU seconds the extraction pool's worker processes have used so far (Linux's /proc; 0 elsewhere): the
    extraction's own CPU, which the machine's other load does not change as it changes wall times."""
    total = 0.0
    for pid in getattr(getattr(pool, "_executor", None), "_processes", None) or {}:
        try:  # the fields after the command's closing parenthesis: utime and stime are the 12th and 13th
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


# ---- the driver ----


def side_by_side(
    feeds: int, entries: int, *, hosts: int, reader: Path | None, folder: Path, runs: int
) -> dict[str, list[dict[str, Any]]]:
    """``runs`` rounds of reader then monitor on the same sites; each round's results."""
    out: dict[str, list[dict[str, Any]]] = {"reader": [], "monitor": []}
    with serve(feeds, entries, hosts, 0) as urls:
        urls_file = folder / f"urls-{feeds}.json"
        urls_file.write_text(json.dumps(urls))
        for _ in range(runs):
            if reader is not None:
                out["reader"].append(run_reader(reader, urls_file, folder))
            out["monitor"].append(run_monitor(urls_file, folder, full_text=False))
    return out


def full_text(feeds: int, entries: int, *, hosts: int, folder: Path, runs: int) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"monitor": [], "pool": []}
    with serve(feeds, entries, hosts, feeds) as urls:
        urls_file = folder / f"urls-full-{feeds}.json"
        urls_file.write_text(json.dumps(urls))
        for _ in range(runs):
            out["pool"].append(_side([sys.executable, __file__, "--pool-side", str(urls_file)]))
            out["monitor"].append(run_monitor(urls_file, folder, full_text=True))
    return out


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(r[key]) for r in rows)


def report(size: str, result: dict[str, list[dict[str, Any]]]) -> str:
    mon = result["monitor"]
    line = (
        f"| {size} | monitor first {_median(mon, 'first'):.2f} s ({_median(mon, 'entries'):.0f} entries, "
        f"{_median(mon, 'matches'):.0f} matches), all-304 {_median(mon, 'second'):.3f} s, "
        f"loop lag p99 {_median(mon, 'lag_p99_ms'):.1f} ms (max {_median(mon, 'lag_max_ms'):.0f} ms, idle loop "
        f"{_median(mon, 'idle_lag_p99_ms'):.1f} ms), CPU first {_median(mon, 'first_cpu'):.2f} s (event-loop "
        f"thread {_median(mon, 'first_loop_cpu'):.2f} s), all-304 {_median(mon, 'second_cpu'):.3f} s"
    )
    if result.get("reader"):
        rd = result["reader"]
        line += (
            f" | reader first {_median(rd, 'first'):.2f} s ({_median(rd, 'entries'):.0f} entries), "
            f"all-304 {_median(rd, 'second'):.3f} s, CPU first {_median(rd, 'first_cpu'):.2f} s, all-304 "
            f"{_median(rd, 'second_cpu'):.3f} s | first x{_median(mon, 'first') / _median(rd, 'first'):.2f}, "
            f"all-304 x{_median(mon, 'second') / _median(rd, 'second'):.2f} (CPU: "
            f"x{_median(mon, 'first_cpu') / _median(rd, 'first_cpu'):.2f}, "
            f"x{_median(mon, 'second_cpu') / _median(rd, 'second_cpu'):.2f})"
        )
    return line + f" | runs: {json.dumps(result)}"


def matcher_row() -> str:
    """The matcher's goal row from ``bench_rules.goal_row`` (shipped rules + 10,000 synthetic, one core)."""
    sys.path.insert(0, str(HERE))
    import bench_rules

    goal_row = getattr(bench_rules, "goal_row", None)
    if goal_row is None:
        return "| matcher | bench_rules has no goal_row |"
    row = goal_row()
    return (
        f"| matcher, shipped + 10,000 synthetic rules | {row['aps']:.0f} articles/s on one core (goal >= 1,000) | "
        f"x{row['vs_bare_norm']:.2f} the bare automaton pass with normalisation (goal <= 3) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against-reader", action="store_true", help="run reader on the same feeds")
    parser.add_argument("--sizes", default="500x20,5000x20", help="FEEDSxENTRIES, comma-separated ('': none)")
    parser.add_argument("--full-text-feeds", type=int, default=25, help="feeds of the full-text part (0: skip)")
    parser.add_argument("--hosts", type=int, default=25, help="loopback addresses the feeds are spread over")
    parser.add_argument("--runs", type=int, default=1, help="rounds per size (the report gives medians)")
    parser.add_argument("--reader-venv", type=Path, default=READER_VENV)
    parser.add_argument("--matcher", action="store_true", help="also the matcher's throughput row (bench_rules)")
    parser.add_argument("--monitor-side", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--pool-side", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.monitor_side:
        urls, db, text = args.monitor_side
        monitor_side(Path(urls), Path(db), text == "1")
        return
    if args.pool_side:
        pool_side(Path(args.pool_side))
        return
    if args.matcher:
        print(matcher_row(), flush=True)
    reader = reader_python(args.reader_venv) if args.against_reader else None
    with tempfile.TemporaryDirectory() as tmp:
        for size in filter(None, args.sizes.split(",")):
            feeds, entries = (int(n) for n in size.split("x"))
            result = side_by_side(feeds, entries, hosts=args.hosts, reader=reader, folder=Path(tmp), runs=args.runs)
            print(report(size, result), flush=True)
        if args.full_text_feeds:
            sys.path.insert(0, str(HERE))
            from poll_site import page_source

            ft = full_text(args.full_text_feeds, 20, hosts=args.hosts, folder=Path(tmp), runs=args.runs)
            print(full_text_report(f"{args.full_text_feeds}x20, {page_source()} pages", ft), flush=True)


def full_text_report(size: str, ft: dict[str, list[dict[str, Any]]]) -> str:
    """The full-text line: throughputs, the ratio of each round (monitor / the pool alone, run back to back, so
    the machine's load changes less between them) and its median; CPU per page of the extraction workers (in the
    poll and alone) and of monitor's own process."""
    mon, pool = ft["monitor"], ft["pool"]
    rate = _median(mon, "entries") / _median(mon, "first")
    floor = _median(pool, "pages") / _median(pool, "seconds")
    ratios = [(m["entries"] / m["first"]) / (p["pages"] / p["seconds"]) for m, p in zip(mon, pool, strict=True)]
    per_page = {  # ms of CPU per page or entry
        "workers, in the poll": 1000 * _median(mon, "workers_cpu") / _median(mon, "entries"),
        "workers, alone": 1000 * _median(pool, "workers_cpu") / _median(pool, "pages"),
        "monitor's process": 1000 * _median(mon, "first_cpu") / _median(mon, "entries"),
    }
    return (
        f"| full text, {size} | monitor first {_median(mon, 'first'):.2f} s, {rate:.1f} entries/s (CPU "
        f"{_median(mon, 'first_cpu'):.1f} s, event-loop thread {_median(mon, 'first_loop_cpu'):.1f} s, loop lag p99 "
        f"{_median(mon, 'lag_p99_ms'):.0f} ms) | extraction pool alone {floor:.1f} pages/s | "
        f"{statistics.median(ratios):.0%} of the pool (rounds: {', '.join(f'{r:.0%}' for r in ratios)}) | CPU ms per "
        f"page: {', '.join(f'{k} {v:.1f}' for k, v in per_page.items())} | runs: {json.dumps(ft)}"
    )


if __name__ == "__main__":
    main()
