"""One hostile value in a feed or a page is cleaned at the edge and fails nothing: the feed's other entries are
stored, on SQLite and PostgreSQL, through the real pipeline on a loopback news site (issue 11, items 4, 5, 10).

Each poisoned feed has 20 items; the poison sits in item 7. Every item must be stored, with clean text.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from monitor.clock import as_utc, now_utc
from monitor.config import DatabaseSettings, FeedSettings, FetchSettings, RulesSettings, Settings
from monitor.daemon import RuleWatcher
from monitor.fetch import Fetcher
from monitor.pipeline import Context, FeedResult, poll_due
from monitor.store import NewArticle, Store
from tests.support.newssite import NewsSite

# End to end through real servers and processes: in the full suite, not the fast loop.
pytestmark = pytest.mark.slow

CJK = "".join(chr(random.Random(11).randint(0x4E00, 0x9FFF)) for _ in range(2_000))  # 6 KB that do not compress
RULES = "rules:\n  - id: raids\n    title: Raids\n    query: 'raid*'\n"
POISON_AT = 7
UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


class Poller:
    """A store and a loopback site, polled by the pipeline (pages extracted in this process: no worker start-up)."""

    def __init__(self, url: str, site: NewsSite, tmp_path: Path) -> None:
        (tmp_path / "rules").mkdir(exist_ok=True)
        (tmp_path / "rules" / "r.yaml").write_text(RULES, encoding="utf-8")
        self.url, self.site, self.tmp_path = url, site, tmp_path
        self.store = Store.open(url)

    def poll(self, feeds: dict[str, str], *, full_text: bool = False) -> dict[str, FeedResult]:
        settings = Settings(
            database=DatabaseSettings(url=self.url),
            fetch=FetchSettings(allow_private=True, full_text=full_text, timeout=5),
            rules=RulesSettings(paths=(self.tmp_path / "rules",)),
            feeds=tuple(FeedSettings(name=name, url=url) for name, url in feeds.items()),
        )
        self.store.sync_feeds(settings.feeds)

        async def run() -> list[FeedResult]:
            async with Fetcher(settings.fetch) as fetcher:
                return await poll_due(
                    Context(settings, self.store, fetcher, RuleWatcher(settings).current), due_only=False
                )

        return {r.feed: r for r in asyncio.run(run())}

    def articles(self) -> list[dict[str, Any]]:
        """Every stored article, read back from the database itself."""
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT url, canonical_url, title, text, author, published, lang FROM articles ORDER BY id")
                )
                found = [dict(row._mapping) for row in rows]
        finally:
            engine.dispose()
        for article in found:  # SQLite gives the text it stored
            if isinstance(article["published"], str):
                article["published"] = datetime.fromisoformat(article["published"])
        return found

    def entry_keys(self) -> list[str]:
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(text("SELECT key FROM entries")).scalars())
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def site() -> Iterator[NewsSite]:
    """One site for the module (stopping one takes 0.5 s); each test serves its own paths under a fresh prefix."""
    served = NewsSite()
    yield served
    served.close()


@pytest.fixture
def news_site(site: NewsSite) -> NewsSite:
    site.raw.clear()
    site.feeds.clear()
    site.requests.clear()
    return site


@pytest.fixture
def poller(store_url: str, news_site: NewsSite, tmp_path: Path) -> Iterator[Poller]:  # noqa: F811
    p = Poller(store_url, news_site, tmp_path)
    yield p
    p.store.close()


def rss(poison: str, slug: str = "") -> bytes:
    """20 RSS items linking to ``/news/<slug><i>.html``; ``poison`` is raw XML put first inside item 7."""
    items = []
    for i in range(20):
        body = (
            f"<title>Police raid number {i}</title><link>/news/{slug}{i}.html</link><guid>item-{i}</guid>"
            f"<description>Police raided compound {i} on Monday.</description>"
            f"<pubDate>Mon, 02 Nov 2026 10:{i:02d}:00 GMT</pubDate>"
        )
        items.append(f"<item>{poison if i == POISON_AT else ''}{body}</item>")
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Poisoned</title>'
        f"{''.join(items)}</channel></rss>"
    ).encode("utf-8", "surrogatepass")


def assert_all_clean(poller: Poller, expected: int = 20, feeds: int = 1) -> list[dict[str, Any]]:
    articles = poller.articles()
    assert len(articles) == expected
    for article in articles:
        for name in ("url", "canonical_url", "title", "text", "author", "lang"):
            assert not UNSAFE.search(article[name] or ""), (name, article[name])
        assert "@" not in article["url"]
        assert len(article["title"]) <= 1_000 and len(article["author"] or "") <= 200
        published = article["published"]  # as stored: UTC without an offset
        assert published is None or datetime(1970, 1, 1, tzinfo=UTC) <= as_utc(published) <= now_utc() + timedelta(
            days=1
        )
    assert not any(UNSAFE.search(key) for key in poller.entry_keys())
    titles = [a["title"] for a in articles]
    for i in range(20):  # every healthy item of every feed, untouched
        assert i == POISON_AT or titles.count(f"Police raid number {i}") == feeds, i
    return articles


# Raw XML placed first in item 7; later elements of the same name are ignored by feedparser (first wins) or
# appended, either way the item is still an item.
XML_POISONS = {
    "surrogate-ref-hex-title": "<title>Raid &#xD800; here</title>",
    "surrogate-ref-dec-title": "<title>Raid &#55296; here</title>",
    "low-surrogate-guid": "<guid>g&#xDC00;7</guid>",
    "surrogate-link": "<link>/news/&#xD800;.html</link>",
    "surrogate-author": "<author>&#xDFFF;someone@example.com</author>",
    "surrogate-category": "<category>&#xD800;cat</category>",
    "surrogate-enclosure": '<enclosure url="/a&#xD800;.mp3" type="audio/&#xDBFF;mpeg" length="1"/>',
    "surrogate-in-escaped-html": "<description>&lt;p&gt;Raid &amp;#xD800; here&lt;/p&gt;</description>",
    "surrogate-in-cdata": "<description><![CDATA[<p>Raid &#xD800; \udc00 here</p>]]></description>",
    "nul-ref-guid": "<guid>g&#0;7</guid>",
    "nul-ref-link": "<link>/news/&#0;7.html</link>",
    "nul-ref-author": "<author>a&#0;b@example.com (A&#x0;B)</author>",
    "nul-ref-title": "<title>Raid&#0; here</title>",
    "control-refs-guid": "<guid>g&#1;&#x1b;&#127;7</guid>",
    "out-of-unicode-ref": "<title>Raid &#x110000; &#99999999999999999999; here</title>",
    "noncharacter-refs": "<title>Raid &#xFFFE;&#xFFFF; here</title>",
    "raw-nul": "<title>Raid \x00 here</title><guid>g\x007</guid>",
    "raw-controls": "<title>Raid \x01\x1b[31m here</title><author>\x07bell</author>",
    "raw-surrogate-bytes": "<title>Raid \ud800 here</title>",
    "date-9999-plus-14": "<pubDate>Fri, 31 Dec 9999 23:00:00 +1400</pubDate>",
    "date-9999-minus-1": "<pubDate>Fri, 31 Dec 9999 23:59:59 -0100</pubDate>",
    "date-year-0": "<pubDate>Sat, 01 Jan 0000 00:00:00 GMT</pubDate>",
    "date-year-1": "<pubDate>Mon, 01 Jan 0001 00:00:00 GMT</pubDate>",
    "date-negative": "<pubDate>-2026-01-01T00:00:00Z</pubDate>",
    "date-1900": "<pubDate>Mon, 01 Jan 1900 00:00:00 GMT</pubDate>",
    "date-next-year": "<pubDate>Fri, 31 Dec 2100 23:00:00 GMT</pubDate>",
    "date-garbage-tz": "<pubDate>Mon, 02 Nov 2026 10:00:00 +99999</pubDate>",
    "huge-title": "<title>" + "Raid " * 200_000 + "</title>",
    "huge-author": "<author>" + "a" * 50_000 + "</author>",
    "huge-guid": "<guid>" + "g" * 50_000 + "</guid>",
    "huge-link": "<link>/news/" + "x" * 50_000 + "</link>",
    "cjk-guid": f"<guid>{CJK}</guid>",  # PostgreSQL cannot index 6 KB: the insert failed
    "cjk-link": f"<link>/news/{CJK[:700]}</link>",  # 700 characters, 6 KB once percent-encoded
    "cjk-title-author": f"<title>{CJK}</title><author>{CJK}</author>",
}


def serve(site: NewsSite, bodies: dict[str, bytes], ext: str) -> dict[str, str]:
    """Serve each body as a feed named after its key; returns the feeds to poll (name -> URL)."""
    for name, body in bodies.items():
        site.raw[f"/feeds/{name}.{ext}"] = body
    return {name: f"{site.base}/feeds/{name}.{ext}" for name in bodies}


def test_one_poisoned_rss_item_fails_nothing(poller: Poller, news_site: NewsSite) -> None:  # noqa: F811
    """One feed per poison (all polled at once: a poll per poison would take too long on two databases)."""
    feeds = serve(news_site, {name: rss(poison, name) for name, poison in XML_POISONS.items()}, "xml")
    news_site.add("healthy", "Police raid a compound in Poipet", "Police raided a compound in Poipet.")
    results = poller.poll(feeds | {"healthy": news_site.feed_url("healthy")})
    for name in XML_POISONS:
        assert (results[name].status, results[name].new) == ("ok", 20), (name, results[name].error)
    assert (results["healthy"].status, results["healthy"].new) == ("ok", 1)
    articles = assert_all_clean(poller, expected=20 * len(XML_POISONS) + 1, feeds=len(XML_POISONS))
    for name in XML_POISONS:  # a changed body is parsed again (no 304): every entry, poisoned ones included, was seen
        news_site.raw[f"/feeds/{name}.xml"] += b"<!-- changed -->"
    again = poller.poll(feeds)
    assert {r.new for r in again.values()} == {0} and len(poller.articles()) == len(articles)


def test_surrogate_and_nul_references_in_an_atom_feed(poller: Poller, news_site: NewsSite) -> None:  # noqa: F811
    entries = "".join(
        f"<entry><id>urn:e{i}</id><title>Police raid number {i}{'&#xD800;&#0;' if i == POISON_AT else ''}</title>"
        f'<link href="/news/{i}.html"/><updated>2026-11-02T10:00:00Z</updated>'
        f"<author><name>{'&#xDC00;&#0;x' if i == POISON_AT else 'A'}</name></author>"
        f"<summary>Police raided compound {i}.</summary></entry>"
        for i in range(20)
    )
    news_site.raw["/feeds/atom.xml"] = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>{entries}</feed>'
    )
    result = poller.poll({"atom": f"{news_site.base}/feeds/atom.xml"})["atom"]
    assert (result.status, result.new) == ("ok", 20)
    assert_all_clean(poller)


def test_a_utf16_feed_with_a_surrogate_reference(poller: Poller, news_site: NewsSite) -> None:  # noqa: F811
    body = rss("<title>Raid &#xD800; &#0; here</title>").decode("utf-8", "surrogatepass")
    news_site.raw["/feeds/utf16.xml"] = body.replace('encoding="utf-8"', 'encoding="utf-16"').encode("utf-16")
    result = poller.poll({"utf16": f"{news_site.base}/feeds/utf16.xml"})["utf16"]
    assert (result.status, result.new) == ("ok", 20), result.error
    assert_all_clean(poller)


def json_feed(poison: dict[str, Any] | str, slug: str = "") -> bytes:
    """20 JSON Feed items; item 7 is updated with ``poison`` (a dict) or replaced by raw JSON text (a str)."""
    items: list[Any] = [
        {
            "id": f"item-{i}",
            "url": f"/news/{slug}{i}.html",
            "title": f"Police raid number {i}",
            "content_text": f"Police raided compound {i} on Monday.",
            "date_published": "2026-11-02T10:00:00+07:00",
        }
        for i in range(20)
    ]
    if isinstance(poison, dict):
        items[POISON_AT] = items[POISON_AT] | poison
    else:
        items[POISON_AT] = "@POISON@"
    doc = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": items})
    raw = poison.replace("/news/7.html", f"/news/{slug}7.html") if isinstance(poison, str) else ""
    return doc.replace('"@POISON@"', raw).encode("utf-8")


RAW_7 = '{"id": "item-7", "url": "/news/7.html", "title": "Police raid number 7", '
JSON_POISONS: dict[str, dict[str, Any] | str] = {
    "surrogate-title": RAW_7[: -len('"Police raid number 7", ')] + '"\\ud800Police raid number 7\\udfff"}',
    "surrogate-author": RAW_7 + '"authors": [{"name": "\\udc00x"}], "author": {"name": "\\ud800"}}',
    "nul-everywhere": {
        "id": "item-7\u0000",
        "url": "/news/\u00007.html",
        "authors": [{"name": "a\u0000b"}],
        "summary": "s\u0000",
        "content_html": "<p>Police raided\u0000 compound 7</p>",
    },
    "date-9999-minus-1": {"date_published": "9999-12-31T23:59:59-01:00"},
    "date-0001-plus-14": {"date_published": "0001-01-01T00:00:00+14:00"},
    "date-year-0": {"date_published": "0000-01-01T00:00:00Z"},
    "date-number": {"date_published": 1e308, "date_modified": -1},
    "nan-and-infinity": RAW_7 + '"date_published": NaN, "summary": Infinity, "id2": -Infinity}',
    "huge-number": RAW_7 + '"date_published": 1e999999, "summary": ' + "9" * 4000 + "}",
    "wrong-types": {
        "title": {"nested": ["Police raid number 7"]},
        "authors": "me",
        "author": ["x"],
        "content_text": [1, 2],
        "url": 7,
        "tags": {"a": 1},
    },
    "author-not-a-list": {"authors": {"name": "x"}},
    "nested-deep": {"_ext": json.loads("[" * 500 + "]" * 500)},
    "huge-title": {"title": "Police raid number 7 " + "x" * 1_000_000},
    "huge-id": {"id": "i" * 100_000},
}


def test_one_poisoned_json_feed_item_fails_nothing(poller: Poller, news_site: NewsSite) -> None:  # noqa: F811
    feeds = serve(news_site, {name: json_feed(poison, name) for name, poison in JSON_POISONS.items()}, "json")
    results = poller.poll(feeds)
    for name in JSON_POISONS:
        assert (results[name].status, results[name].new) == ("ok", 20), (name, results[name].error)
    articles = assert_all_clean(poller, expected=20 * len(JSON_POISONS), feeds=len(JSON_POISONS))
    assert all(a["published"] for a in articles if not a["url"].endswith("7.html"))  # only item 7's date is lost


def test_json_nested_past_the_recursion_limit_is_a_clear_feed_error(
    poller: Poller,
    news_site: NewsSite,  # noqa: F811
) -> None:
    news_site.raw["/feeds/deep.json"] = b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * 200_000
    news_site.add("healthy", "Police raid a compound in Poipet", "Police raided a compound in Poipet.")
    results = poller.poll({"deep": f"{news_site.base}/feeds/deep.json", "healthy": news_site.feed_url("healthy")})
    assert results["deep"].status == "error" and (results["deep"].error or "").startswith("invalid JSON")
    assert "internal error" not in (results["deep"].error or "")
    assert (results["healthy"].status, results["healthy"].new) == ("ok", 1)


def test_credentials_of_the_feed_url_never_reach_item_links(poller: Poller, news_site: NewsSite) -> None:  # noqa: F811
    port = news_site.base.rsplit(":", 1)[1]
    news_site.raw["/feeds/private.xml"] = rss("").replace(
        b"<link>/news/7.html</link>", f"<link>http://spy:hunter2@127.0.0.1:{port}/news/abs.html</link>".encode()
    )
    news_site.raw["/feeds/private.json"] = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "home_page_url": f"http://home:pw@127.0.0.1:{port}/",
            "items": [{"id": "j1", "url": "news/j1.html", "content_text": "Police raided a compound."}],
        }
    ).encode()
    creds = f"http://user:s3cret@127.0.0.1:{port}"
    results = poller.poll(
        {"private": f"{creds}/feeds/private.xml", "json": f"{creds}/feeds/private.json"}, full_text=True
    )
    assert (results["private"].status, results["private"].new) == ("ok", 20)
    assert (results["json"].status, results["json"].new) == ("ok", 1)
    articles = poller.articles()
    assert len(articles) == 21
    for article in articles:
        assert not re.search("@|s3cret|hunter2|pw", article["url"] + article["canonical_url"]), article["url"]
    assert f"http://127.0.0.1:{port}/news/abs.html" in {a["url"] for a in articles}
    matched = poller.store.list_matches()
    assert matched and all("@" not in m.article.url for m in matched)  # what an alert would show
    # the item pages were fetched without the feed's credentials
    assert not any("Authorization" in headers for path, headers in news_site.requests if path.startswith("/news/"))


def test_absurd_lengths_are_bounded(poller: Poller, news_site: NewsSite) -> None:  # noqa: F811
    news_site.raw["/feeds/long.xml"] = rss(
        "<title>" + "Raid " * 200_000 + "</title><author>" + "b" * 5_000 + "</author><guid>" + "g" * 5_000 + "</guid>"
    )
    assert poller.poll({"long": f"{news_site.base}/feeds/long.xml"})["long"].new == 20
    [long] = [a for a in assert_all_clean(poller) if a["title"].startswith("Raid Raid")]
    assert len(long["title"]) <= 1_000 and len(long["author"]) == 200
    assert all(len(key) <= 2_100 for key in poller.entry_keys())


PAGE = """<html lang="{lang}"><head><title>Police raid{bad} page</title>
<meta name="author" content="Reporter{bad} Name"><meta property="article:published_time" content="{date}">
</head><body><article><h1>Police raid{bad} in Poipet</h1>{paragraphs}</article></body></html>"""


PAGE_POISONS = ["\x00", "\x01\x1b", "\ud800", "&#xD800;", "&#0;", "\ufffe\U0010ffff"]


def test_poisoned_pages_are_cleaned_and_their_feed_goes_on(poller: Poller, news_site: NewsSite) -> None:  # noqa: F811
    for i, bad in enumerate(PAGE_POISONS):  # pages of items 0-5; the other items' pages answer 404
        paragraphs = "".join(
            f"<p>Police raided{bad} compound number {n} in Poipet, officials told reporters on "
            f"Monday while detaining workers.</p>"
            for n in range(8)
        )
        page = PAGE.format(lang="x" * 300, bad=bad, date="9999-12-31T23:59:59-01:00", paragraphs=paragraphs)
        news_site.raw[f"/news/{i}.html"] = page.encode("utf-8", "surrogatepass")
    news_site.raw["/feeds/pages.xml"] = rss("")
    result = poller.poll({"pages": f"{news_site.base}/feeds/pages.xml"}, full_text=True)["pages"]
    assert (result.status, result.new) == ("ok", 20)
    articles = {a["url"].rsplit("/", 1)[1]: a for a in assert_all_clean(poller)}
    for i, bad in enumerate(PAGE_POISONS):
        article = articles[f"{i}.html"]
        assert "compound number 5" in article["text"], bad  # the page's own text was extracted and stored
        assert len(article["lang"] or "") <= 35 and article["published"] is not None  # the feed's date, not 9999


def test_the_store_cleans_what_the_edge_missed(store: Store) -> None:  # noqa: F811
    """The last line of defence: a NewArticle built by hand with NUL, lone surrogates and credentials is stored."""
    store.sync_feeds([FeedSettings(name="f", url="http://news.test/feed.xml")])
    feed = store.get_feed("f")
    assert feed is not None
    article = NewArticle(
        feed_id=feed.id,
        feed_name="f",
        url="http://u:pw@news.test/a\x00",
        content_hash="h",
        canonical_url="http://u:pw@news.test/a",
        title="Raid\x00 \ud800here",
        text="Text\udc00\x01",
        author="A\x00",
        published=None,
        lang="e\x00n",
        entry_keys=("guid:g\x00", "url:x\ud800"),
    )
    stored = store.get_article(store.add_article_with_matches(article, [], lambda story, new: []).article_id)
    assert stored is not None
    assert (stored.url, stored.title, stored.text, stored.author) == ("http://news.test/a", "Raid here", "Text", "A")
    assert store.unseen_entries(feed.id, ["guid:g", "url:x"]) == set()
