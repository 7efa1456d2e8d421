"""docs/rule-language.md section 3: normalisation of articles and queries."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.rules.nfkc import _nfkc_each, nfkc_with_map
from monitor.rules.text import _WORD_RE, Field, fold_word, normalise, split_words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        pytest.param("Poipet POIPET poipet", ["poipet"] * 3, id="case-folded"),
        pytest.param("Việt Nam", ["viet", "nam"], id="vietnamese-diacritics"),
        pytest.param("café élan", ["cafe", "elan"], id="french-accents"),
        pytest.param("Đà Nẵng", ["da", "nang"], id="d-stroke"),
        pytest.param("Søren Ørsted", ["soren", "orsted"], id="o-slash"),
        pytest.param("Straße", ["strasse"], id="sharp-s-casefold"),
        pytest.param("ﬁnance", ["finance"], id="nfkc-ligature"),
        pytest.param("ＮＣＣＴ", ["ncct"], id="nfkc-fullwidth"),
        pytest.param("Cambodia's", ["cambodia", "s"], id="apostrophe-separates"),
        pytest.param("Cambodia’s", ["cambodia", "s"], id="curly-apostrophe-separates"),
        pytest.param("cyber-slavery", ["cyber", "slavery"], id="hyphen-separates"),
        pytest.param("U.S.", ["u", "s"], id="dots-separate"),
        pytest.param("COVID19 2,760", ["covid19", "2", "760"], id="digits-are-word-chars"),
        pytest.param("a/b_c", ["a", "b", "c"], id="symbols-separate"),
        pytest.param("柬埔寨警方", ["柬", "埔", "寨", "警", "方"], id="han-one-word-per-character"),
        pytest.param("柬埔寨NCCT声明", ["柬", "埔", "寨", "ncct", "声", "明"], id="script-change-splits"),
        pytest.param("ភ្នំពេញ", ["ភ្នំ", "ពេ", "ញ"], id="khmer-graphemes"),
        pytest.param("สวัสดี", ["ส", "วั", "ส", "ดี"], id="thai-graphemes-keep-vowel-signs"),
        pytest.param("Москва", ["москва"], id="cyrillic-casefold-only"),
        pytest.param("हिन्दी", ["हिन्दी"], id="devanagari-signs-are-letters"),
        pytest.param("Ελλάδα", ["ελλάδα"], id="greek-keeps-accents"),
        pytest.param("abcДЕФ", ["abc", "деф"], id="latin-cyrillic-split"),
        pytest.param("", [], id="empty"),
    ],
)
def test_words(text: str, words: list[str]) -> None:
    assert normalise(text).words == words


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        pytest.param("Raid in Poipet", [(0, 4), (5, 7), (8, 14)], id="ascii"),
        pytest.param("ﬁne Việt", [(0, 3), (4, 8)], id="nfkc-ligature-maps-back"),
        pytest.param("Vie\u0301t nam", [(0, 5), (6, 9)], id="combining-accent-maps-back"),
        pytest.param("柬埔寨", [(0, 1), (1, 2), (2, 3)], id="han"),
    ],
)
def test_offsets_point_into_original_text(text: str, spans: list[tuple[int, int]]) -> None:
    f = normalise(text)
    assert list(zip(f.starts, f.ends, strict=False)) == spans


def test_cased_form_keeps_case_but_folds_accents() -> None:
    f = normalise("NCCT Việt")
    assert f.cased == ["NCCT", "Viet"]


def test_norm_string_has_one_space_between_words() -> None:
    assert normalise("Phnom, Penh!").norm == " phnom penh "


def test_joined_only_without_separator() -> None:
    f = normalise("柬埔 寨")
    assert [f.joined(i) for i in range(3)] == [False, True, False]


@pytest.mark.parametrize(
    ("word", "keep_case", "expected"),
    [("Élan", False, "elan"), ("Élan", True, "Elan"), ("ĐỒNG", True, "DONG"), ("ß", False, "ss")],
)
def test_fold_word(word: str, keep_case: bool, expected: str) -> None:
    assert fold_word(word, keep_case=keep_case) == expected


def test_query_words_keep_wildcards() -> None:
    assert [p.text for p in split_words("Raid* organi?ation", wildcards=True)] == ["raid*", "organi?ation"]


# Characters the fast path must tell apart: separators NFKC keeps or maps to one separator (it may take those),
# and letters, marks, digits and expanding separators (it must leave to the general path).
_MIXED = "ab Z09.,-'’‘“”—–\u00a0\u2009\u00ad…™éﬁ\u0301ａ٣柬Пx\n"


@given(st.text(alphabet=_MIXED, max_size=60))
@settings(max_examples=400, deadline=None)
def test_the_fast_path_for_ascii_words_agrees_with_the_general_path(text: str) -> None:
    fast, general = Field(text), Field(text, fast=False)
    assert (fast.words, fast.cased, fast.norm, fast.nfkc) == (general.words, general.cased, general.norm, general.nfkc)
    assert (fast.starts, fast.ends) == (general.starts, general.ends)
    assert [fast.joined(i) for i in range(len(fast.words))] == [general.joined(i) for i in range(len(general.words))]
    spans = [(s, e) for s in range(len(general.nfkc) + 1) for e in (s, s + 1, s + 3) if e <= len(general.nfkc)]
    assert [fast.nfkc_span(s, e) for s, e in spans] == [general.nfkc_span(s, e) for s, e in spans]


@pytest.mark.parametrize("text", ["Cambodia’s SCAM… centre", "Poipet \ud800 RAID", "ÀB… cd"])
def test_a_field_lower_cased_changes_its_ascii_letters_only(text: str) -> None:
    assert Field(text).lowered() == "".join(c.lower() if c.isascii() else c for c in text)


def test_english_news_punctuation_takes_the_fast_path() -> None:
    text = "Cambodia’s “scam compounds” — raided\u00a0today"
    f = Field(text)
    assert f.words == ["cambodia", "s", "scam", "compounds", "raided", "today"]
    assert f._parts is not None  # noqa: SLF001 - the point is which path was taken
    assert [text[s:e] for s, e in zip(f.starts, f.ends, strict=False)] == [
        "Cambodia",
        "s",
        "scam",
        "compounds",
        "raided",
        "today",
    ]
    # NFKC expands '…' to three characters: the words are still the ASCII runs, the regexes' text is mapped.
    ellipsis = Field("Cambodia… scam")
    assert ellipsis._parts is not None  # noqa: SLF001
    assert (ellipsis.words, ellipsis.starts, ellipsis.nfkc) == (["cambodia", "scam"], [0, 10], "Cambodia... scam")
    assert [ellipsis.nfkc_span(s, s + 4) for s in (8, 12)] == [(8, 10), (10, 14)]


@given(st.text(alphabet="ab é\u0301\u0300\u0323\u031bﬁ…\u00a0ａ가\u1161\u11a8ᄀ柬ⓒ\u0340’กำัี\u0e48", max_size=40))
@settings(max_examples=400, deadline=None)
def test_nfkc_maps_unit_by_unit_agree_with_char_by_char(text: str) -> None:
    # The same text as the char-by-char path; each character maps inside the unit (a character and the marks
    # after it) that path gives it: exactly that unit where NFKC changed something, itself where it was copied.
    nfkc, starts, ends = nfkc_with_map(text)
    if starts is None or ends is None:
        assert nfkc == text == unicodedata.normalize("NFKC", text)
        return
    each, unit_starts, unit_ends = _nfkc_each(text)
    assert nfkc == each
    assert all(us <= s < e <= ue for s, e, us, ue in zip(starts, ends, unit_starts, unit_ends, strict=False))
    assert starts == sorted(starts) and ends == sorted(ends)


@given(st.text(alphabet="aｶﾞﾟｽ ﾊガตำรวจຈຳໜ້㍿ʼ'é́ﬁ…가ᅡ柬", max_size=40))
@settings(max_examples=400, deadline=None)
def test_field_nfkc_is_the_text_s_nfkc(text: str) -> None:
    # Characters NFKC expands (ำ, ໜ, ㍿) or composes with the one before (ﾞ after ｶ) included.
    assert Field(text, fast=False).nfkc == unicodedata.normalize("NFKC", text)
    assert Field(text).nfkc == unicodedata.normalize("NFKC", text)


def _reference_spans(text: str) -> list[tuple[int, int]]:
    """Word spans found the slow, obvious way: every word run, cut by script, mapped back through NFKC."""
    nfkc, starts, ends = nfkc_with_map(text)
    spans: list[tuple[int, int]] = []
    for m in _WORD_RE.finditer(nfkc):
        for piece in split_words(m.group()):
            s, e = m.start() + piece.start, m.start() + piece.end
            spans.append((s, e) if starts is None or ends is None else (starts[s], ends[e - 1]))
    return spans


@given(st.text(alphabet="aZ9 .’…é\u0301ﬁ\u00a0柬埔ប៉ោយสวัПр가\u1161", max_size=40))
@settings(max_examples=400, deadline=None)
def test_word_spans_from_running_lengths_match_the_reference(text: str) -> None:
    f = Field(text, fast=False)
    assert list(zip(f.starts, f.ends, strict=False)) == _reference_spans(text)
