"""retention: indexes that let a prune find old articles and old stories without reading the tables (issue 17)

``[store] keep_articles`` prunes unmatched articles fetched before a cutoff, in small batches (monitor.retention):
each batch walks ``articles`` by ``fetched_at``, the keys of a story left without articles are found by
``story_id`` (the primary key of ``story_keys`` starts with ``key``), and such stories by ``created_at``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 03:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index articles by fetched_at, stories by created_at, story keys by story."""
    op.create_index("ix_articles_fetched_at", "articles", ["fetched_at"])
    op.create_index("ix_stories_created_at", "stories", ["created_at"])
    op.create_index("ix_story_keys_story_id", "story_keys", ["story_id"])


def downgrade() -> None:
    """Drop the three indexes."""
    op.drop_index("ix_story_keys_story_id", table_name="story_keys")
    op.drop_index("ix_stories_created_at", table_name="stories")
    op.drop_index("ix_articles_fetched_at", table_name="articles")
