"""The rules pages and API over a store filled by a real poll: counts per rule, the per-day chart, feedback (API and
form, with who and when), the backtest API and the workbench form; read-only and token rules on each action."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select

from monitor.api import Monitor
from monitor.clock import iso_utc
from monitor.web import create_app
from tests.support.webapp import with_token

TOKEN = "rules-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
HTML = {"Accept": "text/html"}


@pytest.fixture
def client(web_monitor: Monitor) -> Iterator[TestClient]:
    with TestClient(create_app(with_token(web_monitor, TOKEN)), follow_redirects=False) as c:
        yield c


@pytest.fixture
def read_only(web_monitor: Monitor) -> Iterator[TestClient]:
    with TestClient(create_app(web_monitor), follow_redirects=False) as c:
        yield c


def _login(client: TestClient, name: str = "Sokha") -> str:
    client.post("/login", data={"token": TOKEN, "name": name, "next": "/rules"})
    page = client.get("/rules", headers=HTML).text
    return page.split('name="csrf-token" content="')[1].split('"')[0]


def _snapshot(m: Monitor) -> dict[str, list[Any]]:
    engine = m.store._live_engine()
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return {name: sorted(map(repr, conn.execute(select(t)))) for name, t in meta.tables.items()}


def test_the_rules_api_counts_what_is_stored(client: TestClient, web_monitor: Monitor) -> None:
    items = client.get("/api/v1/rules", headers=BEARER).json()["items"]
    assert [i["id"] for i in items] == [r.id for r in web_monitor.rules.rules]
    stored = web_monitor.matches()
    assert stored, "the poll stored matches"
    for item in items:
        mine = [x for x in stored if x.rule == item["id"]]
        assert item["matches_7d"] == item["matches_30d"] == len(mine)  # all polled just now
        assert len(item["per_day"]) == 31 and sum(d["matches"] for d in item["per_day"]) == len(mine)
        if mine:
            assert item["last_match"] == iso_utc(max(x.matched_at for x in mine))
        else:
            assert item["last_match"] is None
        rule = web_monitor.rules.rule(item["id"])
        assert (item["query"], item["severity"], item["tags"]) == (rule.query, rule.severity, list(rule.tags))


def test_old_matches_leave_the_7_day_count_but_not_the_30_day_one(web_monitor: Monitor) -> None:
    later = max(x.matched_at for x in web_monitor.matches()) + timedelta(days=10)
    m = Monitor(web_monitor.settings, web_monitor.store, clock=lambda: later)
    [item] = [i for i in TestClient(create_app(m)).get("/api/v1/rules").json()["items"] if i["matches_30d"]][:1]
    assert item["matches_7d"] == 0 and item["per_day"][-1]["matches"] == 0 and item["per_day"][-11]["matches"] > 0


def test_the_rules_page_lists_each_rule_with_its_counts_and_chart(read_only: TestClient, web_monitor: Monitor) -> None:
    page = read_only.get("/rules", headers=HTML)
    assert page.status_code == 200
    for rule in web_monitor.rules.rules:
        row = page.text.split(f'data-rule="{rule.id}"')[1].split("</tr>")[0]
        count = len(web_monitor.matches(rule=rule.id))
        assert f'<td class="num matches-7d">{count}</td>' in row and f'<td class="num matches-30d">{count}</td>' in row
        days = re.findall(r"<title>(\d{4}-\d\d-\d\d): (\d+) match", row)  # one bar per day, its count on hover
        assert len(days) == 31 and sum(int(n) for _, n in days) == count
    assert "<script>" not in page.text and "style=" not in page.text  # the CSP allows neither


def test_the_rule_page_and_an_unknown_rule(read_only: TestClient, web_monitor: Monitor) -> None:
    rule = next(r for r in web_monitor.rules.rules if web_monitor.matches(rule=r.id))
    page = read_only.get(f"/rules/{rule.id}", headers=HTML)
    assert page.status_code == 200 and rule.title in page.text and "Relevant</button>" in page.text
    assert "disabled" in page.text  # read-only: the buttons cannot be used
    missing = read_only.get("/rules/no-such-rule", headers=HTML)
    assert missing.status_code == 404 and "no rule &#39;no-such-rule&#39; in force" in missing.text


def test_feedback_through_the_api(client: TestClient, read_only: TestClient, web_monitor: Monitor) -> None:
    match = web_monitor.matches()[0]
    url = f"/api/v1/matches/{match.id}/feedback"
    refused = read_only.post(url, json={"relevant": True})
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
    assert client.post(url, json={"relevant": True}).status_code == 401
    answer = client.post(url, json={"relevant": True}, headers=BEARER)
    assert answer.status_code == 200
    assert (
        answer.json()["relevant"] is True and answer.json()["judged_by"] == "api" and answer.json()["match"] == match.id
    )
    client.post(url, json={"relevant": False}, headers=BEARER)
    assert web_monitor.store.feedback_of([match.id])[match.id].relevant is False  # the latest judgement wins
    assert client.post("/api/v1/matches/999999/feedback", json={"relevant": True}, headers=BEARER).status_code == 404
    huge = client.post(f"/api/v1/matches/{2**63}/feedback", json={"relevant": True}, headers=BEARER)
    assert huge.status_code == 422  # past any stored id: a clear 4xx, not the database's overflow
    for bad in ({"relevant": "yes"}, {}, {"relevant": True, "more": 1}):
        assert client.post(url, json=bad, headers=BEARER).status_code == 422


def test_feedback_buttons_post_with_the_session_and_csrf(client: TestClient, web_monitor: Monitor) -> None:
    match = web_monitor.matches()[0]
    csrf = _login(client, "Sokha")
    form = {"relevant": "false", "next": "/rules?x=1"}
    assert client.post(f"/matches/{match.id}/feedback", data=form).status_code == 403  # no CSRF token
    done = client.post(f"/matches/{match.id}/feedback", data={**form, "csrf": csrf})
    assert done.status_code == 303 and done.headers["location"] == "/rules?x=1"
    judged = web_monitor.store.feedback_of([match.id])[match.id]
    assert (judged.relevant, judged.judged_by) == (False, "Sokha")
    swapped = client.post(
        f"/matches/{match.id}/feedback", data={"relevant": "true", "csrf": csrf}, headers={"HX-Request": "true"}
    )
    assert swapped.status_code == 200 and swapped.text.lstrip().startswith('<form class="feedback"')
    assert re.search(r'value="true" class="fb fb-yes" aria-pressed="true"', swapped.text)
    evil = client.post(
        f"/matches/{match.id}/feedback", data={"relevant": "true", "csrf": csrf, "next": "//evil.example"}
    )
    assert evil.headers["location"] == "/"


def test_a_backtest_of_the_rules_in_force_finds_what_they_stored(client: TestClient, web_monitor: Monitor) -> None:
    before = _snapshot(web_monitor)
    for rule in web_monitor.rules.rules:
        result = client.post("/api/v1/backtest", json={"rule": rule.id, "days": 30}, headers=BEARER).json()
        stored = len(web_monitor.matches(rule=rule.id))
        assert (result["gained"], result["lost"], result["kept"]) == (0, 0, stored), rule.id
        assert result["scanned"] == web_monitor.store.count_articles()
    wider = client.post("/api/v1/backtest", json={"query": "police OR police*"}, headers=BEARER).json()
    assert wider["compared_with"] is None and wider["gained"] == wider["matched"] > 0
    assert all(i["snippet"][s:e].casefold().startswith("police") for i in wider["items"] for s, e in i["snippet_hits"])
    assert _snapshot(web_monitor) == before


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"query": "raid AND"}, 422, "query, column 6: 'AND' needs a term on its right"),
        ({"rule": "kh-scam-crackdwn"}, 404, "did you mean 'kh-scam-crackdown'"),
        ({"text": "id: x\ntitle: X\n"}, 422, "draft.yaml:1:1: missing key 'query' in rule 'x'"),
        ({}, 422, "give a rule id, a query or a rule's text"),
        ({"query": "a", "text": "id: a"}, 422, "give a query or a rule's text, not both"),
        ({"rule": "kh-scam-crackdown", "days": 0}, 422, "days"),
        ({"rule": "kh-scam-crackdown", "days": "many"}, 422, "days"),
        ('{"query": "a\\ud800b"}', 422, "unable to parse raw data as a unicode string"),  # JSON may spell one: no text
    ],
)
def test_backtest_errors_are_clear_4xx(client: TestClient, body: Any, status: int, detail: str) -> None:
    if isinstance(body, str):
        headers = {**BEARER, "Content-Type": "application/json"}
        answer = client.post("/api/v1/backtest", content=body.encode(), headers=headers)
    else:
        answer = client.post("/api/v1/backtest", json=body, headers=BEARER)
    assert answer.status_code == status and detail in answer.json()["detail"]


def test_actions_are_refused_read_only(read_only: TestClient) -> None:
    assert read_only.post("/api/v1/backtest", json={"query": "police"}).status_code == 403
    assert read_only.post("/workbench", data={"action": "try", "text": "x"}).status_code == 403
    page = read_only.get("/workbench", headers=HTML)
    assert page.status_code == 200 and 'id="wb-try" disabled' in page.text


def test_the_workbench_tries_text_and_explains(client: TestClient, web_monitor: Monitor) -> None:
    csrf = _login(client)
    text = "Police raid scam compound in Poipet\nPolice raided an online scam compound in Poipet and arrested 270."
    page = client.post("/workbench", data={"csrf": csrf, "action": "try", "mode": "rule", "text": text})
    assert page.status_code == 200 and re.search(r"\d+ rules? matched:", page.text)
    assert "<mark>" in page.text and "✓ true" in page.text
    # one rule, explained even though it does not match, with why
    quiet = client.post(
        "/workbench",
        data={"csrf": csrf, "action": "try", "mode": "query", "rule": "", "query": "casino* AND Poipet", "text": text},
    )
    assert "does not match" in quiet.text and "false: casino*" in quiet.text


def test_the_workbench_fetches_a_url_through_the_guard(client: TestClient, web_monitor: Monitor) -> None:
    article = web_monitor.matches()[0].article
    csrf = _login(client)
    page = client.post("/workbench", data={"csrf": csrf, "action": "try", "mode": "rule", "url": article.url})
    assert page.status_code == 200 and "fetched from" in page.text and "<mark>" in page.text
    strict = web_monitor.settings.model_copy(
        update={"fetch": web_monitor.settings.fetch.model_copy(update={"allow_private": False})}
    )
    guarded = with_token(Monitor(strict, web_monitor.store), TOKEN)
    with TestClient(create_app(guarded), follow_redirects=False) as other:
        csrf = _login(other)
        refused = other.post("/workbench", data={"csrf": csrf, "action": "try", "mode": "rule", "url": article.url})
    assert refused.status_code == 422 and "blocked: loopback address 127.0.0.1" in refused.text
    bad = client.post("/workbench", data={"csrf": _login(client), "action": "try", "url": "file:///etc/passwd"})
    assert bad.status_code == 422 and "must start with http:// or https://" in bad.text


def test_the_workbench_backtests_an_edited_rule_without_saving(
    client: TestClient, web_monitor: Monitor, rules_before: dict[Any, str]
) -> None:
    rule = next(r for r in web_monitor.rules.rules if web_monitor.matches(rule=r.id))
    csrf = _login(client)
    page = client.get(f"/workbench?rule={rule.id}", headers=HTML).text
    assert f"id: {rule.id}" in page  # the YAML editor starts from the rule
    yaml_text = f"id: {rule.id}\ntitle: Narrower\nquery: 'img OR zzzzzz'\n"
    answer = client.post(
        "/workbench", data={"csrf": csrf, "action": "backtest", "mode": "yaml", "rule_text": yaml_text, "days": "30"}
    )
    assert answer.status_code == 200
    count = {k: int(re.search(rf'class="bt-{k}">(\d+)<', answer.text)[1]) for k in ("gained", "lost", "kept")}  # type: ignore[index]
    assert (
        count["lost"] + count["kept"] == len(web_monitor.matches(rule=rule.id)) and count["gained"] + count["kept"] >= 1
    )
    results = answer.text.split('id="results"')[1]
    assert "&lt;img src=x onerror=alert(1)&gt;</a>" in results and "<img" not in results  # the hostile title, as text
    assert {p: p.read_text() for p in rules_before} == rules_before  # nothing saved


@pytest.fixture
def rules_before(web_monitor: Monitor) -> dict[Any, str]:
    return {p: p.read_text() for p in web_monitor.settings.rules.paths[0].glob("*.yaml")}
