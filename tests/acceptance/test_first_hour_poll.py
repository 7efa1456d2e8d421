"""The first hour (issue 13, items 4-8): what a newcomer sees from `poll`, `run`, `feeds list`, `notify test`.

Through the real CLI against loopback servers: a refused loopback feed names the setting that opens it, a feed in
back-off says how to poll it now, an offline machine is not a broken feed, `poll` ends with a summary and exits 1
when every feed failed, times are in the configured zone, and `run` says what it does, alerts right after the poll
that found the match, and leaves no worker behind when killed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from tests.support.chat import ChatServer
from tests.support.newssite import NewsSite

RAID = (
    "Police raid scam compound in Poipet",
    "Police raided an online scam compound in Poipet, Cambodia, on Monday and detained 270 foreign workers.",
)
RULE = """rules:
  - id: raids
    title: Scam raids
    query: 'raid* AND "scam compound*"'
    severity: high
"""
HINT = (
    "(to fetch it, set allow_private = true on this feed's [[feeds]] entry in config.toml, "
    "or [fetch] allow_private = true for every feed)"
)


def invoke(config: Path, *args: str) -> tuple[int, str, str]:
    # COLUMNS: a wide table, so a cell is not folded in the middle of what a test looks for
    result = CliRunner().invoke(app, ["--config", str(config), *args], env={"COLUMNS": "400"})
    return result.exit_code, result.stdout, result.stderr


def write_config(folder: Path, feeds: str, *, extra: str = "") -> Path:
    (folder / "rules").mkdir(exist_ok=True)
    (folder / "rules" / "r.yaml").write_text(RULE, encoding="utf-8")
    path = folder / "config.toml"
    path.write_text(
        f"""
[database]
url = "sqlite:///monitor.db"
[fetch]
extract_processes = 1
{extra}
{feeds}
""",
        encoding="utf-8",
    )
    return path


def feed(name: str, url: str, *lines: str) -> str:
    return "\n".join(("[[feeds]]", f'name = "{name}"', f'url = "{url}"', *lines, ""))


def feeds_json(config: Path) -> dict[str, dict[str, object]]:
    code, out, err = invoke(config, "feeds", "list", "--format", "json")
    assert code == 0, err
    return {row["name"]: row for row in map(json.loads, out.splitlines())}


def test_a_refused_loopback_feed_names_its_setting_once_and_back_off_names_force(
    tmp_path: Path,
    news_site: NewsSite,  # noqa: F811
) -> None:
    news_site.add("mekong", *RAID)
    config = write_config(tmp_path, feed("mekong", news_site.feed_url("mekong")))
    code, out, _ = invoke(config, "poll")
    assert code == 1  # its only feed failed
    assert out.count(HINT) == 1
    assert f"mekong: failed: blocked: loopback address 127.0.0.1 {HINT}" in out
    assert "1 feed: 0 ok, 0 new, 0 matched, 1 failed" in out
    code, out, _ = invoke(config, "feeds", "list")
    assert out.count(HINT) == 1 and "loopback address 127.0.0.1 (" in out

    # the next poll skips it, says until when and how to poll it now
    code, out, _ = invoke(config, "poll")
    assert code == 0  # nothing failed: one feed skipped
    assert re.search(
        r"mekong: skipped: in back-off after 1 failed poll, due \d{4}-\d\d-\d\d \d\d:\d\d:\d\d "
        r"\+00:00; `monitor poll --force` polls it now",
        out,
    ), out
    assert "1 feed: 0 ok, 0 new, 0 matched, 0 failed, 1 skipped" in out

    # the setting the hint names works, and --force polls the feed now
    config.write_text(config.read_text().replace('url = "http', 'allow_private = true\nurl = "http'))
    code, out, err = invoke(config, "poll", "--force")
    assert code == 0, err
    assert "1 feed: 1 ok, 1 new, 1 matched, 0 failed" in out


def test_when_every_feed_fails_to_resolve_the_machine_is_offline_not_the_feeds_broken(tmp_path: Path) -> None:
    # .invalid never resolves (RFC 6761): the failure a laptop without network gives for every feed
    config = write_config(
        tmp_path, feed("one", "http://news-one.invalid/feed.xml") + feed("two", "http://news-two.invalid/rss")
    )
    before = datetime.now(UTC)
    code, out, _ = invoke(config, "poll")
    assert code == 1
    assert "2 feeds: 0 ok, 0 new, 0 matched, 2 failed" in out
    assert "Offline? Every feed failed to resolve its host or reach the network: they are tried again in 60 s" in out
    for row in feeds_json(config).values():
        assert row["consecutive_failures"] == 0 and row["last_status"] == "error"
        due = datetime.fromisoformat(str(row["next_poll"]).replace("Z", "+00:00"))
        assert before + timedelta(seconds=55) <= due <= before + timedelta(seconds=120)  # not 15-20 min of back-off
    code, out, _ = invoke(config, "poll")  # back online? a poll by hand tries them at once (nothing is skipped)
    assert code == 1 and "2 failed" in out and "skipped" not in out and "Offline?" in out
    assert all(row["consecutive_failures"] == 0 for row in feeds_json(config).values())


def test_one_failing_feed_among_working_ones_backs_off_and_poll_exits_0(
    tmp_path: Path,
    news_site: NewsSite,  # noqa: F811
) -> None:
    news_site.add("mekong", *RAID)
    config = write_config(
        tmp_path,
        feed("mekong", news_site.feed_url("mekong"), "allow_private = true")
        + feed("gone", "http://gone.invalid/feed.xml"),
    )
    code, out, _ = invoke(config, "poll")
    assert code == 0
    assert "2 feeds: 1 ok, 1 new, 1 matched, 1 failed" in out
    assert "gone: failed: ConnectError fetching http://gone.invalid/feed.xml: cannot resolve gone.invalid" in out
    assert "Offline?" not in out
    assert feeds_json(config)["gone"]["consecutive_failures"] == 1


def test_an_off_channel_is_named_with_its_variable_under_poll_and_notify_test(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        "",
        extra="""
[channels.chat]
urls = ["${MONITOR_CHAT_URL:-}"]
[channels.email]
urls = ["${MONITOR_EMAIL_URL:-}"]
[[routes]]
channels = ["chat", "email"]
""",
    )
    code, out, err = invoke(config, "poll")
    assert code == 0 and "0 feeds: 0 ok" in out
    assert "monitor: warning: channel 'chat' has no URL and is off (set MONITOR_CHAT_URL)" in err
    assert "monitor: warning: channel 'email' has no URL and is off (set MONITOR_EMAIL_URL)" in err
    code, _, err = invoke(config, "notify", "test", "chat")
    assert code == 2
    assert "monitor: error: channel 'chat' has no URL and is off (set MONITOR_CHAT_URL)" in err
    assert "warning: channel 'email' has no URL and is off (set MONITOR_EMAIL_URL)" in err
    assert err.count("'chat'") == 1  # said once, as the error


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and re.fullmatch(r"monitor \d+\.\d+\.\d+\n", result.stdout)


def test_every_human_facing_time_is_in_the_configured_zone_with_its_offset_and_json_is_utc(
    tmp_path: Path,
    news_site: NewsSite,
    chat_server: ChatServer,  # noqa: F811
) -> None:
    published = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    news_site.add("mekong", *RAID, published=published)
    chat_server.status = 500  # the alert fails: its retry is due at a time shown to the second
    config = write_config(
        tmp_path,
        feed("mekong", news_site.feed_url("mekong"), "allow_private = true"),
        extra=f"""
[scheduler]
timezone = "Asia/Yangon"
[channels.chat]
urls = ["{chat_server.url()}"]
[[routes]]
channels = ["chat"]
""",
    )
    code, out, err = invoke(config, "poll")
    assert code == 0, err
    yangon = published + timedelta(hours=6, minutes=30)
    assert f"{yangon:%Y-%m-%d %H:%M} +06:30" in invoke(config, "matches")[1]  # when it was published
    assert re.search(r"next=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+06:30", invoke(config, "deliveries")[1])
    # last success to the minute, next poll (a time something is due) to the second
    assert re.search(
        r"│ \d{4}-\d\d-\d\d \d\d:\d\d \+06:30 +│ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+06:30 ",
        invoke(config, "feeds", "list")[1],
    )
    assert "UTC" not in invoke(config, "matches")[1]
    # JSON stays ISO 8601 UTC
    delivery = json.loads(invoke(config, "deliveries", "--format", "json")[1].splitlines()[0])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", delivery["next_attempt_at"])
    match = json.loads(invoke(config, "matches", "--format", "json")[1].splitlines()[0])
    assert match["article"]["published"] == f"{published:%Y-%m-%dT%H:%M:%S}Z"


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, from each process's parent in /proc/PID/stat."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit():
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:  # ended meanwhile
            pass
    found = {pid}
    for _ in range(100):  # a level of the tree a round: bounded, a process tree is not that deep
        below = {child for child, parent in parents.items() if parent in found} - found
        if not below:
            break
        found |= below
    return found - {pid}


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; its parent has not reaped it yet


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from /proc (Linux)")
def test_run_says_what_it_does_alerts_right_after_the_poll_and_kill_9_leaves_no_worker(
    tmp_path: Path,
    news_site: NewsSite,
    chat_server: ChatServer,  # noqa: F811
) -> None:
    news_site.add("mekong", *RAID)
    # A tick far longer than a start and a poll take on the busiest machine: an alert before it can only have left
    # right after its poll (it used to wait for the next tick), however long the start took
    tick = 600.0
    config = write_config(
        tmp_path,
        feed("mekong", news_site.feed_url("mekong"), "allow_private = true", "allow_private_links = true"),
        extra=f"""
[scheduler]
tick = "{tick:g}s"
[channels.chat]
urls = ["{chat_server.url()}"]
[channels.email]
urls = ["${{MONITOR_EMAIL_URL:-}}"]
[[routes]]
channels = ["chat", "email"]
""",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    log = tmp_path / "run.log"
    started = time.monotonic()
    with log.open("w") as stderr:  # a file, not a pipe: nothing blocks, and the log is read as it grows
        daemon = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        assert wait_for(lambda: bool(chat_server.messages()), 200), log.read_text()
        arrived, arrived_at = time.monotonic() - started, time.time()
        assert wait_for(lambda: "poll cycle:" in log.read_text(), 10), log.read_text()
        workers = descendants(daemon.pid)
    finally:
        daemon.kill()  # kill -9: no handler runs
        daemon.wait()
    # the alert left right after its poll, long before the next tick (it used to wait for it)
    assert arrived < tick, arrived
    assert "Scam raids" in json.dumps(chat_server.messages())
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d \+00:00", json.dumps(chat_server.messages()))  # [scheduler] timezone
    text = log.read_text()
    assert (
        f"monitor started: 1 feed, 1 rules, channels on: chat; off: email; database {tmp_path / 'monitor.db'}; "
        "tick 600 s"
    ) in text
    assert "warning: channel 'email' has no URL and is off (set MONITOR_EMAIL_URL)" in text
    cycle = re.search(
        r"^(\S+ \S+) INFO monitor.daemon: poll cycle: 1 feed: 1 ok, 1 new, 1 matched, 0 failed in ", text, re.MULTILINE
    )
    assert cycle, text
    polled_at = datetime.strptime(cycle.group(1), "%Y-%m-%d %H:%M:%S,%f").astimezone().timestamp()  # local time
    assert arrived_at - polled_at < 5  # within seconds of its poll
    # its extraction workers (forkserver, resource tracker, pool workers) die with it
    assert workers, "the poll extracted its page in a worker process"
    assert wait_for(lambda: not any(map(alive, workers)), 10), [
        Path(f"/proc/{p}/cmdline").read_bytes() for p in workers if alive(p)
    ]


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_worker_dies_with_its_parent_even_when_it_never_looks(tmp_path: Path) -> None:
    # The child sleeps and never checks on its parent (as a worker busy in C code): only the kernel can end it.
    child = (
        "import sys, time; from monitor.orphans import die_with_parent; "
        "print(die_with_parent(), flush=True); time.sleep(600)"
    )
    parent = (
        "import subprocess, sys, time; "
        f"p = subprocess.Popen([sys.executable, '-c', {child!r}]); print(p.pid, flush=True); time.sleep(600)"
    )
    process = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    try:
        pid = int(process.stdout.readline())
        assert process.stdout.readline().strip() == "True"
    finally:
        process.kill()  # kill -9 of the parent
        process.wait()
        process.stdout.close()
    assert wait_for(lambda: not alive(pid), 5)
