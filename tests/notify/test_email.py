"""Email through a real SMTP server on loopback (aiosmtpd), apprise ``mailto://``; time driven by ``now``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.notify import Notifier
from monitor.store import Store
from tests.support.notifykit import T0, add_story, make_settings, rule
from tests.support.smtp import SmtpServer, parts

TEXT = (
    "Cambodian police raided a scam compound in Poipet on Monday, detaining 700 workers. "
    "The national committee said the operation targeted online fraud rings near the Thai border."
)
RAID = rule("kh.raid", "critical", title="Scam compound raid")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path}/t.db")
    yield opened
    opened.close()


def _settings(server: SmtpServer, fmt: str = "html") -> object:
    return make_settings({"mail": {"urls": [server.url()], "format": fmt}}, [{"channels": ["mail"]}])


def test_html_email_has_subject_snippet_link_and_escaped_title(store: Store, smtp_server: SmtpServer) -> None:
    settings = _settings(smtp_server)
    add_story(
        store,
        settings,
        [RAID],
        url="https://news.example.org/poipet-raid",  # type: ignore[arg-type]
        title="Poipet raid <script>alert(1)</script>",
        text=TEXT,
        hits=("scam compound", "Poipet"),
    )
    report = Notifier(settings, store, rules=[RAID]).send_due(T0)  # type: ignore[arg-type]
    assert report.sent == 1
    [message] = smtp_server.messages
    assert message["Subject"] == "[CRITICAL] Scam compound raid: Poipet raid <script>alert(1)</script>"
    body = parts(message)
    html, text = body["text/html"], body["text/plain"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert "<mark>scam compound</mark>" in html and "<mark>Poipet</mark> on Monday" in html
    assert 'href="https://news.example.org/poipet-raid"' in html
    # apprise derives the text part from the HTML: the snippet and the link (shown as text) survive.
    assert "raided a scam compound in Poipet on Monday" in " ".join(text.split())
    assert "https://news.example.org/poipet-raid" in text


def test_text_email_marks_hits(store: Store, smtp_server: SmtpServer) -> None:
    settings = _settings(smtp_server, "text")
    add_story(
        store,
        settings,
        [RAID],
        url="https://news.example.org/a",
        title="Raid",  # type: ignore[arg-type]
        text=TEXT,
        hits=("scam compound",),
    )
    Notifier(settings, store, rules=[RAID]).send_due(T0)  # type: ignore[arg-type]
    [message] = smtp_server.messages
    text = parts(message)["text/plain"]
    assert "a **scam compound** in Poipet" in text and "https://news.example.org/a" in text


def test_smtp_down_then_back_delivers_exactly_once(store: Store, smtp_server: SmtpServer) -> None:
    settings = _settings(smtp_server)
    add_story(store, settings, [RAID], url="https://news.example.org/a", title="Raid", text=TEXT)  # type: ignore[arg-type]
    notifier = Notifier(settings, store, rules=[RAID])  # type: ignore[arg-type]
    smtp_server.stop()
    now = T0
    assert notifier.send_due(now).retried == 1
    assert notifier.send_due(now + timedelta(seconds=30)).messages == 0  # backing off: not due yet
    now += timedelta(minutes=1)
    assert notifier.send_due(now).retried == 1  # second failure: next try 5 minutes later
    [row] = store.list_deliveries()
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 2, now + timedelta(minutes=5))
    assert "Connection" in (row.last_error or "") or "FAILURE" in (row.last_error or "")
    smtp_server.start()
    now += timedelta(minutes=5)
    assert notifier.send_due(now).sent == 1
    for later in range(1, 4):
        assert notifier.send_due(now + timedelta(hours=later)).messages == 0
    assert len(smtp_server.messages) == 1
    [row] = store.list_deliveries()
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)


def test_a_permanently_failing_delivery_is_marked_failed_after_a_day(store: Store, smtp_server: SmtpServer) -> None:
    settings = _settings(smtp_server)
    add_story(store, settings, [RAID], url="https://news.example.org/a", title="Raid", text=TEXT)  # type: ignore[arg-type]
    notifier = Notifier(settings, store, rules=[RAID])  # type: ignore[arg-type]
    smtp_server.stop()
    now = T0
    for _ in range(20):
        notifier.send_due(now)
        [row] = store.list_deliveries()
        if row.status != "pending" or row.next_attempt_at is None:
            break
        now = row.next_attempt_at + timedelta(seconds=30)  # the daemon's tick comes a little late
    assert row.status == "failed" and row.attempts == 9
    assert timedelta(hours=24) < now - T0 < timedelta(hours=28)
