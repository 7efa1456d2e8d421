"""Access to the web app (docs/web.md): health never needs the token, everything else does when one is set; without
one the app reads but refuses actions; cookie sessions need CSRF; every response carries the security headers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient
from playwright.sync_api import Page

from monitor.api import Monitor
from monitor.web import create_app
from monitor.web.app import CSP
from monitor.web.auth import SESSION_COOKIE, SESSION_MAX_AGE, Reader, Writer, session_cookie
from monitor.web.login import safe_next
from tests.support.webapp import LiveServer, with_token

TOKEN = "t0ken-for-tests"

# A page and an action of the kind every area adds, so the access rules are tested on their own.
_probe = APIRouter()


@_probe.get("/probe")
def _probe_page(_: Reader) -> dict[str, str]:
    return {"read": "ok"}


@_probe.post("/probe")
def _probe_action(request: Request, _: Writer) -> dict[str, str]:
    return {"done": "ok"}


def _client(m: Monitor) -> TestClient:
    app = create_app(m)
    app.include_router(_probe)
    return TestClient(app, follow_redirects=False)


@pytest.fixture
def open_client(web_monitor: Monitor) -> Iterator[TestClient]:
    with _client(web_monitor) as client:
        yield client


@pytest.fixture
def locked_client(web_monitor: Monitor) -> Iterator[TestClient]:
    with _client(with_token(web_monitor, TOKEN)) as client:
        yield client


def test_health_answers_without_a_token_and_ready_when_the_store_answers(locked_client: TestClient) -> None:
    assert locked_client.get("/healthz").json() == {"status": "ok"}
    ready = locked_client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ok"}


def test_readyz_is_503_with_the_reason_when_the_store_is_gone(web_monitor: Monitor) -> None:
    client = TestClient(create_app(web_monitor))
    web_monitor.store.close()
    answer = client.get("/readyz")
    assert answer.status_code == 503 and "store" in answer.json()["reason"]
    assert client.get("/healthz").status_code == 200


def test_readyz_reports_the_daemons_reason(web_monitor: Monitor) -> None:
    client = TestClient(create_app(web_monitor, readiness=lambda: "the scheduler has not ticked for 95 s"))
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.json()["reason"] == "the scheduler has not ticked for 95 s"


def test_without_a_token_pages_read_and_actions_are_refused(open_client: TestClient) -> None:
    assert open_client.get("/probe").json() == {"read": "ok"}
    refused = open_client.post("/probe")
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]


def test_with_a_token_reads_need_it_by_header_or_session(locked_client: TestClient) -> None:
    assert locked_client.get("/probe").status_code == 401
    assert locked_client.get("/probe", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert locked_client.get("/probe?token=" + TOKEN).status_code == 401  # ?token= is for Atom only
    assert locked_client.get("/probe", headers={"Authorization": f"Bearer {TOKEN}"}).json() == {"read": "ok"}
    page = locked_client.get("/probe", headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fprobe"


def test_login_sets_a_session_and_actions_then_need_the_csrf_token(locked_client: TestClient) -> None:
    wrong = locked_client.post("/login", data={"token": "nope", "next": "/probe"})
    assert wrong.status_code == 401 and "Wrong token" in wrong.text
    ok = locked_client.post("/login", data={"token": TOKEN, "name": "Sokha", "next": "/probe"})
    assert ok.status_code == 303 and ok.headers["location"] == "/probe"
    assert locked_client.get("/probe").json() == {"read": "ok"}
    assert locked_client.post("/probe").status_code == 403  # no CSRF token
    page = locked_client.get("/login", headers={"Accept": "text/html"}).text
    csrf = page.split('name="csrf-token" content="')[1].split('"')[0]
    assert len(csrf) == 32 and "Sokha" in page
    assert locked_client.post("/probe", headers={"X-CSRF-Token": csrf}).json() == {"done": "ok"}
    assert locked_client.post("/probe", data={"csrf": csrf}).json() == {"done": "ok"}
    assert locked_client.post("/probe", data={"csrf": "0" * 32}).status_code == 403


def test_bearer_actions_need_no_csrf(locked_client: TestClient) -> None:
    answer = locked_client.post("/probe", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.json() == {"done": "ok"}


def test_a_forged_or_stale_session_cookie_is_refused(locked_client: TestClient, web_monitor: Monitor) -> None:
    locked_client.cookies.set(SESSION_COOKIE, "eyJ1c2VyIjogImV2ZSJ9.deadbeef")
    assert locked_client.get("/probe").status_code == 401
    with _client(with_token(web_monitor, "old-token")) as old:
        old.post("/login", data={"token": "old-token"})
        stale = old.cookies.get(SESSION_COOKIE)
    locked_client.cookies.set(SESSION_COOKIE, stale or "")
    assert locked_client.get("/probe").status_code == 401  # a new token logs everyone out


def test_a_session_ends_after_its_signed_age_whatever_the_browser_keeps(locked_client: TestClient) -> None:
    now = time.time()
    locked_client.cookies.set(SESSION_COOKIE, session_cookie(TOKEN, "ana", issued=now - 60))
    assert locked_client.get("/probe").status_code == 200
    locked_client.cookies.set(SESSION_COOKIE, session_cookie(TOKEN, "ana", issued=now - SESSION_MAX_AGE - 1))
    assert locked_client.get("/probe").status_code == 401
    locked_client.cookies.set(SESSION_COOKIE, session_cookie(TOKEN, "ana", issued=now + 3600))  # from the future
    assert locked_client.get("/probe").status_code == 401


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/rules?x=1", "/rules?x=1"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil", "/"),
        ("", "/"),
    ],
)
def test_login_only_returns_to_this_site(given: str, expected: str) -> None:
    assert safe_next(given) == expected


def test_every_response_carries_the_security_headers(open_client: TestClient) -> None:
    for path in ("/healthz", "/login", "/nowhere", "/static/app.css"):
        headers = open_client.get(path).headers
        assert headers["content-security-policy"] == CSP
        assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"


def test_errors_are_one_line_for_scripts_and_a_page_for_browsers(open_client: TestClient) -> None:
    assert open_client.get("/nowhere").json() == {"detail": "Not Found"}
    page = open_client.get("/nowhere", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "<h1>404</h1>" in page.text and "Traceback" not in page.text


def test_the_openapi_description_is_served_and_no_cdn_docs(open_client: TestClient) -> None:
    assert "/healthz" in open_client.get("/openapi.json").json()["paths"]
    assert open_client.get("/docs").status_code == 404  # Swagger UI would load its script from a CDN


def test_the_login_page_works_in_a_real_browser(
    web_monitor: Monitor, live_server_factory: Callable[..., LiveServer], browser_page: Page
) -> None:
    server = live_server_factory(web_monitor, token=TOKEN)
    page = browser_page
    page.goto(server.url + "/login")
    page.fill("input[name=token]", TOKEN)
    page.fill("input[name=name]", "Dara")
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/")
    assert page.evaluate("typeof htmx") == "object"  # served locally, CSP allows it
