"""Red team, issue 11 (notify, CLI, rules): attacks beyond the isolation tests, each through the real parts
(the ``Notifier`` with the aiosmtpd and chat sinks, the CLI on a real database, the rule loader and matcher).
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from monitor.cli import _setup_logging, app
from monitor.dedup import content_hash, story_keys
from monitor.notify import Notifier, plan_deliveries
from monitor.store import NewArticle, NewMatch, Store
from tests.support.chat import ChatServer
from tests.support.notifykit import T0, add_story, make_settings, rule
from tests.support.smtp import free_port

# End to end through real servers and processes: in the full suite, not the fast loop.
pytestmark = pytest.mark.slow

RAID = rule("kh.raid", "critical", title="Scam compound raid")
_LIVE = re.compile(r"(?i)[@＠](?![\u200b])[\w*]|<(?!\u200b)[@!#]|＜(?!\u200b)")


def _text(n: int) -> str:
    return f"Report {n}: police raided a scam compound. " + " ".join(f"w{n}x{i}" for i in range(40))


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_a_mention_in_an_article_url_right_after_the_host_pings_nobody(
    store: Store, chat_server: ChatServer, fmt: str
) -> None:
    # "/@name" was encoded, but a query or fragment straight after the host, or a user info part, was not; in
    # markdown a link is not escaped, so "@everyone" there reached the chat live.
    settings = make_settings({"chat": {"urls": [chat_server.url("chat")], "format": fmt}}, [{"channels": ["chat"]}])
    urls = [
        "https://a.example.org?q=@everyone",
        "https://b.example.org#@here",
        "https://x@everyone.example.org/story",
        "https://c.example.org?@**all**",
    ]
    for n, url in enumerate(urls):
        add_story(store, settings, [RAID], url=url, title=f"Raid {n}", text=_text(n), now=T0 + timedelta(seconds=n))
    assert Notifier(settings, store, rules=[RAID]).send_due(T0 + timedelta(minutes=1)).sent == len(urls)
    posts = chat_server.messages("chat")
    assert len(posts) == len(urls)
    for post in posts:
        assert not _LIVE.search(post["message"].replace("&lt;", "<")), post["message"]
    bodies = "".join(post["message"] for post in posts)
    assert "a.example.org?q=%40everyone" in bodies and "everyone.example.org/story" in bodies


class _PickyReceiver:
    """A chat receiver that hangs up without an answer on messages whose title holds ``hang`` and stalls past the
    timeout on those holding ``stall``; it accepts the rest (a proxy with a body limit, a slow content filter)."""

    def __init__(self) -> None:
        self.titles: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                title = str(json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))["title"])
                if "hang" in title:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if "stall" in title:
                    time.sleep(1.5)
                owner.titles.append(title)
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def picky() -> Iterator[_PickyReceiver]:
    receiver = _PickyReceiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.mark.parametrize("poison", ["hang", "stall"])
def test_a_receiver_that_hangs_up_on_one_message_does_not_stop_the_channel(
    store: Store, picky: _PickyReceiver, poison: str
) -> None:
    # A dropped connection or a timeout reads as "server unreachable": it backed off every other message of the
    # channel with it, and the poisoned message, first in line again at each retry, did so at every run.
    settings = make_settings({"chat": {"urls": [picky.url()]}}, [{"channels": ["chat"]}], timeout=0.5)
    titles = [f"{poison} first", "Second", "Third", f"{poison} fourth", "Fifth"]
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
    notifier = Notifier(settings, store, rules=[RAID])
    report = notifier.send_due(T0 + timedelta(minutes=1))
    assert (report.sent, report.retried) == (3, 2)
    assert [t.split(": ", 1)[1] for t in picky.titles] == ["Second", "Third", "Fifth"]
    assert {d.article_title for d in store.list_deliveries(status="pending")} == {f"{poison} first", f"{poison} fourth"}


def test_a_dead_receiver_still_backs_off_the_channel_after_two_messages(store: Store) -> None:
    settings = make_settings({"chat": {"urls": [f"json://127.0.0.1:{free_port()}/hook"]}}, [{"channels": ["chat"]}])
    for n in range(6):
        add_story(
            store,
            settings,
            [RAID],
            url=f"https://news.example.org/{n}",
            title=f"Story {n}",
            text=_text(n),
            now=T0 + timedelta(seconds=n),
        )
    report = Notifier(settings, store, rules=[RAID]).send_due(T0 + timedelta(minutes=1))
    assert report.retried == 6
    assert len({d.last_error for d in store.list_deliveries(limit=None)}) == 1


def test_a_wildcard_that_hit_thousands_of_distinct_words_renders_at_once(store: Store, chat_server: ChatServer) -> None:
    # "scam*" on a hostile article of 30,000 distinct "scamNNNNN" words: every distinct hit text was compiled and
    # searched for in the snippet, about 4 s per message and format (13 s at the 100,000 hits a match keeps).
    settings = make_settings(
        {"chat": {"urls": [chat_server.url("chat")], "format": "markdown"}}, [{"channels": ["chat"]}]
    )
    words = [f"scam{n:05d}" for n in range(30_000)]
    text = " ".join(words)
    hits = tuple(("text", 10 * n, 10 * n + 9, word) for n, word in enumerate(words))  # each word is 9 + 1 long
    match = NewMatch(
        rule_id=RAID.id,
        rule_version=RAID.version,
        severity=RAID.severity,
        tags=RAID.tags,
        hits=hits,
        snippet=text[:500],
    )
    article = NewArticle(
        feed_id=None,
        feed_name="Flood",
        url="https://news.example.org/flood",
        canonical_url="https://news.example.org/flood",
        title="Flood",
        text=text,
        author=None,
        published=T0,
        lang="en",
        content_hash=content_hash(text),
        story_keys=story_keys(text),
    )
    store.add_article_with_matches(
        article, [match], lambda story, new: plan_deliveries([match], [RAID], settings, T0, T0), now=T0
    )
    add_story(
        store,
        settings,
        [RAID],
        url="https://news.example.org/next",
        title="Next",
        text=_text(1),
        now=T0 + timedelta(seconds=1),
    )
    started = time.monotonic()
    assert Notifier(settings, store, rules=[RAID]).send_due(T0 + timedelta(minutes=1)).sent == 2
    assert time.monotonic() - started < 2
    flood = chat_server.messages("chat")[0]["message"]
    assert "**scam00000**" in flood and "**scam00010**" in flood  # the hits in the snippet are still marked


def test_secrets_in_json_or_a_dict_and_split_across_arguments_never_reach_the_log(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A chat service's error echoing its JSON request, or a logged dict: the quote after the key hid the value.
    _setup_logging(logging.INFO)
    log = logging.getLogger("monitor.notify")
    log.warning("refused body=%s", '{"token": "hunter22a", "api_key":"hunter22b", "user": "desk"}')
    log.warning("settings %s", {"password": "hunter22c", "webhook_secret": "hunter22d"})
    log.warning("url=%s%s", "https://user:", "hunter22e@smtp.example.org/x")
    log.warning("%s=%s", "apikey", "hunter22f")
    err = capsys.readouterr().err
    assert "hunter22" not in err
    assert '"user": "desk"' in err and "smtp.example.org" in err


def _config(tmp_path: Path, database: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{database}"\n[channels.chat]\nurls = ["json://127.0.0.1:9/hook"]\n'
        '[[routes]]\nchannels = ["chat"]\n'
    )
    return config


def test_matches_and_deliveries_at_year_1_and_9999_with_extreme_cutoffs(
    tmp_path: Path, store: Store, store_url: str
) -> None:
    # "--since 99999999999d" and a year-1 date east of UTC overflowed into a traceback; a negative --limit was a
    # database error on PostgreSQL; year 1 printed as "1-01-01".
    settings = make_settings({"chat": {"urls": ["json://127.0.0.1:9/hook"]}}, [{"channels": ["chat"]}])
    for n, published in enumerate((datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, tzinfo=UTC))):
        add_story(
            store,
            settings,
            [RAID],
            url=f"https://news.example.org/{n}",
            title=f"[/x] @everyone {n}",
            text=_text(n),
            published=published,
            now=datetime(1, 1, 1, 0, n, tzinfo=UTC) if n == 0 else T0,
        )
    config = _config(tmp_path, store_url)

    def run(*args: str) -> Result:
        return CliRunner().invoke(app, ["--config", str(config), *args])

    for cutoff in ("99999999999d", "999999999999999999999999999d", "0001-01-01T00:00:00+14:00"):
        for fmt in ("text", "json", "csv"):
            result = run("matches", "--since", cutoff, "--format", fmt)
            assert result.exit_code == 0 and result.output.count("@everyone") == 2, (cutoff, fmt, result.output)
    text = run("matches").output
    assert "0001-01-01 00:00" in text and "9999-12-31 23:59" in text and "[/x]" in text
    assert run("matches", "--since", "9999-12-31T23:00:00-05:00").exit_code == 1  # nothing after the end of time
    for command in ("matches", "deliveries"):
        result = run(command, "--limit", "-1")
        assert result.exit_code == 2 and "--limit" in result.output
    assert "next=0001-01-01T00:00:00+00:00" in run("deliveries").output


def test_lone_surrogates_in_a_document_print_in_every_command_and_format(tmp_path: Path) -> None:
    # JSON may spell a lone surrogate ("\ud800"); printing it raised UnicodeEncodeError (a traceback) in match,
    # match --format json and rules explain.
    (tmp_path / "r.yaml").write_text("rules:\n  - id: rx\n    title: 'Raid \\ud800'\n    query: '/scam\\s+compound/'\n")
    docs = tmp_path / "d.jsonl"
    docs.write_text(
        '{"id": "s\\ud800", "title": "raid \\ud800", "text": "police raid scam compound \\udfff"}\n'
        '{"id": "next", "title": "raid", "text": "police raid scam compound"}\n'
    )
    rules = ["--rules", str(tmp_path / "r.yaml")]
    for args in (
        ["match", *rules, str(docs)],
        ["match", *rules, "--format", "json", str(docs)],
        ["rules", "explain", *rules, "rx", str(docs)],
    ):
        result = CliRunner().invoke(app, ["--config", str(_config(tmp_path, "sqlite://")), *args])
        assert result.exit_code == 0 and result.exception is None, (args, result.exception)
        assert "scam compound" in result.output and "\ud800" not in result.output
    lines = CliRunner().invoke(app, ["match", *rules, "--format", "json", str(docs)]).output.splitlines()
    assert [json.loads(line)["doc"] for line in lines] == ["s\ud800", "next"]  # JSON keeps it, escaped
