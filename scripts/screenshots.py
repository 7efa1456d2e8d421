"""Regenerate the web app's screenshots in ``docs/img/`` (``docs/web.md`` shows them).

    .venv/bin/python scripts/screenshots.py [--out docs/img]

A deployment in a temporary folder is filled by a real poll of a loopback news site: the test suite's deployment
(``tests/support/webapp.py``: the demo's articles in two feeds, a reprint, an article titled
``<img src=x onerror=alert(1)>``, a chat channel that receives and a pager that fails), so the pictures show what
the browser tests see. The app is served by uvicorn on loopback with a token; Debian's chromium
(``/usr/bin/chromium``) through Playwright logs in, opens a story, marks a match relevant, runs a backtest and a
try in the workbench, and takes each page at 1280x800. With Pillow
installed (``pip install pillow``; not a dependency of monitor) each PNG is reduced to a 256-colour palette, about a
third of the size.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support: the suite's news site and deployment

import monitor  # noqa: E402
from monitor.starter import SHIPPED_RULES  # noqa: E402
from monitor.web import create_app  # noqa: E402
from tests.support.chat import ChatServer  # noqa: E402
from tests.support.newssite import NewsSite  # noqa: E402
from tests.support.webapp import _CHROMIUM_ARGS, CHROMIUM, LiveServer, _config, _fill, with_token  # noqa: E402

__all__ = ["main", "shoot"]

TOKEN = "screenshots"
SIZE = {"width": 1280, "height": 800}
RULE = "kh-scam-crackdown"
TRIED = (
    "Cambodian authorities bust scam ring operating out of Bavet casino\n\nSvay Rieng provincial authorities have "
    "busted a fraud ring that operated from the upper floors of a casino in Bavet, near the Vietnamese border. More "
    "than 400 people were held for questioning and 38 suspected ringleaders were charged, a spokesman said."
)


def _deploy(root: Path, site: NewsSite, chat: ChatServer, pager: ChatServer) -> Path:
    """The suite's deployment in ``root``, filled by a real poll and delivery run; its config file."""
    _fill(site)
    shutil.copytree(SHIPPED_RULES, root / "rules")
    config = root / "config.toml"
    config.write_text(_config(site, chat, pager), encoding="utf-8")
    with monitor.open(config) as m:
        m.sync_feeds()
        m.poll()
        m.deliver()
    return config


def _compress(path: Path) -> None:
    """A 256-colour palette PNG when Pillow is there (UI pictures lose nothing visible), else as taken."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        reduced = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    reduced.save(path, optimize=True)


def shoot(url: str, match_id: int, out: Path) -> list[Path]:
    """Log in at ``url`` and save each main page as a PNG in ``out``."""
    from playwright.sync_api import sync_playwright

    taken: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=_CHROMIUM_ARGS)
        page: Any = browser.new_context(viewport=SIZE).new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{url}/login")
        page.fill("input[name=token]", TOKEN)
        page.fill("input[name=name]", "Sokha")
        page.click("button[type=submit]")

        def save(name: str, path: str | None = None) -> None:
            if path is not None:
                page.goto(url + path)
            target = out / f"{name}.png"
            page.screenshot(path=str(target))
            _compress(target)
            taken.append(target)

        page.goto(url + "/")
        page.locator("summary", has_text="also reported").first.click()  # a story's other outlets
        save("matches")
        save("match", f"/matches/{match_id}")
        save("rules", "/rules")
        page.goto(f"{url}/rules/{RULE}")
        page.locator("button", has_text="Relevant").first.click()  # feedback, in the row's new state
        page.wait_for_load_state("networkidle")
        save("rule")
        page.goto(f"{url}/workbench?rule={RULE}")
        page.click("#wb-backtest")
        page.locator("#results h2").first.scroll_into_view_if_needed()  # the backtest's answer, under the form
        save("workbench-backtest")
        page.goto(f"{url}/workbench")
        page.fill("#wb-text", TRIED)
        page.click("#wb-try")
        page.locator("#results h2").first.scroll_into_view_if_needed()
        save("workbench-try")
        save("feeds", "/feeds")
        save("deliveries", "/deliveries")
        browser.close()
    return taken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="folder for the PNGs")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    site, chat, pager = NewsSite(), ChatServer(), ChatServer()
    pager.status = 500
    chat.start()
    pager.start()
    try:
        with tempfile.TemporaryDirectory(prefix="monitor-screenshots-") as folder:
            config = _deploy(Path(folder), site, chat, pager)
            with monitor.open(config) as m:
                match_id = next(x.id for x in m.matches(limit=100) if x.rule == RULE and x.article.title)
                server = LiveServer(create_app(with_token(m, TOKEN)))
                try:
                    taken = shoot(server.url, match_id, args.out)
                finally:
                    server.stop()
    finally:
        site.close()
        chat.stop()
        pager.stop()
    for path in taken:
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
