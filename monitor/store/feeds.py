"""Feeds in the store: sync from config, add/remove from the CLI, polling state, due feeds.

Inputs: ``FeedSettings`` (config.toml), CLI arguments, ``FeedState`` after a poll.
Outputs: ``FeedRecord`` values (with each feed's article count).
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, func, literal, nulls_first, or_, select, text
from sqlalchemy.dialects import postgresql

from monitor.clock import MIN_TIME, now_utc
from monitor.errors import FeedExistsError
from monitor.store.base import StoreBase
from monitor.store.driver import DriverCursor
from monitor.store.records import FeedRecord, FeedState
from monitor.store.statements import db_now as _db_now
from monitor.store.tables import Article, Feed, Worker, metadata

if TYPE_CHECKING:
    from monitor.config import FeedSettings

__all__ = ["FeedStore", "feed_url_key"]

_log = logging.getLogger(__name__)
_feeds: Table = metadata.tables[Feed.__tablename__]
_articles: Table = metadata.tables[Article.__tablename__]
_workers: Table = metadata.tables[Worker.__tablename__]
# The advisory lock that makes feed claims take turns (PostgreSQL): one per schema, so deployments (or tests)
# sharing a database in schemas of their own never wait for each other.
_CLAIM_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('monitor feed claims'), hashtext(current_schema()))")
# scheme://[userinfo@]host[:port]...: the host (a bracketed IPv6 address whole), as PostgreSQL's regex captures it
_HOST_PATTERN = r"^[^:/?#]+://(?:[^/?#@]*@)?(\[[^]/?#]*\]|[^/?#:]*)"


class FeedStore(StoreBase):
    """The feed methods of ``Store``."""

    def sync_feeds(self, feeds: Sequence[FeedSettings]) -> list[FeedRecord]:
        """Make the config's feeds the stored ones (upsert by name, ``source="config"``).

        A feed whose URL changed in the config loses its ETag/Last-Modified (they belonged
        to the old URL); a URL the pipeline moved after a permanent redirect (301/308) is kept
        while the config still names the original one. Config feeds no longer in the config are disabled, not deleted, so their
        articles and seen entries stay. CLI feeds are left alone.
        """
        now = now_utc()
        names = [f.name for f in feeds]
        with self._write("sync feeds") as conn:
            for feed in feeds:
                self._upsert_config_feed(conn, feed, now)
            gone = _feeds.update().where(_feeds.c.source == "config", _feeds.c.enabled.is_(True))
            if names:
                gone = gone.where(_feeds.c.name.not_in(names))
            disabled = conn.execute(gone.values(enabled=False)).rowcount
            wanted = set(names)
            records = [r for r in self._select_feeds(conn) if r.name in wanted]
        _log.info("feeds synced count=%d disabled=%d", len(records), disabled)
        return records

    def add_feed(
        self,
        name: str,
        url: str,
        tags: Sequence[str] = (),
        interval: float | None = None,
        full_text: bool | None = None,
    ) -> FeedRecord:
        """Add a feed from the CLI (``source="cli"``).

        Raises:
            FeedExistsError: a feed with this name exists, or one with this URL (``feed_url_key``); the message
                names it.
        """
        with self._write("add feed") as conn:
            added = self._add_feeds(conn, [(name, url, tuple(tags), interval, full_text)])[0]
            if isinstance(added, FeedExistsError):
                raise added
            return self._select_feeds(conn, _feeds.c.id == added)[0]

    def add_feeds(self, feeds: Sequence[FeedSettings]) -> list[FeedRecord | FeedExistsError]:
        """Add many CLI feeds in one transaction (``feeds import``), in linear time: for each, its record, or the
        ``FeedExistsError`` naming the feed that has its name or URL."""
        rows = [(f.name, f.url, f.tags, f.interval, f.full_text) for f in feeds]
        with self._write("add feeds") as conn:
            added = self._add_feeds(conn, rows)
            records = {r.id: r for r in self._select_feeds(conn)} if rows else {}
        return [a if isinstance(a, FeedExistsError) else records[a] for a in added]

    def _add_feeds(
        self, conn: Connection, rows: Sequence[tuple[str, str, Sequence[str], float | None, bool | None]]
    ) -> list[int | FeedExistsError]:
        owners = _url_owners(conn)
        out: list[int | FeedExistsError] = []
        for name, url, tags, interval, full_text in rows:
            key = feed_url_key(url)
            if key in owners:
                out.append(FeedExistsError(f"feed {owners[key]!r} already has this URL", name=owners[key]))
                continue
            values = {
                "name": name,
                "url": url,
                "tags": list(tags),
                "interval": interval,
                "full_text": full_text,
                "enabled": True,
                "source": "cli",
                "consecutive_failures": 0,
                "blocked_requests": 0,
                "created_at": now_utc(),
            }
            stmt = self._insert(_feeds).values(values).on_conflict_do_nothing()
            new_id = conn.execute(stmt.returning(_feeds.c.id)).scalar()
            if new_id is None:
                out.append(FeedExistsError(f"a feed named {name!r} already exists", name=name))
                continue
            owners[key] = name
            out.append(int(new_id))
        return out

    def remove_feed(self, name: str) -> bool:
        """Delete a feed and its seen entries; its articles stay. False if there was none."""
        with self._write("remove feed") as conn:
            count = conn.execute(_feeds.delete().where(_feeds.c.name == name)).rowcount
        return bool(count)

    def get_feed(self, name: str) -> FeedRecord | None:
        """The feed called ``name``, or None."""
        with self._read("get feed") as conn:
            found = self._select_feeds(conn, _feeds.c.name == name)
        return found[0] if found else None

    def list_feeds(self) -> list[FeedRecord]:
        """Every feed, by name, with its article count."""
        with self._read("list feeds") as conn:
            return self._select_feeds(conn)

    def list_due_feeds(self, now: datetime) -> list[FeedRecord]:
        """Enabled feeds whose ``next_poll`` is unset or not after ``now``, most overdue first."""
        with self._read("list due feeds") as conn:
            return self._select_feeds(conn, *_due(now), order_due=True)

    def take_due_feeds(
        self, now: datetime, *, lease: float, worker: str, limit: int | None = None, busy: Collection[int] = ()
    ) -> list[FeedRecord]:
        """Up to ``limit`` feeds due at ``now`` for this worker to poll, most overdue first, except ``busy`` ones.

        On PostgreSQL they are claimed for ``lease`` seconds on the database's clock (``claim_due_feeds``), so
        several processes sharing one database never poll the same feed at once (docs/design.md, Scale). SQLite
        has one daemon, which needs no claim and so never waits out the lease of a poll a ``kill -9`` interrupted.
        ``now`` says which feeds are due (the worker's clock schedules polls); it never decides who owns one.
        """
        if limit is not None and limit <= 0:
            return []
        if self.dialect == "postgresql":
            return self.claim_due_feeds(now, lease, worker, limit=limit)
        with self._read("list due feeds") as conn:
            due = self._select_feeds(conn, *_due(now), order_due=True, counts=False)
        return [feed for feed in due if feed.id not in busy][:limit]

    def claim_due_feeds(self, now: datetime, lease: float, worker: str, limit: int | None = None) -> list[FeedRecord]:
        """PostgreSQL: claim a share of the feeds due at ``now`` for ``lease`` seconds of the database's clock
        (docs/storage.md, "Several processes"). Claims take turns (an advisory lock), so each sees every claim
        before it; rows are read ``FOR UPDATE SKIP LOCKED``. A share: the due feeds divided by the workers alive.
        One worker per host: hosts another worker holds are left to it, and a claim adds at most its share of the
        free hosts. ``next_poll`` is left alone: a dead worker's feeds are due again when its lease ends.
        """
        if self.dialect != "postgresql":
            return self.take_due_feeds(now, lease=lease, worker=worker, limit=limit)
        with self._write("claim due feeds") as conn:
            # A worker frozen inside its claim (SIGSTOP) holds the claim lock: the server ends its session after
            # the lease, and the others wait at most that long (then this tick's claim fails, the next retries).
            wait = f"{max(int(lease * 1000), 1000)}"
            conn.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = {wait}"))
            conn.execute(text(f"SET LOCAL lock_timeout = {wait}"))
            conn.execute(_CLAIM_LOCK)
            alive = self._heartbeat(conn, worker, lease, forget=True)
            due = int(conn.execute(select(func.count()).where(*_due(now), _unclaimed())).scalar() or 0)
            share = -(-due // alive)
            if limit is not None:
                share = min(share, limit)
            hosts = _claimable_hosts(conn, now, worker, alive, share)
            if share <= 0 or not hosts:
                return []
            query = (
                select(_feeds.c.id)
                .where(*_due(now), _unclaimed(), _host(_feeds.c.url).in_(hosts))
                .order_by(nulls_first(_feeds.c.next_poll.asc()), _feeds.c.id)
                .limit(share)
                .with_for_update(skip_locked=True)
            )
            ids = list(conn.execute(query).scalars())
            if not ids:
                return []
            conn.execute(_claim(ids, worker, lease))
            claimed = self._select_feeds(conn, _feeds.c.id.in_(ids), order_due=True, counts=False)
        _log.debug("feeds claimed worker=%s count=%d due=%d workers=%d", worker, len(claimed), due, alive)
        return claimed

    def claim_feeds(self, feed_ids: Collection[int], *, lease: float, worker: str) -> set[int]:
        """Claim these feeds (due or not: ``monitor poll``, "poll now") unless another worker holds a live claim
        on one; the ids now held by ``worker``. SQLite: all of them (one daemon, no claims)."""
        if self.dialect != "postgresql" or not feed_ids:
            return set(feed_ids)
        ids = list(feed_ids)
        with self._write("claim feeds") as conn:
            free = or_(_unclaimed(), _feeds.c.claimed_by == worker)
            taken = conn.execute(_claim(ids, worker, lease).where(free).returning(_feeds.c.id)).scalars()
            return set(taken)

    def renew_feed_claims(self, feed_ids: Collection[int], *, lease: float, worker: str) -> set[int]:
        """Extend ``worker``'s live claims on these feeds by ``lease`` seconds from now (the database's clock);
        the ids still held. A claim that lapsed is not renewed, even if nobody took the feed meanwhile: its poll
        must stop, as its state write would be refused. Also renews the worker's heartbeat. SQLite: all of them."""
        if self.dialect != "postgresql":
            return set(feed_ids)
        ids = list(feed_ids)
        with self._write("renew feed claims") as conn:
            self._heartbeat(conn, worker, lease)
            if not ids:
                return set()
            mine = (_feeds.c.claimed_by == worker, _feeds.c.claimed_until > _db_now())
            renewed = conn.execute(_claim(ids, worker, lease).where(*mine).returning(_feeds.c.id)).scalars()
            return set(renewed)

    def update_feed_state(self, feed_id: int, state: FeedState, *, worker: str | None = None) -> bool:
        """Store a feed's polling state; False if the feed no longer exists, or (``worker`` given, PostgreSQL) if
        the write was refused because ``worker`` no longer holds a live claim on it (fencing: a worker that
        stalled past its lease writes nothing over the poll of the worker that took the feed). The write ends
        the claim. Without ``worker`` (offline settling, tests) it applies unconditionally."""
        values: dict[str, Any] = {**vars(state), "w_feed": feed_id, "w_worker": worker}
        fenced = worker is not None and self.dialect == "postgresql"
        statement = self._prepared.fenced_feed_state if fenced else self._prepared.feed_state
        with self._write("update feed state") as conn, DriverCursor(conn) as cursor:
            count = cursor.count(statement, {**values, "claimed_by": None, "claimed_until": None})
        return bool(count)

    def release_feeds(self, feed_ids: Collection[int], worker: str) -> None:
        """End ``worker``'s claims on feeds whose poll was cancelled (shutdown, a lost lease): due again at once
        for the other workers. SQLite: nothing to do (claims are PostgreSQL's)."""
        if feed_ids and self.dialect == "postgresql":
            with self._write("release feeds") as conn:
                conn.execute(
                    _feeds.update()
                    .where(_feeds.c.id.in_(list(feed_ids)), _feeds.c.claimed_by == worker)
                    .values(claimed_by=None, claimed_until=None)
                )

    def retire_worker(self, worker: str) -> None:
        """A worker that stops cleanly leaves the share of the others at once (PostgreSQL)."""
        if self.dialect == "postgresql":
            with self._write("retire worker") as conn:
                conn.execute(_workers.delete().where(_workers.c.name == worker))

    def _heartbeat(self, conn: Connection, worker: str, lease: float, *, forget: bool = False) -> int:
        """Mark ``worker`` alive for ``lease`` seconds; how many workers are alive. ``forget``: delete the rows of
        workers past their time too (only under the claim lock: two deleters could lock the rows in two orders)."""
        now = _db_now()
        if forget:
            conn.execute(_workers.delete().where(_workers.c.seen_until <= now))
        until = now + timedelta(seconds=lease)
        stmt = postgresql.insert(_workers).values(name=worker, seen_until=until)
        conn.execute(stmt.on_conflict_do_update(index_elements=[_workers.c.name], set_={"seen_until": until}))
        alive = select(func.count()).select_from(_workers).where(_workers.c.seen_until > now)
        return max(int(conn.execute(alive).scalar() or 0), 1)

    def _upsert_config_feed(self, conn: Connection, feed: FeedSettings, now: datetime) -> None:
        values: dict[str, Any] = {
            "url": feed.url,
            "tags": list(feed.tags),
            "interval": feed.interval,
            "full_text": feed.full_text,
            "enabled": feed.enabled,
            "source": "config",
        }
        stored = conn.execute(select(_feeds.c.url, _feeds.c.config_url).where(_feeds.c.name == feed.name)).first()
        if stored is None:
            conn.execute(
                self._insert(_feeds)
                .values(
                    name=feed.name,
                    created_at=now,
                    consecutive_failures=0,
                    blocked_requests=0,
                    config_url=feed.url,
                    **values,
                )
                .on_conflict_do_nothing()
            )
            return
        if (stored.config_url or stored.url) == feed.url:
            del values["url"]  # unchanged in the config: keep the URL a permanent redirect moved it to
        else:  # the config names a new URL: poll it, without the old URL's validators or pending redirect
            values.update(etag=None, last_modified=None, redirect_pending=None)
        values["config_url"] = feed.url
        conn.execute(_feeds.update().where(_feeds.c.name == feed.name).values(values))

    def _select_feeds(
        self, conn: Connection, *where: Any, order_due: bool = False, counts: bool = True
    ) -> list[FeedRecord]:
        """The feeds ``where`` holds; ``counts``: with their article counts (a scan of the articles that the
        poller, which never shows them, skips)."""
        if counts:
            per_feed = select(_articles.c.feed_id, func.count().label("n")).group_by(_articles.c.feed_id).subquery()
            query = (
                select(_feeds, func.coalesce(per_feed.c.n, 0).label("articles"))
                .outerjoin(per_feed, per_feed.c.feed_id == _feeds.c.id)
                .where(*where)
            )
        else:
            query = select(_feeds, literal(0).label("articles")).where(*where)
        if order_due:
            query = query.order_by(nulls_first(_feeds.c.next_poll.asc()), _feeds.c.name)
        else:
            query = query.order_by(_feeds.c.name)
        return [_feed_record(row._mapping) for row in conn.execute(query)]


def feed_url_key(url: str) -> str:
    """What two spellings of one feed URL share: scheme and host in lower case, no default port, no fragment, no
    trailing slash (``HTTPS://Example.org:443/feed/#x`` is ``https://example.org/feed``); never raises."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return url.strip()
    netloc = host if port in (None, {"http": 80, "https": 443}.get(scheme)) else f"{host}:{port}"
    return urllib.parse.urlunsplit((scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


def _url_owners(conn: Connection) -> dict[str, str]:
    """Each stored feed's URL keys (as polled, and as config.toml names it) -> the feed's name."""
    owners: dict[str, str] = {}
    for name, polled, configured in conn.execute(select(_feeds.c.name, _feeds.c.url, _feeds.c.config_url)):
        for url in (polled, configured):
            if url:
                owners.setdefault(feed_url_key(url), str(name))
    return owners


def _due(now: datetime) -> tuple[Any, ...]:
    return (_feeds.c.enabled.is_(True), or_(_feeds.c.next_poll.is_(None), _feeds.c.next_poll <= now))


def _unclaimed() -> Any:
    """No worker holds a live claim on the feed."""
    return or_(_feeds.c.claimed_until.is_(None), _feeds.c.claimed_until <= _db_now())


def _claim(ids: Sequence[int], worker: str, lease: float) -> Any:
    """The UPDATE that gives these feeds to ``worker`` for ``lease`` seconds from the database's now."""
    until = _db_now() + timedelta(seconds=lease)
    return _feeds.update().where(_feeds.c.id.in_(ids)).values(claimed_by=worker, claimed_until=until)


def _claimable_hosts(conn: Connection, now: datetime, worker: str, alive: int, share: int) -> list[str]:
    """The hosts whose due feeds ``worker`` may claim: those it holds live claims on, and its share of the hosts
    nobody holds, most overdue first: shared with the ``alive`` workers that hold none, and at most ``share``
    (the feeds it may take)."""
    host = _host(_feeds.c.url)
    live = _feeds.c.claimed_until > _db_now()
    pairs = conn.execute(select(host, _feeds.c.claimed_by).where(live).distinct()).all()
    others = {h for h, holder in pairs if holder != worker}
    mine = sorted({h for h, holder in pairs if holder == worker} - others)
    first_due = func.min(func.coalesce(_feeds.c.next_poll, MIN_TIME))
    free = [
        h
        for h in conn.execute(select(host).where(*_due(now), _unclaimed()).group_by(host).order_by(first_due, host))
        .scalars()
        .all()
        if h not in others and h not in mine
    ]
    idle = max(alive - 1 - len({holder for _, holder in pairs if holder != worker}), 0)  # others holding nothing
    return mine + free[: min(-(-len(free) // (1 + idle)), max(share, 0))]


def _host(url: Any) -> Any:
    """A feed URL's host in lower case, in SQL ('' when there is none), for the one-worker-per-host rule."""
    return func.coalesce(func.lower(func.substring(url, _HOST_PATTERN)), "")


def _feed_record(row: Any) -> FeedRecord:
    fields = {name: row[name] for name in FeedRecord.__dataclass_fields__}
    fields["tags"] = tuple(fields["tags"] or ())
    return FeedRecord(**fields)
