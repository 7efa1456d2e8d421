"""Acceptance for issue 15 item 2, decisive snippets, through the real CLI and real parts.

A loopback news site serves the articles, ``monitor poll`` fetches, extracts, matches, stores and delivers them to
a loopback chat receiver (markdown) and a real SMTP server (a text and an HTML email); ``monitor matches``,
``monitor match`` and ``monitor rules explain`` read them back. One test per claim of the issue:

- for ``A AND (B NEAR/20 C)`` the snippet shows the B…C window and A's occurrence nearest to it;
- far-apart decisive hits give several passages, in document order, joined by `` […] ``, within the snippet length;
- ``match``, ``matches``, ``rules explain`` and the text, markdown and HTML alerts show the same passages.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.rules.snippet import SEPARATOR, SNIPPET_CHARS
from tests.support.chat import ChatServer
from tests.support.newssite import NewsSite
from tests.support.smtp import SmtpServer, parts

FILLER = [
    "The provincial council met on Monday to discuss the new budget for roads, schools and clinics in the district.",
    "Farmers said the rains came late this year and that the price of fertiliser had doubled since the spring.",
    "A new bridge over the river is due to open in March, the public works department told reporters on Friday.",
    "Teachers asked for higher pay and smaller classes, and the ministry promised to answer them within a month.",
]
NEAR_QUERY = 'cambodia AND ("scam centre*" NEAR/20 "forced labour")'
WINDOW = "Rescuers said the scam centres near the coast had kept hundreds of workers in conditions of forced labour."
NEAREST = "Thai police handed the case to Cambodia last week."


def filler(chars: int) -> list[str]:
    """Paragraphs of off-topic news, about ``chars`` characters in all."""
    out: list[str] = []
    while sum(map(len, out)) < chars:
        out.append(FILLER[len(out) % len(FILLER)])
    return out


class Deployment:
    """A config.toml with one rule file, the news site's feed, and three channels on loopback receivers."""

    def __init__(self, tmp: Path, site: NewsSite, chat: ChatServer, smtp: SmtpServer, query: str) -> None:
        self.tmp, self.site, self.chat, self.smtp = tmp, site, chat, smtp
        rules = tmp / "rules.yaml"
        rules.write_text(
            f"rules:\n  - id: r\n    title: The rule\n    severity: high\n    query: '{query}'\n", encoding="utf-8"
        )
        self.config = tmp / "config.toml"
        self.config.write_text(
            f"""
[database]
url = "sqlite:///{tmp}/m.db"
[fetch]
allow_private = true
extract_processes = 1
[rules]
paths = ["{rules}"]
[notify]
timeout = "5s"
[channels.chat]
urls = ["{chat.url("chat")}"]
format = "markdown"
[channels.text]
urls = ["{smtp.url("text@example.org")}"]
format = "text"
[channels.html]
urls = ["{smtp.url("html@example.org")}"]
format = "html"
[[routes]]
channels = ["chat", "text", "html"]
[[feeds]]
name = "daily"
url = "{site.feed_url("daily")}"
""",
            encoding="utf-8",
        )

    def cli(self, *args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, ["--config", str(self.config), *args])
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result.stdout

    def publish_and_poll(self, title: str, paragraphs: list[str]) -> dict[str, Any]:
        """Publish one article, ``monitor poll``, and return its stored match (``matches --format json``)."""
        self.site.add("daily", title, "\n".join(paragraphs))
        self.cli("poll")
        rows: list[dict[str, Any]] = [json.loads(line) for line in self.cli("matches", "--format", "json").splitlines()]
        [stored] = rows
        return stored

    def document(self, stored: dict[str, Any]) -> Path:
        """The stored article as a JSONL document for ``monitor match`` and ``rules explain``."""
        from monitor.store import Store

        with Store.open(f"sqlite:///{self.tmp}/m.db") as db:
            article = db.get_article(stored["article"]["id"])
        assert article is not None
        path = self.tmp / "doc.jsonl"
        path.write_text(
            json.dumps({"id": "doc", "title": article.title, "text": article.text}) + "\n", encoding="utf-8"
        )
        return path

    def matched(self, stored: dict[str, Any]) -> dict[str, Any]:
        """``monitor match --format json`` on the stored article: its snippet, marks and decisive hits."""
        out = self.cli("match", "--format", "json", str(self.document(stored)))
        rows: list[dict[str, Any]] = [json.loads(line) for line in out.splitlines()]
        [row] = rows
        assert row["snippet"] == stored["snippet"]
        return row


@pytest.fixture
def deploy(tmp_path: Path, news_site: NewsSite, chat_server: ChatServer, smtp_server: SmtpServer) -> Any:
    return lambda query: Deployment(tmp_path, news_site, chat_server, smtp_server, query)


def marked(row: dict[str, Any]) -> list[str]:
    return [row["snippet"][s:e] for s, e in row["snippet_hits"]]


@pytest.mark.parametrize("nearest_first", [False, True], ids=["place-after-window", "place-before-window"])
def test_and_of_near_shows_the_near_window_and_the_place_nearest_to_it(deploy: Any, nearest_first: bool) -> None:
    site = deploy(NEAR_QUERY)
    middle = [NEAREST, WINDOW] if nearest_first else [WINDOW, NEAREST]
    paragraphs = [
        "Cambodia's rainy season began early this year, officials in Kampot said.",
        *filler(3000),
        *middle,
        *filler(3000),
        "Cambodia's tourism board expects more visitors in December.",
    ]
    stored = site.publish_and_poll("A week on the coast", paragraphs)
    snippet = stored["snippet"]
    assert "scam centres near the coast had kept hundreds of workers in conditions of forced labour" in snippet
    assert "handed the case to Cambodia last week" in snippet
    assert "rainy season" not in snippet and "tourism board" not in snippet  # A's other, farther occurrences
    assert SEPARATOR not in snippet  # the window and the place fit in one passage
    row = site.matched(stored)
    assert [h["text"] for h in row["decisive"]] == (
        ["Cambodia", "scam centres", "forced labour"]
        if nearest_first
        else ["scam centres", "forced labour", "Cambodia"]
    )
    assert {"scam centres", "forced labour", "Cambodia"} <= set(marked(row))


PLACES = [  # in document order; the query names them in another order
    "Customs officers in Bavet seized a lorry of counterfeit cigarettes at dawn.",
    "Traders in Poipet said the border market was quieter than last year.",
    "Hotels in Sihanoukville reported their best season since the pandemic.",
]
FAR_QUERY = "sihanoukville AND poipet AND bavet"


def far_apart() -> list[str]:
    return [*filler(500), PLACES[0], *filler(4000), PLACES[1], *filler(4000), PLACES[2], *filler(500)]


@pytest.fixture(scope="module")
def far(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, dict[str, Any]]]:
    """One deployment that polled the far-apart article, for the two tests that read it (one poll, not two)."""
    site, chat, smtp = NewsSite(), ChatServer(), SmtpServer()
    chat.start()
    smtp.start()
    try:
        deployment = Deployment(tmp_path_factory.mktemp("far"), site, chat, smtp, FAR_QUERY)
        yield deployment, deployment.publish_and_poll("Border towns in the dry season", far_apart())
    finally:
        smtp.stop()
        chat.stop()
        site.close()


def test_far_apart_decisive_hits_give_one_passage_each_in_document_order_within_the_length(
    far: tuple[Deployment, dict[str, Any]],
) -> None:
    site, stored = far
    snippet = stored["snippet"]
    passages = snippet.split(SEPARATOR)
    assert len(passages) == 3
    for passage, place in zip(passages, ("Bavet", "Poipet", "Sihanoukville"), strict=True):
        assert place in passage and passage.startswith("…") and passage.endswith("…")
    assert len(snippet) <= SNIPPET_CHARS
    assert marked(site.matched(stored)) == ["Bavet", "Poipet", "Sihanoukville"]


def _plain(text: str) -> str:
    """Text with its whitespace runs as one space."""
    return " ".join(text.split())


def _unmark_markdown(text: str) -> str:
    return _plain(re.sub(r"\\(.)", r"\1", text.replace("**", "")))


def _unmark_html(text: str) -> str:
    return _plain(html.unescape(re.sub(r"</?mark>", "", text)))


def test_match_matches_explain_and_every_alert_format_show_the_same_passages(
    far: tuple[Deployment, dict[str, Any]],
) -> None:
    site, stored = far
    snippet = stored["snippet"]
    assert len(snippet.split(SEPARATOR)) == 3
    # monitor match (the stored article as a document): the same snippet, in JSON and in text; matches in text.
    assert site.matched(stored)["snippet"] == snippet
    doc = site.document(stored)
    assert snippet in _plain(site.cli("match", str(doc)).replace("**", ""))
    assert snippet in _plain(site.cli("matches"))
    # monitor rules explain: the same passages, marked.
    explained = site.cli("rules", "explain", "r", str(doc))
    assert snippet in _plain(explained.replace("**", ""))
    # The alerts: chat (markdown), text and HTML email, each with the three passages and the separator.
    [post] = site.chat.messages("chat")
    assert snippet in _unmark_markdown(post["message"])
    by_to = {m["To"]: parts(m) for m in site.smtp.messages}
    assert snippet in _plain(by_to["text@example.org"]["text/plain"].replace("**", ""))
    assert snippet in _unmark_html(by_to["html@example.org"]["text/html"])
    assert _plain(by_to["html@example.org"]["text/html"]).count("<mark>") == 3


def test_and_of_near_prefers_the_window_with_the_place_beside_it_to_the_first_window() -> None:
    from monitor.rules import Document, RuleSet

    text = "\n".join(
        [
            "Cambodia opened a new bridge.",
            *filler(2000),
            "Scam centres used forced labour, a report said.",
            *filler(2000),
            "Scam centres near Poipet used forced labour, Cambodia said.",
            *filler(2000),
            "Cambodia hosts a summit.",
            *filler(500),
        ]
    )
    [found] = RuleSet.from_queries({"r": NEAR_QUERY}).match(Document(text=text))
    # One passage: the window that has the place in its sentence, not the first window and the first "Cambodia".
    assert SEPARATOR not in found.snippet
    assert "Scam centres near Poipet used forced labour, Cambodia said." in found.snippet
