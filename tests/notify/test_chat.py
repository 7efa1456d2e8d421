"""Chat delivery through a real loopback HTTP receiver (apprise ``json://``), driven by a fake clock."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.notify import Notifier
from monitor.store import Store
from tests.support.chat import ChatServer
from tests.support.notifykit import T0, add_story, make_settings, rule

TEXT = (
    "Police raided a scam compound in Poipet on Monday and detained hundreds of workers, "
    "officials of the national committee said after the operation near the border. "
    * 2
    + "The workers, many of them trafficked from neighbouring countries, were taken to a shelter where "
    "interviews will decide who is a victim of trafficking and who faces charges for online fraud. "
    "The committee said more operations would follow in Sihanoukville, Bavet and the capital this month, "
    "and urged anyone held against their will to call the hotline number published by the ministry."
)
RAID = rule("kh.raid", "high", title="Scam compound raid")
POLICE = rule("kh.police", "medium", title="Police operations")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(f"sqlite:///{tmp_path}/t.db")
    yield opened  # type: ignore[misc]
    opened.close()


def test_one_message_per_story_listing_every_rule_and_none_for_reprints(store: Store, chat_server: ChatServer) -> None:
    settings = make_settings(
        {"chat": {"urls": [chat_server.url("chat")], "format": "markdown"}}, [{"channels": ["chat"]}]
    )
    add_story(store, settings, [RAID, POLICE], url="https://a.example.org/raid", title="Raid in Poipet", text=TEXT)
    notifier = Notifier(settings, store, rules=[RAID, POLICE])
    report = notifier.send_due(T0)
    assert (report.messages, report.sent) == (1, 2)
    [post] = chat_server.messages("chat")
    assert post["title"].startswith("[HIGH] Scam compound raid (+1 more): Raid in Poipet")
    assert post["message"].index("Scam compound raid") < post["message"].index("Police operations")
    assert "**scam compound**" in post["message"]
    # The same story from another outlet (same text, other URL) and a near copy: no new alert.
    add_story(
        store,
        settings,
        [RAID, POLICE],
        url="https://b.example.org/copy",
        title="Poipet raid",
        text=TEXT,
        feed="Phnom Penh Post",
        now=T0 + timedelta(minutes=5),
    )
    add_story(
        store,
        settings,
        [RAID],
        url="https://c.example.org/near",
        title="Poipet raid (update)",
        text=TEXT.replace("Monday", "Monday morning"),
        now=T0 + timedelta(minutes=6),
    )
    assert notifier.send_due(T0 + timedelta(minutes=10)).messages == 0
    assert len(chat_server.messages("chat")) == 1


def test_a_failing_channel_does_not_delay_the_others(store: Store, chat_server: ChatServer) -> None:
    slow = ChatServer()
    slow.delay = 4.0  # answers after the 1 s timeout
    slow.start()
    settings = make_settings(
        {
            "good": {"urls": [chat_server.url("good")]},
            "dead": {"urls": ["json://127.0.0.1:1/dead"]},  # connection refused
            "slow": {"urls": [slow.url("slow")]},
        },
        [{"channels": ["good", "dead", "slow"]}],
        timeout=1.0,
    )
    for n in range(3):
        add_story(
            store,
            settings,
            [RAID],
            url=f"https://a.example.org/{n}",
            title=f"Story {n}",
            text=f"Story number {n}: " + " ".join(f"w{n}x{i}" for i in range(40)),
        )
    started = time.monotonic()
    report = Notifier(settings, store, rules=[RAID]).send_due(T0)
    elapsed = time.monotonic() - started
    slow.stop()
    assert len(chat_server.messages("good")) == 3
    assert report.sent == 3 and report.retried == 6  # dead and slow: three each, backed off together
    assert elapsed < 3  # one 1 s timeout for the slow channel, in parallel with the others
    for name, error in (("dead", "apprise FAILURE"), ("slow", "timed out")):
        rows = store.list_deliveries(channel=name)
        assert {d.status for d in rows} == {"pending"} and all(d.attempts == 1 for d in rows)
        assert all(d.next_attempt_at == T0 + timedelta(minutes=1) for d in rows)
        assert all(error in (d.last_error or "") for d in rows), rows[0].last_error
    assert [d.status for d in store.list_deliveries(channel="good")] == ["sent"] * 3
