"""A second audit of the rule loader and the ``monitor`` CLI (docs/rule-language.md sections 1, 5 and 6), one test per finding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from monitor.cli import app, common
from monitor.cli import rules as cli_rules
from monitor.rules import folder_rule_files, load_rules

RULE = "rules:\n  - id: r\n    title: t\n    query: fraud\n"


@pytest.fixture(autouse=True)
def _here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def _run(*args: str, input: str | bytes | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input)


def _match_json(*args: str, input: str | bytes | None = None) -> tuple[Result, list[dict[str, Any]]]:
    result = _run("match", "--rules", "r.yaml", "--format", "json", *args, input=input)
    return result, [json.loads(line) for line in result.stdout.splitlines()]


# 1. JSONL is split at "\n" only: JSON allows U+0085, U+2028 and U+2029 raw inside strings, and splitlines() broke
# the line there ("invalid JSON").
@pytest.mark.parametrize("sep", ["\x85", "\u2028", "\u2029"], ids=["nel", "ls", "ps"])
@pytest.mark.parametrize("where", ["stdin", "file"])
def test_jsonl_splits_lines_at_line_feeds_only(tmp_path: Path, sep: str, where: str) -> None:
    _write(tmp_path / "r.yaml", RULE)
    docs = json.dumps({"id": 1, "title": "fraud", "text": f"a{sep}fraud"}, ensure_ascii=False) + "\r\n"
    if where == "file":
        result, rows = _match_json(str(_write(tmp_path / "d.jsonl", docs)))
    else:
        result, rows = _match_json("-", input=docs)
    assert result.exit_code == 0, result.output
    assert [r["doc"] for r in rows] == [1]
    assert {"field": "text", "start": 2, "end": 7, "text": "fraud"} in rows[0]["hits"]


# 2. A JSONL field of the wrong type crashed (`"lang": 5` -> AttributeError on casefold) or was str()-ed; invalid
# UTF-8 in a .jsonl file crashed with UnicodeDecodeError. Both are one positioned line and exit 2.
@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"title": "fraud", "lang": 5}, "'lang' must be a string, not a number"),
        ({"title": "fraud", "lang": ["de"]}, "'lang' must be a string, not a list"),
        ({"title": {"a": 1}}, "'title' must be a string, not an object"),
        ({"text": "fraud", "author": True}, "'author' must be a string, not a boolean"),
        ({"text": "fraud", "feed_tags": "kt"}, "'feed_tags' must be a list of strings, not a string"),
        ({"text": "fraud", "feed_tags": ["kt", 3]}, "each item of 'feed_tags' must be a string, not a number"),
        ({"id": [1], "text": "fraud"}, "'id' must be a string or a number, not a list"),
    ],
)
def test_jsonl_wrong_field_types_are_one_line_errors(tmp_path: Path, doc: dict[str, object], message: str) -> None:
    _write(tmp_path / "r.yaml", RULE + "    lang: [de]\n")
    result = _run("match", "--rules", "r.yaml", "-", input='{"text": "x"}\n' + json.dumps(doc) + "\n")
    assert result.exit_code == 2
    assert result.output == f"monitor: error: -:2: {message}\n"


def test_jsonl_invalid_utf8_is_a_positioned_error(tmp_path: Path) -> None:
    _write(tmp_path / "r.yaml", RULE)
    bad = _write(tmp_path / "bad.jsonl", b'\xef\xbb\xbf{"text": "x"}\n{"text": "caf\xe9"}\n')
    result = _run("match", "--rules", "r.yaml", str(bad))
    assert result.exit_code == 2
    assert result.output == f"monitor: error: {bad}:2: not UTF-8 text: invalid continuation byte\n"


def test_jsonl_null_id_is_a_missing_id(tmp_path: Path) -> None:
    _write(tmp_path / "r.yaml", RULE)
    result, rows = _match_json("-", input='{"id": null, "text": "fraud", "title": null, "feed_tags": null}\n')
    assert result.exit_code == 0, result.output
    assert [r["doc"] for r in rows] == ["-:1"]
    text = _run("match", "--rules", "r.yaml", "-", input='{"id": null, "text": "fraud"}\n')
    assert text.stdout.startswith("-:1: r [medium]") and "None" not in text.stdout


# 3. rich replaced emoji codes in text from files: `:fire:` in an example, a key named `:smile:`, a rule title.
def test_emoji_codes_in_user_text_print_as_written(tmp_path: Path) -> None:
    text = 'rules:\n  - id: a\n    title: "Scam :warning: alert"\n    query: scam\n    ":smile:": 1\n'
    text += '    examples:\n      no_match: ["scam :fire: here"]\n'
    check = _run("rules", "check", str(_write(tmp_path / "e.yaml", text)))
    assert check.exit_code == 2
    assert "'scam :fire: here'" in check.stdout and "unknown key ':smile:'" in check.stdout

    _write(tmp_path / "r.yaml", 'rules:\n  - id: a\n    title: "Scam :warning: alert"\n    query: scam\n')
    found = _run("match", "--rules", "r.yaml", str(_write(tmp_path / "d.txt", "a scam :fire: here\n")))
    assert found.exit_code == 0
    assert "a [medium] Scam :warning: alert" in found.stdout and ":fire:" in found.stdout


@pytest.mark.parametrize("console", [common.console, common.err_console, cli_rules._out], ids=["out", "err", "rules"])
def test_every_cli_console_leaves_emoji_codes_alone(console: Console) -> None:
    with console.capture() as captured:
        console.print("feed :fire: title")
    assert captured.get() == "feed :fire: title\n"


# 4. A UTF-8 BOM counted as a column on line 1 for errors placed by offset (query and set entry errors).
def test_a_bom_does_not_shift_line_1_columns(tmp_path: Path) -> None:
    text = 'sets: {s: ["a OR b"]}\nrules: [{id: a, title: t, query: "x AND body:y"}]\n'
    plain = _run("rules", "check", str(_write(tmp_path / "plain.yaml", text))).stdout
    bom = _run("rules", "check", str(_write(tmp_path / "bom.yaml", "\ufeff" + text))).stdout
    assert bom.replace("bom.yaml", "plain.yaml") == plain
    assert "bom.yaml:1:15: in set 's'" in bom

    line1 = _write(tmp_path / "one.yaml", '\ufeffrules: [{id: a, title: t, query: "x AND body:y"}]\n')
    assert "one.yaml:1:41: query of rule 'a': unknown field 'body'" in _run("rules", "check", str(line1)).stdout


# 5. A list as a mapping key gave "unknown top-level key '[ScalarNode(tag=...'": say what is wrong, where.
@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("? [a, b]\n: 1\n", "1:3: unknown top-level key: a key must be a string, not a list"),
        ("sets:\n  ? {a: 1}\n  : [x]\n", "2:5: invalid set name: a key must be a string, not a mapping"),
        (
            RULE + "    examples:\n      ? [match]\n      : [fraud]\n",
            "6:9: unknown key in the examples of rule 'r': a key must be a string, not a list",
        ),
        (
            RULE + "    examples:\n      match:\n        - ? [title]\n          : fraud\n",
            "7:13: unknown key in examples.match[1] of rule 'r': a key must be a string, not a list",
        ),
    ],
    ids=["top-level", "set-name", "examples", "example-doc"],
)
def test_a_non_string_key_is_a_readable_positioned_error(tmp_path: Path, text: str, error: str) -> None:
    path = _write(tmp_path / "k.yaml", text)
    result = _run("rules", "check", str(path))
    assert result.exit_code == 2
    assert result.stdout.splitlines()[0] == f"{path}:{error}"
    assert "Node(" not in result.stdout


# 6. A NUL byte: yaml.reader.ReaderError has no mark, so the error said 1:1 and '"<unicode string>", position 1'.
def test_an_unacceptable_character_is_placed_by_its_position(tmp_path: Path) -> None:
    path = _write(tmp_path / "n.yaml", "rules: []\na\x00b: 1\n")
    result = _run("rules", "check", str(path))
    assert result.exit_code == 2
    assert result.stdout.splitlines()[0] == (
        f"{path}:2:2: invalid YAML: unacceptable character #x0000 (special characters are not allowed)"
    )


# 7. A .txt input with a UTF-8 BOM kept U+FEFF in the title and every offset was one too large.
def test_a_txt_bom_is_not_part_of_the_document(tmp_path: Path) -> None:
    _write(tmp_path / "r.yaml", RULE)
    doc = _write(tmp_path / "d.txt", "\ufefffraud alert\nbody\n")
    result, rows = _match_json(str(doc))
    assert result.exit_code == 0, result.output
    assert rows[0]["hits"][0] == {"field": "title", "start": 0, "end": 5, "text": "fraud"}
    assert rows[0]["snippet"] == "fraud alert body"


# 8. A malformed seed expectations file crashed `rules test` with AttributeError.
@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("seeds:\n  doc1.txt: [x]\n", "2:13: seed 'doc1.txt' must be a mapping, not a list"),
        ("- a\n", "1:1: the seed expectations must be a mapping, not a list"),
        ("seeds: [doc1.txt]\n", "1:8: 'seeds' must be a mapping, not a list"),
        ("seeds:\n  doc1.txt: {match: r}\n", "2:21: the rule ids of seed 'doc1.txt' must be a list, not a string"),
        ("seeds:\n  doc1.txt: {match: [[r]]}\n", "2:22: each rule id of seed 'doc1.txt' must be a string, not a list"),
        (
            "seeds:\n  doc1.txt: {matches: [r]}\n",
            "2:14: unknown key 'matches' in seed 'doc1.txt' (did you mean 'match'?)",
        ),
    ],
)
def test_a_malformed_seeds_file_is_a_positioned_error(tmp_path: Path, text: str, error: str) -> None:
    _write(tmp_path / "r.yaml", RULE)
    _write(tmp_path / "doc1.txt", "fraud\n")
    seeds = _write(tmp_path / "exp.yaml", text)
    result = _run("rules", "test", "--seeds", str(seeds), "r.yaml")
    assert result.exit_code == 2
    assert result.output == f"monitor: error: {seeds}:{error}\n"


def test_a_well_formed_seeds_file_still_runs(tmp_path: Path) -> None:
    _write(tmp_path / "r.yaml", RULE)
    _write(tmp_path / "doc1.txt", "fraud\n")
    seeds = _write(tmp_path / "exp.yaml", "seeds:\n  doc1.txt:\n    match: [r]\n  doc2.txt:\n    no_match: [r]\n")
    result = _run("rules", "test", "--seeds", str(seeds), "r.yaml")
    assert result.exit_code == 1
    assert "FAIL seed doc2.txt: rule 'r' should not match, but no such seed file" in result.stdout
    assert "0 examples, 1 failure" in result.stdout


# 9. `match` stopped at the first bad input; as grep, it reports it, goes on, and exits 2 at the end.
def test_match_goes_on_after_a_bad_input(tmp_path: Path) -> None:
    _write(tmp_path / "r.yaml", RULE)
    _write(tmp_path / "a.txt", "fraud one\n")
    _write(tmp_path / "bad.jsonl", '{"id": "b1", "text": "fraud"}\n{not json\n{"id": "b3", "text": "fraud"}\n')
    _write(tmp_path / "c.txt", "fraud two\n")
    result, rows = _match_json("missing.txt", "a.txt", "bad.jsonl", "c.txt")
    assert result.exit_code == 2
    assert [r["doc"] for r in rows] == ["a.txt", "b1", "c.txt"]
    assert result.stderr.splitlines() == [
        "monitor: error: missing.txt: no such file",
        "monitor: error: bad.jsonl:2: invalid JSON: Expecting property name enclosed in double quotes",
    ]
    assert _run("match", "--rules", "r.yaml", "missing.txt").exit_code == 2  # no match and an error: still 2


# 10. A folder scan loaded hidden files and folders (`.git/x.yaml`, `.y.yaml`); one named explicitly still loads.
def test_a_folder_scan_skips_hidden_files_and_folders(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    _write(folder / "kh.yaml", RULE)
    _write(folder / "sub" / "more.yml", "rules: []\n")
    _write(folder / ".git" / "x.yaml", "broken: [\n")
    hidden = _write(folder / ".y.yaml", "rules:\n  - id: hidden\n    title: t\n    query: scam\n")
    assert folder_rule_files(folder) == [folder / "kh.yaml", folder / "sub" / "more.yml"]
    result = _run("rules", "check", str(folder))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "1 rule OK"
    assert [r.id for r in load_rules([folder, hidden]).rules] == ["r", "hidden"]


# `rules test FILE` in a project folder counted the seed expectations of every rule not in FILE as failures.
def test_rules_test_of_some_files_skips_other_rules_seed_expectations(tmp_path: Path) -> None:
    _write(tmp_path / "r.yaml", RULE + "    examples:\n      match: [fraud here]\n")
    _write(tmp_path / "seeds" / "doc1.txt", "fraud\n")
    _write(tmp_path / "seeds" / "expectations.yaml", "seeds:\n  doc1.txt:\n    match: [r, other-rule]\n")
    result = _run("rules", "test", "r.yaml")
    assert result.exit_code == 0, result.stdout
    assert (
        "1 example, 0 failures (1 seed expectations skipped: their rules are not in the given paths)" in result.stdout
    )
    _write(tmp_path / "seeds" / "expectations.yaml", "seeds:\n  doc1.txt:\n    no_match: [r]\n")
    failed = _run("rules", "test", "r.yaml")
    assert failed.exit_code == 1
    assert "FAIL seed doc1.txt: rule 'r' should not match" in failed.stdout


def test_explain_says_when_the_rule_is_disabled(tmp_path: Path) -> None:
    _write(tmp_path / "r.yaml", RULE + "    enabled: false\n")
    _write(tmp_path / "a.txt", "fraud here\n")
    result = _run("rules", "explain", "--rules", "r.yaml", "r", "a.txt")
    assert result.exit_code == 0, result.stdout
    assert "rule 'r' matches a.txt (the rule is disabled: the pipeline never runs it)" in result.stdout
