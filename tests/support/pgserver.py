"""A throwaway PostgreSQL server for tests that stop or restart the database: its own folder under /tmp and its own
port, started with the machine's ``initdb`` and ``pg_ctl`` (never the shared server on 5432).

``throwaway_postgres`` yields a running ``ThrowawayPostgres`` (``url``, ``restart()``, ``answers(sql)``), stopped
and deleted afterwards; it skips the test when the PostgreSQL 15 server binaries are missing. Run as root, the
server runs as the ``postgres`` user (``initdb`` refuses root). Import with
``from tests.support.pgserver import throwaway_postgres``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.support.smtp import free_port

__all__ = ["BIN", "ThrowawayPostgres"]

BIN = Path(os.environ.get("MONITOR_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temporary folder, listening on 127.0.0.1 at a free port, trust authentication."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="monitor-pg-"))
        self.data = self.folder / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self._run(BIN / "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        self.start()

    def _run(self, *argv: str | Path, timeout: float = 120) -> None:
        command = [str(a) for a in argv]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.folder)
        assert done.returncode == 0, f"{' '.join(command)}: {done.stdout[-2000:]}{done.stderr[-2000:]}"

    def _options(self) -> str:
        # Its own port and socket folder; fsync off: a test's data need not survive a power cut.
        return f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"

    def start(self) -> None:
        self._run(BIN / "pg_ctl", "-D", self.data, "-l", self.folder / "log", "-w", "-o", self._options(), "start")

    def restart(self, down: float = 0.0) -> None:
        """Stop (``-m fast``: every session's connection is closed at once), stay down ``down`` seconds, and start
        again on the same port."""
        self._run(BIN / "pg_ctl", "-D", self.data, "-w", "-m", "fast", "stop")
        time.sleep(down)
        self.start()

    def stop(self) -> None:
        self._run(BIN / "pg_ctl", "-D", self.data, "-w", "-m", "immediate", "stop")

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(text(sql))]
        finally:
            engine.dispose()

    def answers(self, sql: str) -> int:
        """The one number ``sql`` answers, or -1 while the server is not answering (restarting)."""
        try:
            return int(self.rows(sql)[0][0])
        except Exception:  # down, or the schema not made yet: not an answer
            return -1


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    missing = [name for name in ("initdb", "pg_ctl") if not (BIN / name).exists()]
    if missing:
        pytest.skip(f"PostgreSQL server binaries not found in {BIN}: {', '.join(missing)}")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: initdb refuses root")
    server = ThrowawayPostgres()
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(server.folder, ignore_errors=True)
