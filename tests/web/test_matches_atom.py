"""The Atom feeds of matches, read by feedparser as a feed reader would: entries, stable ids, links, escaping,
``?token=``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import feedparser
import pytest
from fastapi.testclient import TestClient

from monitor.api import Monitor
from monitor.web import create_app
from monitor.web.atom import ATOM_ENTRIES
from tests.support.webapp import HOSTILE_TITLE, with_token

TOKEN = "atom-t0ken"


@pytest.fixture
def client(web_monitor: Monitor) -> Iterator[TestClient]:
    with TestClient(create_app(web_monitor)) as c:
        yield c


def _parse(client: TestClient, path: str) -> Any:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(answer.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def test_matches_feed_has_one_entry_per_match_newest_first(client: TestClient) -> None:
    items = client.get(f"/api/v1/matches?limit={ATOM_ENTRIES}").json()["items"]
    feed = _parse(client, "/atom/matches.xml")
    assert len(feed.entries) == len(items) <= ATOM_ENTRIES
    for entry, item in zip(feed.entries, items, strict=True):
        assert entry.id == f"tag:monitor,2026:match:{item['id']}"
        assert entry.link == item["article"]["url"]  # the article, not the dashboard
        assert item["rule"] in entry.title and item["severity"] in entry.title
        assert entry.summary == item["snippet"]
        assert entry.summary_detail.type == "text/plain"
    assert feed.feed.updated and feed.feed.id == "tag:monitor,2026:matches"


def test_entry_ids_are_stable_across_reads(client: TestClient) -> None:
    first = [e.id for e in _parse(client, "/atom/matches.xml").entries]
    again = [e.id for e in _parse(client, "/atom/matches.xml").entries]
    assert first == again and len(set(first)) == len(first)


def test_feed_text_is_text(client: TestClient) -> None:
    raw = client.get("/atom/matches.xml").text
    assert "<img" not in raw  # escaped by the XML writer
    titles = [e.title for e in _parse(client, "/atom/matches.xml").entries]
    assert any(t.endswith(HOSTILE_TITLE) for t in titles)  # and read back as the very same text


def test_rule_feed_holds_that_rule_only(client: TestClient) -> None:
    items = client.get("/api/v1/matches?rule=kh-scam-trafficking").json()["items"]
    feed = _parse(client, "/atom/rules/kh-scam-trafficking.xml")
    assert [e.id for e in feed.entries] == [f"tag:monitor,2026:match:{i['id']}" for i in items]
    assert items and all("kh-scam-trafficking" in e.title for e in feed.entries)


@pytest.mark.parametrize("rule", ["no-such-rule", "kh-scam-*", "%2e%2e"])
def test_unknown_rule_feed_is_404(client: TestClient, rule: str) -> None:
    answer = client.get(f"/atom/rules/{rule}.xml")
    assert answer.status_code == 404 and "rule" in answer.json()["detail"]


def test_a_loaded_rule_with_no_match_is_an_empty_feed(client: TestClient, web_monitor: Monitor) -> None:
    stored = {i["rule"] for i in client.get("/api/v1/matches?limit=500").json()["items"]}
    quiet = next(r.id for r in web_monitor.rules.rules if r.id not in stored)
    feed = _parse(client, f"/atom/rules/{quiet}.xml")
    assert feed.entries == []


def test_feed_readers_pass_the_token_in_the_query(web_monitor: Monitor) -> None:
    with TestClient(create_app(with_token(web_monitor, TOKEN))) as locked:
        assert locked.get("/atom/matches.xml").status_code == 401
        assert locked.get("/atom/matches.xml?token=wrong").status_code == 401
        assert locked.get("/atom/rules/kh-scam-trafficking.xml").status_code == 401
        answer = locked.get(f"/atom/matches.xml?token={TOKEN}")
        assert answer.status_code == 200 and TOKEN not in answer.text  # the self link drops it
        bearer = locked.get("/atom/matches.xml", headers={"authorization": f"Bearer {TOKEN}"})
        assert bearer.status_code == 200
