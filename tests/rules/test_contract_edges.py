"""Divergences from ``docs/rule-language.md`` found in a contract audit, one test each (table-driven where natural)."""

from __future__ import annotations

import json
import textwrap
import unicodedata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.errors import RuleError, RuleSetError
from monitor.rules import Document, Rule, RuleSet, load_rules
from monitor.rules.syntax import parse_query
from monitor.rules.text import Field


def _errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "kh.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(RuleSetError) as info:
        load_rules([path])
    return [str(e).removeprefix(f"{path}:") for e in info.value.errors]


def _hits(query: str, doc: Document) -> list[tuple[str, str]] | None:
    found = RuleSet.from_queries({"r": query}).match(doc)
    return [(h.field, h.text) for h in found[0].hits] if found else None


# docs/rule-language.md §1 "Every error names `file:line:column`": the column of a query error inside a double-quoted YAML
# string must count the escape as written (`\t` is two characters in the file), not run to the end of the line.
@pytest.mark.parametrize(
    "quoted",
    [
        pytest.param(r'"a\tb OR NOT z"', id="tab-escape"),
        pytest.param(r'"caf\u00e9 OR NOT z"', id="unicode-escape"),
        pytest.param(r'"\x41 OR NOT z"', id="hex-escape"),
        pytest.param(r'"a\nb OR NOT z"', id="newline-escape"),
    ],
)
def test_query_error_column_counts_yaml_escapes_as_written(tmp_path: Path, quoted: str) -> None:
    line = f"    query: {quoted}"
    errors = _errors(tmp_path, f"rules:\n  - id: r\n    title: t\n{line}\n")
    assert errors == [
        f"4:{line.index('NOT') + 1}: query of rule 'r': OR branch 'NOT z' has no positive term: "
        "each OR branch must search for a word"
    ]


def test_query_error_after_an_escaped_line_break_points_at_the_next_line(tmp_path: Path) -> None:
    text = 'rules:\n  - id: r\n    title: t\n    query: "scam AND \\\n      x OR NOT z"\n'
    assert _errors(tmp_path, text)[0].startswith("5:12: query of rule 'r': OR branch 'NOT z'")


# docs/rule-language.md §1 "Every error names file:line:column": a self-including YAML alias crashed with RecursionError.
def test_recursive_yaml_alias_is_a_positioned_error_not_a_crash(tmp_path: Path) -> None:
    assert _errors(tmp_path, "sets:\n  a: &x [b, *x]\n") == ["2:6: each entry of set 'a' must be a string, not a list"]


# docs/rule-language.md §1 "Unknown keys ... are errors": a non-string key (`? [a]`) was silently dropped.
def test_a_non_string_rule_key_is_an_error(tmp_path: Path) -> None:
    text = "rules:\n  - id: r\n    title: t\n    query: x\n    ? [a]\n    : 2\n"
    assert _errors(tmp_path, text) == ["5:7: unknown key in rule 'r': a key must be a string, not a list"]


# docs/rule-language.md §2 `url:` field / §6 "An unknown field prefix (`body:scam`) is an error": a URL's scheme is not a
# field prefix, so `url:https://…` searches the URL's words instead of failing with "unknown field 'https'".
@pytest.mark.parametrize(
    ("query", "doc", "hits"),
    [
        ("url:https://example.com", Document(url="https://example.com/a"), [("url", "https://example.com")]),
        ("https://example.com", Document(text="see https://example.com"), [("text", "https://example.com")]),
    ],
)
def test_a_url_scheme_is_words_not_a_field(query: str, doc: Document, hits: list[tuple[str, str]]) -> None:
    assert _hits(query, doc) == hits


def test_an_unknown_field_is_still_an_error() -> None:
    with pytest.raises(RuleError, match="unknown field 'body'"):
        parse_query("body:scam")


# docs/rule-language.md §2 "Operators are upper case": a no-break space (pasted queries) separates tokens like a space;
# `scam<NBSP>OR<NBSP>fraud` was the phrase "scam or fraud".
@pytest.mark.parametrize(
    ("query", "text", "matches"),
    [
        ("scam\u00a0OR\u00a0fraud", "fraud only", True),
        ("scam\u00a0-fraud", "scam only", True),
        ("scam\u00a0-fraud", "scam and fraud", False),
        ("scam\u2003AND\u2003fraud", "fraud and scam", True),
    ],
)
def test_unicode_spaces_separate_query_tokens(query: str, text: str, matches: bool) -> None:
    assert (_hits(query, Document(text=text)) is not None) is matches


# docs/rule-language.md §2 `NOT a`, `-a` and `title:x`: a NOT after a field prefix is a NOT inside that field; it was
# rejected with "unexpected '-'".
@pytest.mark.parametrize(
    ("query", "title", "matches"),
    [
        ("scam title:-football", "Match report", True),
        ("scam title:-football", "Football news", False),
        ("scam title:NOT football", "Football news", False),
    ],
)
def test_not_after_a_field_prefix(query: str, title: str, matches: bool) -> None:
    assert (_hits(query, Document(title=title, text="a scam")) is not None) is matches


# docs/rule-language.md §5 `{"doc": ID, …}` "where ID is the JSONL `id`": a numeric id was printed as a string.
def test_match_json_doc_is_the_jsonl_id_as_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.yaml").write_text("rules:\n  - id: r\n    title: t\n    query: scam\n", encoding="utf-8")
    docs = "\n".join(json.dumps(d) for d in ({"id": 7, "text": "scam"}, {"id": "a-7", "text": "scam"}))
    result = CliRunner().invoke(app, ["match", "--rules", "r.yaml", "--format", "json", "-"], input=docs)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["doc"] for r in rows] == [7, "a-7"]


# docs/rule-language.md §1 `lang` / docs/rules.md "Choice: case-insensitive": the `lang:` query filter compares a given
# language case-insensitively, the rule's `lang:` key did not (RuleSet._match_one: `st.lang not in rule.lang`).
def test_rule_lang_filter_is_case_insensitive_like_the_lang_query_filter() -> None:
    doc = Document(text="scam", lang="KM")
    assert _hits("scam lang:km", doc) is not None
    rule = Rule(id="r", title="r", query="scam", lang=("km",), node=parse_query("scam"))
    assert RuleSet([rule]).match(doc)


# docs/rule-language.md §1 "undefined `@sets` ... are errors": RuleSet.from_queries has no sets, so every `@name` is undefined,
# yet the rule loads and silently never matches (match.py from_queries calls parse_query without a resolver).
def test_from_queries_rejects_an_undefined_set() -> None:
    with pytest.raises(RuleError, match="undefined set '@places'"):
        RuleSet.from_queries({"r": "raid* AND @places"})


# Second audit (sections 3 and 4): characters that NFKC expands or composes, a letter that is an apostrophe.
UNICODE_CASES = [
    # Thai sara am (ำ) and Lao am/ho-no are one character that NFKC turns into two.
    ("ตำรวจ", "ตำรวจกัมพูชาจับกุม", [("text", 0, 5, "ตำรวจ")]),
    ("จำ", "การจำคุก", [("text", 3, 5, "จำ")]),
    ("ຈຳ", "ຈຳປາ", [("text", 0, 2, "ຈຳ")]),
    ("ໜ້າ", "ໜ້າ", [("text", 0, 3, "ໜ້າ")]),
    ('"กัมพูชา ตำรวจ"', "กัมพูชาตำรวจ", [("text", 0, 12, "กัมพูชาตำรวจ")]),
    ("株式会社", "㍿", [("text", 0, 1, "㍿")]),
    # Half-width katakana voicing marks compose with the kana before them: ｶﾞ is ガ.
    ("ガス", "ｶﾞｽ", [("text", 0, 3, "ｶﾞｽ")]),
    ("ｶﾞｽ", "ｶﾞｽ", [("text", 0, 3, "ｶﾞｽ")]),
    ("/ガス/", "ｶﾞｽ", [("text", 0, 3, "ｶﾞｽ")]),
    ("パン", "xﾊﾟﾝ", [("text", 1, 4, "ﾊﾟﾝ")]),
    # U+02BC MODIFIER LETTER APOSTROPHE separates words like ' and ’.
    ('"cambodia s"', "Cambodiaʼs", [("text", 0, 10, "Cambodiaʼs")]),
    ("Cambodia's", "Cambodiaʼs", [("text", 0, 10, "Cambodiaʼs")]),
    ("Cambodiaʼs", "Cambodia's police", [("text", 0, 10, "Cambodia's")]),
    ("cambodia", "ตำรวจ Cambodiaʼs", [("text", 6, 14, "Cambodia")]),
]


@pytest.mark.parametrize(("query", "text", "hits"), UNICODE_CASES)
def test_nfkc_expansions_and_apostrophe_letters(query: str, text: str, hits: list[tuple[str, int, int, str]]) -> None:
    (m,) = RuleSet.from_queries({"r": query}).match(Document(text=text))
    assert [(h.field, h.start, h.end, h.text) for h in m.hits] == hits


def test_field_nfkc_is_real_nfkc_for_half_width_voicing_marks() -> None:
    for text in ["ｶﾞｽ", "ﾊﾟﾝとｶﾞｽ", "ﾞｶ", "aﾞ", "ตำรวจ"]:
        assert Field(text, fast=False).nfkc == unicodedata.normalize("NFKC", text)


def test_snippet_comes_from_the_text_when_author_or_url_also_hit() -> None:
    doc = Document(title="raid", text="police raid today", author="Raid Reporter")
    (m,) = RuleSet.from_queries({"r": "raid OR author:raid"}).match(doc)
    assert m.snippet == "police raid today"
