"""Database fixtures: a fresh store on SQLite, and on PostgreSQL when one is configured.

``store_url`` is parametrized over the available backends: ``sqlite`` (a new file in
``tmp_path``) always, ``postgresql`` when ``MONITOR_TEST_DATABASE_URL`` is set (for example
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each PostgreSQL test gets its own
schema (through ``search_path`` in the URL), dropped afterwards. ``store`` is an open
``Store`` on that URL. Import them with ``from tests.support.dbfixtures import store, store_url``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from monitor.store import Store

__all__ = ["BACKENDS", "TEST_DATABASE_URL", "pg_schema", "pg_schema_url"]

# Read at import: the autouse fixture of conftest.py clears MONITOR_* before each test.
TEST_DATABASE_URL = os.environ.get("MONITOR_TEST_DATABASE_URL", "")
BACKENDS = [pytest.param("sqlite", id="sqlite")] + (
    [pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)] if TEST_DATABASE_URL else []
)


def pg_schema_url(base: str, schema: str) -> str:
    """``base`` with every connection's ``search_path`` set to ``schema``."""
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@contextmanager
def pg_schema() -> Iterator[str]:
    """The URL of an empty schema of its own on the test PostgreSQL while the block runs, dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield pg_schema_url(TEST_DATABASE_URL, schema)
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database (not yet migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'monitor.db'}"
        return
    if not TEST_DATABASE_URL:  # a test that asks for PostgreSQL alone (``indirect``) on a machine without one
        pytest.skip("needs MONITOR_TEST_DATABASE_URL (PostgreSQL)")
    with pg_schema() as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open, migrated, empty store; closed after the test."""
    opened = Store.open(store_url)
    try:
        yield opened
    finally:
        opened.close()
