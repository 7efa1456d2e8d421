"""The one clock, the one way times are written, and the one name of this process.

Times inside monitor are timezone-aware UTC (docs/storage.md): ``now_utc`` is the clock every stage takes by
default (tests pass their own), ``as_utc`` makes any time aware UTC (a naive one is taken as UTC: feedparser's and
the database's). The store keeps them as UTC without an offset and gives them back aware. Outside (JSON, CSV, logs)
they are ISO 8601 with a ``Z`` (``iso_utc``).
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta, tzinfo

__all__ = ["MAX_TIME", "MIN_TIME", "as_utc", "iso_utc", "local_time", "minute", "now_utc", "worker_id"]


MIN_TIME = datetime.min.replace(tzinfo=UTC)  # "since forever"
MAX_TIME = datetime.max.replace(tzinfo=UTC)  # "never" (saturated arithmetic)


def now_utc() -> datetime:
    """Now, timezone-aware UTC (how every time is compared)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` as aware UTC: a naive time is taken to be UTC already, an aware one is converted.

    Raises:
        OverflowError: converting it to UTC would leave years 1..9999.
    """
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_utc(value: datetime) -> str:
    """``value`` as ISO 8601 UTC to the second: ``2026-12-05T21:30:00Z`` (a naive time is taken as UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def worker_id(*, unique: bool = False) -> str:
    """This process as ``host:pid`` (``unique``: ``host:pid:nonce``, so a restarted pid is another worker), the
    name that claims feeds and deliveries and that crash recovery reads back."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    return f"{name}:{uuid.uuid4().hex[:8]}" if unique else name


def minute(value: datetime, sep: str = " ") -> str:
    """``value`` to the minute, ``0001-01-01 00:00``: by hand, as strftime writes year 1 as ``1`` on Linux."""
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}{sep}{value.hour:02d}:{value.minute:02d}"


def local_time(value: datetime, zone: tzinfo, *, seconds: bool = False) -> str:
    """``value`` (UTC; naive is taken as UTC) in ``zone`` with its offset, to the minute or (``seconds``: a time something
    is due) to the second: ``2026-12-05 23:06 +01:00``. What people read; JSON keeps ISO UTC."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    try:
        local = aware.astimezone(zone)
    except (OverflowError, ValueError):  # the zone's offset would leave years 1..9999: show it in UTC
        local = aware.astimezone(UTC)
    offset = local.utcoffset() or timedelta()
    sign, rest = ("-", -offset) if offset < timedelta() else ("+", offset)
    hours, minutes = divmod(int(rest.total_seconds()) // 60, 60)
    second = f":{local.second:02d}" if seconds else ""
    return f"{minute(local)}{second} {sign}{hours:02d}:{minutes:02d}"
