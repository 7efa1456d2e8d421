"""Schema migrations at run time: upgrade a database to the newest alembic revision.

``upgrade_to_head(engine)`` runs ``monitor/migrations`` without an alembic.ini. It holds
a lock while it runs (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped
advisory lock), so several processes starting at once migrate once and the others
find the schema at head. SQLite and PostgreSQL both run DDL inside the transaction,
so a failed migration leaves the database as it was.

A database already at the newest revision (every start but the first after an upgrade) is recognised with one
query, without importing alembic (a third of a second of every ``monitor poll``'s start-up).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "MIGRATIONS_DIR",
    "UnknownRevisionError",
    "alembic_config",
    "current_revision",
    "head_revision",
    "shipped_head",
    "upgrade_to_head",
]

_log = logging.getLogger(__name__)

#: The alembic script folder shipped inside the package.
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_PG_LOCK_KEY = 0x6D6F6E69746F72  # "monitor": one advisory lock id for schema changes
_REVISION = re.compile(r"^revision\b[^=\n]*=\s*[\"']([^\"'\n]+)[\"']\s*$", re.M)
_DOWN_REVISION = re.compile(r"^down_revision\b[^=\n]*=\s*(?:None|[\"']([^\"'\n]+)[\"'])\s*$", re.M)


class UnknownRevisionError(Exception):
    """The database is at a revision these scripts do not know (written by a newer monitor)."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic ``Config`` for the shipped scripts, optionally bound to ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest revision id of the shipped scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def shipped_head() -> str | None:
    """``head_revision()`` read from the scripts' ``revision`` and ``down_revision`` lines, without alembic; None
    unless they form one chain with one head (alembic decides then)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = script.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(source), _DOWN_REVISION.findall(source)
        if len(revision) != 1 or len(down) != 1:
            return None
        revisions.add(revision[0])
        parents.update(filter(None, down))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _at_head(engine: Engine) -> bool:
    """True when the database's recorded revision is the scripts' head (False when unsure: alembic looks)."""
    head = shipped_head()
    if head is None:
        return False
    with engine.connect() as conn:  # a database that cannot be reached fails here, once
        try:
            found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        except DBAPIError:  # no schema yet (or a lock): the migration path decides, under its lock
            return False
    return found == [head]


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None: no schema yet)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` under a schema lock; a no-op when already there.

    Raises:
        UnknownRevisionError: the database is at a revision the scripts do not know.
        Whatever SQLAlchemy or alembic raise; ``Store.open`` maps them to ``StoreError``.
    """
    if revision == "head" and _at_head(engine):
        return
    from alembic import command
    from alembic.util import CommandError

    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            before = current_revision(conn)
            try:
                command.upgrade(alembic_config(conn), revision)
            except CommandError as e:
                raise UnknownRevisionError(str(e)) from e
            after = current_revision(conn)
    if before != after:
        _log.info("schema migrated from=%s to=%s", before or "empty", after)
