"""The offline demo site: the seed corpus served from loopback as a small news site.

Inputs: the seed articles (``seeds/*.txt``). Output: a running HTTP server on 127.0.0.1 with ``/feed.xml`` (RSS 2.0)
and one real-looking article page per seed (site navigation, related links and reader comments around the text),
plus two unrelated stories that the shipped rules should leave alone. ``monitor demo`` polls it end to end.
"""

from __future__ import annotations

import hashlib
import html
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.starter import SHIPPED_SEEDS

if TYPE_CHECKING:
    from monitor.store import MatchRecord

__all__ = ["DemoArticle", "article_page", "demo_articles", "in_demo_order", "rss_feed", "serve_demo_site"]


# Unrelated stories on the same beat: the rules must stay quiet on them.
_DISTRACTORS = (
    (
        "Siem Reap welcomes record number of visitors to Angkor temples",
        "Tourism officials in Siem Reap said the Angkor Archaeological Park received more visitors this year than in "
        "any year since 2019, as new direct flights from Japan and South Korea arrived at the Techo International "
        "Airport.\nHotel occupancy in the province rose above 70 percent in the high season, the Ministry of Tourism "
        "said on Monday.\nLocal guides welcomed the recovery but warned that prices for tuk-tuk rides and temple "
        "passes were rising faster than wages.",
    ),
    (
        "Cambodia and Thailand agree to reopen border checkpoints for trade",
        "Commerce ministers of Cambodia and Thailand agreed on Tuesday to reopen two international border checkpoints "
        "for cargo trucks, easing exports of cassava, rice and rubber.\nThe agreement follows months of talks on "
        "customs procedures and new inspection facilities.\nTraders in Banteay Meanchey said the reopening would cut "
        "transport costs by about a fifth.",
    ),
)


@dataclass(frozen=True)
class DemoArticle:
    slug: str
    title: str
    body: str
    published: datetime


def demo_articles(seeds_dir: Path = SHIPPED_SEEDS, now: datetime | None = None) -> list[DemoArticle]:
    """The seeds (title = first non-empty line, body = the rest) and the distractors, newest first."""
    now = now or datetime.now(UTC)
    stories: list[tuple[str, str]] = []
    for path in sorted(seeds_dir.glob("*.txt")):
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        stories.append(_headline(lines))
    stories.extend(_DISTRACTORS)
    return [
        DemoArticle(hashlib.sha1(title.encode()).hexdigest()[:10], title, body, now - timedelta(hours=2 * i + 1))
        for i, (title, body) in enumerate(stories)
    ]


def _headline(lines: list[str]) -> tuple[str, str]:
    """A seed's title and body: the first line that reads like a headline (3–20 words; a lone section label such
    as "Cybersecurity" is not one), else the first sentence of a seed that starts straight with its text, taken out
    of the body (a title that the text repeats would show twice in every alert and snippet)."""
    for index, line in enumerate(lines[:3]):
        if 3 <= len(line.split()) <= 20 and not line.endswith("."):
            return line, "\n".join(lines[:index] + lines[index + 1 :])
    first, _, rest = lines[0].partition(". ")
    return first.removesuffix("."), "\n".join(([rest] if rest else []) + lines[1:])


def in_demo_order(matches: Iterable[MatchRecord]) -> list[MatchRecord]:
    """Matches by their article's published date, newest first, then URL: the same order on every run (the store
    gives them in the order the poll matched them, which concurrent page fetches vary)."""
    by_url = sorted(matches, key=lambda m: m.article.url)
    # ISO text sorts as the dates do ("" for none: last); the sort is stable, so equal dates keep URL order
    return sorted(by_url, key=lambda m: m.article.published.isoformat() if m.article.published else "", reverse=True)


def article_page(article: DemoArticle, others: list[DemoArticle]) -> str:
    """A real-looking article page: navigation, byline, related links and comments around the text."""
    paragraphs = "\n".join(f"<p>{html.escape(p)}</p>" for p in article.body.splitlines() if p.strip())
    related = "\n".join(f'<li><a href="/news/{o.slug}.html">{html.escape(o.title)}</a></li>' for o in others[:4])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(article.title)} | Mekong Daily</title>
<meta name="author" content="Mekong Daily staff">
<meta property="article:published_time" content="{article.published.isoformat()}"></head>
<body>
<header><nav><a href="/">Home</a> <a href="/politics">Politics</a> <a href="/business">Business</a>
<a href="/sport">Sport</a> <a href="/subscribe">Subscribe for $1 a month</a></nav></header>
<main><article>
<h1>{html.escape(article.title)}</h1>
<p class="byline">By Mekong Daily staff, {article.published:%d %B %Y}</p>
{paragraphs}
</article>
<aside><h2>Related stories</h2><ul>{related}</ul></aside>
<section id="comments"><h2>3 comments</h2>
<div class="comment"><b>reader88</b>: Great to see action at last, keep it up!</div>
<div class="comment"><b>sokha_pp</b>: My cousin lost all his savings to an online betting app, be careful everyone.</div>
<div class="comment"><b>traveller</b>: Is it still safe to visit the coast this year?</div>
</section></main>
<footer>© Mekong Daily. <a href="/about">About</a> <a href="/privacy">Privacy</a></footer>
</body></html>"""


def rss_feed(articles: list[DemoArticle], base: str) -> str:
    """An RSS 2.0 feed of the articles, linking to ``{base}/news/{slug}.html``."""
    items = "\n".join(
        f"""<item><title>{html.escape(a.title)}</title><link>{base}/news/{a.slug}.html</link>
<guid isPermaLink="false">mekong-daily-{a.slug}</guid><pubDate>{format_datetime(a.published)}</pubDate>
<description>{html.escape(a.body[:240])}…</description></item>"""
        for a in articles
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Mekong Daily</title><link>{base}/</link>
<description>News from Cambodia and the Mekong region (demo)</description>
{items}
</channel></rss>"""


@contextmanager
def serve_demo_site(articles: list[DemoArticle]) -> Iterator[str]:
    """Serve the articles on 127.0.0.1 (a free port) while the block runs; yields the feed URL.

    The feed answers conditional GETs (ETag) with 304, like a well-behaved news site."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    pages = {f"/news/{a.slug}.html": article_page(a, [o for o in articles if o is not a]) for a in articles}
    pages["/feed.xml"] = rss_feed(articles, base)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = pages.get(self.path)
            if body is None:
                self.send_error(404)
                return
            data = body.encode("utf-8")
            etag = '"' + hashlib.sha1(data).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            kind = "application/rss+xml" if self.path.endswith(".xml") else "text/html"
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # quiet: the demo prints its own report
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{base}/feed.xml"
    finally:
        server.shutdown()
        server.server_close()
