"""Decisive snippets: the snippet shows the hits that made the rule true (its witness), per operator shape, and
passages in document order when they are far apart (docs/rules.md, "Snippets")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.rules import Document, Match, RuleSet, load_rules
from monitor.rules.snippet import MAX_PASSAGES, SEPARATOR, SNIPPET_CHARS
from tests.rules.test_properties import _reference_snippet_marks

FILLER = "The committee met again on Tuesday and discussed the budget for the coming year in detail. "
#: A snippet of several passages stays within the window, give or take the "…" either side of each.
LIMIT = SNIPPET_CHARS + 2 * MAX_PASSAGES


def _filler(chars: int) -> str:
    return (FILLER * (chars // len(FILLER) + 1))[:chars].rsplit(" ", 1)[0] + " "


def _match(query: str, text: str, title: str = "") -> Match:
    (m,) = RuleSet.from_queries({"r": query}, detect_language=lambda _: "en").match(Document(title=title, text=text))
    return m


def _marked(m: Match) -> list[str]:
    """The texts of the snippet's marks, in order."""
    return [m.snippet[s:e] for s, e in m.snippet_hits]


def _decisive(m: Match) -> list[str]:
    return [" ".join(h.text.split()) for h in m.decisive]


def _assert_shows_decisive(m: Match) -> None:
    """Every decisive hit of the snippet's field is in the snippet, marked where it stands."""
    field = "text" if any(h.field == "text" for h in m.decisive) else m.decisive[0].field
    marked = _marked(m)
    for h in m.decisive:
        if h.field == field:
            assert " ".join(h.text.split()) in marked, (h, m.snippet)
    assert len(m.snippet) <= LIMIT + 80  # one passage may grow to the next word, as it always did


def test_a_single_term_gives_the_same_snippet_as_before() -> None:
    text = _filler(2000) + "Police raided a compound. " + _filler(3000) + "Another raid followed. " + _filler(500)
    m = _match("raid*", text)
    spans = [(h.start, h.end) for h in m.hits]
    assert (m.snippet, list(m.snippet_hits)) == _reference_snippet_marks(text, spans)
    assert _decisive(m) == ["raided"] and SEPARATOR not in m.snippet


CASES = [
    # (query, text, decisive hits)
    ("raid", _filler(900) + "a raid in Poipet. " + _filler(900) + "raid again", ["raid"]),
    ('"scam centre"', _filler(700) + "the scam centre was shut", ["scam centre"]),
    ("raid*", _filler(700) + "police raided it", ["raided"]),
    ("raid AND NOT football", _filler(500) + "police raid at dawn", ["raid"]),
    ("/scam\\s+compound/", _filler(600) + "a scam  compound and a scam compound", ["scam compound"]),
    ("poipet OR casino", _filler(300) + "a casino " + _filler(900) + "Poipet", ["casino"]),
]


@pytest.mark.parametrize(("query", "text", "decisive"), CASES, ids=[c[0] for c in CASES])
def test_the_snippet_shows_the_decisive_hits(query: str, text: str, decisive: list[str]) -> None:
    m = _match(query, text)
    assert _decisive(m) == decisive
    _assert_shows_decisive(m)
    assert SEPARATOR not in m.snippet


def test_a_set_shows_its_first_member_that_occurs(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        'sets:\n  places: [Poipet, "Phnom Penh", Bavet]\nrules:\n  - {id: r, title: t, query: "@places"}\n',
        encoding="utf-8",
    )
    rs = load_rules([tmp_path / "r.yaml"])
    (m,) = rs.match(Document(text=_filler(800) + "in Phnom Penh and " + _filler(900) + "in Poipet"))
    assert _decisive(m) == ["Phnom Penh"]
    _assert_shows_decisive(m)


def test_near_shows_the_pair_within_the_distance_not_the_first_lone_word() -> None:
    text = "A scam was reported. " + _filler(3000) + "Inside the scam call centre, workers were held. " + _filler(800)
    m = _match("scam NEAR/3 centre", text)
    assert _decisive(m) == ["scam", "centre"]
    assert m.decisive[0].start > 3000
    _assert_shows_decisive(m)
    assert "Inside the scam call centre" in m.snippet


def test_onear_shows_the_pair_in_order() -> None:
    text = "The centre of a scam. " + _filler(2000) + "A scam centre was closed. " + _filler(500)
    m = _match("scam ONEAR/2 centre", text)
    assert _decisive(m) == ["scam", "centre"] and m.decisive[0].start > 2000
    assert "A scam centre was closed" in m.snippet and "The centre of a scam" not in m.snippet


def test_and_far_apart_gives_passages_in_document_order_within_the_length() -> None:
    text = "Poipet is a border town. " + _filler(5000) + "Police raided a casino there. " + _filler(5000)
    m = _match("raid* AND poipet", text)
    assert _decisive(m) == ["Poipet", "raided"]
    passages = m.snippet.split(SEPARATOR)
    assert len(passages) == 2
    assert "Poipet is a border town" in passages[0] and "Police raided a casino" in passages[1]
    assert passages[0].endswith("…") and passages[1].startswith("…") and passages[1].endswith("…")
    assert len(m.snippet) <= LIMIT
    assert _marked(m) == ["Poipet", "raided"]
    _assert_shows_decisive(m)


def test_and_near_each_other_gives_one_passage() -> None:
    text = "Poipet news. " + _filler(4000) + "In Poipet, police raided a casino. " + _filler(4000)
    m = _match("raid* AND poipet", text)
    assert SEPARATOR not in m.snippet
    assert "In Poipet, police raided a casino" in m.snippet
    assert [h.start > 4000 for h in m.decisive] == [True, True]  # the Poipet nearest to the raid, not the first


def test_many_far_apart_conjuncts_share_the_length_in_at_most_max_passages() -> None:
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
    text = "".join(f"{w} here. " + _filler(3000) for w in words)
    m = _match(" AND ".join(words), text)
    passages = m.snippet.split(SEPARATOR)
    assert len(passages) == MAX_PASSAGES and len(m.snippet) <= LIMIT
    assert [p for w in words[:MAX_PASSAGES] for p in passages if w in p] == passages  # document order
    assert _marked(m) == words[:MAX_PASSAGES]


def test_time_like_case_shows_the_near_window_and_the_place() -> None:
    # A long election article: Cambodia named in the first paragraph (a border clash), the clause that makes the
    # rule true 16,000 characters later.
    text = (
        "Thailand's election campaign opened days after a border clash with Cambodia left two soldiers dead. "
        + _filler(16000)
        + "Investigators say scam centres held thousands in forced labour near the frontier. "
        + _filler(3000)
    )
    m = _match('cambodia AND ("scam centre*" NEAR/10 "forced labour")', text)
    assert _decisive(m) == ["Cambodia", "scam centres", "forced labour"]
    first, second = m.snippet.split(SEPARATOR)
    assert "border clash with Cambodia" in first
    assert "scam centres held thousands in forced labour" in second
    assert _marked(m) == ["Cambodia", "scam centres", "forced labour"]


def test_and_of_near_takes_the_place_nearest_to_the_window() -> None:
    text = (
        "Cambodia in brief. "
        + _filler(8000)
        + "Cambodia said on Monday that scam centres used forced labour. "
        + _filler(8000)
        + "Cambodia again."
    )
    m = _match('cambodia AND ("scam centre*" NEAR/10 "forced labour")', text)
    assert SEPARATOR not in m.snippet
    assert "**Cambodia** said on Monday that **scam centres** used **forced labour**" in m.marked_snippet()


def test_or_of_ands_prefers_the_compact_branch() -> None:
    text = "Poipet opens. " + _filler(6000) + "A casino arrest was made. " + _filler(3000) + "A raid ended it."
    m = _match("(poipet AND raid) OR (casino AND arrest)", text)
    assert _decisive(m) == ["casino", "arrest"]
    assert SEPARATOR not in m.snippet and "A casino arrest was made" in m.snippet
    assert {h.text for h in m.hits} >= {"Poipet", "raid", "casino", "arrest"}  # hits still list every branch


def test_field_scope_witness_in_the_title_and_the_text() -> None:
    m = _match("title:election AND cambodia", _filler(3000) + "Cambodia closed the border.", title="Election day")
    assert [(h.field, h.text) for h in m.decisive] == [("title", "Election"), ("text", "Cambodia")]
    assert "Cambodia closed the border" in m.snippet and _marked(m) == ["Cambodia"]


def test_every_decisive_hit_in_the_title_shows_the_title_with_its_hits_marked() -> None:
    m = _match("title:raid", "Nothing here about it. " + _filler(500), title="Raid in Poipet")
    assert m.snippet == "Raid in Poipet" and _marked(m) == ["Raid"]


def test_a_term_in_title_and_text_is_shown_in_the_text() -> None:
    m = _match("raid", _filler(400) + "the raid began", title="Raid")
    assert [h.field for h in m.decisive] == ["text"] and "the raid began" in m.snippet
    assert [h.field for h in m.hits] == ["title", "text"]


def test_marks_stay_on_the_hits_after_whitespace_collapses_in_every_passage() -> None:
    text = (
        "\n\n  Poipet\t\tis   a\n\ntown. "
        + _filler(3000).replace(" ", "  \n ")
        + "Police\n\n\n raided \t a   casino. "
        + _filler(2000)
    )
    m = _match("raid* AND poipet", text)
    assert len(m.snippet.split(SEPARATOR)) == 2 and "  " not in m.snippet and "\n" not in m.snippet
    assert _marked(m) == ["Poipet", "raided"]


_words = st.lists(st.sampled_from(["raid", "poipet", "news", "of", "the", "day", "x" * 30]), min_size=1, max_size=60)
_seps = st.sampled_from([" ", "  ", "\n", " \t\n ", ". "])


@settings(max_examples=200, deadline=None)
@given(words=_words, seps=st.lists(_seps, min_size=60, max_size=60), pad=st.integers(0, 3))
def test_every_mark_is_a_hit_whatever_the_spacing_and_distance(words: list[str], seps: list[str], pad: int) -> None:
    text = "".join(
        w + s + ("filler " * 40 * pad if i % 7 == 3 else "") for i, (w, s) in enumerate(zip(words, seps, strict=False))
    )
    for m in RuleSet.from_queries({"r": "raid AND poipet"}).match(Document(text=text)):
        assert {t.lower() for t in _marked(m)} <= {"raid", "poipet"}
        assert {t.lower() for t in _marked(m)} >= {"raid", "poipet"}
        assert len(m.snippet.split(SEPARATOR)) <= 2 and len(m.snippet) <= SNIPPET_CHARS + 80


def test_a_term_occurring_100000_times_and_an_or_of_5000_branches() -> None:
    text = "scam " * 100_000 + "centre of it all"
    m = _match("scam AND centre", text)
    assert _decisive(m) == ["scam", "centre"] and m.decisive[0].start == 500_000 - 5  # the nearest scam
    assert SEPARATOR not in m.snippet
    assert m.marked_snippet().endswith("**scam** **centre** of it all")
    m = _match("scam NEAR/1 centre", text)
    assert _decisive(m) == ["scam", "centre"]
    words = [f"w{i}x" for i in range(5000)]
    doc = " ".join(reversed(words))
    m = _match(" OR ".join(words), doc)
    assert _decisive(m) == ["w4999x"] and len(m.hits) == 5000
    m = _match(f"({' OR '.join(words)}) AND zeta", doc + " zeta")
    assert _decisive(m) == ["w0x", "zeta"]


def test_passages_are_cut_at_word_boundaries() -> None:
    text = "Poipet is far. " + _filler(5000) + "Police raided it. " + _filler(5000)
    m = _match("raid* AND poipet", text)
    for passage in m.snippet.split(SEPARATOR):
        inner = passage.strip("…")
        words = set(re.findall(r"[A-Za-z]+", FILLER + "Poipet is far Police raided it"))
        assert set(re.findall(r"[A-Za-z]+", inner)) <= words, passage


def test_an_and_anchored_in_the_title_still_shows_the_text_near_each_other() -> None:
    text = "Cambodia in brief. " + _filler(6000) + "Cambodia said a scam ring was broken up. " + _filler(2000)
    m = _match("title:election AND cambodia AND scam", text, title="Election in Cambodia")
    assert [(h.field, h.text) for h in m.decisive] == [("title", "Election"), ("text", "Cambodia"), ("text", "scam")]
    assert m.decisive[1].start > 6000 and SEPARATOR not in m.snippet
    assert "**Cambodia** said a **scam** ring" in m.marked_snippet()


def test_an_and_that_fits_one_window_at_the_start_keeps_the_first_hits() -> None:
    text = "Police raid in Poipet. " + _filler(5000) + "Poipet raid again. " + _filler(500)
    m = _match("raid AND poipet", text)
    assert [h.start for h in m.decisive] == [7, 15]
    assert m.snippet.startswith("Police raid in Poipet.") and SEPARATOR not in m.snippet
