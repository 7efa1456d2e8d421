"""One-off jobs in one worker: the process that holds the jobs' advisory lock runs them (digests, retention).

Inputs: the database URL and this worker's name. Output: ``Leader.holds()``, True in exactly one ``monitor run``
process of a PostgreSQL deployment at a time (docs/design.md, Scale); on SQLite always True (one daemon).

How: a dedicated connection (autocommit, never pooled) takes ``pg_try_advisory_lock`` on the jobs' key; the lock
lives as long as that session. A killed leader's socket closes, the server ends its session and frees the lock, and
the next worker to call ``holds()`` (the daemon calls it every tick) takes it: a new leader within one tick. A leader
that is stopped (``SIGSTOP``, a frozen VM) would keep its session forever, so the session asks the server to end it
when idle for ``idle_timeout`` (``idle_session_timeout``); a heartbeat thread keeps a running leader's session busy
while its jobs run. The jobs themselves are fenced too (digest rows and windows are leased), so a leader that wakes
up after losing the lock writes nothing over its successor.

The lock's key is the jobs' key space and the schema's name: deployments that share a database (a schema each) each
have their own leader.

API (for the daemon's jobs)::

    leader = Leader(settings.database.url, worker=worker_id(unique=True), idle_timeout=...)
    if leader.holds():  # blocking (a round trip): call it from a thread, not the event loop
        run_the_job()
    leader.only(run_the_job)()  # the same: the job's result, or None when this worker is not the leader
    leader.close()  # frees the lock (a clean stop hands over at once)
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.engine import make_url

__all__ = ["JOBS_LOCK_SPACE", "Leader"]

_log = logging.getLogger(__name__)
_P = ParamSpec("_P")
_T = TypeVar("_T")

#: The first key of the jobs' advisory lock (the second is the schema's hash). The two-key form keeps it apart from
#: the store's one-key locks on story keys; the outbox's claim locks use 0x6D6F6E01.
JOBS_LOCK_SPACE = 0x6D6F6E02
_TRY = "SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))"
_UNLOCK = "SELECT pg_advisory_unlock(%s, hashtext(current_schema()))"


class Leader:
    """Whether this worker runs the one-off jobs; see the module's docstring.

    Args:
        url: the database URL (``[database] url``); a SQLite URL makes ``holds()`` always True.
        worker: this worker's name (``monitor.clock.worker_id``), shown in ``pg_stat_activity.application_name``
            as ``monitor leader <worker>`` while it leads (``monitor jobs <worker>`` while it waits).
        idle_timeout: seconds after which the server ends the session of a leader that stopped answering (at
            least 10); the lock is then free for another worker.
    """

    def __init__(self, url: str, *, worker: str, idle_timeout: float = 60.0) -> None:
        self._url = url
        self._worker = worker
        self._idle_timeout = max(10.0, idle_timeout)
        self._local = url.startswith("sqlite")
        self._conn: Any = None  # psycopg.Connection, imported only on PostgreSQL
        self._held = False
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._beat: threading.Thread | None = None

    @property
    def leading(self) -> bool:
        """What the last ``holds()`` found (no round trip)."""
        return self._local or self._held

    def holds(self) -> bool:
        """True when this worker holds the jobs' lock: it takes it when free, checks it is still held when it had it.

        Never raises: a database that cannot be reached means "not the leader" (and the lock, if it was held, is
        given up: the session is closed, so another worker may take it).
        """
        if self._local:
            return True
        if self._closed.is_set():
            return False
        with self._lock:
            try:
                if self._conn is None:
                    self._connect()
                if self._held:
                    self._conn.execute("SELECT 1")  # the session (and the lock) is still there
                    return True
                got = bool(self._conn.execute(_TRY, (JOBS_LOCK_SPACE,)).fetchone()[0])
            except Exception as e:  # psycopg's errors, and anything of the network: not the leader now
                self._lost(e)
                return False
            if got:
                self._held = True
                self._name("monitor leader")
                _log.info("leader: this worker runs the one-off jobs (digests, retention) worker=%s", self._worker)
                self._start_heartbeat()
            return got

    def only(self, job: Callable[_P, _T]) -> Callable[_P, _T | None]:
        """``job`` run only while this worker is the leader (else None)."""

        @functools.wraps(job)
        def gated(*args: _P.args, **kwargs: _P.kwargs) -> _T | None:
            return job(*args, **kwargs) if self.holds() else None

        return gated

    def close(self) -> None:
        """Give the lock up (another worker takes it at its next tick) and close the connection."""
        self._closed.set()
        with self._lock:
            if self._conn is not None and self._held:
                try:
                    self._conn.execute(_UNLOCK, (JOBS_LOCK_SPACE,))
                except Exception:  # closing the session frees it anyway
                    pass
            self._drop()

    def _connect(self) -> None:
        import psycopg

        url = make_url(self._url)
        params: dict[str, Any] = {
            key: value if isinstance(value, str) else value[-1] for key, value in url.query.items() if value
        }
        for key, value in (
            ("host", url.host),
            ("port", url.port),
            ("user", url.username),
            ("password", url.password),
            ("dbname", url.database),
        ):
            if value is not None:
                params[key] = value
        params.setdefault("connect_timeout", 10)
        # This side's keepalives too: a query on a connection whose network died would block (holding the lock
        # that the send loop and shutdown wait on) for the kernel's retransmissions, about 15 minutes.
        for key, value in (
            ("keepalives", 1),
            ("keepalives_idle", 30),
            ("keepalives_interval", 10),
            ("keepalives_count", 3),
        ):
            params.setdefault(key, value)
        self._conn = psycopg.connect(autocommit=True, application_name=self._app("monitor jobs"), **params)
        timeout_ms = int(self._idle_timeout * 1000)
        try:  # PostgreSQL 14+: a stopped leader's session ends, and its lock with it
            self._conn.execute(f"SET idle_session_timeout = {timeout_ms}")
        except psycopg.Error:
            _log.warning("leader: idle_session_timeout unsupported; a stopped leader keeps the jobs until it dies")
        for setting, value in (
            ("tcp_keepalives_idle", 30),
            ("tcp_keepalives_interval", 10),
            ("tcp_keepalives_count", 3),
        ):
            self._conn.execute(f"SET {setting} = {value}")  # a leader whose host vanished is noticed in a minute

    def _app(self, role: str) -> str:
        return f"{role} {self._worker}"[:63]

    def _name(self, role: str) -> None:
        try:
            self._conn.execute("SELECT set_config('application_name', %s, false)", (self._app(role),))
        except Exception:  # only a label
            pass

    def _lost(self, error: BaseException) -> None:
        if self._held:
            _log.warning("leader: lost the jobs lock worker=%s error=%s", self._worker, type(error).__name__)
        else:
            _log.debug("leader: lock not tried error=%s", error)
        self._drop()

    def _drop(self) -> None:
        self._held = False
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already gone
                pass

    def _start_heartbeat(self) -> None:
        if self._beat is None or not self._beat.is_alive():
            self._beat = threading.Thread(target=self._heartbeat, name="monitor-leader", daemon=True)
            self._beat.start()

    def _heartbeat(self) -> None:
        """While leading: a round trip every third of ``idle_timeout``, so long jobs keep the session alive."""
        while not self._closed.wait(self._idle_timeout / 3):
            with self._lock:
                if not self._held or self._conn is None:
                    return
                try:
                    self._conn.execute("SELECT 1")
                except Exception as e:  # the next holds() reconnects and tries again
                    self._lost(e)
                    return
