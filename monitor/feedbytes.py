"""Feed bytes made safe for feedparser, and feedparser bounded where it is quadratic (used by ``monitor.feeds``).

Before feedparser sees a body: UTF-16/32 and EBCDIC are re-encoded as UTF-8 (so the byte-level fixes reach them), a
byte-order mark or charset that lies or names no charset is dropped, character references XML forbids are fixed
(``clean_char_refs``), over-long tags lose their attributes (``bound_tags``) and the first line ends after the XML
declaration. A prolog that declares entities is refused by the caller (``declares_entities``). One hostile element
must cost one element's time: parsing runs in a CPU thread that no timeout can stop.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from typing import Any

import feedparser.mixin

from monitor.clean import bound_tags, charset_codec, clean_char_refs

__all__ = ["declares_entities", "feedparser_headers", "for_feedparser", "normalised"]

_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding=["']([A-Za-z0-9._-]+)["']""")
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([^"';\s]*)""", re.IGNORECASE)
_LEGACY_CHARSET = re.compile(rb"(?i)^(windows-125\d|cp125\d|iso-?8859-\d+|latin-?1|us-ascii)$")
_MAX_DECL_BYTES = 512  # an XML declaration is under 100 bytes
_MAX_AUTHOR_SCAN = 1_000  # author text feedparser searches for an e-mail address (the field keeps 200 chars)
_MAX_TAGS = 100  # categories feedparser keeps per entry (we read none)
_MAX_NAMESPACES = 100  # namespaces feedparser tracks; it scans them all for each element of an unknown one
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)  # UTF-32 first: its LE BOM starts with UTF-16's
_WIDE_STARTS = tuple(
    (re.compile(p, re.S), c)
    for p, c in (
        (rb"[<{]\0\0\0", "utf-32-le"),
        (rb"\0\0\0[<{]", "utf-32-be"),
        (rb"[<{]\0.\0", "utf-16-le"),
        (rb"\0[<{]\0", "utf-16-be"),
        (rb"\x4c\x6f\xa7\x94", "cp037"),
    )
)  # EBCDIC "<?xm"
_XML_DECL_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])[^"']*(["'])""")


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


def _as_utf8(body: bytes, headers: Mapping[str, str]) -> tuple[bytes, Mapping[str, str]]:
    """A UTF-16/32 (BOM, NUL pattern or header) or EBCDIC body re-encoded as UTF-8 and labelled so, for the
    byte-level fixes."""
    bom, codec = next(((bom, name) for bom, name in _WIDE_BOMS if body.startswith(bom)), (b"", None))
    if codec is not None and b"\x00" not in body[len(bom) : len(bom) + 64]:  # UTF-16/32 markup is full of NULs
        body, codec = body[len(bom) :], None  # a wide BOM on 8-bit text lies: the text wins (else nothing parses)
    codec = codec or next((name for pattern, name in _WIDE_STARTS if pattern.match(body)), None)
    declared = (
        re.findall(r"charset=[\"']?(utf-(?:16|32)(?:-?[lb]e)?)", headers.get("content-type", "").lower()) or [None]
    )[0]
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


def _declares_entities(body: bytes) -> bool:
    """True when the prolog has a DOCTYPE with an internal subset that declares entities.

    feedparser's own DOCTYPE pre-pass misses a billion-laughs subset written on one line (DEPENDENCIES.md).
    NULs are dropped first so UTF-16/32 bodies are checked too; comments and PIs before the DOCTYPE (of any
    length) are skipped so they cannot hide it. An ``<!ENTITY`` inside the document (e.g. in CDATA) is harmless and
    allowed.
    """
    head = body.replace(b"\x00", b"")
    pos = 0
    while True:
        while pos < len(head) and head[pos : pos + 1] in (
            b" ",
            b"\t",
            b"\r",
            b"\n",
            b"\xef",
            b"\xbb",
            b"\xbf",
            b"\xff",
            b"\xfe",
        ):
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


def normalised(body: bytes, headers: Mapping[str, str]) -> tuple[bytes, Mapping[str, str]]:
    """A body in UTF-8 where it was UTF-16/32 or EBCDIC, without a declared charset that lies or is none."""
    return _real_charsets(*_as_utf8(body, headers))


def for_feedparser(body: bytes) -> bytes:
    """The bytes feedparser parses: references fixed, over-long tags cut to their name, the first line short."""
    return _end_first_line(bound_tags(clean_char_refs(body)))


def declares_entities(body: bytes) -> bool:
    """True when the prolog declares XML entities (billion laughs): the caller refuses the body."""
    return _declares_entities(body)


def feedparser_headers(body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
    """The response headers to give feedparser for ``body`` (``_feedparser_headers``)."""
    return _feedparser_headers(body, headers)
