"""The same decisive passages everywhere: `monitor match`, `monitor matches`, `rules explain` and the alerts in text,
markdown and HTML (real renderer, real SMTP on loopback, a loopback chat receiver, the real CLI and pipeline)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apprise.common import NotifyFormat
from apprise.conversion import convert_between
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import Settings
from monitor.dedup import canonical_url, content_hash, story_keys
from monitor.notify import Notifier, Renderer, plan_deliveries
from monitor.rules import Document, Match, Rule, RuleSet
from monitor.rules.snippet import SEPARATOR
from monitor.store import NewArticle, NewMatch, Store
from tests.support.chat import ChatServer
from tests.support.newssite import NewsSite
from tests.support.notifykit import T0, make_settings
from tests.support.smtp import SmtpServer, parts

QUERY = 'cambodia AND ("scam centre*" NEAR/10 "forced labour")'
FILLER = (
    "Voters queued from dawn in Bangkok, where the parties held their last rallies on Saturday night and the "
    "electoral commission promised results before midnight. "
)
LEAD = "Thailand votes days after a border clash with Cambodia left two soldiers dead."
CLAUSE = "Investigators say scam centres held thousands in forced labour near the frontier."
# A long election article (as TIME's): the place in the lead, the clause that makes the rule fire 16,000 characters on.
BODY = "\n\n".join([LEAD, *[FILLER * 3] * 43, CLAUSE, *[FILLER * 3] * 6])
RULE = Rule(id="kh.scam", title="Scam centres in Cambodia", query=QUERY, severity="high", version="1")


@pytest.fixture(scope="module")
def found() -> Match:
    (m,) = RuleSet.from_queries({RULE.id: QUERY}).match(Document(title="Thailand's election", text=BODY))
    return m


def _passages(snippet: str) -> list[str]:
    return snippet.split(SEPARATOR)


def test_the_match_has_two_passages_the_place_and_the_near_window(found: Match) -> None:
    assert BODY.index(CLAUSE) > 16_000
    first, second = _passages(found.snippet)
    assert "border clash with Cambodia" in first and "scam centres held thousands in forced labour" in second
    assert found.marked_snippet().count("**") == 6  # Cambodia, scam centres, forced labour


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path}/t.db")
    yield opened
    opened.close()


def _store_match(store: Store, settings: Settings, m: Match) -> None:
    """Store the article and its real match (all hits, the snippet) with the deliveries the pipeline plans."""
    matches = [
        NewMatch(
            rule_id=RULE.id,
            rule_version=RULE.version,
            severity=RULE.severity,
            tags=RULE.tags,
            hits=m.hits,
            snippet=m.snippet,
        )
    ]
    article = NewArticle(
        feed_id=None,
        feed_name="TIME",
        url="https://time.example.org/thai-election",
        canonical_url=canonical_url("https://time.example.org/thai-election"),
        title="Thailand's election",
        text=BODY,
        author=None,
        published=T0,
        lang="en",
        content_hash=content_hash(BODY),
        story_keys=story_keys(BODY),
    )

    def plan(story_id: int, new_story: bool) -> list[Any]:
        return plan_deliveries(matches, [RULE], settings, article.published, T0)

    store.add_article_with_matches(article, matches, plan, now=T0)


def test_email_html_and_text_and_chat_markdown_show_the_same_passages(
    found: Match, store: Store, smtp_server: SmtpServer, chat_server: ChatServer
) -> None:
    settings = make_settings(
        {
            "html": {"urls": [smtp_server.url("html@example.org")], "format": "html"},
            "text": {"urls": [smtp_server.url("text@example.org")], "format": "text"},
            "chat": {"urls": [chat_server.url("chat")], "format": "markdown"},
        },
        [{"channels": ["html", "text", "chat"]}],
    )
    _store_match(store, settings, found)
    assert Notifier(settings, store, rules=[RULE]).send_due(T0).sent == 3
    by_to = {m["To"]: parts(m) for m in smtp_server.messages}
    html = " ".join(by_to["html@example.org"]["text/html"].split())
    text = " ".join(by_to["text@example.org"]["text/plain"].split())
    [post] = chat_server.messages("chat")
    markdown = " ".join(post["message"].split())
    first, second = _passages(found.snippet)
    # Text: the snippet as stored, the decisive words marked.
    assert found.marked_snippet() in text
    # HTML: the same passages, the separator and the ellipses as they are, marks on the decisive words.
    assert "<mark>Cambodia</mark> left two soldiers dead" in html and " […] …" in html
    assert "<mark>scam centres</mark> held thousands in <mark>forced labour</mark>" in html
    assert html.count("<mark>") == 3
    derived = " ".join(by_to["html@example.org"]["text/plain"].split())  # apprise's text part of the HTML email
    assert f"{first} […] {second}" in derived
    # Markdown: brackets escaped in the source, shown as " […] " once rendered.
    assert "\\[…\\]" in markdown
    rendered = " ".join(convert_between(NotifyFormat.MARKDOWN, NotifyFormat.HTML, post["message"]).split())
    assert f"{first.replace('Cambodia', '<strong>Cambodia</strong>')} […] " in rendered
    assert "<strong>scam centres</strong> held thousands in <strong>forced labour</strong>" in rendered


def test_the_renderer_marks_a_phrase_hit_that_spans_a_line_break() -> None:
    rs = RuleSet.from_queries({"r": '"scam centre" AND poipet'})
    (m,) = rs.match(Document(text="Poipet: the scam\ncentre closed. " + FILLER * 40))
    assert m.decisive[1].text == "scam\ncentre"
    for fmt, mark in (
        ("text", "**scam centre**"),
        ("markdown", "**scam centre**"),
        ("html", "<mark>scam centre</mark>"),
    ):
        from monitor.notify import StoryAlert
        from monitor.notify.render import AlertArticle, AlertRule

        alert = StoryAlert(
            story_id=1,
            rules=(AlertRule("r", "R", "high"),),
            article=AlertArticle("t", "https://x.example.org/a", "feed"),
            snippet=m.snippet,
            hit_texts=tuple(h.text for h in m.hits),
        )
        assert mark in Renderer().alert(alert, fmt).body  # type: ignore[arg-type]


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def test_match_matches_and_explain_show_the_same_passages(tmp_path: Path, news_site: NewsSite) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"rules:\n  - id: kh.scam\n    title: Scam centres\n    query: '{QUERY}'\n", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path}/m.db"\n[fetch]\nallow_private = true\n'
        f'extract_processes = 1\n[rules]\npaths = ["{rules}"]\n[[feeds]]\nname = "time"\n'
        f'url = "{news_site.feed_url("time")}"\n',
        encoding="utf-8",
    )
    news_site.add("time", "Thailand's election", BODY)
    _invoke("--config", str(config), "poll")
    [stored] = map(json.loads, _invoke("--config", str(config), "matches", "--format", "json").splitlines())
    snippet = stored["snippet"]
    assert len(_passages(snippet)) == 2 and "forced labour" in _passages(snippet)[1]
    # `monitor match` on the stored article text gives the same snippet, marks and decisive hits.
    with Store.open(f"sqlite:///{tmp_path}/m.db") as db:
        article = db.get_article(stored["article"]["id"])
    assert article is not None
    doc = tmp_path / "doc.jsonl"
    doc.write_text(json.dumps({"id": "a", "title": article.title, "text": article.text}) + "\n", encoding="utf-8")
    [row] = map(json.loads, _invoke("--config", str(config), "match", "--format", "json", str(doc)).splitlines())
    assert row["snippet"] == snippet
    assert [h["text"] for h in row["decisive"]] == ["Cambodia", "scam centres", "forced labour"]
    assert [snippet[s:e] for s, e in row["snippet_hits"]] == ["Cambodia", "scam centres", "forced labour"]
    marked = "**Cambodia** left two soldiers dead"
    for out in (
        _invoke("--config", str(config), "match", str(doc)),
        _invoke("--config", str(config), "matches"),
        _invoke("--config", str(config), "rules", "explain", "kh.scam", str(doc)),
    ):
        flat = " ".join(out.split())
        assert (marked in flat or "Cambodia left two soldiers dead" in flat) and " […] …" in flat, out
        assert "scam centres" in flat and "forced labour" in flat
    explained = _invoke("--config", str(config), "rules", "explain", "kh.scam", str(doc)).splitlines()
    assert explained[0] == "rule 'kh.scam' matches a" and SEPARATOR.strip() in explained[1]
    assert explained.index(next(line for line in explained if "✓ true" in line)) > 1  # the tree comes after
