"""Red team on the facade ``monitor.open`` (issue 12 item 2): a bad config is one ``ConfigError``, and matching
documents never creates (or needs) the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import monitor
from monitor.cli import app
from monitor.errors import ConfigError
from monitor.rules import Document
from monitor.starter import SHIPPED_RULES

RAID = Document(title="Police raid scam compound in Poipet", text="Police raided a scam compound in Poipet, Cambodia.")


@pytest.mark.parametrize("kind", ["missing", "folder", "not-utf8", "dangling-link"])
def test_a_bad_config_path_is_one_config_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "config.toml"
    if kind == "folder":
        path.mkdir()
    elif kind == "not-utf8":
        path.write_bytes(b"\xff\xfe[database]\n")
    elif kind == "dangling-link":
        path.symlink_to(tmp_path / "nowhere.toml")
    with pytest.raises(ConfigError, match="config"):
        monitor.open(path)


def test_match_never_creates_the_store(tmp_path: Path) -> None:
    db = tmp_path / "never" / "m.db"
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{db}"\n[rules]\npaths = ["{SHIPPED_RULES}"]\n', encoding="utf-8")
    with monitor.open(config) as m:
        assert "kh-scam-crackdown" in {found.rule.id for _, found in m.match([RAID])}
    assert not db.parent.exists()
    doc = tmp_path / "doc.jsonl"
    doc.write_text(json.dumps({"title": RAID.title, "text": RAID.text}) + "\n", encoding="utf-8")
    for args in (["match", str(doc)], ["rules", "explain", "kh-scam-crackdown", str(doc)]):
        result = CliRunner().invoke(app, ["--config", str(config), *args])
        assert result.exit_code == 0, result.output
    assert not db.parent.exists()
