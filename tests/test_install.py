"""The package installed from its wheel, outside the checkout: ``monitor demo`` and ``monitor init`` work from an
empty folder (the seeds, the shipped rules and the default config travel as package data)."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the built wheel (dependencies from this environment); its ``bin``."""
    root = tmp_path_factory.mktemp("install")
    wheels = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(PROJECT)],
        check=True,
        capture_output=True,
    )
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=False)
    bin_dir = env_dir / "bin"
    purelib = subprocess.run(
        [str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The dependencies come from this environment's site-packages, after the new one's (where the wheel goes).
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    wheel = next(wheels.glob("monitor-*.whl"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", purelib, str(wheel)],
        check=True,
        capture_output=True,
    )
    return bin_dir


def _monitor(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONITOR_", "PYTHON"))}
    return subprocess.run(
        [str(bin_dir / "python"), "-m", "monitor", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240
    )


def test_the_wheel_is_imported_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    found = subprocess.run(
        [str(installed / "python"), "-c", "import monitor; print(monitor.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(PROJECT) not in found and "venv" in found


def test_demo_runs_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    result = _monitor(installed, tmp_path, "demo", "--data", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    assert "kh-scam-crackdown" in result.stdout and "Second poll: not_modified" in result.stdout


def test_init_writes_a_deployment_that_checks_clean(installed: Path, tmp_path: Path) -> None:
    result = _monitor(installed, tmp_path, "init", "site")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "config.toml").read_text().startswith("# Written by `monitor init`. Edit these first")
    assert sorted(p.name for p in (tmp_path / "site" / "rules").iterdir()) == ["cambodia.yaml", "sets.yaml"]
    check = _monitor(installed, tmp_path / "site", "rules", "check")
    assert check.returncode == 0 and "9 rules OK" in check.stdout, check.stdout + check.stderr
    again = _monitor(installed, tmp_path, "init", "site")
    assert again.returncode == 2 and "exists; nothing was written" in again.stderr
