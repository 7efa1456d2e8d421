"""Issue 13, the rules part of a newcomer's first hour, through the real CLI: warnings for operator look-alikes,
every error of a query, readable YAML errors, a short ``rules explain`` with exit statuses, ``rules new``, plurals,
``match`` in colour on a terminal only, ``matches --rule`` naming no rule, and ``rules check`` with no config."""

from __future__ import annotations

import os
import pty
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.store import Store


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder as the current one: no config.toml, no rules/."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def rule_file(folder: Path, query: str, *, sets: str = "", name: str = "r.yaml") -> Path:
    (folder / "rules").mkdir(exist_ok=True)
    path = folder / "rules" / name
    path.write_text(f"{sets}rules:\n  - id: r\n    title: t\n    query: '{query}'\n", encoding="utf-8")
    return path


# --- item 2: operator look-alikes are warnings, with file:line:column and what was probably meant


@pytest.mark.parametrize(
    ("query", "column", "message"),
    [
        ("junta or tatmadaw", 19, "'or' is a word here; write OR for either"),
        ("junta Or tatmadaw", 19, "'Or' is a word here; write OR for either"),
        ("junta and tatmadaw", 19, "'and' is a word here; write AND for both"),
        ("junta not tatmadaw", 19, "'not' is a word here; write NOT to exclude"),
        ("junta near airstrike", 19, "'near' is a word here; write NEAR/n for words at most n apart (e.g. NEAR/5)"),
        ("junta NEAR5 airstrike", 19, "'NEAR5' is a word here; write NEAR/5 for words at most 5 apart"),
        ("junta Near/5 airstrike", 19, "'Near/5' is a word here; write NEAR/5 for words at most 5 apart"),
        ("junta near/5 airstrike", 19, "'near/5' is a word here; write NEAR/5 for words at most 5 apart"),
        (
            "junta ONEAR5 airstrike",
            19,
            "'ONEAR5' is a word here; write ONEAR/5 for words at most 5 apart in this order",
        ),
    ],
)
def test_operator_lookalikes_are_warned_about_in_check_and_test(
    here: Path, query: str, column: int, message: str
) -> None:
    path = rule_file(here, query)
    warning = f"warning: {path}:4:{column}: query of rule 'r': {message}"
    code, out, _ = invoke("rules", "check")
    assert code == 0  # a warning, not an error: lower-case operators are words by the contract
    assert warning in out and "1 rule OK" in out
    code, out, _ = invoke("rules", "test")
    assert code == 0 and warning in out


@pytest.mark.parametrize(
    "query",
    [
        '"rock and roll" OR jazz',
        "feed:or AND junta",
        'junta "or" tatmadaw',
        "rock n roll",
        "and junta",
        "junta OR tatmadaw",
    ],
)
def test_words_that_are_not_between_terms_or_are_quoted_are_not_warned_about(here: Path, query: str) -> None:
    rule_file(here, query)
    code, out, _ = invoke("rules", "check")
    assert code == 0 and "warning" not in out


def test_warnings_and_errors_of_one_query_are_bounded(here: Path) -> None:
    rule_file(here, " or ".join(["junta"] * 5000))
    code, out, _ = invoke("rules", "check")
    assert code == 0 and out.count("'or' is a word here") == 10
    rule_file(here, " AND ".join(["@Bad"] * 5000))
    code, out, _ = invoke("rules", "check")
    assert code == 2 and out.count("a set name after '@'") == 10
    assert "stopped reading the query after 10 errors" in out and "11 errors: the rule set is rejected" in out


@pytest.mark.slow  # a daemon subprocess, as tests/daemon/test_daemon.py
def test_the_daemon_logs_lookalikes_at_start_and_at_reload(tmp_path: Path) -> None:
    rule = rule_file(tmp_path, "junta or tatmadaw")
    (tmp_path / "config.toml").write_text(
        '[database]\nurl = "sqlite:///m.db"\n[scheduler]\ntick = "1s"\n[fetch]\nextract_processes = 1\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(tmp_path / "config.toml"), "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in daemon.stdout or ()], daemon=True).start()

    def next_warning() -> str:
        while "warning" not in (line := lines.get(timeout=30)):  # queue.Empty: the daemon never logged it
            pass
        return line

    try:
        assert f"{rule}:4:19: query of rule 'r': 'or' is a word here; write OR for either" in next_warning()
        rule.write_text("rules:\n  - id: r\n    title: t\n    query: junta Near/5 airstrike\n", encoding="utf-8")
        assert f"{rule}:4:18: query of rule 'r': 'Near/5' is a word here; write NEAR/5" in next_warning()
    finally:
        daemon.terminate()
        daemon.communicate(timeout=30)


# --- item 2: every error of a query, "did you mean" for sets, readable YAML


def test_every_error_of_a_query_is_reported_with_did_you_mean_for_sets(here: Path) -> None:
    path = rule_file(
        here,
        "@place AND Title:x AND ra* AND x NEAR y AND (a OR NOT b)",
        sets="sets:\n  places: [Poipet]\n  army: [tatmadaw, '@plces']\n",
    )
    code, out, _ = invoke("rules", "check")
    assert code == 2
    assert out.splitlines() == [
        f"{path}:3:20: undefined set '@plces' in set 'army' (did you mean 'places'?)",
        f"{path}:7:13: query of rule 'r': undefined set '@place' (did you mean 'places'?)",
        f"{path}:7:24: query of rule 'r': unknown field 'Title' (field names are lower case); "
        "fields are title, text, url, author, feed, lang",
        f"{path}:7:36: query of rule 'r': 'ra*': a wildcard needs at least 3 letters before the first '*'",
        f"{path}:7:46: query of rule 'r': NEAR needs a distance: write NEAR/n with n a whole number",
        f"{path}:7:63: query of rule 'r': OR branch 'NOT b' has no positive term: each OR branch must search "
        "for a word",
        "6 errors: the rule set is rejected",
    ]


def test_a_structural_error_ends_the_query_after_the_errors_before_it(here: Path) -> None:
    path = rule_file(here, "@nope AND (a OR b")
    code, out, _ = invoke("rules", "check")
    assert code == 2
    assert f"{path}:4:13: query of rule 'r': undefined set '@nope'" in out
    assert f"{path}:4:23: query of rule 'r': missing ')' to close this '('" in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "rules:\n  - id: a\n    title: t\n   query: x\n",
            "4:4: invalid YAML: bad indentation: this line starts at column 4, the line above at column 5; the keys of "
            "one mapping, and the '-' items of one list, must start in the same column",
        ),
        (
            "rules:\n  - id: a\n    title: t\n      query: x\n",
            "4:7: invalid YAML: bad indentation: this line starts at column 7, the line above at column 5",
        ),
        (
            "rules:\n  - id: a\n    title: Raids: Cambodia\n    query: x\n",
            "3:17: invalid YAML: a second ': ' on this line: quote a value that holds ': ' (title: 'Raids: Cambodia')",
        ),
        ("rules:\n\t- id: a\n", "2:1: invalid YAML: a tab character: indent with spaces only"),
        (
            "rules:\n  - id: a\n    title\n    query: x\n",
            "4:5: invalid YAML: the text at line 3, column 5 is neither "
            "'key: value' nor a '- ' item: a ':' is missing after its key",
        ),
        (
            "rules:\n  - id: a\n    title: t\n    query: 'x\n",
            "5:1: invalid YAML: the quote opened at line 4, column 12 is never closed",
        ),
        (
            "rules:\n  - id: a\n    tags: [a, b\n    query: x\n",
            "4:10: invalid YAML: the '[' opened at line 3, column 11 needs a ',' between items and a closing ']'",
        ),
    ],
)
def test_yaml_errors_are_readable_and_positioned(here: Path, text: str, expected: str) -> None:
    (here / "rules").mkdir()
    (here / "rules" / "r.yaml").write_text(text, encoding="utf-8")
    code, out, _ = invoke("rules", "check")
    assert code == 2
    assert f"rules/r.yaml:{expected}" in out
    assert "block end" not in out and "<block" not in out


# --- item 3: rules explain is short by default, --all shows every entry, exit 1 when the rule does not match

BIG_SET = "sets:\n  places: [Poipet, " + ", ".join(f"place{i}" for i in range(200)) + "]\n"


def test_explain_shows_true_entries_and_a_few_false_ones_and_exits_by_verdict(here: Path) -> None:
    rule_file(here, "raid* AND @places", sets=BIG_SET)
    (here / "hit.txt").write_text("Police raid in Poipet\n", encoding="utf-8")
    (here / "miss.txt").write_text("Police raid in Bangkok\n", encoding="utf-8")
    code, out, _ = invoke("rules", "explain", "r", "hit.txt")
    assert code == 0
    assert out.splitlines()[0] == "rule 'r' matches hit.txt"
    assert "✓ true  poipet  'Poipet'" in out
    assert "… 197 more false entries (--all shows them)" in out  # 1 true and 3 false of its 201 entries shown
    assert len(out.splitlines()) < 15
    code, out, _ = invoke("rules", "explain", "r", "hit.txt", "--all")
    assert code == 0 and "place199" in out and "more false" not in out
    code, out, _ = invoke("rules", "explain", "r", "miss.txt")
    assert code == 1
    assert out.splitlines()[:2] == ["rule 'r' does not match miss.txt", "  false: @places"]
    assert "… 198 more false entries (--all shows them)" in out
    code, _, err = invoke("rules", "explain", "nope", "hit.txt")
    assert code == 2 and "nope" in err


def test_explain_says_when_the_rules_filters_leave_a_document_out(here: Path) -> None:
    path = rule_file(here, "raid*")
    path.write_text(path.read_text() + "    lang: [km]\n", encoding="utf-8")
    (here / "a.jsonl").write_text('{"id": "a", "title": "Police raid", "text": "", "lang": "en"}\n', encoding="utf-8")
    code, out, _ = invoke("rules", "explain", "r", "a.jsonl")
    assert code == 1
    assert out.splitlines()[:2] == [
        "rule 'r' does not match a",
        "  the query is true, but the rule's filters (lang: [km]) leave this document out",
    ]


# --- rules new: a skeleton that passes check as written, never overwritten, with the next step


def test_rules_new_writes_a_valid_commented_skeleton_and_refuses_to_overwrite(here: Path) -> None:
    code, out, _ = invoke("rules", "new", "kh-raids")
    assert code == 0
    assert out.splitlines() == [
        "wrote rules/kh-raids.yaml: replace its placeholder words with yours",
        "Next: monitor rules test  (runs its examples)",
    ]
    text = (here / "rules" / "kh-raids.yaml").read_text(encoding="utf-8")
    for part in (
        "title:",
        "description:",
        "query: '@kh_raids_terms",
        "severity:",
        "tags:",
        "match:",
        "no_match:",
        "# ",
    ):
        assert part in text
    code, out, _ = invoke("rules", "check")
    assert (code, out) == (0, "1 rule OK\n")
    code, out, _ = invoke("rules", "test")
    assert code == 0 and "3 examples, 0 failures" in out
    # a second rule has its own set, so the two load together
    code, out, _ = invoke("rules", "new", "kh.rescues", "--file", "elsewhere/rescues.yaml")
    assert code == 0 and "Next: monitor rules test elsewhere/rescues.yaml" in out
    assert invoke("rules", "check", "rules", "elsewhere")[:2] == (0, "2 rules OK\n")
    before = text
    code, _, err = invoke("rules", "new", "other", "--file", "rules/kh-raids.yaml")
    assert (
        code == 2
        and err == "monitor: error: rules/kh-raids.yaml exists: not overwritten (name another file with --file)\n"
    )
    assert (here / "rules" / "kh-raids.yaml").read_text(encoding="utf-8") == before
    code, _, err = invoke("rules", "new", "kh-raids", "--file", "new.yaml")
    assert code == 2 and "rule 'kh-raids' already exists at" in err and not (here / "new.yaml").exists()
    code, _, err = invoke("rules", "new", "Kh Raids")
    assert code == 2 and "invalid rule id 'Kh Raids'" in err


# --- item 10: outside a deployment, say what is in use and how to start


def test_check_without_config_or_rules_says_defaults_are_in_use_and_how_to_start(here: Path) -> None:
    code, out, err = invoke("rules", "check")
    assert code == 2 and out == ""
    assert err == (
        f"monitor: error: no rules to load: there is no config.toml in {here}, so the built-in defaults "
        f"are in use, and they look for rules in {here / 'rules'}, which does not exist. To start: "
        "`monitor init` (writes config.toml and rules/ here), then `monitor rules new ID` for a rule of "
        "your own; or name rule files: `monitor rules check PATH`, `monitor match --rules PATH INPUT`\n"
    )


def test_a_folder_without_rule_files_is_warned_about(here: Path) -> None:
    (here / "rules").mkdir()
    (here / "rules" / "notes.txt").write_text("not a rule file\n", encoding="utf-8")
    code, out, _ = invoke("rules", "check")
    assert code == 0
    assert out == f"warning: {here / 'rules'}:1:1: no rule files (*.yaml, *.yml) in this folder\n0 rules OK\n"


# --- item 13: plurals, --rules repeatable, colour on a terminal only, matches --rule naming no rule


def test_counts_are_singular_for_one(here: Path) -> None:
    path = rule_file(here, "raid*")
    path.write_text(path.read_text() + "    examples:\n      match: ['A raid']\n", encoding="utf-8")
    assert invoke("rules", "check")[1] == "1 rule OK\n"
    assert "1 example, 0 failures" in invoke("rules", "test")[1]


def test_rules_option_is_shown_as_repeatable() -> None:
    for command in (["match"], ["rules", "explain"]):
        out = CliRunner().invoke(app, [*command, "--help"], terminal_width=200).stdout
        assert "repeatable: --rules a.yaml --rules b/" in " ".join(out.split())


def test_match_uses_colour_on_a_terminal_and_stars_when_piped(here: Path) -> None:
    rule_file(here, "raid*")
    (here / "a.txt").write_text("Police raid in Poipet\n", encoding="utf-8")
    command = [sys.executable, "-m", "monitor", "match", "a.txt"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")} | {"TERM": "xterm", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    assert invoke("match", "a.txt")[:2] == (0, "a.txt: r [medium] t\n  Police **raid** in Poipet\n")  # not a tty
    primary, secondary = pty.openpty()
    tty = subprocess.run(command, stdout=secondary, stderr=subprocess.PIPE, env=env, timeout=60)
    os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the terminal's other end is closed: all read
            break
        if not chunk:
            break
        shown += chunk
    os.close(primary)
    assert tty.returncode == 0
    assert b"\x1b[1;33mraid\x1b[0m" in shown and b"**" not in shown


def test_matches_for_a_rule_that_does_not_exist_is_an_error_with_did_you_mean(here: Path) -> None:
    rule_file(here, "raid*")  # the loaded rule 'r'
    (here / "config.toml").write_text('[database]\nurl = "sqlite:///m.db"\n', encoding="utf-8")
    Store.open(f"sqlite:///{here / 'm.db'}").close()
    code, out, err = invoke("matches", "--rule", "nope")
    assert (code, out) == (2, "")
    assert err == "monitor: error: no rule named 'nope'\n"
    code, _, err = invoke("matches", "--rule", "rr")
    assert code == 2 and err == "monitor: error: no rule named 'rr' (did you mean 'r'?)\n"
    code, out, _ = invoke("matches", "--rule", "r")  # a rule that exists and has no matches yet
    assert code == 1 and "0 matches" in out
