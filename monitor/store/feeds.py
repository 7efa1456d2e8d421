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

from sqlalchemy import Connection, Table, func, nulls_first, or_, select

from monitor.clock import now_utc
from monitor.errors import FeedExistsError
from monitor.store.base import StoreBase
from monitor.store.records import FeedRecord, FeedState
from monitor.store.tables import Article, Feed, metadata

if TYPE_CHECKING:
    from monitor.config import FeedSettings

__all__ = ["FeedStore", "feed_url_key"]

_log = logging.getLogger(__name__)
_feeds: Table = metadata.tables[Feed.__tablename__]
_articles: Table = metadata.tables[Article.__tablename__]
_STATE_FIELDS = tuple(FeedState.__dataclass_fields__)


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

        On PostgreSQL they are claimed for ``lease`` seconds (``claim_due_feeds``), so several processes sharing
        one database never poll the same feed at once (docs/design.md, Scale); a busy feed is still leased. SQLite
        has one daemon, which needs no claim and so never waits out the lease of a poll a ``kill -9`` interrupted.
        """
        if limit is not None and limit <= 0:
            return []
        if self.dialect == "postgresql":
            return self.claim_due_feeds(now, lease, worker, limit=limit)
        return [feed for feed in self.list_due_feeds(now) if feed.id not in busy][:limit]

    def claim_due_feeds(self, now: datetime, lease: float, worker: str, limit: int | None = None) -> list[FeedRecord]:
        """Take the due feeds for ``lease`` seconds so other workers skip them.

        On PostgreSQL the rows are read ``FOR UPDATE SKIP LOCKED``: two processes
        claiming at once get disjoint feeds. The claim moves ``next_poll`` to
        ``now + lease``; ``update_feed_state`` after the poll sets the real next poll,
        and a worker that dies leaves the feed due again when the lease ends.
        """
        with self._write("claim due feeds") as conn:
            query = (
                select(_feeds.c.id)
                .where(*_due(now))
                .order_by(nulls_first(_feeds.c.next_poll.asc()), _feeds.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            ids = list(conn.execute(query).scalars())
            if not ids:
                return []
            until = now + timedelta(seconds=lease)
            conn.execute(_feeds.update().where(_feeds.c.id.in_(ids)).values(next_poll=until))
            claimed = self._select_feeds(conn, _feeds.c.id.in_(ids), order_due=True)
        _log.debug("feeds claimed worker=%s count=%d", worker, len(claimed))
        return claimed

    def update_feed_state(self, feed_id: int, state: FeedState) -> bool:
        """Store a feed's polling state; False if the feed no longer exists."""
        values = {name: getattr(state, name) for name in _STATE_FIELDS}
        with self._write("update feed state") as conn:
            count = conn.execute(_feeds.update().where(_feeds.c.id == feed_id).values(values)).rowcount
        return bool(count)

    def release_feeds(self, feed_ids: Sequence[int], now: datetime) -> None:
        """Make feeds whose poll was cancelled (daemon shutdown) due at ``now``, ending their claim's lease."""
        if feed_ids:
            with self._write("release feeds") as conn:
                conn.execute(_feeds.update().where(_feeds.c.id.in_(list(feed_ids))).values(next_poll=now))

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

    def _select_feeds(self, conn: Connection, *where: Any, order_due: bool = False) -> list[FeedRecord]:
        counts = select(_articles.c.feed_id, func.count().label("n")).group_by(_articles.c.feed_id).subquery()
        query = (
            select(_feeds, func.coalesce(counts.c.n, 0).label("articles"))
            .outerjoin(counts, counts.c.feed_id == _feeds.c.id)
            .where(*where)
        )
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


def _feed_record(row: Any) -> FeedRecord:
    fields = {name: row[name] for name in FeedRecord.__dataclass_fields__}
    fields["tags"] = tuple(fields["tags"] or ())
    return FeedRecord(**fields)
