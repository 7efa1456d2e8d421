"""``monitor feeds add`` as a newcomer meets it: a bad URL is one clear line, a web page leads to its feed, a URL
is added once, and the check goes through the fetcher's address guard (``--allow-private`` for loopback)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import FeedSettings
from monitor.demo import rss_feed
from monitor.errors import FeedExistsError
from monitor.store import Store
from monitor.store.feeds import feed_url_key
from tests.support.newssite import NewsSite


def invoke(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--config", str(config), *args])
    return result.exit_code, result.stdout, result.stderr


def stored(config: Path) -> dict[str, dict[str, object]]:
    code, out, err = invoke(config, "feeds", "list", "--format", "json")
    assert code == 0, err
    return {f["name"]: f for f in map(json.loads, out.splitlines())}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config without allow_private: loopback is reached only with --allow-private."""
    path = tmp_path / "config.toml"
    path.write_text('[database]\nurl = "sqlite:///monitor.db"\n', encoding="utf-8")
    return path


def page(*links: str) -> str:
    heads = "".join(links)
    return f"<!DOCTYPE html><html><head><title>Mekong Daily</title>{heads}</head><body><p>News.</p></body></html>"


def rss_link(href: str, kind: str = "application/rss+xml", title: str = "") -> str:
    return f'<link rel="alternate" type="{kind}" href="{href}" title="{title}">'


def test_a_url_that_is_not_one_is_one_clear_line(config: Path) -> None:
    code, out, err = invoke(config, "feeds", "add", "notaurl")
    assert code == 2 and out == ""
    assert err == "monitor: error: 'notaurl' is not a feed URL: use http(s)://…, e.g. https://example.org/feed.xml\n"


def test_a_bad_interval_is_one_clear_line(config: Path) -> None:
    code, _, err = invoke(config, "feeds", "add", "https://example.org/feed", "--interval", "soon", "--no-check")
    assert code == 2 and err.startswith("monitor: error: --interval: invalid duration 'soon'")
    assert len(err.splitlines()) == 1


def test_a_feed_is_checked_then_added(config: Path, news_site: NewsSite) -> None:
    news_site.add("mekong", "Police raid scam compound", "Police raided a compound in Poipet.")
    url = news_site.feed_url("mekong")
    code, out, err = invoke(config, "feeds", "add", url, "--allow-private", "--name", "mekong", "--tag", "kh")
    assert code == 0, err
    assert out.splitlines()[0] == f"Added feed mekong {url}"
    assert "Note: polls reach loopback and private addresses only with allow_private = true" in " ".join(out.split())
    assert news_site.hits("/feeds/mekong.xml")  # fetched by the check
    assert stored(config)["mekong"]["url"] == url and stored(config)["mekong"]["tags"] == ["kh"]


def test_loopback_needs_allow_private_and_the_error_says_so(config: Path, news_site: NewsSite) -> None:
    code, out, err = invoke(config, "feeds", "add", news_site.feed_url("mekong"))
    assert code == 2 and out == ""
    assert err == (
        "monitor: error: blocked: loopback address 127.0.0.1: add --allow-private to add a feed on your own network\n"
    )
    assert not news_site.requests and stored(config) == {}


def test_a_web_page_with_one_feed_link_adds_that_feed(config: Path, news_site: NewsSite) -> None:
    news_site.add("mekong", "Police raid scam compound", "Police raided a compound in Poipet.")
    news_site.raw["/news/story.html"] = page(rss_link("/feeds/mekong.xml", title="Mekong Daily"))
    code, out, err = invoke(config, "feeds", "add", f"{news_site.base}/news/story.html", "--allow-private")
    assert code == 0, err
    feed = news_site.feed_url("mekong")
    assert out.splitlines()[:2] == [
        f"This is a web page; its feed is {feed}",
        f"Added feed 127.0.0.1:{feed.split(':')[2].split('/')[0]} {feed}",
    ]
    assert [f["url"] for f in stored(config).values()] == [feed]


def test_a_web_page_with_several_feeds_lists_them_and_adds_none(config: Path, news_site: NewsSite) -> None:
    news_site.raw["/news/story.html"] = page(
        rss_link("/feeds/mekong.xml", title="Mekong Daily"),
        rss_link("https://comments.example.org/atom", "application/atom+xml"),
        rss_link("/feeds/mekong.xml", title="the same one twice"),
        '<link rel="alternate" type="application/json" href="/wp-json/wp/v2/posts/1">',  # an API, not a feed
        '<link rel="stylesheet" href="/site.css">',
    )
    code, out, err = invoke(config, "feeds", "add", f"{news_site.base}/news/story.html", "--allow-private")
    assert code == 1, err
    assert out.splitlines() == [
        "This is a web page; its feeds are:",
        f"  {news_site.base}/feeds/mekong.xml  Mekong Daily",
        "  https://comments.example.org/atom",
        "Add one with `monitor feeds add URL`.",
    ]
    assert stored(config) == {}


def test_a_web_page_without_feed_links_is_tried_at_the_usual_paths(config: Path, news_site: NewsSite) -> None:
    news_site.add("mekong", "Police raid scam compound", "Police raided a compound in Poipet.")
    news_site.raw["/news/story.html"] = page()
    news_site.raw["/rss"] = rss_feed(news_site.feeds["mekong"], news_site.base)
    code, out, err = invoke(
        config, "feeds", "add", f"{news_site.base}/news/story.html", "--allow-private", "--name", "mekong"
    )
    assert code == 0, err
    assert out.splitlines()[0] == f"This is a web page; its feed is {news_site.base}/rss"
    assert stored(config)["mekong"]["url"] == f"{news_site.base}/rss"
    assert news_site.hits("/feed") and not news_site.hits("/feed.xml")  # tried in order, the first feed taken


def test_a_web_page_without_any_feed_is_refused(config: Path, news_site: NewsSite) -> None:
    news_site.raw["/news/story.html"] = page()
    code, out, err = invoke(config, "feeds", "add", f"{news_site.base}/news/story.html", "--allow-private")
    assert code == 2 and out == ""
    assert err.startswith('monitor: error: this is a web page and it names no feed (no <link rel="alternate">')
    assert "/feed, /rss" in err and stored(config) == {}


def test_a_page_whose_feed_link_is_broken_is_refused(config: Path, news_site: NewsSite) -> None:
    news_site.raw["/news/story.html"] = page(rss_link("/feeds/gone.xml"))
    code, _, err = invoke(config, "feeds", "add", f"{news_site.base}/news/story.html", "--allow-private")
    assert code == 2
    assert err.startswith("monitor: error: this is a web page; its feed link does not answer with a feed: HTTP 404")


def test_neither_feed_nor_page_is_refused_and_no_check_adds_it_anyway(config: Path, news_site: NewsSite) -> None:
    news_site.raw["/data.xml"] = "<?xml version='1.0'?><catalog><book>Not a feed</book></catalog>"
    url = f"{news_site.base}/data.xml"
    code, _, err = invoke(config, "feeds", "add", url, "--allow-private")
    assert code == 2 and err.startswith("monitor: error: this is not a feed (not a readable feed")
    assert err.rstrip().endswith("--no-check adds it anyway")
    requests = len(news_site.requests)
    code, out, err = invoke(config, "feeds", "add", url, "--no-check", "--name", "catalog")
    assert code == 0, err
    assert out == f"Added feed catalog {url}\n" and len(news_site.requests) == requests  # not fetched


def test_a_client_error_is_refused_a_dead_server_only_warned(config: Path, news_site: NewsSite) -> None:
    code, _, err = invoke(config, "feeds", "add", f"{news_site.base}/nope.xml", "--allow-private")
    assert code == 2
    assert err == "monitor: error: the server answered HTTP 404: check the URL (--no-check adds it anyway)\n"
    with socket.socket() as sock:  # a port nobody listens on: the server may be down for now only
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out, err = invoke(
        config, "feeds", "add", f"http://127.0.0.1:{port}/feed", "--allow-private", "--name", "down"
    )
    assert code == 0 and out.startswith(f"Added feed down http://127.0.0.1:{port}/feed\n")
    assert " ".join(err.split()).startswith(f"warning: could not check http://127.0.0.1:{port}/feed (")
    assert "adding it anyway: `monitor feeds list` shows its health after the next poll" in " ".join(err.split())


def test_the_same_url_under_two_names_is_refused_naming_the_feed(config: Path, news_site: NewsSite) -> None:
    news_site.add("mekong", "Police raid scam compound", "Police raided a compound in Poipet.")
    url = news_site.feed_url("mekong")
    assert invoke(config, "feeds", "add", url, "--name", "first", "--no-check")[0] == 0
    for same in (url, url.replace("http://", "HTTP://") + "/", url + "#latest"):
        code, out, err = invoke(config, "feeds", "add", same, "--name", "second", "--allow-private")
        assert code == 2 and err == "monitor: error: feed 'first' already has this URL\n", same
    page_url = f"{news_site.base}/news/story.html"  # found through a page: the same refusal
    news_site.raw["/news/story.html"] = page(rss_link("/feeds/mekong.xml"))
    code, out, err = invoke(config, "feeds", "add", page_url, "--name", "second", "--allow-private")
    assert code == 2 and err == "monitor: error: feed 'first' already has this URL\n"
    assert list(stored(config)) == ["first"]


def test_a_url_named_in_config_toml_is_refused_before_its_first_poll(config: Path) -> None:
    config.write_text(config.read_text() + '[[feeds]]\nname = "bbc"\nurl = "https://feeds.bbci.co.uk/rss.xml"\n')
    code, _, err = invoke(config, "feeds", "add", "https://feeds.bbci.co.uk/rss.xml", "--name", "other", "--no-check")
    assert code == 2 and err == "monitor: error: feed 'bbc' already has this URL\n"
    code, _, err = invoke(config, "feeds", "add", "https://example.org/feed", "--name", "bbc", "--no-check")
    assert code == 2 and err == "monitor: error: a feed named 'bbc' already exists: choose another name with --name\n"


def test_the_store_refuses_a_second_name_for_a_url_too(store: Store) -> None:  # noqa: F811
    """Two processes adding at once both pass the command's check: the store's insert is the last word."""
    store.sync_feeds([FeedSettings(name="bbc", url="https://feeds.bbci.co.uk/news/rss.xml")])
    store.add_feed("moved", "https://example.org/feed/")
    for name, url in (("again", "https://EXAMPLE.org:443/feed"), ("bbc-2", "https://feeds.bbci.co.uk/news/rss.xml")):
        with pytest.raises(FeedExistsError) as error:
            store.add_feed(name, url)
        assert str(error.value).endswith("already has this URL") and error.value.name in ("moved", "bbc")
    assert [f.name for f in store.list_feeds()] == ["bbc", "moved"]
    assert feed_url_key("https://example.org:8443/feed") != feed_url_key("https://example.org/feed")
    assert feed_url_key("https://example.org/feed?page=2") != feed_url_key("https://example.org/feed")


def test_a_page_of_many_feed_links_lists_the_first_twenty_against_its_base(config: Path, news_site: NewsSite) -> None:
    links = [rss_link(f"feeds/{i}.xml") for i in range(200)]
    news_site.raw["/news/farm.html"] = page('<base href="https://mirror.example.org/site/">', *links)
    code, out, _ = invoke(config, "feeds", "add", f"{news_site.base}/news/farm.html", "--allow-private")
    listed = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert code == 1 and listed == [f"https://mirror.example.org/site/feeds/{i}.xml" for i in range(20)]
    assert len(news_site.requests) == 1  # listed, not fetched


def test_a_long_paste_is_not_echoed_whole(config: Path) -> None:
    code, _, err = invoke(config, "feeds", "add", "word " * 1000)
    assert code == 2 and len(err) < 250 and "is not a feed URL" in err and "…' is not" in err
