"""Input normalisation at the edge: every text field of a feed entry or an extracted page passes here once.

Real feeds carry lone surrogates (``&#xD800;``), NUL and other control characters, absurd dates and megabyte
titles; a database refuses some of them (PostgreSQL rejects NUL in text, no UTF-8 driver can encode a lone
surrogate) and code downstream trips on others (a year-9999 date overflows when shifted to a time zone). So
``parse_feed`` and ``extract_html`` give only values cleaned here, and ``NewArticle`` checks again before insert.

- text: lone surrogates, NUL and the other C0 controls except ``\\t`` and ``\\n`` removed (``\\r`` becomes ``\\n``),
  DEL too; then cut to the field's limit (``LIMITS``).
- URLs: cleaned as text, no user info (``user:pass@``), and ``""`` when longer than ``MAX_URL_CHARS`` once
  percent-encoded (a cut URL is a wrong one) or not http(s).
- GUIDs and other keys: cleaned as text; one over ``MAX_KEY_BYTES`` of UTF-8 is replaced by a hash of itself (still
  unique). PostgreSQL cannot index a value over 2,704 bytes: 2,000 CJK characters (6 KB) failed the insert.
- numeric character references in XML bytes (``clean_char_refs``): a UTF-16 surrogate pair written as two
  references (``&#55357;&#56832;``, common in the wild) becomes the character it encodes; a reference to a character
  XML forbids (a lone surrogate, NUL, a C0 control, beyond U+10FFFF) becomes a space.
- markup (``bound_tags``): a tag longer than ``MAX_TAG_CHARS`` loses its attributes (``<p a0=1 …>`` becomes ``<p>``)
  before a parser sees it: feedparser's SAX handler and libxml2's HTML parser are both quadratic in one tag's
  attributes (20,000 in one element: 5 s in feedparser, 3 s in lxml; 100,000: minutes).
- dates: aware UTC; a date before ``MIN_DATE`` or more than ``MAX_FUTURE`` ahead is unknown (``None``): a year-1
  or year-9999 date says nothing true about when the article appeared, and an unknown date is what the rest of
  the pipeline already handles (treated as fresh).
"""

from __future__ import annotations

import codecs
import hashlib
import re
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import AnyStr

from monitor.clock import as_utc, now_utc

__all__ = [
    "INDEXABLE_BYTES",
    "LIMITS",
    "MAX_FUTURE",
    "MAX_KEY_BYTES",
    "MAX_TAG_CHARS",
    "MAX_URL_CHARS",
    "MIN_DATE",
    "bound_key",
    "bound_tags",
    "charset_codec",
    "clean_char_refs",
    "clean_date",
    "clean_guid",
    "clean_text",
    "clean_url",
    "is_clean",
    "strip_userinfo",
]

#: Characters kept per field; beyond that the text is cut (a 1 MB title is an attack or a broken feed).
LIMITS = {
    "title": 1_000,
    "author": 200,
    "sitename": 200,
    "lang": 35,  # BCP 47 tags are short; a longer one is garbage
    "summary": 20_000,
    "content": 200_000,
    "text": 200_000,
}
MAX_URL_CHARS = 2_048
MAX_KEY_BYTES = 2_048
#: What the store indexes at most (PostgreSQL's B-tree limit is 2,704 bytes a row); above the edge's limits, so a
#: key the edge let through is stored as looked up.
INDEXABLE_BYTES = 2_600
MAX_TAG_CHARS = 20_000  # real tags are far shorter; what a longer one holds (a data: image) is no text
MIN_DATE = datetime(1970, 1, 1, tzinfo=UTC)
MAX_FUTURE = timedelta(days=1)

# Lone surrogates, C0 controls but tab, newline and CR, and DEL. CR is handled apart (it becomes a newline).
_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
_CHAR_REF = re.compile(rb"&#([xX]?)([0-9A-Fa-f]+);")
# A start or end tag, quoted values read whole (a=">" does not end it); possessive, so linear.
_TAG = re.compile(r"""<(/?[A-Za-z][^\s<>/]*+)(?:[^<>"'/]++|/(?!>)|"[^"]*+"|'[^']*+')*+(/?>)""")
_TAG_BYTES = re.compile(_TAG.pattern.encode())
# Python codecs that are no charset a document can be written in: ``undefined`` always fails, ``unicode_escape``
# turns the text ``\ud800`` into a lone surrogate, ``idna``/``punycode`` refuse ``errors="replace"``.
_NOT_CHARSETS = frozenset({"undefined", "unicode-escape", "raw-unicode-escape", "idna", "punycode"})
_URL_DROPS = dict.fromkeys(map(ord, "\t\n\r"))
_URL_SAFE = "/:?#&=%"  # counted as one character; anything else might be percent-encoded (by dedup, a browser)


def is_clean(text: str) -> bool:
    """True when ``text`` holds nothing ``clean_text`` would remove (cheap: one regex scan)."""
    return _UNSAFE.search(text) is None


def clean_text(value: object, limit: int | None = None) -> str:
    """``value`` as safe text: lone surrogates and control characters but ``\\t``/``\\n`` removed, cut to ``limit``.

    ``None`` gives ``""``; anything else that is not a string is converted with ``str``.
    """
    text = "" if value is None else value if isinstance(value, str) else str(value)
    if limit is not None:
        text = text[: limit * 2]  # bound the work; the final cut is below, after removals
    if not is_clean(text):
        text = _BAD.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return text[:limit] if limit is not None else text


def bound_tags(markup: AnyStr) -> AnyStr:
    """``markup`` (text or ASCII-compatible bytes) with each tag over ``MAX_TAG_CHARS`` cut to its name (``<p>``,
    ``<link/>``, ``</p>``): linear, and a no-op on markup shorter than that."""
    if len(markup) <= MAX_TAG_CHARS:
        return markup
    if isinstance(markup, bytes):
        return _TAG_BYTES.sub(_short_tag, markup)
    return _TAG.sub(_short_tag, markup)


def _short_tag(tag: re.Match[AnyStr]) -> AnyStr:
    whole = tag.group(0)  # "<", the name and "/>" or ">" (an empty XML element stays one)
    return whole if len(whole) <= MAX_TAG_CHARS else whole[:1] + tag.group(1) + tag.group(2)


def charset_codec(label: str | bytes | None) -> str | None:
    """The Python codec of a declared charset (``Content-Type``, ``<meta>``, ``<?xml?>``); None when unknown or no
    text charset at all (``rot13``, ``base64`` and ``zlib`` are codecs too: decoding with them raised)."""
    text = label.decode("ascii", "ignore") if isinstance(label, bytes) else label or ""
    try:
        info = codecs.lookup(text.strip().lower())
    except LookupError:
        return None
    return info.name if getattr(info, "_is_text_encoding", True) and info.name not in _NOT_CHARSETS else None


def strip_userinfo(url: str) -> str:
    """``url`` without ``user:pass@`` (a feed URL's credentials must not spread to its links); ``""`` if unparsable."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # e.g. an unclosed "[" in the host: no URL to speak of
        return ""
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def clean_url(value: object) -> str:
    """An http(s) URL as safe text without user info; ``""`` when it is not one (no host) or is too long once encoded.

    Tabs and newlines are removed, as browsers remove them: ``http://\\t/u:p@h/`` and ``http:///u:p@h/`` have no host
    to Python but are ``u:p@h`` to a browser, so a URL without a host is refused rather than stored.
    """
    url = clean_text(value, MAX_URL_CHARS + 1).translate(_URL_DROPS).strip()
    if not url.lower().startswith(("http://", "https://")):
        return ""
    url = strip_userinfo(url)
    if not (urllib.parse.urlsplit(url).hostname or "").strip("/\\ "):  # "" (unparsable) has none either
        return ""
    if "@" in url:  # after the host: "%40", so no part of a link reads as user@host, to a person or a parser
        parts = urllib.parse.urlsplit(url)
        url = urllib.parse.urlunsplit((*parts[:2], *(part.replace("@", "%40") for part in parts[2:])))
    return url if len(urllib.parse.quote(url, safe=_URL_SAFE)) <= MAX_URL_CHARS else ""


def bound_key(key: str, limit: int = MAX_KEY_BYTES) -> str:
    """``key`` itself, or ``sha256:`` + its hash when over ``limit`` bytes of UTF-8 (still unique, indexable)."""
    data = key.encode("utf-8", "surrogatepass")
    return key if len(data) <= limit else "sha256:" + hashlib.sha256(data).hexdigest()[:32]


def clean_guid(value: object) -> str:
    """A GUID as safe, stripped text, bounded (``bound_key``)."""
    return bound_key(clean_text(value).strip())


def clean_date(when: datetime | None, now: datetime | None = None) -> datetime | None:
    """``when`` as aware UTC, or None when absent, unconvertible or outside [``MIN_DATE``, now + ``MAX_FUTURE``].

    An aware ``when`` is converted to UTC (a year-9999 date with a negative offset overflows: None); a naive one
    is taken as UTC already. ``now`` defaults to the clock.
    """
    if when is None:
        return None
    try:
        when = as_utc(when)
        now = as_utc(now or now_utc())
    except (OverflowError, ValueError):
        return None
    if when < MIN_DATE or when > now + MAX_FUTURE:
        return None
    return when


def _ref_code(ref: re.Match[bytes]) -> int | None:
    """The code point a reference names (-1: too long to be one); None when it is not a reference at all."""
    digits = ref.group(2).lstrip(b"0") or b"0"
    try:
        return int(digits, 16 if ref.group(1) else 10) if len(digits) <= 8 else -1
    except ValueError:  # hex letters in a decimal reference: left to the parser
        return None


def clean_char_refs(body: bytes) -> bytes:
    """XML bytes (ASCII-compatible) with surrogate-pair references joined and forbidden ones made a space.

    expat refuses a whole document for one reference to a character XML forbids, and feedparser's fallback parser
    then raises on it (``chr(0xD800).encode()``): one item would fail its feed.
    """
    skip = -1

    def fix(ref: re.Match[bytes]) -> bytes:
        nonlocal skip
        code = _ref_code(ref)
        if ref.start() == skip or code is None:
            return b"" if ref.start() == skip else ref.group(0)
        if 0xD800 <= code <= 0xDBFF and (low := _CHAR_REF.match(body, ref.end())):
            low_code = _ref_code(low)
            if low_code is not None and 0xDC00 <= low_code <= 0xDFFF:
                skip = low.start()
                return b"&#x%X;" % (0x10000 + ((code - 0xD800) << 10) + (low_code - 0xDC00))
        allowed = code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD
        return ref.group(0) if allowed or 0x10000 <= code <= 0x10FFFF else b" "

    return _CHAR_REF.sub(fix, body)
