"""Schema migrations: Store.open upgrades, keeps data, is idempotent and safe to race."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from monitor.config import FeedSettings
from monitor.errors import StoreError
from monitor.store import Store
from monitor.store.base import create_store_engine
from monitor.store.schema import alembic_config, current_revision, head_revision
from monitor.store.search import is_search_object
from monitor.store.tables import metadata

TABLES = {
    "feeds",
    "entries",
    "stories",
    "story_keys",
    "articles",
    "matches",
    "deliveries",
    "feedback",
    "digest_windows",
}


def _revision(url: str) -> str | None:
    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            return current_revision(conn)
    finally:
        engine.dispose()


def test_open_creates_the_schema_at_head(store_url: str) -> None:
    with Store.open(store_url):
        pass
    engine = create_store_engine(store_url)
    try:
        assert TABLES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert _revision(store_url) == head_revision() == "0010"


def test_tables_and_migrations_agree(store_url: str) -> None:
    """A change to tables.py without a migration fails here (write one: docs/storage.md)."""
    with Store.open(store_url):
        pass
    engine = create_store_engine(store_url)
    try:
        with engine.connect() as conn:
            # The search index (0006) is raw SQL (FTS5, a GIN expression index) that no model describes.
            options = {"include_name": lambda name, _type, _parents: not is_search_object(name)}
            diff = compare_metadata(MigrationContext.configure(conn, opts=options), metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_upgrade_from_the_initial_revision_keeps_data(store_url: str) -> None:
    engine = create_store_engine(store_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0001")
            conn.execute(
                text(
                    "INSERT INTO feeds (name, url, tags, enabled, source, "
                    "consecutive_failures, blocked_requests, created_at) VALUES "
                    "('kt', 'https://kt.example/feed', '[\"asia\"]', true, 'config', "
                    "0, 0, :now)"
                ),
                {"now": datetime(2026, 1, 1, tzinfo=UTC)},
            )
    finally:
        engine.dispose()
    with Store.open(store_url) as db:
        [feed] = db.list_feeds()
        # 0002: the stored URL became the config's, so an unchanged config keeps the feed as it was
        [synced] = db.sync_feeds([FeedSettings(name="kt", url="https://kt.example/feed", tags=("asia",))])
    assert (feed.name, feed.tags, feed.created_at) == ("kt", ("asia",), datetime(2026, 1, 1, tzinfo=UTC))
    assert synced.url == "https://kt.example/feed"
    assert _revision(store_url) == head_revision()


def test_upgrade_from_0002_keeps_articles_owned_and_feeds_counted(store_url: str) -> None:
    engine = create_store_engine(store_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0002")
            conn.execute(
                text(
                    "INSERT INTO feeds (name, url, config_url, tags, enabled, source, "
                    "consecutive_failures, blocked_requests, created_at) VALUES "
                    "('kt', 'https://kt.example/moved', 'https://kt.example/feed', '[]', true, "
                    "'config', 0, 0, :now)"
                ),
                {"now": datetime(2026, 1, 1, tzinfo=UTC)},
            )
            conn.execute(
                text("INSERT INTO stories (id, created_at, title) VALUES (1, :now, 't')"),
                {"now": datetime(2026, 1, 1, tzinfo=UTC)},
            )
            conn.execute(
                text(
                    "INSERT INTO articles (canonical_url, url, content_hash, title, text, feed_name, "
                    "story_id, fetched_at, extracted) VALUES ('https://kt.example/a', "
                    "'https://kt.example/a', 'h', 't', 'x', 'kt', 1, :now, false)"
                ),
                {"now": datetime(2026, 1, 1, tzinfo=UTC)},
            )
    finally:
        engine.dispose()
    with Store.open(store_url) as db:
        [feed] = db.list_feeds()
        [article] = db.story_articles(1)
    # 0003: the moved feed shows its configured URL; nothing failed yet; articles stored before were owned
    assert (feed.url, feed.config_url, feed.failed_entries, feed.redirect_pending) == (
        "https://kt.example/moved",
        "https://kt.example/feed",
        0,
        None,
    )
    assert feed.as_json()["config_url"] == "https://kt.example/feed"
    assert article.owned is True


def test_open_twice_is_idempotent(store_url: str) -> None:
    with Store.open(store_url) as db:
        db.add_feed("a", "https://a.example/feed")
    with Store.open(store_url) as db:
        assert [f.name for f in db.list_feeds()] == ["a"]
    assert _revision(store_url) == head_revision()


def test_downgrade_and_upgrade_again(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    with Store.open(url):
        pass
    engine = create_store_engine(url)
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
        assert not TABLES & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    with Store.open(url) as db:
        assert db.list_feeds() == []


def test_database_from_a_newer_version_is_a_store_error(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    with Store.open(url):
        pass
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match="9999"):
        Store.open(url)


def _open(url: str) -> str:
    with Store.open(url) as db:
        db.list_feeds()
    return "ok"


@pytest.mark.slow
def test_processes_opening_at_once_migrate_once(store_url: str) -> None:
    context = multiprocessing.get_context("fork")
    with context.Pool(4) as pool:
        assert pool.map(_open, [store_url] * 4) == ["ok"] * 4
    assert _revision(store_url) == head_revision()


@pytest.mark.slow
def test_many_processes_opening_new_sqlite_files_at_once_all_succeed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Switching a new file to WAL needs an exclusive lock that SQLite does not wait for: without the retry, about
    # one open in sixty failed with "database is locked" here.
    context = multiprocessing.get_context("fork")
    urls = [f"sqlite:///{tmp_path}/round{i}.db" for i in range(12)]
    with context.Pool(8) as pool:
        for url in urls:
            assert pool.map(_open, [url] * 8) == ["ok"] * 8


def test_upgrade_from_0003_gives_stored_articles_no_furniture(store_url: str) -> None:
    engine = create_store_engine(store_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0003")
            conn.execute(
                text("INSERT INTO stories (id, created_at, title) VALUES (1, :now, 't')"),
                {"now": datetime(2026, 1, 1, tzinfo=UTC)},
            )
            conn.execute(
                text(
                    "INSERT INTO articles (canonical_url, url, content_hash, title, text, feed_name, "
                    "story_id, fetched_at, extracted, owned) VALUES ('https://kt.example/a', "
                    "'https://kt.example/a', 'h', 't', 'body and its old furniture', 'kt', 1, :now, "
                    "true, true)"
                ),
                {"now": datetime(2026, 1, 1, tzinfo=UTC)},
            )
    finally:
        engine.dispose()
    with Store.open(store_url) as db:
        [article] = db.story_articles(1)
    # 0004: the text stored before stays as it was; its furniture column is empty, not NULL
    assert (article.text, article.furniture) == ("body and its old furniture", "")
    assert _revision(store_url) == head_revision()
