"""Schema migrations at run time: upgrade a database to the newest alembic revision.

``upgrade_to_head(engine)`` runs ``monitor/migrations`` without an alembic.ini. It holds
a lock while it runs (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped
advisory lock), so several processes starting at once migrate once and the others
find the schema at head. SQLite and PostgreSQL both run DDL inside the transaction,
so a failed migration leaves the database as it was.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

__all__ = ["MIGRATIONS_DIR", "alembic_config", "current_revision", "head_revision", "upgrade_to_head"]

_log = logging.getLogger(__name__)

#: The alembic script folder shipped inside the package.
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_PG_LOCK_KEY = 0x6D6F6E69746F72  # "monitor": one advisory lock id for schema changes


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic ``Config`` for the shipped scripts, optionally bound to ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest revision id of the shipped scripts."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None: no schema yet)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` under a schema lock; a no-op when already there.

    Raises whatever SQLAlchemy or alembic raise; ``Store.open`` maps them to ``StoreError``.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            before = current_revision(conn)
            command.upgrade(alembic_config(conn), revision)
            after = current_revision(conn)
    if before != after:
        _log.info("schema migrated from=%s to=%s", before or "empty", after)
