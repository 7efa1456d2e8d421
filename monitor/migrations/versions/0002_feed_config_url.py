"""feeds.config_url: remember the URL config.toml names, so a permanent redirect's new URL survives a restart

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 07:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column; config feeds of an existing database take their current URL as the config's."""
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(sa.Column("config_url", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    op.execute("UPDATE feeds SET config_url = url WHERE source = 'config'")


def downgrade() -> None:
    """Drop the column (a redirected config feed then goes back to its config URL at the next start)."""
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("config_url")
