"""The web app under test: a deployment filled by a real poll, the app on a loopback uvicorn, a real browser.

- ``web_deployment`` (once per test session and xdist worker): a folder with ``config.toml``, the shipped rules and
  a SQLite store filled by a real ``poll`` and ``deliver`` of a loopback news site (the seed articles in two feeds, a
  reprint of one seed in a third, an off-topic story, and an article titled ``<img src=x onerror=alert(1)>``), with
  a chat channel that receives and a "pager" channel that fails (its URL holds a password that must never show).
- ``web_monitor``: a ``Monitor`` on a private copy of that folder (each test may write to it).
- ``live_server``: that monitor's app on uvicorn on a free loopback port (``.url``); ``live_server_factory(monitor,
  token=...)`` serves another one.
- ``browser_page``: a Playwright page in Debian's chromium (``/usr/bin/chromium``; skipped with the reason when it is
  missing: ``.ci/run`` installs it). The test fails if a page threw a script error or broke the CSP. One browser
  per module (see ``chromium_browser`` on ``asyncio.run`` while it lives).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

import monitor
from monitor.api import Monitor
from monitor.config import Settings
from monitor.demo import demo_articles
from monitor.starter import SHIPPED_RULES
from monitor.web import create_app
from tests.support.chat import ChatServer
from tests.support.newssite import NewsSite

__all__ = [
    "BEARER",
    "CHROMIUM",
    "HOSTILE_TITLE",
    "PAGER_PASSWORD",
    "TOKEN",
    "LiveServer",
    "WebDeployment",
    "browser_page",
    "chromium_browser",
    "client",
    "live_server",
    "live_server_factory",
    "locked",
    "web_deployment",
    "web_monitor",
    "with_token",
]

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE_TITLE = "<img src=x onerror=alert(1)>"
PAGER_PASSWORD = "s3cret-pager-password"
TOKEN = "web-t0ken"  # the ``[web] token`` of ``locked`` (and of tests that set one with ``with_token``)
BEARER = {"authorization": f"Bearer {TOKEN}"}
_CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # the closed network refuses Google's hosts, many at a time
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class WebDeployment:
    """The filled deployment: its folder, the news site that serves its feeds, the two chat receivers."""

    root: Path
    site: NewsSite
    chat: ChatServer
    pager: ChatServer


def _config(site: NewsSite, chat: ChatServer, pager: ChatServer) -> str:
    feeds = "".join(
        f'[[feeds]]\nname = "{name}"\nurl = "{site.feed_url(name)}"\ntags = ["{tag}"]\n\n'
        for name, tag in (("khmer-daily", "cambodia"), ("mekong-post", "region"), ("wire-copy", "wire"))
    )
    pager_url = f"json://ops:{PAGER_PASSWORD}@127.0.0.1:{pager.port}/hook"
    return f"""
[database]
url = "sqlite:///data/monitor.db"

[fetch]
allow_private = true
extract_processes = 1

[rules]
paths = ["rules"]

{feeds}
[channels.chat]
urls = ["{chat.url("hook")}"]

[channels.pager]
urls = ["{pager_url}"]

[[routes]]
channels = ["chat"]

[[routes]]
channels = ["pager"]
severity = "high"
"""


def _fill(site: NewsSite) -> None:
    """The seeds in two feeds, a reprint, an off-topic story and a hostile title, published over the last days."""
    now = datetime.now(UTC)
    articles = demo_articles(now=now)
    for i, article in enumerate(articles):
        site.add(
            "khmer-daily" if i % 2 == 0 else "mekong-post",
            article.title,
            article.body,
            slug=article.slug,
            published=now - timedelta(hours=7 * i + 1),
        )
    first = articles[0]
    site.add(
        "wire-copy", f"Wire: {first.title}", first.body, slug="wire-" + first.slug, published=now - timedelta(hours=3)
    )
    site.add(
        "wire-copy",
        HOSTILE_TITLE,
        articles[1].body + "\n\nThe wire adds nothing to this report.",
        slug="hostile-title",
        published=now - timedelta(hours=2),
    )


@pytest.fixture(scope="session")
def web_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDeployment]:
    root = tmp_path_factory.mktemp("web-deployment")
    site, chat, pager = NewsSite(), ChatServer(), ChatServer()
    chat.start()
    pager.status = 500
    pager.start()
    try:
        _fill(site)
        shutil.copytree(SHIPPED_RULES, root / "rules")
        (root / "config.toml").write_text(_config(site, chat, pager), encoding="utf-8")
        with monitor.open(root / "config.toml") as m:
            m.sync_feeds()
            m.poll()
            m.deliver()
        yield WebDeployment(root, site, chat, pager)
    finally:
        site.close()
        chat.stop()
        pager.stop()


@pytest.fixture
def web_monitor(web_deployment: WebDeployment, tmp_path: Path) -> Iterator[Monitor]:
    """A ``Monitor`` on a private copy of the filled deployment."""
    root = tmp_path / "deployment"
    shutil.copytree(web_deployment.root, root)
    with monitor.open(root / "config.toml") as m:
        yield m


@pytest.fixture
def client(web_monitor: Monitor) -> Iterator[TestClient]:
    """The app without a token (read-only)."""
    with TestClient(create_app(web_monitor), follow_redirects=False) as c:
        yield c


@pytest.fixture
def locked(web_monitor: Monitor) -> Iterator[TestClient]:
    """The app with ``[web] token = TOKEN``."""
    with TestClient(create_app(with_token(web_monitor, TOKEN)), follow_redirects=False) as c:
        yield c


def with_token(base: Monitor, token: str) -> Monitor:
    """A ``Monitor`` on ``base``'s store and rules whose ``[web] token`` is ``token``."""
    settings: Settings = base.settings
    changed = settings.model_copy(update={"web": settings.web.model_copy(update={"token": token})})
    return Monitor(changed, base.store, rules=lambda: base.rules)


class LiveServer:
    """An app served by uvicorn on a free loopback port, in a thread; ``url`` has no trailing slash."""

    def __init__(self, app: Any) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test web server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()


@pytest.fixture
def live_server_factory() -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def start(m: Monitor, *, token: str | None = None, readiness: Callable[[], str | None] | None = None) -> LiveServer:
        server = LiveServer(create_app(with_token(m, token) if token is not None else m, readiness=readiness))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live_server(web_monitor: Monitor, live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    return live_server_factory(web_monitor)


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Any]:
    """One chromium per test module. Module, not session: Playwright's sync API keeps an event loop running in this
    thread while it lives, so ``asyncio.run`` (``Monitor.poll``) fails here until it stops; in a test that has a
    browser, poll in another thread (``threading``/``asyncio.to_thread``) or through the app."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=_CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium_browser: Any) -> Iterator[Any]:
    """A fresh page (own cookies); fails the test if a page threw a script error or violated the CSP."""
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console: {msg.text}")
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    page.on("dialog", lambda dialog: problems.append(f"dialog opened: {dialog.message}") or dialog.dismiss())
    yield page
    context.close()
    assert not problems, "\n".join(problems)
