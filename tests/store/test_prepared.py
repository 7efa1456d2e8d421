"""The write path's statements run on the driver (``monitor.store.driver``) store what SQLAlchemy stores.

Each row is written twice, in transactions rolled back after: once through ``Connection.execute`` with the
SQLAlchemy statement (what the store ran before), once through the prepared form on the driver's cursor (a
multi-row INSERT where the store now writes many rows at once). Every column read back must be the same: times
in other zones, ``None``, JSON with non-ASCII text, booleans, defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Connection, select

from monitor.config import FeedSettings
from monitor.errors import StoreError
from monitor.store import NewArticle, NewMatch, PlannedDelivery, Store
from monitor.store.driver import DriverCursor
from monitor.store.statements import MAX_ROWS, Prepared, statements
from monitor.store.tables import metadata

NOW = datetime(2026, 12, 6, 7, 30, 1, 123456, tzinfo=timezone(timedelta(hours=7)))  # not UTC: stored as UTC
LATER = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)
TABLES = ("entries", "stories", "story_keys", "articles", "matches", "deliveries")

ARTICLE: dict[str, Any] = {
    "url": "https://news.example/ß?x=1",
    "content_hash": "abc123",
    "title": "Razzia — « scam » 詐欺",
    "text": "Body text",
    "author": None,
    "published": None,
    "lang": "fr",
    "extracted": True,
    "owned": False,
    "furniture": "",
    "canonical_url": "feed:1:https://news.example/ß",
    "fetched_at": NOW,
}
MATCHES: list[dict[str, Any]] = [
    {
        "rule_id": "scam-raid",
        "rule_version": "v1",
        "severity": "high",
        "tags": ["scam", "詐欺"],
        "hits": [{"field": "title", "start": 0, "end": 6, "text": "Razzia"}],
        "snippet": "Razzia — « scam »",
        "matched_at": NOW,
    },
    {
        "rule_id": "scam-raid",
        "rule_version": "v1",  # the same rule and version again: it conflicts, nothing is written
        "severity": "low",
        "tags": [],
        "hits": [],
        "snippet": "",
        "matched_at": NOW,
    },
    {
        "rule_id": "other",
        "rule_version": "2",
        "severity": "info",
        "tags": [],
        "hits": [],
        "snippet": "",
        "matched_at": LATER,
    },
]
DELIVERIES: list[dict[str, Any]] = [
    {"channel": "chat", "rule_id": "scam-raid", "mode": "immediate", "next_attempt_at": NOW},
    {"channel": "chat", "rule_id": "scam-raid", "mode": "immediate", "next_attempt_at": LATER},  # conflicts
    {"channel": "mail", "rule_id": "other", "mode": "digest", "next_attempt_at": None},
]


def _rows(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """Every row of ``TABLES``; ids counted from the table's first (PostgreSQL's sequences move on after a
    rollback), gaps kept (a conflicting row takes an id there too)."""
    tables = {name: metadata.tables[name] for name in TABLES}
    found = {
        name: [dict(r._mapping) for r in conn.execute(select(t).order_by(*t.primary_key))] for name, t in tables.items()
    }
    first = {name: min((row["id"] for row in found[name]), default=0) for name in ("stories", "articles", "matches")}
    first["deliveries"] = min((row["id"] for row in found["deliveries"]), default=0)
    refs = {"id": None, "story_id": "stories", "article_id": "articles", "match_id": "matches"}
    for name, rows in found.items():
        for row in rows:
            for column, table in refs.items():
                if column in row and row[column] is not None and (table or name in first):
                    row[column] -= first[table or name]
    return found


def _stored(store: Store, write: Callable[[Connection, Any, Any], None]) -> dict[str, list[dict[str, Any]]]:
    """The rows ``write(conn, sqlalchemy_statements, prepared)`` stores, read back; then rolled back."""
    engine = store._engine
    assert engine is not None
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            write(conn, statements(store.dialect), Prepared(engine.dialect))
            return _rows(conn)
        finally:
            transaction.rollback()


def _by_sqlalchemy(conn: Connection, sql: Any, _: Any) -> None:
    matches = metadata.tables["matches"]
    conn.execute(
        sql.insert(metadata.tables["entries"]).on_conflict_do_nothing(),
        [{"feed_id": 1, "key": "guid-1"}, {"feed_id": 1, "key": "guid-1"}],
    )
    story = conn.execute(sql.new_story, {"created_at": NOW, "title": ARTICLE["title"]}).scalar_one()
    conn.execute(
        sql.insert(metadata.tables["story_keys"]).on_conflict_do_nothing(),
        [{"key": key, "story_id": story} for key in (-(2**63), 2**63 - 1, 7)],
    )
    article = conn.execute(sql.new_article, {**ARTICLE, "feed_id": 1, "feed_name": "f", "story_id": story}).scalar()
    for row in MATCHES:
        conn.execute(sql.insert(matches).on_conflict_do_nothing(), {**row, "article_id": article, "story_id": story})
    match = conn.execute(select(matches.c.id).limit(1)).scalar()
    for row in DELIVERIES:
        values = {**row, "match_id": match, "story_id": story, "status": "pending", "attempts": 0, "created_at": NOW}
        conn.execute(sql.insert(metadata.tables["deliveries"]).on_conflict_do_nothing(), values)


def _on_the_driver(conn: Connection, _: Any, sql: Prepared) -> None:
    with DriverCursor(conn) as cursor:
        cursor.rows(sql.mark_seen(2), [{"feed_id": 1, "key": "guid-1"}, {"feed_id": 1, "key": "guid-1"}])
        story = cursor.scalar(sql.new_story, {"created_at": NOW, "title": ARTICLE["title"]})
        cursor.rows(sql.story_keys(3), [{"key": key, "story_id": story} for key in (-(2**63), 2**63 - 1, 7)])
        article = cursor.scalar(sql.new_article, {**ARTICLE, "feed_id": 1, "feed_name": "f", "story_id": story})
        returned = cursor.rows(
            sql.new_matches(3), [{**row, "article_id": article, "story_id": story} for row in MATCHES]
        )
        assert sorted(row[1:] for row in returned) == [("other", "2"), ("scam-raid", "v1")]  # the conflict is not
        match = min(row[0] for row in returned)
        rows = [
            {**row, "match_id": match, "story_id": story, "status": "pending", "attempts": 0, "created_at": NOW}
            for row in DELIVERIES
        ]
        assert len(cursor.rows(sql.new_deliveries(3), rows)) == 2


def test_prepared_statements_store_what_sqlalchemy_stores(store: Store) -> None:
    store.sync_feeds([FeedSettings(url="https://news.example/feed", name="f")])
    expected = _stored(store, _by_sqlalchemy)
    assert [len(expected[name]) for name in TABLES] == [1, 1, 3, 1, 2, 2]
    assert _stored(store, _on_the_driver) == expected


def test_a_refused_value_is_a_store_error_and_rolls_back_its_write_alone(store: Store) -> None:
    store.sync_feeds([FeedSettings(url="https://news.example/feed", name="f")])
    feed = store.list_feeds()[0].id
    good = NewArticle(
        feed_id=feed, feed_name="f", url="https://news.example/1", canonical_url="https://news.example/1",
        title="t", text="x", author=None, published=None, lang="en", content_hash="h1",
    )  # fmt: skip
    match = NewMatch(rule_id="r", rule_version="1", severity="high", tags=(), hits=(), snippet="")

    def bad_plan(story_id: int, new_story: bool) -> list[PlannedDelivery]:
        return [PlannedDelivery("r", "chat", "immediate", "not a time")]  # type: ignore[arg-type]

    with store.batch():
        first = store.add_article_with_matches(good, [match], lambda s, n: [PlannedDelivery("r", "chat", "immediate")])
        with pytest.raises(StoreError, match="add article failed"):
            store.add_article_with_matches(
                NewArticle(
                    **{**vars(good), "url": "https://news.example/2", "canonical_url": "https://news.example/2"}
                ),
                [match],
                bad_plan,
            )
    assert store.count_articles() == 1
    assert [m.article.id for m in store.list_matches()] == [first.article_id]
    assert [d.match_id for d in store.list_deliveries()] == [first.match_ids[0]]


def test_match_ids_follow_the_matches_listed(store: Store) -> None:
    """A multi-row INSERT's rows are matched back by key: each id is its own match's, a repeat gets none."""
    rows = [("b", "1"), ("a", "1"), ("b", "1"), ("a", "2"), ("c", "1")]
    matches = [NewMatch(rule_id=r, rule_version=v, severity="low", tags=(), hits=(), snippet=r + v) for r, v in rows]
    article = NewArticle(
        feed_id=None, feed_name="f", url="https://news.example/1", canonical_url="https://news.example/1",
        title="t", text="x", author=None, published=None, lang="en", content_hash="h1",
    )  # fmt: skip
    planned = [PlannedDelivery(rule, "chat", "immediate") for rule in ("a", "c", "a", "zz")]
    result = store.add_article_with_matches(article, matches, lambda s, n: planned)
    stored = {m.id: (m.rule, m.rule_version, m.snippet) for m in store.list_matches()}
    assert [stored[i] for i in result.match_ids] == [
        ("b", "1", "b1"),
        ("a", "1", "a1"),
        ("a", "2", "a2"),
        ("c", "1", "c1"),
    ]
    assert result.deliveries_created == 3  # a, c and zz (no match of its own); the second a conflicts
    by_rule = {d.rule_id: d.match_id for d in store.list_deliveries()}
    assert by_rule == {"a": result.match_ids[1], "c": result.match_ids[3], "zz": None}


def test_story_lookup_in_chunks_keeps_the_hash_first(store: Store) -> None:
    """More story keys than one statement takes: found in any chunk, and a content hash still wins over keys."""
    text = " ".join(f"word{i}" for i in range(20))  # enough words to be grouped by hash

    def article(n: int, content_hash: str, keys: tuple[int, ...]) -> NewArticle:
        url = f"https://news.example/{n}"
        return NewArticle(
            feed_id=None, feed_name="f", url=url, canonical_url=url, title=str(n), text=text, author=None,
            published=None, lang="en", content_hash=content_hash, story_keys=keys,
        )  # fmt: skip

    none: list[PlannedDelivery] = []
    by_key = store.add_article_with_matches(article(1, "h1", (10_000,)), [], lambda s, n: none)
    by_hash = store.add_article_with_matches(article(2, "h2", ()), [], lambda s, n: none)
    keys = (*range(MAX_ROWS + 5), 10_000)  # the shared key in the second chunk
    assert store.add_article_with_matches(article(3, "h3", keys), [], lambda s, n: none).story_id == by_key.story_id
    both = store.add_article_with_matches(article(4, "h2", keys), [], lambda s, n: none)
    assert both.story_id == by_hash.story_id != by_key.story_id
