"""Feed parsing: fetched feed bytes (+ URL, response headers) -> ParsedFeed of plain-text entries.

RSS/Atom/RDF go through feedparser on the bytes (it never fetches); JSON Feed 1.x is read here with ``json``
because feedparser 6 does not. Bodies declaring XML entities are refused before parsing (billion laughs). Every
failure is a ``FeedParseError`` with a one-line reason; this is the only module that sees feedparser's errors.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import io
import json
import logging
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any

import feedparser
import lxml.etree
import lxml.html

from monitor.errors import FeedParseError

__all__ = ["FeedEntry", "ParsedFeed", "parse_feed"]

_log = logging.getLogger(__name__)

_MAX_TITLE_CHARS = 1_000
_MAX_SUMMARY_CHARS = 20_000
_MAX_CONTENT_CHARS = 200_000
_MAX_MARKUP_FACTOR = 4  # markup beyond 4x the text cap is cut before parsing, to bound the HTML parser's work

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLOCK_TAGS = ("p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "section")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_HARMLESS_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding=["']([A-Za-z0-9._-]+)["']""")
_LEGACY_CHARSET = re.compile(rb"(?i)^(windows-125\d|cp125\d|iso-?8859-\d+|latin-?1|us-ascii)$")


@dataclass(frozen=True)
class FeedEntry:
    """One feed item, as plain text. ``published`` is naive UTC; ``url`` is absolute http(s) or ""."""

    guid: str
    url: str
    title: str
    summary: str
    content: str
    author: str
    published: datetime | None


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed feed: its title and entries in document order, duplicate GUIDs removed (first kept)."""

    title: str
    entries: tuple[FeedEntry, ...]


def parse_feed(body: bytes, url: str, headers: Mapping[str, str]) -> ParsedFeed:
    """Parse a fetched feed body.

    Args:
        body: the decoded response body.
        url: the feed's final URL (base for relative links).
        headers: response headers with lower-case keys (Content-Type gives the charset).
    Returns:
        The feed title and its entries (possibly none, for a valid empty feed).
    Raises:
        FeedParseError: empty body, declared XML entities, JSON that is not a JSON Feed, or nothing feed-like.
    """
    if not body.strip():
        raise FeedParseError("empty body", url=url)
    ctype = headers.get("content-type", "").lower()
    if body.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"{":  # by content: servers mislabel both ways
        return _parse_json_feed(body, url)
    if _declares_entities(body):
        raise FeedParseError("feed declares XML entities (<!ENTITY>); refused", url=url)
    try:
        parsed = feedparser.parse(
            io.BytesIO(body),
            response_headers=_feedparser_headers(body, headers),
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as e:  # feedparser's failures are not a documented set; any is this feed's fault
        raise FeedParseError(f"feedparser failed: {type(e).__name__}: {e}", url=url) from e
    entries = [_entry_from_feedparser(e, url) for e in parsed.get("entries", [])]
    fatal = parsed.get("bozo") and not isinstance(parsed.get("bozo_exception"), _HARMLESS_BOZO)
    if not entries and (fatal or not parsed.get("version")):
        raise FeedParseError(f"not a readable feed: {_bozo_reason(parsed, ctype)}", url=url)
    feed = parsed.get("feed", {})
    title = _text(feed.get("title", ""), _detail_type(feed.get("title_detail")), _MAX_TITLE_CHARS)
    unique = _unique(entries)
    _log.debug("feed parsed entries=%d duplicates=%d bozo=%d", len(unique), len(entries) - len(unique), bool(fatal))
    return ParsedFeed(title=title, entries=unique)


def _feedparser_headers(body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
    """Headers for feedparser: no content-location, and UTF-8 forced where a legacy declaration is wrong.

    feedparser would resolve GUIDs against content-location, so a moved feed would change every GUID and
    re-alert; links are made absolute here instead (``_absolute``). A body declared windows-1252/latin-1 whose
    non-ASCII bytes are valid UTF-8 is UTF-8 mislabelled (legacy text almost never forms valid UTF-8).
    """
    out = {k: v for k, v in headers.items() if k != "content-location"}
    ctype = out.get("content-type", "application/xml")
    if "charset=" in ctype.lower():
        return out
    declared = _XML_ENCODING.search(body[:200])
    if declared and _LEGACY_CHARSET.match(declared.group(1)) and not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return out
        out["content-type"] = ctype.split(";")[0].strip() + "; charset=utf-8"
    return out


def _bozo_reason(parsed: Mapping[str, Any], ctype: str) -> str:
    exc = parsed.get("bozo_exception")
    if exc is None:
        return "no RSS, Atom or RDF root element" + (f" ({ctype})" if ctype else "")
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def _declares_entities(body: bytes) -> bool:
    """True when the prolog has a DOCTYPE with an internal subset that declares entities.

    feedparser's own DOCTYPE pre-pass misses a billion-laughs subset written on one line (DEPENDENCIES.md).
    NULs are dropped first so UTF-16/32 bodies are checked too; comments and PIs before the DOCTYPE (of any
    length) are skipped so they cannot hide it. An ``<!ENTITY`` inside the document (e.g. in CDATA) is harmless and allowed.
    """
    head = body.replace(b"\x00", b"")
    pos = 0
    while True:
        while pos < len(head) and head[pos : pos + 1] in (b" ", b"\t", b"\r", b"\n", b"\xef", b"\xbb", b"\xbf",
                                                             b"\xff", b"\xfe"):
            pos += 1
        if head.startswith(b"<?", pos):
            end, closer = head.find(b"?>", pos), 2
        elif head.startswith(b"<!--", pos):
            end, closer = head.find(b"-->", pos), 3
        elif head[pos : pos + 9].upper() == b"<!DOCTYPE":
            close, bracket = head.find(b">", pos), head.find(b"[", pos)
            return bracket != -1 and (close == -1 or bracket < close) and b"<!ENTITY" in head
        else:
            return False
        if end == -1:  # an unterminated comment or PI: expat rejects it, but stay on the safe side
            return b"<!ENTITY" in head
        pos = end + closer


def _entry_from_feedparser(entry: dict[str, Any], base: str) -> FeedEntry:
    title = _text(entry.get("title", ""), _detail_type(entry.get("title_detail")), _MAX_TITLE_CHARS)
    summary = _text(entry.get("summary", ""), _detail_type(entry.get("summary_detail")), _MAX_SUMMARY_CHARS)
    contents = entry.get("content") or []
    content = "\n".join(
        _text(c.get("value", ""), c.get("type", "text/html"), _MAX_CONTENT_CHARS) for c in contents
    )[:_MAX_CONTENT_CHARS]
    link = _absolute(entry.get("link", ""), base)
    # dict.get: FeedParserDict maps a missing updated_parsed to published_parsed with a DeprecationWarning.
    published = _struct_to_datetime(dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed"))
    author = _text(entry.get("author", ""), "text/plain", _MAX_TITLE_CHARS)
    guid = str(entry.get("id") or "").strip() or link or _hash_guid(title, summary or content)
    return FeedEntry(guid, link, title, summary, content, author, published)


def _parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1)."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as e:
        raise FeedParseError(f"invalid JSON: {e}", url=url) from e
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/"):
        raise FeedParseError("JSON body is not a JSON Feed (no jsonfeed.org version)", url=url)
    items = doc.get("items")
    if not isinstance(items, list):
        raise FeedParseError("JSON Feed has no items list", url=url)
    base = str(doc.get("home_page_url") or url)
    entries = [_json_entry(item, urllib.parse.urljoin(url, base)) for item in items if isinstance(item, dict)]
    return ParsedFeed(title=_plain(str(doc.get("title") or ""))[:_MAX_TITLE_CHARS], entries=_unique(entries))


def _json_entry(item: Mapping[str, Any], base: str) -> FeedEntry:
    title = _plain(str(item.get("title") or ""))[:_MAX_TITLE_CHARS]
    summary = _plain(str(item.get("summary") or ""))[:_MAX_SUMMARY_CHARS]
    if item.get("content_html"):
        content = _text(str(item["content_html"]), "text/html", _MAX_CONTENT_CHARS)
    else:
        content = _plain(str(item.get("content_text") or ""))[:_MAX_CONTENT_CHARS]
    link = _absolute(str(item.get("url") or item.get("external_url") or ""), base)
    authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
    author = ", ".join(str(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name"))
    published = _iso_to_datetime(item.get("date_published") or item.get("date_modified"))
    guid = str(item.get("id") or "").strip() or link or _hash_guid(title, summary or content)
    return FeedEntry(guid, link, title, summary, content, author[:_MAX_TITLE_CHARS], published)


def _unique(entries: Iterable[FeedEntry]) -> tuple[FeedEntry, ...]:
    seen: dict[str, FeedEntry] = {}
    for entry in entries:
        seen.setdefault(entry.guid, entry)
    return tuple(seen.values())


def _hash_guid(title: str, text: str) -> str:
    return "sha256:" + hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()[:32]


def _absolute(link: str, base: str) -> str:
    """The link made absolute against the feed URL; "" unless it is http(s) (javascript:, mailto: …)."""
    if not link:
        return ""
    try:
        absolute = urllib.parse.urljoin(base, link.strip())
    except ValueError:
        return ""
    return absolute if absolute.lower().startswith(("http://", "https://")) else ""


def _struct_to_datetime(value: Any) -> datetime | None:
    """feedparser's UTC ``struct_time`` -> naive UTC datetime; None when absent or out of range."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _iso_to_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return when


def _detail_type(detail: Any) -> str:
    return str(detail.get("type", "text/html")) if isinstance(detail, Mapping) else "text/html"


def _text(value: Any, mime: str, limit: int) -> str:
    """Plain text of a feed field: markup stripped and entities unescaped when it is HTML; capped at ``limit``."""
    text = str(value or "")
    if mime in _HTML_TYPES or (mime not in ("text/plain",) and ("<" in text or "&" in text)):
        text = _html_to_text(text[: limit * _MAX_MARKUP_FACTOR])
    else:
        text = _plain(text)
    return text[:limit]


def _plain(text: str) -> str:
    lines = (" ".join(line.split()) for line in _CONTROL.sub("", text).splitlines())
    return "\n".join(line for line in lines if line)


def _html_to_text(markup: str) -> str:
    markup = _CONTROL.sub("", markup)
    if "<" not in markup:
        return _plain(html.unescape(markup))
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (lxml.etree.LxmlError, ValueError):
        return _plain(_ParserText.extract(markup))
    lxml.etree.strip_elements(root, "script", "style", lxml.etree.Comment, with_tail=False)
    for element in root.iter(*_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    return _plain(root.text_content())


class _ParserText(HTMLParser):
    """Fallback for markup lxml refuses: the stdlib parser never gives up on bad HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.skip += tag in ("script", "style")
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        self.skip -= tag in ("script", "style") and self.skip > 0

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)

    @classmethod
    def extract(cls, markup: str) -> str:
        parser = cls()
        parser.feed(markup)
        parser.close()
        return "".join(parser.parts)
