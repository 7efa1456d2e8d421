"""What the operator's views read from the store: counts for ``/metrics``, feed activity for the Feeds page, single
deliveries for the Deliveries page, and the one write of that page, making a failed delivery due again.

Inputs: ``now`` and a window. Outputs: ``StoreCounts``, ``FeedActivity`` per feed id, ``DeliveryRecord``.
Every count is computed by the database (GROUP BY), so a scrape costs a few index scans whatever the store holds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, String, Table, and_, bindparam, func, or_, select, type_coerce

from monitor.clock import as_utc
from monitor.store.deliveries import DeliveryRecord, DeliveryStore
from monitor.store.tables import Article, Delivery, Feed, Match, metadata

__all__ = ["FEED_STATUSES", "FeedActivity", "HealthStore", "StoreCounts", "feed_status"]

_feeds: Table = metadata.tables[Feed.__tablename__]
_articles: Table = metadata.tables[Article.__tablename__]
_matches: Table = metadata.tables[Match.__tablename__]
_deliveries: Table = metadata.tables[Delivery.__tablename__]
_WHEN = func.coalesce(_articles.c.published, _articles.c.fetched_at)  # when an article appeared, as best known
_BATCH = 2000  # rows per query of the activity scan
_DISORDER = timedelta(days=1)  # the activity scan reads this much further back than its window

#: Every value ``feed_status`` gives, so a metric shows a status at 0 rather than not at all (an alert on
#: ``monitor_feeds{status="error"} > 0`` needs the series to exist).
FEED_STATUSES = ("disabled", "error", "gone", "never_polled", "not_modified", "ok", "skipped")


def feed_status(enabled: bool, last_status: str | None) -> str:
    """A feed's health in one word: its last poll's status, ``never_polled``, or ``disabled`` (a feed retired
    after a 410 stays ``gone``: that says why it is off)."""
    status = last_status or "never_polled"
    return status if enabled or status == "gone" else "disabled"


@dataclass(frozen=True)
class StoreCounts:
    """What the store holds, counted: the store-derived half of ``/metrics``."""

    feeds: dict[str, int]  # feed_status -> feeds
    articles: int
    matches: dict[str, int]  # rule id -> matches
    deliveries: dict[tuple[str, str], int]  # (channel, status) -> deliveries
    queue_depth: int  # deliveries pending (waiting for a send, a retry or their digest)
    last_success: datetime | None  # the newest successful poll of any feed


@dataclass(frozen=True)
class FeedActivity:
    """One feed's recent articles: how many were stored in each of the last days (``per_day[0]`` the oldest day,
    ``per_day[-1]`` the 24 hours up to now), and when the ones it stored last were published (the last stored
    first; the fetch time where the feed gives no date)."""

    per_day: tuple[int, ...]
    published: tuple[datetime, ...] = field(default=())


class HealthStore(DeliveryStore):
    """The health and outbox views of ``Store`` (on the outbox's own queries)."""

    def store_counts(self) -> StoreCounts:
        """Feeds by status, articles, matches by rule, deliveries by channel and status, the queue, the last poll."""
        with self._read("count store") as conn:
            feeds: dict[str, int] = dict.fromkeys(FEED_STATUSES, 0)
            for enabled, status, n in conn.execute(
                select(_feeds.c.enabled, _feeds.c.last_status, func.count()).group_by(
                    _feeds.c.enabled, _feeds.c.last_status
                )
            ):
                key = feed_status(bool(enabled), status)
                feeds[key] = feeds.get(key, 0) + int(n)
            articles = int(conn.execute(select(func.count()).select_from(_articles)).scalar_one())
            matches = {
                str(rule): int(n)
                for rule, n in conn.execute(
                    select(_matches.c.rule_id, func.count()).group_by(_matches.c.rule_id).order_by(_matches.c.rule_id)
                )
            }
            by_channel = select(_deliveries.c.channel, _deliveries.c.status, func.count()).group_by(
                _deliveries.c.channel, _deliveries.c.status
            )
            deliveries = {(str(c), str(s)): int(n) for c, s, n in conn.execute(by_channel)}
            last = conn.execute(select(func.max(_feeds.c.last_success))).scalar()
        pending = sum(n for (_, status), n in deliveries.items() if status == "pending")
        return StoreCounts(feeds, articles, matches, deliveries, pending, _as_datetime(last))

    def feed_activity(self, now: datetime, *, days: int = 7, recent: int = 20) -> dict[int, FeedActivity]:
        """Per feed id (feeds with no article are absent): articles stored per day over the last ``days`` days
        (24-hour windows ending at ``now``, so no time zone decides where a day ends) and the publication times of
        the ``recent`` articles it stored last."""
        start = now - timedelta(days=days)
        counts: dict[int, list[int]] = {}
        newest: dict[int, list[datetime]] = defaultdict(list)
        with self._read("feed activity") as conn:
            for feed_id, fetched, at in self._stored_since(conn, start - _DISORDER):
                if start < fetched <= now:
                    age = int((now - fetched) / timedelta(days=1))
                    counts.setdefault(feed_id, [0] * days)[days - 1 - age] += 1
                if len(newest[feed_id]) < recent:
                    newest[feed_id].append(_when(at))
            # A feed that stored fewer in that span: its last ones, by one indexed query each.
            last = select(_WHEN).where(_articles.c.feed_id == bindparam("feed")).order_by(_articles.c.id.desc())
            last = last.limit(recent)
            for (feed_id,) in conn.execute(select(_feeds.c.id)):
                if len(newest.get(feed_id, ())) < recent:
                    newest[feed_id] = [_when(at) for at in conn.execute(last, {"feed": feed_id}).scalars()]
        return {
            feed_id: FeedActivity(tuple(counts.get(feed_id, [0] * days)), tuple(times))
            for feed_id, times in newest.items()
            if times
        }

    def _stored_since(self, conn: Connection, since: datetime) -> Iterator[tuple[int, datetime, Any]]:
        """(feed id, fetched at, published or fetched at as the driver gives it: ``_when`` reads it) of the articles
        stored since about ``since``, the last stored first. By id, in batches, not by ``fetched_at`` (no index):
        the scan reads the span's rows only, and stops past ``since`` (a margin above covers writers that committed
        a little out of order). Times come raw (``type_coerce``): parsing only those needed is most of the speed."""
        before: int | None = None
        fetched_at, when = type_coerce(_articles.c.fetched_at, String), type_coerce(_WHEN, String)
        while True:
            query = select(_articles.c.id, _articles.c.feed_id, fetched_at, when).where(
                _articles.c.feed_id.is_not(None)
            )
            if before is not None:
                query = query.where(_articles.c.id < before)
            rows = conn.execute(query.order_by(_articles.c.id.desc()).limit(_BATCH)).all()
            for _, feed_id, fetched, at in rows:
                yield feed_id, _when(fetched), at
            if len(rows) < _BATCH or _when(rows[-1][2]) < since:
                return
            before = int(rows[-1].id)

    def get_delivery(self, delivery_id: int) -> DeliveryRecord | None:
        """The delivery with this id (with its match and article), or None."""
        with self._read("get delivery") as conn:
            found = self._select_deliveries(conn, _deliveries.c.id == delivery_id)
        return found[0] if found else None

    def delivery_counts(self) -> dict[str, int]:
        """Deliveries by status (``pending``, ``sent``, ``failed``, ``suppressed``), over every channel."""
        with self._read("count deliveries") as conn:
            rows = conn.execute(select(_deliveries.c.status, func.count()).group_by(_deliveries.c.status))
            return {str(status): int(n) for status, n in rows}

    def requeue_delivery(self, delivery_id: int, now: datetime) -> bool:
        """Make a delivery whose last attempt failed due at ``now``, for one more attempt: a ``failed`` one (retries
        given up) back to ``pending``, or a ``pending`` one waiting for its next retry, unless a sender holds it
        now. Its attempts are kept, so a new failure goes on with the retry schedule rather than starting it over.
        False when there is no such delivery."""
        retryable = or_(
            _deliveries.c.status == "failed",
            and_(
                _deliveries.c.status == "pending",
                _deliveries.c.attempts > 0,
                or_(_deliveries.c.claimed_until.is_(None), _deliveries.c.claimed_until < now),
            ),
        )
        with self._write("requeue delivery") as conn:
            changed = conn.execute(
                _deliveries.update()
                .where(_deliveries.c.id == delivery_id, retryable)
                .values(status="pending", next_attempt_at=now, claimed_until=None, claimed_by=None)
            ).rowcount
        return bool(changed)


def _when(value: Any) -> datetime:
    """A timestamp that is never NULL (``fetched_at``, or ``published`` falling back to it)."""
    found = _as_datetime(value)
    assert found is not None
    return found


def _as_datetime(value: Any) -> datetime | None:
    """A timestamp as the driver gives it (SQLite's ``max()`` of a DateTime column is text, not a datetime), as aware
    UTC (the database holds UTC without an offset)."""
    if value is None:
        return None
    return as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))
