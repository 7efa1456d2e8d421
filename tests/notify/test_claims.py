"""Issue 17 in the outbox itself (SQLite and PostgreSQL): a story's deliveries to a channel are claimed whole, a
worker that lost its lease neither sends nor writes, and a digest window goes out once (``monitor.leader`` too)."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from monitor.leader import Leader
from monitor.notify import Notifier
from monitor.store import DeliveryOutcome, Store
from tests.daemon.test_daemon import wait_for
from tests.support.chat import ChatServer
from tests.support.dbfixtures import TEST_DATABASE_URL, pg_schema_url
from tests.support.notifykit import T0, add_story, make_settings, rule

RAID = rule("kh.raid", "high", title="Scam compound raid")
GAMBLING = rule("kh.gambling", "medium", title="Online gambling ban")
FRAUD = rule("kh.fraud", "low", title="Fraud")


def _text(n: int) -> str:
    return f"Report {n} on the scam compound: " + " ".join(f"w{n}x{i}" for i in range(40))


def test_two_senders_at_once_send_each_story_once_per_channel_with_all_its_rules(
    store: Store, chat_server: ChatServer
) -> None:
    """Two workers' senders run at the same moment over stories matched by three rules: each story reaches the
    channel in one message naming its three rules (its rows were never split between the two claims)."""
    settings = make_settings({"chat": {"urls": [chat_server.url("chat")]}}, [{"channels": ["chat"]}], max_per_hour=500)
    for n in range(12):
        add_story(
            store, settings, [RAID, GAMBLING, FRAUD], url=f"https://a.example.org/{n}", title=f"S{n}", text=_text(n)
        )
    senders = [Notifier(settings, store, rules=[RAID, GAMBLING, FRAUD]) for _ in range(2)]
    barrier = threading.Barrier(2)

    def send(notifier: Notifier) -> None:
        barrier.wait()
        for _ in range(3):
            notifier.send_due(T0 + timedelta(seconds=5))

    threads = [threading.Thread(target=send, args=(sender,)) for sender in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bodies = [json.dumps(post) for post in chat_server.messages("chat")]
    assert len(bodies) == 12, bodies
    assert all(all(r.title in body for r in (RAID, GAMBLING, FRAUD)) for body in bodies), bodies[:2]
    assert sorted(d.status for d in store.list_deliveries(limit=None)) == ["sent"] * 36


def test_concurrent_claims_with_small_limits_never_split_a_story(store: Store, chat_server: ChatServer) -> None:
    settings = make_settings({"chat": {"urls": [chat_server.url("chat")]}}, [{"channels": ["chat"]}])
    for n in range(20):
        add_story(store, settings, [RAID, GAMBLING], url=f"https://a.example.org/{n}", title=f"S{n}", text=_text(n))
    owners: dict[int, set[str]] = {}
    barrier = threading.Barrier(4)
    lock = threading.Lock()

    def claim(worker: str) -> None:
        barrier.wait()
        for _ in range(5):
            for row in store.claim_deliveries(T0, worker=worker, lease=60, limit=3):
                with lock:
                    owners.setdefault(row.story_id, set()).add(worker)

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(owners) == 20 and all(len(workers) == 1 for workers in owners.values()), owners
    stories = Counter(d.story_id for d in store.list_deliveries(limit=None))
    assert set(stories.values()) == {2}


def test_a_worker_that_lost_its_lease_neither_sends_nor_writes(store: Store, chat_server: ChatServer) -> None:
    settings = make_settings({"chat": {"urls": [chat_server.url("chat")]}}, [{"channels": ["chat"]}])
    add_story(store, settings, [RAID], url="https://a.example.org/1", title="Story", text=_text(1))
    [row] = store.claim_deliveries(T0, worker="stalled", lease=1)
    # Its lease ends (on PostgreSQL on the database's clock: a real second) and another worker takes the row.
    later = T0 + timedelta(seconds=2)
    assert wait_for(lambda: bool(store.claim_deliveries(later, worker="other", lease=60)), 30)
    assert not store.renew_deliveries([row.id], "stalled", 60, later)  # so it must not send …
    failed = DeliveryOutcome(row.id, "pending", 1, later + timedelta(minutes=1), "HTTP 503")
    assert store.record_outcomes([failed], worker="stalled", now=later) == 0  # … and its late write is refused
    assert store.record_outcomes([DeliveryOutcome(row.id, "sent", 1, sent_at=later)], worker="other", now=later) == 1
    [stored] = store.list_deliveries()
    assert (stored.status, stored.attempts, stored.last_error) == ("sent", 1, None)


def test_a_digest_window_goes_out_once_and_late_rows_wait_for_the_next(store: Store, chat_server: ChatServer) -> None:
    settings = make_settings(
        {"daily": {"urls": [chat_server.url("daily")], "format": "text"}},
        [{"channels": ["daily"], "mode": "digest", "digest": "*/5 * * * *"}],
    )
    add_story(store, settings, [RAID], url="https://a.example.org/1", title="First", text=_text(1), now=T0)
    window = T0 + timedelta(minutes=5)
    assert Notifier(settings, store, rules=[RAID]).send_digests(window).messages == 1
    # A row planned for that window commits after it went out (a worker's slow transaction): a worker taking over,
    # or the next run, must not send the window again; the row goes into the next one.
    add_story(store, settings, [RAID], url="https://a.example.org/2", title="Late", text=_text(2), now=T0)
    successor = Notifier(settings, store, rules=[RAID])
    assert successor.send_digests(window + timedelta(seconds=30)).messages == 0
    assert len(chat_server.messages("daily")) == 1
    assert successor.send_digests(window + timedelta(minutes=5)).messages == 1
    posts = chat_server.messages("daily")
    assert len(posts) == 2 and "Late" in json.dumps(posts[1]) and "First" not in json.dumps(posts[1])
    windows = [(w.window_at - T0, w.status, w.deliveries) for w in store.list_digest_windows("daily")]
    assert windows == [(timedelta(minutes=5), "sent", 1), (timedelta(minutes=10), "sent", 1)]


@pytest.fixture
def pg_schemas() -> Iterator[list[str]]:
    """Two schemas of their own on the test PostgreSQL (two deployments sharing one database)."""
    if not TEST_DATABASE_URL:
        pytest.skip("needs MONITOR_TEST_DATABASE_URL (PostgreSQL)")
    schemas = [f"test_{uuid.uuid4().hex[:16]}" for _ in range(2)]
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for schema in schemas:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield [pg_schema_url(TEST_DATABASE_URL, schema) for schema in schemas]
        with admin.connect() as conn:
            for schema in schemas:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.mark.postgres
def test_one_leader_per_deployment_and_the_next_takes_over_when_its_session_ends(pg_schemas: list[str]) -> None:
    first, second = (Leader(pg_schemas[0], worker=f"host:{n}:x") for n in (1, 2))
    other = Leader(pg_schemas[1], worker="host:3:x")  # another deployment in the same database
    try:
        assert first.holds() and not second.holds() and other.holds()
        assert first.holds() and not second.holds()  # it keeps it
        # The server ends the leader's session (what idle_session_timeout does to a stopped leader, or a dead
        # host's keepalives): it knows at its next check, and the other worker takes over at its next.
        admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                ended = conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :n"),
                    {"n": "monitor leader host:1:x"},
                ).all()
        finally:
            admin.dispose()
        assert ended == [(True,)]
        assert wait_for(lambda: second.holds(), 10)
        assert not first.holds()
        second.close()  # a clean stop hands over at once
        assert first.holds()
    finally:
        for leader in (first, second, other):
            leader.close()


def test_on_sqlite_the_one_daemon_is_the_leader() -> None:
    leader = Leader("sqlite:///monitor.db", worker="host:1:x")
    assert leader.holds() and leader.only(lambda: 42)() == 42
    leader.close()
