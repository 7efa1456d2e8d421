"""Entries, articles, stories and matches in the store: the pipeline's one write per article.

Inputs: ``NewArticle`` + ``NewMatch`` values and a delivery plan callback.
Outputs: ``AddResult``; ``ArticleRecord`` for reads ("also reported by").

``add_article_with_matches`` is ONE transaction (docs/design.md "Nothing lost"): the entry
keys are marked seen, the article is stored once per canonical URL (a copy from a feed that
does not own the link's site under ``feed:<id>:<url>``, so it never claims the URL and a
pending alert it created passes to the owner's copy), its story is found
by content hash or shared story key (else created), its matches are inserted (unique per
article, rule and rule version) and the planned deliveries are inserted with
``ON CONFLICT DO NOTHING`` on (channel, story, rule, mode), so a channel never receives
the same (story, rule) twice, even across processes.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, func, select

from monitor.clock import now_utc
from monitor.store.base import StoreBase, chunked
from monitor.store.driver import Compiled, DriverCursor
from monitor.store.records import (
    AddResult,
    ArticleRecord,
    MatchHit,
    NewArticle,
    NewMatch,
    PlannedDelivery,
)
from monitor.store.statements import ARTICLE_COLUMNS, MAX_ROWS, Prepared, statements
from monitor.store.tables import Article, Delivery, Entry, Match, Story, StoryKey, metadata

__all__ = ["ArticleStore", "DeliveryPlan", "MIN_HASH_WORDS", "storage_key", "story_lock_keys"]

_log = logging.getLogger(__name__)

#: ``plan(story_id, is_new_story) -> deliveries to create`` (notify's routing).
DeliveryPlan = Callable[[int, bool], Sequence[PlannedDelivery]]

_entries: Table = metadata.tables[Entry.__tablename__]
_articles: Table = metadata.tables[Article.__tablename__]
_stories: Table = metadata.tables[Story.__tablename__]
_story_keys: Table = metadata.tables[StoryKey.__tablename__]
_matches: Table = metadata.tables[Match.__tablename__]
_deliveries: Table = metadata.tables[Delivery.__tablename__]

#: Texts with fewer words are not grouped by content hash: two different articles
#: whose feeds give only an empty or one-line summary would otherwise become one story.
MIN_HASH_WORDS = 8

_ARTICLE_FIELDS = ARTICLE_COLUMNS[:-3]  # the columns NewArticle gives (then canonical URL, story and time)


class ArticleStore(StoreBase):
    """The entry and article methods of ``Store``."""

    def unseen_entries(self, feed_id: int, keys: Sequence[str]) -> set[str]:
        """The ``keys`` (GUIDs, canonical URLs) not yet seen in this feed."""
        wanted = list(dict.fromkeys(keys))
        seen: set[str] = set()
        with self._read("unseen entries") as conn:
            for chunk in chunked(wanted):
                seen.update(
                    conn.execute(
                        select(_entries.c.key).where(_entries.c.feed_id == feed_id, _entries.c.key.in_(chunk))
                    ).scalars()
                )
        return set(wanted) - seen

    def mark_entries_seen(self, feed_id: int, keys: Sequence[str]) -> None:
        """Remember ``keys`` as seen in this feed (entries with no article worth storing)."""
        with self._write("mark entries seen") as conn, DriverCursor(conn) as cursor:
            self._mark_seen(cursor, feed_id, keys)

    def add_article_with_matches(
        self,
        article: NewArticle,
        matches: Sequence[NewMatch],
        plan: DeliveryPlan,
        *,
        now: datetime | None = None,
    ) -> AddResult:
        """Store an article, its story, matches and planned deliveries in one transaction.

        If the canonical URL is already stored, only the entry keys are recorded and the
        existing article is returned with ``duplicate=True``; ``plan`` is not called.
        An exception from ``plan`` rolls everything back and propagates unchanged.
        """
        now = now or now_utc()
        sql = self._prepared
        with self._write("add article") as conn, DriverCursor(conn) as cursor:
            # Two copies of one story written at once by two processes must not found two stories (the second
            # would alert again): lock what story assignment looks at (SQLite's BEGIN IMMEDIATE already does).
            self._lock_story_keys(conn, article)
            self._mark_seen(cursor, article.feed_id, article.entry_keys)
            existing = _existing(cursor, sql, _lookup_keys(article))
            if existing is not None:
                return AddResult(existing[0], existing[1], new_story=False, duplicate=True)
            story_id, new_story = self._find_or_create_story(cursor, article, now)
            article_id = self._insert_article(cursor, article, story_id, now)
            if article_id is None:  # another process stored this URL since we looked
                if new_story:
                    conn.execute(_stories.delete().where(_stories.c.id == story_id))
                found = _existing(cursor, sql, [storage_key(article)])
                assert found is not None  # it conflicted, so it exists
                return AddResult(found[0], found[1], new_story=False, duplicate=True)
            keys = [{"key": key, "story_id": story_id} for key in dict.fromkeys(article.story_keys)]
            _insert(cursor, sql.story_keys, keys)
            match_ids = self._insert_matches(cursor, article_id, story_id, matches, now)
            created = self._insert_deliveries(
                cursor, story_id, match_ids, plan(story_id, new_story), now, owned=article.owned
            )
        _log.debug(
            "article stored id=%d story=%d new_story=%s matches=%d deliveries=%d",
            article_id,
            story_id,
            new_story,
            len(match_ids),
            created,
        )
        return AddResult(
            article_id,
            story_id,
            new_story,
            duplicate=False,
            match_ids=tuple(i for _, i in match_ids),
            deliveries_created=created,
        )

    def _batch_story_keys(self, function: Callable[..., object], args: Sequence[object]) -> list[int]:
        """The story lock keys a writer call of ``function(*args)`` will take (for ``StoreWriter``, which takes a
        batch's keys up front, sorted, so two workers' batches never wait on each other in a cycle); ``[]`` for
        any other call, and on SQLite."""
        if self._dialect != "postgresql":
            return []
        while isinstance(function, functools.partial):  # ``stored`` hands the writer a partial
            args = (*function.args, *args)
            function = function.func
        if function != self.add_article_with_matches or not args or not isinstance(args[0], NewArticle):
            return []
        return story_lock_keys(args[0])

    def _lock_batch_story_keys(self, keys: Iterable[int]) -> None:
        """Take the advisory locks on ``keys`` (``story_lock_keys``) for this thread's ``batch`` (outside any
        savepoint), in sorted order, until it commits: the writes of the batch then take none of their own, so
        the batch takes all its locks at once, in the one global order. Nothing on SQLite, or outside a batch."""
        conn: Connection | None = getattr(self._batch, "conn", None)
        if conn is None or self._dialect != "postgresql":
            return
        held = self._held_story_locks(conn)
        wanted = sorted(set(keys) - held)
        if wanted:
            conn.execute(statements(self._dialect).story_locks, {"keys": wanted})
            held.update(wanted)

    def _lock_story_keys(self, conn: Connection, article: NewArticle) -> None:
        # Transaction-level locks, held until the transaction (a writer's whole batch) ends; one statement with
        # the keys sorted, so every transaction takes its keys in one global order and two of them cannot each
        # hold a key the other waits for. Keys taken here, maybe in a savepoint, are not remembered: a savepoint
        # rolled back releases them.
        if self._dialect != "postgresql":
            return
        wanted = sorted(set(story_lock_keys(article)) - self._held_story_locks(conn))
        if wanted:
            conn.execute(statements(self._dialect).story_locks, {"keys": wanted})

    def _held_story_locks(self, conn: Connection) -> set[int]:
        """The keys ``_lock_batch_story_keys`` took in ``conn``'s batch; kept with that connection, so a new batch
        starts with none. Empty outside a batch."""
        if getattr(self._batch, "conn", None) is not conn:
            return set()
        mine: tuple[Connection, set[int]] | None = getattr(self._batch, "locks", None)
        if mine is None or mine[0] is not conn:
            mine = (conn, set())
            self._batch.locks = mine
        return mine[1]

    def get_article(self, article_id: int) -> ArticleRecord | None:
        """The article with this id, or None."""
        with self._read("get article") as conn:
            row = conn.execute(select(_articles).where(_articles.c.id == article_id)).first()
        return _article_record(row._mapping) if row is not None else None

    def story_articles(self, story_id: int) -> list[ArticleRecord]:
        """Every article of a story, oldest first (the first one broke the story)."""
        with self._read("story articles") as conn:
            rows = conn.execute(
                select(_articles)
                .where(_articles.c.story_id == story_id)
                .order_by(_articles.c.fetched_at, _articles.c.id)
            )
            return [_article_record(row._mapping) for row in rows]

    def count_articles(self) -> int:
        """How many articles are stored."""
        with self._read("count articles") as conn:
            return int(conn.execute(select(func.count()).select_from(_articles)).scalar_one())

    def _mark_seen(self, cursor: DriverCursor, feed_id: int | None, keys: Sequence[str]) -> None:
        rows = [{"feed_id": feed_id, "key": key} for key in dict.fromkeys(keys) if key]
        if feed_id is None or not rows:
            return
        _insert(cursor, self._prepared.mark_seen, rows)

    def _find_or_create_story(self, cursor: DriverCursor, article: NewArticle, now: datetime) -> tuple[int, bool]:
        sql = self._prepared
        grouped = article.content_hash and len(article.text.split()) >= MIN_HASH_WORDS
        by_hash = {"hash": article.content_hash if grouped else None}  # None: no article has it
        keys = [{"key": key} for key in dict.fromkeys(article.story_keys)]
        story_id: int | None = None
        if keys:  # the hash's story, else the keys' oldest (min over chunks: the hash's is in each when found)
            found = [cursor.scalar(sql.story_of(len(chunk)), chunk, by_hash) for chunk in chunked(keys, MAX_ROWS)]
            story_id = min((story for story in found if story is not None), default=None)
        elif grouped:
            story_id = cursor.scalar(sql.story_by_hash, by_hash)
        if story_id is not None:
            return story_id, False
        return int(cursor.scalar(sql.new_story, {"created_at": now, "title": article.title})), True

    def _insert_article(self, cursor: DriverCursor, article: NewArticle, story_id: int, now: datetime) -> int | None:
        values = {name: getattr(article, name) for name in _ARTICLE_FIELDS}
        values.update(canonical_url=storage_key(article), story_id=story_id, fetched_at=now)
        new_id = cursor.scalar(self._prepared.new_article, values)
        return int(new_id) if new_id is not None else None

    def _insert_matches(
        self, cursor: DriverCursor, article_id: int, story_id: int, matches: Sequence[NewMatch], now: datetime
    ) -> list[tuple[str, int]]:
        """Insert ``matches`` (a few statements of many rows); (rule id, match id) of those inserted, in order."""
        rows = [
            {
                "article_id": article_id,
                "rule_id": match.rule_id,
                "rule_version": str(match.rule_version),
                "severity": match.severity,
                "tags": list(match.tags),
                "hits": [MatchHit.json_of(hit) for hit in match.hits],
                "snippet": match.snippet,
                "story_id": story_id,
                "matched_at": now,
            }
            for match in matches
        ]
        inserted = {
            (rule_id, version): int(new_id)
            for new_id, rule_id, version in _insert(cursor, self._prepared.new_matches, rows)
        }
        # A (rule, version) listed twice: the first row is the one inserted, the second conflicted.
        found = [(m.rule_id, inserted.pop((m.rule_id, str(m.rule_version)), None)) for m in matches]
        return [(rule_id, new_id) for rule_id, new_id in found if new_id is not None]

    def _insert_deliveries(
        self,
        cursor: DriverCursor,
        story_id: int,
        match_ids: Sequence[tuple[str, int]],
        planned: Sequence[PlannedDelivery],
        now: datetime,
        *,
        owned: bool = True,
    ) -> int:
        sql = self._prepared
        by_rule: dict[str, int] = {}
        for rule_id, match_id in match_ids:
            by_rule.setdefault(rule_id, match_id)  # the first version listed
        rows = [
            {
                "match_id": by_rule.get(item.rule_id),
                "channel": item.channel,
                "story_id": story_id,
                "rule_id": item.rule_id,
                "mode": item.mode,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": item.not_before or now,
                "created_at": now,
            }
            for item in planned
        ]
        inserted = {row[1:] for row in _insert(cursor, sql.new_deliveries, rows)}
        created = 0
        for row in rows:
            key = (row["channel"], row["rule_id"], row["mode"])
            if key in inserted:
                inserted.discard(key)  # a (channel, rule, mode) planned twice: its second row conflicted
                created += 1
            elif owned and row["match_id"] is not None:
                # An owned copy joining a story takes over its pending alert from a foreign copy (the alert then
                # shows the outlet's own title and link); an alert already sent stays as it was.
                taken = {"w_channel": key[0], "w_story_id": story_id, "w_rule_id": key[1], "w_mode": key[2]}
                cursor.rows(sql.take_over, {**taken, "w_match_id": row["match_id"]})
        return created


def storage_key(article: NewArticle) -> str:
    """The unique key an article is stored under: its canonical URL if its feed owns the link's site, else a
    key of its feed, so a feed listing another site's URL first never claims (and so suppresses) that site's
    own copy."""
    return article.canonical_url if article.owned else f"feed:{article.feed_id}:{article.canonical_url}"


def story_lock_keys(article: NewArticle) -> list[int]:
    """The advisory lock keys (signed 64-bit, sorted) of what writing ``article`` reads and claims: its content
    hash, its story keys and its storage keys. Two copies that would join one story share a key (the same hash,
    or a story key in common), so they write one after the other and the second finds the first's story; articles
    of different stories share none and write in parallel. A collision only makes two writes wait in turn."""
    names = [f"hash:{article.content_hash}", *(f"key:{k}" for k in article.story_keys)]
    names += [f"url:{key}" for key in _lookup_keys(article)]
    return sorted({_lock_key(name) for name in names})


def _lock_key(name: str) -> int:
    # Hashed within the "story" namespace, apart from the schema's and the leader's advisory lock ids.
    digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8, person=b"story").digest()
    return int.from_bytes(digest, "big", signed=True)


def _lookup_keys(article: NewArticle) -> list[str]:
    # A foreign copy is a duplicate of the owner's copy (stored first) or of its feed's earlier copy.
    return [storage_key(article)] if article.owned else [article.canonical_url, storage_key(article)]


def _insert(
    cursor: DriverCursor, statement: Callable[[int], Compiled], rows: Sequence[Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` with ``statement(rows)``, a multi-row INSERT, ``MAX_ROWS`` at a time; the rows it returned."""
    return [row for chunk in chunked(rows, MAX_ROWS) for row in cursor.rows(statement(len(chunk)), chunk)]


def _existing(cursor: DriverCursor, sql: Prepared, keys: Sequence[str]) -> tuple[int, int] | None:
    rows = cursor.rows(sql.existing(len(keys)), [{"key": key} for key in keys])
    found = {row[0]: (int(row[1]), int(row[2])) for row in rows}
    return next((found[key] for key in keys if key in found), None)


def _article_record(row: Any) -> ArticleRecord:
    return ArticleRecord(**{name: row[name] for name in ArticleRecord.__dataclass_fields__})
