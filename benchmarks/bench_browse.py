"""Browsing benchmark: the Matches page, a filter and a search on a SQLite store of 100,000 articles and 20,000 matches.

Run: ``.venv/bin/python benchmarks/bench_browse.py [--articles 100000] [--matches 20000] [--runs 40] [--write]``.
The store is built once in a temporary folder (about 40 s: raw inserts through the store's own connections, so the
search index's triggers run as they do for the pipeline's writes) and reused with ``--db PATH``. Then each case runs
``--runs`` times, timed server side: the store's ``browse_matches`` alone, and the whole request through the app
in process (FastAPI's TestClient: routing, the store, Jinja rendering; no network). ``--write`` puts the table into
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402

from benchmarks.docs_section import write_section  # noqa: E402
from monitor.api import Monitor  # noqa: E402
from monitor.config import DatabaseSettings, RulesSettings, Settings  # noqa: E402
from monitor.store import MatchFilter, Store  # noqa: E402
from monitor.web import create_app  # noqa: E402

__all__: list[str] = []

_WORDS = (
    "police raid scam compound workers officials said government election flood monsoon rain market bank rate "
    "minister court trial protest border trade export rice garment factory union strike health hospital vaccine "
    "school teacher student road bridge river harbour airport tourism hotel casino investment fraud online "
    "romance victim rescue embassy visa deport arrest charge sentence prison corruption land forest fire"
).split()
_T0 = datetime(2026, 1, 1, tzinfo=UTC)
_FEEDS = 40
_RULES = [(f"rule-{i}", ("info", "low", "medium", "high", "critical")[i % 5], [f"tag{i % 7}"]) for i in range(20)]


def build(url: str, articles: int, matches: int) -> None:
    """Fill a new store: ``articles`` articles (1 in 50 also in Thai and Chinese), in stories of one or two, of
    40 feeds and 4 languages; ``matches`` of them matched by one of 20 rules; one sent delivery per story and rule."""
    rng = random.Random(7)
    store = Store.open(url)
    with store._write("benchmark fill") as conn:  # noqa: SLF001 - a benchmark fills the store in bulk
        stories = articles * 7 // 10
        conn.execute(
            text("INSERT INTO stories (id, created_at, title) VALUES (:id, :at, '')"),
            [{"id": i, "at": _T0} for i in range(1, stories + 1)],
        )
        rows = []
        for i in range(1, articles + 1):
            body = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(150, 400)))
            if i % 50 == 0:
                body += " ตำรวจบุกค้นอาคารแก๊งคอลเซ็นเตอร์ 警方突击搜查电信诈骗大楼"
            rows.append(
                {
                    "id": i,
                    "url": f"https://feed{i % _FEEDS}.example/{i}",
                    "title": " ".join(rng.choice(_WORDS) for _ in range(8)),
                    "text": body,
                    "feed": f"feed{rng.randrange(_FEEDS)}",
                    "lang": rng.choice(["en"] * 8 + ["km", "th", "zh", "fr"]),
                    "story": min(stories, 1 + i * 7 // 10),
                    "at": _T0 + timedelta(minutes=i),
                }
            )
        conn.execute(
            text(
                "INSERT INTO articles (id, canonical_url, url, content_hash, title, text, feed_name, lang, story_id, "
                "fetched_at, published, extracted, owned, furniture) VALUES (:id, :url, :url, 'h', :title, :text, "
                ":feed, :lang, :story, :at, :at, true, true, '')"
            ),
            rows,
        )
        found = []
        for article_id in sorted(rng.sample(range(1, articles + 1), matches)):
            rule, severity, tags = _RULES[rng.randrange(len(_RULES))]
            row = rows[article_id - 1]
            hit = {"field": "text", "start": 0, "end": 5, "text": str(row["text"])[:5]}
            found.append(
                {
                    "article": article_id,
                    "rule": rule,
                    "severity": severity,
                    "tags": json.dumps(tags),
                    "hits": json.dumps([hit]),
                    "snippet": str(row["text"])[:300],
                    "story": row["story"],
                    "at": row["at"],
                }
            )
        conn.execute(
            text(
                "INSERT INTO matches (article_id, rule_id, rule_version, severity, tags, hits, snippet, story_id, "
                "matched_at) VALUES (:article, :rule, 'v1', :severity, :tags, :hits, :snippet, :story, :at)"
            ),
            found,
        )
        conn.execute(
            text(
                "INSERT OR IGNORE INTO deliveries (match_id, channel, story_id, rule_id, mode, status, attempts, "
                "created_at) SELECT id, 'mail', story_id, rule_id, 'immediate', 'sent', 1, matched_at FROM matches"
            )
        )
    store.close()


_CASES: dict[str, tuple[MatchFilter, str]] = {
    "newest page": (MatchFilter(), "/"),
    "filter: rule": (MatchFilter(rule="rule-3"), "/?rule=rule-3"),
    "filter: severity": (MatchFilter(severity="critical"), "/?severity=critical"),
    "filter: tag": (MatchFilter(tag="tag3"), "/?tag=tag3"),
    "filter: feed": (MatchFilter(feed="feed7"), "/?feed=feed7"),
    "search: a common word": (MatchFilter(q="police"), "/?q=police"),
    "search: two words": (MatchFilter(q="police harbour"), "/?q=police+harbour"),
    "search: a phrase": (MatchFilter(q='"police raid"'), "/?q=%22police+raid%22"),
    "search: Thai (2% of articles)": (MatchFilter(q="คอลเซ็นเตอร์"), "/?q=" + quote("คอลเซ็นเตอร์")),
    "search: no article": (MatchFilter(q="zzqx"), "/?q=zzqx"),
    "search + filter": (MatchFilter(q="police", rule="rule-3"), "/?q=police&rule=rule-3"),
}


def _p95(run: Callable[[], object], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--matches", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--db", type=Path, help="reuse (or build) this SQLite file")
    parser.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-browse-"))
    path = args.db or folder / "browse.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        start = time.perf_counter()
        build(url, args.articles, args.matches)
        print(f"built {args.articles} articles, {args.matches} matches in {time.perf_counter() - start:.0f} s")
    settings = Settings(database=DatabaseSettings(url=url), rules=RulesSettings(paths=(ROOT / "rules",)))
    lines = ["| case | store p50 | store p95 | page p50 | page p95 | rows |", "|---|---:|---:|---:|---:|---:|"]
    with Monitor(settings) as monitor, TestClient(create_app(monitor)) as client:
        client.get("/")  # warm: rules loaded, templates compiled, the file in the page cache
        for name, (where, page) in _CASES.items():
            rows = len(monitor.browse_matches(where).items)
            store50, store95 = _p95(lambda w=where: monitor.browse_matches(w), args.runs)  # type: ignore[misc]
            page50, page95 = _p95(lambda p=page: client.get(p, headers={"accept": "text/html"}), args.runs)  # type: ignore[misc]
            lines.append(
                f"| {name} | {store50:.1f} ms | {store95:.1f} ms | {page50:.1f} ms | {page95:.1f} ms | {rows} |"
            )
            print(lines[-1], flush=True)
    load = os.getloadavg()[0]
    print(f"load average at the end: {load:.1f} (on {os.cpu_count()} cores)")
    if args.write:
        intro = (
            f"`benchmarks/bench_browse.py`: a SQLite store of {args.articles:,} articles and {args.matches:,} matches "
            f"(20 rules, 40 feeds), each case {args.runs} times, 50 rows a page, on a {os.cpu_count()}-core machine "
            f'(load average {load:.1f} at the end: other work ran beside it). "store" is `Monitor.browse_matches` '
            'alone; "page" the whole `GET` of the Matches page through the app in process (routing, store, '
            "rendering), server side. The target is under 200 ms p95."
        )
        write_section(
            "Browsing matches (web)",
            "## Browsing matches (web)\n\n" + textwrap.fill(intro, 116) + "\n\n" + "\n".join(lines) + "\n",
        )


if __name__ == "__main__":
    main()
