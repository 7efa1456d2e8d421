"""OPML read and written: nested folders and categories as tags, names from title/text, bad outlines skipped, and a
hostile file refused whole (entities, depth, count, size) without a network access or an entity expanded."""

from __future__ import annotations

import lxml.etree
import pytest

from monitor.opml import MAX_BYTES, MAX_DEPTH, MAX_OUTLINES, OpmlError, OpmlFeed, read_opml, write_opml
from tests.support.newssite import NewsSite

READER_EXPORT = b"""<?xml version="1.0" encoding="UTF-8"?>
<!-- as a feed reader writes it -->
<opml version="1.0">
  <head><title>Subscriptions</title></head>
  <body>
    <outline text="Cambodia" title="Cambodia">
      <outline type="rss" text="Khmer Times" title="Khmer Times" xmlUrl="https://www.khmertimeskh.com/feed/"
               htmlUrl="https://www.khmertimeskh.com/"/>
      <outline text="Scams">
        <outline type="rss" text="CamboJA News" xmlUrl="https://cambojanews.com/feed/" category="/trafficking,court"/>
      </outline>
    </outline>
    <outline type="rss" title="  BBC   Asia " text="ignored when there is a title"
             xmlUrl="https://feeds.bbci.co.uk/news/world/asia/rss.xml" category="/News/Asia,News"/>
    <outline type="rss" xmlUrl="https://thediplomat.com/feed/"/>
    <outline type="rss" text="FTP feed" xmlUrl="ftp://files.example.org/feed.xml"/>
    <outline type="link" text="A bookmark" url="https://example.org/"/>
  </body>
</opml>"""


def test_a_reader_export_gives_its_feeds_with_folders_and_categories_as_tags() -> None:
    opml = read_opml(READER_EXPORT, "subs.opml")
    assert opml.feeds == (
        OpmlFeed("https://www.khmertimeskh.com/feed/", "Khmer Times", ("Cambodia",)),
        OpmlFeed("https://cambojanews.com/feed/", "CamboJA News", ("Cambodia", "Scams", "trafficking", "court")),
        OpmlFeed("https://feeds.bbci.co.uk/news/world/asia/rss.xml", "BBC Asia", ("News", "Asia")),
        OpmlFeed("https://thediplomat.com/feed/", "thediplomat.com", ()),
    )
    assert opml.skipped == ("'FTP feed': 'ftp://files.example.org/feed.xml' is not a feed URL (http or https)",)


def test_written_opml_is_opml_2_and_reads_back_the_same() -> None:
    feeds = (
        OpmlFeed("https://example.org/feed?a=1&b=2", 'Quotes " & <angles>', ("cambodia", "high")),
        OpmlFeed("https://example.net/rss", "ស្រុកខ្មែរ news", ()),
    )
    text = write_opml(feeds)
    root = lxml.etree.fromstring(text.encode())
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    assert root.findtext("head/title") == "monitor feeds" and root.findtext("head/dateCreated").endswith("GMT")
    outlines = root.findall("body/outline")
    assert [o.get("type") for o in outlines] == ["rss", "rss"]
    assert outlines[0].get("text") == outlines[0].get("title") == 'Quotes " & <angles>'
    assert outlines[0].get("category") == "cambodia,high" and outlines[1].get("category") is None
    assert read_opml(text.encode()).feeds == feeds


def test_characters_xml_cannot_hold_are_left_out_of_an_export() -> None:
    text = write_opml([OpmlFeed("https://example.org/feed", "bell\x07 name", ())])
    assert read_opml(text.encode()).feeds[0].name == "bell name"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<opml version="2.0"><body><outline text="&d;" xmlUrl="https://example.org/feed"/></body></opml>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&secret;" xmlUrl="https://example.org/feed"/></body></opml>"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BILLION_LAUGHS, "f.opml: declares XML entities (<!ENTITY>); refused"),
        (EXTERNAL_ENTITY, "f.opml: declares XML entities (<!ENTITY>); refused"),
        (b"<opml><body><outline text='x'", "f.opml: not valid XML: "),
        (b"<rss version='2.0'><channel/></rss>", "f.opml: not an OPML file (its root element is <rss>, not <opml>)"),
        (
            b"<opml>" + b"<outline text='f'>" * (MAX_DEPTH + 1) + b"</outline>" * (MAX_DEPTH + 1) + b"</opml>",
            f"f.opml: outlines nested more than {MAX_DEPTH} levels deep; refused",
        ),
        (
            b"<opml><body>" + b"<outline/>" * (MAX_OUTLINES + 1) + b"</body></opml>",
            f"f.opml: more than {MAX_OUTLINES:,} outlines; refused",
        ),
        (b" " * (MAX_BYTES + 1), f"f.opml: larger than {MAX_BYTES:,} bytes; refused"),
    ],
    ids=["billion-laughs", "external-entity", "not-xml", "not-opml", "too-deep", "too-many", "too-large"],
)
def test_a_hostile_or_broken_file_is_refused_whole_in_one_line(data: bytes, message: str) -> None:
    with pytest.raises(OpmlError) as error:
        read_opml(data, "f.opml")
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_an_external_dtd_is_never_fetched(news_site: NewsSite) -> None:
    news_site.raw["/evil.dtd"] = '<!ENTITY name "from the network">'
    data = (
        f'<?xml version="1.0"?><!DOCTYPE opml SYSTEM "{news_site.base}/evil.dtd">'
        '<opml version="2.0"><body><outline text="x" xmlUrl="https://example.org/feed"/></body></opml>'
    )
    assert read_opml(data.encode()).feeds == (OpmlFeed("https://example.org/feed", "x", ()),)
    assert news_site.requests == []


def test_long_values_are_bounded() -> None:
    data = (
        b'<opml><body><outline text="'
        + b"n" * 5000
        + b'" category="'
        + b"t," * 5000
        + b'" xmlUrl="https://example.org/feed"/></body></opml>'
    )
    [feed] = read_opml(data).feeds
    assert len(feed.name) == 200 and feed.tags == ("t",)
