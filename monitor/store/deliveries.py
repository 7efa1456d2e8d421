"""The delivery outbox in the store: claim due deliveries with a lease, record each send's outcome.

Inputs: ``now``, a worker id and lease, ``DeliveryOutcome`` values after a send.
Outputs: ``DeliveryRecord`` values (a delivery joined with its match and article, enough to render an alert).

Rows are written by ``add_article_with_matches`` in the match's transaction; this mixin only moves them from
``pending`` to ``sent``/``suppressed``/``failed``. A claim sets ``claimed_until``: a worker killed mid-send leaves
rows that become claimable again when the lease ends (at-least-once: only a send finished but not yet recorded
can repeat). On PostgreSQL (several workers, issue 17) leases are on the database's clock, a story's rows to one
channel are claimed whole under a tried transaction-level advisory lock (workers claiming at once take disjoint
stories, never parts of one), a sender renews its lease before each send (``renew_deliveries``), and outcomes are
fenced: written only while the claim is still the writer's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Table, cast, exists, func, literal, or_, select, tuple_

from monitor.clock import iso_utc, now_utc
from monitor.store.base import StoreBase, chunked
from monitor.store.digests import DigestWindowClose, close_window, lease_clock, lease_until
from monitor.store.records import MatchHit
from monitor.store.tables import Article, Delivery, Match, metadata

__all__ = [
    "CLAIM_LOCK_SPACE",
    "DeliveryOutcome",
    "DeliveryRecord",
    "DeliveryStore",
]

_log = logging.getLogger(__name__)
_deliveries: Table = metadata.tables[Delivery.__tablename__]
_matches: Table = metadata.tables[Match.__tablename__]
_articles: Table = metadata.tables[Article.__tablename__]
#: The first key of the transaction-level advisory locks on (channel, story) groups while they are claimed; the
#: two-key form keeps them apart from the one-key locks the store takes on story keys.
CLAIM_LOCK_SPACE = 0x6D6F6E01


@dataclass(frozen=True)
class DeliveryRecord:
    """A delivery with what an alert about it shows (match and article fields are empty if the match is gone)."""

    id: int
    channel: str
    story_id: int
    rule_id: str
    mode: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    match_id: int | None = None
    severity: str = "info"
    snippet: str = ""
    hits: tuple[MatchHit, ...] = ()
    matched_at: datetime | None = None
    article_id: int | None = None
    article_title: str = ""
    article_url: str = ""
    feed_name: str = ""
    published: datetime | None = None
    article_owned: bool = False  # the article is on its feed's own site (not a copy of another site's article)

    def as_json(self) -> dict[str, Any]:
        """The ``deliveries --format json`` object."""

        def iso(when: datetime | None) -> str | None:
            return None if when is None else iso_utc(when)

        return {
            "id": self.id,
            "channel": self.channel,
            "story": self.story_id,
            "rule": self.rule_id,
            "mode": self.mode,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": iso(self.next_attempt_at),
            "last_error": self.last_error,
            "created_at": iso(self.created_at),
            "sent_at": iso(self.sent_at),
            "article": {
                "id": self.article_id,
                "title": self.article_title,
                "url": self.article_url,
                "feed": self.feed_name,
            },
        }


@dataclass(frozen=True)
class DeliveryOutcome:
    """What became of one claimed delivery: ``status`` sent | suppressed | failed | pending (retry later)."""

    id: int
    status: str
    attempts: int
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None


class DeliveryStore(StoreBase):
    """The outbox methods of ``Store``."""

    def claim_deliveries(
        self, now: datetime, *, worker: str, lease: float, mode: str = "immediate", limit: int = 500
    ) -> list[DeliveryRecord]:
        """Take pending deliveries of ``mode`` that are due at ``now`` for ``lease`` seconds, whole stories at a time.

        Due: ``next_attempt_at`` unset or not after ``now``, and no live lease (``claimed_until`` unset or past, on
        the database's clock). A story's due rows to one channel are claimed together by one worker (one message
        per story per channel): the ``limit`` oldest (channel, story) groups with a due row, every due row of each,
        unless another worker holds a live lease on one of its rows (it is sending that story). On PostgreSQL each
        group is taken under a transaction-level advisory lock tried, not waited for, so two workers claiming at
        once never split a group and never wait on each other. Returns them oldest first.
        """
        clock = lease_clock(self._dialect, now)
        with self._write("claim deliveries") as conn:
            groups = [
                (row.channel, int(row.story_id)) for row in conn.execute(self._free_groups(now, mode, clock, limit))
            ]
            ids: list[int] = []
            for chunk in chunked(groups):
                ids += self._claim_groups(conn, chunk, now, mode, clock, worker, lease_until(self._dialect, now, lease))
            claimed = self._select_deliveries(conn, _deliveries.c.id.in_(ids)) if ids else []
        _log.debug("deliveries claimed worker=%s mode=%s count=%d", worker, mode, len(claimed))
        return claimed

    def _free_groups(self, now: datetime, mode: str, clock: Any, limit: int) -> Any:
        """The oldest (channel, story) groups with a claimable row, at most ``limit``. On PostgreSQL only those whose
        advisory lock this transaction gets: groups another worker is claiming right now are passed over (it takes
        them whole), and the scan goes on to the next ones, so workers claiming at once take disjoint stories."""
        scan = (
            select(_deliveries.c.channel, _deliveries.c.story_id)
            .where(*_claimable(now, mode, clock))
            .group_by(_deliveries.c.channel, _deliveries.c.story_id)
            .order_by(func.min(_deliveries.c.created_at), func.min(_deliveries.c.id))
        )
        if self._dialect != "postgresql":
            return scan.limit(limit)
        oldest = scan.limit(4 * limit).subquery()  # a LIMIT subquery is not flattened: the lock is tried row by row
        # The schema is in the key: deployments sharing one database (a schema each) never skip each other's groups.
        key = func.hashtext(func.current_schema() + "/" + oldest.c.channel + "/" + cast(oldest.c.story_id, String))
        locked = func.pg_try_advisory_xact_lock(cast(literal(CLAIM_LOCK_SPACE), Integer), key)
        return select(oldest.c.channel, oldest.c.story_id).where(locked).limit(limit)

    @staticmethod
    def _claim_groups(
        conn: Any,
        groups: Sequence[tuple[str, int]],
        now: datetime,
        mode: str,
        clock: Any,
        worker: str,
        until: Any,
    ) -> list[int]:
        other = _deliveries.alias("other")
        held_elsewhere = exists().where(
            other.c.channel == _deliveries.c.channel,
            other.c.story_id == _deliveries.c.story_id,
            other.c.mode == mode,
            other.c.status == "pending",
            other.c.claimed_by != worker,
            other.c.claimed_until >= clock,
        )
        return list(
            conn.execute(
                _deliveries.update()
                .where(
                    tuple_(_deliveries.c.channel, _deliveries.c.story_id).in_(list(groups)),
                    *_claimable(now, mode, clock),
                    ~held_elsewhere,
                )
                .values(claimed_until=until, claimed_by=worker)
                .returning(_deliveries.c.id)
            ).scalars()
        )

    def renew_deliveries(self, ids: Sequence[int], worker: str, lease: float, now: datetime) -> bool:
        """Extend ``worker``'s lease on ``ids`` by ``lease`` seconds, just before a send; False: not all of them are
        still its own (its lease ran out and another worker may have them), so the send must not happen."""
        wanted = set(ids)
        if not wanted:
            return True
        clock = lease_clock(self._dialect, now)
        with self._write("renew delivery claims") as conn:
            renewed = conn.execute(
                _deliveries.update()
                .where(_deliveries.c.id.in_(list(wanted)), *_own(worker, clock))
                .values(claimed_until=lease_until(self._dialect, now, lease))
            ).rowcount
        if renewed != len(wanted):
            _log.warning("delivery claim lost worker=%s deliveries=%d still_own=%d", worker, len(wanted), renewed)
        return bool(renewed == len(wanted))

    def record_outcomes(
        self,
        outcomes: Sequence[DeliveryOutcome],
        *,
        worker: str | None = None,
        now: datetime | None = None,
        window: DigestWindowClose | None = None,
    ) -> int:
        """Store the outcome of claimed deliveries and release their lease; returns the rows updated.

        With ``worker`` (what a sender passes) the writes are fenced: a row is written only while it is still that
        worker's claim (``claimed_by = worker AND claimed_until > now()``), so a worker that stalled past its lease
        writes nothing over the worker that took the row over. Without it (tools, tests), any row still pending.
        ``window``: the digest these rows went out in, recorded in the same transaction (``open_digest_window``).
        """
        updated = 0
        clock = lease_clock(self._dialect, now or now_utc())
        fence = _own(worker, clock) if worker is not None else (_deliveries.c.status == "pending",)
        with self._write("record delivery outcomes") as conn:
            for outcome in outcomes:
                updated += conn.execute(
                    _deliveries.update()
                    .where(_deliveries.c.id == outcome.id, *fence)
                    .values(
                        status=outcome.status,
                        attempts=outcome.attempts,
                        next_attempt_at=outcome.next_attempt_at,
                        last_error=outcome.last_error,
                        sent_at=outcome.sent_at,
                        claimed_until=None,
                        claimed_by=None,
                    )
                ).rowcount
            if window is not None and worker is not None:
                close_window(conn, window, worker, clock, updated)
        if worker is not None and updated != len(outcomes):
            _log.warning(
                "delivery outcomes refused worker=%s refused=%d (the lease ran out: another worker has them)",
                worker,
                len(outcomes) - updated,
            )
        return updated

    def release_deliveries(self, ids: Sequence[int], worker: str) -> None:
        """Give back claimed rows unchanged (for example rows held back by the hourly limit)."""
        if not ids:
            return
        with self._write("release deliveries") as conn:
            conn.execute(
                _deliveries.update()
                .where(_deliveries.c.id.in_(list(ids)), _deliveries.c.claimed_by == worker)
                .values(claimed_until=None, claimed_by=None)
            )

    def list_claimants(self, now: datetime) -> list[str]:
        """The workers holding a live lease on some delivery at ``now``."""
        clock = lease_clock(self._dialect, now)
        with self._read("list delivery claimants") as conn:
            return sorted(
                conn.execute(
                    select(_deliveries.c.claimed_by)
                    .distinct()
                    .where(_deliveries.c.claimed_by.is_not(None), _deliveries.c.claimed_until >= clock)
                ).scalars()
            )

    def release_claims(self, worker: str) -> int:
        """Drop every lease ``worker`` holds (a worker known to be dead); returns the rows released."""
        with self._write("release claims") as conn:
            return int(
                conn.execute(
                    _deliveries.update()
                    .where(_deliveries.c.claimed_by == worker)
                    .values(claimed_until=None, claimed_by=None)
                ).rowcount
            )

    def count_recent_messages(self, channel: str, since: datetime) -> int:
        """Immediate messages (alerts and throttle summaries) sent to ``channel`` after ``since``.

        One message covers all rows of one story sent together (same ``sent_at``); a summary covers all rows it
        suppressed (same ``sent_at``). So messages are the distinct (story, sent_at) pairs of sent rows plus the
        distinct ``sent_at`` of suppressed rows.
        """
        with self._read("count recent messages") as conn:
            rows = conn.execute(
                select(_deliveries.c.story_id, _deliveries.c.status, _deliveries.c.sent_at).where(
                    _deliveries.c.channel == channel,
                    _deliveries.c.mode == "immediate",
                    _deliveries.c.status.in_(("sent", "suppressed")),
                    _deliveries.c.sent_at > since,
                )
            ).all()
        alerts = {(r.story_id, r.sent_at) for r in rows if r.status == "sent"}
        summaries = {r.sent_at for r in rows if r.status == "suppressed"}
        return len(alerts) + len(summaries)

    def list_deliveries(
        self, *, status: str | None = None, channel: str | None = None, limit: int | None = 100
    ) -> list[DeliveryRecord]:
        """Deliveries newest first, optionally of one ``status`` and/or ``channel``."""
        where: list[Any] = []
        if status is not None:
            where.append(_deliveries.c.status == status)
        if channel is not None:
            where.append(_deliveries.c.channel == channel)
        with self._read("list deliveries") as conn:
            return self._select_deliveries(conn, *where, newest_first=True, limit=limit)

    def _select_deliveries(
        self, conn: Any, *where: Any, newest_first: bool = False, limit: int | None = None
    ) -> list[DeliveryRecord]:
        query = (
            select(
                _deliveries,
                _matches.c.severity,
                _matches.c.snippet,
                _matches.c.hits,
                _matches.c.matched_at,
                _matches.c.article_id,
                _articles.c.title.label("article_title"),
                _articles.c.url.label("article_url"),
                _articles.c.feed_name,
                _articles.c.published,
                _articles.c.owned,
            )
            .outerjoin(_matches, _matches.c.id == _deliveries.c.match_id)
            .outerjoin(_articles, _articles.c.id == _matches.c.article_id)
            .where(*where)
        )
        order = _deliveries.c.id.desc() if newest_first else _deliveries.c.id
        return [_delivery_record(row._mapping) for row in conn.execute(query.order_by(order).limit(limit))]


def _claimable(now: datetime, mode: str, clock: Any) -> tuple[Any, ...]:
    """Pending, of ``mode``, due at ``now`` (the schedule is the senders' clock) and with no live lease (``clock``)."""
    return (
        _deliveries.c.status == "pending",
        _deliveries.c.mode == mode,
        or_(_deliveries.c.next_attempt_at.is_(None), _deliveries.c.next_attempt_at <= now),
        or_(_deliveries.c.claimed_until.is_(None), _deliveries.c.claimed_until < clock),
    )


def _own(worker: str, clock: Any) -> tuple[Any, ...]:
    """The fence: the row is still pending and ``worker``'s live claim."""
    return (
        _deliveries.c.status == "pending",
        _deliveries.c.claimed_by == worker,
        _deliveries.c.claimed_until > clock,
    )


def _delivery_record(row: Any) -> DeliveryRecord:
    hits = tuple(MatchHit.coerce(hit) for hit in (row["hits"] or ()))
    return DeliveryRecord(
        id=row["id"],
        channel=row["channel"],
        story_id=row["story_id"],
        rule_id=row["rule_id"],
        mode=row["mode"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        sent_at=row["sent_at"],
        match_id=row["match_id"],
        severity=row["severity"] or "info",
        snippet=row["snippet"] or "",
        hits=hits,
        matched_at=row["matched_at"],
        article_id=row["article_id"],
        article_title=row["article_title"] or "",
        article_url=row["article_url"] or "",
        feed_name=row["feed_name"] or "",
        published=row["published"],
        article_owned=bool(row["owned"]),
    )
