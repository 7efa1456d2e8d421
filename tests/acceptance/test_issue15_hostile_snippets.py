"""Red team on decisive snippets (issue 15 item 2): hostile documents through the matcher and the alert renderer.

What an analyst would notice: a passage that starts with a stray accent or half an emoji, a decisive phrase that is
neither shown nor marked, a passage with no context left, a snippet that breaks its length, markup or a mention
from the page that reaches the chat.
"""

from __future__ import annotations

import unicodedata

import pytest
import regex

from monitor.notify import Renderer, StoryAlert
from monitor.notify.render import AlertArticle, AlertRule, Format
from monitor.rules import Document, Match, RuleSet
from monitor.rules.snippet import SEPARATOR, SNIPPET_CHARS

LOREM = "lorem ipsum dolor sit amet " * 40


def _match(query: str, title: str = "", text: str = "", url: str = "", author: str = "") -> Match:
    [found] = RuleSet.from_queries({"r": query}).match(Document(title=title, text=text, url=url, author=author))
    return found


def _boundaries(text: str) -> set[int]:
    """Offsets where ``text`` may be cut: grapheme cluster edges, not right after a virama or a Khmer coeng."""
    out = {0}
    for g in regex.finditer(r"\X", text):
        if unicodedata.combining(text[g.end() - 1]) != 9:
            out.add(g.end())
    return out


SPACELESS = {
    "combining accents": "e\u0301" * 600 + " scam " + "e\u0301" * 600 + " poipet " + "e\u0301" * 600,
    "khmer": "ប្រទេសកម្ពុជា" * 60 + " scam " + "ប្រទេសកម្ពុជា" * 60 + " poipet " + "ប្រទេសកម្ពុជា" * 60,
    "emoji zwj": "👨‍👩‍👧‍👦" * 200 + " scam " + "👩🏽‍💻" * 200 + " poipet " + "🏳️‍🌈" * 200,
    "thai": "ประเทศไทย" * 80 + " scam " + "ประเทศไทย" * 80 + " poipet " + "ประเทศไทย" * 80,
}


@pytest.mark.parametrize("query", ["scam", "scam AND poipet"], ids=["one-passage", "two-passages"])
@pytest.mark.parametrize("kind", list(SPACELESS))
def test_a_passage_never_cuts_a_grapheme_cluster(kind: str, query: str) -> None:
    text = SPACELESS[kind]
    found = _match(query, text=text)
    cuts = _boundaries(text)
    for passage in found.snippet.split(SEPARATOR):
        body = passage.removeprefix("…").removesuffix("…")
        start = text.find(body)
        assert start >= 0, passage
        assert start in cuts and start + len(body) in cuts, (kind, passage[:12], passage[-12:])


@pytest.mark.parametrize("kind", list(SPACELESS))
def test_a_passage_keeps_context_when_the_words_around_its_hit_are_long(kind: str) -> None:
    found = _match("scam AND poipet", text=SPACELESS[kind])
    passages = found.snippet.split(SEPARATOR)
    assert len(passages) == 2
    for passage in passages:
        assert len(passage) > 60, passage  # not "…scam…": the hit and what stands around it
    assert len(found.snippet) <= SNIPPET_CHARS


@pytest.mark.parametrize("gap", [" " * 5000, "\n" * 3000, "\r\n\u2028 " * 1000], ids=["spaces", "newlines", "mixed"])
@pytest.mark.parametrize("query", ['"scam centre"', '"scam centre" AND poipet'])
def test_a_decisive_phrase_across_a_long_whitespace_run_is_shown_and_marked(gap: str, query: str) -> None:
    text = "poipet " + LOREM * 3 + "scam" + gap + "centre " + LOREM
    found = _match(query, text=text)
    assert [found.snippet[s:e] for s, e in found.snippet_hits if "scam" in found.snippet[s:e]] == ["scam centre"]
    assert "\n" not in found.snippet and "\u2028" not in found.snippet


@pytest.mark.parametrize(
    ("query", "fields", "shown"),
    [
        ("scam AND poipet", {"text": "scam " + LOREM * 2 + " poipet"}, ["scam", "poipet"]),  # offset 0 and the end
        ("scam", {"title": "Scam raid", "text": LOREM}, ["Scam"]),  # title only
        ("url:scam", {"url": "https://x.example.org/scam-raid", "text": LOREM}, ["scam"]),
        ("author:sokha", {"author": "Sokha Chan", "text": LOREM}, ["Sokha"]),
        ("scam NEAR/3 poipet", {"text": LOREM + "a scam.\n\nPoipet, " + LOREM}, ["scam", "Poipet"]),
        ("/sc[au]m+/ AND poipet", {"text": LOREM + " scummm " + LOREM * 2 + " poipet"}, ["scummm", "poipet"]),
        (
            "scam AND poipet",
            {"text": "\u200bscam\u200d " + LOREM * 2 + " \u202epoipet\u202c " + "שלום " * 50},
            ["scam", "poipet"],
        ),
    ],
    ids=["offset-0-and-end", "title-only", "url-only", "author-only", "near-paragraph-break", "regex", "invisible-rtl"],
)
def test_every_decisive_hit_is_shown_and_marked(query: str, fields: dict[str, str], shown: list[str]) -> None:
    found = _match(query, **fields)
    assert [found.snippet[s:e] for s, e in found.snippet_hits] == shown
    # One window may run on to the end of its last word (up to 40 characters), and has its two "…".
    assert len(found.snippet) <= SNIPPET_CHARS + 42


def test_100000_occurrences_and_a_deeply_nested_query_stay_bounded() -> None:
    query = "scam"
    for i in range(30):  # the parser's nesting limit is 32
        query = f"({query} OR w{i}) AND (x{i} OR poipet)"
    found = _match(query, text="scam " * 100_000 + "poipet")
    assert len(found.snippet) <= SNIPPET_CHARS and found.snippet.endswith("scam poipet")
    assert [h.text for h in found.decisive] == ["scam", "poipet"]


HOSTILE = [
    "<script>alert(1)</script> scam <img src=x onerror=alert(1)> poipet </mark><b>",
    "[click](javascript:alert(1)) scam ![x](https://evil.example/x.png) poipet [a]: https://evil.example",
    "@everyone scam @here poipet <!channel> <@&123> @**all**",
]


@pytest.mark.parametrize("text", HOSTILE, ids=["html", "markdown", "mentions"])
def test_text_around_hits_cannot_inject_markup_links_or_mentions(text: str) -> None:
    found = _match("scam AND poipet", text=text + " " + LOREM * 2 + " " + text)
    alert = StoryAlert(
        story_id=1,
        rules=(AlertRule("r", "R", "high"),),
        article=AlertArticle("t", "https://x.example.org/a", "feed"),
        snippet=found.snippet,
        hit_texts=tuple(h.text for h in found.hits),
    )
    html = Renderer().alert(alert, "html").body
    assert "<script" not in html and "<img" not in html and "<b>" not in html and html.count("<mark>") >= 2
    markdown = Renderer().alert(alert, "markdown").body
    assert regex.findall(r"(?<!\\)\]\(", markdown) == ["]("]  # only the article's own link: [Read the article](…)
    assert "\\[…\\]" in markdown or SEPARATOR not in found.snippet
    for body in (html, markdown, Renderer().alert(alert, "text").body):
        assert "@everyone" not in body and "@here" not in body and "<!channel" not in body
        assert "@**all**" not in body and "<@&" not in body


@pytest.mark.parametrize(
    ("query", "text", "word"),
    [
        ("สแกม", "ตำรวจบุกค้นแก๊งสแกมที่ปอยเปต", "สแกม"),
        ("诈骗", "柬埔寨警方突袭西港电诈园区，抓获诈骗嫌疑人", "诈骗"),
        ("ឆបោក", "ប៉ូលីសបង្ក្រាបការឆបោកតាមអនឡាញ", "ឆបោក"),
        ("scam", "a scam, not scams nor ascam", "scam"),
    ],
    ids=["thai", "chinese", "khmer", "latin"],
)
def test_alerts_mark_a_hit_inside_a_script_without_spaces_as_match_does(query: str, text: str, word: str) -> None:
    found = _match(query, text=text)
    assert found.marked_snippet().count(f"**{word}**") == 1
    alert = StoryAlert(
        story_id=1,
        rules=(AlertRule("r", "R", "high"),),
        article=AlertArticle("t", "https://x.example.org/a", "feed"),
        snippet=found.snippet,
        hit_texts=tuple(h.text for h in found.hits),
    )
    assert Renderer().alert(alert, "html").body.count(f"<mark>{word}</mark>") == 1
    formats: tuple[Format, ...] = ("text", "markdown")
    for fmt in formats:
        assert Renderer().alert(alert, fmt).body.count(f"**{word}**") == 1


@pytest.mark.xfail(
    strict=True,
    reason="monitor/rules/match.py keeps the first MAX_HITS hits in reading order and "
    "drops the decisive ones past them: the store and the alerts (which mark by hit text) lose them",
)
def test_the_decisive_hits_stay_among_the_hits_past_max_hits() -> None:
    found = _match("scam AND poipet", text="scam " * 100_001 + "poipet")
    assert [h.text for h in found.decisive] == ["scam", "poipet"]
    assert "poipet" in {h.text for h in found.hits}  # what the alerts mark with
