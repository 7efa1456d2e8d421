"""Issue 11, alerts: one hostile value fails only its own message; the channel's other alerts arrive.

Through the real ``Notifier`` with real sinks: aiosmtpd (tests/support/smtp.py) and a chat webhook (tests/support/chat.py).
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import apprise
import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.clock import MAX_TIME, MIN_TIME
from monitor.config import Settings
from monitor.notify import Message, Notifier
from monitor.notify.render import AlertArticle, AlertRule, Format, Renderer, StoryAlert, neutralise_mentions
from monitor.notify.send import fit_to_service
from monitor.store import Store
from tests.support.chat import ChatServer
from tests.support.newssite import NewsSite
from tests.support.notifykit import T0, add_story, make_settings, rule
from tests.support.smtp import SmtpServer

# End to end through real servers and processes: in the full suite, not the fast loop.
pytestmark = pytest.mark.slow

RAID = rule("kh.raid", "critical", title="Scam compound raid")
FORMATS: tuple[Format, ...] = ("text", "markdown", "html")
RAID_RULE = AlertRule("kh.raid", "Scam compound raid", "critical")
KHMER = "ការបង្ក្រាបបទល្មើសបោកប្រាស់តាមអនឡាញនៅខេត្តព្រះសីហនុ "


def _text(n: int) -> str:
    return f"Report {n}: police raided a scam compound. " + " ".join(f"w{n}x{i}" for i in range(40))


def _stories(store: Store, settings: Settings, titles: list[str]) -> None:
    for n, title in enumerate(titles):
        add_story(
            store,
            settings,
            [RAID],
            url=f"https://news.example.org/{n}",
            title=title,
            text=_text(n),
            now=T0 + timedelta(seconds=n),
        )


def _chat(chat: ChatServer, fmt: str = "text", **notify: object) -> Settings:
    return make_settings({"chat": {"urls": [chat.url("chat")], "format": fmt}}, [{"channels": ["chat"]}], **notify)


def test_far_future_date_in_a_utc_plus_7_zone_is_delivered_with_the_others(
    store: Store, chat_server: ChatServer
) -> None:
    settings = _chat(chat_server).model_copy(
        update={"scheduler": Settings().scheduler.model_copy(update={"timezone": "Asia/Bangkok"})}
    )
    _stories(store, settings, ["Before"])
    add_story(
        store,
        settings,
        [RAID],
        url="https://news.example.org/far",
        title="Far future",
        text=_text(7),
        published=datetime(9999, 12, 31, 23, 0, tzinfo=UTC),
        now=T0 + timedelta(seconds=1),
    )
    for n in range(4):
        add_story(
            store,
            settings,
            [RAID],
            url=f"https://news.example.org/after{n}",
            title=f"After {n}",
            text=_text(20 + n),
            now=T0 + timedelta(seconds=3 + n),
        )
    report = Notifier(settings, store, rules=[RAID]).send_due(T0 + timedelta(minutes=1))
    assert report.sent == 6 and not report.errors
    bodies = {p["title"].split(": ", 1)[1]: p["message"] for p in chat_server.messages("chat")}
    assert "9999-12-31 23:00 UTC" in bodies["Far future"]
    assert {"Before", "After 3"} <= set(bodies)


def test_a_message_that_cannot_be_rendered_fails_alone_and_is_shown_in_deliveries(
    tmp_path: Path, chat_server: ChatServer
) -> None:
    # A user template whose arithmetic fails for one story only (ZeroDivisionError is no TemplateError): a
    # render error from the data, the same at every retry, so that delivery is failed at once.
    (tmp_path / "alert.text.j2").write_text(
        "{{ alert.article.title }}{% if 'Poison' in alert.article.title %}{{ 1 // 0 }}{% endif %}\n"
    )
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path}/m.db"\n[notify]\ntemplates = "{tmp_path}"\n'
        f'[channels.chat]\nurls = ["{chat_server.url("chat")}"]\n[[routes]]\nchannels = ["chat"]\n'
    )
    from monitor.config import load_settings

    settings = load_settings(config)
    with Store.open(settings.database.url) as opened:
        _stories(opened, settings, ["First", "Poison pill", "Third", "Fourth"])
        report = Notifier(settings, opened, rules=[RAID]).send_due(T0 + timedelta(seconds=5))
        assert (report.sent, report.failed, report.retried) == (3, 1, 0)
        assert "ZeroDivisionError" in report.errors[0]
    assert [p["title"].split(": ", 1)[1] for p in chat_server.messages("chat")] == ["First", "Third", "Fourth"]
    result = CliRunner().invoke(app, ["--config", str(config), "deliveries", "--status", "failed", "--format", "json"])
    [row] = [json.loads(line) for line in result.output.splitlines()]
    assert "ZeroDivisionError" in row["last_error"] and "Poison" in row["article"]["title"]


def test_a_template_error_for_one_story_is_retried_alone(store: Store, chat_server: ChatServer, tmp_path: Path) -> None:
    (tmp_path / "alert.text.j2").write_text(
        "{{ alert.article.title }}{% if 'Poison' in alert.article.title %}{{ alert.nope }}{% endif %}\n"
    )
    settings = make_settings(
        {"chat": {"urls": [chat_server.url("chat")]}}, [{"channels": ["chat"]}], templates=str(tmp_path)
    )
    _stories(store, settings, ["Poison pill", "Second"])
    report = Notifier(settings, store, rules=[RAID]).send_due(T0 + timedelta(seconds=5))
    assert (report.sent, report.retried) == (1, 1)  # the operator may fix the template: retried, not failed
    assert len(chat_server.messages("chat")) == 1


def test_khmer_subject_is_encoded_short_enough_and_every_email_arrives(store: Store, smtp_server: SmtpServer) -> None:
    settings = make_settings(
        {"mail": {"urls": [smtp_server.url()], "format": "html"}}, [{"channels": ["mail"]}], max_per_hour=100
    )
    titles = [f"{n} " + KHMER * 8 for n in range(12)] + ["😀" * 600, "x" * 3000, "word " * 500]
    _stories(store, settings, titles)
    report = Notifier(settings, store, rules=[RAID]).send_due(T0 + timedelta(seconds=30))
    assert (report.sent, report.retried, report.failed) == (15, 0, 0), report.errors
    assert len(smtp_server.messages) == 15
    for raw, message in zip(smtp_server.raw, smtp_server.messages, strict=True):
        assert max(len(line) for line in raw.splitlines()) <= 998
        subject = str(message["Subject"])
        assert subject.startswith("[CRITICAL] Scam compound raid: ") and subject.endswith("…")
        assert len(subject) <= 150 and "\ufffd" not in subject
        assert unicodedata.combining(subject[-2]) != 9  # not cut after a Khmer coeng (it joins the next letter)


def test_a_message_the_smtp_server_refuses_fails_alone_at_every_retry(store: Store, smtp_server: SmtpServer) -> None:
    settings = make_settings(
        {"mail": {"urls": [smtp_server.url()], "format": "text"}}, [{"channels": ["mail"]}], max_per_hour=100
    )
    smtp_server.refuse = lambda m: "554 5.6.0 Message refused" if "Poison" in str(m["Subject"]) else None
    _stories(store, settings, ["Poison first", "Second", "Third", "Fourth", "Fifth"])
    notifier = Notifier(settings, store, rules=[RAID])
    now = T0 + timedelta(seconds=30)
    report = notifier.send_due(now)
    assert (report.sent, report.retried) == (4, 1)
    add_story(store, settings, [RAID], url="https://news.example.org/later", title="Later", text=_text(9), now=now)
    now += timedelta(minutes=1)
    report = notifier.send_due(now)  # the refused one is due again, first in line: it fails alone again
    assert (report.sent, report.retried) == (1, 1)
    assert [str(m["Subject"]).split(": ", 1)[1] for m in smtp_server.messages] == [
        "Second",
        "Third",
        "Fourth",
        "Fifth",
        "Later",
    ]
    [poison] = [d for d in store.list_deliveries(limit=None) if d.status == "pending"]
    assert poison.attempts == 2 and "Poison" in poison.article_title


def test_an_unreachable_smtp_server_backs_off_the_whole_channel_at_once(store: Store, smtp_server: SmtpServer) -> None:
    settings = make_settings(
        {"mail": {"urls": [smtp_server.url()], "format": "text"}}, [{"channels": ["mail"]}], max_per_hour=100
    )
    _stories(store, settings, [f"Story {n}" for n in range(6)])
    smtp_server.stop()
    started = time.monotonic()
    report = Notifier(settings, store, rules=[RAID]).send_due(T0 + timedelta(seconds=30))
    assert report.retried == 6 and time.monotonic() - started < 3
    assert len({d.last_error for d in store.list_deliveries(limit=None)}) == 1  # one attempt, one error


MENTIONS = [
    "@room",
    "@**all**",
    "@**everyone**",
    "@_**all**",
    "<@&123456>",
    "<@987654>",
    "<@!987654>",
    "<#4242>",
    "<!here>",
    "<!channel>",
    "<!everyone>",
    "@everyone_x",
    "@here",
    "x@here",
    "@Channel",
    "＠everyone",
    "@ｅｖｅｒｙｏｎｅ",
    "@every\u200done",
    "@\u2060here",
    "＜!here＞",
    "@*admins*",
]
_LIVE = re.compile(r"(?i)[@＠](?![\u200b])[\w*]|<(?!\u200b)[@!#]|＜(?!\u200b)")


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_mass_mentions_reach_no_chat_in_any_format(store: Store, chat_server: ChatServer, fmt: str) -> None:
    settings = _chat(chat_server, fmt)
    hostile = " ".join(MENTIONS)
    add_story(
        store,
        settings,
        [RAID],
        url="https://news.example.org/m",
        title=hostile,
        feed=hostile,
        text=f"police raided a scam compound {hostile} everyone here",
        snippet=f"{hostile} @everyone",
        hits=("scam compound", "everyone", "here", "all"),
    )
    assert Notifier(settings, store, rules=[RAID]).send_due(T0).sent == 1
    [post] = chat_server.messages("chat")
    for text in (post["title"], post["message"]):
        assert not _LIVE.search(text.replace("&lt;", "<")), text
        assert "@**" not in text.replace("\\", "")  # a mark cannot glue "@" to "**everyone**" (Zulip)


def test_neutralise_mentions_is_idempotent_and_leaves_addresses() -> None:
    text = " ".join(MENTIONS) + " write to desk@example.org"
    once = neutralise_mentions(text)
    assert neutralise_mentions(once) == once and "desk@example.org" in once
    assert once.replace("\u200b", "") == text


def test_also_reported_by_is_bounded(store: Store, chat_server: ChatServer) -> None:
    settings = _chat(chat_server, "markdown")
    text = _text(1)
    for n in range(150):
        add_story(
            store,
            settings,
            [RAID],
            url=f"https://copy{n}.example.org/story",
            title=f"Copy {n} " + "t" * 400,
            text=text,
            feed=f"Outlet {n}",
            now=T0 + timedelta(seconds=n),
        )
    assert Notifier(settings, store, rules=[RAID]).send_due(T0 + timedelta(minutes=5)).sent == 1
    [post] = chat_server.messages("chat")
    body = post["message"]
    assert "Outlet 5:" in body and "Outlet 6" not in body and "and 144 more" in body
    assert len(body.encode()) < 4000


@pytest.mark.parametrize("zone", ["Asia/Bangkok", "America/New_York", "Pacific/Kiritimati", "UTC"])
def test_extreme_dates_render_in_every_zone(zone: str) -> None:
    renderer = Renderer(tz=zone)
    for when in (
        datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        MAX_TIME,
        MIN_TIME,
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-1))),
    ):
        alert = StoryAlert(1, (RAID_RULE,), AlertArticle("t", "https://a.example.org/", "f", when))
        for fmt in FORMATS:
            assert re.search(r"\b(9999|0001)-\d\d-\d\d \d\d:\d\d", renderer.alert(alert, fmt).body)


def test_bodies_are_cut_to_the_services_limit() -> None:
    long = Message(title="t" * 400, body="".join(f"line {n} " + "x" * 90 + "\n" for n in range(100)), format="markdown")
    for url, limit in (
        ("discord://1234/abcd", 2000),
        ("mmost://chat.example.org/token", 4000),
        ("json://127.0.0.1/x", 32768),
    ):
        instance = apprise.Apprise()
        assert instance.add(url)
        fitted = fit_to_service(long, instance)
        service = instance[0]
        assert len(fitted.body) + (0 if service.title_maxlen else len(fitted.title) + 2) <= limit
        assert service.title_maxlen == 0 or len(fitted.title) <= service.title_maxlen
        if len(long.body) > limit:
            assert fitted.body.endswith("(shortened to fit the channel)\n") and "line 1 " in fitted.body


def test_monitor_poll_delivers_around_a_far_future_item_and_a_refused_email(
    tmp_path: Path, news_site: NewsSite, smtp_server: SmtpServer
) -> None:
    text = "Police raided a scam compound on Monday. {n}"
    text = text.replace("{n}", "{n} " + " ".join(f"w{{n}}x{i}" for i in range(60)))
    news_site.add("wire", "Far future raid", text.format(n=999), published=datetime(9999, 12, 31, 23, 0, tzinfo=UTC))
    news_site.add("wire", "Poison raid", text.format(n=13))
    for n in range(6):
        news_site.add("wire", f"{n} " + KHMER * 8, text.format(n=100 + n))
    smtp_server.refuse = lambda m: "554 5.6.0 refused" if "Poison" in str(m["Subject"]) else None
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(
        "rules:\n  - id: raids\n    title: Raids\n    query: 'raid* AND \"scam compound\"'\n"
    )
    config = tmp_path / "config.toml"
    config.write_text(f"""
[database]
url = "sqlite:///{tmp_path}/m.db"
[scheduler]
timezone = "Asia/Bangkok"
[fetch]
allow_private = true
full_text = false
[rules]
paths = ["{tmp_path / "rules"}"]
[[feeds]]
name = "wire"
url = "{news_site.feed_url("wire")}"
[channels.mail]
urls = ["{smtp_server.url()}"]
format = "html"
[[routes]]
channels = ["mail"]
""")
    result = CliRunner().invoke(app, ["--config", str(config), "poll"])
    assert result.exit_code == 0, result.output
    subjects = [str(m["Subject"]) for m in smtp_server.messages]
    assert len(subjects) == 7 and not any("Poison" in s for s in subjects)
    assert any("Far future" in s for s in subjects)
    failed = CliRunner().invoke(app, ["--config", str(config), "deliveries", "--status", "pending"])
    assert "Poison raid" in failed.output and "Sending email" in failed.output  # the error, shown


def test_a_digest_goes_out_without_the_one_story_that_cannot_be_rendered(
    store: Store, chat_server: ChatServer, tmp_path: Path
) -> None:
    (tmp_path / "digest.text.j2").write_text(
        "{% for group in groups %}{% for alert in group.stories %}{{ alert.article.title }}\n"
        "{% if 'Poison' in alert.article.title %}{{ 1 // 0 }}{% endif %}{% endfor %}{% endfor %}"
    )
    settings = make_settings(
        {"daily": {"urls": [chat_server.url("daily")]}},
        [{"channels": ["daily"], "mode": "digest", "digest": "*/5 * * * *"}],
        templates=str(tmp_path),
    )
    _stories(store, settings, ["First", "Poison pill", "Third"])
    report = Notifier(settings, store, rules=[RAID]).send_digests(T0 + timedelta(minutes=5))
    assert (report.messages, report.sent, report.failed) == (1, 2, 1)
    [post] = chat_server.messages("daily")
    assert "First" in post["message"] and "Third" in post["message"] and "Poison" not in post["message"]


def test_a_long_digest_email_is_not_cut(store: Store, smtp_server: SmtpServer) -> None:
    settings = make_settings(
        {"mail": {"urls": [smtp_server.url()], "format": "text"}},
        [{"channels": ["mail"], "mode": "digest", "digest": "*/5 * * * *"}],
    )
    _stories(store, settings, [f"Story {n} " + "t" * 280 for n in range(120)])
    assert Notifier(settings, store, rules=[RAID]).send_digests(T0 + timedelta(minutes=5)).sent == 120
    [message] = smtp_server.messages
    assert "Story 119 " in str(message.get_content()) and "shortened" not in str(message.get_content())


def test_links_with_at_signs_stay_links_without_mentions() -> None:
    alert = StoryAlert(1, (RAID_RULE,), AlertArticle("t", "https://social.example.org/@everyone?u=@here", "f"))
    for fmt in FORMATS:
        body = Renderer().alert(alert, fmt).body
        assert "https://social.example.org/%40everyone?u=%40here" in body and "\u200b" not in body


def test_the_throttle_summary_goes_out_without_the_one_story_that_cannot_be_rendered(
    store: Store, chat_server: ChatServer, tmp_path: Path
) -> None:
    (tmp_path / "summary.text.j2").write_text(
        "{% for alert in alerts %}{{ alert.article.title }}\n"
        "{% if 'Poison' in alert.article.title %}{{ 1 // 0 }}{% endif %}{% endfor %}"
    )
    settings = make_settings(
        {"chat": {"urls": [chat_server.url("chat")]}}, [{"channels": ["chat"]}], templates=str(tmp_path), max_per_hour=2
    )
    _stories(store, settings, ["First", "Second", "Poison pill", "Fourth"])
    report = Notifier(settings, store, rules=[RAID]).send_due(T0 + timedelta(minutes=1))
    assert (report.messages, report.sent, report.suppressed, report.failed) == (2, 1, 2, 1)
    summary = chat_server.messages("chat")[-1]["message"]
    assert "Second" in summary and "Fourth" in summary and "Poison" not in summary


@pytest.mark.parametrize("status", [400, 413, 500])
def test_a_chat_message_the_receiver_refuses_fails_alone(store: Store, chat_server: ChatServer, status: int) -> None:
    settings = _chat(chat_server)
    chat_server.refuse = lambda post: status if "Poison" in post.get("title", "") else None
    _stories(store, settings, ["Poison pill", "Second", "Third"])
    report = Notifier(settings, store, rules=[RAID]).send_due(T0 + timedelta(minutes=1))
    assert (report.sent, report.retried) == (2, 1)
    assert [p["title"].split(": ", 1)[1] for p in chat_server.messages("chat")] == ["Second", "Third"]


def test_a_chat_receiver_that_times_out_backs_off_the_channel_once(store: Store, chat_server: ChatServer) -> None:
    settings = _chat(chat_server, timeout=0.5)
    chat_server.delay = 2.0
    _stories(store, settings, [f"Story {n}" for n in range(5)])
    started = time.monotonic()
    report = Notifier(settings, store, rules=[RAID]).send_due(T0 + timedelta(minutes=1))
    assert report.retried == 5 and time.monotonic() - started < 2  # one wait, not five


def test_header_injection_and_unencodable_text_in_a_title(store: Store, smtp_server: SmtpServer) -> None:
    settings = make_settings({"mail": {"urls": [smtp_server.url()], "format": "text"}}, [{"channels": ["mail"]}])
    _stories(store, settings, ["Raid\r\nBcc: victim@example.org\r\n\r\nbody", "Raid\u2028X-Evil: 1\x85Y: 2"])
    assert Notifier(settings, store, rules=[RAID]).send_due(T0 + timedelta(minutes=1)).sent == 2
    assert [rcpt for _, rcpt in smtp_server.envelopes] == [["desk@example.org"]] * 2
    for message in smtp_server.messages:
        assert message["Bcc"] is None and message["X-Evil"] is None and message["Y"] is None
    alert = StoryAlert(1, (RAID_RULE,), AlertArticle("Raid \ud800 in\x00 Poipet", "https://a.example.org/", "f"))
    rendered = Renderer().alert(alert, "html")
    assert rendered.title.endswith("Raid \ufffd in Poipet") and "\ud800" not in rendered.body
