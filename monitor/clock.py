"""The one clock, the one way times are written, and the one name of this process.

Times inside monitor and in its store are naive UTC (docs/storage.md): ``now_utc`` is the clock every stage takes
by default (tests pass their own). Outside (JSON, CSV, logs) they are ISO 8601 with a ``Z`` (``iso_utc``).
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime

__all__ = ["iso_utc", "now_utc", "worker_id"]


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
