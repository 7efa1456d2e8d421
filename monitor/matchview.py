"""How stored matches are shown outside the store, the same in the CLI and the web app.

- ``shown_match``: the ``matches --format json`` line of docs/design.md with credentials redacted (the article URL,
  each delivery's last error); ``monitor matches``, ``/api/v1/matches`` and ``/api/v1/matches/{id}`` give it.
- ``shown``: any JSON row with credentials redacted in the named keys (``feeds list`` uses it too).
- ``cutoff``: a ``--since``/``since=`` value (a duration back from now, or a date) as aware UTC.
- ``snippet_spans`` and ``field_spans``: where a match's hits are in its snippet and in the article's title or
  text, for ``<mark>`` (the stored snippet is plain text without offsets).
- ``safe_href``: an article's link if it is http(s), else None (a feed's ``javascript:`` link is never a link).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from monitor.clock import MAX_TIME, MIN_TIME
from monitor.config import parse_duration
from monitor.notify.redact import redact_credentials
from monitor.store.records import MatchHit, MatchRecord

__all__ = [
    "cutoff",
    "field_spans",
    "safe_href",
    "shown",
    "shown_match",
    "snippet_spans",
]


def shown(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    """``row`` with credentials hidden in its ``keys`` (URLs, errors that name URLs)."""
    return {**row, **{k: redact_credentials(row[k]) for k in keys if row.get(k)}}


def shown_match(match: MatchRecord | dict[str, Any]) -> dict[str, Any]:
    """The JSON line of a match, with the article URL's and every delivery error's credentials redacted."""
    row = match.as_json() if isinstance(match, MatchRecord) else match
    deliveries = [shown(d, "last_error") for d in row["deliveries"]]
    return {**row, "article": shown(row["article"], "url"), "deliveries": deliveries}


def cutoff(value: str, now: datetime) -> datetime:
    """The time (aware UTC) of ``value``: a duration back from ``now`` (``2h``, ``3d``) or a date or time
    (``2026-11-01``, ``2026-11-01T08:00:00+07:00``; without an offset, UTC). Out-of-range ends clamp to year 1 or
    9999.

    Raises:
        ValueError: neither a duration nor a date (one line, naming the value).
    """
    try:
        seconds = parse_duration(value)
    except ValueError:
        pass
    else:
        try:
            return now - timedelta(seconds=seconds)
        except OverflowError:
            return MIN_TIME
    try:
        parsed = datetime.fromisoformat(value.strip().upper().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is neither a duration (2h, 3d) nor a date (2026-11-01)") from None
    offset = parsed.utcoffset() or timedelta()
    try:
        return parsed.replace(tzinfo=UTC) - offset
    except OverflowError:
        return MIN_TIME if offset > timedelta() else MAX_TIME


def _loose(text: str) -> re.Pattern[str]:
    """``text`` as a pattern that takes any run of whitespace for its whitespace (snippets fold it to one space)."""
    return re.compile(r"\s+".join(re.escape(part) for part in text.split()))


def snippet_spans(snippet: str, hits: Iterable[MatchHit]) -> list[tuple[int, int]]:
    """Every place a hit's words occur in ``snippet``, as (start, end)."""
    spans: list[tuple[int, int]] = []
    for words in {h.text.strip() for h in hits if h.text.strip()}:
        spans.extend(found.span() for found in _loose(words).finditer(snippet))
    return spans


def field_spans(value: str, field: str, hits: Iterable[MatchHit]) -> list[tuple[int, int]]:
    """The hits of ``field`` as (start, end) in ``value``: at their stored offsets when the text there is the hit's,
    else wherever the hit's words occur (a text cleaned after matching may have moved them)."""
    spans: list[tuple[int, int]] = []
    for hit in hits:
        if hit.field != field or not hit.text.strip():
            continue
        if value[hit.start : hit.end] == hit.text:
            spans.append((hit.start, hit.end))
        else:
            spans.extend(found.span() for found in _loose(hit.text.strip()).finditer(value))
    return spans


def safe_href(url: str | None) -> str | None:
    """``url`` with credentials redacted when it is an http(s) link, else None."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return redact_credentials(url.strip()) if scheme in ("http", "https") else None
