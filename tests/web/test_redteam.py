"""Attacks on the web app, the way an attacker (or a hostile feed) would make them (docs/web.md, "Access").

A deployment is filled by a real poll of a feed whose every value is hostile: its name and tags (from the config),
titles that open and close ``<mark>``, a snippet with markup in it, an author with an event handler, ``javascript:``
and ``data:`` links, credentials in the feed's and an article's URL, a channel URL with a password. Then every page,
API answer, Atom feed and ``/metrics`` is read: no injected element or attribute, no ``javascript:`` link, no secret.
Also: ``/login?next=`` never leaves the site, search syntax never errors, tampered cursors are a 4xx.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape, unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import pytest
from fastapi.testclient import TestClient

import monitor
from monitor.api import Monitor
from monitor.starter import SHIPPED_RULES
from monitor.web import create_app
from tests.support.chat import ChatServer
from tests.support.newssite import NewsSite
from tests.support.routes import flat_routes
from tests.support.webapp import with_token

TOKEN = "redteam-t0ken-zz9"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
FEED_PASSWORD = "feedpass-q7x"
ARTICLE_PASSWORD = "artpass-k3v"
CHANNEL_PASSWORD = "chanpass-w8m"
SECRETS = (TOKEN, FEED_PASSWORD, ARTICLE_PASSWORD, CHANNEL_PASSWORD)
FEED_NAME = "<svg onload=alert('feed')>"
FEED_TAG = "<i onclick=alert('tag')>tag</i>"
STORY = (
    "Svay Rieng provincial authorities have busted a fraud ring that operated from the upper floors of a casino in "
    "Bavet, near the Vietnamese border. More than 400 people were held for questioning and 38 suspected ringleaders "
    "were charged in the scam compound raid, a spokesman said."
)


def _item(title: str, link: str, body: str, guid: str, at: datetime, author: str = "") -> str:
    creator = f"<dc:creator>{escape(author)}</dc:creator>" if author else ""
    return (
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link><guid isPermaLink='false'>{guid}</guid>"
        f"<description>{escape(body)}</description>{creator}<pubDate>{format_datetime(at)}</pubDate></item>"
    )


def _hostile_feed(base: str) -> str:
    """RSS whose every value attacks: markup as text (double-escaped: it stays text after the HTML is read) and
    as HTML, ``</mark>`` break-outs, hostile links, credentials in a link."""
    now = datetime.now(UTC)
    creds = base.replace("http://", f"http://reader:{ARTICLE_PASSWORD}@")
    items = [
        _item(
            '</mark><img src=x onerror=alert("title")> Cambodian authorities bust scam ring in Bavet casino',
            f"{base}/news/one.html",
            f"<p>{STORY} &lt;/mark&gt;&lt;script&gt;alert('snippet')&lt;/script&gt;</p>"
            f"<script>alert('html')</script><img src=x onerror=alert('img')>",
            "hostile-1",
            now - timedelta(hours=1),
            author='<img src=x onerror=alert("author")>',
        ),
        _item(
            "Bavet casino raid: <mark>police</mark> detain scam workers",
            "javascript:alert('link')//http://x",
            STORY,
            "hostile-2",
            now - timedelta(hours=2),
        ),
        _item(
            "",
            f"{creds}/news/two.html?password={ARTICLE_PASSWORD}",
            STORY + " Svay Rieng police said the Bavet scam compound was shut.",
            "hostile-3",
            now - timedelta(hours=3),
        ),
        _item(
            "Data link: Bavet scam compound raided by police",
            "data:text/html,<script>alert('data')</script>",
            STORY,
            "hostile-4",
            now - timedelta(hours=4),
        ),
    ]
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel><title>&lt;script&gt;alert('channel')&lt;/script&gt;</title><link>javascript:alert(1)</link>"
        f"<description>x</description>{''.join(items)}</channel></rss>"
    )


@dataclass
class Hostile:
    root: Path
    site: NewsSite


@pytest.fixture(scope="module")
def hostile_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    root = tmp_path_factory.mktemp("hostile")
    site, chat = NewsSite(), ChatServer()
    chat.status = 500  # deliveries fail, so their (redacted) errors show
    chat.start()
    try:
        site.raw["/feeds/hostile.xml"] = _hostile_feed(site.base)
        feed_url = site.base.replace("http://", f"http://reader:{FEED_PASSWORD}@") + "/feeds/hostile.xml"
        chat_url = f"json://hook:{CHANNEL_PASSWORD}@127.0.0.1:{chat.port}/hook"
        shutil.copytree(SHIPPED_RULES, root / "rules")
        (root / "config.toml").write_text(
            f"""
[database]
url = "sqlite:///data/monitor.db"

[fetch]
allow_private = true
extract_processes = 1

[rules]
paths = ["rules"]

[[feeds]]
name = "{FEED_NAME}"
url = "{feed_url}"
tags = ["{FEED_TAG}"]
full_text = false

[channels.chat]
urls = ["{chat_url}"]

[[routes]]
channels = ["chat"]
""",
            encoding="utf-8",
        )
        with monitor.open(root / "config.toml") as m:
            m.sync_feeds()
            m.poll()
            m.deliver()
        yield Hostile(root, site)
    finally:
        site.close()
        chat.stop()


@pytest.fixture(scope="module")
def hostile(hostile_deployment: Hostile, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitor]:
    root = tmp_path_factory.mktemp("hostile-copy") / "deployment"
    shutil.copytree(hostile_deployment.root, root)
    with monitor.open(root / "config.toml") as m:
        yield with_token(m, TOKEN)


@pytest.fixture(scope="module")
def client(hostile: Monitor) -> Iterator[TestClient]:
    with TestClient(create_app(hostile), follow_redirects=False, raise_server_exceptions=False) as c:
        yield c


class _Injected(HTMLParser):
    """Collects what feed text must never become: an element or attribute that runs script, a script link."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            text = (value or "").strip().lower()
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action", "formaction", "xlink:href") and text.startswith(
                ("javascript:", "data:text", "vbscript:")
            ):
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag == "script" and not dict(attrs).get("src", "").startswith("/static/"):
            self.found.append("<script> without a /static/ source")
        if tag in ("img", "svg", "iframe", "object", "embed") and "x" == dict(attrs).get("src"):
            self.found.append(f"<{tag} src=x>")


def _injected(html: str) -> list[str]:
    parser = _Injected()
    parser.feed(html)
    return parser.found


def _pages(client: TestClient, m: Monitor) -> list[str]:
    """Every page (GET, not API, Atom or metrics) of the app, each match's and each rule's page included."""
    return _pages_of(m, client.app)


def _pages_of(m: Monitor, app: Any = None) -> list[str]:
    app = app if app is not None else create_app(m)
    found: list[str] = []
    ids = [x.id for x in m.matches(limit=100)]
    for path, route in flat_routes(app):
        if "GET" not in (route.methods or ()):
            continue
        if path.startswith(("/api/", "/atom/", "/static")) or path in ("/metrics", "/openapi.json"):
            continue
        if "{match_id}" in path:
            found += [path.replace("{match_id}", str(i)) for i in ids]
        elif "{rule_id}" in path:
            found += [path.replace("{rule_id}", r.id) for r in m.rules.rules]
        elif "{" not in path:
            found.append(path)
    return found


def test_the_poll_stored_the_hostile_items(hostile: Monitor) -> None:
    titles = {x.article.title for x in hostile.matches(limit=100)}
    assert any("</mark><img" in (t or "") for t in titles), titles
    assert {x.article.feed for x in hostile.matches(limit=100)} == {FEED_NAME}


def test_no_page_carries_injected_markup_or_a_secret(client: TestClient, hostile: Monitor) -> None:
    pages = _pages(client, hostile)
    assert "/" in pages and "/feeds" in pages and any(p.startswith("/matches/") for p in pages)
    problems = []
    for path in pages:
        for query in ("", "?q=Bavet", f"?feed={FEED_NAME}", "?tag=scams"):
            answer = client.get(path + query, headers={**BEARER, "Accept": "text/html"})
            assert answer.status_code == 200, (path, answer.status_code)
            problems += [f"{path}{query}: {what}" for what in _injected(answer.text)]
            problems += [f"{path}{query}: shows {s}" for s in SECRETS if s in answer.text]
    assert not problems, "\n".join(problems)
    home = client.get("/?q=Bavet", headers=BEARER).text
    assert "&lt;/mark&gt;&lt;img src=x" in home  # the title shows as text


def test_no_api_answer_metrics_or_error_shows_a_secret(client: TestClient, hostile: Monitor) -> None:
    ids = [x.id for x in hostile.matches(limit=100)]
    paths = ["/api/v1/matches", "/api/v1/feeds", "/api/v1/deliveries", "/api/v1/rules", "/metrics", "/openapi.json"]
    paths += [f"/api/v1/matches/{i}" for i in ids] + ["/nowhere", "/matches/999999", "/api/v1/matches?since=junk"]
    assert client.get("/api/v1/deliveries", headers=BEARER).json()["items"], "the deliveries failed and are listed"
    for path in paths:
        text = client.get(path, headers=BEARER).text
        assert not [s for s in SECRETS if s in text], path
        assert "Traceback" not in text


def test_atom_feeds_keep_feed_text_as_text(client: TestClient, hostile: Monitor) -> None:
    for path in ["/atom/matches.xml"] + [f"/atom/rules/{r.id}.xml" for r in hostile.rules.rules]:
        answer = client.get(path, params={"token": TOKEN})
        assert answer.status_code == 200
        assert not [s for s in SECRETS if s in answer.text], path  # the ?token= is not echoed either
        parsed = feedparser.parse(answer.content)
        assert not parsed.bozo, (path, parsed.get("bozo_exception"))
        for entry in parsed.entries:
            for link in entry.get("links", []):
                assert urlsplit(link["href"]).scheme in ("http", "https"), link
            assert "<img" not in entry.get("summary", "") or "&lt;" not in answer.text
    parsed = feedparser.parse(client.get("/atom/matches.xml", params={"token": TOKEN}).content)
    titles = [e.title for e in parsed.entries]
    assert any('</mark><img src=x onerror=alert("title")>' in t for t in titles), titles
    raw = client.get("/atom/matches.xml", params={"token": TOKEN}).text
    assert "<img src=x" not in raw and "<script>" not in raw  # escaped in the XML itself


@pytest.mark.parametrize(
    "given",
    [
        "//evil.example/",
        "///evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "https://evil.example/",
        "https:evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
        "/\n/evil.example",
        " //evil.example",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        "%2F%2Fevil.example",
        "\x00//evil.example",
    ],
)
def test_login_never_sends_anyone_off_the_site(client: TestClient, given: str) -> None:
    form = client.get("/login", params={"next": given}, headers={"Accept": "text/html"})
    kept = unescape(form.text.split('name="next" value="')[1].split('"')[0])
    assert urlsplit(urljoin("http://testserver/login", kept)).netloc == "testserver", kept
    answer = client.post("/login", data={"token": TOKEN, "next": given})
    assert answer.status_code == 303
    target = urljoin("http://testserver/login", answer.headers["location"])
    assert urlsplit(target).netloc == "testserver", (given, answer.headers["location"])
    assert not [c for c in answer.headers["location"] if ord(c) < 33 or c == "\\"]
    client.cookies.clear()


@pytest.mark.parametrize(
    "q",
    [
        '"',
        '"unclosed phrase',
        "*",
        "scam*",
        "NEAR(",
        "NEAR(scam raid, 5)",
        "-",
        "-scam",
        "scam -raid",
        "AND",
        "OR OR",
        "NOT",
        "(",
        ")",
        "^scam",
        "title:scam",
        "col:",
        "{title text}: scam",
        "scam + raid",
        "a & b | !c",
        "'; DROP TABLE matches; --",
        "%",
        "_",
        "\\",
        "ខ្មែរ",
        "บ่อนการพนัน",
        "赌场",
        "x" * 500,
        "scam " * 100,
    ],
)
def test_search_syntax_never_errors(client: TestClient, q: str) -> None:
    for path, headers in (("/", {"Accept": "text/html"}), ("/api/v1/matches", {})):
        answer = client.get(path, params={"q": q}, headers={**BEARER, **headers})
        assert answer.status_code == 200, (path, q, answer.status_code, answer.text[:300])


def test_a_query_longer_than_the_limit_is_a_clear_422(client: TestClient) -> None:
    answer = client.get("/api/v1/matches", params={"q": "x" * 20_000}, headers=BEARER)
    assert answer.status_code == 422 and answer.json()["detail"].startswith("q:")


@pytest.mark.parametrize(
    "cursor",
    [
        "0-0",
        "99999999999999999999-99999999999999999999",
        "1-1",
        "-1--1",
        "abc",
        "1-1-1",
        "1-1 OR 1=1",
        "'",
        "",
        "1" * 41,
        "0x10-0x10",
        "１-１",  # full-width digits: int() would take them
    ],
)
def test_a_tampered_cursor_is_a_page_or_a_4xx(client: TestClient, cursor: str) -> None:
    for path, headers in (("/api/v1/matches", {}), ("/", {"Accept": "text/html"})):
        answer = client.get(path, params={"cursor": cursor}, headers={**BEARER, **headers})
        assert answer.status_code in (200, 400, 422), (path, cursor, answer.status_code, answer.text[:300])
    api = client.get("/api/v1/matches", params={"cursor": cursor}, headers=BEARER)
    if api.status_code == 200:
        assert set(api.json()) == {"items", "next"}


def test_a_cursor_is_tied_to_nothing_secret_and_pages_end(client: TestClient) -> None:
    seen: list[int] = []
    cursor = None
    for _ in range(20):
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        body = client.get("/api/v1/matches", params=params, headers=BEARER).json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next"]
        if cursor is None:
            break
    assert cursor is None and seen and len(seen) == len(set(seen))


def test_a_session_cookie_is_http_only_and_same_site(client: TestClient) -> None:
    answer = client.post("/login", data={"token": TOKEN, "name": "<b>Sokha</b>"})
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    page = client.get("/feeds", headers={"Accept": "text/html"}).text
    assert "&lt;b&gt;Sokha&lt;/b&gt;" in page and "<b>Sokha</b>" not in page
    client.cookies.clear()


def test_a_cross_site_form_post_is_refused(client: TestClient) -> None:
    """What a hostile page's auto-submitted form does with a logged-in analyst's cookie: no CSRF token, so 403."""
    client.post("/login", data={"token": TOKEN})
    served = {path for path, route in flat_routes(client.app) if "POST" in (route.methods or ())}
    forms = (
        ("/feeds/poll", {"feed": FEED_NAME}),
        ("/deliveries/retry", {"delivery": "1"}),
        ("/matches/{match_id}/feedback", {"relevant": "true"}),
        ("/workbench", {"action": "try", "text": "Bavet scam compound raided"}),
    )
    for route, data in forms:
        if route not in served:  # an area not merged yet
            continue
        path = route.replace("{match_id}", "1")
        answer = client.post(path, data=data, headers={"Origin": "https://evil.example", "Accept": "text/html"})
        assert answer.status_code == 403, (path, answer.status_code)
    client.cookies.clear()


def _session(client: TestClient) -> str:
    """Log in (cookie) and return the session's CSRF token."""
    client.post("/login", data={"token": TOKEN, "name": "analyst"})
    return (
        client.get("/login", headers={"Accept": "text/html"}).text.split('name="csrf-token" content="')[1].split('"')[0]
    )


def test_the_workbench_shows_hostile_articles_as_text(client: TestClient, hostile: Monitor) -> None:
    if "/workbench" not in {path for path, _ in flat_routes(client.app)}:
        pytest.skip("the rules area is not merged")
    csrf = _session(client)
    rule = hostile.rules.rules[0].id
    forms = [
        {"action": "backtest", "mode": "rule", "rule": rule, "days": "30"},
        {"action": "backtest", "mode": "query", "rule": rule, "query": "Bavet OR scam", "days": "30"},
        {"action": "try", "mode": "rule", "text": f"{FEED_NAME} {STORY} </mark><script>alert('paste')</script>"},
    ]
    try:
        for form in forms:
            answer = client.post("/workbench", data={**form, "csrf": csrf}, headers={"Accept": "text/html"})
            assert answer.status_code == 200, (form, answer.text[:300])
            assert not _injected(answer.text), (form, _injected(answer.text))
            assert not [s for s in SECRETS if s in answer.text], form
        api = client.post("/api/v1/backtest", json={"rule": rule, "days": 30}, headers={"X-CSRF-Token": csrf})
        assert api.status_code == 200 and not [s for s in SECRETS if s in api.text]
    finally:
        client.cookies.clear()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1:25/", "ftp://x/", "javascript:alert(1)"])
def test_the_workbench_fetches_web_pages_only(client: TestClient, url: str) -> None:
    if "/workbench" not in {path for path, _ in flat_routes(client.app)}:
        pytest.skip("the rules area is not merged")
    csrf = _session(client)
    try:
        answer = client.post(
            "/workbench", data={"action": "try", "url": url, "csrf": csrf}, headers={"Accept": "text/html"}
        )
        assert answer.status_code == 422 and "root:" not in answer.text and not _injected(answer.text)
    finally:
        client.cookies.clear()


def test_in_a_browser_no_hostile_value_runs(hostile: Monitor, live_server_factory: Any, browser_page: Any) -> None:
    """Every page of the hostile deployment in chromium: no dialog, script error or CSP violation (``browser_page``
    fails the test on any), no injected element in the DOM, and the hostile title shown as text."""
    server = live_server_factory(hostile)
    page = browser_page
    page.goto(f"{server.url}/login")
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    paths = [p for p in _pages_of(hostile) if "{" not in p]
    for path in paths:
        page.goto(server.url + path)
        injected = page.locator("img[src=x], svg[onload], [onerror], [onclick], [onmouseover], script:not([src])")
        assert injected.count() == 0, path
        assert page.locator("a[href^='javascript:'], a[href^='data:']").count() == 0, path
    page.goto(server.url + "/?q=Bavet")
    assert page.get_by_text('</mark><img src=x onerror=alert("title")>', exact=False).count() > 0


@pytest.mark.parametrize(
    "path",
    [
        "/%3Cscript%3Ealert(1)%3C/script%3E",
        "/matches/%3Cimg%20src=x%20onerror=alert(1)%3E",
        "/rules/%3Csvg%20onload=alert(1)%3E",
        "/atom/rules/%3Cscript%3E.xml",
        "/api/v1/matches/%00",
        "/" + "a" * 8000,
    ],
)
def test_error_answers_never_echo_markup(client: TestClient, path: str) -> None:
    for headers in ({"Accept": "text/html"}, {}):
        answer = client.get(path, headers={**BEARER, **headers})
        assert 400 <= answer.status_code < 500, (path, answer.status_code)
        assert "Traceback" not in answer.text
        if answer.headers["content-type"].startswith("text/html"):
            assert not _injected(answer.text) and "<script>" not in answer.text and "<svg" not in answer.text
        else:  # JSON may quote what was asked: with nosniff, no browser renders it as a page
            assert answer.headers["content-type"].startswith("application/json")
            assert answer.headers["x-content-type-options"] == "nosniff"
