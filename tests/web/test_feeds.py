"""The Feeds page and ``/api/v1/feeds`` (docs/web.md): the health table, the silent flag, "poll now" (an action:
refused read-only, CSRF with a session), and the API items shaped as ``monitor feeds list --format json`` lines."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from typer.testing import CliRunner

from monitor import dedup
from monitor.api import Monitor
from monitor.cli import app as cli
from monitor.store import NewArticle
from monitor.web import create_app
from monitor.web.auth import SESSION_COOKIE
from tests.support.webapp import BEARER, TOKEN, LiveServer, WebDeployment

HTML = {"accept": "text/html"}


def test_api_items_are_the_lines_of_feeds_list_json(client: TestClient, web_monitor: Monitor) -> None:
    config = str(web_monitor.settings.path)
    result = CliRunner().invoke(cli, ["--config", config, "feeds", "list", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    answer = client.get("/api/v1/feeds")
    assert answer.status_code == 200
    assert answer.json() == {"items": lines}
    assert [f["name"] for f in lines] == ["khmer-daily", "mekong-post", "wire-copy"]
    assert all(f["last_status"] == "ok" and f["articles"] > 0 for f in lines)


def test_the_api_and_the_page_need_the_token_when_one_is_set(locked: TestClient) -> None:
    assert locked.get("/api/v1/feeds").status_code == 401
    assert locked.get("/api/v1/feeds", headers=BEARER).status_code == 200
    page = locked.get("/feeds", headers=HTML)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=%2Ffeeds")


def _add_articles(m: Monitor, feed: str, hours_ago: list[float]) -> None:
    record = m.store.get_feed(feed)
    assert record is not None
    now = m.clock()
    for i, hours in enumerate(hours_ago):
        text = f"Item {i} of {feed}: " + " ".join(f"word{i}x{j}" for j in range(20))
        url = f"https://{feed}.example/{i}"
        article = NewArticle(
            feed_id=record.id,
            feed_name=feed,
            url=url,
            canonical_url=dedup.canonical_url(url),
            title=f"Item {i}",
            text=text,
            author=None,
            published=now - timedelta(hours=hours),
            lang="en",
            content_hash=dedup.content_hash(text),
            story_keys=dedup.story_keys(text),
            entry_keys=(url,),
        )
        m.store.add_article_with_matches(article, [], lambda story, new: [], now=now - timedelta(hours=hours))


def test_the_table_shows_health_articles_per_day_and_flags_a_silent_feed(web_monitor: Monitor) -> None:
    web_monitor.store.add_feed("hourly-then-quiet", "https://quiet.example/feed")
    _add_articles(web_monitor, "hourly-then-quiet", [50 + h for h in range(12)])  # hourly, silent for 2 days
    failing = web_monitor.store.get_feed("wire-copy")
    assert failing is not None
    error = "GET https://ops:hunter2hunter2@wire.example/feed failed: HTTP 503"
    web_monitor.store.update_feed_state(
        failing.id,
        dataclasses.replace(
            failing.state, last_status="error", last_error=error, consecutive_failures=3, blocked_requests=2
        ),
    )
    with TestClient(create_app(web_monitor)) as client:
        html = client.get("/feeds", headers=HTML).text
    assert "3 failing" not in html and "1 failing" in html and "1 silent" in html
    quiet = html.split('data-feed="hourly-then-quiet"')[1].split("</tr>")[0]
    assert "silent" in quiet and "usually every 1 h" in quiet and "nothing for 2 days" in quiet
    assert '<span class="day-counts">0 0 0 0 12 0 0</span>' in quiet  # stored 50 to 61 hours ago: 2-3 days
    wire = html.split('data-feed="wire-copy"')[1].split("</tr>")[0]
    assert "HTTP 503" in wire and "hunter2hunter2" not in html  # the error shown, its credentials not
    assert '<td class="feed-failures">3</td>' in wire and '<td class="feed-blocked">2</td>' in wire
    khmer = html.split('data-feed="khmer-daily"')[1].split("</tr>")[0]
    assert "silent" not in khmer and "status-ok" in khmer


def test_poll_now_is_refused_read_only_and_unknown_feeds_are_404(
    client: TestClient, locked: TestClient, web_deployment: WebDeployment
) -> None:
    before = len(web_deployment.site.hits("/feeds/khmer-daily.xml"))
    refused = client.post("/api/v1/feeds/khmer-daily/poll")
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
    assert client.post("/feeds/poll", data={"feed": "khmer-daily"}).status_code == 403
    assert len(web_deployment.site.hits("/feeds/khmer-daily.xml")) == before  # nothing was fetched
    missing = locked.post("/api/v1/feeds/no-such-feed/poll", headers=BEARER)
    assert missing.status_code == 404 and "no-such-feed" in missing.json()["detail"]
    assert locked.post("/api/v1/feeds/a%00b/poll", headers=BEARER).status_code == 404  # NUL: no feed's name


def _new_feed(m: Monitor, deployment: WebDeployment) -> str:
    """A feed of this test alone on the shared news site, with one new article."""
    name = f"ops-{uuid.uuid4().hex[:8]}"
    deployment.site.add(
        name, "Angkor welcomes record visitors", "Siem Reap received more visitors than ever this year."
    )
    m.store.add_feed(name, deployment.site.feed_url(name))
    return name


def test_poll_now_polls_the_feed_with_a_bearer_token(
    locked: TestClient, web_monitor: Monitor, web_deployment: WebDeployment
) -> None:
    name = _new_feed(web_monitor, web_deployment)
    answer = locked.post(f"/api/v1/feeds/{name}/poll", headers=BEARER)
    assert answer.status_code == 200, answer.text
    assert answer.json() | {"seconds": 0} == {
        "feed": name,
        "status": "ok",
        "new": 1,
        "matched": 0,
        "error": None,
        "seconds": 0,
    }
    assert len(web_deployment.site.hits(f"/feeds/{name}.xml")) == 1
    stored = web_monitor.store.get_feed(name)
    assert stored is not None and stored.articles == 1 and stored.last_status == "ok"


def test_the_poll_now_form_needs_the_sessions_csrf_token(locked: TestClient, web_deployment: WebDeployment) -> None:
    login = locked.post("/login", data={"token": TOKEN, "name": "ana", "next": "/feeds"})
    assert login.status_code == 303 and SESSION_COOKIE in login.cookies
    assert locked.post("/feeds/poll", data={"feed": "khmer-daily"}).status_code == 403
    page = locked.get("/feeds", headers=HTML).text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    before = len(web_deployment.site.hits("/feeds/khmer-daily.xml"))
    done = locked.post("/feeds/poll", data={"feed": "khmer-daily", "csrf": csrf})
    assert done.status_code == 303 and done.headers["location"].startswith("/feeds?polled=khmer-daily&status=")
    assert len(web_deployment.site.hits("/feeds/khmer-daily.xml")) == before + 1
    shown = locked.get(done.headers["location"], headers=HTML).text
    assert "Polled khmer-daily now: not modified" in shown or "Polled khmer-daily now: ok" in shown


def test_a_user_polls_a_feed_now_in_the_browser(
    browser_page: Page,
    web_monitor: Monitor,
    web_deployment: WebDeployment,
    live_server_factory: Callable[..., LiveServer],
) -> None:
    name = _new_feed(web_monitor, web_deployment)
    server = live_server_factory(web_monitor, token=TOKEN)
    browser_page.goto(f"{server.url}/feeds")
    browser_page.fill("input[name=token]", TOKEN)
    browser_page.fill("input[name=name]", "ana")
    browser_page.click("button[type=submit]")
    row = browser_page.locator(f'tr[data-feed="{name}"]')
    expect(row.locator(".feed-status")).to_contain_text("never polled")
    row.get_by_role("button", name="Poll now").click(timeout=60_000)  # the form answers when the poll is done
    # a poll starts its extraction worker: seconds on a loaded machine
    expect(browser_page.get_by_role("status")).to_have_text(f"Polled {name} now: ok, 1 new, 0 matched", timeout=60_000)
    expect(row.locator(".feed-status")).to_contain_text("ok")
    expect(row.locator(".day-counts")).to_have_text("0 0 0 0 0 0 1")
    assert len(web_deployment.site.hits(f"/feeds/{name}.xml")) == 1


def test_a_disabled_feed_is_not_polled_now(locked: TestClient, web_monitor: Monitor) -> None:
    feed = web_monitor.store.get_feed("wire-copy")
    assert feed is not None
    web_monitor.store.update_feed_state(feed.id, dataclasses.replace(feed.state, enabled=False))
    answer = locked.post("/api/v1/feeds/wire-copy/poll", headers=BEARER)
    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["error"]) == ("skipped", "the feed is disabled")
    page = locked.get("/feeds?polled=wire-copy&status=skipped", headers=BEARER | HTML).text
    assert "wire-copy was not polled: it is disabled" in page
    row = page.split('data-feed="wire-copy"')[1].split("</tr>")[0]
    assert "disabled" in row and "Poll now" not in row
