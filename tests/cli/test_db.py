"""``monitor db current|upgrade|prune`` and ``[store] keep_articles`` as a user meets them, on SQLite and PostgreSQL;
and the daemon's retention job in a real ``monitor run`` process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from typer.testing import CliRunner

from monitor.cli import app
from monitor.clock import now_utc
from monitor.config import load_settings
from monitor.errors import ConfigError
from monitor.store import Store
from monitor.store.base import create_store_engine
from monitor.store.schema import alembic_config, head_revision
from tests.store.test_retention import add


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def at_revision(url: str, revision: str) -> None:
    engine = create_store_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), revision)
    finally:
        engine.dispose()


def test_current_and_upgrade_on_an_empty_then_an_old_database(store_url: str) -> None:
    head = head_revision()
    code, out, _ = invoke("--database", store_url, "db", "current")
    assert code == 1 and f"no schema yet (the newest is {head}): run `monitor db upgrade`" in out

    at_revision(store_url, "0005")
    code, out, _ = invoke("--database", store_url, "db", "current", "--format", "json")
    assert code == 1
    assert {k: v for k, v in json.loads(out).items() if k != "database"} == {
        "current": "0005",
        "head": head,
        "state": "behind",
    }

    code, out, err = invoke("--database", store_url, "db", "upgrade")
    assert code == 0, err
    assert f"migrated from 0005 to {head}" in out
    code, out, _ = invoke("--database", store_url, "db", "current")
    assert code == 0 and f"{head} (the newest)" in out
    code, out, _ = invoke("--database", store_url, "db", "upgrade")
    assert code == 0 and f"already at {head}" in out


def test_a_database_from_a_newer_monitor_is_named_and_left_alone(store_url: str) -> None:
    with Store.open(store_url):
        pass
    engine = create_store_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    code, out, _ = invoke("--database", store_url, "db", "current")
    assert code == 1 and "9999, unknown to this monitor" in out and "newer monitor" in out
    code, _, err = invoke("--database", store_url, "db", "upgrade")
    assert code == 2 and err.startswith("monitor: error: ") and "newer monitor" in err
    assert len(err.strip().splitlines()) == 1


def test_an_unreachable_database_is_one_line_and_exit_2(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'not-a-db.db'}"
    (tmp_path / "not-a-db.db").write_bytes(b"this is not a database file at all" * 100)
    for command_ in ("current", "upgrade"):
        code, _, err = invoke("--database", url, "db", command_)
        assert code == 2 and err.startswith("monitor: error: ") and len(err.strip().splitlines()) == 1


def test_prune_by_the_config_with_a_dry_run_first(store_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{store_url}"\n[store]\nkeep_articles = "30d"\n', encoding="utf-8")
    now = now_utc()
    with Store.open(store_url) as store:
        feed = store.add_feed("site", "https://site.example/feed").id
        for i in range(3):
            add(store, feed, f"old-{i}", f"an old brief {i}", now - timedelta(days=40), keys=False)
        add(store, feed, "old-matched", "an old matched brief", now - timedelta(days=40), matched=True, keys=False)
        add(store, feed, "recent", "a recent brief", now - timedelta(days=3), keys=False)

    code, out, err = invoke("--config", str(config), "db", "prune", "--dry-run")
    assert code == 0, err
    assert "would remove 3 unmatched articles fetched before" in out and "kept 1 older article" in out
    code, out, _ = invoke("--config", str(config), "db", "prune", "--format", "json")
    report = json.loads(out)
    assert (report["articles"], report["stories_emptied"], report["kept"], report["dry_run"]) == (3, 3, 1, False)
    code, out, _ = invoke("--config", str(config), "db", "prune", "--older-than", "2d", "--format", "json")
    assert json.loads(out)["articles"] == 1 and json.loads(out)["stories"] == 3  # the recent one; the empty stories
    with Store.open(store_url) as store:
        assert store.count_articles() == 1


def test_prune_without_a_retention_or_with_a_bad_one_says_what_to_do(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    code, _, err = invoke("--database", url, "db", "prune")
    assert code == 2 and "set [store] keep_articles" in err
    code, _, err = invoke("--database", url, "db", "prune", "--older-than", "2h")
    assert code == 2 and "at least '1d'" in err
    code, _, err = invoke("--database", url, "db", "prune", "--older-than", "soon")
    assert code == 2 and "--older-than: invalid duration 'soon'" in err


@pytest.mark.parametrize(
    ("value", "problem"), [('"12h"', "at least '1d'"), ('"forever"', "invalid duration"), ("true", "duration")]
)
def test_a_bad_keep_articles_names_its_file_and_line(tmp_path: Path, value: str, problem: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///m.db"\n\n[store]\nkeep_articles = {value}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    assert str(error.value).startswith(f"{config}:5: store.keep_articles: ") and problem in str(error.value)


def test_keep_articles_unset_keeps_everything_and_a_value_reads_as_seconds(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[store]\n", encoding="utf-8")
    assert load_settings(config).store.keep_articles is None
    config.write_text('[store]\nkeep_articles = "180d"\n', encoding="utf-8")
    assert load_settings(config).store.keep_articles == 180 * 86400


def test_the_daemon_prunes_by_keep_articles_soon_after_it_starts(store_url: str, tmp_path: Path) -> None:
    now = now_utc()
    with Store.open(store_url) as store:  # articles of a feed removed since: the daemon has nothing to poll
        for i in range(5):
            add(store, None, f"old-{i}", f"an old brief {i}", now - timedelta(days=200), keys=False)
        add(store, None, "old-matched", "an old matched brief", now - timedelta(days=200), matched=True, keys=False)
        add(store, None, "recent", "a recent brief", now - timedelta(days=1), keys=False)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{store_url}"\n[store]\nkeep_articles = "180d"\n[scheduler]\ntick = "1s"\n'
        f"[rules]\npaths = []\n",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # a loaded machine starts a daemon slowly
        remaining = 7
        while time.monotonic() < deadline:
            with Store.open(store_url) as store:
                remaining = store.count_articles()
            if remaining == 2 or process.poll() is not None:
                break
            time.sleep(0.3)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=60)
    assert remaining == 2, output  # the matched story and the recent article stay
    # The line is logged by the job's thread, which the daemon lets finish before it exits.
    assert "retention: 5 articles, 0 story keys and 0 stories removed" in output
