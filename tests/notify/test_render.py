"""Templates: what an alert shows, and hostile article text that must stay inert in every format."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from apprise.common import NotifyFormat
from apprise.conversion import convert_between

from monitor.errors import NotifyError
from monitor.notify import Renderer, StoryAlert
from monitor.notify.render import AlertArticle, AlertRule, DigestGroup

HOSTILE = StoryAlert(
    story_id=7,
    rules=(AlertRule("kh.raid", "Scam compound raid", "critical"), AlertRule("kh.police", "Police @here", "low")),
    article=AlertArticle(
        title='<script>alert("x")</script> Raid in *Poipet* [win](http://evil.example)',
        url="https://news.example.org/poipet?id=1&x=2",
        feed="Khmer Times",
        published=datetime(2026, 11, 3, 8, 15, tzinfo=UTC),
    ),
    snippet="Police raided a scam compound in Poipet, @everyone <!channel> <img src=x onerror=alert(1)>",
    hit_texts=("scam compound", "Poipet"),
)


def test_text_alert_carries_rules_article_and_highlighted_snippet() -> None:
    message = Renderer(tz="Asia/Phnom_Penh").alert(HOSTILE, "text")
    assert message.title.startswith("[CRITICAL] Scam compound raid (+1 more)")
    body = message.body
    assert body.index("Scam compound raid") < body.index("Police")  # highest severity first
    assert "Khmer Times" in body and "2026-11-03 15:15" in body
    assert "https://news.example.org/poipet?id=1&x=2" in body
    assert "a **scam compound** in **Poipet**" in body


def test_html_alert_escapes_article_text_and_marks_hits() -> None:
    body = Renderer().alert(HOSTILE, "html").body
    assert "<script>" not in body and "&lt;script&gt;" in body
    assert "<img" not in body
    assert "<mark>scam compound</mark>" in body and "<mark>Poipet</mark>" in body
    assert '<a href="https://news.example.org/poipet?id=1&amp;x=2">' in body


def test_markdown_alert_is_not_live_markup() -> None:
    body = Renderer().alert(HOSTILE, "markdown").body
    html = convert_between(NotifyFormat.MARKDOWN, NotifyFormat.HTML, body)
    assert "<script" not in html and "<img" not in html
    assert 'href="http://evil.example"' not in html
    assert "<em>" not in html.split("Raid in")[1].split("</strong>")[0]
    assert "<strong>scam compound</strong>" in html
    assert 'href="https://news.example.org/poipet?id=1&amp;x=2"' in html


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_mass_mentions_are_neutralised(fmt: str) -> None:
    message = Renderer().alert(HOSTILE, fmt)  # type: ignore[arg-type]
    for mention in ("@everyone", "@here", "<!channel>", "&lt;!channel&gt;", "\\<!channel\\>"):
        assert mention not in message.body and mention not in message.title


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_bidi_overrides_cannot_reverse_a_title_or_snippet_on_screen(fmt: str) -> None:
    """U+202E in a hostile title or snippet would show "Poipet raid" as something else; alerts drop every bidi
    embedding, override and isolate, and keep the words and the marks."""
    rlo = "\u202e"
    alert = StoryAlert(
        story_id=8,
        rules=(AlertRule("kh.raid", "Scam compound raid", "high"),),
        article=AlertArticle(f"Raid in {rlo}tepioP\u202c today", "https://news.example.org/r", "Feed"),
        snippet=f"Police raided a scam compound \u2066in\u2069 Poipet {rlo}retfa",
        hit_texts=("scam compound",),
    )
    message = Renderer().alert(alert, fmt)  # type: ignore[arg-type]
    for control in ("\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"):
        assert control not in message.title + message.body
    assert "tepioP" in message.title + message.body and "in Poipet" in message.body
    assert ("<mark>scam compound</mark>" if fmt == "html" else "**scam compound**") in message.body


def test_javascript_links_from_feeds_are_not_linked() -> None:
    alert = StoryAlert(1, HOSTILE.rules, AlertArticle("t", "javascript:alert(1)", "feed"), "s", ())
    for fmt in ("text", "markdown", "html"):
        assert "javascript:" not in Renderer().alert(alert, fmt).body  # type: ignore[arg-type]


def test_digest_groups_by_rule_with_counts() -> None:
    group = DigestGroup(HOSTILE.rules[0], (HOSTILE, HOSTILE), total=3)
    message = Renderer().digest([group], "text", stories=3, omitted=1)
    assert message.title == "Digest: 3 stories for 1 rule"
    assert "Scam compound raid (kh.raid): 3 stories" in message.body
    assert "and 1 more" in message.body


def test_user_templates_override_shipped_ones_and_stay_escaped(tmp_path: Path) -> None:
    (tmp_path / "alert.html.j2").write_text("<h1>{{ alert.article.title }}</h1>{{ alert|hl }}")
    body = Renderer(tmp_path).alert(HOSTILE, "html").body
    assert body.startswith("<h1>&lt;script&gt;")
    assert Renderer(tmp_path).alert(HOSTILE, "text").body.startswith("<script>")  # shipped text template


def test_templates_are_sandboxed(tmp_path: Path) -> None:
    (tmp_path / "alert.text.j2").write_text("{{ alert.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(NotifyError, match="alert.text.j2"):
        Renderer(tmp_path).alert(HOSTILE, "text")
