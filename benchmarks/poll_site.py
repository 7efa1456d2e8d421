"""The loopback news sites of the poll benchmarks: N feeds of M entries, spread over H addresses (127.0.0.1 …).

Run as a process of its own (``python benchmarks/poll_site.py FEEDS ENTRIES HOSTS PAGE_FEEDS``), so that serving
never competes with the client under test for its interpreter: it builds every feed, prints one JSON line with
the feed URLs, serves until its standard input closes. Each entry is one of the shipped seed articles (or a
distractor) behind a lede of everyday words, its feed item carries the lede and the seed's first lines (the
summary a news feed gives, 500-700 characters), its page (for the first PAGE_FEEDS feeds) the whole article with
400-900 more words. Every response has an ETag and answers ``If-None-Match`` with a 304, as a well-kept site does.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import sys
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.demo import DemoArticle, article_page, demo_articles  # noqa: E402

__all__ = ["build_pages", "main"]

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


def build_pages(feeds: int, entries: int, bases: list[str], page_feeds: int) -> list[str]:
    """Fill the page table; returns the feed URLs (feed ``f`` on ``bases[f % len(bases)]``)."""
    rng = random.Random(7)
    seeds = demo_articles()
    now = datetime.now(UTC).replace(microsecond=0)
    urls = []
    for f in range(feeds):
        base = bases[f % len(bases)]
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
