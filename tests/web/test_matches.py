"""The Matches area over HTTP (docs/web.md): the JSON API's items are `monitor matches --format json` lines, filters
and pages, bad input is a one-line 4xx, pages escape feed text and mark hits, secrets never show."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from typer.testing import CliRunner

from monitor.api import Monitor
from monitor.cli import app as cli
from monitor.web import create_app
from tests.support.webapp import HOSTILE_TITLE, PAGER_PASSWORD, with_token

HTML = {"accept": "text/html"}


@pytest.fixture
def client(web_monitor: Monitor) -> Iterator[TestClient]:
    with TestClient(create_app(web_monitor)) as c:
        yield c


def _all(client: TestClient, query: str = "", limit: int = 500) -> list[dict[str, Any]]:
    answer = client.get(f"/api/v1/matches?limit={limit}&{query}")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def test_api_items_are_the_lines_of_monitor_matches_json(client: TestClient, web_monitor: Monitor) -> None:
    config = web_monitor.settings.path
    result = CliRunner().invoke(cli, ["--config", str(config), "matches", "--format", "json"])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines, result.output
    assert _all(client) == lines
    first = lines[0]
    assert client.get(f"/api/v1/matches/{first['id']}").json() == first


def test_pages_of_the_api_walk_every_match_once(client: TestClient) -> None:
    everything = [item["id"] for item in _all(client)]
    seen: list[int] = []
    url = "/api/v1/matches?limit=7"
    while True:
        body = client.get(url).json()
        seen += [item["id"] for item in body["items"]]
        if body["next"] is None:
            break
        url = f"/api/v1/matches?limit=7&cursor={body['next']}"
    assert seen == everything and len(everything) > 7


def test_api_filters(client: TestClient) -> None:
    everything = _all(client)
    some = everything[-1]
    assert {i["rule"] for i in _all(client, f"rule={some['rule']}")} == {some["rule"]}
    assert {i["rule"] for i in _all(client, "rule=kh-scam-*")} <= {i["rule"] for i in everything}
    assert all(i["rule"].startswith("kh-scam-") for i in _all(client, "rule=kh-scam-*"))
    assert {i["severity"] for i in _all(client, "severity=high")} == {"high"}
    assert {i["article"]["feed"] for i in _all(client, "feed=wire-copy")} == {"wire-copy"}
    assert _all(client, "feed=no-such-feed") == []
    assert _all(client, "since=1h") == everything  # polled just now
    assert _all(client, "until=2000-01-01") == []
    assert _all(client, "since=2000-01-01T00:00") == _all(client, "since=1h30m") == everything
    tagged = _all(client, "tag=trafficking")
    assert tagged and len(tagged) < len(everything)
    found = _all(client, "q=Indonesia")
    assert found and all("indonesia" in i["article"]["title"].lower() or i["rule"] for i in found)
    assert len(found) < len(everything)


def test_search_reads_the_stored_text_not_only_the_snippet(client: TestClient, web_monitor: Monitor) -> None:
    everything = _all(client)
    detail = web_monitor.match_detail(everything[0]["id"])
    assert detail is not None
    word = next(w for w in reversed(detail.article.text.split()) if w.isalpha() and len(w) > 6)
    found = _all(client, f"q={word}")
    assert everything[0]["id"] in [i["id"] for i in found]
    assert _all(client, "q=zzqxjv") == []


@pytest.mark.parametrize(
    ("query", "where"),
    [
        ("severity=urgent", "severity"),
        ("since=yesterday-ish", "since"),
        ("until=13/13/2026", "until"),
        ("limit=0", "limit"),
        ("limit=100000", "limit"),
        ("limit=ten", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("q=" + "x" * 600, "q"),
    ],
)
def test_bad_api_input_is_a_422_with_one_line(client: TestClient, query: str, where: str) -> None:
    answer = client.get(f"/api/v1/matches?{query}")
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert where in detail and "\n" not in detail and "Traceback" not in answer.text


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/matches/999999", 404),
        ("/api/v1/matches/0", 422),
        ("/api/v1/matches/abc", 422),
        ("/api/v1/matches/99999999999999999999", 422),
    ],
)
def test_unknown_or_invalid_match_ids(client: TestClient, path: str, status: int) -> None:
    answer = client.get(path)
    assert answer.status_code == status and answer.json()["detail"]


def test_bad_filters_on_the_page_are_a_400_page(client: TestClient) -> None:
    answer = client.get("/?since=soon&q=x", headers=HTML)
    assert answer.status_code == 400 and "since" in answer.text and "<html" in answer.text
    assert client.get("/matches/424242", headers=HTML).status_code == 404


def test_secrets_never_show(client: TestClient) -> None:
    items = _all(client)
    failing = [d for i in items for d in i["deliveries"] if d["channel"] == "pager" and d["last_error"]]
    assert failing  # the pager's errors name its URL: redacted
    pages = [client.get("/", headers=HTML).text, client.get("/api/v1/matches").text]
    pages += [client.get(f"/matches/{i['id']}", headers=HTML).text for i in items[:3] + items[-3:]]
    pages.append(client.get("/atom/matches.xml").text)
    for text in pages:
        assert PAGER_PASSWORD not in text


def test_home_page_rows(client: TestClient) -> None:
    html = client.get("/", headers=HTML).text
    assert html.count('<li class="match"') == len(_all(client, limit=50))
    # feed text is text: the hostile title is escaped, never an element
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and HOSTILE_TITLE not in html
    assert "<mark>" in html  # hits in the snippets
    assert re.search(r"also reported by 1 outlet\b", html)  # the wire's reprint of a seed story
    assert "chat: sent" in html and "pager: pending" in html
    reprint = client.get("/?feed=wire-copy&q=Wire", headers=HTML).text  # its story was alerted through the first
    assert "chat: sent" in reprint
    assert '<script src="/static/matches.js"' in html


def test_home_page_filters_and_pages(client: TestClient) -> None:
    html = client.get("/?severity=high&limit=2", headers=HTML).text
    assert html.count('<li class="match"') == 2 and 'badge sev-medium">medium' not in html
    older = re.search(r'href="(/\?[^"]*cursor=[^"]+)" rel="next"', html)
    assert older is not None
    second = client.get(older.group(1).replace("&amp;", "&"), headers=HTML).text
    assert second.count('<li class="match"') == 2 and 'value="high" selected' in second
    assert "No matches for these filters" in client.get("/?q=zzqxjv", headers=HTML).text


def test_match_page_explains_and_marks(client: TestClient, web_monitor: Monitor) -> None:
    reprint = next(i for i in _all(client, "feed=wire-copy") if i["article"]["title"].startswith("Wire: "))
    item = next(i for i in _all(client, "feed=khmer-daily") if i["story"] == reprint["story"])
    html = client.get(f"/matches/{item['id']}", headers=HTML).text
    rule = web_monitor.rules.rule(item["rule"])
    assert "Why it matched" in html and "✓ true" in html
    assert str(re.sub(r"\s+", " ", rule.query).strip())[:20].replace('"', "&#34;") in html.replace("&quot;", "&#34;")
    hits = {h["text"] for h in item["hits"]}
    assert any(f"<mark>{h}</mark>" in html for h in hits)
    assert "The story's other articles" in html, html[html.find("story") :][:300]
    assert str(escape(reprint["article"]["title"])) in html
    assert "<th>channel</th>" in html and "pager" in html


def test_the_api_needs_the_token_when_one_is_set(web_monitor: Monitor) -> None:
    with TestClient(create_app(with_token(web_monitor, "tok"))) as locked:
        assert locked.get("/api/v1/matches").status_code == 401
        assert locked.get("/api/v1/matches?token=tok").status_code == 401  # ?token= is for Atom only
        assert locked.get("/api/v1/matches", headers={"authorization": "Bearer tok"}).status_code == 200
        assert locked.get("/api/v1/matches/1", headers={"authorization": "Bearer tok"}).status_code == 200
        assert locked.get("/matches/1", headers=HTML, follow_redirects=False).status_code == 303  # to /login
