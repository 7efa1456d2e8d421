"""docs/rule-language.md section 5: ``monitor rules check|test|explain`` and ``monitor match``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

try:
    from monitor.cli.rules import match, rules_app
except ImportError:  # pragma: no cover - the cli package is assembled by the lead; test our module alone
    import importlib.util
    import sys

    _spec = importlib.util.spec_from_file_location(
        "_monitor_cli_rules", Path(__file__).parents[2] / "monitor" / "cli" / "rules.py"
    )
    assert _spec is not None and _spec.loader is not None
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules["_monitor_cli_rules"] = _mod
    _spec.loader.exec_module(_mod)
    match, rules_app = _mod.match, _mod.rules_app

RULES = """\
sets:
  places: [Poipet, "Phnom Penh"]
rules:
  - id: kh-raid
    title: Raids in Cambodia
    query: 'raid* AND @places'
    severity: high
    examples:
      match: ["Police raided a compound in Poipet"]
      no_match: ["A raid in Bangkok"]
"""


@pytest.fixture()
def app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> typer.Typer:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    root = typer.Typer()
    root.add_typer(rules_app, name="rules")
    root.command("match")(match)
    return root


def _rules(tmp_path: Path, text: str = RULES) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    (folder / "kh.yaml").write_text(text, encoding="utf-8")
    return folder


def test_check_clean(app: typer.Typer, tmp_path: Path) -> None:
    _rules(tmp_path)
    result = CliRunner().invoke(app, ["rules", "check"])  # default ./rules
    assert result.exit_code == 0, result.output
    assert "1 rule OK" in result.output


def test_check_errors_exit_2_with_positions(app: typer.Typer, tmp_path: Path) -> None:
    folder = _rules(tmp_path, "rules:\n  - {id: a, title: t, qeury: x}\n")
    result = CliRunner().invoke(app, ["rules", "check", str(folder)])
    assert result.exit_code == 2
    assert f"{folder / 'kh.yaml'}:2:23: unknown key 'qeury' in rule 'a' (did you mean 'query'?)" in result.output
    assert "Traceback" not in result.output


def test_check_prints_warnings(app: typer.Typer, tmp_path: Path) -> None:
    folder = _rules(tmp_path, "rules:\n  - {id: a, title: t, query: '/sc.m/'}\n")
    result = CliRunner().invoke(app, ["rules", "check", str(folder)])
    assert result.exit_code == 0
    assert "warning:" in result.output and "regex scan" in result.output


def test_test_runs_examples_and_seed_expectations(app: typer.Typer, tmp_path: Path) -> None:
    _rules(tmp_path)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "000_a.txt").write_text("Raid in Poipet\nPolice raided a casino in Poipet.", encoding="utf-8")
    (seeds / "001_b.txt").write_text("Weather\nSunny in Phnom Penh.", encoding="utf-8")
    (seeds / "expectations.yaml").write_text(
        'seeds:\n  "000_a.txt": {match: [kh-raid]}\n  "001_b.txt": {no_match: [kh-raid]}\n', encoding="utf-8"
    )
    result = CliRunner().invoke(app, ["rules", "test"])
    assert result.exit_code == 0, result.output
    (seeds / "expectations.yaml").write_text('seeds:\n  "001_b.txt": {match: [kh-raid]}\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["rules", "test"])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "001_b.txt" in result.output and "✗ false" in result.output


def test_test_reports_failing_examples_with_explanation(app: typer.Typer, tmp_path: Path) -> None:
    _rules(tmp_path, RULES.replace("A raid in Bangkok", "A raid in Poipet"))
    result = CliRunner().invoke(app, ["rules", "test"])
    assert result.exit_code == 1
    assert "no_match example 1 of rule 'kh-raid' should not match but does" in result.output
    assert "✓ true" in result.output


def test_test_rule_errors_exit_2(app: typer.Typer, tmp_path: Path) -> None:
    _rules(tmp_path, "rules: null\n")
    assert CliRunner().invoke(app, ["rules", "test"]).exit_code == 2


def test_explain_shows_tree(app: typer.Typer, tmp_path: Path) -> None:
    _rules(tmp_path)
    doc = tmp_path / "a.txt"
    doc.write_text("\nRaid\nPolice raided a casino in Poipet.", encoding="utf-8")
    result = CliRunner().invoke(app, ["rules", "explain", "kh-raid", str(doc)])
    assert result.exit_code == 0, result.output
    assert "✓ true  raid* AND @places" in result.output
    assert "'raided'" in result.output and '✗ false  "phnom penh"' in result.output
    bad = CliRunner().invoke(app, ["rules", "explain", "nope", str(doc)])
    assert bad.exit_code == 2 and "monitor: error: no rule with id 'nope'" in bad.output


def test_match_json_lines_from_stdin(app: typer.Typer, tmp_path: Path) -> None:
    _rules(tmp_path)
    lines = [
        {"id": "d1", "title": "Raid", "text": "Police raided a casino in Poipet.", "lang": "en"},
        {"id": "d2", "title": "Nothing", "text": "Sunny."},
    ]
    stdin = "\n".join(json.dumps(x) for x in lines) + "\n"
    result = CliRunner().invoke(app, ["match", "--format", "json", "-"], input=stdin)
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert row["doc"] == "d1" and row["rule"] == "kh-raid" and row["severity"] == "high"
    assert {"field": "text", "start": 7, "end": 13, "text": "raided"} in row["hits"]
    assert row["hits"][0] == {"field": "title", "start": 0, "end": 4, "text": "Raid"}
    assert "**" not in row["snippet"]


def test_match_txt_text_output_and_exit_codes(app: typer.Typer, tmp_path: Path) -> None:
    _rules(tmp_path)
    doc = tmp_path / "a.txt"
    doc.write_text("Raid\nPolice raided a casino in Poipet.", encoding="utf-8")
    miss = tmp_path / "b.txt"
    miss.write_text("Nothing here", encoding="utf-8")
    result = CliRunner().invoke(app, ["match", "--rules", str(tmp_path / "rules"), str(doc)])
    assert result.exit_code == 0
    assert "kh-raid [high]" in result.output and "**raided**" in result.output
    assert CliRunner().invoke(app, ["match", str(miss)]).exit_code == 1
    bad = CliRunner().invoke(app, ["match", str(tmp_path / "missing.txt")])
    assert bad.exit_code == 2 and "monitor: error:" in bad.output and "Traceback" not in bad.output


def test_match_bad_jsonl_is_one_line_error(app: typer.Typer, tmp_path: Path) -> None:
    _rules(tmp_path)
    result = CliRunner().invoke(app, ["match", "-"], input="{not json\n")
    assert result.exit_code == 2
    assert "monitor: error: -:1: invalid JSON" in result.output
