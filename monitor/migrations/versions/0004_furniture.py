"""articles.furniture: page furniture split off the article's text (issue 15: alert on the story itself)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 22:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column; articles stored before kept their furniture in the text, so theirs is empty."""
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("furniture", sqlmodel.sql.sqltypes.AutoString(), server_default="",
                                   nullable=False))


def downgrade() -> None:
    """Drop the column (the furniture of articles stored since is lost; their text stays the body)."""
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("furniture")
