"""Extraction: a fetched article page (bytes, URL) -> Extracted (text, title, author, date, language, site name).

trafilatura does the work; this module decodes the bytes the way a browser would, bounds pathological pages, maps
trafilatura's and lxml's failures to ``ExtractError`` and splits off page furniture (``monitor.furniture``: the text
is the story's body, the furniture is kept apart); ``monitor.extractpool`` runs it in a process pool with a time limit
per page. ``choose_article`` (re-exported from ``monitor.furniture``) is the pipeline's fallback to the
feed's own text. Only this module touches trafilatura, and imports it on first use (``warm_up``): a process that
only hands pages to the pool (``monitor poll``) never pays for it.
"""

from __future__ import annotations

import codecs
import functools
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.clean import LIMITS, bound_tags, charset_codec, clean_date, clean_text
from monitor.errors import ExtractError
from monitor.furniture import Chosen, choose_article, choose_text, split_tree
from monitor.lang import detect_language

__all__ = [
    "Chosen",
    "Extracted",
    "charset_from_headers",
    "choose_article",
    "choose_text",
    "decode_html",
    "extract_html",
    "warm_up",
]

_log = logging.getLogger(__name__)

#: Compressed bodies (a saved ``.html.gz``) are inflated up to this size, as trafilatura does with bytes.
_MAX_INFLATED_BYTES = 20_000_000
#: Characters of markup we extract from; the rest of a larger page is dropped (lxml closes what the cut leaves
#: open). Real articles sit well inside it: the benchmark's largest page is 1 MB.
_MAX_HTML_CHARS = 5_000_000
#: A cheap proxy for the element count. trafilatura costs ~0.35 ms per element of link-heavy markup (20,000
#: link blocks: ~9 s); the benchmark's busiest real page has 3,229 ``<``. Above this we refuse before parsing.
_MAX_TAGS = 100_000
#: Where to look for ``<meta charset>`` / ``<?xml encoding?>`` (HTML says 1024 bytes; real pages put it later).
_PRESCAN_BYTES = 4096
#: A declared encoding is kept despite a few undecodable bytes (browsers show U+FFFD for them) up to this share.
_MAX_REPLACED_SHARE = 0.001

_SPACELESS = re.compile(r"[\u0e00-\u0e7f\u1780-\u17ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_DECLARED_CHARSET = re.compile(rb"""<(?:meta\s[^>]*?charset|\?xml\s[^>]*?encoding)\s*=\s*["']?\s*([-\w.:]+)""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([-\w.:]+)""", re.I)
#: WHATWG Encoding Standard: labels browsers decode with a superset (Python codec names after ``codecs.lookup``).
_WHATWG_SUPERSETS = {
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "big5": "big5hkscs",
}
#: Encodings whose bytes can look like ASCII/UTF-8: only a declaration tells them apart.
_DECLARED_ONLY = ("iso2022", "hz", "utf-7", "utf-16", "utf-32")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


@functools.cache
def _spaceless_config() -> Any:
    """trafilatura's ``MIN_EXTRACTED_SIZE`` (250 characters; below it, it falls back to the page's whole text,
    furniture and all) scaled to Chinese, Japanese, Thai and Khmer, which write a word in one to three characters."""
    import trafilatura.settings

    config = trafilatura.settings.use_config()
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "80")
    return config


def warm_up() -> None:
    """Import trafilatura now (about a quarter of a second), as an extraction worker does before its first page."""
    import trafilatura.xml  # noqa: F401 - importing it is the point

    _spaceless_config()


@dataclass(frozen=True)
class Extracted:
    """What a page yields. Strings are ``""`` when the page does not say; ``date`` is aware UTC. ``text`` is the
    story's body; ``furniture`` the page furniture extraction kept (related lists, comments, promos), never matched."""

    title: str
    text: str
    author: str
    date: datetime | None
    lang: str | None
    sitename: str
    furniture: str = ""


def charset_from_headers(headers: Mapping[str, str]) -> str | None:
    """The ``charset`` parameter of a response's ``Content-Type`` (lower-case header keys), if any."""
    found = _HEADER_CHARSET.search(headers.get("content-type", ""))
    return found.group(1) if found else None


def _codec(label: str | bytes | None) -> str | None:
    """Python codec for an encoding label, widened the way browsers widen it; None if unknown or no charset."""
    name = charset_codec(label)
    return None if name is None else _WHATWG_SUPERSETS.get(name, name)


def _decode_leniently(data: bytes, codec: str) -> str | None:
    """``data`` in ``codec``, tolerating a few bad bytes; None when the codec clearly does not fit."""
    text = data.decode(codec, errors="replace")
    if text.count("\ufffd") > _MAX_REPLACED_SHARE * len(text):
        return None
    return text


def decode_html(data: bytes, charset: str | None = None) -> str:
    """Decode a page's bytes: BOM, then a stateful encoding only a declaration reveals, then valid UTF-8, then
    the HTTP ``charset``, then ``<meta charset>``, then detection (trafilatura's own), then UTF-8 with U+FFFD.

    Valid UTF-8 wins over a declared legacy charset because servers often send ``charset=ISO-8859-1`` by default
    for UTF-8 pages, while non-ASCII text in a legacy encoding is practically never valid UTF-8 by accident;
    this is also what trafilatura does with bytes, so no page it reads right is read differently here.
    """
    for bom, bom_codec in _BOMS:
        if data.startswith(bom):
            return data.decode(bom_codec, errors="replace")
    head = data[:_PRESCAN_BYTES]
    meta = _DECLARED_CHARSET.search(head)
    header_codec, meta_codec = _codec(charset), _codec(meta.group(1) if meta else None)
    if meta_codec is not None and meta_codec.startswith(("utf-16", "utf-32")):
        meta_codec = "utf-8"  # a UTF-16 page could not be prescanned as ASCII: the declaration is wrong
    for codec in (header_codec, meta_codec):
        if codec is None or not codec.startswith(_DECLARED_ONLY):
            continue
        if codec.startswith(("utf-16", "utf-32")) and b"\x00" not in head:
            continue  # UTF-16 markup is full of NUL bytes; without them the label is a server default gone wrong
        if (decoded := _decode_leniently(data, codec)) is not None:
            return decoded
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for codec in (header_codec, meta_codec):
        if codec is not None and (decoded := _decode_leniently(data, codec)) is not None:
            return decoded
    import trafilatura.utils

    for guess in trafilatura.utils.detect_encoding(data):
        try:
            return data.decode(guess)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", errors="replace")


def _markup(html: bytes | str, charset: str | None, url: str) -> str:
    if isinstance(html, bytes):
        import trafilatura.utils

        try:
            html = trafilatura.utils.handle_compressed_file(html, _MAX_INFLATED_BYTES)
        except ValueError as e:  # a decompression bomb
            raise ExtractError(f"page inflates past {_MAX_INFLATED_BYTES} bytes", url=url) from e
        html = decode_html(html, charset)
    if len(html) > _MAX_HTML_CHARS:
        _log.info("page truncated url=%s chars=%d", url, len(html))
        html = html[:_MAX_HTML_CHARS]
    html = bound_tags(html)  # libxml2 is quadratic in one tag's attributes
    tags = html.count("<")
    if tags > _MAX_TAGS:
        raise ExtractError(f"page too complex to extract: {tags} tags (limit {_MAX_TAGS})", url=url)
    return html


def _date_params() -> dict[str, Any]:
    # trafilatura's defaults plus a time zone in the output, so that we can convert to UTC.
    return {
        "original_date": True,
        "extensive_search": True,
        "max_date": datetime.now().astimezone().strftime("%Y-%m-%d"),
        "outputformat": "%Y-%m-%dT%H:%M:%S%z",
    }


def _parse_date(value: str | None) -> datetime | None:
    """trafilatura's date as aware UTC, None when absent or out of range (``clean_date``)."""
    if not value:
        return None
    try:
        return clean_date(datetime.fromisoformat(value[:64]))
    except ValueError:
        return None


def extract_html(html: bytes | str, url: str, *, charset: str | None = None, language: bool = True) -> Extracted | None:
    """Extract the article from one page, in this process (``ExtractorPool`` for a time limit).

    Args:
        html: the page as fetched (bytes, decoded here) or already decoded text.
        url: the page's final URL (for relative links and metadata; never fetched).
        charset: the ``charset`` of the HTTP ``Content-Type``, if any (``charset_from_headers``).
        language: detect the text's language when the page does not state it; False leaves ``lang`` None then,
            for a caller that detects it itself (``ExtractorPool``: the model then lives in one process, not in
            every worker).

    Returns:
        The article, or None when the page holds no usable text.

    Raises:
        ExtractError: the page is too complex, or trafilatura/lxml failed on it.
    """
    markup = _markup(html, charset, url)
    try:
        doc = _bare(markup, url)
        text = getattr(doc, "text", None) or ""
        if len(text) < 750 and len(_SPACELESS.findall(text)) * 2 > len(text):  # short, in a script without spaces:
            retry = _bare(markup, url, _spaceless_config())  # under the size floor trafilatura took the page's text
            doc = retry if len(getattr(retry, "text", None) or "") * 2 >= len(text) else doc
        if doc is None or isinstance(doc, dict) or not doc.text:
            return None
        title = _field(doc.title, "title")
        # inside the boundary: the furniture walk reads the same hostile tree (lxml can raise on it too)
        body, furniture = split_tree(doc.body, title, _render, doc.text) if doc.body is not None else (doc.text, "")
    except RecursionError as e:
        raise ExtractError("page nested too deeply to extract", url=url) from e
    except Exception as e:  # noqa: BLE001 - hostile markup must never stop the pipeline; the error is mapped
        raise ExtractError(f"extraction failed: {type(e).__name__}: {e}", url=url) from e
    if not (text := _field(body, "text")):
        return None
    return Extracted(
        title=title,
        text=text,
        furniture=_field(furniture, "text"),
        author=_field(doc.author, "author"),
        date=_parse_date(doc.date),
        lang=_field(doc.language, "lang") or (detect_language(text) if language else None),
        sitename=_field(doc.sitename, "sitename"),
    )


def _bare(markup: str, url: str, config: Any = None) -> Any:
    import trafilatura
    import trafilatura.settings

    return trafilatura.bare_extraction(  # deduplicate=True shares a cache across pages: syndicated copies vanish
        markup,
        url=url,
        with_metadata=True,
        include_comments=False,
        deduplicate=False,
        date_extraction_params=_date_params(),
        config=config or trafilatura.settings.DEFAULT_CONFIG,
    )


def _field(value: object, name: str) -> str:
    """A page's field as safe text (``monitor.clean``): no lone surrogate or control character, bounded."""
    return clean_text(value, LIMITS[name]).strip()


def _render(tree: Any) -> str:
    import trafilatura.xml

    return trafilatura.xml.xmltotxt(tree, False)
