"""Issue 17, the outbox with several workers: real ``monitor run`` processes on one PostgreSQL (a schema of their
own), a loopback news site and a loopback chat receiver that can hold a message mid-send. A worker killed mid-send
or stopped past its lease, and a digest leader killed mid-digest: what the channel receives is asserted.

PostgreSQL only (``MONITOR_TEST_DATABASE_URL``): SQLite keeps one daemon and no claims.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pytest
from sqlalchemy import create_engine, text

from monitor.leader import JOBS_LOCK_SPACE
from tests.daemon.test_daemon import wait_for
from tests.support.chat import ChatServer
from tests.support.dbfixtures import TEST_DATABASE_URL, pg_schema
from tests.support.newssite import NewsSite

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs MONITOR_TEST_DATABASE_URL (PostgreSQL)"),
]

RULES = "rules:\n  - id: raids\n    title: Raids\n    query: 'raid* AND \"scam compound*\"'\n    severity: high\n"
PLACES = ["Bavet", "Kampot", "Pursat", "Takeo", "Kandal", "Kratie"]
TIMEOUT = 8.0  # [notify] timeout: a held send stays in flight this long
LEASE = TIMEOUT + 5.0  # the lease the workers use ([notify] lease = "5s" is raised to timeout + 5 s)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A schema of its own on the test PostgreSQL."""
    with pg_schema() as url:
        yield url


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path
    out: TextIO

    def output(self) -> str:
        self.out.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")


class Deployment:
    """N workers sharing one config (one database, one feed, chat channels ``alerts`` and ``digest``)."""

    def __init__(self, tmp_path: Path, db_url: str, news: NewsSite, chat: ChatServer, *, digest: bool) -> None:
        self.tmp_path, self.db_url, self.news, self.chat = tmp_path, db_url, news, chat
        for place in PLACES:
            news.add("desk", f"Police raid scam compound in {place}", f"Police raided a scam compound in {place}. " * 3)
        (tmp_path / "rules").mkdir()
        (tmp_path / "rules" / "r.yaml").write_text(RULES, encoding="utf-8")
        route = (
            '[[routes]]\nchannels = ["digest"]\nmode = "digest"\ndigest = "* * * * *"\n'
            if digest
            else '[[routes]]\nchannels = ["alerts"]\n'
        )
        self.config = tmp_path / "config.toml"
        self.config.write_text(
            f"""
[database]
url = "{db_url}"
[scheduler]
tick = "1s"
poll_interval = "1h"
[fetch]
full_text = false
[notify]
timeout = "{TIMEOUT:g}s"
lease = "5s"
[channels.alerts]
urls = ["{chat.url("alerts")}"]
[channels.digest]
urls = ["{chat.url("digest")}"]
{route}
[[feeds]]
name = "desk"
url = "{news.feed_url("desk")}"
allow_private = true
""",
            encoding="utf-8",
        )
        self.workers: list[Worker] = []

    def start(self) -> Worker:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        log = self.tmp_path / f"worker{len(self.workers)}.log"
        out = log.open("w", encoding="utf-8")
        process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(self.config), "-v", "run"],
            env=env,
            cwd=self.tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        worker = Worker(process, log, out)
        self.workers.append(worker)
        return worker

    def by_pid(self, pid: int) -> Worker:
        return next(w for w in self.workers if w.process.pid == pid)

    def close(self) -> None:
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGCONT)
                worker.process.kill()
            worker.process.wait(timeout=20)
            worker.out.close()

    def rows(self, query: str, **params: Any) -> list[tuple[Any, ...]]:
        engine = create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(text(query), params)]
        finally:
            engine.dispose()

    def claimant_of(self, place: str) -> int:
        """The pid of the worker holding the claim on the delivery of the story about ``place``."""
        [(claimed_by,)] = self.rows(
            "SELECT d.claimed_by FROM deliveries d JOIN stories s ON s.id = d.story_id WHERE s.title LIKE :t",
            t=f"%{place}%",
        )
        return int(str(claimed_by).split(":")[1])

    def leader_pid(self) -> int | None:
        """The pid (from its ``application_name``) of the worker holding this schema's jobs lock, if any."""
        found = self.rows(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :space"
            " AND l.objid = hashtext(current_schema())::oid",
            space=JOBS_LOCK_SPACE,
        )
        return int(str(found[0][0]).split(":")[1]) if found else None


@pytest.fixture
def deployment(
    tmp_path: Path, pg_url: str, news_site: NewsSite, chat_server: ChatServer
) -> Iterator[Callable[..., Deployment]]:
    made: list[Deployment] = []

    def make(*, digest: bool = False) -> Deployment:
        made.append(Deployment(tmp_path, pg_url, news_site, chat_server, digest=digest))
        return made[-1]

    yield make
    for each in made:
        each.close()


def posts_about(chat: ChatServer, path: str, place: str) -> int:
    return sum(place in json.dumps(p, ensure_ascii=False) for p in chat.messages(path))


def held_place(chat: ChatServer) -> str:
    with chat.lock:
        body = json.dumps(chat.held[0], ensure_ascii=False)
    return next(place for place in PLACES if place in body)


def test_kill_9_mid_send_another_worker_takes_the_deliveries_over_after_the_lease(
    deployment: Callable[..., Deployment], chat_server: ChatServer
) -> None:
    """The worker sending an alert is killed while the receiver holds the message: the receiver took it, the worker
    never recorded it. Another worker sends its deliveries after the lease: that message is the only duplicate."""
    chat_server.hold = lambda post: not chat_server.held  # the first alert stays in flight
    chat_server.held_status = 200
    site = deployment()
    site.start()
    site.start()
    assert wait_for(lambda: bool(chat_server.held), 60), [w.output()[-2000:] for w in site.workers]
    place = held_place(chat_server)
    victim = site.by_pid(site.claimant_of(place))
    victim.process.kill()
    killed = time.monotonic()
    victim.process.wait(timeout=10)
    chat_server.release.set()  # the receiver answers a dead sender: it has the message, the outbox says pending
    assert wait_for(lambda: all(posts_about(chat_server, "alerts", p) >= 1 for p in PLACES), 90)
    assert wait_for(lambda: posts_about(chat_server, "alerts", place) == 2, 90)
    taken_over = time.monotonic() - killed
    time.sleep(3)  # a few more ticks: nothing else is sent again
    counts = {p: posts_about(chat_server, "alerts", p) for p in PLACES}
    duplicates = sum(n - 1 for n in counts.values())
    print(f"kill -9 mid-send: taken over after {taken_over:.1f} s (lease {LEASE:g} s); duplicates {duplicates}")
    assert counts == {p: (2 if p == place else 1) for p in PLACES}, counts  # the one finished-but-unrecorded send
    assert taken_over >= LEASE - 3.0, taken_over  # not before the lease ends (the database's clock)
    statuses = site.rows("SELECT status, count(*) FROM deliveries GROUP BY status")
    assert statuses == [("sent", len(PLACES))], statuses


def test_a_worker_stopped_past_its_lease_sends_nothing_twice_and_its_late_writes_are_refused(
    deployment: Callable[..., Deployment], chat_server: ChatServer
) -> None:
    """SIGSTOP the worker whose alert is in flight (the receiver will refuse it), past its lease: another worker
    sends everything once. SIGCONT: the stopped worker's late outcome is refused and it sends nothing more."""
    chat_server.hold = lambda post: not chat_server.held
    chat_server.held_status = 503  # the message in flight when the worker stopped never reaches the channel
    site = deployment()
    site.start()
    site.start()
    assert wait_for(lambda: bool(chat_server.held), 60), [w.output()[-2000:] for w in site.workers]
    stalled = site.by_pid(site.claimant_of(held_place(chat_server)))
    stalled.process.send_signal(signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        assert wait_for(lambda: all(posts_about(chat_server, "alerts", p) == 1 for p in PLACES), 120), {
            p: posts_about(chat_server, "alerts", p) for p in PLACES
        }
        assert time.monotonic() - stopped >= LEASE - 3.0
    finally:
        chat_server.release.set()
        stalled.process.send_signal(signal.SIGCONT)
    assert wait_for(lambda: "delivery outcomes refused" in stalled.output(), 60), stalled.output()[-3000:]
    # its other claimed stories: the renewal before each send fails, so it skips them
    assert wait_for(lambda: "alert not sent: the lease ran out" in stalled.output(), 30), stalled.output()[-3000:]
    time.sleep(3)  # the woken worker's next ticks: nothing sent again
    assert {p: posts_about(chat_server, "alerts", p) for p in PLACES} == dict.fromkeys(PLACES, 1)
    rows = site.rows("SELECT status, attempts, last_error FROM deliveries")
    assert rows == [("sent", 1, None)] * len(PLACES), rows  # the late failure was not written over the send
    assert stalled.process.poll() is None  # it lives on, and stops cleanly
    stalled.process.send_signal(signal.SIGTERM)
    assert stalled.process.wait(timeout=20) == 0


def test_killing_the_digest_leader_mid_digest_sends_one_digest_per_window_and_a_new_leader_takes_over(
    deployment: Callable[..., Deployment], chat_server: ChatServer
) -> None:
    """Digests go out from the worker that holds the jobs lock. Kill it while its digest is in flight: another worker
    leads within a tick, and the window goes out exactly once (after the dead leader's lease)."""
    chat_server.hold = lambda post: not chat_server.held
    chat_server.held_status = 503  # the digest in flight when its sender died was never taken by the receiver
    site = deployment(digest=True)
    site.start()
    site.start()
    assert wait_for(lambda: site.leader_pid() is not None, 60)
    assert wait_for(lambda: bool(chat_server.held), 120), [w.output()[-2000:] for w in site.workers]
    leader = site.by_pid(site.leader_pid() or 0)
    leader.process.kill()
    killed = time.monotonic()
    leader.process.wait(timeout=10)
    chat_server.release.set()
    assert wait_for(lambda: site.leader_pid() not in (None, leader.process.pid), 30)
    new_leader = time.monotonic() - killed
    assert wait_for(lambda: len(chat_server.messages("digest")) >= 1, 90)
    sent = time.monotonic() - killed
    time.sleep(3)
    print(f"digest leader killed: new leader after {new_leader:.1f} s (tick 1 s), digest sent after {sent:.1f} s")
    assert new_leader < 10, new_leader  # one tick, plus the load of this machine
    [digest] = chat_server.messages("digest")
    assert all(place in json.dumps(digest, ensure_ascii=False) for place in PLACES)
    windows = site.rows("SELECT channel, status, deliveries FROM digest_windows")
    assert windows == [("digest", "sent", len(PLACES))], windows
    rows = site.rows("SELECT status, count(*) FROM deliveries GROUP BY status")
    assert rows == [("sent", len(PLACES))], rows
