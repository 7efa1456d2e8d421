"""digest windows: one row per digest of a channel, so a worker taking over never sends a window twice (issue 17)

Several ``monitor run`` processes on one PostgreSQL send digests from the one that holds the jobs' advisory lock
(``monitor.leader``); when it dies another takes over. The window a digest covers is recorded with the outcome of
its deliveries, in one transaction: rows that reach a window already sent go into the channel's next window.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 03:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """The digest_windows table."""
    op.create_table(
        "digest_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("window_at", sa.DateTime(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "window_at", name="uq_digest_windows_channel_window_at"),
    )


def downgrade() -> None:
    """Drop the digest_windows table."""
    op.drop_table("digest_windows")
