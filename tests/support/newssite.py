"""A loopback news site for pipeline and daemon tests: feeds that can grow while a test runs, real-looking pages.

Feeds are served at ``/feeds/<name>.xml`` (with an ETag; a matching If-None-Match gets 304) and articles at
``/news/<slug>.html``, rendered by the same code as ``monitor demo``. Every request is recorded.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitor.demo import DemoArticle, article_page, rss_feed

__all__ = ["NewsSite"]


class NewsSite:
    """A threaded HTTP server on a loopback address (127.0.0.1 unless given) serving feeds and article pages from
    memory."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.feeds: dict[str, list[DemoArticle]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.broken: set[str] = set()  # paths that answer 500
        self.page_delay = 0.0  # seconds before each article page is served, to make a poll last
        self.answers: dict[str, tuple[int, dict[str, str]]] = {}  # path -> (status, headers), e.g. 301 or 429
        self.raw: dict[str, str | bytes] = {}  # path -> a body served as is (hand-written feeds, hostile bytes)
        self.content_types: dict[str, str] = {}  # path -> its Content-Type header, when not the default
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self._server.daemon_threads = True
        self.base = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def add(
        self, feed: str, title: str, body: str, *, slug: str | None = None, published: datetime | None = None
    ) -> str:
        """Add an article to a feed (newest first); returns its page URL."""
        slug = slug or hashlib.sha1(f"{feed}/{title}".encode()).hexdigest()[:12]
        article = DemoArticle(slug, title, body, published or datetime.now(UTC) - timedelta(minutes=5))
        with self._lock:
            self.feeds.setdefault(feed, []).insert(0, article)
        return f"{self.base}/news/{slug}.html"

    def feed_url(self, feed: str) -> str:
        self.feeds.setdefault(feed, [])
        return f"{self.base}/feeds/{feed}.xml"

    def hits(self, path: str) -> list[dict[str, str]]:
        """Headers of every request made for ``path``."""
        return [headers for p, headers in self.requests if p == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _body(self, path: str) -> tuple[str | bytes, str] | None:
        with self._lock:
            if path in self.raw:
                return self.raw[path], "text/html" if path.endswith(".html") else "application/rss+xml"
            if path.startswith("/feeds/") and path.endswith(".xml"):
                articles = self.feeds.get(path[len("/feeds/") : -len(".xml")])
                return None if articles is None else (rss_feed(articles, self.base), "application/rss+xml")
            everything = [a for articles in self.feeds.values() for a in articles]
        for article in everything:
            if path == f"/news/{article.slug}.html":
                return article_page(article, everything), "text/html"
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                site.requests.append((self.path, dict(self.headers.items())))
                if site.page_delay and self.path.startswith("/news/"):
                    time.sleep(site.page_delay)
                if self.path in site.answers:
                    status, headers = site.answers[self.path]
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                found = None if self.path in site.broken else site._body(self.path)
                if found is None:
                    self.send_error(500 if self.path in site.broken else 404)
                    return
                data = found[0] if isinstance(found[0], bytes) else found[0].encode("utf-8")
                etag = '"' + hashlib.sha1(data).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", site.content_types.get(self.path, f"{found[1]}; charset=utf-8"))
                self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def news_site() -> Iterator[NewsSite]:
    site = NewsSite()
    yield site
    site.close()
