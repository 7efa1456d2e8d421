"""search: full-text search over articles' title and text (issue 14: the analyst's window)

SQLite: an FTS5 table over the view ``articles_search`` (title and text as ``monitor_search_text`` gives them:
a space around each character of a script written without spaces), kept in step by triggers on ``articles``.
PostgreSQL: a GIN index on the same text's ``to_tsvector('simple', ...)``. monitor/store/search.py queries both.
Also an index of deliveries by story (the dashboard shows each row's story alerts).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 00:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from monitor.store.search import FTS_TABLE, PG_DOCUMENT, PG_SEARCH_FUNCTION, PG_UNSPACED_PATTERN

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_F = PG_SEARCH_FUNCTION  # SQLite: a Python function every store connection registers (monitor/store/base.py)
_SQLITE = [
    f"CREATE VIEW articles_search AS SELECT id, {_F}(title) AS title, {_F}(text) AS text FROM articles",
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(title, text, content='articles_search', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER {FTS_TABLE}_insert AFTER INSERT ON articles BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, title, text) VALUES (new.id, {_F}(new.title), {_F}(new.text)); END",
    f"CREATE TRIGGER {FTS_TABLE}_delete AFTER DELETE ON articles BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, text) "
    f"VALUES ('delete', old.id, {_F}(old.title), {_F}(old.text)); END",
    f"CREATE TRIGGER {FTS_TABLE}_update AFTER UPDATE OF title, text ON articles BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, text) "
    f"VALUES ('delete', old.id, {_F}(old.title), {_F}(old.text)); "
    f"INSERT INTO {FTS_TABLE}(rowid, title, text) VALUES (new.id, {_F}(new.title), {_F}(new.text)); END",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",  # the articles stored before
]
# The first 200,000 characters: a tsvector holds at most 1 MB, and an article over it must still be stored.
_PG = [
    f"CREATE FUNCTION {_F}(value text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS "
    f"$$ SELECT regexp_replace(left(value, 200000), '{PG_UNSPACED_PATTERN}', ' \\1 ', 'g') $$",
    f"CREATE INDEX ix_articles_search ON articles USING gin ({PG_DOCUMENT.replace('articles.', '')})",
]


def upgrade() -> None:
    """The search index, filled with the articles already stored; a story's alerts indexed by story."""
    for statement in _PG if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)
    with op.batch_alter_table("deliveries") as batch:
        batch.create_index("ix_deliveries_story_id", ["story_id"], unique=False)


def downgrade() -> None:
    """Drop the search index and the story index of deliveries."""
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_story_id")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_articles_search")
        op.execute(f"DROP FUNCTION {_F}(text)")
        return
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER {FTS_TABLE}_{trigger}")
    op.execute(f"DROP TABLE {FTS_TABLE}")
    op.execute("DROP VIEW articles_search")
