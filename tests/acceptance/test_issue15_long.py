"""Acceptance for issue 15 item 3, long articles, with the shipped rules through the real pipeline.

A TIME-like election article names a border clash with Cambodia in its first paragraph and scam centres in one
sentence 16,000 characters later: it is not a story about Cambodian scam centres, and raises no alert. A long
feature about raids on scam compounds in Cambodia, published by the same site in the same poll, does, and its alert
shows the passage about the raid. A loopback news site, ``monitor poll``, a loopback chat receiver.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.starter import SHIPPED_RULES
from tests.support.chat import ChatServer
from tests.support.newssite import NewsSite

ELECTION = [
    "Voters queued from dawn in Bangkok, where the parties held their last rallies on Saturday night and the"
    " electoral commission promised results before midnight.",
    "The opposition leader toured markets in the north-east, promising cheaper fertiliser, debt relief for rice"
    " farmers and a rail link to Khon Kaen.",
    "Economists say household debt, now close to 90 percent of output, weighs on consumption and on the next"
    " government's room to spend.",
    "In the south, turnout was expected to be lower after floods closed roads and schools used as polling stations"
    " in three provinces.",
    "Analysts expect weeks of coalition talks, and the baht slipped against the dollar as investors waited for a"
    " clearer result.",
]
# The feature's own paragraphs (sharing the election's would make the two one story, "also reported by").
INVESTIGATION = [
    "Survivors described compounds ringed by razor wire, where managers set daily targets and beat those who missed"
    " them.",
    "Many had answered advertisements for call-centre jobs in Bangkok and were driven across the border at night.",
    "Rights groups say the compounds moved inland after earlier raids, renting casinos and hotels emptied by the"
    " pandemic.",
    "Families in Jakarta and Ho Chi Minh City paid ransoms of several thousand dollars to get relatives released.",
]
CLASH = "Thailand votes on Sunday, days after a border clash with Cambodia left two soldiers dead and closed crossings."
SCAM = "Candidates also promised to shut the scam centres that lure young Thais abroad with fake job offers."
RAID = (
    "Cambodian police raided three scam compounds in Sihanoukville on Tuesday and detained more than 600 foreign"
    " workers, the interior ministry said."
)


def _long(first: list[str], chars: int, last: list[str], filler: list[str] = ELECTION) -> str:
    body = list(first)
    while sum(map(len, body)) < chars:
        body.append(filler[len(body) % len(filler)])
    return "\n".join([*body, *last])


def test_a_passing_mention_16000_characters_apart_raises_no_alert_and_a_long_feature_does(
    tmp_path: Path, news_site: NewsSite, chat_server: ChatServer
) -> None:
    election = _long([CLASH], 16_000, [SCAM, *ELECTION[:3]])
    assert election.index(SCAM) - election.index("Cambodia") > 16_000
    feature = _long(
        [
            RAID,
            "The raids followed complaints from embassies that their citizens were held against"
            " their will and forced to run online fraud schemes.",
        ],
        12_000,
        ["Officials said the crackdown on scam centres in Cambodia would continue."],
        INVESTIGATION,
    )
    news_site.add("daily", "Thailand's election: what is at stake", election, slug="election")
    news_site.add("daily", "Cambodia raids Sihanoukville scam compounds, 600 detained", feature, slug="raids")
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path}/m.db"
[fetch]
allow_private = true
extract_processes = 1
[rules]
paths = ["{SHIPPED_RULES}"]
[channels.chat]
urls = ["{chat_server.url("chat")}"]
format = "markdown"
[[routes]]
channels = ["chat"]
[[feeds]]
name = "daily"
url = "{news_site.feed_url("daily")}"
""",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["--config", str(config), "poll"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["--config", str(config), "matches", "--format", "json"])
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {row["article"]["url"].rsplit("/", 1)[1] for row in rows} == {"raids.html"}
    assert "kh-scam-crackdown" in {row["rule"] for row in rows}
    crackdown = next(row for row in rows if row["rule"] == "kh-scam-crackdown")
    assert "raided three scam compounds in Sihanoukville" in crackdown["snippet"]
    posts = chat_server.messages("chat")
    assert posts and all("Sihanoukville scam compounds" in post["title"] for post in posts)
    assert not any("election" in post["title"] + post["message"] for post in posts)


@pytest.mark.xfail(
    strict=True,
    reason="shipped rules: `title:@kh_places` makes any headline naming Cambodia (here a "
    "border clash) the story's place, so one scam sentence on Thailand 16,000 characters on still alerts "
    "(docs/shipped-rules.md: 'however far down'); a fix needs a headline-or-lead scope and a blind batch",
)
def test_a_headline_naming_cambodia_in_passing_does_not_make_a_distant_thai_scam_sentence_cambodian(
    tmp_path: Path,
) -> None:
    late = "Police raided a scam centre in Chiang Rai last month and arrested 40 people."
    doc = tmp_path / "election.jsonl"
    doc.write_text(
        json.dumps(
            {
                "title": "Thailand votes after deadly border clash with Cambodia",
                "text": _long([CLASH], 16_000, [late, *ELECTION[:3]]),
            }
        )
        + "\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["match", "--rules", str(SHIPPED_RULES), str(doc)])
    assert result.exit_code == 1, result.stdout  # no rule matches
