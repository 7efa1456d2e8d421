"""feeds.failed_entries, last_entry_error, redirect_pending; articles.owned (issue 11: one hostile value fails only itself)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 18:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the columns; existing articles were stored under their canonical URL, so they count as owned."""
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(sa.Column("failed_entries", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("last_entry_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch.add_column(sa.Column("redirect_pending", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("owned", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    """Drop the columns (foreign copies keep their feed-scoped keys, and stay harmless duplicates)."""
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("owned")
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("redirect_pending")
        batch.drop_column("last_entry_error")
        batch.drop_column("failed_entries")
