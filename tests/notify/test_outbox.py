"""Digests, the hourly throttle and crash recovery of the outbox, through a loopback chat receiver."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from datetime import timedelta

from monitor.notify import Notifier
from monitor.store import Store
from tests.daemon.test_daemon import wait_for
from tests.support.chat import ChatServer
from tests.support.notifykit import T0, add_story, make_settings, rule

RAID = rule("kh.raid", "high", title="Scam compound raid")
GAMBLING = rule("kh.gambling", "medium", title="Online gambling ban")


def _text(n: int) -> str:
    return f"Report {n} on the scam compound: " + " ".join(f"w{n}x{i}" for i in range(40))


def test_digest_sends_one_grouped_message_on_schedule_and_nothing_when_empty(
    store: Store, chat_server: ChatServer
) -> None:
    settings = make_settings(
        {"daily": {"urls": [chat_server.url("daily")], "format": "text"}},
        [{"channels": ["daily"], "mode": "digest", "digest": "*/5 * * * *"}],
    )
    notifier = Notifier(settings, store, rules=[RAID, GAMBLING])
    for n in range(3):
        add_story(
            store,
            settings,
            [RAID],
            url=f"https://a.example.org/{n}",
            title=f"Raid story {n}",
            text=_text(n),
            now=T0 + timedelta(minutes=n),
        )
    add_story(
        store,
        settings,
        [GAMBLING, RAID],
        url="https://a.example.org/g",
        title="Gambling story",
        text=_text(9),
        now=T0 + timedelta(minutes=3),
    )
    # A reprint of story 0 from another outlet: listed as "also reported by", not as a new item.
    add_story(
        store,
        settings,
        [RAID],
        url="https://b.example.org/0",
        title="Raid story 0 (reprint)",
        text=_text(0),
        feed="Phnom Penh Post",
        now=T0 + timedelta(minutes=4),
    )
    assert notifier.send_digests(T0 + timedelta(minutes=4)).messages == 0  # nothing due before 08:05
    report = notifier.send_digests(T0 + timedelta(minutes=5))
    assert (report.messages, report.sent) == (1, 5)
    [post] = chat_server.messages("daily")
    assert post["title"] == "Digest: 4 stories for 2 rules"
    body = post["message"]
    assert "Scam compound raid (kh.raid): 4 stories" in body
    assert "Online gambling ban (kh.gambling): 1 story" in body
    assert body.index("Scam compound raid") < body.index("Online gambling ban")  # high before medium
    raid_part = body.split("Online gambling ban")[0]
    assert raid_part.index("Gambling story") < raid_part.index("Raid story 2") < raid_part.index("Raid story 0")
    assert "Also reported by: Phnom Penh Post https://b.example.org/0" in body
    assert "**scam compound**" in body
    assert notifier.send_digests(T0 + timedelta(minutes=10)).messages == 0  # empty: not sent
    assert len(chat_server.messages("daily")) == 1


def test_throttle_overflow_goes_out_as_one_summary(store: Store, chat_server: ChatServer) -> None:
    settings = make_settings({"chat": {"urls": [chat_server.url("chat")]}}, [{"channels": ["chat"]}], max_per_hour=3)
    notifier = Notifier(settings, store, rules=[RAID])
    for n in range(7):
        add_story(store, settings, [RAID], url=f"https://a.example.org/{n}", title=f"Story {n}", text=_text(n))
    report = notifier.send_due(T0)
    assert (report.messages, report.sent, report.suppressed) == (3, 2, 5)
    posts = chat_server.messages("chat")
    assert [p["title"] for p in posts[:2]] == [
        "[HIGH] Scam compound raid: Story 0",
        "[HIGH] Scam compound raid: Story 1",
    ]
    assert posts[2]["title"] == "5 more alerts (over 3 per hour)"
    assert all(f"Story {n}" in posts[2]["message"] for n in range(2, 7))
    # Within the hour the channel is full: a new story waits, nothing is lost …
    add_story(
        store,
        settings,
        [RAID],
        url="https://a.example.org/late",
        title="Late story",
        text=_text(8),
        now=T0 + timedelta(minutes=10),
    )
    assert notifier.send_due(T0 + timedelta(minutes=10)).held == 1
    assert len(chat_server.messages("chat")) == 3
    # … and goes out when the rolling hour has room again.
    assert notifier.send_due(T0 + timedelta(minutes=61)).sent == 1
    assert chat_server.messages("chat")[-1]["title"] == "[HIGH] Scam compound raid: Late story"
    statuses = sorted(d.status for d in store.list_deliveries(limit=None))
    assert statuses == ["sent"] * 3 + ["suppressed"] * 5


def test_a_crashed_sender_leaves_deliveries_that_a_restart_sends(store: Store, chat_server: ChatServer) -> None:
    settings = make_settings({"chat": {"urls": [chat_server.url("chat")]}}, [{"channels": ["chat"]}])
    add_story(store, settings, [RAID], url="https://a.example.org/1", title="Story", text=_text(1))
    # The first process claimed the row, then died before sending (kill -9): the row stays leased …
    [claimed] = store.claim_deliveries(T0, worker="dead-process", lease=10)
    restarted = Notifier(settings, store, rules=[RAID])
    assert restarted.send_due(T0 + timedelta(seconds=1)).messages == 0
    # … until the lease ends (on PostgreSQL on the database's clock: real seconds); then the restart delivers it, once.
    later = T0 + timedelta(seconds=11)
    assert wait_for(lambda: restarted.send_due(later).sent == 1, 40)
    assert restarted.send_due(later + timedelta(minutes=5)).messages == 0
    assert len(chat_server.messages("chat")) == 1
    assert store.record_outcomes([]) == 0 and claimed.status == "pending"


def test_concurrent_claims_take_disjoint_deliveries(store: Store, chat_server: ChatServer) -> None:
    settings = make_settings({"chat": {"urls": [chat_server.url("chat")]}}, [{"channels": ["chat"]}])
    for n in range(40):
        add_story(store, settings, [RAID], url=f"https://a.example.org/{n}", title=f"Story {n}", text=_text(n))
    claimed: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def claim(worker: str) -> None:
        barrier.wait()
        claimed[worker] = [d.id for d in store.claim_deliveries(T0, worker=worker, lease=60, limit=15)]

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [i for got in claimed.values() for i in got]
    assert len(ids) == len(set(ids)) == 40


def test_a_restart_on_the_same_host_takes_over_a_dead_senders_leases_at_once(
    store: Store, chat_server: ChatServer
) -> None:
    settings = make_settings({"chat": {"urls": [chat_server.url("chat")]}}, [{"channels": ["chat"]}])
    add_story(store, settings, [RAID], url="https://a.example.org/1", title="Story", text=_text(1))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    ).stdout.strip()  # a pid that has exited
    store.claim_deliveries(T0, worker=f"{socket.gethostname()}:{dead}:cafe0001", lease=300)
    report = Notifier(settings, store, rules=[RAID]).send_due(T0 + timedelta(seconds=5))
    assert report.sent == 1 and len(chat_server.messages("chat")) == 1
