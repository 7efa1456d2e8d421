"""docs/rule-language.md sections 1 and 6: rule files, sets, errors with file:line:column, warnings."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from monitor.errors import RuleSetError
from monitor.rules import load_rules

GOOD = """\
sets:                      # named term lists, referenced in queries as @name
  kh_places: [Cambodia, Cambodian, "Phnom Penh", Poipet, "Poi Pet", "Paoy Paet", Sihanoukville]
  enforcement: [crackdown*, "crack down", raid*, arrest*, dismantl*, rescu*, deport*]
  scam_ops: ["scam cent*", "scam compound*", "online scam*", "online gambling", "cyber slavery"]

rules:
  - id: kh-scam-crackdown
    title: Cambodia crackdown on scam and gambling operations
    query: '@enforcement AND @scam_ops AND @kh_places'
    severity: high
    tags: [cambodia, scams]
    examples:
      match:
        - "Police raided an online scam compound in Poipet and arrested 270 Indonesians."
      no_match:
        - "Cambodia opens a new airport in Siem Reap."
"""


def _write(tmp_path: Path, text: str, name: str = "kh.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _errors(tmp_path: Path, text: str) -> list[str]:
    path = _write(tmp_path, text)
    with pytest.raises(RuleSetError) as info:
        load_rules([path])
    prefix = f"{path}:"
    return [str(e).removeprefix(prefix) for e in info.value.errors]


def test_readme_example_loads(tmp_path: Path) -> None:
    rs = load_rules([_write(tmp_path, GOOD)])
    (rule,) = rs.rules
    assert (rule.id, rule.severity, rule.tags, rule.enabled, rule.line) == (
        "kh-scam-crackdown",
        "high",
        ("cambodia", "scams"),
        True,
        7,
    )
    assert rs.get("kh-scam-crackdown") is rule and rs.get("nope") is None
    assert len(rule.version) == 16
    assert rs.warnings == ()


def test_defaults(tmp_path: Path) -> None:
    rs = load_rules([_write(tmp_path, "rules:\n  - {id: a, title: A, query: scam}\n")])
    (rule,) = rs.rules
    assert (rule.severity, rule.tags, rule.lang, rule.feeds, rule.enabled, rule.notify, rule.description) == (
        "medium",
        (),
        (),
        (),
        True,
        None,
        "",
    )


def test_folder_loads_yaml_and_yml_files(tmp_path: Path) -> None:
    _write(tmp_path, "sets:\n  s: [scam]\n", "a.yml")
    _write(tmp_path, "rules:\n  - {id: b, title: B, query: '@s'}\n", "b.yaml")
    _write(tmp_path, "not: yaml rules", "c.txt")
    assert [r.id for r in load_rules([tmp_path]).rules] == ["b"]


@pytest.mark.parametrize(
    "text", ["", "# only a comment\n", "rules: []\n", "sets: {}\n"], ids=["empty", "comment", "no-rules", "no-sets"]
)
def test_empty_files_are_valid(tmp_path: Path, text: str) -> None:
    assert load_rules([_write(tmp_path, text)]).rules == ()


ERRORS = [
    (
        "unknown-key-did-you-mean",
        "rules:\n  - id: kh-scam\n    title: t\n    query: scam\n    qeury: x\n",
        "5:5: unknown key 'qeury' in rule 'kh-scam' (did you mean 'query'?)",
    ),
    (
        "missing-key-points-at-rule",
        "rules:\n  - id: kh-scam\n    title: t\n",
        "2:5: missing key 'query' in rule 'kh-scam'",
    ),
    (
        "duplicate-id-at-second",
        "rules:\n  - {id: a, title: t, query: x}\n  - {id: a, title: t, query: y}\n",
        "3:10: duplicate rule id 'a'",
    ),
    (
        "duplicate-yaml-key",
        "rules:\n  - id: a\n    title: t\n    query: x\n    query: y\n",
        "5:5: duplicate key 'query'",
    ),
    ("rules-null", "rules:\n", "1:7: 'rules' must be a list of rules, not null"),
    ("sets-null", "sets: ~\n", "1:7: 'sets' must be a mapping"),
    ("rules-mapping", "rules: {a: 1}\n", "1:8: 'rules' must be a list"),
    ("unknown-top-key", "rule: []\n", "1:1: unknown top-level key 'rule' (did you mean 'rules'?)"),
    ("top-level-list", "- a\n", "1:1: a rule file must be a mapping"),
    ("bad-id", "rules:\n  - {id: Kh_Scam, title: t, query: x}\n", "2:10: invalid rule id 'Kh_Scam'"),
    ("bad-severity", "rules:\n  - {id: a, title: t, query: x, severity: urgent}\n", "2:43: unknown severity 'urgent'"),
    (
        "tags-not-list",
        "rules:\n  - {id: a, title: t, query: x, tags: scams}\n",
        "2:39: 'tags' in rule 'a' must be a list",
    ),
    (
        "enabled-not-bool",
        "rules:\n  - {id: a, title: t, query: x, enabled: maybe}\n",
        "2:42: 'enabled' in rule 'a' must be true or false",
    ),
    (
        "lang-not-iso",
        "rules:\n  - {id: a, title: t, query: x, lang: [eng]}\n",
        "2:40: 'eng' in 'lang' in rule 'a' is not an ISO 639-1",
    ),
    ("query-null", "rules:\n  - {id: a, title: t, query: }\n", "2:29: 'query' in rule 'a' must be a string, not null"),
    ("rule-not-mapping", "rules:\n  - scam\n", "2:5: each item of 'rules' must be a mapping"),
    (
        "query-syntax-column",
        "rules:\n  - id: a\n    title: t\n    query: 'scam AND (foo OR NOT bar)'\n",
        "4:30: query of rule 'a': OR branch 'NOT bar'",
    ),
    (
        "query-syntax-plain-scalar",
        "rules:\n  - id: a\n    title: t\n    query: scam NEAR fraud\n",
        "4:17: query of rule 'a': NEAR needs a distance",
    ),
    (
        "query-syntax-block-scalar",
        "rules:\n  - id: a\n    title: t\n    query: |\n      scam AND\n      body:x\n",
        "6:7: query of rule 'a': unknown field 'body'",
    ),
    (
        "undefined-set",
        "rules:\n  - {id: a, title: t, query: 'x @nope'}\n",
        "2:33: query of rule 'a': undefined set '@nope'",
    ),
    ("set-defined-twice", "sets:\n  a: [x]\n  a: [y]\n", "3:3: duplicate key 'a'"),
    ("set-bad-name", "sets:\n  Places: [x]\n", "2:3: invalid set name 'Places'"),
    (
        "set-entry-operator",
        "sets:\n  a: [x, 'y OR z']\n",
        "2:13: in set 'a': a set entry is one term or phrase and may not contain an operator",
    ),
    (
        "set-entry-regex",
        "sets:\n  a: ['/x/']\n",
        "2:8: in set 'a': a set entry is one term or phrase and may not contain a regex",
    ),
    (
        "set-cycle",
        "sets:\n  a: [x, '@b']\n  b: ['@c']\n  c: ['@a']\n",
        "2:3: set 'a' includes itself: @a -> @b -> @c -> @a",
    ),
    ("set-self-cycle", "sets:\n  a: ['@a']\n", "2:3: set 'a' includes itself"),
    ("set-undefined-include", "sets:\n  a: ['@zz']\n", "2:7: undefined set '@zz' in set 'a'"),
    ("set-not-list", "sets:\n  a: x\n", "2:6: set 'a' must be a list"),
    (
        "example-fails",
        "rules:\n  - id: a\n    title: t\n    query: scam\n    examples:\n      match: [fraud]\n      no_match: [scam]\n",
        "6:15: match example 1 of rule 'a' should match but does not",
    ),
    (
        "example-no-match-fails",
        "rules:\n  - id: a\n    title: t\n    query: scam\n    examples:\n      no_match: [big scam]\n",
        "6:18: no_match example 1 of rule 'a' should not match but does",
    ),
    (
        "example-unknown-key",
        "rules:\n  - id: a\n    title: t\n    query: scam\n    examples:\n      match:\n        - {titel: scam}\n",
        "7:12: unknown key 'titel' in examples.match[1] of rule 'a' (did you mean 'title'?)",
    ),
    (
        "examples-unknown-section",
        "rules:\n  - id: a\n    title: t\n    query: scam\n    examples:\n      matches: [scam]\n",
        "6:7: unknown key 'matches' in the examples of rule 'a' (did you mean 'match'?)",
    ),
    ("invalid-yaml", "rules: [\n", "2:1: invalid YAML"),
]


@pytest.mark.parametrize(("text", "expected"), [(c[1], c[2]) for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_errors(tmp_path: Path, text: str, expected: str) -> None:
    errors = _errors(tmp_path, text)
    assert any(e.startswith(expected) for e in errors), errors


def test_all_errors_are_collected_and_nothing_is_half_loaded(tmp_path: Path) -> None:
    _write(tmp_path, "rules:\n  - {id: good, title: t, query: scam}\n", "a.yaml")
    _write(tmp_path, "rules:\n  - {id: b, title: t, query: 'NOT x'}\n  - {id: c, title: t}\n", "b.yaml")
    with pytest.raises(RuleSetError) as info:
        load_rules([tmp_path])
    assert len(info.value.errors) == 2
    assert "and 1 more" in str(info.value)


def test_duplicate_id_across_files_points_at_second(tmp_path: Path) -> None:
    _write(tmp_path, "rules:\n  - {id: a, title: t, query: scam}\n", "a.yaml")
    second = _write(tmp_path, "rules:\n  - {id: a, title: t, query: fraud}\n", "b.yaml")
    with pytest.raises(RuleSetError) as info:
        load_rules([tmp_path])
    assert str(info.value.errors[0]).startswith(f"{second}:2:10: duplicate rule id 'a'")


def test_set_defined_in_two_files_is_an_error_at_second(tmp_path: Path) -> None:
    _write(tmp_path, "sets:\n  s: [x]\n", "a.yaml")
    second = _write(tmp_path, "sets:\n  s: [y]\n", "b.yaml")
    with pytest.raises(RuleSetError) as info:
        load_rules([tmp_path])
    assert str(info.value.errors[0]).startswith(f"{second}:2:3: set 's' is already defined")


def test_sets_are_global_and_include_others(tmp_path: Path) -> None:
    _write(tmp_path, "sets:\n  places: [Poipet, '@cities']\n  cities: ['Phnom Penh']\n", "a.yaml")
    _write(tmp_path, "rules:\n  - {id: r, title: t, query: '@places'}\n", "b.yaml")
    rs = load_rules([tmp_path])
    from monitor.rules import Document

    assert rs.match(Document(text="in phnom-penh today"))


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuleSetError, match="no such rule file"):
        load_rules([tmp_path / "nope"])


def test_disabled_rule_is_validated_and_its_examples_run(tmp_path: Path) -> None:
    bad = "rules:\n  - id: a\n    title: t\n    enabled: false\n    query: scam\n    examples: {match: [fraud]}\n"
    with pytest.raises(RuleSetError, match="should match"):
        load_rules([_write(tmp_path, bad)])


def test_example_mapping_with_metadata(tmp_path: Path) -> None:
    text = """\
    rules:
      - id: a
        title: t
        query: 'scam feed:kt lang:km'
        examples:
          match:
            - {title: "scam", text: "more", url: "https://x", lang: km, feed: kt}
          no_match:
            - {title: "scam", lang: en, feed: kt}
    """
    assert load_rules([_write(tmp_path, text)]).rules[0].id == "a"


def test_warnings(tmp_path: Path) -> None:
    text = """\
    rules:
      - {id: a, title: t, query: '/sc[a4]m/', feeds: [khmer-times, nope], notify: [ops, ghost]}
    """
    rs = load_rules([_write(tmp_path, text)], known_feeds=["Khmer-Times"], known_channels=["ops"])
    assert len(rs.warnings) == 3
    assert "regex scan of every article" in rs.warnings[0]
    assert "feed 'nope'" in rs.warnings[1]
    assert "channel 'ghost'" in rs.warnings[2]
    # Without config knowledge, only the scan warning remains.
    assert len(load_rules([tmp_path / "kh.yaml"]).warnings) == 1


def test_version_changes_when_a_set_changes(tmp_path: Path) -> None:
    a = load_rules([_write(tmp_path, "sets: {s: [x]}\nrules: [{id: a, title: t, query: '@s'}]\n")]).rules[0].version
    b = load_rules([_write(tmp_path, "sets: {s: [y]}\nrules: [{id: a, title: t, query: '@s'}]\n")]).rules[0].version
    c = load_rules([_write(tmp_path, "sets: {s: [y]}\nrules: [{id: a, title: other, query: '@s'}]\n")]).rules[0].version
    assert a != b == c


MERGED = """\
rules:
  - &kh
    id: kh-a
    title: A
    query: fraud
    severity: high
    tags: [kh]
    examples:
      match: [{text: fraud here, lang: no}]
  - <<: *kh
    id: kh-b
    title: B
    query: fraud OR scam
"""


def test_yaml_merge_keys_share_a_rule_s_keys_and_its_own_keys_win(tmp_path: Path) -> None:
    rs = load_rules([_write(tmp_path, MERGED)])
    b = rs.get("kh-b")
    assert b is not None
    assert (b.title, b.query, b.severity, b.tags, len(b.examples)) == ("B", "fraud OR scam", "high", ("kh",), 1)
    assert rs.get("kh-a") is not None and rs.get("kh-a").examples[0].doc.lang == "no"  # type: ignore[union-attr]


def test_yaml_merge_key_errors_are_positioned(tmp_path: Path) -> None:
    errors = _errors(
        tmp_path,
        MERGED + "  - <<: 5\n    id: kh-c\n    title: C\n    query: x\n  - <<: *kh\n    id: kh-d\n    sevrity: low\n",
    )
    assert errors == [
        "14:9: '<<' merges a mapping or a list of mappings, not a number",
        "20:5: unknown key 'sevrity' in rule 'kh-d' (did you mean 'severity'?)",
    ]


def test_an_empty_set_is_a_warning(tmp_path: Path) -> None:
    path = _write(tmp_path, "sets:\n  e: []\nrules:\n  - id: a\n    title: t\n    query: '@e OR fraud'\n")
    assert load_rules([path]).warnings == (f"{path}:2:3: set 'e' is empty",)


def test_a_folder_scan_takes_yaml_suffixes_in_any_case(tmp_path: Path) -> None:
    _write(tmp_path, "rules:\n  - id: up\n    title: t\n    query: x\n", name="KH.YAML")
    assert [r.id for r in load_rules([tmp_path]).rules] == ["up"]
