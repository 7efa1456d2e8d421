"""Feed parsing: fetched feed bytes (+ URL, response headers) -> ParsedFeed of plain-text entries.

RSS/Atom/RDF go through feedparser on the bytes (it never fetches); JSON Feed 1.x is read here with ``json``
because feedparser 6 does not. Bodies declaring XML entities are refused before parsing (billion laughs). Every
failure is a ``FeedParseError`` with a one-line reason; this is the only module that sees feedparser's errors.
Every field of every entry leaves through ``monitor.clean`` (``_entry``): one hostile value is cleaned, never fatal.
"""

from __future__ import annotations

import calendar
import codecs
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
import feedparser.mixin
import lxml.etree
import lxml.html

from monitor.clean import (
    LIMITS, MAX_URL_CHARS, bound_tags, charset_codec, clean_char_refs, clean_date, clean_guid, clean_text, clean_url,
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
_HARMLESS_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding=["']([A-Za-z0-9._-]+)["']""")
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([^"';\s]*)""", re.IGNORECASE)
_LEGACY_CHARSET = re.compile(rb"(?i)^(windows-125\d|cp125\d|iso-?8859-\d+|latin-?1|us-ascii)$")
_MAX_DECL_BYTES = 512  # an XML declaration is under 100 bytes
_MAX_AUTHOR_SCAN = 1_000  # author text feedparser searches for an e-mail address (the field keeps 200 chars)
_MAX_TAGS = 100  # categories feedparser keeps per entry (we read none)
_MAX_NAMESPACES = 100  # namespaces feedparser tracks; it scans them all for each element of an unknown one
_WIDE_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
              (codecs.BOM_UTF16_BE, "utf-16"))  # UTF-32 first: its LE BOM starts with UTF-16's
_WIDE_STARTS = tuple((re.compile(p, re.S), c) for p, c in ((rb"[<{]\0\0\0", "utf-32-le"), (rb"\0\0\0[<{]", "utf-32-be"),
                                                             (rb"[<{]\0.\0", "utf-16-le"), (rb"\0[<{]\0", "utf-16-be"),
                                                             (rb"\x4c\x6f\xa7\x94", "cp037")))  # EBCDIC "<?xm"
_JSON_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]', re.S)  # a string, or a bracket outside one
_MAX_JSON_DEPTH = 100  # deeper arrays/objects are junk to us (we read depth 4 at most); json gives up near 1,000
_MAX_JSON_DIGITS = 4_000  # int() refuses more than 4,300 digits (CVE-2020-10735): a longer integer is read as float
_XML_DECL_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])[^"']*(["'])""")


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


def _bound_feedparser() -> None:
    """Bound three of feedparser's steps that are quadratic in an attacker's input; we read none of their results.

    It keeps an entry's tags in a list it searches before each append (20,000 categories, or one
    ``media:keywords`` of 20,000 words: 10 s); it searches author text for an e-mail address with a quadratic
    regex (20 KB: 2.4 s, 1 MB: hours), whatever markup splits that text; and for each element of a namespace it
    does not know it scans every namespace prefix declared so far (20,000 prefixes: 10 s). All run in a CPU thread
    that no timeout can stop: four such feeds would stall every feed's parsing.
    """
    mixin: Any = feedparser.mixin._FeedParserMixin
    add_tag, sync_author, track = mixin._add_tag, mixin._sync_author_detail, mixin.track_namespace

    def bounded_add_tag(self: Any, term: Any, scheme: Any, label: Any) -> None:
        if len(self._get_context().get("tags") or ()) < _MAX_TAGS:
            add_tag(self, term, scheme, label)

    def bounded_sync_author(self: Any, key: str = "author") -> None:
        context = self._get_context()
        if isinstance(author := context.get(key), str) and len(author) > _MAX_AUTHOR_SCAN:
            context[key] = author[:_MAX_AUTHOR_SCAN]
        sync_author(self, key)

    def bounded_track(self: Any, prefix: str | None, uri: str) -> None:
        if len(self.namespaces_in_use) < _MAX_NAMESPACES or uri.lower() in self._matchnamespaces:
            track(self, prefix, uri)

    mixin._add_tag, mixin._sync_author_detail = bounded_add_tag, bounded_sync_author
    mixin.track_namespace = bounded_track


_bound_feedparser()


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
    body, headers = _real_charsets(*_as_utf8(body, headers))
    if body.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"{":  # by content: servers mislabel both ways
        return _parse_json_feed(body, url)
    if _declares_entities(body):
        raise FeedParseError("feed declares XML entities (<!ENTITY>); refused", url=url)
    try:
        parsed = feedparser.parse(
            io.BytesIO(_end_first_line(bound_tags(clean_char_refs(body)))),
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
    title = clean_text(_text(feed.get("title", ""), _detail_type(feed.get("title_detail")), _MAX_TITLE_CHARS))
    unique = _unique(entries)
    _log.debug("feed parsed entries=%d duplicates=%d bozo=%d", len(unique), len(entries) - len(unique), bool(fatal))
    return ParsedFeed(title=title, entries=unique)


def _as_utf8(body: bytes, headers: Mapping[str, str]) -> tuple[bytes, Mapping[str, str]]:
    """A UTF-16/32 (BOM, NUL pattern or header) or EBCDIC body re-encoded as UTF-8 and labelled so, for the
    byte-level fixes."""
    bom, codec = next(((bom, name) for bom, name in _WIDE_BOMS if body.startswith(bom)), (b"", None))
    if codec is not None and b"\x00" not in body[len(bom):len(bom) + 64]:  # UTF-16/32 markup is full of NULs
        body, codec = body[len(bom):], None  # a wide BOM on 8-bit text lies: the text wins (else nothing parses)
    codec = codec or next((name for pattern, name in _WIDE_STARTS if pattern.match(body)), None)
    declared = (re.findall(r"charset=[\"']?(utf-(?:16|32)(?:-?[lb]e)?)", headers.get("content-type", "").lower())
                or [None])[0]
    codec = codec or (declared if b"\x00" in body[:64] else None)
    if codec is None and declared:  # a UTF-16/32 label on 8-bit text lies: decoded so, nothing would parse
        return body, {**headers, "content-type": headers["content-type"].split(";")[0].strip()}
    if codec is None:
        return body, headers
    text = body.decode(codec, errors="replace").lstrip("\ufeff")
    text = _XML_DECL_ENCODING.sub(r"\1utf-8\2", text, count=1)
    ctype = headers.get("content-type", "application/xml").split(";")[0].strip()
    return text.encode("utf-8"), {**headers, "content-type": f"{ctype}; charset=utf-8"}


def _real_charsets(body: bytes, headers: Mapping[str, str]) -> tuple[bytes, Mapping[str, str]]:
    """``body`` and ``headers`` without a declared charset that is unknown or no charset (``undefined``,
    ``unicode_escape``, ``rot13``): feedparser decoded with it and failed the whole feed (or made lone surrogates of
    the text ``\\ud800``). The header's is removed; the XML declaration's becomes ``utf-8`` (feedparser falls back
    to windows-1252 where that fails)."""
    ctype = headers.get("content-type", "")
    if (header := _HEADER_CHARSET.search(ctype)) and charset_codec(header.group(1)) is None:
        headers = {**headers, "content-type": ctype.split(";")[0].strip()}
    skip = 3 if body.startswith(codecs.BOM_UTF8) else 0
    if (decl := _XML_ENCODING.search(body[skip : skip + _MAX_DECL_BYTES])) and charset_codec(decl.group(1)) is None:
        body = body[: skip + decl.start(1)] + b"utf-8" + body[skip + decl.end(1) :]
    return body, headers


def _end_first_line(body: bytes) -> bytes:
    """``body`` with its first line ended after the XML declaration (whitespace the prolog allows).

    feedparser reads the declared encoding with ``^<\\?.*encoding=['"](.*?)['"].*\\?>`` over the first line: cubic
    in a line of many ``encoding="`` without ``?>`` (3,000 of them: 276 s of a CPU thread no timeout stops). A body
    whose first ``<?`` does not close within ``_MAX_DECL_BYTES`` starts with a newline, which that regex cannot cross.
    """
    start = 3 if body.startswith(codecs.BOM_UTF8) else 0  # feedparser drops a BOM before that regex
    if not body.startswith(b"<?", start):
        return body
    end = body.find(b"?>", start, start + _MAX_DECL_BYTES)
    end = start if end == -1 else end + 2
    return body[:end] + b"\n" + body[end:]


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


def _entry(guid: object, url: str, title: str, summary: str, content: str, author: str,
           published: datetime | None) -> FeedEntry:
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
    content = "\n".join(
        _text(c.get("value", ""), c.get("type", "text/html"), _MAX_CONTENT_CHARS) for c in contents
    )[:_MAX_CONTENT_CHARS]
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
    """feedparser's UTC ``struct_time`` -> naive UTC datetime; None when absent or out of range."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc).replace(tzinfo=None)
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
