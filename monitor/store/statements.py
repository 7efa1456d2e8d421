"""The statements of the article write path, built once per dialect with bound parameters.

A statement built per call (``insert(t).values(...)``) costs SQLAlchemy its construction and cache key each time:
measured on SQLite, 2.9 ms of CPU per stored article, against 0.1 ms for the database itself. These are built once.
``Statements`` holds the SQLAlchemy forms (for ``Connection.execute``); ``Prepared`` holds them compiled for one
engine's dialect, run on the driver's cursor (``monitor.store.driver``: SQLAlchemy's work per execution was most
of the writer thread's CPU). Rows of a multi-row INSERT are matched back by their key columns, never by position:
the order of the rows RETURNING gives is not promised.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import DateTime, Dialect, Table, bindparam, func, select, text, type_coerce
from sqlalchemy.dialects import postgresql, sqlite

from monitor.store.driver import Compiled
from monitor.store.records import FeedState
from monitor.store.tables import Article, Delivery, Entry, Feed, Match, Story, StoryKey, metadata

__all__ = [
    "ARTICLE_COLUMNS",
    "DELIVERY_COLUMNS",
    "MATCH_COLUMNS",
    "MAX_ROWS",
    "Prepared",
    "Statements",
    "db_now",
    "statements",
]

_entries: Table = metadata.tables[Entry.__tablename__]
_articles: Table = metadata.tables[Article.__tablename__]
_stories: Table = metadata.tables[Story.__tablename__]
_story_keys: Table = metadata.tables[StoryKey.__tablename__]
_matches: Table = metadata.tables[Match.__tablename__]
_deliveries: Table = metadata.tables[Delivery.__tablename__]
_feeds: Table = metadata.tables[Feed.__tablename__]

#: The columns an article, a match and a delivery are inserted with (every one of them, always given).
ARTICLE_COLUMNS = (
    "url",
    "content_hash",
    "title",
    "text",
    "author",
    "published",
    "lang",
    "feed_id",
    "feed_name",
    "extracted",
    "owned",
    "furniture",
    "canonical_url",
    "story_id",
    "fetched_at",
)
_STATE_COLUMNS = tuple(FeedState.__dataclass_fields__)
#: Rows of one multi-row statement of ``Prepared`` at most (each length is compiled once, so they stay few).
MAX_ROWS = 50
MATCH_COLUMNS = (
    "article_id",
    "rule_id",
    "rule_version",
    "severity",
    "tags",
    "hits",
    "snippet",
    "story_id",
    "matched_at",
)
DELIVERY_COLUMNS = (
    "match_id",
    "channel",
    "story_id",
    "rule_id",
    "mode",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
)


class Statements:
    """One dialect's statements (attributes); parameters by column name unless noted."""

    def __init__(self, dialect: str) -> None:
        #: the dialect's INSERT (with ``on_conflict_do_nothing``)
        self.insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        #: ``keys`` (a sorted list of bigints): PostgreSQL's transaction-level advisory locks, taken in the
        #: list's order (``unnest`` yields an array's elements in order, one lock call per row)
        self.story_locks = text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k")
        #: ``hash``: the story of the oldest article with this content hash
        self.story_by_hash = (
            select(_articles.c.story_id)
            .where(_articles.c.content_hash == bindparam("hash"))
            .order_by(_articles.c.id)
            .limit(1)
        )
        self.new_story = _stories.insert().returning(_stories.c.id)
        self.new_article = self.insert(_articles).on_conflict_do_nothing().returning(_articles.c.id)
        #: ``match_id``, ``channel``, ``story_id``, ``rule_id``, ``mode`` (prefixed ``w_``): a pending alert of a
        #: foreign copy passes to the owned copy's match. Correlated to the one delivery the unique key finds: a
        #: subquery listing every foreign match would be read whole for each copy of a story (quadratic).
        foreign = (
            select(_matches.c.id)
            .join(_articles, _articles.c.id == _matches.c.article_id)
            .where(_matches.c.id == _deliveries.c.match_id, _articles.c.owned.is_(False))
            .exists()
        )
        self.take_over = (
            _deliveries.update()
            .where(
                _deliveries.c.channel == bindparam("w_channel"),
                _deliveries.c.story_id == bindparam("w_story_id"),
                _deliveries.c.rule_id == bindparam("w_rule_id"),
                _deliveries.c.mode == bindparam("w_mode"),
                _deliveries.c.status == "pending",
                foreign,
            )
            .values(match_id=bindparam("w_match_id"))
        )


@functools.cache
def statements(dialect: str) -> Statements:
    """The statements of ``dialect`` (``"sqlite"`` or ``"postgresql"``), built on first use."""
    return Statements(dialect)


class Prepared:
    """One engine's statements of the article write path, compiled for its dialect (``monitor.store.driver``);
    parameters by column name unless noted. The IN lists and multi-row INSERTs are compiled once per length."""

    def __init__(self, dialect: Dialect) -> None:
        sql = statements(dialect.name)
        self._dialect = dialect
        self._insert: Any = sql.insert
        #: ``hash``: the story of the oldest article with this content hash
        self.story_by_hash = Compiled(sql.story_by_hash, dialect)
        self._story_by_hash = sql.story_by_hash
        self.new_story = Compiled(sql.new_story, dialect, ("created_at", "title"))
        self.new_article = Compiled(sql.new_article, dialect, ARTICLE_COLUMNS)
        self.take_over = Compiled(sql.take_over, dialect)
        #: a poll's ``FeedState`` of the feed ``w_feed``; fenced (PostgreSQL): only while ``w_worker`` holds it,
        #: and its claim ends (``claimed_by`` and ``claimed_until`` given as None)
        state = _feeds.update().where(_feeds.c.id == bindparam("w_feed"))
        self.feed_state = Compiled(state, dialect, _STATE_COLUMNS)
        fenced = state.where(_feeds.c.claimed_by == bindparam("w_worker"), _feeds.c.claimed_until > db_now())
        self.fenced_feed_state = Compiled(fenced, dialect, (*_STATE_COLUMNS, "claimed_by", "claimed_until"))
        self._lists: dict[tuple[str, int], Compiled] = {}

    def existing(self, count: int) -> Compiled:
        """Canonical URL, id and story id of the stored articles with one of ``count`` keys (rows of ``key``)."""
        return self._list("existing", count)

    def story_of(self, count: int) -> Compiled:
        """The story of the oldest article with the content hash ``hash`` (None: no such article), else the oldest
        story sharing one of ``count`` story keys (rows of ``key``): one statement for what took two."""
        return self._list("story_of", count)

    def mark_seen(self, count: int) -> Compiled:
        """``count`` entries (rows of ``feed_id``, ``key``), those already seen left as they are."""
        return self._list("mark_seen", count)

    def story_keys(self, count: int) -> Compiled:
        """``count`` story keys (rows of ``key``, ``story_id``), those already stored left as they are."""
        return self._list("story_keys", count)

    def new_matches(self, count: int) -> Compiled:
        """``count`` matches (rows of ``MATCH_COLUMNS``); returns id, rule id and rule version of those inserted."""
        return self._list("new_matches", count)

    def new_deliveries(self, count: int) -> Compiled:
        """``count`` deliveries (rows of ``DELIVERY_COLUMNS``); returns id, channel, rule id and mode of those
        inserted."""
        return self._list("new_deliveries", count)

    def _list(self, name: str, count: int) -> Compiled:
        if not 0 < count <= MAX_ROWS:
            raise ValueError(f"{count} rows in one statement (1 to {MAX_ROWS})")
        found = self._lists.get((name, count))
        if found is None:
            found = self._lists[name, count] = self._build(name, count)
        return found

    def _build(self, name: str, count: int) -> Compiled:
        if name == "existing":
            keys = [bindparam(f"key_{i}", type_=_articles.c.canonical_url.type) for i in range(count)]
            found = select(_articles.c.canonical_url, _articles.c.id, _articles.c.story_id)
            return Compiled(found.where(_articles.c.canonical_url.in_(keys)), self._dialect, ("key",), count)
        if name == "story_of":
            keys = [bindparam(f"key_{i}", type_=_story_keys.c.key.type) for i in range(count)]
            by_keys = select(func.min(_story_keys.c.story_id)).where(_story_keys.c.key.in_(keys)).scalar_subquery()
            by_hash = self._story_by_hash.scalar_subquery()
            return Compiled(select(func.coalesce(by_hash, by_keys)), self._dialect, ("key",), count)
        table, names, returned = _INSERTS[name]
        rows = [{c: bindparam(f"{c}_{i}", type_=table.c[c].type) for c in names} for i in range(count)]
        insert = self._insert(table).values(rows).on_conflict_do_nothing()
        if returned:
            insert = insert.returning(*(table.c[c] for c in returned))
        return Compiled(insert, self._dialect, names, rows=count)


#: The multi-row INSERTs of ``Prepared``: table, columns of a row, columns returned.
_INSERTS: dict[str, tuple[Table, tuple[str, ...], tuple[str, ...]]] = {
    "mark_seen": (_entries, ("feed_id", "key"), ()),
    "story_keys": (_story_keys, ("key", "story_id"), ()),
    "new_matches": (_matches, MATCH_COLUMNS, ("id", "rule_id", "rule_version")),
    "new_deliveries": (_deliveries, DELIVERY_COLUMNS, ("id", "channel", "rule_id", "mode")),
}


def db_now() -> Any:
    """The database's clock (PostgreSQL), as UTC without an offset like every stored time: the one clock leases
    are measured on, so clock skew between worker hosts cannot make two workers own a feed. ``clock_timestamp``,
    not ``now()``: the time of the statement, not of its transaction's start (a writer's batch lasts seconds)."""
    return type_coerce(func.timezone("UTC", func.clock_timestamp()), DateTime())
