"""OPML, the file feed readers exchange subscription lists in: read one (``feeds import``), write one (``feeds export``).

Reading: each ``<outline>`` with an ``xmlUrl`` is a feed, named by its ``title`` (else ``text``, else its host) and
tagged with the folders (outlines without ``xmlUrl``) it sits in and the pieces of its ``category`` attribute
(``"/News/Asia,tech"``: ``News``, ``Asia``, ``tech``). An outline that is not a usable feed is skipped with a reason,
never fatal. The file is someone else's: it is parsed by lxml without entities, DTDs or network, and refused whole
(``OpmlError``) past ``MAX_BYTES``, ``MAX_DEPTH`` nested outlines or ``MAX_OUTLINES`` outlines, or when it declares
entities (billion laughs). Writing gives OPML 2.0 that reads back to the same names, URLs and tags.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

import lxml.etree

from monitor.clean import MAX_URL_CHARS, clean_text
from monitor.errors import MonitorError
from monitor.feedbytes import declares_entities

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_OUTLINES", "Opml", "OpmlError", "OpmlFeed", "read_opml", "write_opml"]

MAX_BYTES = 10_000_000  # a 5,000-feed export is about 1 MB
MAX_DEPTH = 20  # folders in folders; readers nest two or three levels
MAX_OUTLINES = 20_000
_MAX_NAME = 200
_MAX_TAG = 100
_MAX_TAGS = 20
_CATEGORY_SPLIT = re.compile(r"[,/]")
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")  # lxml refuses these in attributes


class OpmlError(MonitorError, ValueError):
    """The OPML file is unreadable, not OPML, or refused as hostile (size, depth, entities)."""


@dataclass(frozen=True)
class OpmlFeed:
    """A feed of an OPML file: its URL, name and tags (folders first, then categories)."""

    url: str
    name: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Opml:
    """What a file holds: its feeds in document order, and the outlines skipped, each with why."""

    feeds: tuple[OpmlFeed, ...]
    skipped: tuple[str, ...] = field(default=())


def read_opml(data: bytes, source: str = "OPML") -> Opml:
    """Parse an OPML document; ``source`` (the file name) starts every error message.

    Raises:
        OpmlError: too large, entities declared, not XML, not ``<opml>``, or nested or numerous past the bounds.
    """
    if len(data) > MAX_BYTES:
        raise OpmlError(f"{source}: larger than {MAX_BYTES:,} bytes; refused")
    if declares_entities(data):
        raise OpmlError(f"{source}: declares XML entities (<!ENTITY>); refused")
    parser = lxml.etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True
    )
    try:
        root = lxml.etree.fromstring(data, parser)
    except lxml.etree.XMLSyntaxError as e:
        raise OpmlError(f"{source}: not valid XML: {clean_text(e, 200)}") from None
    if root.tag != "opml":
        raise OpmlError(f"{source}: not an OPML file (its root element is <{clean_text(root.tag, 50)}>, not <opml>)")
    body = root.find("body")
    feeds: list[OpmlFeed] = []
    skipped: list[str] = []
    for outline, folders in _outlines(body if body is not None else root, source):
        url = clean_text(outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not url:
            continue  # a folder, or a link outline: not a feed
        label = _text(outline.get("title") or outline.get("text"), _MAX_NAME)
        if not re.match(r"(?i)https?://[^/\s]+", url) or len(url) > MAX_URL_CHARS:
            skipped.append(f"{label or url[:100]!r}: {url[:100]!r} is not a feed URL (http or https)")
            continue
        categories = (_text(c, _MAX_TAG) for c in _CATEGORY_SPLIT.split(outline.get("category") or ""))
        tags = tuple(dict.fromkeys(t for t in (*folders, *categories) if t))[:_MAX_TAGS]
        feeds.append(OpmlFeed(url=url, name=label or _host(url), tags=tags))
    return Opml(tuple(feeds), tuple(skipped))


def _outlines(parent: lxml.etree._Element, source: str) -> Iterator[tuple[lxml.etree._Element, tuple[str, ...]]]:
    """Every outline under ``parent`` in document order, with the folder names above it; bounded in depth and
    count. Iterative, so a deep file costs no recursion."""
    stack: list[tuple[Iterator[lxml.etree._Element], tuple[str, ...]]] = [(parent.iterchildren("outline"), ())]
    seen = 0
    while stack:
        children, folders = stack[-1]
        outline = next(children, None)
        if outline is None:
            stack.pop()
            continue
        seen += 1
        if seen > MAX_OUTLINES:
            raise OpmlError(f"{source}: more than {MAX_OUTLINES:,} outlines; refused")
        yield outline, folders
        if len(outline):
            if len(stack) >= MAX_DEPTH:
                raise OpmlError(f"{source}: outlines nested more than {MAX_DEPTH} levels deep; refused")
            is_folder = not (outline.get("xmlUrl") or outline.get("xmlurl"))
            name = _text(outline.get("text") or outline.get("title"), _MAX_TAG) if is_folder else ""
            stack.append((outline.iterchildren("outline"), (*folders, name) if name else folders))


def _text(value: object, limit: int) -> str:
    """An attribute as one line of clean text, whitespace runs folded, at most ``limit`` characters."""
    return " ".join(clean_text(value or "", limit * 2).split())[:limit]


def _host(url: str) -> str:
    return re.sub(r"(?i)^https?://(www\.)?", "", url).split("/")[0]


def write_opml(feeds: Iterable[OpmlFeed], title: str = "monitor feeds", now: datetime | None = None) -> str:
    """An OPML 2.0 document of ``feeds``: one ``<outline type="rss">`` each, ``text`` and ``title`` the name,
    ``category`` the tags (comma-separated); characters XML cannot hold are left out."""
    root = lxml.etree.Element("opml", version="2.0")
    head = lxml.etree.SubElement(root, "head")
    lxml.etree.SubElement(head, "title").text = title
    lxml.etree.SubElement(head, "dateCreated").text = format_datetime(now or datetime.now(UTC), usegmt=True)
    body = lxml.etree.SubElement(root, "body")
    for feed in feeds:
        attributes = {"type": "rss", "text": _xml(feed.name), "title": _xml(feed.name), "xmlUrl": _xml(feed.url)}
        if feed.tags:
            attributes["category"] = ",".join(_xml(t) for t in feed.tags)
        lxml.etree.SubElement(body, "outline", attributes)
    lxml.etree.indent(root)
    text: str = lxml.etree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{text}\n'


def _xml(value: str) -> str:
    return _NOT_XML.sub("", value)
