"""claims: a feed's claim by one worker (claimed_by, claimed_until), and the rule filter's index (issue 17: scale)

Several ``monitor run`` processes on one PostgreSQL claim due feeds with a short lease they renew while the poll
runs; a write of the feed's polling state applies only while the claim is still the writer's (fencing). The web
app's and the API's rule filter read a rule's matches newest first: ``(rule_id, matched_at, id)`` serves it without
a sort.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 03:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Claim columns on feeds; the rule filter's index on matches."""
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch.add_column(sa.Column("claimed_until", sa.DateTime(), nullable=True))
    op.create_index("ix_matches_rule_id_matched_at_id", "matches", ["rule_id", "matched_at", "id"])


def downgrade() -> None:
    """Drop the index and the claim columns."""
    op.drop_index("ix_matches_rule_id_matched_at_id", table_name="matches")
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
