"""The command line as a user meets it: demo, poll, feeds, matches; formats, exit statuses, one-line errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from tests.support.newssite import NewsSite

RAID = (
    "Police raid scam compound in Poipet",
    "Police raided an online scam compound in Poipet, Cambodia, on Monday and detained 270 foreign workers.\n"
    "The National Committee for Counter Trafficking said the workers had been forced to defraud victims online.",
)


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def config(tmp_path: Path, news_site: NewsSite, project: Path) -> Path:  # noqa: F811
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[database]
url = "sqlite:///monitor.db"
[fetch]
allow_private = true
extract_processes = 1
[rules]
paths = ["{project / "rules"}"]
[[feeds]]
name = "mekong"
url = "{news_site.feed_url("mekong")}"
tags = ["cambodia"]
""",
        encoding="utf-8",
    )
    return path


@pytest.mark.slow
def test_demo_runs_the_whole_pipeline_offline_and_prints_matches_with_snippets(tmp_path: Path) -> None:
    code, out, err = invoke("demo", "--data", str(tmp_path))
    assert code == 0, err
    assert "mekong-daily" in out and "kh-scam-crackdown" in out
    assert "Cambodia Cracks Down on Online Scams with Working Group" in out
    assert "Siem Reap welcomes record" not in out  # the unrelated story is polled but matches nothing
    assert "Second poll: not_modified" in out
    assert (tmp_path / "demo.db").exists()


def test_poll_then_matches_in_every_format(config: Path, news_site: NewsSite) -> None:  # noqa: F811
    news_site.add("mekong", *RAID)
    code, out, err = invoke("--config", str(config), "poll")
    assert code == 0, err
    assert "mekong" in out and "ok" in out

    code, out, _ = invoke("--config", str(config), "matches", "--format", "json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and lines
    first = lines[0]
    assert set(first) == {
        "id",
        "rule",
        "rule_version",
        "severity",
        "article",
        "story",
        "hits",
        "snippet",
        "matched_at",
        "deliveries",
    }
    assert set(first["article"]) == {"id", "url", "title", "feed", "published", "lang"}
    assert first["article"]["title"] == RAID[0] and first["article"]["feed"] == "mekong"
    assert all({"field", "start", "end", "text"} == set(h) for h in first["hits"])

    code, out, _ = invoke("--config", str(config), "matches", "--format", "csv", "--rule", first["rule"])
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["rule"] for r in rows] == [first["rule"]]

    code, out, err = invoke("--config", str(config), "matches", "--rule", "no-such-rule")
    assert code == 2 and err == "monitor: error: no rule named 'no-such-rule'\n"  # issue 13: not "0 matches"

    code, out, _ = invoke("--config", str(config), "matches", "--since", "1h")
    assert code == 0 and RAID[0] in out


def test_feeds_list_add_remove(config: Path) -> None:
    code, out, err = invoke(
        "--config",
        str(config),
        "feeds",
        "add",
        "https://news.example.org/rss",
        "--name",
        "extra",
        "--tag",
        "region",
        "--interval",
        "10m",
    )
    assert code == 0, err
    code, out, _ = invoke("--config", str(config), "feeds", "list", "--format", "json")
    feeds = {f["name"]: f for f in map(json.loads, out.splitlines())}
    assert set(feeds) == {"mekong", "extra"}
    assert set(feeds["extra"]) == {
        "name",
        "url",
        "tags",
        "enabled",
        "last_polled",
        "last_success",
        "last_status",
        "last_error",
        "consecutive_failures",
        "next_poll",
        "articles",
        "config_url",
        "redirect_pending",
        "failed_entries",
        "last_entry_error",
        "blocked_requests",
    }
    assert feeds["extra"]["tags"] == ["region"] and feeds["extra"]["articles"] == 0

    code, _, err = invoke("--config", str(config), "feeds", "add", "https://other.example.org/rss", "--name", "extra")
    assert code == 2 and err.startswith("monitor: error:") and "extra" in err

    assert invoke("--config", str(config), "feeds", "remove", "extra")[0] == 0
    assert invoke("--config", str(config), "feeds", "remove", "extra")[0] == 1
    code, out, _ = invoke("--config", str(config), "feeds", "list")
    assert code == 0 and "mekong" in out and "extra" not in out


def test_feeds_list_shows_a_failing_feed_and_why(config: Path, news_site: NewsSite) -> None:  # noqa: F811
    news_site.broken.add("/feeds/mekong.xml")
    code, out, _ = invoke("--config", str(config), "poll")
    assert code == 1  # every feed polled failed (the cycle ran and recorded it)
    assert "mekong: failed: HTTP 500" in out or "mekong: failed: " in out and "500" in out
    code, out, _ = invoke("--config", str(config), "feeds", "list", "--format", "json")
    [feed] = map(json.loads, out.splitlines())
    assert feed["last_status"] == "error" and "500" in feed["last_error"] and feed["consecutive_failures"] == 1
    code, out, _ = invoke("--config", str(config), "poll")
    assert code == 0 and "mekong: skipped: in back-off" in out and "`monitor poll --force` polls it now" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["poll", "--feed", "nope"], "no feed named 'nope'"),
        (["matches", "--since", "yesterday-ish"], "neither a duration"),
        (["feeds", "add", "ftp://x.example/feed"], "http"),
    ],
    ids=["unknown-feed", "bad-since", "bad-url"],
)
def test_usage_errors_exit_2_with_one_clear_line(config: Path, args: list[str], message: str) -> None:
    code, _, err = invoke("--config", str(config), *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_a_missing_config_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    code, _, err = invoke("--config", str(tmp_path / "nope.toml"), "feeds", "list")
    assert code == 2 and err.strip() == f"monitor: error: {tmp_path / 'nope.toml'}: config file not found"


def test_poll_feed_polls_only_that_feed(config: Path, news_site: NewsSite) -> None:  # noqa: F811
    news_site.add("mekong", *RAID)
    news_site.add("other", "Angkor welcomes record visitors", "Siem Reap received more visitors than ever.")
    assert invoke("--config", str(config), "feeds", "add", news_site.feed_url("other"), "--name", "other")[0] == 0
    code, out, err = invoke("--config", str(config), "poll", "--feed", "other")
    assert code == 0, err
    assert news_site.hits("/feeds/other.xml") and not news_site.hits("/feeds/mekong.xml")
    feeds = {
        f["name"]: f
        for f in map(json.loads, invoke("--config", str(config), "feeds", "list", "-f", "json")[1].splitlines())
    }
    assert feeds["other"]["articles"] == 1 and feeds["mekong"]["last_polled"] is None
