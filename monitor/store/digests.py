"""Digest windows in the store, and the lease clock the outbox shares: a digest of a channel is recorded as a window
(the time its rows were due) with who sends it, so a worker taking over never sends one twice.

Inputs: a channel, a window time, a worker and lease. Outputs: "open" | "sent" | "busy" and ``DigestWindowRecord``.
The window is closed by ``DeliveryStore.record_outcomes(window=…)`` in the transaction that records its rows.
Leases are on the database's clock on PostgreSQL (``lease_clock``), on the caller's ``now`` on SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Table, and_, literal, or_, select

from monitor.clock import as_utc
from monitor.store.base import StoreBase
from monitor.store.statements import db_now
from monitor.store.tables import DigestWindow, metadata

__all__ = ["DigestWindowClose", "DigestWindowRecord", "DigestWindowStore", "close_window", "lease_clock", "lease_until"]

_windows: Table = metadata.tables[DigestWindow.__tablename__]


def lease_clock(dialect: str, now: datetime) -> Any:
    """The clock leases are read and written on: the database's on PostgreSQL (workers on several hosts, whose
    clocks may disagree, share it), ``now`` on SQLite (one daemon, whose tests pass their own clock)."""
    if dialect == "postgresql":
        return db_now()  # the feeds' leases' clock: the statement's time, UTC without an offset
    return literal(_naive(now), DateTime)


def lease_until(dialect: str, now: datetime, lease: float) -> Any:
    """When a lease taken or renewed now ends, on the clock of ``lease_clock``."""
    if dialect == "postgresql":
        return lease_clock(dialect, now) + timedelta(seconds=lease)
    return _naive(now) + timedelta(seconds=lease)  # SQLite has no interval arithmetic


@dataclass(frozen=True)
class DigestWindowClose:
    """What ``record_outcomes`` writes to the digest window its rows went out in."""

    channel: str
    window_at: datetime
    status: str  # "sent" | "failed"
    sent_at: datetime | None = None


@dataclass(frozen=True)
class DigestWindowRecord:
    """A recorded digest window of a channel (``list_digest_windows``)."""

    channel: str
    window_at: datetime
    status: str
    deliveries: int
    sent_at: datetime | None


def close_window(conn: Any, window: DigestWindowClose, worker: str, clock: Any, deliveries: int) -> None:
    """Close ``worker``'s window (fenced: only while its claim on it is live), in the caller's transaction."""
    conn.execute(
        _windows.update()
        .where(*_window_key(window.channel, window.window_at), *_own_window(worker, clock))
        .values(
            status=window.status, deliveries=deliveries, sent_at=window.sent_at, claimed_by=None, claimed_until=None
        )
    )


class DigestWindowStore(StoreBase):
    """The digest-window methods of ``Store``."""

    def open_digest_window(self, channel: str, window_at: datetime, *, worker: str, lease: float, now: datetime) -> str:
        """Take the digest of ``channel`` for ``window_at`` before sending it: "open" (ours to send), "sent" (it went
        out already: rows due in it now are late), or "busy" (another worker is sending it under a live lease).

        A window left "sending" by a worker whose lease ended (it died mid-send) is taken over; one left "failed"
        is sent again (its rows came back from their retry wait).
        """
        clock = lease_clock(self._dialect, now)
        until = lease_until(self._dialect, now, lease)
        with self._write("open digest window") as conn:
            conn.execute(
                self._insert(_windows)
                .values(channel=channel, window_at=window_at, status="sending", deliveries=0)
                .on_conflict_do_nothing()
            )
            taken = conn.execute(
                _windows.update()
                .where(
                    *_window_key(channel, window_at),
                    or_(
                        _windows.c.status == "failed",
                        and_(
                            _windows.c.status == "sending",
                            or_(
                                _windows.c.claimed_until.is_(None),
                                _windows.c.claimed_until < clock,
                                _windows.c.claimed_by == worker,
                            ),
                        ),
                    ),
                )
                .values(status="sending", claimed_by=worker, claimed_until=until)
            ).rowcount
            if taken:
                return "open"
            status = conn.execute(select(_windows.c.status).where(*_window_key(channel, window_at))).scalar_one()
        return "sent" if status == "sent" else "busy"

    def renew_digest_window(self, channel: str, window_at: datetime, worker: str, lease: float, now: datetime) -> bool:
        """Extend ``worker``'s lease on the window, with its rows' (``renew_deliveries``); False: it is not its own."""
        clock = lease_clock(self._dialect, now)
        with self._write("renew digest window") as conn:
            return bool(
                conn.execute(
                    _windows.update()
                    .where(*_window_key(channel, window_at), *_own_window(worker, clock))
                    .values(claimed_until=lease_until(self._dialect, now, lease))
                ).rowcount
            )

    def list_digest_windows(self, channel: str | None = None) -> list[DigestWindowRecord]:
        """Every digest window recorded (of one ``channel``), oldest first."""
        where = () if channel is None else (_windows.c.channel == channel,)
        with self._read("list digest windows") as conn:
            rows = conn.execute(select(_windows).where(*where).order_by(_windows.c.window_at, _windows.c.id))
            return [
                DigestWindowRecord(
                    channel=row.channel,
                    window_at=as_utc(row.window_at),
                    status=row.status,
                    deliveries=row.deliveries,
                    sent_at=None if row.sent_at is None else as_utc(row.sent_at),
                )
                for row in rows
            ]


def _naive(when: datetime) -> datetime:
    """``when`` as the columns hold it: UTC without an offset."""
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def _window_key(channel: str, window_at: datetime) -> tuple[Any, ...]:
    return (_windows.c.channel == channel, _windows.c.window_at == window_at)


def _own_window(worker: str, clock: Any) -> tuple[Any, ...]:
    return (_windows.c.status == "sending", _windows.c.claimed_by == worker, _windows.c.claimed_until > clock)
