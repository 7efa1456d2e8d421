"""``monitor serve``: the web app in its own process, on the configured or given address, until Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_health_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    (tmp_path / "config.toml").write_text(
        f'[database]\nurl = "sqlite:///monitor.db"\n[rules]\npaths = []\n[web]\nport = {port}\n', encoding="utf-8"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(tmp_path / "config.toml"), "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.1)
        assert answer.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert f"serving http://127.0.0.1:{port}/ (read-only: no [web] token)" in err
    assert "Traceback" not in err


def test_serve_refuses_a_bad_config_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[web]\nport = 99999\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(tmp_path / "config.toml"), "serve"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "config.toml:2" in done.stderr and "Traceback" not in done.stderr
