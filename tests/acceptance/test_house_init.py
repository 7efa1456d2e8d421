"""Red team on ``monitor init`` (issue 12 item 5): it writes a starter deployment, and only there.

Never through a symbolic link into another path (a config.toml or rules/ that points elsewhere, even dangling), never
over existing files without ``--force``; a folder that is a file or that cannot be written is one error.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app


def _init(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["init", *args])
    return result.exit_code, result.output


def test_init_writes_config_and_rules_then_refuses_to_overwrite(tmp_path: Path) -> None:
    code, out = _init(str(tmp_path))
    assert code == 0, out
    assert (tmp_path / "config.toml").read_text(encoding="utf-8").startswith("# Written by `monitor init`")
    (tmp_path / "config.toml").write_text("# mine\n", encoding="utf-8")
    code, out = _init(str(tmp_path))
    assert code == 2 and "exists" in out and "--force" in out
    assert (tmp_path / "config.toml").read_text(encoding="utf-8") == "# mine\n"


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
@pytest.mark.parametrize("dangling", [False, True], ids=["existing-target", "dangling"])
def test_init_never_writes_through_a_symlinked_config(tmp_path: Path, force: bool, dangling: bool) -> None:
    folder, victim = tmp_path / "deploy", tmp_path / "elsewhere" / "victim.toml"
    folder.mkdir()
    victim.parent.mkdir()
    if not dangling:
        victim.write_text("precious = true\n", encoding="utf-8")
    (folder / "config.toml").symlink_to(victim)
    code, out = _init(str(folder), *(["--force"] if force else []))
    assert code == 2, out
    assert "symbolic link" in out or "exists" in out
    assert (victim.read_text(encoding="utf-8") == "precious = true\n") if not dangling else not victim.exists()
    assert not (folder / "rules").exists()  # nothing was written


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
def test_init_never_writes_rules_into_a_symlinked_folder_or_file(tmp_path: Path, force: bool) -> None:
    folder, elsewhere = tmp_path / "deploy", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (folder / "rules").symlink_to(elsewhere)
    code, out = _init(str(folder), *(["--force"] if force else []))
    assert code == 2 and "symbolic link" in out, out
    assert list(elsewhere.iterdir()) == [] and not (folder / "config.toml").exists()
    (folder / "rules").unlink()
    (folder / "rules").mkdir()
    (folder / "rules" / "sets.yaml").symlink_to(elsewhere / "sets.yaml")
    code, out = _init(str(folder), "--force")
    assert code == 2 and "symbolic link" in out, out
    assert list(elsewhere.iterdir()) == []


def test_init_into_a_file_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    code, out = _init(str(tmp_path / "file"))
    assert code == 2 and "cannot write the starter files" in out and "Traceback" not in out


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_init_into_a_read_only_folder_is_one_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        code, out = _init(str(folder))
    finally:
        folder.chmod(0o755)
    assert code == 2 and "cannot write the starter files" in out
