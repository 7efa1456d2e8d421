"""The store's engine and transactions: one place that opens connections and maps errors.

Every mixin (feeds, articles, matches, deliveries) talks to the database only through
``StoreBase._read(op)`` and ``StoreBase._write(op)``, context managers that yield a
SQLAlchemy ``Connection`` inside a transaction and turn any SQLAlchemy or DB-API error
into ``StoreError`` (``raise ... from e``); inside ``StoreBase.batch`` a write is a savepoint
of the batch's one transaction. ``_insert(table)`` gives the dialect's INSERT
that has ``on_conflict_do_nothing()`` (SQLite and PostgreSQL behave the same).

SQLite connections run in WAL mode with a busy timeout and foreign keys on; write
transactions start with ``BEGIN IMMEDIATE`` so two processes queue on the write lock
instead of failing with "database is locked" when a reader upgrades to a writer. A database
file the store creates is private to the user (0600, and so are its -wal and -shm files,
which SQLite creates with the file's mode), and so are the folders it creates (0700).
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from monitor.errors import StoreError
from monitor.store.driver import savepoint
from monitor.store.search import PG_SEARCH_FUNCTION, search_text
from monitor.store.statements import Prepared

__all__ = ["DEFAULT_BUSY_TIMEOUT", "IDLE_IN_TRANSACTION", "StoreBase", "chunked", "create_store_engine"]

#: Seconds a SQLite writer waits for another process's write lock before failing.
DEFAULT_BUSY_TIMEOUT = 30.0
_DB_ERRORS = (SQLAlchemyError, sqlite3.Error)
_T = TypeVar("_T")


_CHUNK = 500  # bound parameters per IN (...) list, well under SQLite's limit


def chunked(items: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    """``items`` in slices of at most ``size`` (500), for ``IN (...)`` lists and batch inserts."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def create_store_engine(url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Engine:
    """Make the engine for a ``sqlite:///…`` or ``postgresql+psycopg://…`` URL.

    Raises:
        StoreError: the URL is malformed, names an unknown dialect or driver, or the
            SQLite folder cannot be created.
    """
    try:
        parsed = _normal_url(make_url(url))
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed, busy_timeout)
        return _postgresql_engine(parsed)
    except (*_DB_ERRORS, ImportError, OSError) as e:
        raise StoreError(f"cannot open database {_redacted(url)}: {_describe(e)}") from e


#: Seconds a PostgreSQL session may sit inside an open transaction without sending anything before the server
#: ends it. Our transactions never pause; a process that does is stopped or frozen (SIGSTOP, a VM pause), and
#: the locks it holds would stall every other worker until it woke (docs/storage.md, "Several processes").
IDLE_IN_TRANSACTION = 60


def _postgresql_engine(url: URL) -> Engine:
    engine = create_engine(url, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cursor:
            cursor.execute(f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION * 1000}")
        dbapi_conn.commit()

    return engine


def _normal_url(url: URL) -> URL:
    # "postgresql://" would pick psycopg2, which we do not install: psycopg 3 is the driver.
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    return url


def _use_wal(cursor: sqlite3.Cursor, busy_timeout: float) -> None:
    """Switch a database file to WAL mode, waiting up to ``busy_timeout`` for other processes.

    Switching needs an exclusive lock, and SQLite answers "database is locked" at once instead of calling its
    busy handler when another process holds one (several processes opening a new file at once), so retry here.
    """
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def _sqlite_engine(url: URL, busy_timeout: float) -> Engine:
    database = url.database or ""
    memory = database in ("", ":memory:")
    if not memory and not url.query.get("uri"):
        _create_private(Path(database).expanduser().resolve())
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_timeout},
        poolclass=StaticPool if memory else None,
    )
    timeout_ms = int(busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Autocommit at the driver level: we emit BEGIN ourselves (see _on_begin).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
        if not memory:
            _use_wal(cursor, busy_timeout)
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")  # safe in WAL mode, and much faster
        cursor.close()
        # The search index's triggers call it (migration 0006): every connection that writes articles needs it.
        dbapi_conn.create_function(PG_SEARCH_FUNCTION, 1, search_text, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _create_private(path: Path) -> None:
    """Create the database file 0600 and its missing folders 0700 (articles, rules hit and delivery errors are the
    user's business alone); an existing file or folder (the working directory, a shared data folder) is left as is."""
    missing = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # an empty file is an empty database
    except FileExistsError:
        pass


def _redacted(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "<unparsable URL>"


def _describe(error: BaseException) -> str:
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0] if text else ''}".rstrip(": ")


class StoreBase:
    """Holds the engine; the mixins use ``_read``/``_write``/``_insert``."""

    def __init__(self, engine: Engine) -> None:
        self._engine: Engine | None = engine
        self._dialect = engine.dialect.name  # "sqlite" or "postgresql"
        self._batch = threading.local()  # .conn: the transaction of a ``batch`` running in this thread

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._dialect

    def close(self) -> None:
        """Release every connection; later calls raise ``StoreError``."""
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()

    def ping(self) -> None:
        """Ask the database one cheap question that needs the schema (``/readyz``).

        Raises:
            StoreError: it does not answer, or its tables are gone.
        """
        with self._read("ping") as conn:
            conn.execute(text("SELECT 1 FROM feeds LIMIT 1"))

    @functools.cached_property
    def _prepared(self) -> Prepared:
        """The writer's statements compiled for this store's engine (``monitor.store.driver``)."""
        return Prepared(self._live_engine().dialect)

    def _live_engine(self) -> Engine:
        if self._engine is None:
            raise StoreError("the store is closed")
        return self._engine

    @contextmanager
    def _read(self, op: str) -> Iterator[Connection]:
        """A read-only transaction; errors become ``StoreError`` naming ``op``. Inside a ``batch``: a savepoint of
        the batch's transaction (it sees the batch's writes, and an in-memory database's one connection is never
        used by two transactions at once)."""
        if getattr(self._batch, "conn", None) is not None:
            with self._write(op) as conn:
                yield conn
            return
        engine = self._live_engine()
        try:
            with engine.connect() as conn, conn.begin():
                yield conn
        except _DB_ERRORS as e:
            raise StoreError(f"{op} failed: {_describe(e)}") from e

    @contextmanager
    def batch(self, op: str = "batch of writes") -> Iterator[None]:
        """One transaction for every write this thread makes while the block runs: each write method called inside
        runs in a savepoint of it (its failure rolls back that write alone and raises as usual), and they all
        commit together when the block ends, or none does. One commit instead of one per write is what makes a
        poll's many small writes cheap (``StoreWriter``); each write still commits whole or not at all."""
        if getattr(self._batch, "conn", None) is not None:
            yield  # already inside one
            return
        with self._write(op) as conn:
            self._batch.conn = conn
            try:
                yield
            finally:
                self._batch.conn = None

    @contextmanager
    def _write(self, op: str) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite); commits on success. Inside a ``batch``: a
        savepoint of the batch's transaction, released on success and rolled back on any error."""
        batch: Connection | None = getattr(self._batch, "conn", None)
        if batch is not None:
            try:
                with savepoint(batch):
                    yield batch
            except _DB_ERRORS as e:
                raise StoreError(f"{op} failed: {_describe(e)}") from e
            return
        engine = self._live_engine()
        try:
            with engine.connect() as conn:
                if self._dialect == "sqlite":
                    conn.execution_options(sqlite_begin="IMMEDIATE")
                with conn.begin():
                    yield conn
        except _DB_ERRORS as e:
            raise StoreError(f"{op} failed: {_describe(e)}") from e

    def _insert(self, table: Table) -> Any:
        """INSERT for this dialect, with ``on_conflict_do_nothing`` and ``returning``."""
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)
