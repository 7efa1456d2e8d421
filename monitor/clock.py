"""The one clock, the one way times are written, and the one name of this process.

Times inside monitor and in its store are naive UTC (docs/storage.md): ``now_utc`` is the clock every stage takes
by default (tests pass their own). Outside (JSON, CSV, logs) they are ISO 8601 with a ``Z`` (``iso_utc``).
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta, tzinfo

__all__ = ["iso_utc", "local_time", "minute", "now_utc", "worker_id"]


def now_utc() -> datetime:
    """Now, as naive UTC (how every time is stored and compared)."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso_utc(value: datetime) -> str:
    """``value`` as ISO 8601 UTC to the second: ``2026-12-05T21:30:00Z`` (an aware time is converted first)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="seconds") + "Z"


def worker_id(*, unique: bool = False) -> str:
    """This process as ``host:pid`` (``unique``: ``host:pid:nonce``, so a restarted pid is another worker), the
    name that claims feeds and deliveries and that crash recovery reads back."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    return f"{name}:{uuid.uuid4().hex[:8]}" if unique else name


def minute(value: datetime, sep: str = " ") -> str:
    """``value`` to the minute, ``0001-01-01 00:00``: by hand, as strftime writes year 1 as ``1`` on Linux."""
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}{sep}{value.hour:02d}:{value.minute:02d}"


def local_time(value: datetime, zone: tzinfo, *, seconds: bool = False) -> str:
    """``value`` (naive UTC, as stored) in ``zone`` with its offset, to the minute or (``seconds``: a time something
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
