"""The Matches pages in a real browser (Debian's chromium): what an analyst sees and does. The ``browser_page``
fixture fails a test whose page threw a script error, broke the CSP or opened a dialog."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.support.webapp import HOSTILE_TITLE, LiveServer


def test_hostile_title_shows_as_text_and_runs_nothing(live_server: LiveServer, browser_page: Page) -> None:
    page = browser_page
    page.goto(live_server.url + "/?feed=wire-copy")
    titles = page.locator("li.match h2.article-title a")
    expect(titles.filter(has_text=HOSTILE_TITLE).first).to_be_visible()
    assert page.locator("main img").count() == 0  # the title made no element
    row = page.locator("li.match", has=page.locator("h2.article-title", has_text=HOSTILE_TITLE)).first
    row.locator("a.open").click()
    expect(page).to_have_url(re.compile(r"/matches/\d+$"))
    expect(page.locator("h1.article-title")).to_have_text(HOSTILE_TITLE)
    assert page.locator("main img").count() == 0


def test_search_and_filter_through_the_form(live_server: LiveServer, browser_page: Page) -> None:
    page = browser_page
    page.goto(live_server.url + "/")
    everything = page.locator("li.match").count()
    page.fill("input[name=q]", "Indonesia")
    page.select_option("select[name=severity]", "medium")
    page.click("form.filters button[type=submit]")
    expect(page).to_have_url(re.compile(r"q=Indonesia"))
    rows = page.locator("li.match")
    assert 0 < rows.count() < everything
    for i in range(rows.count()):
        expect(rows.nth(i).locator(".badge").first).to_have_text("medium")
    expect(page.locator("input[name=q]")).to_have_value("Indonesia")  # the form keeps what was asked
    page.click("a.clear")
    expect(page.locator("li.match")).to_have_count(everything)


def test_j_k_move_and_o_opens(live_server: LiveServer, browser_page: Page) -> None:
    page = browser_page
    page.goto(live_server.url + "/")
    rows = page.locator("li.match")
    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    expect(rows.nth(1)).to_have_class(re.compile(r"\bcurrent\b"))
    expect(rows.nth(0)).not_to_have_class(re.compile(r"\bcurrent\b"))
    wanted = rows.nth(1).locator("a.open").get_attribute("href")
    page.keyboard.press("o")
    expect(page).to_have_url(live_server.url + str(wanted))
    expect(page.locator("section.why h2")).to_have_text("Why it matched")
    expect(page.locator(".article-text mark").first).to_be_visible()  # the hits, marked in the text


def test_keys_typed_in_the_search_box_stay_there(live_server: LiveServer, browser_page: Page) -> None:
    page = browser_page
    page.goto(live_server.url + "/")
    page.click("input[name=q]")
    page.keyboard.type("jko")
    expect(page.locator("input[name=q]")).to_have_value("jko")
    expect(page).to_have_url(live_server.url + "/")
    assert page.locator("li.match.current").count() == 0


def test_also_reported_by_expands_and_pages_go_on(live_server: LiveServer, browser_page: Page) -> None:
    page = browser_page
    # the wire's copies: each in a story with another outlet's article, wherever the last-matched page ends
    page.goto(live_server.url + "/?feed=wire-copy&limit=5")
    story = page.locator("details.story").first
    expect(story.locator("summary")).to_have_text(re.compile(r"also reported by \d+ outlets?"))
    expect(story.locator("ul")).to_be_hidden()
    story.locator("summary").click()
    expect(story.locator("ul li").first).to_be_visible()
    page.goto(live_server.url + "/?limit=5")
    first_ids = page.locator("li.match").evaluate_all("rows => rows.map(r => r.id)")
    page.click("a[rel=next]")
    expect(page.locator("li.match")).to_have_count(5)
    later_ids = page.locator("li.match").evaluate_all("rows => rows.map(r => r.id)")
    assert not set(first_ids) & set(later_ids)
