"""Issue 11, rules: one hostile rule file or article fails alone, fast, with one clear line.

Rule files: YAML alias and merge-key bombs, merge cycles, deep nesting, tags, bad bytes and huge files are
refused by `monitor rules check` (exit 2, one `file:line:column: message` line each) within a second or two.
Articles: the regex time is a budget per article, a timed-out rule is reported, and hostile texts (huge,
repetitive, surrogates, NUL, combining-mark floods) are matched in bounded time without failing other rules.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from monitor.cli import app
from monitor.errors import RuleSetError
from monitor.rules import Document, Matches, RuleSet, load_rules
from monitor.rules import evaluate as evaluate_mod
from monitor.rules import match as match_mod
from monitor.rules.syntax import MAX_NESTING, MAX_QUERY_CHARS
from monitor.rules.yamlpos import MAX_DEPTH, MAX_FILE_BYTES

# Hostile inputs at their limits (seconds each): in the full suite, not the fast loop.
pytestmark = pytest.mark.slow

GOOD = "rules:\n  - id: good\n    title: Good\n    query: fraud\n"
#: The issue's file: nine lines, each mapping merging the previous one nine times (9^7 expansions).
LAUGHS = (
    "a: &a {x: 1, y: 2}\n"
    + "".join(
        f"{cur}: &{cur} {{<<: [{', '.join([f'*{prev}'] * 9)}]}}\n"
        for prev, cur in zip("abcdefg", "bcdefgh", strict=False)
    )
    + "rules: [{<<: *h, id: r, title: t, query: x}]\n"
)
_ERROR_LINE = re.compile(r"^\S+:\d+:\d+: \S.*$")


@pytest.fixture(autouse=True)
def _here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)


def _write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def _check(*paths: Path) -> tuple[Result, float]:
    start = time.perf_counter()
    result = CliRunner().invoke(app, ["rules", "check", *map(str, paths)])
    return result, time.perf_counter() - start


def _errors(tmp_path: Path, text: str | bytes, name: str = "r.yaml") -> list[str]:
    path = _write(tmp_path / name, text)
    with pytest.raises(RuleSetError) as info:
        load_rules([path])
    return [str(e).removeprefix(f"{path}:") for e in info.value.errors]


# --- rule files ---------------------------------------------------------------------------------------------


def test_billion_laughs_merge_keys_fail_fast_with_one_positioned_error(tmp_path: Path) -> None:
    bomb = _write(tmp_path / "bomb.yaml", LAUGHS)
    good = _write(tmp_path / "good.yaml", GOOD)
    result, elapsed = _check(good, bomb)
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{bomb}:7:12: YAML aliases expand this value to more than ")
    assert lines[1:] == ["1 error: the rule set is rejected"]
    assert elapsed < 2


def test_alias_bombs_of_lists_and_long_scalars_are_refused(tmp_path: Path) -> None:
    lists = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{cur}: &{cur} [{', '.join([f'*{prev}'] * 9)}]\n" for prev, cur in zip("abcdefg", "bcdefgh", strict=False)
    )
    assert "YAML aliases expand this value" in _errors(tmp_path, lists)[0]
    scalar = (
        "s: &s '"
        + "x" * 50_000
        + "'\nt: &t ["
        + ", ".join(["*s"] * 30)
        + "]\nrules: ["
        + ", ".join(["*t"] * 30)
        + "]\n"
    )
    assert "YAML aliases expand this value" in _errors(tmp_path, scalar)[0]


def test_merge_keys_shared_the_ordinary_way_still_load(tmp_path: Path) -> None:
    text = "rules:\n  - &base {id: a, title: A, query: fraud, severity: high}\n" + "".join(
        f"  - {{<<: [*base, *base], id: r{i}}}\n" for i in range(200)
    )
    ruleset = load_rules([_write(tmp_path / "r.yaml", text)])
    assert len(ruleset.rules) == 201 and {r.severity for r in ruleset.rules} == {"high"}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        pytest.param("rules:\n  - &r\n    id: x\n    title: t\n    query: a\n    <<: *r\n", "6:5", id="self"),
        pytest.param(
            "rules:\n  - &r\n    id: x\n    title: t\n    query: a\n    description: &d {<<: *r}\n    <<: *d\n",
            "6:22",
            id="through-a-nested-mapping",
        ),
        pytest.param(
            "rules:\n  - &r\n    id: x\n    title: t\n    query: a\n    <<: [{k: 1}, *r]\n", "6:5", id="in-a-list"
        ),
    ],
)
def test_a_merge_cycle_is_a_positioned_error_not_a_traceback(tmp_path: Path, text: str, where: str) -> None:
    errors = _errors(tmp_path, text)
    assert f"{where}: '<<' merges a mapping that contains this one (a cycle)" in errors
    result, elapsed = _check(tmp_path / "r.yaml")
    assert result.exit_code == 2 and "Traceback" not in result.output and elapsed < 2


def test_merges_nested_past_the_limit_are_an_error(tmp_path: Path) -> None:
    chain = "rules:\n  - &m0 {id: r, title: t, query: x}\n" + "".join(
        f"  - &m{i} {{<<: *m{i - 1}, id: r{i}}}\n" for i in range(1, 3 * MAX_DEPTH)
    )
    errors = _errors(tmp_path, chain)
    assert any(e.endswith(f"'<<' merges nested more than {MAX_DEPTH} deep") for e in errors)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("rules: " + "[" * 5000 + "]" * 5000 + "\n", id="flow-lists"),
        pytest.param("rules: " + "{a: " * 5000 + "b" + "}" * 5000 + "\n", id="flow-mappings"),
        pytest.param("rules:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 200)), id="block-mappings"),
    ],
)
def test_deep_nesting_is_an_error_not_a_recursion_error(tmp_path: Path, text: str) -> None:
    errors = _errors(tmp_path, text)
    assert len(errors) == 1 and errors[0].endswith(f"lists and mappings nested more than {MAX_DEPTH} deep")


def test_python_and_local_tags_are_refused_and_never_run(tmp_path: Path) -> None:
    text = 'rules: !!python/object/apply:os.system ["touch pwned"]\n'
    assert _errors(tmp_path, text) == [
        "1:8: unsupported YAML tag '!!python/object/apply:os.system': a rule file holds only plain strings, "
        "numbers, lists and mappings"
    ]
    assert not (tmp_path / "pwned").exists()
    assert _errors(tmp_path, "rules:\n  - !include other.yaml\n")[0].startswith("2:5: unsupported YAML tag '!include'")
    # The plain tags are fine: `!!str 2024` keeps the text.
    ruleset = load_rules([_write(tmp_path / "ok.yaml", "rules:\n  - {id: a, title: !!str 2024, query: x}\n")])
    assert ruleset.rules[0].title == "2024"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        pytest.param(
            b"rules:\n  - id: a\n    title: caf\xe9\n", "3:15: not UTF-8 text: invalid continuation byte", id="latin-1"
        ),
        pytest.param("rules: []\n".encode("utf-16"), "1:1: not UTF-8 text: invalid start byte", id="utf-16"),
        pytest.param(
            b"\xef\xbb\xbfrules:\n  - id: \xe5\xad\x97\xff\n",
            "2:10: not UTF-8 text: invalid start byte",
            id="after-bom",
        ),
        pytest.param(b"rules:\n  - id: a\x00\n", "2:10: invalid YAML: unacceptable character #x0000", id="nul"),
        pytest.param(
            b"rules:\n  - title: '\x00'\n", "2:13: invalid YAML: unacceptable character #x0000", id="nul-quoted"
        ),
    ],
)
def test_bad_bytes_are_one_positioned_error(tmp_path: Path, data: bytes, error: str) -> None:
    (got,) = _errors(tmp_path, data)
    assert got.startswith(error)


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.write(b"rules: []\n")
        f.truncate(100_000_000)  # sparse: 100 MB that are not all read
    just_over = _write(tmp_path / "over.yaml", b"rules: []\n#" + b"x" * (MAX_FILE_BYTES - 11) + b"\n")
    result, elapsed = _check(big, just_over)
    assert result.exit_code == 2
    assert result.stdout.splitlines()[:2] == [
        f"{path}:1:1: the file is larger than 1 MiB, the limit for a rule file: split it" for path in (big, just_over)
    ]
    assert elapsed < 2


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("(" * 5000 + "a" + ")" * 5000, f"more than {MAX_NESTING} deep"),
        ("a " + "NOT " * 5000 + "b", f"more than {MAX_NESTING} deep"),
        ("a " + "-" * 5000 + "b", f"more than {MAX_NESTING} deep"),
        ("title:" * 5000 + "x", f"more than {MAX_NESTING} deep"),
        ("a OR " * 30_000 + "b", f"is 150,001 characters long, more than the {MAX_QUERY_CHARS:,} allowed"),
        ("x AND /(((a{100}){100}){100}){100}/", "repeats too much: its counted repeats ({n}) multiply to more than"),
        ("x AND /a{" + "9" * 5000 + "}/", "repeats too much"),
        ("x AND /" + "(" * 3000 + "a" + ")" * 3000 + "/", "groups nested too deep"),
        ("x AND /" + "(a|" * 3000 + "b" + ")" * 3000 + "/", "groups nested too deep"),
    ],
    ids=[
        "parentheses",
        "not",
        "minus",
        "fields",
        "long",
        "regex-repeats",
        "regex-count-digits",
        "regex-groups",
        "regex-alternatives",
    ],
)
def test_hostile_queries_are_errors_in_the_query(tmp_path: Path, query: str, error: str) -> None:
    (got,) = _errors(tmp_path, f"rules:\n  - id: r\n    title: t\n    query: '{query}'\n")
    assert got.startswith("4:") and error in got and _ERROR_LINE.match(f"f:{got}")


def test_the_nesting_limit_leaves_real_queries_alone(tmp_path: Path) -> None:
    deep = "(" * MAX_NESTING + "scam" + ")" * MAX_NESTING
    rules = {
        "deep": deep,
        "punct": "scam " + "& " * 40_000 + "raid",
        "not": "scam & NOT football",
        "far": "scam NEAR/" + "9" * 5000 + " raid",
        "counted": r"scam AND /(\w{1,20} ){2}centre/",
    }
    ruleset = RuleSet.from_queries(rules)
    got = ruleset.match(Document(text="Police raid a scam centre"))
    assert [m.rule.id for m in got] == ["deep", "punct", "not", "far", "counted"]


def test_set_includes_nested_too_deep_or_broken_many_times_fail_fast(tmp_path: Path) -> None:
    chain = "sets:\n" + "".join(f"  s{i}: ['@s{i + 1}', w{i}]\n" for i in range(5000)) + "  s5000: [end]\n"
    errors = _errors(tmp_path, chain + "rules:\n  - {id: r, title: t, query: '@s0'}\n")
    assert errors == ["33:3: set 's31' includes sets nested more than 32 deep (@s0 -> ... -> @s32)"]
    # Each set includes the one before twice, and the first is broken: 2^30 walks if failures were not kept.
    dag = "sets:\n  s0: ['@nope']\n" + "".join(f"  s{i}: ['@s{i - 1}', '@s{i - 1}']\n" for i in range(1, 31))
    start = time.perf_counter()
    assert _errors(tmp_path, dag + "rules:\n  - {id: r, title: t, query: '@s30'}\n") == [
        "2:8: undefined set '@nope' in set 's0'"
    ]
    assert time.perf_counter() - start < 2


def test_a_big_set_used_by_many_rules_is_compiled_once(tmp_path: Path) -> None:
    text = (
        "sets:\n  big: ["
        + ", ".join(f"w{i}" for i in range(1500))
        + "]\nrules:\n"
        + "".join(f"  - {{id: r{i}, title: t, query: '@big AND x{i}'}}\n" for i in range(1500))
    )
    start = time.perf_counter()
    ruleset = load_rules([_write(tmp_path / "r.yaml", text)])  # 2.25 million (rule, term) pairs
    assert time.perf_counter() - start < 6
    assert [m.rule.id for m in ruleset.match(Document(text="w7 and x42"))] == ["r42"]


def test_every_hostile_file_at_once_is_one_line_each_and_the_set_is_rejected(tmp_path: Path) -> None:
    files = {
        "bomb.yaml": LAUGHS,
        "cycle.yaml": "rules:\n  - &r\n    id: x\n    title: t\n    query: a\n    <<: *r\n",
        "deep.yaml": "rules: " + "[" * 5000 + "]" * 5000 + "\n",
        "tag.yaml": "rules: !!python/object/new:os.system [x]\n",
        "query.yaml": "rules:\n  - id: q\n    title: t\n    query: '" + "(" * 3000 + "a" + ")" * 3000 + "'\n",
        "good.yaml": GOOD,
    }
    paths = [_write(tmp_path / name, text) for name, text in files.items()]
    result, elapsed = _check(*paths)
    assert result.exit_code == 2, result.output
    *errors, summary = result.stdout.splitlines()
    assert summary == "5 errors: the rule set is rejected"
    assert all(_ERROR_LINE.match(line) for line in errors), errors
    assert elapsed < 3


# --- articles -----------------------------------------------------------------------------------------------

SLOW = "/(x+x+)+y/"


def test_the_regex_time_is_one_budget_per_article(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(evaluate_mod, "REGEX_TIMEOUT", 0.2)
    rules = {f"slow{i}": SLOW for i in range(10)} | {"word": "fraud", "late": "fraud AND /fraud/"}
    ruleset = RuleSet.from_queries(rules)
    url = "https://user:secret@example.com/" + "a" * 500
    doc = Document(title="x" * 3000, text="x" * 3000 + " fraud", url=url)
    start = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="monitor.rules"):
        got = ruleset.match(doc)
    elapsed = time.perf_counter() - start
    # Ten rules x two fields at 0.2 s each would be 4 s; one budget for the article is 0.2 s (plus the engine's
    # clock granularity).
    assert elapsed < 2.5
    assert isinstance(got, Matches) and [m.rule.id for m in got] == ["word"]
    assert set(got.timed_out) == {f"slow{i}" for i in range(10)} | {"late"}
    warnings = [r.getMessage() for r in caplog.records if "rule regex timeout" in r.getMessage()]
    assert len(warnings) == 11
    assert all(
        "https://example.com/aaaa" in w and "secret" not in w and "a" * 100 not in w and "…" in w for w in warnings
    )
    assert "rule regex timeout rule=slow0 article='https://example.com/aaa" in warnings[0]


def test_the_next_article_has_a_fresh_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evaluate_mod, "REGEX_TIMEOUT", 0.2)
    ruleset = RuleSet.from_queries({"slow": SLOW, "arrests": r"/\d+ arrested/"})
    assert ruleset.match(Document(title="Bad", text="x" * 5000 + " 12 arrested")).timed_out == ("slow", "arrests")
    after = ruleset.match(Document(title="Good", text="Police say 12 arrested"))
    assert [m.rule.id for m in after] == ["arrests"] and after.timed_out == ()


def test_many_cheap_regex_matches_stop_at_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # 200,000 matches of a few microseconds each: the engine's own clock never stops them, the budget does.
    monkeypatch.setattr(evaluate_mod, "REGEX_TIMEOUT", 0.05)
    ruleset = RuleSet.from_queries({"letters": r"a AND /\w/", "word": "a"})
    got = ruleset.match(Document(text="a " * 200_000))
    assert [m.rule.id for m in got] == ["word"] and got.timed_out == ("letters",)


def test_rules_check_reports_an_example_whose_regex_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evaluate_mod, "REGEX_TIMEOUT", 0.05)
    # The regex would match "fraud", but first explodes on the x's: the example fails, and says so.
    text = f"rules:\n  - id: r\n    title: t\n    query: '/(x+x+)+y|fraud/'\n    examples:\n      match: ['{'x' * 3000} fraud']\n"
    errors = _errors(tmp_path, text)
    assert errors == [
        f"6:15: match example 1 of rule 'r' should match but does not (its regex ran out of time): '{'x' * 60}'"
    ]


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(
            Document(title="scam \ud800", text="scam \udfff raid " * 10_000, url="http://x/\ud800", author="\udc00"),
            id="surrogates",
        ),
        pytest.param(Document(title="scam\x00", text="scam\x00raid\x00" * 25_000, author="a\x00b"), id="nul"),
        pytest.param(Document(text="scam raid a" + "\u0301" * 500_000), id="one-combining-flood"),
        pytest.param(Document(text="scam raid " + ("a" + "\u0301" * 40 + " ") * 10_000), id="many-combining-floods"),
        pytest.param(Document(text="scam raid ក" + "\u17c9" * 300_000), id="khmer-sign-flood"),
        pytest.param(Document(text="scam raid " + "ไทย" * 100_000), id="thai"),
        pytest.param(Document(text="scam raid" + " " * 1_000_000 + "x"), id="whitespace"),
        pytest.param(Document(text="ｓｃａｍ ｒａｉｄ " * 20_000), id="fullwidth"),
        pytest.param(Document(text="scam raid " + "ﷺ" * 100_000), id="expanding-ligature"),
        pytest.param(Document(text="scam raid " + "\u200d\ufe0f" * 200_000), id="joiners"),
    ],
)
def test_a_hostile_article_is_matched_in_bounded_time_and_alone(doc: Document) -> None:
    ruleset = RuleSet.from_queries(
        {"near": "scam NEAR/3 raid", "set": "(scam OR raid*) AND NOT football", "re": "scam AND /ra.d/"}
    )
    start = time.perf_counter()
    got = ruleset.match(doc)
    assert time.perf_counter() - start < 5
    assert {m.rule.id for m in got} == {"near", "set", "re"}
    for m in got:
        for h in m.hits:
            assert getattr(doc, h.field)[h.start : h.end] == h.text
    assert [m.rule.id for m in ruleset.match(Document(text="A raid on a scam centre"))] == ["near", "set", "re"]


def test_only_the_start_of_a_huge_field_is_read(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(evaluate_mod, "MAX_FIELD_CHARS", 1000)
    ruleset = RuleSet.from_queries({"early": "scam", "late": "raid"})
    doc = Document(title="T", text="scam " + "x " * 600 + "raid")
    with caplog.at_level(logging.WARNING, logger="monitor.rules"):
        got = ruleset.match(doc)
    assert [m.rule.id for m in got] == ["early"] and got[0].hits[0].start == 0
    assert "rule matching reads only the first" in caplog.text and "field=text article='T'" in caplog.text


def test_a_match_keeps_at_most_max_hits_the_first_in_reading_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(match_mod, "MAX_HITS", 100)
    (m,) = RuleSet.from_queries({"r": "scam"}).match(Document(title="scam", text="scam " * 500))
    assert len(m.hits) == 100
    assert (m.hits[0].field, m.hits[1].field, m.hits[1].start, m.hits[-1].start) == ("title", "text", 0, 98 * 5)


def test_the_limits_are_documented() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "rules.md").read_text(encoding="utf-8")
    for needle in ("0.5 s", "1 MiB", "100,000 characters", "1.2 million", "100,000 hits", f"{MAX_DEPTH}"):
        assert needle in doc, needle


@pytest.mark.parametrize(
    "hostile",
    [
        pytest.param(LAUGHS, id="billion-laughs"),
        pytest.param("rules:\n  - &r\n    id: x\n    title: t\n    query: a\n    <<: *r\n", id="merge-cycle"),
        pytest.param("rules: " + "[" * 5000 + "]" * 5000 + "\n", id="deep"),
        pytest.param(b"rules: []\n" + b"#" * (MAX_FILE_BYTES + 1), id="huge"),
    ],
)
def test_a_daemon_reload_of_a_hostile_edit_keeps_the_last_good_rules(tmp_path: Path, hostile: str | bytes) -> None:
    from monitor.config import Settings
    from monitor.daemon import RuleWatcher

    folder = tmp_path / "rules"
    folder.mkdir()
    _write(folder / "good.yaml", GOOD)
    watcher = RuleWatcher(Settings.model_validate({"rules": {"paths": [str(folder)]}}))
    _write(folder / "edit.yaml", hostile)
    start = time.perf_counter()
    assert watcher.refresh() is False
    assert time.perf_counter() - start < 2
    assert watcher.last_error is not None and watcher.last_error.startswith(f"{folder / 'edit.yaml'}:")
    assert [m.rule.id for m in watcher.current().match(Document(text="fraud"))] == ["good"]


def test_a_wildcard_with_several_stars_is_linear_in_a_huge_word() -> None:
    # `.*r.*e.*z` backtracked over every split of the word: 300,000 letters took about a minute.
    ruleset = RuleSet.from_queries({"glob": "cent*r*e*z", "word": "fraud"})
    start = time.perf_counter()
    got = ruleset.match(Document(text="fraud cent" + "r" * 300_000 + "x"))
    assert time.perf_counter() - start < 2
    assert [m.rule.id for m in got] == ["word"]
    assert [m.rule.id for m in ruleset.match(Document(text="fraud centrez centerz cent-rez"))] == ["glob", "word"]
    assert [h.text for h in ruleset.match(Document(text="centrez centerz centrarez"))[0].hits] == [
        "centrez",
        "centrarez",
    ]
