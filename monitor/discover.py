"""Feed discovery: a URL -> whether it is a feed, or which feeds the web page at it offers (``feeds add``).

A page names its feeds in ``<link rel="alternate" type="application/rss+xml">`` (or Atom, RDF, JSON Feed); when it
names none, the usual paths of its site (``/feed``, ``/rss``, …) are tried and the first that parses as a feed is
offered. Everything is fetched with the project's ``Fetcher`` (SSRF guard, size and time limits) and read with the
pipeline's own parser, so a URL accepted here is one a poll can read.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

import lxml.etree
import lxml.html

from monitor.clean import bound_tags, clean_text, clean_url
from monitor.errors import FeedParseError, FetchError
from monitor.feeds import parse_feed
from monitor.fetch import Fetcher, FetchResult

__all__ = ["COMMON_PATHS", "Discovery", "FeedLink", "discover"]

COMMON_PATHS = ("/feed", "/rss", "/feed.xml", "/rss.xml", "/atom.xml", "/index.xml")
_FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json"}
)  # not application/json: WordPress names its REST API so
_MAX_LINKS = 20  # a page offering more is a link farm; the first ones are the site's own
_HTML_START = (b"<!doctype html", b"<html")


@dataclass(frozen=True)
class FeedLink:
    """A feed a page offers: its absolute URL and the title the page gives it (may be empty)."""

    url: str
    title: str = ""


@dataclass(frozen=True)
class Discovery:
    """What is at a URL: a feed (``is_feed``, ``title`` the feed's, ``entries`` its count), or a web page
    (``title`` the page's) whose ``feeds`` were found (possibly none)."""

    url: str
    is_feed: bool
    title: str = ""
    entries: int = 0
    feeds: tuple[FeedLink, ...] = ()


async def discover(fetcher: Fetcher, url: str, *, allow_private: bool = False) -> Discovery:
    """Fetch ``url`` and say what it is.

    Raises:
        FetchError: the URL could not be fetched (its subclasses say why: blocked address, status, timeout…).
        FeedParseError: the body is neither a feed nor a web page.
    """
    response = await fetcher.fetch(url, allow_private=allow_private, lane="feed")
    try:
        return _as_feed(url, response)
    except FeedParseError:
        if not _is_html(response):
            raise
    title, links = _page_links(response)
    if not links:
        links = await _common_paths(fetcher, response.final_url, allow_private)
    return Discovery(url=url, is_feed=False, title=title, feeds=links)


def _as_feed(url: str, response: FetchResult) -> Discovery:
    parsed = parse_feed(response.body, response.final_url, response.headers)
    return Discovery(url=url, is_feed=True, title=parsed.title, entries=len(parsed.entries))


def _is_html(response: FetchResult) -> bool:
    ctype = response.headers.get("content-type", "").lower()
    start = response.body.lstrip()[:200].lower()
    return "html" in ctype or start.startswith(_HTML_START)


def _page_links(response: FetchResult) -> tuple[str, tuple[FeedLink, ...]]:
    """The page's title and the feeds its ``<link rel="alternate">`` elements name (http(s) only, first
    ``_MAX_LINKS``, each once), resolved against ``<base href>`` or the page's URL."""
    try:
        page = lxml.html.document_fromstring(bound_tags(response.body))  # libxml2 is quadratic in one tag's size
    except (lxml.etree.ParserError, ValueError):
        return "", ()
    base = response.final_url
    for href in page.xpath("//head/base/@href")[:1]:
        base = urllib.parse.urljoin(base, str(href))
    found: dict[str, FeedLink] = {}
    for link in page.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        if "alternate" not in rel or kind not in _FEED_TYPES or not link.get("href"):
            continue
        url = clean_url(urllib.parse.urljoin(base, link.get("href", "").strip()))
        if url and url not in found:
            found[url] = FeedLink(url, " ".join(clean_text(link.get("title") or "", 200).split()))
        if len(found) >= _MAX_LINKS:
            break
    title = page.findtext(".//title") or ""
    return " ".join(clean_text(title, 200).split()), tuple(found.values())


async def _common_paths(fetcher: Fetcher, page_url: str, allow_private: bool) -> tuple[FeedLink, ...]:
    """The first of the site's usual feed paths that answers with a feed, or none."""
    parts = urllib.parse.urlsplit(page_url)
    for path in COMMON_PATHS:
        url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))
        try:
            found = _as_feed(url, await fetcher.fetch(url, allow_private=allow_private, lane="feed"))
        except (FetchError, FeedParseError):  # a guess that fails (404, HTML, timeout) is simply not the feed
            continue
        return (FeedLink(url, found.title),)
    return ()
