"""``monitor run`` with ``[web] enabled = true``: the daemon serves the web app in its own process, on its own
event loop (``/readyz`` follows the scheduler, ``/metrics`` counts this process's fetches, "poll now" polls on the
daemon's loop), and both stop together on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.api import Monitor
from monitor.config import DatabaseSettings, Settings
from monitor.daemon import Daemon
from monitor.rules import RuleSet
from tests.daemon.test_daemon import RULE, wait_for
from tests.support.newssite import NewsSite

TOKEN = "daemon-web-t0ken"
BEARER = {"authorization": f"Bearer {TOKEN}"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(tmp_path: Path, site: NewsSite, port: int) -> Path:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "r.yaml").write_text(RULE.format(id="raids"), encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///monitor.db"
[scheduler]
tick = "1s"
[fetch]
allow_private = true
extract_processes = 1
[web]
enabled = true
port = {port}
token = "{TOKEN}"
[[feeds]]
name = "mekong"
url = "{site.feed_url("mekong")}"
""",
        encoding="utf-8",
    )
    return config


def _start(config: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def port() -> int:
    return _free_port()


@pytest.fixture
def daemon(tmp_path: Path, news_site: NewsSite, port: int) -> Iterator[subprocess.Popen[str]]:  # noqa: F811
    news_site.add("mekong", "Police raid scam compound in Bavet", "Police raided a scam compound in Bavet on Monday.")
    process = _start(_config(tmp_path, news_site, port))
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def _get(url: str, **kwargs: object) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2, **kwargs)  # type: ignore[arg-type]
    except httpx.TransportError:
        return None


def _samples(text: str) -> dict[str, float]:
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples if not s.labels}


@pytest.mark.slow
def test_run_serves_the_app_and_stops_with_it_on_sigterm(
    daemon: subprocess.Popen[str],
    news_site: NewsSite,  # noqa: F811
    port: int,
) -> None:
    base = f"http://127.0.0.1:{port}"
    assert wait_for(lambda: _get(f"{base}/healthz") is not None or daemon.poll() is not None), "never served"
    assert daemon.poll() is None, daemon.communicate()[0]
    ready = _get(f"{base}/readyz")
    assert ready is not None and ready.status_code == 200 and ready.json() == {"status": "ok"}
    assert _get(f"{base}/metrics").status_code == 401  # type: ignore[union-attr]

    def polled() -> bool:
        answer = _get(f"{base}/metrics", headers=BEARER)
        return answer is not None and _samples(answer.text).get("monitor_articles_total", 0) >= 1

    assert wait_for(polled), "the daemon's poll never showed in /metrics"
    metrics = _samples(_get(f"{base}/metrics", headers=BEARER).text)  # type: ignore[union-attr]
    assert metrics["monitor_feed_fetch_duration_seconds_count"] >= 1  # fetched by this very process
    assert metrics["monitor_last_successful_poll_timestamp_seconds"] > time.time() - 120

    # "poll now" runs on the daemon's loop: a real fetch of the feed, its result in the answer
    before = len(news_site.hits("/feeds/mekong.xml"))
    answer = httpx.post(f"{base}/api/v1/feeds/mekong/poll", headers=BEARER, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["feed"] == "mekong" and answer.json()["status"] in ("ok", "not_modified")
    assert len(news_site.hits("/feeds/mekong.xml")) > before

    started = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    output, _ = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, output
    assert time.monotonic() - started < 15
    assert f"web app at http://127.0.0.1:{port}" in output and "daemon stopped" in output
    assert "Traceback" not in output
    assert _get(f"{base}/healthz") is None  # the port is closed with the daemon


def test_a_port_in_use_stops_the_start_with_one_line(tmp_path: Path, news_site: NewsSite) -> None:  # noqa: F811
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process = _start(_config(tmp_path, news_site, taken.getsockname()[1]))
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 2, output
    assert "web: cannot listen on 127.0.0.1:" in output and "Traceback" not in output


def test_readiness_follows_the_scheduler_ticks(tmp_path: Path) -> None:
    settings = Settings(database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'm.db'}"))
    daemon = Daemon.of(Monitor(settings, rules=RuleSet(())))
    assert daemon.readiness() is None
    daemon._last_tick -= 3 * settings.scheduler.tick  # more than two ticks went by without a tick
    reason = daemon.readiness()
    assert reason is not None and reason.startswith("the scheduler has not ticked for 9")
    daemon.stop()
    assert daemon.readiness() == "the daemon is stopping"
