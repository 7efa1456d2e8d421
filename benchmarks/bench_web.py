"""Web benchmark (issue 14): the Matches page, one filter and one search, server side, and a 30-day backtest of one
rule, on one SQLite store of 100,000 articles and 20,000 matches.

Run: ``.venv/bin/python benchmarks/bench_web.py [--articles 100000] [--matches 20000] [--requests 40] [--runs 3]
[--write]``. The store is filled once by ``benchmarks/bench_backtest.py``'s generator (articles fetched evenly over
the last 60 days, one in five a seed article of the demo on the shipped rules' topic, the rest everyday news filler;
matches of the shipped rules on random articles), then given what the pipeline stores beside a match and the pages
show (a snippet, a hit, tags, a sent delivery). Each run times ``--requests`` GETs of each page through the app in
process (FastAPI's TestClient: routing, store, rendering; no network) and reports their p95, and one backtest by its
CPU time (the machine is shared). ``--runs`` runs; the table gives the median of each number. ``--write`` puts it
into docs/benchmarks.md ("## Web app (issue 14)").
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402

from benchmarks.bench_backtest import _fill  # noqa: E402
from benchmarks.docs_section import write_section  # noqa: E402
from monitor.api import Monitor  # noqa: E402
from monitor.clock import now_utc  # noqa: E402
from monitor.config import DatabaseSettings, RulesSettings, Settings  # noqa: E402
from monitor.starter import SHIPPED_RULES  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.web import create_app  # noqa: E402

__all__ = ["main"]

RULE = "kh-scam-crackdown"
PAGES = {
    "Matches page (newest 50)": "/",
    f"filter: rule={RULE}": f"/?rule={RULE}",
    "search: q=ministry (a filler word: in most articles)": "/?q=ministry",
}
GOAL_MS = 200.0
GOAL_RATE = 2000.0

# What the pipeline stores beside a match and the pages show: the generator leaves them empty.
_DRESS = (
    "UPDATE matches SET snippet = (SELECT substr(a.text, 1, 300) FROM articles a WHERE a.id = matches.article_id), "
    "hits = (SELECT json_array(json_object('field', 'text', 'start', 0, 'end', 7, 'text', substr(a.text, 1, 7))) "
    'FROM articles a WHERE a.id = matches.article_id), tags = \'["cambodia", "scams"]\'',
    "INSERT OR IGNORE INTO deliveries (match_id, channel, story_id, rule_id, mode, status, attempts, created_at) "
    "SELECT id, 'chat', story_id, rule_id, 'immediate', 'sent', 1, matched_at FROM matches",
)


def build(url: str, articles: int, matches: int) -> None:
    """A new store at ``url`` with ``articles`` articles and ``matches`` matches, dressed as the pipeline's."""
    store = Store.open(url)
    try:
        _fill(store, articles, matches, now_utc())
        with store._write("benchmark dressing") as conn:  # noqa: SLF001 - a benchmark fills the store in bulk
            for statement in _DRESS:
                conn.execute(text(statement))
    finally:
        store.close()


def p95(run: Callable[[], object], requests: int) -> float:
    """The 95th percentile of ``requests`` timed calls, in ms."""
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[min(len(times) - 1, int(len(times) * 0.95))]


def one_run(monitor: Monitor, client: TestClient, requests: int) -> dict[str, float]:
    """p95 ms of each page, and the backtest's articles per CPU second and its wall seconds."""
    found: dict[str, float] = {}
    for name, path in PAGES.items():
        answer = client.get(path, headers={"accept": "text/html"})
        assert answer.status_code == 200, (path, answer.status_code)
        found[name] = p95(lambda p=path: client.get(p, headers={"accept": "text/html"}), requests)  # type: ignore[misc]
    cpu, wall = time.process_time(), time.perf_counter()
    result = monitor.backtest(rule=RULE, days=30, limit=100)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    found["backtest articles"] = result.scanned
    found["backtest rate"] = result.scanned / max(cpu, 1e-9)
    found["backtest wall"] = wall
    return found


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--matches", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=40, help="timed GETs of each page per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-web-") as folder:
        url = f"sqlite:///{folder}/monitor.db"
        start = time.perf_counter()
        build(url, args.articles, args.matches)
        print(f"built {args.articles:,} articles, {args.matches:,} matches in {time.perf_counter() - start:.0f} s")
        settings = Settings(database=DatabaseSettings(url=url), rules=RulesSettings(paths=(SHIPPED_RULES,)))
        with Monitor(settings) as monitor, TestClient(create_app(monitor)) as client:
            client.get("/")  # warm: rules loaded, templates compiled, the file in the page cache
            runs = []
            for n in range(args.runs):
                runs.append(one_run(monitor, client, args.requests))
                print(f"run {n + 1}: " + ", ".join(f"{k} {v:,.1f}" for k, v in runs[-1].items()), flush=True)
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    load = os.getloadavg()[0]
    table = _table(median, runs)
    print(table)
    print(f"load average at the end: {load:.1f} on {os.cpu_count()} cores")
    if args.write:
        intro = (
            f"`benchmarks/bench_web.py --runs {args.runs} --requests {args.requests}`: one SQLite store of "
            f"{args.articles:,} articles and {args.matches:,} matches (bench_backtest.py's generator: articles over "
            "the last 60 days, a fifth on the shipped rules' topic; each match with a snippet, a hit, tags and a sent "
            "delivery). Pages: p95 of the whole GET through the app in process (routing, store, rendering; server "
            "side, no network). Backtest: the shipped rule over the last 30 days, 100 items listed per kind, in "
            f"articles per CPU second. Median of {args.runs} runs, on a {os.cpu_count()}-core machine shared with "
            f"other sessions (load average {load:.1f} at the end)."
        )
        write_section("Web app (issue 14)", "## Web app (issue 14)\n\n" + textwrap.fill(intro, 116) + "\n\n" + table)
    return median


def _table(median: dict[str, float], runs: list[dict[str, float]]) -> str:
    def each(key: str, fmt: str) -> str:
        return " / ".join(format(run[key], fmt) for run in runs)

    lines = ["| case | median | each run | goal |", "|---|---:|---|---|"]
    for name in PAGES:
        ok = "met" if median[name] < GOAL_MS else "NOT met"
        lines.append(f"| {name}: p95 | {median[name]:.0f} ms | {each(name, '.0f')} ms | < 200 ms: {ok} |")
    rate = median["backtest rate"]
    lines.append(
        f"| backtest `{RULE}`, 30 days ({median['backtest articles']:,.0f} articles) | {rate:,.0f} articles/s "
        f"(CPU) | {each('backtest rate', ',.0f')} | >= 2,000/s: {'met' if rate >= GOAL_RATE else 'NOT met'} |"
    )
    lines.append(f"| backtest wall time | {median['backtest wall']:.1f} s | {each('backtest wall', '.1f')} s | |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
