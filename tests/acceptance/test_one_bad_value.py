"""Issue 11 acceptance: each case of "What was seen" (1-14) and each promise of "What to build" / "How it is
checked", end to end through what a user meets: config.toml, the ``monitor`` CLI (typer's runner, or the installed
script for the daemon), loopback feeds and pages, the SMTP and chat sinks. Each test asserts that the unit around
the bad value keeps working: the poll exits 0, the feed's other entries are stored, the channel's other alerts
arrive. The isolation_* and redteam_* tests reach the same code through internal harnesses; these go through the CLI.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from tests.conftest import PROJECT
from tests.support.chat import ChatServer
from tests.support.hostile import HostileServer
from tests.support.newssite import NewsSite
from tests.support.smtp import SmtpServer

# End to end through real servers and processes: in the full suite, not the fast loop.
pytestmark = pytest.mark.slow

RULES = """
rules:
  - id: scam-raid
    title: Raid on a scam compound
    query: 'raid*'
    severity: high
"""
BODY = (
    "Police raided a scam compound in Poipet on Monday and detained 270 foreign workers. The National Committee "
    "for Counter Trafficking said the workers had been forced to defraud victims online. Officers seized hundreds "
    "of phones and computers, the provincial police chief told reporters at the scene on Monday evening."
)
SHORT = BODY.split(". ")[0]  # under dedup.STORY_MIN_WORDS: items with it are separate stories


def toml(value: Any) -> str:
    return json.dumps(value)  # a JSON string or list is a valid TOML value


def write_config(
    tmp_path: Path,
    feeds: list[dict[str, Any]],
    *,
    db: str | None = None,
    channels: dict[str, dict[str, Any]] | None = None,
    fetch: dict[str, Any] | None = None,
    scheduler: dict[str, Any] | None = None,
) -> Path:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "r.yaml").write_text(RULES, encoding="utf-8")
    fetch = {"allow_private": True, "extract_processes": 1, "full_text": False, **(fetch or {})}
    db = db or f"sqlite:///{tmp_path / 'monitor.db'}"
    lines = [
        f"[database]\nurl = {toml(db)}",
        "[fetch]\n" + "".join(f"{k} = {toml(v)}\n" for k, v in fetch.items()),
        f"[rules]\npaths = {toml([str(tmp_path / 'rules')])}",
    ]
    if scheduler:
        lines.append("[scheduler]\n" + "".join(f"{k} = {toml(v)}\n" for k, v in scheduler.items()))
    for feed in feeds:
        lines.append("[[feeds]]\n" + "".join(f"{k} = {toml(v)}\n" for k, v in feed.items()))
    for name, channel in (channels or {}).items():
        lines.append(f"[channels.{name}]\n" + "".join(f"{k} = {toml(v)}\n" for k, v in channel.items()))
    if channels:
        lines.append(f"[[routes]]\nchannels = {toml(list(channels))}")
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--config", str(config), *args], env={"COLUMNS": "400"})
    return result.exit_code, result.stdout + result.stderr


def feeds_json(config: Path) -> dict[str, dict[str, Any]]:
    code, out = cli(config, "feeds", "list", "--format", "json")
    assert code == 0, out
    return {f["name"]: f for f in map(json.loads, out.splitlines())}


def deliveries(config: Path) -> list[dict[str, Any]]:
    code, out = cli(config, "deliveries", "--format", "json", "--limit", "0")
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def rss(*items: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel><title>t</title>{''.join(items)}</channel></rss>"
    )


def item(
    n: int | str,
    *,
    title: str | None = None,
    link: str | None = None,
    extra: str = "",
    date: str = "",
    body: str | None = None,
) -> str:
    return (
        f"<item><title>{title or f'Raid number {n} in Poipet'}</title><link>{link or f'http://x.test/a/{n}'}</link>"
        f"<guid>g{n}</guid><description>{body or f'{SHORT} Story {n}.'}</description>"
        + (f"<pubDate>{date}</pubDate>" if date else "")
        + f"{extra}</item>"
    )


def chat_texts(chat: ChatServer) -> list[str]:
    return [json.dumps(p, ensure_ascii=False) for p in chat.messages()]


# --- 1. a date that overflows in the alert's time zone stops nothing ---------------------------------------------


@pytest.mark.parametrize(
    ("date", "zone"),
    [
        ("Fri, 31 Dec 9999 23:00:00 GMT", "Asia/Bangkok"),
        ("Mon, 01 Jan 0001 00:00:00 GMT", "America/Los_Angeles"),
        ("Fri, 31 Dec 9999 23:59:59 -1200", "Pacific/Kiritimati"),
    ],
    ids=["9999-utc+7", "0001-utc-8", "9999-12h-utc+14"],
)
def test_01_a_year_9999_date_in_utc_plus_7_fails_no_channel(
    tmp_path: Path,
    news_site: NewsSite,  # noqa: F811
    chat_server: ChatServer,
    date: str,  # noqa: F811
    zone: str,
) -> None:
    news_site.raw["/feeds/w.xml"] = rss(item(1, date=date), *(item(n) for n in range(2, 5)))
    config = write_config(
        tmp_path,
        [{"name": "w", "url": f"{news_site.base}/feeds/w.xml"}],
        channels={"chat": {"urls": [chat_server.url()]}},
        scheduler={"timezone": zone},
    )
    code, out = cli(config, "poll")
    assert code == 0, out
    assert len(chat_server.messages()) >= 3  # the other alerts of the channel went out
    assert all(d["status"] != "pending" for d in deliveries(config))  # none left to be claimed again forever


def test_01_a_year_9999_date_already_stored_fails_only_its_own_alert(
    tmp_path: Path,
    news_site: NewsSite,  # noqa: F811
    chat_server: ChatServer,
) -> None:  # noqa: F811
    """The date clamp at the edge aside, a row an older version stored still renders or fails alone."""
    news_site.raw["/feeds/w.xml"] = rss(*(item(n) for n in range(1, 5)))
    config = write_config(
        tmp_path,
        [{"name": "w", "url": f"{news_site.base}/feeds/w.xml"}],
        channels={"chat": {"urls": [chat_server.url()]}},
        scheduler={"timezone": "Asia/Bangkok"},
    )
    code, out = cli(config, "poll", "--no-deliver")
    assert code == 0, out
    with sqlite3.connect(tmp_path / "monitor.db") as db:
        changed = db.execute(
            "UPDATE articles SET published = '9999-12-31 23:00:00.000000' WHERE title LIKE 'Raid number 1 %'"
        ).rowcount
    assert changed == 1
    code, out = cli(config, "poll")
    assert code == 0, out
    titles = [p["title"] for p in chat_server.messages()]
    assert sum("Raid number" in t for t in titles) >= 3, titles
    assert all(d["status"] != "pending" for d in deliveries(config))


# --- 2. one linked page that breaks the fetcher fails only itself ------------------------------------------------


def test_02_pages_with_thousands_of_codings_or_a_superscript_retry_after_fail_only_themselves(
    tmp_path: Path, news_site: NewsSite, hostile_server: HostileServer
) -> None:  # noqa: F811
    codings = hostile_server.url("/headers?" + "Content-Encoding=" + quote("gzip, ") + "&times=3000")
    superscript = hostile_server.url("/headers?status=503&Retry-After=" + quote("²"))
    news_site.raw["/feeds/w.xml"] = rss(
        item(1, link=xml_escape(codings)),
        item(2, link=xml_escape(superscript)),
        item(3, link=f"{news_site.base}/news/none.html"),
    )
    config = write_config(tmp_path, [{"name": "w", "url": f"{news_site.base}/feeds/w.xml"}], fetch={"full_text": True})
    for poll in range(2):  # and at every poll: nothing is retried forever, nothing is lost
        code, out = cli(config, "-v", "poll", "--force")
        assert code == 0, out
        assert poll or ("codings listed" in out and "HTTP 503" in out)  # each page's own failure, logged on it
        feed = feeds_json(config)["w"]
        assert feed["articles"] == 3 and feed["consecutive_failures"] == 0, feed


# --- 3. log redaction is linear ----------------------------------------------------------------------------------


def test_03_hostile_redirects_and_reason_phrases_are_logged_short_and_at_once(
    tmp_path: Path, hostile_server: HostileServer, news_site: NewsSite
) -> None:  # noqa: F811
    news_site.add("healthy", "Police raid in Poipet", BODY)
    location = "/" + "a-" * 1900 + "?k=" + "a=a-" * 40  # under the 4,096-character URL limit: it is followed
    config = write_config(
        tmp_path,
        [
            {"name": "redirect", "url": hostile_server.url(f"/redirect-to?status=302&url={quote(location)}")},
            {"name": "reason", "url": hostile_server.url("/headers?status=500&reason=a-&times=8000")},  # 16 KB
            {"name": "header", "url": hostile_server.url("/headers?status=429&Retry-After=a-&times=8000")},
            {"name": "healthy", "url": news_site.feed_url("healthy")},
        ],
    )
    started = time.monotonic()
    code, out = cli(config, "-vv", "poll")
    assert code == 0, out
    assert time.monotonic() - started < 10
    assert feeds_json(config)["healthy"]["articles"] == 1
    logged = [line for line in out.splitlines() if " monitor." in line]
    assert logged and max(map(len, logged)) < 2500, max(logged, key=len)


# --- 4. and 5. one item fails only itself, on SQLite and PostgreSQL ----------------------------------------------


def test_04_a_lone_surrogate_in_one_rss_item_fails_only_that_item(
    tmp_path: Path,
    news_site: NewsSite,  # noqa: F811
    store_url: str,
) -> None:  # noqa: F811
    items = [item(n) for n in range(1, 21)]
    items[7] = item(8, title="Raid &#xD800; in Poipet")
    news_site.raw["/feeds/w.xml"] = rss(*items)
    config = write_config(tmp_path, [{"name": "w", "url": f"{news_site.base}/feeds/w.xml"}], db=store_url)
    code, out = cli(config, "poll", "--no-deliver")
    assert code == 0, out
    feed = feeds_json(config)["w"]
    assert feed["articles"] >= 19 and feed["consecutive_failures"] == 0, feed


def test_04_an_atom_feed_with_a_lone_surrogate_nul_and_out_of_range_references_stores_its_other_entries(
    tmp_path: Path, news_site: NewsSite, store_url: str
) -> None:  # noqa: F811
    bad = ["&#xD800;", "&#0;", "&#x110000;", "&#99999999999999999999;", "&#xDFFF;&#xD800;"]
    entries = "".join(
        f"<entry><id>urn:e{n}</id><title>Raid {n} {bad[n] if n < len(bad) else ''} in Poipet</title>"
        f'<link href="http://x.test/e/{n}"/><updated>2026-12-01T00:00:00Z</updated>'
        f"<author><name>Ed {bad[n] if n < len(bad) else ''}</name></author><summary>{SHORT}</summary></entry>"
        for n in range(8)
    )
    news_site.raw["/feeds/a.xml"] = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>a</title><id>urn:a</id><updated>2026-12-01T00:00:00Z</updated>{entries}</feed>"
    )
    config = write_config(tmp_path, [{"name": "a", "url": f"{news_site.base}/feeds/a.xml"}], db=store_url)
    code, out = cli(config, "poll", "--no-deliver")
    assert code == 0, out
    feed = feeds_json(config)["a"]
    assert feed["articles"] >= 7 and feed["consecutive_failures"] == 0, feed


def test_04_oversized_guids_links_titles_and_authors_fail_at_most_their_own_entry(
    tmp_path: Path, news_site: NewsSite, store_url: str
) -> None:  # noqa: F811
    huge = "x" * 9000  # past PostgreSQL's btree row limit (about 2,700 bytes) for an indexed column
    news_site.raw["/feeds/w.xml"] = rss(
        item(f"long{huge}"),
        item(2, link=f"http://x.test/{huge}"),
        item(3, title=f"Raid {huge * 20}"),
        item(4, extra=f"<author>{huge}@x.test</author><category>{huge}</category>"),
        item(5, link=f"http://{'a' * 60}.{huge[:200]}.test/{huge}"),
        item(6),
    )
    config = write_config(tmp_path, [{"name": "w", "url": f"{news_site.base}/feeds/w.xml"}], db=store_url)
    for _ in range(2):
        code, out = cli(config, "poll", "--no-deliver", "--force")
        assert code == 0, out
        feed = feeds_json(config)["w"]
        assert feed["consecutive_failures"] == 0 and feed["articles"] + feed["failed_entries"] == 6, feed


def test_04_a_json_feed_with_lone_surrogates_and_a_year_9999_date_stores_its_other_items(
    tmp_path: Path, news_site: NewsSite, store_url: str
) -> None:  # noqa: F811
    entries: list[dict[str, Any]] = [
        {"id": f"j{n}", "url": f"http://x.test/j/{n}", "title": f"Raid number {n}", "content_text": BODY}
        for n in range(1, 6)
    ]
    entries[0]["title"] = "Raid \ud800 in Poipet"
    entries[1]["authors"] = [{"name": "Reporter \udfff"}]
    entries[2]["date_published"] = "9999-12-31T23:59:59-01:00"
    news_site.raw["/feeds/j.json"] = json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": "j", "items": entries}
    )  # json.dumps writes \ud800 escapes
    news_site.content_types["/feeds/j.json"] = "application/feed+json"
    config = write_config(tmp_path, [{"name": "j", "url": f"{news_site.base}/feeds/j.json"}], db=store_url)
    code, out = cli(config, "poll", "--no-deliver")
    assert code == 0, out
    feed = feeds_json(config)["j"]
    assert feed["articles"] >= 4 and feed["consecutive_failures"] == 0, feed


def test_05_nul_in_a_guid_link_or_author_is_stripped(
    tmp_path: Path,
    news_site: NewsSite,  # noqa: F811
    store_url: str,
) -> None:  # noqa: F811
    news_site.raw["/feeds/w.xml"] = rss(
        item("nul&#0;guid"),
        item(2, link="http://x.test/a/&#0;2"),
        item(3, extra="<author>ed&#0;@x.test (Ed&#0;)</author><dc:creator>Ed&#0;</dc:creator>"),
        item(4),
    )
    config = write_config(tmp_path, [{"name": "w", "url": f"{news_site.base}/feeds/w.xml"}], db=store_url)
    for _ in range(2):
        code, out = cli(config, "poll", "--no-deliver", "--force")
        assert code == 0, out
        feed = feeds_json(config)["w"]
        assert feed["articles"] == 4 and feed["consecutive_failures"] == 0, feed
    code, out = cli(config, "matches", "--format", "json")
    assert code == 0 and "\\u0000" not in out, out


# --- 6. a huge Retry-After is its feed's failure only -------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "99999999999999999999",
        "1e400",
        "-5",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Mon, 01 Jan 0001 00:00:00 GMT",
        "²",
        "１２",
    ],
)
def test_06_a_huge_retry_after_lets_the_poll_exit_0_and_deliver(
    tmp_path: Path,
    hostile_server: HostileServer,  # noqa: F811
    news_site: NewsSite,  # noqa: F811
    chat_server: ChatServer,  # noqa: F811
    value: str,
) -> None:
    news_site.add("healthy", "Police raid in Poipet", BODY)
    config = write_config(
        tmp_path,
        [
            {"name": "huge", "url": hostile_server.url(f"/headers?status=503&Retry-After={quote(value)}")},
            {"name": "huge429", "url": hostile_server.url(f"/headers?status=429&Retry-After={quote(value)}")},
            {"name": "healthy", "url": news_site.feed_url("healthy")},
        ],
        channels={"chat": {"urls": [chat_server.url()]}},
    )
    code, out = cli(config, "poll")
    assert code == 0, out
    assert len(chat_server.messages()) == 1
    feeds = feeds_json(config)
    assert feeds["huge"]["consecutive_failures"] == 1 and feeds["healthy"]["articles"] == 1


# --- 7. markup in a reason phrase prints literally, through the installed script ---------------------------------


def test_07_markup_in_a_reason_phrase_prints_literally_from_the_script(
    tmp_path: Path, hostile_server: HostileServer
) -> None:  # noqa: F811
    phrases = {"close": "[/x]", "link": "[link=http://evil.example/]click[/link]"}
    config = write_config(
        tmp_path, [{"name": n, "url": hostile_server.url(f"/reason/500?text={quote(p)}")} for n, p in phrases.items()]
    )
    script = Path(sys.executable).with_name("monitor")
    env = {**os.environ, "COLUMNS": "400"}
    for args in (["poll", "--no-deliver"], ["feeds", "list"]):
        done = subprocess.run(
            [str(script), "--config", str(config), *args], capture_output=True, text=True, env=env, timeout=60
        )
        assert done.returncode == (1 if args[0] == "poll" else 0), done.stderr  # poll: every feed failed
        assert "MarkupError" not in done.stdout + done.stderr
        for phrase in phrases.values():
            assert phrase in done.stdout, (args, done.stdout)


# --- 8. a hostile feed cannot suppress or take over a trusted outlet's alert --------------------------------------


def test_08_a_mirror_listing_the_outlets_article_first_cannot_suppress_its_alert(
    tmp_path: Path, news_site: NewsSite, chat_server: ChatServer
) -> None:  # noqa: F811
    wire_url = news_site.add("wire", "Police raid scam compound in Poipet", BODY)
    mirror = news_site.base.replace("127.0.0.1", "localhost")  # another site than the wire's 127.0.0.1
    news_site.raw["/mirror.xml"] = rss(
        item(
            1,
            title="Angkor welcomes record visitors",
            link=wire_url,
            body="Tourism news.",
            extra=f"<content:encoded><![CDATA[<p>Siem Reap hotels are full. {'Visitors came. ' * 80}</p>]]>"
            "</content:encoded>",
        )
    )
    config = write_config(
        tmp_path,
        [{"name": "mirror", "url": f"{mirror}/mirror.xml"}, {"name": "wire", "url": news_site.feed_url("wire")}],
        channels={"chat": {"urls": [chat_server.url()]}},
    )
    code, out = cli(config, "poll", "--feed", "mirror")
    assert code == 0 and not chat_server.messages(), out
    code, out = cli(config, "poll", "--feed", "wire")
    assert code == 0, out
    alerts = chat_texts(chat_server)
    assert len(alerts) == 1 and "Police raid scam compound in Poipet" in alerts[0], alerts


def test_08_a_copy_posted_first_cannot_take_over_the_outlets_alert(
    tmp_path: Path, news_site: NewsSite, chat_server: ChatServer
) -> None:  # noqa: F811
    wire_url = f"{news_site.base}/news/raid.html"
    news_site.raw["/feeds/wire.xml"] = rss(
        item("w", title="Police raid scam compound in Poipet", link=wire_url, body=BODY)
    )
    mirror = news_site.base.replace("127.0.0.1", "localhost")
    news_site.raw["/mirror.xml"] = rss(item(1, title="HOSTILE headline on the raid", link=wire_url, body=BODY))
    config = write_config(
        tmp_path,
        [{"name": "mirror", "url": f"{mirror}/mirror.xml"}, {"name": "wire", "url": news_site.feed_url("wire")}],
        channels={"chat": {"urls": [chat_server.url()]}},
    )
    code, out = cli(config, "poll", "--feed", "mirror", "--no-deliver")  # the copy is first, its alert pending
    assert code == 0, out
    code, out = cli(config, "poll", "--feed", "wire")
    assert code == 0, out
    alerts = chat_texts(chat_server)
    assert len(alerts) == 1, alerts
    alert = chat_server.messages()[0]
    assert alert["title"].endswith("Police raid scam compound in Poipet"), alert  # the outlet's own copy
    assert "HOSTILE" not in alert["message"].split("mirror:")[0], alert  # the copy only under "also reported"


def test_08_a_feed_reusing_the_outlets_guid_or_a_tracking_copy_of_its_url_cannot_suppress_it(
    tmp_path: Path, news_site: NewsSite, chat_server: ChatServer
) -> None:  # noqa: F811
    wire_url = f"{news_site.base}/news/raid.html"
    news_site.raw["/feeds/wire.xml"] = rss(
        item("w", title="Police raid scam compound in Poipet", link=wire_url, body=BODY)
    )
    mirror = news_site.base.replace("127.0.0.1", "localhost")
    news_site.raw["/mirror.xml"] = rss(
        item("w", title="Other raid, same guid", link=f"{mirror}/x", body="Angkor raid on tourism records."),
        item(
            "m2",
            title="Other raid, tracking copy",
            link=xml_escape(f"{wire_url}?utm_source=x&fbclid=y#top"),
            body="Angkor raid on visitor numbers.",
        ),
    )
    config = write_config(
        tmp_path,
        [{"name": "mirror", "url": f"{mirror}/mirror.xml"}, {"name": "wire", "url": news_site.feed_url("wire")}],
        channels={"chat": {"urls": [chat_server.url()]}},
    )
    assert cli(config, "poll", "--feed", "mirror")[0] == 0
    before = len(chat_server.messages())
    code, out = cli(config, "poll", "--feed", "wire")
    assert code == 0, out
    titles = [m["title"] for m in chat_server.messages()[before:]]
    assert len(titles) == 1 and titles[0].endswith("Police raid scam compound in Poipet"), titles


def test_08_also_reported_by_is_bounded(
    tmp_path: Path,
    news_site: NewsSite,  # noqa: F811
    chat_server: ChatServer,
) -> None:  # noqa: F811
    feeds = []
    for n in range(40):
        news_site.raw[f"/copy{n}.xml"] = rss(
            item(n, title="Police raid scam compound in Poipet", link=f"{news_site.base}/copy/{n}.html", body=BODY)
        )
        feeds.append({"name": f"copy-{n:02d}-{'x' * 60}", "url": f"{news_site.base}/copy{n}.xml"})
    config = write_config(tmp_path, feeds, channels={"chat": {"urls": [chat_server.url()]}})
    code, out = cli(config, "poll")
    assert code == 0, out
    alerts = chat_texts(chat_server)
    assert len(alerts) == 1, alerts
    alert = alerts[0]
    assert len(alert.encode()) < 4000 and "more" in alert, alert


# --- 9. one slow feed stalls only itself, in the daemon ----------------------------------------------------------


def test_09_a_dripping_feed_does_not_hold_back_a_healthy_feed_in_the_daemon(
    tmp_path: Path, news_site: NewsSite
) -> None:  # noqa: F811
    news_site.add("healthy", "Police raid in Poipet", BODY)
    # The slow links on another host name: requests to one host share its politeness limit (per_host) by design.
    slow_host = news_site.base.replace("127.0.0.1", "localhost")
    news_site.raw["/slow.xml"] = rss(*(item(n, link=f"{slow_host}/news/slow{n}.html") for n in range(20)))
    news_site.page_delay = 30.0  # every linked page stalls far past the test
    config = write_config(
        tmp_path,
        [
            {"name": "slow", "url": f"{news_site.base}/slow.xml", "full_text": True},
            {"name": "healthy", "url": news_site.feed_url("healthy"), "interval": "1s"},
        ],
        scheduler={"tick": "250ms", "feed_timeout": "3s"},
        fetch={"timeout": "30s"},
    )
    with daemon(config):
        wait_for(lambda: len(news_site.hits("/feeds/healthy.xml")) >= 5, 20)
        assert len(news_site.hits("/slow.xml")) >= 1
        assert len(news_site.hits("/feeds/healthy.xml")) >= 5, "the healthy feed was held back by the slow one"
        wait_for(lambda: feeds_json(config)["slow"]["last_error"], 5)
    slow = feeds_json(config)["slow"]
    assert "time" in (slow["last_error"] or "").lower(), slow  # cut at its own time budget, recorded on it


def test_06_a_huge_retry_after_does_not_fail_the_daemons_poll_job(
    tmp_path: Path,
    news_site: NewsSite,  # noqa: F811
    hostile_server: HostileServer,
) -> None:  # noqa: F811
    news_site.add("healthy", "Police raid in Poipet", BODY)
    config = write_config(
        tmp_path,
        [
            {
                "name": "huge",
                "url": hostile_server.url("/retry-after/99999999999999999999?status=503"),
                "interval": "1s",
            },
            {"name": "healthy", "url": news_site.feed_url("healthy"), "interval": "1s"},
        ],
        scheduler={"tick": "250ms"},
    )
    with daemon(config) as process:
        wait_for(lambda: len(news_site.hits("/feeds/healthy.xml")) >= 3, 15)
        assert process.poll() is None and len(news_site.hits("/feeds/healthy.xml")) >= 3
    feeds = feeds_json(config)
    assert feeds["healthy"]["articles"] == 1 and feeds["huge"]["consecutive_failures"] >= 1, feeds


def test_14_a_5_mb_feed_of_95k_items_does_not_stall_the_daemon(tmp_path: Path, news_site: NewsSite) -> None:  # noqa: F811
    news_site.add("healthy", "Police raid in Poipet", BODY)
    news_site.raw["/huge.xml"] = rss(
        *(f"<item><title>t{n}</title><link>http://x.test/{n}</link></item>" for n in range(95_000))
    )
    config = write_config(
        tmp_path,
        [
            {"name": "huge", "url": f"{news_site.base}/huge.xml"},
            {"name": "healthy", "url": news_site.feed_url("healthy"), "interval": "1s"},
        ],
        scheduler={"tick": "250ms"},
        fetch={"max_bytes": "6MB"},
    )
    with daemon(config):
        wait_for(lambda: len(news_site.hits("/huge.xml")) >= 1, 10)
        (tmp_path / "rules" / "bomb.yaml").write_text(MERGE_BOMB, encoding="utf-8")  # hot reload
        first = len(news_site.hits("/feeds/healthy.xml"))
        time.sleep(3.5)  # the huge feed is parsed and the bomb reloaded meanwhile
        assert len(news_site.hits("/feeds/healthy.xml")) - first >= 2


def wait_for(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():
        time.sleep(0.1)


@contextmanager
def daemon(config: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``monitor run`` as an operator starts it, stopped with SIGTERM."""
    script = Path(sys.executable).with_name("monitor")
    with subprocess.Popen(
        [str(script), "--config", str(config), "-q", "run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as process:
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            finally:
                if process.poll() is None:
                    process.kill()


# --- 10. credentials never leak -----------------------------------------------------------------------------------


def test_10_feed_credentials_reach_no_link_alert_or_listing(
    tmp_path: Path,
    news_site: NewsSite,  # noqa: F811
    chat_server: ChatServer,
) -> None:  # noqa: F811
    news_site.raw["/feeds/w.xml?apikey=K3yValue9876"] = rss(item(1, link="/a/1"))  # a relative link
    url = news_site.base.replace("http://", "http://bob:S3cretPw@") + "/feeds/w.xml?apikey=K3yValue9876"
    config = write_config(tmp_path, [{"name": "w", "url": url}], channels={"chat": {"urls": [chat_server.url()]}})
    code, out = cli(config, "poll")
    assert code == 0, out
    shown = [out, *chat_texts(chat_server)]
    for args in (
        ["feeds", "list", "-f", "json"],
        ["feeds", "list", "-f", "csv"],
        ["feeds", "list"],
        ["matches", "-f", "json"],
        ["deliveries", "-f", "json"],
    ):
        code, text = cli(config, *args)
        assert code == 0, text
        shown.append(text)
    assert len(chat_server.messages()) == 1 and "/a/1" in shown[1]
    with sqlite3.connect(tmp_path / "monitor.db") as db:
        shown += [str(row) for row in db.execute("SELECT url FROM articles")]  # stored clean, not only shown so
    for text in shown:
        assert "S3cretPw" not in text and "K3yValue9876" not in text and "bob:" not in text, text


def test_10_a_feed_added_with_credentials_never_prints_them(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    code, out = cli(
        config, "feeds", "add", "https://bob:S3cretPw@wire.example/rss?apikey=K3yValue9876&x=1", "--name", "added"
    )
    assert code == 0, out
    shown = [out] + [cli(config, "feeds", "list", *f)[1] for f in ([], ["-f", "json"], ["-f", "csv"])]
    assert "wire.example/rss" in shown[2] and "wire.example/rss" in shown[3]  # the URL itself is shown
    for text in shown:
        assert "S3cretPw" not in text and "K3yValue9876" not in text, text


# --- 11. mass mentions are neutralised in the default text format -------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_11_mass_mentions_in_a_title_mention_nobody(
    tmp_path: Path,
    news_site: NewsSite,  # noqa: F811
    chat_server: ChatServer,
    fmt: str,
) -> None:  # noqa: F811
    mentions = [
        "@room",
        "@**all**",
        "<@&123456>",
        "<@987654>",
        "@everyone_x",
        "@here",
        "<!channel>",
        "＠ＥＶＥＲＹＯＮＥ",
        "@Here",
        "@every\u200bone",
        "x@channel",
        "@_*group*",
    ]
    news_site.raw["/feeds/w.xml"] = rss(
        item(1, title="Raid " + " ".join(mentions).replace("&", "&amp;").replace("<", "&lt;"))
    )
    config = write_config(
        tmp_path,
        [{"name": "w", "url": f"{news_site.base}/feeds/w.xml"}],
        channels={"chat": {"urls": [chat_server.url()], "format": fmt}},
    )
    code, out = cli(config, "poll")
    assert code == 0, out
    [post] = chat_server.messages()
    text = post.get("title", "") + post.get("message", "") + post.get("body", "")
    assert "Raid" in text
    for mention in mentions:
        assert mention not in text, (mention, text)


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_11_links_and_markup_in_items_cannot_inject_into_alerts(
    tmp_path: Path,
    news_site: NewsSite,  # noqa: F811
    chat_server: ChatServer,
    fmt: str,
) -> None:  # noqa: F811
    news_site.raw["/feeds/w.xml"] = rss(
        item(1, link="javascript:alert(1)"),
        item(2, link="data:text/html,raid"),
        item(3, title="Raid &lt;img src=x onerror=alert(1)&gt; &lt;a href='http://evil.example/'&gt;x&lt;/a&gt;"),
        item(4, link='http://evil.example/a b"onmouseover=alert(1)'),
    )
    config = write_config(
        tmp_path,
        [{"name": "w", "url": f"{news_site.base}/feeds/w.xml"}],
        channels={"chat": {"urls": [chat_server.url()], "format": fmt}},
    )
    code, out = cli(config, "poll")
    assert code == 0, out
    sent = chat_texts(chat_server)
    assert len(sent) == 4, sent
    for text in sent:
        for bad in ("javascript:", "data:text", "onerror", "<img", "onmouseover", "evil.example"):
            assert bad not in text, (bad, text)


# --- 12. SSRF: the remaining ranges refused, allow_private per feed -----------------------------------------------

REFUSED = [
    "[fec0::1]",
    "[fec0::808:808]",
    "[64:ff9b:1::808:808]",
    "[64:ff9b:1::7f00:1]",
    "[64:ff9b::7f00:1]",
    "[::ffff:127.0.0.1]",
    "[2002:7f00:1::]",
    "[::127.0.0.1]",
    "[fd00::1]",
    "[::]",
    "0x7f.1",
    "2130706433",
    "0177.0.0.1",
    "127.1",
    "0",
    "localhost",
    "100.64.0.1",
    "169.254.169.254",
    "[::ffff:169.254.169.254]",
]


def test_12_site_local_nat64_and_other_private_addresses_are_refused(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        [{"name": f"f{i:02d}", "url": f"http://{host}:9/feed.xml"} for i, host in enumerate(REFUSED)],
        fetch={"allow_private": False},
    )
    code, out = cli(config, "poll", "--no-deliver")
    assert code == 1, out  # every feed failed
    for name, feed in feeds_json(config).items():
        host = REFUSED[int(name[1:])]
        assert (feed["last_error"] or "").startswith("blocked: "), (host, feed)  # refused before connecting


def test_12_allow_private_is_per_feed_and_never_implies_its_links(tmp_path: Path, news_site: NewsSite) -> None:  # noqa: F811
    news_site.add("intranet", "Police raid in Poipet", BODY)
    news_site.add("trusting", "Second raid in Poipet", BODY)
    news_site.add("hostile", "Third raid in Poipet", BODY)
    config = write_config(
        tmp_path,
        [
            {"name": "intranet", "url": news_site.feed_url("intranet"), "allow_private": True},
            {
                "name": "trusting",
                "url": news_site.feed_url("trusting"),
                "allow_private": True,
                "allow_private_links": True,
            },
            {"name": "hostile", "url": news_site.feed_url("hostile")},
        ],
        fetch={"allow_private": False, "full_text": True},
    )
    code, out = cli(config, "poll", "--no-deliver")
    assert code == 0, out
    feeds = feeds_json(config)
    assert feeds["intranet"]["articles"] == 1 and feeds["trusting"]["articles"] == 1
    assert feeds["hostile"]["articles"] == 0 and not news_site.hits("/feeds/hostile.xml")
    pages = [p for p, _ in news_site.requests if p.startswith("/news/")]
    assert len(pages) == 1, pages  # only the feed that allows private links had its page fetched


# --- 13. one email a server refuses fails alone; long non-ASCII subjects are folded -------------------------------


def test_13_a_khmer_title_and_a_refused_message_fail_no_other_email(
    tmp_path: Path,
    news_site: NewsSite,  # noqa: F811
    smtp_server: SmtpServer,
) -> None:  # noqa: F811
    khmer = "Raid " + "ប៉ូលិសវាយឆ្មក់មជ្ឈមណ្ឌលបោកប្រាស់" * 12
    items = [item(1, title=khmer)] + [item(n) for n in range(2, 13)]
    news_site.raw["/feeds/w.xml"] = rss(*items)
    smtp_server.refuse = lambda m: "554 refused" if "number 5 " in str(m["Subject"]) else None
    config = write_config(
        tmp_path,
        [{"name": "w", "url": f"{news_site.base}/feeds/w.xml"}],
        channels={"mail": {"urls": [smtp_server.url()]}},
    )
    code, out = cli(config, "poll")
    assert code == 0, out
    assert len(smtp_server.messages) == 11, [str(m["Subject"]) for m in smtp_server.messages]
    assert any("ប៉ូលិស" in str(m["Subject"]) for m in smtp_server.messages)
    assert all(len(line) <= 998 for raw in smtp_server.raw for line in raw.split(b"\r\n"))
    found = deliveries(config)
    assert sorted(d["status"] for d in found).count("sent") == 11 and len(found) == 12, found
    [refused] = [d for d in found if d["status"] != "sent"]
    assert "failed" in (refused["last_error"] or "").lower(), refused  # visible in `monitor deliveries`
    smtp_server.refuse = None
    code, out = cli(config, "poll", "--force")  # the refused one is retried alone; the others are not sent again
    assert code == 0, out
    assert len(smtp_server.messages) in (11, 12)


def test_13_a_chat_message_the_receiver_refuses_fails_alone(
    tmp_path: Path,
    news_site: NewsSite,  # noqa: F811
    chat_server: ChatServer,
) -> None:  # noqa: F811
    news_site.raw["/feeds/w.xml"] = rss(*(item(n) for n in range(1, 7)))
    chat_server.refuse = lambda post: 400 if "number 3 " in str(post.get("title")) else None
    config = write_config(
        tmp_path,
        [{"name": "w", "url": f"{news_site.base}/feeds/w.xml"}],
        channels={"chat": {"urls": [chat_server.url()]}},
    )
    code, out = cli(config, "poll")
    assert code == 0, out
    assert len(chat_server.messages()) == 5
    found = deliveries(config)
    assert [d["status"] for d in found].count("sent") == 5 and len(found) == 6, found


def test_13_a_title_cannot_inject_headers_or_recipients(
    tmp_path: Path,
    news_site: NewsSite,  # noqa: F811
    smtp_server: SmtpServer,
) -> None:  # noqa: F811
    news_site.raw["/feeds/w.xml"] = rss(
        item(1, title="Raid&#13;&#10;Bcc: evil@evil.example&#13;&#10;X-Evil: 1"),
        item(2, title="Raid " + "😀" * 400),
        item(3, title="Raid " + "a" * 3000),
        item(4),
    )
    config = write_config(
        tmp_path,
        [{"name": "w", "url": f"{news_site.base}/feeds/w.xml"}],
        channels={"mail": {"urls": [smtp_server.url()]}},
    )
    code, out = cli(config, "poll")
    assert code == 0, out
    assert len(smtp_server.messages) == 4, out
    assert all(rcpts == ["desk@example.org"] for _, rcpts in smtp_server.envelopes)
    assert not any(m["X-Evil"] or m["Bcc"] for m in smtp_server.messages)
    assert all(len(line) <= 998 for raw in smtp_server.raw for line in raw.split(b"\r\n"))


# --- 14. the smaller ones -----------------------------------------------------------------------------------------


def test_14_one_301_does_not_move_a_feed_and_the_config_url_is_shown(tmp_path: Path, news_site: NewsSite) -> None:  # noqa: F811
    news_site.add("new", "Police raid in Poipet", BODY)
    news_site.add("old", "Police raid in Poipet", BODY)
    old = news_site.feed_url("old")
    news_site.answers["/feeds/old.xml"] = (301, {"Location": news_site.feed_url("new")})
    config = write_config(tmp_path, [{"name": "w", "url": old}])
    code, out = cli(config, "poll", "--no-deliver")
    assert code == 0, out
    assert feeds_json(config)["w"]["url"] == old
    del news_site.answers["/feeds/old.xml"]  # the 301 was a mistake: the feed stays
    cli(config, "poll", "--no-deliver", "--force")
    assert feeds_json(config)["w"]["url"] == old
    news_site.answers["/feeds/old.xml"] = (301, {"Location": news_site.feed_url("new")})
    for _ in range(2):
        cli(config, "poll", "--no-deliver", "--force")
    feed = feeds_json(config)["w"]
    assert feed["url"] == news_site.feed_url("new") and feed["config_url"] == old, feed


# The nine lines: each mapping merges the previous one nine times (9^7 expansions unbounded).
MERGE_BOMB = (
    "a: &a {x: 1, y: 2}\n"
    + "".join(
        f"{cur}: &{cur} {{<<: [{', '.join([f'*{prev}'] * 9)}]}}\n"
        for prev, cur in zip("abcdefg", "bcdefgh", strict=False)
    )
    + "rules: [{<<: *h, id: r, title: t, query: x}]\n"
)


def test_14_nested_merge_keys_and_a_merge_cycle_give_a_fast_clean_error(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(MERGE_BOMB, encoding="utf-8")
    (tmp_path / "cycle.yaml").write_text("rules:\n  - &r\n    id: r\n    query: raid\n    <<: *r\n", encoding="utf-8")
    for name in ("bomb.yaml", "cycle.yaml"):
        started = time.monotonic()
        result = CliRunner().invoke(app, ["rules", "check", str(tmp_path / name)])
        assert time.monotonic() - started < 5, name
        assert result.exit_code != 0 and "Traceback" not in result.stdout + result.stderr, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


def test_14_the_sqlite_file_and_data_folder_are_private(tmp_path: Path, hostile_server: HostileServer) -> None:  # noqa: F811
    config = write_config(
        tmp_path,
        [{"name": "w", "url": hostile_server.url("/feed.xml")}],
        db=f"sqlite:///{tmp_path / 'data' / 'sub' / 'monitor.db'}",
    )
    code, out = cli(config, "poll", "--no-deliver")
    assert code == 0, out
    assert stat.S_IMODE((tmp_path / "data" / "sub" / "monitor.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "data" / "sub").stat().st_mode) == 0o700


def test_14_a_regex_over_its_time_budget_is_reported_not_a_silent_miss(tmp_path: Path, news_site: NewsSite) -> None:  # noqa: F811
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "slow.yaml").write_text(
        "rules:\n"
        + "".join(  # ten rules x two fields: one budget
            f"  - id: slow{i}\n    title: Slow\n    query: '/(x+x+)+y{i}?/'\n    severity: high\n" for i in range(10)
        ),
        encoding="utf-8",
    )
    news_site.raw["/feeds/w.xml"] = rss(item(1, title="x" * 3000, body="x" * 3000))
    config = write_config(tmp_path, [{"name": "w", "url": f"{news_site.base}/feeds/w.xml"}])
    (tmp_path / "rules" / "r.yaml").unlink()
    started = time.monotonic()
    code, out = cli(config, "-v", "poll", "--no-deliver")
    assert code == 0, out
    assert time.monotonic() - started < 6  # 10 rules x 2 fields x 0.5 s each would be 10 s
    assert "rule regex timeout rule=slow0" in out and "rule regex timeout rule=slow9" in out, out


# --- How it is checked: docs/security.md --------------------------------------------------------------------------


def test_security_doc_has_threat_model_defences_and_reporting() -> None:
    text = (PROJECT / "docs" / "security.md").read_text(encoding="utf-8").lower()
    assert "threat model" in text and "report" in text and "vulnerab" in text
    for defended in ("ssrf", "allow_private", "user:pass@", "mention", "redact"):
        assert defended in text, defended


def test_the_slow_suite_fuzzes_at_least_10_000_inputs_through_parse_and_store() -> None:
    from tests.feeds import test_fuzz

    assert test_fuzz.FEEDS + test_fuzz.RAW + test_fuzz.PAGES + test_fuzz.PIPELINE >= 10_000
    assert "store_url" in test_fuzz.test_fuzzed_feeds_through_the_whole_pipeline.__code__.co_varnames  # both DBs
