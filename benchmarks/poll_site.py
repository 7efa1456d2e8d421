"""The loopback news sites of the poll benchmarks: N feeds of M entries, spread over H addresses (127.0.0.1 …).

Run as a process of its own (``python benchmarks/poll_site.py FEEDS ENTRIES HOSTS PAGE_FEEDS``), so that serving
never competes with the client under test for its interpreter: it builds every feed, prints one JSON line with
the feed URLs, serves until its standard input closes. Each entry is one of the shipped seed articles (or a
distractor) behind a lede of everyday words, its feed item carries the lede and the seed's first lines (the
summary a news feed gives, 500-700 characters), its page (for the first PAGE_FEEDS feeds) the whole article with
400-900 more words. Every response has an ETag and answers ``If-None-Match`` with a 304, as a well-kept site does.

The first PAGE_FEEDS feeds (the full-text part) list real article pages instead when the evaluation data is there
(``page_source()``: the 181 pages of the extraction benchmark, ``$MONITOR_EVAL_DIR`` or ``../shared/eval``, taken
in turn), each item with its page's title and the first lines of its human-written body: those pages take tens of
ms each to extract, as the web's do, where the synthetic ones take 2 ms. Without the data, the synthetic pages.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import os
import random
import re
import sys
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.demo import DemoArticle, article_page, demo_articles  # noqa: E402

__all__ = ["EVAL_PAGES", "build_pages", "main", "page_source", "real_pages"]

#: The extraction benchmark's real article pages (docs/benchmarks.md, "Evaluation data"), when present.
EVAL_PAGES = Path(os.environ.get("MONITOR_EVAL_DIR") or ROOT.parent / "shared" / "eval") / "extraction-benchmark"
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)

# Everyday news words, none of them a rule term, so each article carries its seed's matches once.
_WORDS = (
    "ministry officials province workers court report government week village market company minister "
    "investigation labour rights economy tourism farmers rice rubber exports festival weather school road "
    "bridge hospital election budget students teachers prices fuel harvest river season council"
).split()

_PAGES: dict[str, tuple[bytes, str, bytes]] = {}  # path -> (body, ETag, content type)


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choices(_WORDS, k=count))


def _item(article: DemoArticle, summary: str, base: str) -> str:
    return f"""<item><title>{html.escape(article.title)}</title><link>{base}/news/{article.slug}.html</link>
<guid isPermaLink="false">bench-{article.slug}</guid><pubDate>{format_datetime(article.published)}</pubDate>
<description>{html.escape(summary)}</description></item>"""


def _feed(items: list[str], base: str, number: int) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Site {number}</title><link>{base}/</link>
<description>News of site {number}</description>
{"".join(items)}
</channel></rss>"""


def page_source() -> str:
    """Which pages the full-text feeds list: ``"real"`` (the extraction benchmark's) or ``"synthetic"``."""
    return "real" if (EVAL_PAGES / "ground-truth.json").exists() else "synthetic"


def real_pages() -> list[tuple[str, str, bytes]]:
    """(title, summary, HTML) of each page of the extraction benchmark, in the order of their ids; the summary is
    the first 500-odd characters of the page's human-written body. Empty without the data."""
    if page_source() != "real":
        return []
    truth = json.loads((EVAL_PAGES / "ground-truth.json").read_text(encoding="utf-8"))
    out = []
    for n, (page_id, item) in enumerate(sorted(truth.items())):
        body = gzip.decompress((EVAL_PAGES / "html_gz" / f"{page_id}.html.gz").read_bytes())
        found = _TITLE.search(body)
        title = " ".join(html.unescape(found.group(1).decode("utf-8", "replace")).split()) if found else ""
        summary = " ".join(item["articleBody"][:600].split()).rsplit(" ", 1)[0] + " …"
        out.append((title or f"Article {n}", summary, body))
    return out


def build_pages(feeds: int, entries: int, bases: list[str], page_feeds: int) -> list[str]:
    """Fill the page table; returns the feed URLs (feed ``f`` on ``bases[f % len(bases)]``)."""
    rng = random.Random(7)
    seeds = demo_articles()
    now = datetime.now(UTC).replace(microsecond=0)
    real = real_pages() if page_feeds else []
    urls = []
    for f in range(feeds):
        base = bases[f % len(bases)]
        if f < page_feeds and real:
            urls.append(_real_feed(f, entries, base, real, now))
            continue
        items, articles = [], []
        for i in range(entries):
            seed = seeds[rng.randrange(len(seeds))]
            lede = _words(rng, rng.randint(15, 30)).capitalize() + "."
            body = f"{lede}\n{seed.body}\n{_words(rng, rng.randint(400, 900)).capitalize()}."
            slug = hashlib.sha1(f"{f}-{i}".encode()).hexdigest()[:12]
            article = DemoArticle(slug, f"{seed.title} ({f}-{i})", body, now - timedelta(minutes=i))
            summary = f"{lede} {seed.body}"[:700].rsplit(" ", 1)[0] + " …"
            items.append(_item(article, summary, base))
            articles.append(article)
        _put(f"/feeds/{f}.xml", _feed(items, base, f).encode(), "application/rss+xml; charset=utf-8")
        if f < page_feeds:
            for a in articles:
                _put(f"/news/{a.slug}.html", article_page(a, articles[:4]).encode(), "text/html; charset=utf-8")
        urls.append(f"{base}/feeds/{f}.xml")
    return urls


def _real_feed(f: int, entries: int, base: str, real: list[tuple[str, str, bytes]], now: datetime) -> str:
    """Feed ``f`` of real pages: the benchmark's pages in turn, from where feed ``f - 1`` stopped."""
    items = []
    for i in range(entries):
        title, summary, page = real[(f * entries + i) % len(real)]
        slug = hashlib.sha1(f"{f}-{i}".encode()).hexdigest()[:12]
        article = DemoArticle(slug, f"{title} ({f}-{i})", "", now - timedelta(minutes=i))
        items.append(_item(article, summary, base))
        _put(f"/news/{slug}.html", page, "text/html")  # no charset: each page says its own
    _put(f"/feeds/{f}.xml", _feed(items, base, f).encode(), "application/rss+xml; charset=utf-8")
    return f"{base}/feeds/{f}.xml"


def _put(path: str, body: bytes, kind: str) -> None:
    _PAGES[path] = (body, '"' + hashlib.md5(body).hexdigest() + '"', kind.encode())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        found = _PAGES.get(self.path)
        if found is None:
            self.send_error(404)
            return
        body, etag, kind = found
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", kind.decode())
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    feeds, entries, hosts, page_feeds = (int(a) for a in sys.argv[1:5])
    servers = [ThreadingHTTPServer((f"127.0.0.{h + 1}", 0), _Handler) for h in range(hosts)]
    bases = [f"http://{s.server_address[0]}:{s.server_address[1]}" for s in servers]
    urls = build_pages(feeds, entries, bases, page_feeds)
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps(urls), flush=True)
    sys.stdin.read()  # serve until the benchmark closes our standard input (or dies)


if __name__ == "__main__":
    main()
