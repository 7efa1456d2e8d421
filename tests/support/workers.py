"""Several ``monitor run`` workers on one PostgreSQL, and the loopback feed farm they poll (issue 17's tests).

``FeedFarm`` serves feeds on several loopback addresses (127.0.0.2 …), one threaded server each, records every
request (when, which address, which path) and the most requests any one address had in flight at once, and can
hold feed responses back (``delay``) so that a poll lasts. ``Workers`` starts ``monitor run`` processes on one
config and stops them; ``pg_url`` is an empty PostgreSQL schema of the test's own (skipped without
``MONITOR_TEST_DATABASE_URL``). Poll for conditions with ``tests.daemon.test_daemon.wait_for``.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.dbfixtures import TEST_DATABASE_URL, pg_schema

__all__ = ["FeedFarm", "Hit", "Workers", "pg_url", "rows"]


@dataclass(frozen=True)
class Hit:
    """One request the farm answered."""

    at: float  # time.monotonic() when it arrived
    host: str  # the loopback address it was made to
    path: str


@dataclass
class FeedFarm:
    """Feeds ``/feeds/<n>.xml`` spread over ``hosts`` loopback addresses (feed ``n`` on address ``n % hosts``)."""

    hosts: int
    delay: float = 0.0  # seconds each feed response is held back (a poll in flight)
    bodies: dict[str, bytes] = field(default_factory=dict)  # path -> feed document
    fresh_etags: set[str] = field(default_factory=set)  # paths answering each request with a new ETag ("<n>")
    hits: list[Hit] = field(default_factory=list)
    # address -> most requests at once: counted from a request's arrival until its answer starts (the client has
    # it outstanding all that while), so a client's next request after an answer never overlaps its last
    max_in_flight: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()
        self._servers = [ThreadingHTTPServer((f"127.0.0.{h + 2}", 0), self._handler()) for h in range(self.hosts)]
        for server in self._servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, number: int) -> str:
        host, port = self._servers[number % self.hosts].server_address[:2]
        return f"http://{host}:{port}/feeds/{number}.xml"

    def polls(self, number: int) -> list[float]:
        """When feed ``number`` was requested."""
        path = f"/feeds/{number}.xml"
        with self._lock:
            return [hit.at for hit in self.hits if hit.path == path]

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        farm = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                host = self.server.server_address[0]
                with farm._lock:
                    farm.hits.append(Hit(time.monotonic(), str(host), self.path))
                    farm._in_flight[str(host)] += 1
                    farm.max_in_flight[str(host)] = max(farm.max_in_flight[str(host)], farm._in_flight[str(host)])
                    count = sum(hit.path == self.path for hit in farm.hits)
                if farm.delay:
                    time.sleep(farm.delay)
                with farm._lock:
                    farm._in_flight[str(host)] -= 1
                try:
                    self._answer(count)
                except (BrokenPipeError, ConnectionResetError):  # the worker was killed while we held it back
                    pass

            def _answer(self, count: int) -> None:
                body = farm.bodies.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                fresh = self.path in farm.fresh_etags
                etag = f'"{count}"' if fresh else '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                if not fresh and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def pg_url() -> Iterator[str]:
    """An empty schema of this test's own on the test PostgreSQL (not migrated); skipped without one."""
    if not TEST_DATABASE_URL:
        pytest.skip("several workers share a PostgreSQL: set MONITOR_TEST_DATABASE_URL")
    with pg_schema() as url:
        yield url


def rows(db_url: str, query: str, **params: object) -> list[tuple[object, ...]]:
    """The rows of one query (a fresh connection: the workers' writes are committed)."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(query), params)]
    finally:
        engine.dispose()


class Workers:
    """``monitor run`` processes on one config; ``output(i)`` is what worker ``i`` logged (after it stopped)."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.processes: list[subprocess.Popen[str]] = []
        self._logs: list[Path] = []

    def start(self, count: int = 1) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        for _ in range(count):  # logs to a file: a pipe nobody reads would fill and block a busy worker
            log = self.config.parent / f"worker-{len(self.processes)}.log"
            with log.open("w", encoding="utf-8") as out:
                self.processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "monitor", "--config", str(self.config), "-v", "run"],
                        env=env,
                        cwd=self.config.parent,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        text=True,
                    )
                )
            self._logs.append(log)

    def exited(self) -> bool:
        """Whether a worker has exited (a bad config, a crash)."""
        return any(process.poll() is not None for process in self.processes)

    def name(self, index: int) -> str:
        """The start of worker ``index``'s claimant name (``host:pid:``)."""
        import socket

        return f"{socket.gethostname()}:{self.processes[index].pid}:"

    def signal(self, index: int, sig: int) -> None:
        self.processes[index].send_signal(sig)

    def kill(self, index: int) -> None:
        """``kill -9``, reaped as a supervisor would."""
        process = self.processes[index]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> list[int]:
        """SIGTERM (SIGCONT first, for a stopped one) to every worker still running; their exit codes."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.send_signal(signal.SIGTERM)
        codes = []
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            codes.append(process.returncode)
        return codes

    def output(self, index: int) -> str:
        """What worker ``index`` logged so far."""
        return self._logs[index].read_text(encoding="utf-8", errors="replace")

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
