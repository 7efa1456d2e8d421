"""The daemon as a user runs it: a subprocess that picks up new entries, reloads rules, and exits on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from monitor.store import Store
from tests.support.newssite import NewsSite

RULE = """
rules:
  - id: {id}
    title: Scam raids
    query: 'raid* AND "scam compound*"'
    severity: high
"""


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def daemon_config(tmp_path: Path, news_site: NewsSite) -> Path:  # noqa: F811
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(RULE.format(id="raids"), encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///monitor.db"
[scheduler]
tick = "1s"
poll_interval = "1s"
[fetch]
allow_private = true
extract_processes = 1
[[feeds]]
name = "mekong"
url = "{news_site.feed_url("mekong")}"
""",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def daemon(daemon_config: Path) -> Iterator[subprocess.Popen[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(daemon_config), "-v", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


class Output:
    """A process's output as it is written (a thread drains the pipe), so a test waits for a log line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self._lines: list[str] = []
        self._thread = threading.Thread(target=self._drain, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _drain(self, stream: IO[str]) -> None:
        with stream:  # closed at its end: every process holding the pipe has exited
            for line in stream:
                self._lines.append(line)

    def text(self) -> str:
        return "".join(self._lines)

    def closed(self, timeout: float) -> str:
        """Everything, once the pipe is closed (every process holding it has exited)."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the output pipe stayed open"
        return self.text()


def articles(config: Path) -> list[str]:
    store = Store.open(f"sqlite:///{config.parent / 'monitor.db'}")
    try:
        return [m.rule for m in store.list_matches()] + ["article"] * store.count_articles()
    finally:
        store.close()


@pytest.mark.slow
def test_daemon_picks_up_new_entries_reloads_rules_and_stops_on_sigterm(
    daemon: subprocess.Popen[str],
    daemon_config: Path,
    news_site: NewsSite,  # noqa: F811
) -> None:
    db = daemon_config.parent / "monitor.db"
    log = Output(daemon)
    assert wait_for(lambda: db.exists() and bool(news_site.hits("/feeds/mekong.xml"))), "daemon never polled"
    news_site.add(
        "mekong",
        "Police raid scam compound in Bavet",
        "Police raided a scam compound in Bavet and detained 120 people, officials said on Tuesday.",
    )
    assert wait_for(lambda: "raids" in articles(daemon_config)), "the entry added while running was not matched"

    # a bad edit of the rules keeps the last good set; the daemon stays up. Each step waits for the daemon's own
    # log line (not for a fixed time, which a busy machine outlasts: the good edit then lands before the bad one
    # was read, or the new entry is matched by the old set just before the reload)
    (daemon_config.parent / "rules" / "r.yaml").write_text("rules:\n  - id: broken\n    qeury: x\n", encoding="utf-8")
    assert wait_for(lambda: "rules not reloaded" in log.text()), "the bad edit was not noticed"
    assert "qeury" in log.text() and daemon.poll() is None
    # a good edit is picked up
    (daemon_config.parent / "rules" / "r.yaml").write_text(RULE.format(id="raids-v2"), encoding="utf-8")
    assert wait_for(lambda: "rules reloaded rules=1" in log.text()), "the edited rule set was not reloaded"
    news_site.add(
        "mekong",
        "Second raid on a scam compound",
        "Police raided another scam compound near Bavet on Wednesday, freeing 40 workers held there.",
    )
    assert wait_for(lambda: "raids-v2" in articles(daemon_config)), "the edited rule set was not used"

    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0, log.text()
    assert "Traceback" not in log.closed(timeout=30)


def test_a_broken_config_at_start_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[fetch]\ntimout = "3s"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "run"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"monitor: error: {config}:2: fetch.timout: unknown key 'timout' (did you mean 'timeout'?)"
    )


def test_broken_rules_at_start_are_one_line_and_exit_2(daemon_config: Path) -> None:
    (daemon_config.parent / "rules" / "r.yaml").write_text("rules:\n  - id: x\n    title: t\n    query: 'a AND'\n")
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(daemon_config), "run"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("monitor: error: ") and "r.yaml:4:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
