"""Furniture through the whole pipeline: real pages on a loopback news site, ``run_cycle`` as ``monitor poll`` runs
it, a real store (SQLite and PostgreSQL). The story's body is matched and stored as the article's text; the page's
furniture is stored apart and never makes a rule true."""

from __future__ import annotations

from monitor.store import ArticleRecord
from tests.pipeline.test_poll import RAID, Harness, extractor, harness, rules_dir  # noqa: F401 - fixtures
from tests.support.newssite import NewsSite

DURIAN = (
    "Durian harvest starts early in Chanthaburi",
    "\n".join(
        [
            "Farmers in Chanthaburi began the durian harvest two weeks early this year, after a dry and unusually warm "
            "spring pushed the fruit to ripen before the usual season in the eastern provinces.",
            "Growers said prices at the wholesale market opened at about 150 baht a kilogram, lower than last year, "
            "because exporters are waiting for new inspection rules at the border crossings with China.",
            "The provincial agriculture office expects a crop of about 600,000 tonnes, most of it bound for Chinese "
            "buyers, and has warned growers not to cut fruit before it is ripe to keep the quality high.",
        ]
    ),
)
SCAM_HEADLINES = [
    "Police raid scam compound in Poipet, 270 detained",
    "Raids on scam centres widen along the border",
    "Scam compound bosses flee Poipet as raids continue",
]
FARM_HEADLINES = [
    "Durian prices fall as exporters wait for new rules",
    "Mango growers count losses after the storm",
    "Rice farmers turn to drones for spraying",
]


def _page(title: str, text: str, most_read: list[str]) -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in text.splitlines())
    items = "".join(f"<li>{h}</li>" for h in most_read)
    comments = (
        "<h3>2 Comments</h3><p>reader88</p><p>3 days ago</p><p>The scam compound raids in Poipet were "
        "all over the news, this is the same story every year.</p><p>Reply</p>"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head><body><main><article>"
        f"<h1>{title}</h1>{paragraphs}<h2>Most read</h2><ul>{items}</ul>{comments}</article></main></body></html>"
    )


def _serve(site: NewsSite, title: str, text: str, most_read: list[str]) -> None:
    url = site.add("mekong", title, text)
    site.raw[url.removeprefix(site.base)] = _page(title, text, most_read)


def _stored(harness: Harness, title: str) -> ArticleRecord:
    articles = [a for story in range(1, 4) for a in harness.store.story_articles(story)]
    [article] = [a for a in articles if a.title == title]
    return article


def test_bait_in_furniture_is_stored_apart_and_raises_no_match(harness: Harness, news_site: NewsSite) -> None:
    _serve(news_site, *DURIAN, SCAM_HEADLINES)
    result = harness.poll()["mekong"]
    assert (result.status, result.new, result.matched) == ("ok", 1, 0)
    assert harness.store.list_matches() == []
    article = _stored(harness, DURIAN[0])
    assert article.extracted and article.text == DURIAN[1]  # the body, exactly: no title, list or comments
    for bait in [*SCAM_HEADLINES, "Most read", "The scam compound raids in Poipet", "reader88"]:
        assert bait in article.furniture


def test_an_on_topic_story_with_off_topic_furniture_still_matches(harness: Harness, news_site: NewsSite) -> None:
    _serve(news_site, *RAID, FARM_HEADLINES)
    _serve(news_site, *DURIAN, SCAM_HEADLINES)
    result = harness.poll()["mekong"]
    assert (result.status, result.new, result.matched) == ("ok", 2, 1)
    [match] = harness.store.list_matches()
    assert match.rule == "scam-raid" and match.article.title == RAID[0]
    assert all(hit.field == "title" or hit.text in RAID[1] for hit in match.hits)
    article = _stored(harness, RAID[0])
    assert article.text == RAID[1] and all(h in article.furniture for h in FARM_HEADLINES)


def test_a_feeds_own_text_loses_its_furniture_when_the_page_fails(harness: Harness, news_site: NewsSite) -> None:
    content = (
        "".join(f"<p>{p}</p>" for p in DURIAN[1].splitlines())
        + "<h3>Related posts</h3><ul>"
        + "".join(f"<li>{h}</li>" for h in SCAM_HEADLINES)
        + "</ul><p>The post Durian harvest appeared first on Mekong Farm.</p>"
    )
    news_site.raw["/feeds/mekong.xml"] = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Mekong</title>
<item><title>{DURIAN[0]}</title><link>{news_site.base}/news/gone.html</link><guid>durian-1</guid>
<content:encoded><![CDATA[{content}]]></content:encoded></item></channel></rss>"""
    news_site.broken.add("/news/gone.html")  # the page fails: the feed's own text is matched
    result = harness.poll()["mekong"]
    assert (result.status, result.new, result.matched) == ("ok", 1, 0)
    article = _stored(harness, DURIAN[0])
    assert not article.extracted and article.text == DURIAN[1]
    assert all(h in article.furniture for h in SCAM_HEADLINES) and "appeared first on" in article.furniture
