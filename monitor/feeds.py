"""Feed parsing: fetched feed bytes (+ URL, response headers) -> ParsedFeed of plain-text entries.

RSS/Atom/RDF go through feedparser on the bytes (it never fetches); JSON Feed 1.x is read here with ``json``
because feedparser 6 does not; ``monitor.feedbytes`` prepares the bytes feedparser sees and bounds its quadratic
steps. Bodies declaring XML entities are refused before parsing (billion laughs). Every failure is a
``FeedParseError`` with a one-line reason; this is the only module that sees feedparser's errors.
Every field of every entry leaves through ``monitor.clean`` (``_entry``): one hostile value is cleaned, never fatal.
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
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import lxml.etree
import lxml.html

from monitor.clean import (
    LIMITS,
    MAX_URL_CHARS,
    bound_tags,
    clean_date,
    clean_guid,
    clean_text,
    clean_url,
    strip_userinfo,
)
from monitor.errors import FeedParseError

__all__ = ["FeedEntry", "ParsedFeed", "parse_feed"]

_log = logging.getLogger(__name__)

_MAX_TITLE_CHARS = LIMITS["title"]
_MAX_SUMMARY_CHARS = LIMITS["summary"]
_MAX_CONTENT_CHARS = LIMITS["content"]
_MAX_AUTHOR_CHARS = LIMITS["author"]
_MAX_MARKUP_FACTOR = 4  # markup beyond 4x the text cap is cut before parsing, to bound the HTML parser's work

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLOCK_TAGS = ("p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "section")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_JSON_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]', re.S)  # a string, or a bracket outside one
_MAX_JSON_DEPTH = 100  # deeper arrays/objects are junk to us (we read depth 4 at most); json gives up near 1,000
_MAX_JSON_DIGITS = 4_000  # int() refuses more than 4,300 digits (CVE-2020-10735): a longer integer is read as float


@dataclass(frozen=True)
class FeedEntry:
    """One feed item, as plain text. ``published`` is aware UTC; ``url`` is absolute http(s) or ""."""

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
    import feedparser  # with feedbytes' bounds on it: ~50 ms, paid by the first parse (in its thread), not at start-up

    from monitor import feedbytes

    if not body.strip():
        raise FeedParseError("empty body", url=url)
    ctype = headers.get("content-type", "").lower()
    body, headers = feedbytes.normalised(body, headers)
    if body.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"{":  # by content: servers mislabel both ways
        return _parse_json_feed(body, url)
    if feedbytes.declares_entities(body):
        raise FeedParseError("feed declares XML entities (<!ENTITY>); refused", url=url)
    try:
        parsed = feedparser.parse(
            io.BytesIO(feedbytes.for_feedparser(body)),
            response_headers=feedbytes.feedparser_headers(body, headers),
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as e:  # feedparser's failures are not a documented set; any is this feed's fault
        raise FeedParseError(f"feedparser failed: {type(e).__name__}: {e}", url=url) from e
    entries = [_entry_from_feedparser(e, url) for e in parsed.get("entries", [])]
    harmless = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
    fatal = parsed.get("bozo") and not isinstance(parsed.get("bozo_exception"), harmless)
    if not entries and (fatal or not parsed.get("version")):
        raise FeedParseError(f"not a readable feed: {_bozo_reason(parsed, ctype)}", url=url)
    feed = parsed.get("feed", {})
    title = clean_text(_text(feed.get("title", ""), _detail_type(feed.get("title_detail")), _MAX_TITLE_CHARS))
    unique = _unique(entries)
    _log.debug("feed parsed entries=%d duplicates=%d bozo=%d", len(unique), len(entries) - len(unique), bool(fatal))
    return ParsedFeed(title=title, entries=unique)


def _bozo_reason(parsed: Mapping[str, Any], ctype: str) -> str:
    exc = parsed.get("bozo_exception")
    if exc is None:
        return "no RSS, Atom or RDF root element" + (f" ({ctype})" if ctype else "")
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def _entry(
    guid: object, url: str, title: str, summary: str, content: str, author: str, published: datetime | None
) -> FeedEntry:
    """The one way out of this module for an entry: every field cleaned and bounded (``monitor.clean``)."""
    url = clean_url(url)
    title = clean_text(title, _MAX_TITLE_CHARS)
    summary = clean_text(summary, _MAX_SUMMARY_CHARS)
    content = clean_text(content, _MAX_CONTENT_CHARS)
    guid = clean_guid(guid) or url or _hash_guid(title, summary or content)
    return FeedEntry(guid, url, title, summary, content, clean_text(author, _MAX_AUTHOR_CHARS), clean_date(published))


def _entry_from_feedparser(entry: dict[str, Any], base: str) -> FeedEntry:
    title = _text(entry.get("title", ""), _detail_type(entry.get("title_detail")), _MAX_TITLE_CHARS)
    summary = _text(entry.get("summary", ""), _detail_type(entry.get("summary_detail")), _MAX_SUMMARY_CHARS)
    contents = entry.get("content") or []
    content = "\n".join(_text(c.get("value", ""), c.get("type", "text/html"), _MAX_CONTENT_CHARS) for c in contents)[
        :_MAX_CONTENT_CHARS
    ]
    link = _absolute(entry.get("link", ""), base)
    # dict.get: FeedParserDict maps a missing updated_parsed to published_parsed with a DeprecationWarning.
    published = _struct_to_datetime(dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed"))
    author = _text(entry.get("author", ""), "text/plain", _MAX_AUTHOR_CHARS)
    return _entry(entry.get("id"), link, title, summary, content, author, published)


def _parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1)."""
    try:
        doc = _load_json(body.decode("utf-8-sig", errors="replace"))  # one item's bad bytes fail only themselves
    except (ValueError, RecursionError) as e:  # ValueError includes UnicodeDecodeError; RecursionError: [[[[...
        raise FeedParseError(f"invalid JSON: {type(e).__name__}: {str(e)[:200]}", url=url) from e
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/"):
        raise FeedParseError("JSON body is not a JSON Feed (no jsonfeed.org version)", url=url)
    items = doc.get("items")
    if not isinstance(items, list):
        raise FeedParseError("JSON Feed has no items list", url=url)
    base = _absolute(_json_str(doc, "home_page_url"), url) or url
    entries = [_json_entry(item, base) for item in items if isinstance(item, dict)]
    return ParsedFeed(title=_plain(clean_text(_json_str(doc, "title"), _MAX_TITLE_CHARS)), entries=_unique(entries))


def _load_json(text: str) -> Any:
    """JSON text as Python; a huge integer is read as a float, arrays and objects nested past ``_MAX_JSON_DEPTH``
    as null (a junk extension field of one item must not fail its feed)."""

    def number(digits: str) -> int | float:
        return int(digits) if len(digits) <= _MAX_JSON_DIGITS else float(digits)

    try:
        return json.loads(text, parse_int=number)
    except RecursionError:
        return json.loads(_flatten_json(text), parse_int=number)


def _flatten_json(text: str) -> str:
    """``text`` with each array or object deeper than ``_MAX_JSON_DEPTH`` made ``null`` (linear, no recursion)."""
    pieces, depth, done = [], 0, 0
    for token in _JSON_TOKEN.finditer(text):
        bracket = text[token.start()]
        if bracket in "[{":
            depth += 1
            if depth == _MAX_JSON_DEPTH + 1:
                pieces.append(text[done : token.start()])
        elif bracket in "]}":
            if depth == _MAX_JSON_DEPTH + 1:
                pieces.append("null")
                done = token.end()
            depth -= 1
    return "".join(pieces) + text[done:]


def _json_str(item: Mapping[str, Any], key: str) -> str:
    """A JSON Feed string field; numbers are written out, anything else (lists, objects, null) is ""."""
    value = item.get(key)
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else ""


def _json_entry(item: Mapping[str, Any], base: str) -> FeedEntry:
    title = _plain(clean_text(_json_str(item, "title"), _MAX_TITLE_CHARS))
    summary = _plain(clean_text(_json_str(item, "summary"), _MAX_SUMMARY_CHARS))
    if html_content := _json_str(item, "content_html"):
        content = _text(html_content, "text/html", _MAX_CONTENT_CHARS)
    else:
        content = _plain(clean_text(_json_str(item, "content_text"), _MAX_CONTENT_CHARS))
    link = _absolute(_json_str(item, "url") or _json_str(item, "external_url"), base)
    authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
    names = (_json_str(a, "name") for a in (authors if isinstance(authors, list) else []) if isinstance(a, dict))
    author = ", ".join(name for name in names if name)
    published = _iso_to_datetime(_json_str(item, "date_published") or _json_str(item, "date_modified"))
    return _entry(_json_str(item, "id"), link, title, summary, content, author, published)


def _unique(entries: Iterable[FeedEntry]) -> tuple[FeedEntry, ...]:
    seen: dict[str, FeedEntry] = {}
    for entry in entries:
        seen.setdefault(entry.guid, entry)
    return tuple(seen.values())


def _hash_guid(title: str, text: str) -> str:
    return "sha256:" + hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()[:32]


def _absolute(link: str, base: str) -> str:
    """The link made absolute against the feed URL, without user info (the feed URL's ``user:pass@`` would be
    copied into every relative link); "" unless it is http(s) (javascript:, mailto: …)."""
    link = clean_text(link, 4 * MAX_URL_CHARS).strip()  # a longer one is dropped anyway: less to join and check
    if not link:
        return ""
    try:
        absolute = urllib.parse.urljoin(strip_userinfo(clean_text(base)), link)
    except ValueError:
        return ""
    return clean_url(absolute)


def _struct_to_datetime(value: Any) -> datetime | None:
    """feedparser's UTC ``struct_time`` -> aware UTC datetime; None when absent or out of range."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _iso_to_datetime(value: str) -> datetime | None:
    """An ISO 8601 date, as given (aware or naive); ``clean_date`` converts it to UTC and bounds it."""
    try:
        return datetime.fromisoformat(value.strip()[:64])
    except ValueError:
        return None


def _detail_type(detail: Any) -> str:
    return str(detail.get("type", "text/html")) if isinstance(detail, Mapping) else "text/html"


def _text(value: Any, mime: str, limit: int) -> str:
    """Plain text of a feed field: markup stripped and entities unescaped when it is HTML; capped at ``limit``."""
    text = clean_text(value if isinstance(value, str) else str(value or ""), limit * _MAX_MARKUP_FACTOR)
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
        root = lxml.html.fragment_fromstring(bound_tags(markup), create_parent="div")
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
