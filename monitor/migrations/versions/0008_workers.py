"""workers: the ``monitor run`` processes that share a PostgreSQL store, each with a heartbeat (issue 17: leases)

A worker claims a bounded share of the due feeds per tick: the due feeds divided by the workers alive. Each claim
renews its own row (``seen_until``, on the database's clock); a row past it is a worker that stopped or died.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 03:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """The workers table."""
    op.create_table(
        "workers",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("seen_until", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("workers")
