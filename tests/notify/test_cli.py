"""``monitor notify test CHANNEL`` and ``monitor deliveries`` from the command line, secrets never shown."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import load_settings
from monitor.notify import Notifier
from monitor.store import Store
from tests.support.chat import ChatServer
from tests.support.notifykit import T0, add_story, rule

SECRET = "Xy7SuperSecretToken42"


def _config(tmp_path: Path, chat: ChatServer) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f"""
[database]
url = "sqlite:///{tmp_path}/m.db"

[notify]
timeout = "3s"

[channels.desk]
urls = ["{chat.url("desk")}?token={SECRET}", "json://monitor:{SECRET}@127.0.0.1:1/{SECRET}"]
format = "markdown"

[[routes]]
channels = ["desk"]
""")
    return path


def test_notify_test_reports_each_url_without_secrets(tmp_path: Path, chat_server: ChatServer) -> None:
    config = _config(tmp_path, chat_server)
    result = CliRunner().invoke(app, ["--config", str(config), "notify", "test", "desk"])
    assert result.exit_code == 1, result.output  # the second URL is refused
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("delivered json://127.0.0.1:")
    assert lines[1].startswith("failed json://***@127.0.0.1:1/***")
    assert SECRET not in result.output
    [post] = chat_server.messages("desk")
    assert "test alert" in post["title"]


def test_notify_test_json_and_unknown_channel(tmp_path: Path, chat_server: ChatServer) -> None:
    config = _config(tmp_path, chat_server)
    result = CliRunner().invoke(app, ["--config", str(config), "notify", "test", "desk", "--format", "json"])
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["ok"] for r in rows] == [True, False]
    assert SECRET not in result.output
    result = CliRunner().invoke(app, ["--config", str(config), "notify", "test", "nope"])
    assert result.exit_code == 2
    assert "unknown channel 'nope'" in result.output


def test_deliveries_lists_status_attempts_and_redacted_errors(tmp_path: Path, chat_server: ChatServer) -> None:
    config = _config(tmp_path, chat_server)
    settings = load_settings(config)
    raid = rule("kh.raid", title="Scam compound raid")
    with Store.open(settings.database.url) as store:
        assert store.list_deliveries() == []
        add_story(
            store,
            settings,
            [raid],
            url="https://a.example.org/1",
            title="Raid in Poipet",
            text="Police raided a scam compound in Poipet.",
        )
        Notifier(settings, store, rules=[raid]).send_due(T0)
    result = CliRunner().invoke(app, ["--config", str(config), "deliveries", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert CliRunner().invoke(app, ["--config", str(config), "deliveries", "--status", "sent"]).exit_code == 1
    [row] = [json.loads(line) for line in result.output.splitlines()]
    assert (row["channel"], row["status"], row["attempts"], row["rule"]) == ("desk", "pending", 1, "kh.raid")
    assert "127.0.0.1:1" in row["last_error"] and SECRET not in row["last_error"]
    text = CliRunner().invoke(app, ["--config", str(config), "deliveries", "--status", "pending"])
    assert "Raid in Poipet" in text.output and "pending attempts=1" in text.output and SECRET not in text.output
