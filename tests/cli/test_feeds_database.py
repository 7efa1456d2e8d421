"""``monitor --database URL`` (or ``MONITOR_DATABASE_URL``): look at a store without its config file, or use
another store than the config's ``[database] url``."""

from __future__ import annotations

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


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})
    return result.exit_code, result.stdout, result.stderr


def names(out: str) -> list[str]:
    return [json.loads(line)["name"] for line in out.splitlines()]


def test_matches_of_a_store_seen_from_a_folder_without_config(
    tmp_path: Path, news_site: NewsSite, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment = tmp_path / "deployment"
    deployment.mkdir()
    (deployment / "config.toml").write_text(
        f"""
[database]
url = "sqlite:///state/monitor.db"
[fetch]
allow_private = true
full_text = false
[rules]
paths = ["{project / "rules"}"]
[[feeds]]
name = "mekong"
url = "{news_site.feed_url("mekong")}"
""",
        encoding="utf-8",
    )
    news_site.add("mekong", *RAID)
    code, _, err = invoke("--config", str(deployment / "config.toml"), "poll", "--no-deliver")
    assert code == 0, err

    elsewhere = tmp_path / "elsewhere"  # no config.toml here: built-in defaults but for the database
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    url = f"sqlite:///{deployment / 'state' / 'monitor.db'}"
    code, out, err = invoke("--database", url, "matches")
    assert code == 0, err
    assert RAID[0] in out and "mekong" in out
    code, out, _ = invoke("feeds", "list", "--format", "json", env={"MONITOR_DATABASE_URL": url})
    assert code == 0 and names(out) == ["mekong"]
    assert not (elsewhere / "data").exists()  # the default database was never created


def test_database_overrides_the_config_and_a_relative_path_is_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "sqlite:///main.db"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    root = ("--config", str(config))
    assert invoke(*root, "feeds", "add", "https://example.org/a", "--name", "a", "--no-check")[0] == 0
    assert (
        invoke(
            *root,
            "--database",
            "sqlite:///other.db",
            "feeds",
            "add",
            "https://example.org/b",
            "--name",
            "b",
            "--no-check",
        )[0]
        == 0
    )
    assert names(invoke(*root, "feeds", "list", "-f", "json")[1]) == ["a"]
    assert names(invoke(*root, "--database", "sqlite:///other.db", "feeds", "list", "-f", "json")[1]) == ["b"]
    assert (tmp_path / "other.db").exists()


def test_database_is_in_the_root_help() -> None:
    code, out, _ = invoke("--help")
    assert code == 0 and "--database URL" in out and "[database] url" in out
