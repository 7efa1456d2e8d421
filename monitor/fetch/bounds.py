"""What a server sends, made safe to keep and to show: bounded, cleaned of control characters, clamped.

httpx lets one header run to ~64 KB and passes any bytes through; these values reach error messages, log lines,
the CLI and the database. A longer redirect or URL is refused, a longer validator is not kept (it is stored and
sent back), a longer header value is cut, and a Retry-After is read strictly and clamped.
"""

from __future__ import annotations

import email.utils
import unicodedata
from datetime import UTC, datetime

import httpx

__all__ = [
    "MAX_HEADER",
    "MAX_RETRY_AFTER",
    "MAX_SHOWN",
    "MAX_URL",
    "MAX_VALIDATOR",
    "ascii_digits",
    "clip",
    "parse_retry_after",
    "safe_url",
    "url_host",
    "validator",
]

MAX_URL = 4096
MAX_VALIDATOR = 512
MAX_HEADER = 4096
MAX_SHOWN = 120  # characters of server text (reason phrase, exception text) put into an error message
MAX_RETRY_AFTER = 7 * 86400.0  # a longer Retry-After is read as a week: the feed is retried, not lost


def clip(text: str, limit: int = MAX_SHOWN) -> str:
    """Server-supplied text made fit for a one-line message: no control or format characters, at most ``limit``."""
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Cs") else c for c in text[: limit * 2])
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def safe_url(url: str | httpx.URL) -> str:
    """The URL without credentials, query or fragment, and bounded: fit for error messages and logs."""
    try:
        u = httpx.URL(str(url)[:MAX_URL])
        port = f":{u.port}" if u.port else ""
        return clip(f"{u.scheme}://{url_host(u)}{port}{u.path}", 200)
    except Exception:  # noqa: BLE001 - called while reporting other errors: it must not raise itself
        return "<invalid URL>"


def url_host(url: httpx.URL) -> str:
    """The URL's host, as it is sent when it is not valid IDNA: ``httpx.URL.host`` raises for ``xn--.test``."""
    try:
        return url.host
    except UnicodeError:
        return url.raw_host.decode("ascii", "replace")


def ascii_digits(value: str) -> bool:
    """Only 0-9: ``str.isdigit`` alone accepts '²' and other digits that ``float()`` refuses."""
    return value.isascii() and value.isdigit()


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), at most ``MAX_RETRY_AFTER``;
    None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if ascii_digits(value):
        digits = value.lstrip("0")
        return MAX_RETRY_AFTER if len(digits) > 9 else min(float(digits or 0), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value[:64])
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    except (TypeError, ValueError, IndexError, OverflowError):  # OverflowError: a date past year 9999 in UTC
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def validator(value: str | None) -> str | None:
    """An ETag / Last-Modified worth keeping and sending back: printable ASCII (it goes back as a request header,
    which httpx encodes as ASCII: 'é' would fail every later poll) and of sane length."""
    return value if value and len(value) <= MAX_VALIDATOR and value.isascii() and value.isprintable() else None
