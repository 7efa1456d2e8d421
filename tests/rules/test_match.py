"""docs/rule-language.md sections 2-4 and 6: what matches, the hits, snippets and versions."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.rules import Document, RuleSet
from monitor.rules import evaluate as evaluate_mod
from monitor.rules.text import Field


def _rs(query: str) -> RuleSet:
    return RuleSet.from_queries({"r": query}, detect_language=lambda text: "en")


def _matches(query: str, doc: Document) -> bool:
    return bool(_rs(query).match(doc))


CASES = [
    # (query, title, text, matches)
    ("Poipet", "", "raid in POIPET", True),
    ("poipet", "", "Poipet's casinos", True),
    ("Poipet", "", "Poipetville", False),
    ("Viet", "", "Việt Nam", True),
    ("Việt", "", "Viet Nam", True),
    ("raid*", "", "police raided", True),
    ("raid*", "", "a raid", True),
    ("raid*", "", "the parade", False),
    ("organi?ation", "", "organisation", True),
    ("organi?ation", "", "organization", True),
    ("organi?ation", "", "organiation", False),
    ("cent*e", "", "centre", True),
    ("cent*e", "", "centipede", True),
    ("cent*e", "", "central", False),
    ("abc?", "", "abc1", True),
    ('"scam centre"', "", "a scam centre", True),
    ('"scam centre"', "", "a scam, centre", True),
    ('"scam centre"', "", "a centre scam", False),
    ('"scam centre"', "", "a scam big centre", False),
    ('"scam cent*"', "", "scam centers", True),
    ('"cyber slavery"', "", "cyber-slavery", True),
    ("cyber-slavery", "", "cyber slavery", True),
    ("Cambodia's", "", "Cambodia s", True),
    ("U.S.", "", "the US", False),
    ("U.S.", "", "the U.S. embassy", True),
    ("=NCCT", "", "the NCCT said", True),
    ("=NCCT", "", "the ncct said", False),
    ('="Tier 3"', "", "a Tier 3 country", True),
    ('="Tier 3"', "", "a tier 3 country", False),
    ("=Viet", "", "Việt Nam", True),
    ("a b", "", "b a", True),
    ("a AND b", "", "a only", False),
    ("a OR b", "", "only b", True),
    ("a NOT b", "", "a and b", False),
    ("a -b", "", "a alone", True),
    ("a NEAR/1 b", "", "a x b", True),
    ("a NEAR/1 b", "", "a x y b", False),
    ("a NEAR/1 b", "", "b x a", True),
    ("a ONEAR/1 b", "", "b x a", False),
    ("a ONEAR/1 b", "", "a x b", True),
    ("a NEAR/0 b", "", "a, b", True),
    ("a NEAR/2 b", "a", "b", False),
    ("(a OR c) NEAR/1 b", "", "c x b", True),
    ("title:scam", "scam", "", True),
    ("title:scam", "", "scam", False),
    ("text:(scam OR fraud)", "", "fraud", True),
    ("scam", "scam here", "", True),
    ("url:khmertimes", "", "", False),
    ("柬埔寨", "", "柬埔寨警方", True),
    ("警方", "", "柬埔寨警方", True),
    ("埔寨警", "", "柬埔寨警方", True),
    ("柬寨", "", "柬埔寨警方", False),
    ('"柬埔寨 警方"', "", "柬埔寨警方", True),
    ("柬埔寨 NEAR/1 方", "", "柬埔寨警方", True),
    ("柬埔寨 NEAR/0 方", "", "柬埔寨警方", False),
    ("ncct", "", "柬埔寨NCCT声明", True),
    ("ប៉ោយប៉ែត", "", "ប៉ូលិសនៅប៉ោយប៉ែតបានចាប់", True),
    ("ปอยเปต", "", "ตำรวจปอยเปตจับกุม", True),
    ("/\\d{3} Indonesians/", "", "arrested 270 Indonesians", True),
    ("/indonesians/", "", "270 Indonesians", False),
    ("/indonesians/i", "", "270 Indonesians", True),
    ("/a\\/b/", "", "x a/b y", True),
    ("/ﬁne/", "", "ﬁne", True),
    ("Straße", "", "STRASSE", True),
]


@pytest.mark.parametrize(("query", "title", "text", "expected"), CASES, ids=[f"{c[0]}|{c[2]}" for c in CASES])
def test_matches(query: str, title: str, text: str, expected: bool) -> None:
    assert _matches(query, Document(title=title, text=text)) is expected


def test_url_and_author_fields() -> None:
    doc = Document(text="x", url="https://www.khmertimeskh.com/news/scam-raid", author="Chou Bun Eng")
    assert _matches("url:scam", doc)
    assert _matches('author:"bun eng"', doc)
    assert not _matches("scam", doc)  # default fields are title and text


@pytest.mark.parametrize(
    ("query", "feed", "tags", "expected"),
    [
        ("scam feed:khmer-times", "Khmer-Times", (), True),
        ("scam feed:cambodia", "Khmer Times", ("Cambodia",), True),
        ("scam feed:other", "Khmer Times", ("cambodia",), False),
        ('scam feed:"khmer times"', "Khmer Times", (), True),
    ],
)
def test_feed_filter(query: str, feed: str, tags: tuple[str, ...], expected: bool) -> None:
    assert _matches(query, Document(text="scam", feed=feed, feed_tags=tags)) is expected


def test_lang_given_is_used_as_is_and_detected_only_when_absent() -> None:
    calls: list[str] = []

    def detect(text: str) -> str | None:
        calls.append(text)
        return "km"

    rs = RuleSet.from_queries({"r": "scam lang:km"}, detect_language=detect)
    assert not rs.match(Document(text="scam", lang="en"))
    assert calls == []
    assert rs.match(Document(text="scam"))
    assert len(calls) == 1


def test_rule_lang_and_feeds_filters() -> None:
    from monitor.rules.model import Rule
    from monitor.rules.syntax import parse_query

    rule = Rule(id="r", title="r", query="scam", lang=("km",), feeds=("khmer times",), node=parse_query("scam"))
    rs = RuleSet([rule], detect_language=lambda t: None)
    assert rs.match(Document(text="scam", lang="km", feed="Khmer Times"))
    assert not rs.match(Document(text="scam", lang="en", feed="Khmer Times"))
    assert not rs.match(Document(text="scam", lang="km", feed="other"))
    assert not rs.match(Document(text="scam", feed="Khmer Times"))  # undetectable language


def test_an_empty_language_is_detected_like_an_absent_one() -> None:
    rs = RuleSet.from_queries({"r": "scam AND lang:km"}, detect_language=lambda text: "km")
    assert rs.match(Document(text="scam", lang=""))
    assert not rs.match(Document(text="scam", lang="en"))


def test_disabled_rule_never_matches_but_examples_can_run() -> None:
    from monitor.rules.model import Rule
    from monitor.rules.syntax import parse_query

    rule = Rule(id="r", title="r", query="scam", enabled=False, node=parse_query("scam"))
    rs = RuleSet([rule])
    assert rs.match(Document(text="scam")) == []
    assert rs.match_rule("r", Document(text="scam")) is not None


def _hits(query: str, doc: Document) -> list[tuple[str, int, int, str]]:
    (m,) = _rs(query).match(doc)
    return [(h.field, h.start, h.end, h.text) for h in m.hits]


def test_hits_every_occurrence_of_every_positive_term() -> None:
    doc = Document(title="Raid", text="raid and raids; no fraud")
    assert _hits("raid* -football", doc) == [
        ("title", 0, 4, "Raid"),
        ("text", 0, 4, "raid"),
        ("text", 9, 14, "raids"),
    ]


def test_hits_from_every_true_or_branch_and_none_from_not() -> None:
    doc = Document(text="scam fraud casino")
    assert [h[3] for h in _hits("(scam OR fraud OR poker) NOT football", doc)] == ["scam", "fraud"]


def test_phrase_hit_is_one_span() -> None:
    assert _hits('"scam compound"', Document(text="a scam - compound")) == [("text", 2, 17, "scam - compound")]


def test_near_reports_both_operands() -> None:
    assert [h[3] for h in _hits("scam NEAR/2 compound", Document(text="scam big compound far far far scam"))] == [
        "scam",
        "compound",
    ]


def test_hit_offsets_index_the_original_text() -> None:
    text = "ﬁrst Vie\u0301t raid"
    (hit,) = [h for h in _hits("viet", Document(text=text))]
    assert text[hit[1] : hit[2]] == "Vie\u0301t"


def test_regex_hits_map_back_through_nfkc() -> None:
    text = "ﬁﬁ 270 Indonesians"
    (hit,) = _hits("/\\d+ indonesians/i", Document(text=text))
    assert hit[3] == "270 Indonesians"


def test_no_space_hit_spans_the_substring() -> None:
    assert _hits("柬埔寨", Document(text="在柬埔寨警方")) == [("text", 1, 4, "柬埔寨")]


def test_snippet_is_plain_text_about_300_chars_with_marks() -> None:
    text = ("filler words here " * 40) + "the police raided a compound " + ("more words " * 40)
    (m,) = _rs("raid*").match(Document(text=text))
    assert "**" not in m.snippet
    assert 250 <= len(m.snippet) <= 360
    assert "**raided**" in m.marked_snippet()
    (start, end) = m.snippet_hits[0]
    assert m.snippet[start:end] == "raided"


def test_snippet_collapses_whitespace() -> None:
    (m,) = _rs("raid").match(Document(text="a\n\n  raid\tnow"))
    assert m.snippet == "a raid now"
    assert m.marked_snippet() == "a **raid** now"


def test_regex_timeout_fails_only_that_rule(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(evaluate_mod, "REGEX_TIMEOUT", 0.000001)
    rs = RuleSet.from_queries({"slow": "/(x+x+)+y/", "fast": "fast"})
    doc = Document(text="x" * 5000 + " fast")
    with caplog.at_level(logging.WARNING, logger="monitor.rules"):
        matches = rs.match(doc)
    assert [m.rule.id for m in matches] == ["fast"]
    assert "rule regex timeout rule=slow" in caplog.text


def test_rule_version_is_a_hash_of_the_normalised_definition() -> None:
    from monitor.rules.load import _version
    from monitor.rules.syntax import parse_query

    a = _version("r", parse_query("scam   AND  raid"), (), ())
    b = _version("r", parse_query("SCAM raid"), (), ())
    c = _version("r", parse_query("scam OR raid"), (), ())
    assert a == b != c


def test_rule_version_of_a_no_space_script_term_is_unchanged_by_its_display() -> None:
    import hashlib

    from monitor.rules.load import _version
    from monitor.rules.syntax import parse_query

    node = parse_query("ប៉ោយប៉ែត AND raid*")
    assert str(node) == "ប៉ោយប៉ែត AND raid*"
    # The hash input is the spaced form, as before the display fix: existing matches keep their rule version.
    old_input = 'r\n"ប៉ោ យ ប៉ែ ត" AND raid*\nlang=\nfeeds='
    assert _version("r", node, (), ()) == hashlib.sha256(old_input.encode()).hexdigest()[:16]


def test_only_anchored_rules_are_evaluated() -> None:
    rs = RuleSet.from_queries({f"r{i}": f"word{i} AND common" for i in range(200)})
    assert rs.scan_rules == ()
    assert [m.rule.id for m in rs.match(Document(text="common word7"))] == ["r7"]


def test_regex_only_rule_is_a_scan_rule() -> None:
    rs = RuleSet.from_queries({"re": "/scam/ OR fraud", "ok": "/scam/ fraud"})
    assert [r.id for r in rs.scan_rules] == ["re"]
    assert [m.rule.id for m in rs.match(Document(text="scam"))] == ["re"]


def test_benchmark_smoke() -> None:
    """The benchmark runs (100 rules, 3 articles, both profiles) and the compiled matcher beats the naive baseline."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "benchmarks" / "bench_rules.py"
    spec = importlib.util.spec_from_file_location("_bench_rules", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = bench.run([100], 3, 1, ["calibrated", "high"])
    for profile in ("calibrated", "high"):
        (row,) = results[profile]
        assert row["rules"] == 100 and row["vs_naive"] > 1 and row["candidates"] >= row["matches"]
        assert row["aps"] > 0 and row["vs_bare_norm"] > 0
    markdown = bench.to_markdown(results, 3, 1)
    assert "## Rule matching" in markdown and "9 shipped" in markdown


_TERMS = ["abc", "abc*", "ab?", "=ABC", "=Abc*", "bc0", "abcx*", "a?cx", "zzz", "c0"]


@given(st.text(alphabet="abcABC0x .,’-\u00a0", max_size=40), st.sampled_from(_TERMS))
@settings(max_examples=500, deadline=None)
def test_one_word_terms_found_in_the_text_agree_with_the_word_path(text: str, query: str) -> None:
    # The direct search (CompiledTerm.text_spans) must give exactly the spans of the word-by-word path.
    rs = RuleSet.from_queries({"r": query})
    ct = rs._table.terms[0]  # noqa: SLF001 - the two paths of one term are the point
    f = Field(text)
    assert ct.piece is not None and f.plain
    assert ct.key is not None
    assert ct.text_spans(f) == f.spans(ct.occurrences(f, f.find_all(ct.key)))
