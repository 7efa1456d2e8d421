"""``monitor feeds import FILE.opml`` and ``monitor feeds export``: what a user moving a feed list sees, and a list
that goes out and comes back in unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import lxml.etree
import pytest
from typer.testing import CliRunner

from monitor.cli import app

SUBSCRIPTIONS = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Feeds from my reader</title></head>
  <body>
    <outline text="Cambodia">
      <outline type="rss" text="Khmer Times" xmlUrl="https://www.khmertimeskh.com/feed/"/>
      <outline text="Scams">
        <outline type="rss" text="CamboJA" title="CamboJA News" xmlUrl="https://cambojanews.com/feed/"
                 category="/trafficking"/>
      </outline>
    </outline>
    <outline type="rss" text="BBC Asia" xmlUrl="https://feeds.bbci.co.uk/news/world/asia/rss.xml"/>
    <outline type="rss" text="Khmer Times again" xmlUrl="HTTPS://www.khmertimeskh.com/feed"/>
    <outline type="rss" text="extra" xmlUrl="https://other.example.org/rss"/>
    <outline type="rss" text="Broken" xmlUrl="feed://example.org/rss"/>
  </body>
</opml>
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})  # no wrapping of long lines
    return result.exit_code, result.stdout, result.stderr


def feeds(*root: str) -> list[tuple[str, str, list[str]]]:
    code, out, err = invoke(*root, "feeds", "list", "--format", "json")
    assert code == 0, err
    return [(f["name"], f["url"], f["tags"]) for f in map(json.loads, out.splitlines())]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config with one feed of its own (not polled yet) and a database beside it."""
    path = tmp_path / "config.toml"
    path.write_text(
        '[database]\nurl = "sqlite:///monitor.db"\n'
        '[[feeds]]\nname = "bbc"\nurl = "https://feeds.bbci.co.uk/news/world/asia/rss.xml"\n'
        'tags = ["international"]\n',
        encoding="utf-8",
    )
    return path


def test_import_adds_nested_outlines_with_tags_and_reports_what_it_skipped(config: Path, tmp_path: Path) -> None:
    assert (
        invoke("--config", str(config), "feeds", "add", "https://example.org/extra", "--name", "extra", "--no-check")[0]
        == 0
    )
    opml = tmp_path / "subs.opml"
    opml.write_text(SUBSCRIPTIONS, encoding="utf-8")
    code, out, err = invoke("--config", str(config), "feeds", "import", str(opml))
    assert code == 0, err
    assert out.splitlines() == [
        f"Imported 3 feeds from {opml}; skipped 3.",
        "  skipped 'Broken': 'feed://example.org/rss' is not a feed URL (http or https)",
        "  skipped 'BBC Asia': feed 'bbc' already has this URL",
        "  skipped 'Khmer Times again': feed 'Khmer Times' already has this URL",
    ]
    assert feeds("--config", str(config)) == [
        ("CamboJA News", "https://cambojanews.com/feed/", ["Cambodia", "Scams", "trafficking"]),
        ("Khmer Times", "https://www.khmertimeskh.com/feed/", ["Cambodia"]),
        ("bbc", "https://feeds.bbci.co.uk/news/world/asia/rss.xml", ["international"]),
        ("extra", "https://example.org/extra", []),
        ("extra (2)", "https://other.example.org/rss", []),  # the name was taken by another URL
    ]
    code, out, _ = invoke("--config", str(config), "feeds", "import", str(opml))  # again: nothing new
    assert code == 0 and out.splitlines()[0] == f"Imported 0 feeds from {opml}; skipped 6."


def test_export_then_import_gives_the_same_feeds(config: Path, tmp_path: Path) -> None:
    root = ("--config", str(config))
    for url, name, tags in (
        ("https://example.org/feed?x=1&y=2", 'Quoted "name" & co', ("kh", "high")),
        ("https://example.net/rss", "ស្រុកខ្មែរ", ()),
    ):
        tag_args = [a for t in tags for a in ("--tag", t)]
        assert invoke(*root, "feeds", "add", url, "--name", name, *tag_args, "--no-check")[0] == 0
    code, exported, err = invoke(*root, "feeds", "export")
    assert code == 0, err
    document = lxml.etree.fromstring(exported.encode())
    assert document.tag == "opml" and document.get("version") == "2.0"
    assert len(document.findall("body/outline")) == 3  # bbc from config.toml, two from the command line

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "config.toml").write_text("", encoding="utf-8")  # no feeds of its own
    (fresh / "feeds.opml").write_text(exported, encoding="utf-8")
    other = ("--config", str(fresh / "config.toml"), "--database", f"sqlite:///{fresh / 'other.db'}")
    code, out, err = invoke(*other, "feeds", "import", str(fresh / "feeds.opml"))
    assert code == 0 and out.startswith("Imported 3 feeds"), err
    assert feeds(*other) == feeds(*root)
    code, again, _ = invoke(*other, "feeds", "export", "--format", "opml")
    assert _without_date(again) == _without_date(exported)


def test_export_to_a_file_says_where(config: Path, tmp_path: Path) -> None:
    code, out, err = invoke("--config", str(config), "feeds", "export", "--output", str(tmp_path / "out.opml"))
    assert code == 0, err
    assert out == f"Exported 1 feed to {tmp_path / 'out.opml'}\n"
    assert "https://feeds.bbci.co.uk/news/world/asia/rss.xml" in (tmp_path / "out.opml").read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa">]><opml><body/></opml>',
            "declares XML entities (<!ENTITY>); refused",
        ),
        (b"<html><body>my feeds</body></html>", "not an OPML file (its root element is <html>, not <opml>)"),
        (None, "cannot read: No such file or directory"),
    ],
    ids=["entities", "not-opml", "missing"],
)
def test_a_bad_file_is_one_line_and_exit_2(config: Path, tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "bad.opml"
    if content is not None:
        path.write_bytes(content)
    code, out, err = invoke("--config", str(config), "feeds", "import", str(path))
    assert code == 2 and out == ""
    assert err == f"monitor: error: {path}: {message}\n"
    assert [name for name, _, _ in feeds("--config", str(config))] == ["bbc"]


def _without_date(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if "<dateCreated>" not in line)


def test_names_taken_get_the_next_number_and_standard_input_is_read(config: Path) -> None:
    outlines = "".join(f'<outline text="World News" xmlUrl="https://site{i}.example.org/feed"/>' for i in range(4))
    opml = f'<opml version="2.0"><body><outline text="bbc" xmlUrl="https://bbc.example/rss"/>{outlines}</body></opml>'
    result = CliRunner().invoke(app, ["--config", str(config), "feeds", "import", "-"], input=opml)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Imported 5 feeds from -; skipped 0.\n"
    assert [name for name, _, _ in feeds("--config", str(config))] == [
        "World News",
        "World News (2)",
        "World News (3)",
        "World News (4)",
        "bbc",
        "bbc (2)",
    ]


def test_export_to_a_folder_that_does_not_exist_is_one_line(config: Path, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "feeds.opml"
    code, out, err = invoke("--config", str(config), "feeds", "export", "-o", str(target))
    assert code == 2 and out == ""
    assert err == f"monitor: error: {target}: cannot write: No such file or directory\n"
