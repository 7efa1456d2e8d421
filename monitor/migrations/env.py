"""Alembic environment for monitor's schema (``monitor.store.tables``).

Run by ``Store.open`` with a live connection in ``config.attributes["connection"]``
(already inside the caller's locked transaction), or by developers through the alembic
command line: ``alembic -c monitor/migrations/alembic.ini -x url=URL …`` (docs/storage.md).
SQLite migrations use batch mode, since SQLite's ALTER TABLE cannot change columns.
"""

from __future__ import annotations

import logging.config
import os

from alembic import context
from sqlalchemy import Connection

from monitor.store.base import create_store_engine
from monitor.store.search import is_search_object
from monitor.store.tables import metadata

__all__: list[str] = []


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # The search index (0006) is raw SQL no model describes: autogenerate must not drop it.
        include_name=lambda name, _type, _parents: not is_search_object(name),
    )
    with context.begin_transaction():
        context.run_migrations()


def _cli_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("MONITOR_DATABASE_URL")
    if not url:
        raise SystemExit("give the database: alembic -x url=sqlite:///dev.db … (or set MONITOR_DATABASE_URL)")
    return url


def _main() -> None:
    given = context.config.attributes.get("connection")
    if isinstance(given, Connection):
        _configure(given)
        return
    if context.config.config_file_name is not None:
        logging.config.fileConfig(context.config.config_file_name)
    if context.is_offline_mode():
        context.configure(url=_cli_url(), target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_store_engine(_cli_url())
    with engine.connect() as connection:
        _configure(connection)
    engine.dispose()


_main()
