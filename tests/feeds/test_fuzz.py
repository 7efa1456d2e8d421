"""Fuzzing feed bytes and page bytes through parse -> clean -> store (issue 11): no exception escapes an entry.

Feeds: RSS, Atom and JSON Feed skeletons with fuzzed fields (lone surrogates, NUL and control characters, numeric
references to forbidden characters, CDATA, markup, absurd dates and lengths, JSON NaN and deep nesting, user info
in links) and raw random bytes, through ``parse_feed`` and then, entry by entry, the per-entry steps of the pipeline
(``choose_text``, rule matching, ``dedup``, ``NewArticle``, ``Store.add_article_with_matches``) on SQLite and
PostgreSQL. Pages: HTML skeletons and raw bytes through ``extract_html`` then the store. A smaller number of feeds
goes through the whole pipeline (``poll_due`` against a loopback site). Each test asserts the number of inputs it ran;
the slow suite runs at least 10,000 on SQLite alone (docs/fetching.md gives the measured time).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor import dedup
from monitor.clean import clean_text, is_clean
from monitor.clock import now_utc
from monitor.config import DatabaseSettings, FeedSettings, FetchSettings, RulesSettings, Settings
from monitor.errors import ExtractError, FeedParseError
from monitor.extract import Extracted, choose_text, extract_html
from monitor.feeds import FeedEntry, parse_feed
from monitor.fetch import Fetcher
from monitor.lang import detect_language
from monitor.pipeline import Context, poll_due
from monitor.rules import Document, RuleSet, load_rules
from monitor.store import FeedRecord, NewArticle, NewMatch, Store
from tests.support.newssite import NewsSite

pytestmark = pytest.mark.slow

#: Inputs per test; SQLite alone runs FEEDS + RAW + PAGES + PIPELINE >= 10,000; PostgreSQL (slower to write)
#: adds PG_FEEDS + PG_PAGES + PIPELINE.
FEEDS, RAW, PAGES, PIPELINE = 3_000, 6_500, 300, 200
PG_FEEDS, PG_PAGES = 800, 100
FEED_URL = "http://reader:s3cret@news.test/feeds/fuzz.xml"  # credentials that must never reach a stored link
RULES = """rules:
  - id: raids
    title: Raids
    query: 'raid* OR "scam compound" OR /p[o0]lice\\s+\\w+/'
  - id: khmer
    title: Khmer
    query: 'ចាប់ខ្លួន OR near(police, compound, 5)'
"""
UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def fuzz(n: int) -> Callable[[Any], Any]:
    return settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))


NASTY = [
    "&#xD800;",
    "&#xdfff;",
    "&#55296;",
    "&#0;",
    "&#x0;",
    "&#1;",
    "&#x1b;",
    "&#x110000;",
    "&#99999999999999999999;",
    "&#xFFFE;",
    "&#x0000000041;",
    "&#12ab;",
    "&#;",
    "&#x;",
    "\x00",
    "\x01",
    "\x1b[31m",
    "\x7f",
    "\x85",
    "\ud800",
    "\udfff",
    "\ud83d",
    "\r",
    "\r\n",
    "\u2028",
    "\ufeff",
    "\ufffe",
    "&amp;",
    "&lt;",
    "&",
    "<",
    ">",
    "]]>",
    "<![CDATA[",
    "<b>",
    "</p>",
    "<script>x</script>",
    "&nbsp;",
    "&bogus;",
    "&amp;#xD800;",
    "user:pass@",
    "@",
    "javascript:",
    "http://",
    "https://a:b@c.test/",
    "//",
    "%00",
    "%ED%A0%80",
    "..",
    "\\",
    "[::1]",
    "http://[",
    "9999",
    "0000",
    "-01:00",
    "+1400",
    "T",
    "Z",
    "e999",
    "NaN",
    "raid",
    "police compound",
    "ចាប់ខ្លួន",
    "a" * 300,
]
DATES = [
    "Fri, 31 Dec 9999 23:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 -0100",
    "Sat, 01 Jan 0000 00:00:00 GMT",
    "Mon, 01 Jan 0001 00:00:00 +1400",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00+14:00",
    "0000-00-00T00:00:00Z",
    "-2026-01-01",
    "2026-13-45T25:61:61Z",
    "1900-01-01",
    "2100-01-01T00:00:00Z",
    "Mon, 02 Nov 2026 10:00:00 +99999",
    "2026-11-02T10:00:00+07:00",
    "1e309",
    "",
]

_piece = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=12),
    st.text(st.characters(categories=["Cs", "Cc", "Co", "Cn", "Zl", "Zp"]), max_size=4),
)
_short = st.lists(_piece, max_size=4).map("".join)
#: A long run (cut at the edge; test_isolation_input has the megabyte cases: here they would cost seconds each).
_long = st.tuples(st.sampled_from(["a", "é", "&#xD800;", "x@", "<b>"]), st.integers(300, 2_000)).map(
    lambda t: t[0] * t[1]
)
#: A field value: a short mix of nasty pieces, one time in fifty a long run.
field = st.one_of(*[_short] * 49, _long)
date = st.one_of(st.sampled_from(DATES), field)


def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@st.composite
def xml_value(draw: st.DrawFn, values: st.SearchStrategy[str] = field) -> str:
    """A value as it may appear in XML: escaped, raw (possibly breaking the document) or in CDATA."""
    value = draw(values)
    how = draw(HOW)
    return xml_escape(value) if how == "escaped" else f"<![CDATA[{value}]]>" if how == "cdata" else value


XML_FIELD, XML_DATE = xml_value(), xml_value(date)
HOW = st.sampled_from(["escaped", "escaped", "raw", "cdata"])
RSS_TAGS = {
    "title": "<title>{}</title>",
    "link": "<link>{}</link>",
    "guid": "<guid>{}</guid>",
    "description": "<description>{}</description>",
    "content": "<content:encoded>{}</content:encoded>",
    "author": "<author>{}</author>",
    "creator": "<dc:creator>{}</dc:creator>",
    "category": "<category>{}</category>",
    "comments": "<comments>{}</comments>",
    "source": "<source url='{0}'>{0}</source>",
    "enclosure": "<enclosure url='{0}' type='{0}' length='{0}'/>",
    "itunes": "<itunes:author>{}</itunes:author>",
}
ATOM_TAGS = {
    "id": "<id>{}</id>",
    "title": "<title type='html'>{}</title>",
    "link": "<link href='{}'/>",
    "summary": "<summary>{}</summary>",
    "content": "<content type='xhtml'><div>{}</div></content>",
    "author": "<author><name>{0}</name><email>{0}</email><uri>{0}</uri></author>",
    "category": "<category term='{}'/>",
    "rights": "<rights>{}</rights>",
}
ENCODINGS = st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-16", "utf-16-be", "utf-32", "windows-1252"])
RSS_NAMES = st.lists(st.sampled_from(sorted(RSS_TAGS)), max_size=5)
ATOM_NAMES = st.lists(st.sampled_from(sorted(ATOM_TAGS)), max_size=5)
ITEMS = st.integers(0, 3)


@st.composite
def xml_feed(draw: st.DrawFn) -> bytes:
    atom = draw(st.booleans())
    tags = ATOM_TAGS if atom else RSS_TAGS
    items = []
    for _ in range(draw(ITEMS)):
        parts = [tags[tag].format(draw(XML_FIELD)) for tag in draw(ATOM_NAMES if atom else RSS_NAMES)]
        when = draw(XML_DATE)
        parts.append(f"<updated>{when}</updated>" if atom else f"<pubDate>{when}</pubDate>")
        items.append(("<entry>{}</entry>" if atom else "<item>{}</item>").format("".join(parts)))
    title = draw(XML_FIELD)
    encoding = draw(ENCODINGS)
    head = f'<?xml version="1.0" encoding="{encoding}"?>' if draw(st.booleans()) else ""
    if atom:
        doc = f'{head}<feed xmlns="http://www.w3.org/2005/Atom"><title>{title}</title>{"".join(items)}</feed>'
    else:
        doc = (
            f'{head}<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            f'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
            f"<channel><title>{title}</title>{''.join(items)}</channel></rss>"
        )
    return doc.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")


_json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), field, st.sampled_from(DATES))
json_value = st.recursive(
    _json_scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=8,
)
JSON_KEYS = st.lists(
    st.sampled_from(
        [
            "id",
            "url",
            "external_url",
            "title",
            "summary",
            "content_text",
            "content_html",
            "date_published",
            "date_modified",
            "author",
            "authors",
            "tags",
            "image",
        ]
    ),
    max_size=8,
)
JSON_FIELD, JSON_DATE = st.one_of(field, field, json_value), st.one_of(st.sampled_from(DATES), json_value)
HOME_PAGES = st.sampled_from(["http://u:p@news.test/", "", "::", "/x"])


DEPTHS = st.integers(1, 3_000)


@st.composite
def json_feed(draw: st.DrawFn) -> bytes:
    items = []
    for _ in range(draw(ITEMS)):
        item: dict[str, Any] = {}
        for key in draw(JSON_KEYS):
            if key in ("author", "authors"):
                name = draw(JSON_FIELD)
                item[key] = {"name": name} if key == "author" else [{"name": name}, draw(json_value)]
            else:
                item[key] = draw(JSON_DATE if key.startswith("date") else JSON_FIELD)
        items.append(item)
    doc: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": draw(field),
        "items": items,
        "home_page_url": draw(HOME_PAGES),
    }
    text = json.dumps(doc, ensure_ascii=draw(st.booleans()))
    if draw(st.booleans()):
        depth = draw(DEPTHS)  # past ~1,000 the json module gives up: a feed error, nothing more
        text = text.replace('"items": [', '"items": [' + "[" * depth + "]" * depth + ("," if items else ""), 1)
    return text.encode("utf-8", "surrogatepass")


raw_bytes = st.tuples(
    st.sampled_from(
        [
            b"",
            b"<?xml version='1.0'?><rss version='2.0'><channel><item><title>",
            b"{",
            b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"title": "',
            b"\xff\xfe<\x00",
            b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><title>",
            b"<!DOCTYPE x [",
            b"\xef\xbb\xbf",
        ]
    ),
    st.binary(max_size=3_000),
).map(b"".join)

HEADERS = [
    {},
    {"content-type": "application/rss+xml; charset=utf-8"},
    {"content-type": "text/html; charset=utf-16"},
    {"content-type": "application/json"},
    {"content-type": "text/xml; charset=bogus"},
]


@pytest.fixture
def rules(tmp_path: Path) -> RuleSet:
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    return load_rules([tmp_path / "rules.yaml"])


def fuzz_feed(store: Store) -> FeedRecord:  # noqa: F811
    store.sync_feeds([FeedSettings(name="fuzz", url=FEED_URL)])
    feed = store.get_feed("fuzz")
    assert feed is not None
    return feed


def assert_clean(entry: FeedEntry) -> None:
    """What every entry leaving ``parse_feed`` promises (docs/fetching.md, "Cleaning at the edge")."""
    for name in ("guid", "url", "title", "summary", "content", "author"):
        assert is_clean(getattr(entry, name)), (name, getattr(entry, name)[:200])
    assert entry.guid and len(entry.guid) <= 2_048 and len(entry.url) <= 2_048
    assert len(entry.title) <= 1_000 and len(entry.author) <= 200 and len(entry.content) <= 200_000
    assert entry.url == "" or (
        entry.url.startswith(("http://", "https://"))
        and "s3cret" not in entry.url
        and "@" not in entry.url.split("/")[2]
    )
    if entry.published is not None:
        assert datetime(1970, 1, 1, tzinfo=UTC) <= entry.published <= now_utc() + timedelta(days=1)


def store_entry(
    store: Store,
    feed: FeedRecord,
    rules: RuleSet,  # noqa: F811
    title: str,
    text: str,
    url: str,
    author: str,
    published: datetime | None,
    guid: str,
    lang: str | None = None,
    extracted: bool = False,
) -> None:
    """The per-entry steps of ``pipeline._process_entry`` after the text is chosen: match, then store once."""
    matches = rules.match(Document(title=title, text=text, url=url, author=author, lang=lang, feed=feed.name))
    keys = tuple(k for k in (f"guid:{guid}" if guid else "", f"url:{dedup.canonical_url(url)}" if url else "") if k)
    article = NewArticle(
        feed_id=feed.id,
        feed_name=feed.name,
        url=url,
        canonical_url=dedup.canonical_url(url) if url else f"guid:{feed.id}:{guid}",
        title=title,
        text=text,
        author=author,
        published=published,
        lang=lang or detect_language(f"{title}\n{text}"),
        content_hash=dedup.content_hash(f"{title}\n{text}"),
        story_keys=dedup.story_keys(text),
        entry_keys=keys,
        extracted=extracted,
    )
    new = [NewMatch(m.rule.id, m.rule.version, m.rule.severity, tuple(m.rule.tags), m.hits, m.snippet) for m in matches]
    store.add_article_with_matches(article, new, lambda story, is_new: [])


def parse_and_store(
    body: bytes,
    headers: dict[str, str],
    store: Store,
    feed: FeedRecord,  # noqa: F811
    rules: RuleSet,
) -> None:
    try:
        parsed = parse_feed(body, FEED_URL, headers)
    except FeedParseError:
        return  # the whole body is not a feed: the feed's own failure, with its one-line reason
    assert is_clean(parsed.title) and len(parsed.title) <= 1_000
    for entry in parsed.entries:
        assert_clean(entry)
        title, text = choose_text(None, entry.title, entry.summary, entry.content)
        store_entry(store, feed, rules, title, text, entry.url, entry.author, entry.published, entry.guid)


def test_fuzzed_feeds_parse_and_store(store: Store, rules: RuleSet) -> None:  # noqa: F811
    feed, seen, examples = fuzz_feed(store), [], FEEDS if store.dialect == "sqlite" else PG_FEEDS

    @fuzz(examples)
    @given(body=st.one_of(xml_feed(), xml_feed(), json_feed()), headers=st.sampled_from(HEADERS))
    def run(body: bytes, headers: dict[str, str]) -> None:
        seen.append(1)
        parse_and_store(body, headers, store, feed, rules)

    run()
    assert len(seen) >= examples


def test_fuzzed_raw_bytes_parse_and_store(tmp_path: Path, rules: RuleSet) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'raw.db'}") as opened:
        feed, seen = fuzz_feed(opened), []

        @fuzz(RAW)
        @given(body=raw_bytes, headers=st.sampled_from(HEADERS))
        def run(body: bytes, headers: dict[str, str]) -> None:
            seen.append(1)
            parse_and_store(body, headers, opened, feed, rules)

        run()
    assert len(seen) >= RAW


META = st.lists(
    st.sampled_from(
        [
            'name="author" content',
            'property="article:published_time" content',
            'property="og:title" content',
            'property="og:site_name" content',
            'name="date" content',
        ]
    ),
    max_size=4,
)
SHORT_XML = xml_value(_short)
META_VALUE, PAGE_ENCODINGS = st.one_of(field, date), st.sampled_from(["utf-8", "utf-8", "utf-16", "cp1252"])


@st.composite
def page(draw: st.DrawFn) -> bytes:
    """A small article page with fuzzed metadata and paragraphs (trafilatura costs ~10 ms a page), or raw bytes."""
    if draw(st.integers(0, 4)) == 0:
        return draw(raw_bytes)
    meta = "".join(f'<meta {attr}="{xml_escape(draw(META_VALUE))}">' for attr in draw(META))
    paragraphs = "".join(
        f"<p>Police raided a scam compound in Poipet, officials said. {draw(SHORT_XML)}</p>" for _ in range(draw(ITEMS))
    )
    html = (
        f'<html lang="{xml_escape(draw(field))[:500]}"><head><title>{draw(XML_FIELD)}</title>{meta}</head>'
        f"<body><article><h1>{draw(SHORT_XML)}</h1>{paragraphs}</article></body></html>"
    )
    encoding = draw(PAGE_ENCODINGS)
    return html.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")


def test_fuzzed_pages_extract_and_store(store: Store, rules: RuleSet) -> None:  # noqa: F811
    feed, seen, examples = fuzz_feed(store), [], PAGES if store.dialect == "sqlite" else PG_PAGES

    @fuzz(examples)
    @given(body=page(), charset=st.sampled_from([None, "utf-8", "utf-16", "iso-8859-1", "bogus"]), feed_title=field)
    def run(body: bytes, charset: str | None, feed_title: str) -> None:
        seen.append(1)
        try:
            extracted = extract_html(body, "http://news.test/news/1.html", charset=charset)
        except ExtractError:
            extracted = None
        if extracted is not None:
            assert_extracted_clean(extracted)
        title, text = choose_text(extracted, clean_text(feed_title, 1_000), "", "")  # as parse_feed gives it
        author = extracted.author if extracted else ""
        url = f"http://news.test/news/{len(seen)}.html"
        store_entry(
            store,
            feed,
            rules,
            title,
            text,
            url,
            author,
            extracted.date if extracted else None,
            url,
            extracted.lang if extracted else None,
            extracted is not None,
        )

    run()
    assert len(seen) >= examples


def assert_extracted_clean(extracted: Extracted) -> None:
    for name in ("title", "text", "author", "sitename", "lang"):
        assert is_clean(getattr(extracted, name) or ""), name
    assert len(extracted.title) <= 1_000 and len(extracted.author) <= 200 and len(extracted.lang or "") <= 35
    if extracted.date is not None:
        assert datetime(1970, 1, 1, tzinfo=UTC) <= extracted.date <= now_utc() + timedelta(days=1)


@pytest.fixture
def site() -> Iterator[NewsSite]:
    served = NewsSite()
    yield served
    served.close()


def test_fuzzed_feeds_through_the_whole_pipeline(store_url: str, site: NewsSite, tmp_path: Path) -> None:  # noqa: F811
    """Fuzzed feed bodies served on loopback and polled by ``poll_due``: the poll records ok or a one-line feed
    error, never an internal error, and a healthy feed polled with it is stored every time."""
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    config = Settings(
        database=DatabaseSettings(url=store_url),
        rules=RulesSettings(paths=(tmp_path / "rules.yaml",)),
        fetch=FetchSettings(allow_private=True, full_text=False, timeout=5),
        feeds=(
            FeedSettings(name="fuzz", url=f"{site.base}/feeds/fuzz.xml"),
            FeedSettings(name="healthy", url=site.feed_url("healthy")),
        ),
    )
    rules, seen = load_rules([tmp_path / "rules.yaml"]), []
    with Store.open(store_url) as opened, asyncio.Runner() as runner:
        opened.sync_feeds(config.feeds)
        fetcher = runner.run(Fetcher(config.fetch).__aenter__())
        ctx = Context(config, opened, fetcher, lambda: rules)

        @fuzz(PIPELINE)
        @given(body=st.one_of(xml_feed(), json_feed(), raw_bytes))
        def run(body: bytes) -> None:
            seen.append(1)
            site.raw["/feeds/fuzz.xml"] = body
            site.feeds["healthy"] = []  # one new item per poll
            site.add("healthy", f"Police raid number {len(seen)}", "Police raided a compound in Poipet.")
            results = {r.feed: r for r in runner.run(poll_due(ctx, due_only=False, force=True))}
            assert results["fuzz"].status in ("ok", "error", "not_modified")
            assert "internal error" not in (results["fuzz"].error or ""), results["fuzz"].error
            assert (results["healthy"].status, results["healthy"].new) == ("ok", 1)

        try:
            run()
        finally:
            runner.run(fetcher.__aexit__(None, None, None))
    assert len(seen) >= PIPELINE
