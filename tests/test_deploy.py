"""The shipped systemd units (deploy/): ``systemd-analyze verify`` accepts the template ``monitor@.service`` (an
instance of it) and ``monitor.target`` without a warning, and docs/deploying.md shows them as shipped."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
DEPLOY = PROJECT / "deploy"
SHIPPED_BINARY = "/opt/monitor/.venv/bin/monitor"
ANALYZE = shutil.which("systemd-analyze")
needs_systemd = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def installed(folder: Path, unit: str, replace: tuple[str, str] | None = None) -> Path:
    """The shipped units in ``folder`` as /etc/systemd/system would hold them, with ``monitor@2.service`` an
    instance of the template; the ExecStart binary is this checkout's (verify checks that it exists)."""
    binary = Path(sys.executable).with_name("monitor")
    for name in ("monitor@.service", "monitor.target"):
        text = (DEPLOY / name).read_text(encoding="utf-8").replace(SHIPPED_BINARY, str(binary))
        if replace is not None:
            text = text.replace(*replace)
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "monitor@2.service").symlink_to("monitor@.service")
    return folder / unit


def verify(*units: Path) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run(
        [ANALYZE, "verify", *map(str, units)], capture_output=True, text=True, timeout=120, check=False
    )


@needs_systemd
def test_systemd_accepts_the_template_unit_and_the_target_without_a_warning(tmp_path: Path) -> None:
    instance = installed(tmp_path, "monitor@2.service")
    done = verify(instance, tmp_path / "monitor.target")
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "")


@needs_systemd
def test_the_check_would_catch_a_misspelled_key(tmp_path: Path) -> None:
    """The verification above is strict enough to matter: a typo in the unit is reported."""
    instance = installed(tmp_path, "monitor@2.service", ("TimeoutStopSec=", "TimeoutStopSecs="))
    done = verify(instance)
    assert "Unknown key 'TimeoutStopSecs'" in done.stderr


def test_the_unit_runs_the_daemon_with_an_explicit_config_and_docs_show_it_as_shipped() -> None:
    unit = (DEPLOY / "monitor@.service").read_text(encoding="utf-8")
    [exec_start] = [line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("ExecStart=")]
    argv = shlex.split(exec_start)
    assert argv[0] == SHIPPED_BINARY and argv[1:] == ["--config", "/etc/monitor/config.toml", "run"]
    # The same arguments reach this checkout's command line (``run --help`` stops before reading the config).
    done = subprocess.run(
        [str(Path(sys.executable).with_name("monitor")), *argv[1:], "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    deploying = (PROJECT / "docs" / "deploying.md").read_text(encoding="utf-8")
    for name in ("monitor@.service", "monitor.target"):
        body = (DEPLOY / name).read_text(encoding="utf-8")
        assert f"```ini\n{body}```" in deploying, f"docs/deploying.md does not show deploy/{name} as shipped"
