"""The Deliveries page and ``/api/v1/deliveries`` (docs/web.md): the outbox by status with redacted errors (the
failing "pager" channel's URL holds a password that must never show), and "retry now" that really sends."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from typer.testing import CliRunner

from monitor.api import Monitor
from monitor.cli import app as cli
from monitor.store import DeliveryOutcome
from tests.support.chat import ChatServer
from tests.support.webapp import BEARER, PAGER_PASSWORD, TOKEN, LiveServer, WebDeployment

HTML = {"accept": "text/html"}


@pytest.fixture
def pager_up(web_deployment: WebDeployment) -> Iterator[ChatServer]:
    """The pager receiver answering again (it fails for the deployment's first delivery run)."""
    web_deployment.pager.status = 200
    yield web_deployment.pager
    web_deployment.pager.status = 500


def _pager_rows(m: Monitor) -> list[int]:
    return [d.id for d in m.deliveries(channel="pager") if d.status == "pending" and d.attempts > 0]


def test_api_items_are_the_lines_of_deliveries_json_with_no_secret(client: TestClient, web_monitor: Monitor) -> None:
    config = str(web_monitor.settings.path)
    result = CliRunner().invoke(cli, ["--config", config, "deliveries", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    answer = client.get("/api/v1/deliveries")
    assert answer.status_code == 200 and answer.json() == {"items": lines}
    assert {(d["channel"], d["status"]) for d in lines} == {("chat", "sent"), ("pager", "pending")}
    failed = client.get("/api/v1/deliveries", params={"status": "pending"}).json()["items"]
    assert failed and all(d["channel"] == "pager" and "error=500" in d["last_error"] for d in failed)
    assert PAGER_PASSWORD not in answer.text
    bad = client.get("/api/v1/deliveries", params={"status": "lost"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("status:")


def test_the_page_shows_the_outbox_by_status_with_redacted_errors(client: TestClient, web_monitor: Monitor) -> None:
    html = client.get("/deliveries", headers=HTML).text
    counts = web_monitor.delivery_counts()
    assert f'pending <span class="count">{counts["pending"]}</span>' in html
    assert f'sent <span class="count">{counts["sent"]}</span>' in html
    assert 'failed <span class="count">0</span>' in html
    assert "error=500" in html and PAGER_PASSWORD not in html and "ops:" not in html
    assert "<img src=x" not in html  # a hostile article title is escaped
    pending = client.get("/deliveries?status=pending", headers=HTML).text
    assert pending.count('data-status="pending"') == counts["pending"] and 'data-status="sent"' not in pending
    assert "Retry now" in pending and " disabled " in pending.split("Retry now")[0][-120:]  # read-only
    assert client.get("/deliveries?status=lost", headers=HTML).status_code == 400


def test_retry_now_is_refused_read_only_and_checked(
    client: TestClient, locked: TestClient, web_monitor: Monitor
) -> None:
    pending = _pager_rows(web_monitor)[0]
    refused = client.post(f"/api/v1/deliveries/{pending}/retry")
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
    assert client.post("/deliveries/retry", data={"delivery": str(pending)}).status_code == 403
    sent = next(d.id for d in web_monitor.deliveries(status="sent"))
    conflict = locked.post(f"/api/v1/deliveries/{sent}/retry", headers=BEARER)
    assert conflict.status_code == 409 and "nothing to retry" in conflict.json()["detail"]
    assert locked.post("/api/v1/deliveries/999999/retry", headers=BEARER).status_code == 404
    assert locked.post("/api/v1/deliveries/x/retry", headers=BEARER).status_code == 422
    assert locked.post(f"/api/v1/deliveries/{2**64}/retry", headers=BEARER).status_code == 422  # no store error
    assert locked.get("/api/v1/deliveries", params={"channel": "a\x00b"}, headers=BEARER).status_code == 422
    login = locked.post("/login", data={"token": TOKEN, "name": "ana", "next": "/deliveries"})
    assert login.status_code == 303
    no_csrf = locked.post("/deliveries/retry", data={"delivery": str(pending)})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["detail"]


def test_retry_now_sends_a_failed_delivery_again(
    locked: TestClient, web_monitor: Monitor, pager_up: ChatServer
) -> None:
    row = _pager_rows(web_monitor)[0]
    later = web_monitor.clock() + timedelta(days=2)  # past its retries: the notifier gives up on it
    claimed = web_monitor.store.claim_deliveries(later, worker="test", lease=1)
    given_up = next(d for d in claimed if d.id == row)
    web_monitor.store.record_outcomes(
        [DeliveryOutcome(row, "failed", given_up.attempts, None, f"json://ops:{PAGER_PASSWORD}@x/hook 500")]
    )
    web_monitor.store.release_deliveries([d.id for d in claimed], "test")
    assert web_monitor.delivery(row).status == "failed"  # type: ignore[union-attr]
    received = len(pager_up.posts)
    answer = locked.post(f"/api/v1/deliveries/{row}/retry", headers=BEARER)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "sent" and answer.json()["last_error"] is None
    assert len(pager_up.posts) > received  # really sent
    assert web_monitor.delivery(row).status == "sent"  # type: ignore[union-attr]


def test_a_user_retries_a_delivery_in_the_browser(
    browser_page: Page,
    web_monitor: Monitor,
    pager_up: ChatServer,
    live_server_factory: Callable[..., LiveServer],
) -> None:
    row = _pager_rows(web_monitor)[0]
    server = live_server_factory(web_monitor, token=TOKEN)
    browser_page.goto(f"{server.url}/deliveries?status=pending")
    browser_page.fill("input[name=token]", TOKEN)
    browser_page.click("button[type=submit]")
    line = browser_page.locator(f'tr[data-id="{row}"]')
    expect(line.locator(".delivery-error")).to_contain_text("error=500")
    received = len(pager_up.posts)
    line.get_by_role("button", name="Retry now").click()
    expect(browser_page.get_by_role("status")).to_have_text(f"Retried delivery #{row} to pager: sent", timeout=30_000)
    expect(browser_page.locator(f'tr[data-id="{row}"] .delivery-status')).to_have_text("sent")
    assert len(pager_up.posts) > received
    assert PAGER_PASSWORD not in browser_page.content()
