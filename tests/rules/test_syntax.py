"""docs/rule-language.md sections 2 and 6: the query language, operator by operator, and its errors with columns."""

from __future__ import annotations

import pytest

from monitor.errors import RuleError
from monitor.rules import Document, RuleSet
from monitor.rules.nodes import And, FieldScope, Meta, Near, Not, Or, Regex, SetRef, Term
from monitor.rules.syntax import parse_query, parse_set_entry


def _sets(name: str) -> tuple[Term, ...] | None:
    if name == "places":
        entry = parse_set_entry("Poipet")
        assert isinstance(entry, Term)
        return (entry,)
    return None


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        pytest.param("Poipet", "poipet", id="word-folded"),
        pytest.param("Việt", "viet", id="word-accent-folded"),
        pytest.param("raid*", "raid*", id="prefix-wildcard"),
        pytest.param("organi?ation", "organi?ation", id="question-mark"),
        pytest.param("cent*e", "cent*e", id="inner-star"),
        pytest.param('"a b c"', '"a b c"', id="phrase"),
        pytest.param('"scam cent*"', '"scam cent*"', id="phrase-with-wildcard"),
        pytest.param("=NCCT", "=NCCT", id="exact-case"),
        pytest.param('="Tier 3"', '="Tier 3"', id="exact-phrase"),
        pytest.param("=Việt", "=Viet", id="exact-still-folds-accents"),
        pytest.param("@places", "@places", id="set"),
        pytest.param("a b", "a AND b", id="juxtaposition-is-and"),
        pytest.param("a AND b", "a AND b", id="and"),
        pytest.param("a OR b", "a OR b", id="or"),
        pytest.param("a and b", "a AND and AND b", id="lower-case-and-is-a-word"),
        pytest.param("a or b", "a AND or AND b", id="lower-case-or-is-a-word"),
        pytest.param("a not b", "a AND not AND b", id="lower-case-not-is-a-word"),
        pytest.param("a near b", "a AND near AND b", id="lower-case-near-is-a-word"),
        pytest.param("a NOT b", "a AND NOT b", id="not"),
        pytest.param("a -b", "a AND NOT b", id="minus"),
        pytest.param("a - b", "a AND b", id="lone-minus-is-punctuation"),
        pytest.param("a NEAR/3 b", "a NEAR/3 b", id="near"),
        pytest.param("a ONEAR/0 b", "a ONEAR/0 b", id="onear"),
        pytest.param("(a OR b) NEAR/5 @places", "(a OR b) NEAR/5 @places", id="near-or-operand"),
        pytest.param('"a b" NEAR/2 cam*', '"a b" NEAR/2 cam*', id="near-phrase-operand"),
        pytest.param("a OR b c", "a OR b AND c", id="and-binds-tighter-than-or"),
        pytest.param("a b NEAR/1 c", "a AND b NEAR/1 c", id="near-binds-tighter-than-and"),
        pytest.param("(a OR b) c", "(a OR b) AND c", id="grouping"),
        pytest.param("title:x", "title:x", id="field-title"),
        pytest.param("text:(a OR b)", "text:(a OR b)", id="field-group"),
        pytest.param("url:example author:smith", "url:example AND author:smith", id="field-url-author"),
        pytest.param("scam feed:khmertimes", "scam AND feed:khmertimes", id="feed-filter"),
        pytest.param("scam lang:km", "scam AND lang:km", id="lang-filter"),
        pytest.param("/\\d+ arrested/", "/\\d+ arrested/", id="regex-spaces-inside"),
        pytest.param("/a\\/b/i", "/a\\/b/i", id="regex-escaped-slash-ignorecase"),
        pytest.param("cyber-slavery", '"cyber slavery"', id="hyphenated-term-is-phrase"),
        pytest.param("U.S.", '"u s"', id="dotted-term-is-phrase"),
        pytest.param('"a AND b"', '"a and b"', id="inside-quotes-everything-is-words"),
        pytest.param('"title:x"', '"title x"', id="inside-quotes-field-is-words"),
        pytest.param("a/b", '"a b"', id="slash-inside-term-is-not-regex"),
        pytest.param("柬埔寨", "柬埔寨", id="no-space-term-shown-as-written"),
        pytest.param("ប៉ោយប៉ែត", "ប៉ោយប៉ែត", id="khmer-term-shown-as-written"),
        pytest.param("ปอยเปต", "ปอยเปต", id="thai-term-shown-as-written"),
        pytest.param('"柬埔寨 警方"', '"柬埔寨 警方"', id="no-space-phrase-keeps-its-space"),
        pytest.param("柬埔寨NCCT", '"柬埔寨 ncct"', id="script-change-splits-a-word"),
        pytest.param("ปอ?", "ปอ?", id="no-space-wildcard-shown-as-written"),
        pytest.param("柬*", "柬", id="no-space-one-char-before-star"),
        pytest.param("a NOT (b OR c)", "a AND NOT (b OR c)", id="not-group"),
        pytest.param("NOT NOT a b", "NOT NOT a AND b", id="double-not"),
        pytest.param("abc* NOT abc", "abc* AND NOT abc", id="wildcard-three-letters"),
    ],
)
def test_parses(query: str, canonical: str) -> None:
    assert str(parse_query(query, _sets)) == canonical


def test_canonical_text_parses_back_to_the_same_query() -> None:
    for query in ("ប៉ោយប៉ែត", '"柬埔寨 警方" NEAR/2 ปอยเปต', "=Viet cent?e", "柬埔寨NCCT", "ปอ?"):
        node, again = parse_query(query), parse_query(str(parse_query(query)))
        assert (str(again), again.render(spaced=True)) == (str(node), node.render(spaced=True))


def test_spaced_rendering_separates_every_grapheme_of_a_no_space_word() -> None:
    # The form rule versions hash (kept from before terms were shown as written).
    assert parse_query("ប៉ោយប៉ែត OR poipet").render(spaced=True) == '"ប៉ោ យ ប៉ែ ត" OR poipet'
    assert parse_query("柬埔寨 raid*").render(spaced=True) == '"柬 埔 寨" AND raid*'


def test_not_binds_tighter_than_near() -> None:
    with pytest.raises(RuleError, match="not a NOT"):
        parse_query("NOT a NEAR/2 b")  # (NOT a) NEAR/2 b


def test_tree_shapes() -> None:
    assert isinstance(parse_query("a OR b c"), Or)
    assert isinstance(parse_query("a b NEAR/1 c").children[1], Near)  # type: ignore[attr-defined]
    assert isinstance(parse_query("title:a"), FieldScope)
    assert isinstance(parse_query("a -b").children[1], Not)  # type: ignore[attr-defined]
    assert isinstance(parse_query("a feed:x").children[1], Meta)  # type: ignore[attr-defined]
    assert isinstance(parse_query("/x/"), Regex)
    assert isinstance(parse_query("a b"), And)
    node = parse_query("@places", _sets)
    assert isinstance(node, SetRef) and [str(t) for t in node.terms] == ["poipet"]
    regex = parse_query("/ﬁne/i")
    assert isinstance(regex, Regex) and regex.pattern == "fine" and regex.ignore_case


@pytest.mark.parametrize(
    ("query", "column", "message"),
    [
        pytest.param("", 1, "empty query", id="empty"),
        pytest.param("NOT football", 1, "no positive term", id="not-alone"),
        pytest.param("-football", 1, "no positive term", id="minus-alone"),
        pytest.param("a OR NOT b", 6, "OR branch", id="or-not-branch"),
        pytest.param("a AND (b OR NOT c)", 13, "OR branch", id="or-checked-as-written"),
        pytest.param("feed:x", 1, "no positive term", id="feed-is-not-positive"),
        pytest.param("a OR lang:en", 6, "OR branch", id="lang-is-not-positive"),
        pytest.param("a NEAR b", 3, "NEAR needs a distance", id="near-without-n"),
        pytest.param("a ONEAR b", 3, "ONEAR needs a distance", id="onear-without-n"),
        pytest.param("a NEAR/x b", 3, "whole number", id="near-not-a-number"),
        pytest.param("a NEAR/1.5 b", 3, "whole number", id="near-fraction"),
        pytest.param("/x/ NEAR/2 b", 1, "not a regex", id="regex-near-operand"),
        pytest.param("a NEAR/2 (b AND c)", 11, "not an AND", id="and-near-operand"),
        pytest.param("a NEAR/2 NOT b", 10, "not a NOT", id="not-near-operand"),
        pytest.param("a NEAR/2 title:b", 10, "not a field", id="field-near-operand"),
        pytest.param("a NEAR/2 b NEAR/2 c", 1, "another NEAR", id="near-near-operand"),
        pytest.param("a NEAR/2 (b OR /x/)", 16, "not a regex", id="regex-inside-or-near-operand"),
        pytest.param("a NEAR/2 feed:x", 10, "feed:/lang:", id="meta-near-operand"),
        pytest.param("scam body:x", 6, "unknown field 'body'", id="unknown-field"),
        pytest.param("Title:x", 1, "lower case", id="field-names-lower-case"),
        pytest.param("ra*", 1, "at least 3 letters", id="wildcard-two-letters"),
        pytest.param("a *bc", 3, "at least 3 letters", id="leading-star"),
        pytest.param('"scam ce*"', 1, "at least 3 letters", id="short-wildcard-in-phrase"),
        pytest.param("(a OR b", 1, "missing ')'", id="unclosed-paren"),
        pytest.param("a OR b)", 7, "unexpected ')'", id="stray-paren"),
        pytest.param("()", 1, "empty parentheses", id="empty-parens"),
        pytest.param('a "b c', 3, "unterminated phrase", id="unterminated-phrase"),
        pytest.param("a /b c", 3, "unterminated regex", id="unterminated-regex"),
        pytest.param("a /[/", 3, "invalid regex", id="invalid-regex"),
        pytest.param("a /x/g", 6, "unknown regex flag", id="bad-regex-flag"),
        pytest.param("a AND", 3, "'AND' needs a term on its right", id="and-no-right"),
        pytest.param("AND a", 1, "'AND' needs a term on its left", id="and-no-left"),
        pytest.param("a OR", 3, "'OR' needs a term on its right", id="or-no-right"),
        pytest.param("OR a", 1, "'OR' needs a term on its left", id="or-no-left"),
        pytest.param("a NOT", 3, "'NOT' needs a term", id="not-no-operand"),
        pytest.param("a = b", 3, "'=' must be followed", id="lone-equals"),
        pytest.param("a @Places", 3, "set name", id="set-name-case"),
        pytest.param("a @", 3, "set name", id="empty-set-name"),
        pytest.param("@nope", 1, "undefined set '@nope'", id="undefined-set"),
        pytest.param('a ""', 3, "holds no word", id="empty-phrase"),
        pytest.param("a feed:(x OR y)", 3, "plain value", id="feed-takes-value"),
    ],
)
def test_errors(query: str, column: int, message: str) -> None:
    with pytest.raises(RuleError) as info:
        parse_query(query, _sets)
    assert message in info.value.message
    assert info.value.column == column


@pytest.mark.parametrize(
    ("entry", "canonical"),
    [
        pytest.param("Phnom Penh", '"phnom penh"', id="several-words-are-a-phrase"),
        pytest.param('"scam centre"', '"scam centre"', id="quoted-phrase"),
        pytest.param("crackdown*", "crackdown*", id="wildcard"),
        pytest.param("=NCCT", "=NCCT", id="exact"),
        pytest.param("@other", "@other", id="include"),
        pytest.param("rock and roll", '"rock and roll"', id="lower-case-operators-are-words"),
    ],
)
def test_set_entries(entry: str, canonical: str) -> None:
    assert str(parse_set_entry(entry)) == canonical


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        pytest.param("a OR b", "operator", id="operator"),
        pytest.param("(a)", "parenthesis", id="parenthesis"),
        pytest.param("title:a", "field", id="field"),
        pytest.param("-a", "NOT", id="minus"),
        pytest.param("NOT a", "NOT", id="not"),
        pytest.param("/a/", "regex", id="regex"),
        pytest.param("a NEAR/2 b", "operator", id="near"),
    ],
)
def test_set_entry_errors(entry: str, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        parse_set_entry(entry)


@pytest.mark.parametrize("query", ["“scam centre”", "„scam centre“", '"scam centre”'])
def test_curly_quotes_pasted_from_a_word_processor_make_a_phrase(query: str) -> None:
    rs = RuleSet.from_queries({"r": query})
    assert rs.match(Document(text="a scam centre raided"))
    assert not rs.match(Document(text="a scam near the centre"))


def test_curly_quotes_in_an_exact_phrase_and_a_set_entry() -> None:
    assert str(parse_query("=“Tier 3”", {}.get)) == str(parse_query('="Tier 3"', {}.get))
    assert str(parse_set_entry("“scam centre”")) == str(parse_set_entry('"scam centre"'))
