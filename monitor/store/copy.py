"""Copy a whole store into an empty database: ``monitor db copy --to URL`` (a SQLite store onto PostgreSQL).

Inputs: a source and a target URL. Output: ``CopyReport``, the rows and a checksum per table, read back from the
target and compared with the source's.

- Every table of the schema (``tables.metadata``: feeds, entries, stories, story keys, articles, matches,
  deliveries, feedback, and any table a later migration adds) is copied whole, parents before children, with
  its ids as they are; PostgreSQL's id sequences are then set past the highest id, so new rows never collide.
- Both databases are migrated to the newest revision first (as every command does); the target must then be
  empty, or the copy is refused before it writes anything.
- The source is read in one snapshot (SQLite: one read transaction; PostgreSQL: ``REPEATABLE READ``), so a
  daemon may keep running on it; rows written after the snapshot are not copied.
- The target is written in ONE transaction: a failure (a value the target cannot hold, the connection lost)
  leaves it empty, to copy again.
- The checksum of a table is the sum (mod 2**256) of the SHA-256 of each row's values in a portable form (times
  as ISO UTC, JSON with sorted keys): it does not depend on the order rows come back in (text sorts differently on
  SQLite and PostgreSQL), and a missing, extra or changed row changes it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from monitor.clock import as_utc
from monitor.errors import StoreError
from monitor.store.base import _describe, _redacted, create_store_engine
from monitor.store.schema import UnknownRevisionError, upgrade_to_head
from monitor.store.tables import metadata

__all__ = ["CopyRefusedError", "CopyReport", "TableCopy", "copy_store", "store_checksums"]

_CHUNK = 1000  # rows per read and per multi-row INSERT
_MOD = 2**256

#: ``progress(table, rows)``: ``rows`` more rows of ``table`` copied. ``start(table, total)``: a table begins.
_Progress = Callable[[str, int], None]


class CopyRefusedError(StoreError, ValueError):
    """The copy was refused before it wrote anything: the target holds data, or a value cannot go there."""


@dataclass(frozen=True)
class TableCopy:
    """One table: its rows and checksum in the source and, read back, in the target."""

    name: str
    rows: int
    checksum: str
    target_rows: int
    target_checksum: str

    @property
    def verified(self) -> bool:
        return (self.rows, self.checksum) == (self.target_rows, self.target_checksum)

    def as_json(self) -> dict[str, Any]:
        return {
            "table": self.name,
            "rows": self.rows,
            "checksum": self.checksum,
            "target_rows": self.target_rows,
            "target_checksum": self.target_checksum,
            "verified": self.verified,
        }


@dataclass(frozen=True)
class CopyReport:
    """A finished copy: per table, what the source held and what the target holds now."""

    source: str  # redacted
    target: str  # redacted
    tables: tuple[TableCopy, ...]
    seconds: float

    @property
    def verified(self) -> bool:
        return all(t.verified for t in self.tables)

    @property
    def checksum(self) -> str:
        """One checksum of the whole store (of the tables' checksums, in table order)."""
        digest = hashlib.sha256()
        for table in self.tables:
            digest.update(f"{table.name}:{table.rows}:{table.checksum}\n".encode())
        return digest.hexdigest()

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "tables": [t.as_json() for t in self.tables],
            "rows": self.rows,
            "checksum": self.checksum,
            "verified": self.verified,
            "seconds": round(self.seconds, 3),
        }


def copy_store(
    source_url: str,
    target_url: str,
    *,
    start: _Progress | None = None,
    progress: _Progress | None = None,
) -> CopyReport:
    """Copy every row of ``source_url`` into the empty database ``target_url`` and verify it (module docstring).

    Raises:
        CopyRefusedError: the source does not exist or holds nothing, the target is not empty, or the target cannot
            hold a value of the source (NUL in text on PostgreSQL); nothing was written.
        StoreError: either database failed; the target is left as it was (empty).
    """
    began = time.monotonic()
    _refuse_a_missing_file(source_url)
    source = _open(source_url, "source")
    try:
        target = _open(target_url, "target")
    except StoreError:
        source.dispose()
        raise
    try:
        if not _held(source, counted=False):
            raise CopyRefusedError(
                f"the source database {_redacted(source_url)} holds nothing to copy (is it the right one?)"
            )
        _refuse_unless_empty(target, target_url)
        counted = _copy(source, target, start or _ignore, progress or _ignore)
        found = store_checksums(target)
    finally:
        source.dispose()
        target.dispose()
    tables = tuple(
        TableCopy(name, rows, checksum, *found.get(name, (0, _hex(0)))) for name, (rows, checksum) in counted.items()
    )
    return CopyReport(_redacted(source_url), _redacted(target_url), tables, time.monotonic() - began)


def store_checksums(engine: Engine) -> dict[str, tuple[int, str]]:
    """Every table's rows and checksum, in one snapshot."""
    with _snapshot(engine) as conn:
        return {table.name: _table_checksum(_rows(conn, table)) for table in metadata.sorted_tables}


def _ignore(_table: str, _rows: int) -> None:
    pass


def _open(url: str, role: str) -> Engine:
    engine = create_store_engine(url)
    try:
        upgrade_to_head(engine)
    except UnknownRevisionError as e:
        engine.dispose()
        raise StoreError(f"the {role} database {_redacted(url)} was written by a newer monitor: {e}") from e
    except SQLAlchemyError as e:
        engine.dispose()
        raise StoreError(f"cannot open the {role} database {_redacted(url)}: {_describe(e)}") from e
    return engine


def _refuse_a_missing_file(url: str) -> None:
    """A SQLite source that does not exist would be created empty: say so instead (a mistyped path)."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:") and not parsed.query.get("uri"):
        if not Path(database).expanduser().exists():
            raise CopyRefusedError(f"the source database {_redacted(url)} does not exist")


def _held(engine: Engine, *, counted: bool = True) -> list[str]:
    """The tables that hold rows, with their counts (``feeds (2 rows)``) or, not ``counted``, their names only (a
    count reads a whole table: a large source's, only to know it is not empty)."""
    try:
        with engine.connect() as conn:
            return [
                _rows_of(table.name, int(conn.execute(select(func.count()).select_from(table)).scalar_one()))
                if counted
                else table.name
                for table in metadata.sorted_tables
                if conn.execute(select(1).select_from(table).limit(1)).first() is not None
            ]
    except SQLAlchemyError as e:
        raise StoreError(f"cannot read the database {_redacted(str(engine.url))}: {_describe(e)}") from e


def _refuse_unless_empty(target: Engine, url: str) -> None:
    held = _held(target)
    if held:
        raise CopyRefusedError(
            f"the target database {_redacted(url)} is not empty ({', '.join(held)}): "
            "copy only into a new, empty database"
        )


def _rows_of(table: str, rows: int) -> str:
    return f"{table} ({rows} row{'' if rows == 1 else 's'})"


class _Snapshot:
    """A read transaction that sees one state of the database throughout."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    def __enter__(self) -> Connection:
        conn = self._engine.connect()
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        conn.begin()
        self._conn = conn
        return conn

    def __exit__(self, *exc: object) -> None:
        assert self._conn is not None
        self._conn.rollback()  # read only: nothing to commit
        self._conn.close()


def _snapshot(engine: Engine) -> _Snapshot:
    return _Snapshot(engine)


def _copy(source: Engine, target: Engine, start: _Progress, progress: _Progress) -> dict[str, tuple[int, str]]:
    """Copy table by table in one target transaction; return each table's rows and checksum as read."""
    postgres = target.dialect.name == "postgresql"
    counted: dict[str, tuple[int, str]] = {}
    try:
        with _snapshot(source) as read, target.begin() as write:
            for table in metadata.sorted_tables:
                start(table.name, int(read.execute(select(func.count()).select_from(table)).scalar_one()))
                total, rows = 0, 0
                for chunk in _chunks(_rows(read, table)):
                    if postgres:
                        _refuse_nul(table, chunk)
                    write.execute(table.insert(), [dict(zip(table.columns.keys(), row, strict=True)) for row in chunk])
                    total = (total + sum(_row_hash(row) for row in chunk)) % _MOD
                    rows += len(chunk)
                    progress(table.name, len(chunk))
                counted[table.name] = (rows, _hex(total))
            if postgres:
                _fix_sequences(write)
    except SQLAlchemyError as e:
        raise StoreError(f"copy failed, nothing was written: {_describe(e)}") from e
    return counted


def _rows(conn: Connection, table: Table) -> Iterator[tuple[Any, ...]]:
    query = select(*table.columns).order_by(*table.primary_key.columns)
    result = conn.execution_options(yield_per=_CHUNK).execute(query)
    for row in result:
        yield tuple(row)


def _chunks(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _refuse_nul(table: Table, chunk: Sequence[tuple[Any, ...]]) -> None:
    """PostgreSQL's text cannot hold NUL: name the row and column rather than fail a whole chunk obscurely."""
    names = table.columns.keys()
    for row in chunk:
        for name, value in zip(names, row, strict=True):
            if isinstance(value, str) and "\x00" in value:
                key = ", ".join(f"{c.name}={row[names.index(c.name)]!r}" for c in table.primary_key.columns)
                raise CopyRefusedError(
                    f"{table.name} ({key}): {name} holds a NUL character, which PostgreSQL cannot store; "
                    "nothing was copied (remove it from the source first)"
                )


def _fix_sequences(conn: Connection) -> None:
    """Set each ``id`` sequence past the highest copied id: the next row inserted gets a new id."""
    for table in metadata.sorted_tables:
        column = table.columns.get("id")
        if column is None or not column.primary_key or not column.autoincrement:
            continue
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, 'id'), "  # noqa: S608 (names from our metadata)
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            ),
            {"table": table.name},
        )


def _table_checksum(rows: Iterator[tuple[Any, ...]]) -> tuple[int, str]:
    count, total = 0, 0
    for row in rows:
        count += 1
        total = (total + _row_hash(row)) % _MOD
    return count, _hex(total)


def _row_hash(row: tuple[Any, ...]) -> int:
    line = json.dumps([_portable(v) for v in row], sort_keys=True, separators=(",", ":"), default=str)
    return int.from_bytes(hashlib.sha256(line.encode("utf-8", "surrogatepass")).digest(), "big")


def _portable(value: Any) -> Any:
    """A value as both databases give it back alike: times as ISO UTC; floats by repr."""
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, float):
        return repr(value)
    return value


def _hex(total: int) -> str:
    return f"{total:064x}"
