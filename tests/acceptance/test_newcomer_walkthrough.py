"""A newcomer's first hour, scripted: from an empty folder to an alert in a chat room, through the real CLI.

Each step runs ``python -m monitor`` in the new deployment's folder, the way a user types it, against a loopback
news site and a loopback chat receiver; where something is missing, the output must name the next thing to do.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.chat import ChatServer
from tests.support.newssite import NewsSite

pytestmark = pytest.mark.slow

RAID = (
    "Police raid scam compound in Poipet, free 300 workers",
    "Police raided a scam compound in Poipet on Monday and freed 300 foreign workers held there.\n"
    "Officers seized phones and computers used to defraud victims online, the provincial police chief said.",
)


def _monitor(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")} | {"COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=folder,
        env=base | (env or {}),
        capture_output=True,
        text=True,
        timeout=240,
    )


def _only_this_feed(config: Path, url: str) -> None:
    """What the starter config's first lines ask for: the feeds you follow instead of the defaults."""
    text = config.read_text(encoding="utf-8")
    start = re.search(r"^\[\[feeds\]\]", text, flags=re.M).start()  # type: ignore[union-attr]
    end = text.index("\n# Channels:") + 1
    mine = f'[[feeds]]\nname = "desk"\nurl = "{url}"\nallow_private = true   # the site is on this machine\n\n'
    config.write_text(text[:start] + mine + text[end:], encoding="utf-8")


def _my_rule(rule_file: Path) -> None:
    """What the skeleton asks for: its placeholder words replaced with the newcomer's own."""
    text = rule_file.read_text(encoding="utf-8")
    text = text.replace('[placeholder*, "sample phrase"]', '[raid*, "scam compound*"]')
    text = text.replace("'@scam_watch_terms AND NOT draft'", "'@scam_watch_terms AND Poipet'")
    text = text.replace("severity: medium", "severity: high")  # the starter routes high alerts to chat at once
    text = re.sub(r"(?s)    examples:.*", "", text)  # the newcomer's own examples come later
    rule_file.write_text(text, encoding="utf-8")


def test_from_an_empty_folder_to_an_alert_in_the_chat_room(
    tmp_path: Path, news_site: NewsSite, chat_server: ChatServer
) -> None:
    desk = tmp_path / "desk"
    news_site.add("desk", *RAID)

    started = _monitor(tmp_path, "init", "desk")
    assert started.returncode == 0, started.stderr
    assert "Next: edit" in started.stdout and "config.toml" in started.stdout and "monitor poll" in started.stdout

    refused = _monitor(desk, "feeds", "add", news_site.feed_url("desk"))
    assert refused.returncode == 2 and "--allow-private" in refused.stderr  # the error names the way out

    _only_this_feed(desk / "config.toml", news_site.feed_url("desk"))
    written = _monitor(desk, "rules", "new", "scam-watch")
    assert written.returncode == 0, written.stderr
    assert "monitor rules test" in written.stdout
    _my_rule(desk / "rules" / "scam-watch.yaml")

    tested = _monitor(desk, "rules", "test")
    assert tested.returncode == 0, tested.stdout + tested.stderr

    off = _monitor(desk, "notify", "test", "chat")  # no chat URL yet: the error names the variable to set
    assert off.returncode != 0 and "MONITOR_CHAT_URL" in off.stderr
    assert not chat_server.posts

    sent = _monitor(desk, "poll", env={"MONITOR_CHAT_URL": chat_server.url()})
    assert sent.returncode == 0, sent.stderr
    assert len(chat_server.messages()) == 1
    assert "Poipet" in str(chat_server.messages()[0])

    shown = _monitor(desk, "matches")
    assert shown.returncode == 0 and "scam-watch" in shown.stdout and RAID[0] in shown.stdout
