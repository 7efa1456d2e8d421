"""parse_feed on hostile and ordinary bodies: plain text, GUIDs, dates, links, entity bombs, JSON Feed."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from monitor.errors import FeedParseError
from monitor.feeds import ParsedFeed, parse_feed

URL = "https://news.example/world/rss.xml"
RSS = "application/rss+xml"


def rss(items: str, channel_extra: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>World &amp; More</title>'
        f"{channel_extra}{items}</channel></rss>"
    ).encode()


def parse(body: bytes, ctype: str = RSS) -> ParsedFeed:
    return parse_feed(body, URL, {"content-type": ctype})


def test_rss_entry_fields_are_plain_text_with_absolute_links_and_utc_dates() -> None:
    feed = parse(
        rss(
            "<item><title>Raid &lt;b&gt;in&lt;/b&gt; Poipet</title><link>/story/1?x=1</link><guid>g-1</guid>"
            "<description>&lt;p&gt;Police &lt;b&gt;raided&lt;/b&gt; a compound &amp;amp; freed 200.&lt;/p&gt;"
            "&lt;script&gt;alert(1)&lt;/script&gt;&lt;p&gt;Second para&lt;/p&gt;</description>"
            "<author>desk@news.example (Desk)</author>"
            "<pubDate>Mon, 02 Feb 2026 17:30:00 +0700</pubDate></item>"
        )
    )
    assert feed.title == "World & More"
    [entry] = feed.entries
    assert entry.guid == "g-1" and entry.url == "https://news.example/story/1?x=1"
    assert entry.title == "Raid in Poipet"
    assert entry.summary == "Police raided a compound & freed 200.\nSecond para"
    assert entry.published == datetime(2026, 2, 2, 10, 30, tzinfo=UTC)  # naive UTC
    assert "Desk" in entry.author


def test_atom_content_and_updated_date() -> None:
    body = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
    <entry><id>tag:a,2026:1</id><title type="html">Crackdown &amp;amp; rescue</title>
    <link href="https://news.example/a1"/><updated>2026-02-03T04:05:06Z</updated>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>One</p><p>Two &amp; three</p></div></content>
    </entry></feed>"""
    [entry] = parse(body, "application/atom+xml").entries
    assert entry.title == "Crackdown & rescue" and entry.content == "One\nTwo & three"
    assert entry.published == datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)


def test_guid_falls_back_to_link_then_to_a_hash_and_duplicates_keep_the_first() -> None:
    feed = parse(
        rss(
            "<item><title>linked</title><link>https://news.example/x</link></item>"
            "<item><title>bare</title><description>no link</description></item>"
            "<item><title>first</title><guid>dup</guid></item><item><title>second</title><guid>dup</guid></item>"
        )
    )
    guids = [e.guid for e in feed.entries]
    assert guids[0] == "https://news.example/x" and guids[1].startswith("sha256:") and guids[2] == "dup"
    assert len(feed.entries) == 3 and feed.entries[2].title == "first"
    assert feed.entries[1].url == "" and feed.entries[1].published is None


def test_hash_guid_is_stable() -> None:
    body = rss("<item><title>bare</title><description>no link</description></item>")
    assert parse(body).entries[0].guid == parse(body).entries[0].guid


def test_non_http_links_are_dropped() -> None:
    [entry] = parse(rss("<item><title>x</title><link>javascript:alert(1)</link></item>")).entries
    assert entry.url == "" and entry.guid.startswith("sha256:")


def test_huge_entries_are_capped() -> None:
    big = "word " * 200_000
    feed = parse(rss(f"<item><title>{'t' * 5000}</title><description>{big}</description></item>"))
    entry = feed.entries[0]
    assert len(entry.title) <= 1_000 and len(entry.summary) <= 20_000


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"   \n", "empty body"),
        (b"<html><head><title>Home</title></head><body><p>Welcome</p></body></html>", "not a readable feed"),
        (b"<rss><channel><item><title>broken</item></rss", None),
        (b"just some text", "not a readable feed"),
        (b"\x00\xff\xfe garbage \x89PNG", "not a readable feed"),
        (b'{"not": "a feed"}', "not a JSON Feed"),
        (b"{broken json", "invalid JSON"),
    ],
    ids=["empty", "blank", "html", "broken-xml", "text", "binary", "json-not-feed", "bad-json"],
)
def test_unreadable_bodies_raise_feed_parse_error_or_parse_leniently(body: bytes, reason: str | None) -> None:
    if reason is None:  # feedparser's lenient parser recovers this one: a bozo feed with entries is accepted
        assert len(parse(body).entries) == 1
        return
    with pytest.raises(FeedParseError, match=reason) as caught:
        parse(body, "text/html" if b"html" in body else RSS)
    assert caught.value.url == URL and "\n" not in str(caught.value)


def test_valid_empty_feed_has_no_entries() -> None:
    assert parse(rss("")).entries == ()


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>',
        '<!-- <a> hides nothing --><!DOCTYPE lolz [\n<!ENTITY lol "lol">\n]>',
        "<!--" + "x" * 100_000 + '--><?pi data?><!DOCTYPE lolz [<!ENTITY lol "lol">]>',
    ],
    ids=["one-line", "after-comment", "after-100k-comment"],
)
def test_entity_declarations_are_refused_before_parsing(doctype: str) -> None:
    body = f'<?xml version="1.0"?>{doctype}<rss version="2.0"><channel><title>&lol2;</title></channel></rss>'
    with pytest.raises(FeedParseError, match="entities"):
        parse(body.encode())
    with pytest.raises(FeedParseError, match="entities"):
        parse(body.encode("utf-16"))


def test_billion_laughs_is_refused_quickly() -> None:
    lol = '<!ENTITY lol0 "lol">' + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    body = f'<?xml version="1.0"?><!DOCTYPE r [{lol}]><rss version="2.0"><channel><title>&lol9;</title></channel></rss>'
    started = time.thread_time()  # CPU time: a busy machine's wait for a core is not the parser's
    with pytest.raises(FeedParseError):
        parse(body.encode())
    assert time.thread_time() - started < 0.1


def test_entity_text_inside_the_document_is_allowed() -> None:
    body = rss("<item><title>XML tips</title><description><![CDATA[Use <!ENTITY x> sparingly]]></description></item>")
    assert parse(body).entries[0].title == "XML tips"


@pytest.mark.parametrize(
    ("encoding", "declared"), [("iso-8859-1", "iso-8859-1"), ("windows-1252", None), ("koi8-r", "koi8-r")]
)
def test_charsets_from_header_or_declaration(encoding: str, declared: str | None) -> None:
    title = "Пойпет" if encoding == "koi8-r" else "Café rédaction"
    decl = f'<?xml version="1.0" encoding="{declared}"?>' if declared else ""
    body = (decl + f'<rss version="2.0"><channel><item><title>{title}</title></item></channel></rss>').encode(encoding)
    ctype = f"{RSS}; charset={encoding}"
    assert parse(body, ctype).entries[0].title == title


def test_json_feed() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON News",
        "home_page_url": "https://news.example/",
        "items": [
            {
                "id": "1",
                "url": "/a/1",
                "title": "Scam compound raided",
                "content_html": "<p>Freed &amp; safe</p>",
                "date_published": "2026-02-02T17:30:00+07:00",
                "authors": [{"name": "Desk"}],
            },
            {"id": "1", "title": "duplicate"},
            {"title": "no id", "content_text": "plain text"},
            "not an object",
        ],
    }
    feed = parse(json.dumps(doc).encode(), "application/feed+json")
    assert feed.title == "JSON News" and len(feed.entries) == 2
    first, second = feed.entries
    assert (first.url, first.content, first.author) == ("https://news.example/a/1", "Freed & safe", "Desk")
    assert first.published == datetime(2026, 2, 2, 10, 30, tzinfo=UTC)
    assert second.guid.startswith("sha256:") and second.content == "plain text"


def test_utf8_mislabelled_as_windows_1252_is_read_as_utf8() -> None:
    body = (
        '<?xml version="1.0" encoding="windows-1252"?><rss version="2.0"><channel><item><title>Euro €</title>'
        "</item></channel></rss>"
    )
    assert parse(body.encode("utf-8"), "application/xml").entries[0].title == "Euro €"
    # ...but a charset in the Content-Type header is the server's word and is kept
    assert parse(body.encode("utf-8"), "application/xml; charset=windows-1252").entries[0].title == "Euro â‚¬"


def test_utf16_feed_with_bom() -> None:
    body = rss("<item><title>Phnom Penh raid</title></item>").decode().replace("utf-8", "utf-16").encode("utf-16")
    assert parse(body).entries[0].title == "Phnom Penh raid"


def test_json_feed_is_recognised_by_content_not_label() -> None:
    doc = {"version": "https://jsonfeed.org/version/1", "items": [{"id": "x", "content_text": "t"}]}
    assert len(parse(b"\xef\xbb\xbf" + json.dumps(doc).encode(), "text/xml").entries) == 1
    assert len(parse(rss("<item><title>a</title></item>"), "application/json").entries) == 1


def test_references_to_forbidden_characters_are_dropped_and_valid_ones_kept() -> None:
    feed = parse(
        rss(
            "<item><guid>g&#0;1</guid><title>A&#x41;&#233;&#x1F600;&#x0000000042; &#xD800;&#55296;&#1;"
            "&#x110000;&#99999999999999999999;&#xFFFE;Z</title></item>"
        )
    )
    [entry] = feed.entries
    assert entry.title == "AAé😀B Z" and entry.guid == "g 1"


def test_a_surrogate_pair_written_as_two_references_is_the_character_it_encodes() -> None:
    feed = parse(
        rss("<item><guid>g1</guid><title>Raid &#55357;&#56832; &#xD83D;&#xDE00;&#xD83D; &#xDE00;x</title></item>")
    )
    assert feed.entries[0].title == "Raid 😀 😀 x"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be"])
def test_wide_encodings_get_the_same_cleaning(encoding: str) -> None:
    body = rss("<item><guid>g1</guid><title>Raid &#xD800; in Poipet é</title></item><item><guid>g2</guid></item>")
    text = body.decode().replace('encoding="utf-8"', f'encoding="{encoding}"')
    for headers in ({}, {"content-type": f"{RSS}; charset={encoding}"}):
        feed = parse_feed(text.encode(encoding), URL, headers)
        assert [e.title for e in feed.entries] == ["Raid in Poipet é", ""], (encoding, headers)


@pytest.mark.parametrize(
    "element", ["author", "dc:creator", "managingEditor", "webMaster", "dc:publisher", "itunes:author"]
)
def test_a_megabyte_author_is_parsed_in_linear_time(element: str) -> None:
    # feedparser looks for an e-mail address in these with a quadratic regex: 1 MB would take hours
    for content in ("a" * 1_000_000, "<![CDATA[" + "é" * 500_000 + "]]>"):
        body = rss(
            f'<item xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:itunes="http://www.itunes.com/dtds/'
            f'podcast-1.0.dtd"><guid>g1</guid><{element}>{content}</{element}><title>Raid</title></item>'
        )
        started = time.monotonic()
        [entry] = parse(body).entries
        assert time.monotonic() - started < 2 and entry.title == "Raid"
        assert len(entry.author) <= 200


def test_link_credentials_are_stripped_and_fields_bounded() -> None:
    feed = parse_feed(
        rss(
            "<item><link>/a/1</link><title>" + "t" * 5_000 + "</title></item>"
            "<item><link>https://u:p@other.example/x</link></item>"
            "<item><link>/" + "x" * 3_000 + "</link><guid>" + "g" * 3_000 + "</guid></item>"
        ),
        "https://reader:s3cret@news.example/rss.xml",
        {},
    )
    first, second, third = feed.entries
    assert first.url == "https://news.example/a/1" and len(first.title) == 1_000
    assert second.url == "https://other.example/x"
    assert third.url == "" and third.guid.startswith("sha256:")


def test_guids_and_links_are_bounded_in_bytes_as_indexed() -> None:
    cjk = "".join(chr(0x4E00 + (i * 7919) % 20_000) for i in range(2_000))  # 3 bytes each, 9 percent-encoded
    short, long = parse(
        rss(
            f"<item><guid>{cjk[:600]}</guid><link>/{cjk[:200]}</link></item>"
            f"<item><guid>{cjk[:700]}</guid><link>/{cjk[:300]}</link></item>"
        )
    ).entries
    assert short.guid == cjk[:600] and short.url.endswith(cjk[:200])  # 1,800 bytes; 1,800 chars encoded
    assert long.guid.startswith("sha256:") and long.url == ""  # 2,100 bytes; 2,700 chars encoded


@pytest.mark.parametrize(
    "date",
    [
        "Fri, 31 Dec 9999 23:00:00 GMT",
        "Mon, 01 Jan 0001 00:00:00 +1400",
        "Mon, 01 Jan 1900 00:00:00 GMT",
        "Fri, 31 Dec 2100 23:00:00 GMT",
    ],
)
def test_dates_out_of_range_are_unknown(date: str) -> None:
    [entry] = parse(rss(f"<item><guid>g</guid><pubDate>{date}</pubDate></item>")).entries
    assert entry.published is None


def test_json_feed_values_of_the_wrong_type_are_ignored() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": ["x"],
            "items": [
                {
                    "id": 7,
                    "title": {"a": 1},
                    "url": ["/x"],
                    "authors": {"name": "x"},
                    "date_published": 1e308,
                    "content_text": "Police raided\u0000 a compound \ud800",
                },
                {"id": "b", "author": {"name": "\udc00Desk"}, "date_published": "9999-12-31T23:59:59-01:00"},
            ],
        }
    )
    first, second = parse(body.encode(), "application/feed+json").entries
    assert (first.guid, first.title, first.url, first.author) == ("7", "", "", "")
    assert first.content == "Police raided a compound"
    assert second.author == "Desk" and second.published is None
