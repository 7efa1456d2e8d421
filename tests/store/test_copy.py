"""``monitor db copy --to URL``: a SQLite store copied whole into an empty database (PostgreSQL when configured, else
another SQLite file) and back, ids and values kept, verified by counts and checksums; a non-empty target refused;
hostile values carried as they are."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from monitor.cli import app
from monitor.clock import MAX_TIME, MIN_TIME
from monitor.config import FeedSettings
from monitor.dedup import canonical_url, content_hash, story_keys
from monitor.store import NewArticle, NewMatch, PlannedDelivery, Store
from monitor.store.base import create_store_engine
from monitor.store.copy import CopyRefusedError, copy_store, store_checksums
from monitor.store.tables import metadata
from tests.support.dbfixtures import TEST_DATABASE_URL

T0 = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
HOSTILE = [
    'O\'Brien said "no"; DROP TABLE articles; --',
    "\u202eevil\u202c text with bidi overrides, \u200b zero width, emoji \U0001f525 and CJK 詐騙園區",
    "ការបង្ក្រាបការឆបោកតាមអ៊ីនធឺណិត",  # Khmer, no spaces
    "\\x00 is not NUL, nor is %s or {0} or $1 or ?",
    "tabs\tand\nnew lines\r\nand a bell \x07",
]


def article(slug: str, text_: str, feed_id: int | None, *, title: str = "", when: datetime = T0) -> NewArticle:
    url = f"https://site.example/{slug}?utm_source=x"
    return NewArticle(
        feed_id=feed_id,
        feed_name="site",
        url=url,
        canonical_url=canonical_url(url),
        title=title or slug,
        text=text_,
        author="Ráksmey ' \"",
        published=when,
        lang="km",
        content_hash=content_hash(text_),
        story_keys=story_keys(text_),
        entry_keys=(f"guid-{slug}", url),
    )


def fill(store: Store) -> None:
    """Feeds, entries, stories, story keys, articles, matches, deliveries and feedback, with hostile values."""
    store.sync_feeds([FeedSettings(name="site", url="https://site.example/feed", tags=("cambodia", "ខ្មែរ", 'a"b'))])
    feed = store.add_feed("cli-feed", "https://other.example/rss", tags=("x",), interval=600.0, full_text=False)
    site = next(f for f in store.list_feeds() if f.name == "site").id
    long_text = " ".join(f"word{i} scam compound raid" for i in range(50_000))  # ~1.2 MB
    for i, value in enumerate(HOSTILE):
        body = f"{value} " + " ".join(f"story{i} term{j}" for j in range(60))
        matches = [
            NewMatch(f"rule-{i}", "2", "high", ("tag", value[:10]), (("text", 0, 5, value[:5]),), f"snippet {value}")
        ]

        def plan(story_id: int, new_story: bool, i: int = i) -> list[Any]:
            return [PlannedDelivery(f"rule-{i}", "chat"), PlannedDelivery(f"rule-{i}", "mail", "digest")]

        store.add_article_with_matches(
            article(f"a{i}", body, site, title=value), matches, plan, now=T0 + timedelta(minutes=i)
        )
    store.add_article_with_matches(article("long", long_text, feed.id), [], lambda *_: [], now=T0)
    store.add_article_with_matches(article("ancient", "text from long ago", site, when=MIN_TIME), [], lambda *_: [])
    store.add_article_with_matches(article("future", "text from far ahead", None, when=MAX_TIME), [], lambda *_: [])
    store.mark_entries_seen(site, ["x" * 2000, "guid with ' quote", "\u202e"])
    match_id = store.list_matches()[0].id
    store.set_feedback(match_id, False, "analyst 'ø'", now=T0)
    with store._write("story keys at the edges") as conn:  # the extremes of a signed 64-bit key
        sid = conn.execute(text("SELECT MIN(id) FROM stories")).scalar_one()
        conn.execute(
            text("INSERT INTO story_keys (key, story_id) VALUES (:a, :s), (:b, :s)"),
            {"a": 2**63 - 1, "b": -(2**63), "s": sid},
        )


@pytest.fixture
def source(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'source.db'}"
    with Store.open(url) as store:
        fill(store)
    return url


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table as the store's types read it, sorted, for comparing two databases."""
    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table.name: sorted((tuple(row) for row in conn.execute(table.select())), key=repr)
                for table in metadata.sorted_tables
            }
    finally:
        engine.dispose()


def held(url: str) -> dict[str, int]:
    """The tables that hold rows, with their counts."""
    engine = create_store_engine(url)
    try:
        return {name: rows for name, (rows, _) in store_checksums(engine).items() if rows}
    finally:
        engine.dispose()


def test_a_copy_keeps_every_row_and_id_and_back_again(source: str, store_url: str, tmp_path: Path) -> None:
    report = copy_store(source, store_url)
    assert report.verified
    rows = {t.name: t.rows for t in report.tables}
    assert rows["articles"] == 8 and rows["matches"] == 5 and rows["deliveries"] == 10 and rows["feedback"] == 1
    assert rows["feeds"] == 2 and rows["entries"] == 17 and rows["story_keys"] > 100 and rows["stories"] == 8
    assert snapshot(store_url) == snapshot(source)  # ids and every value, through the store's own types

    back = f"sqlite:///{tmp_path / 'back.db'}"
    again = copy_store(store_url, back)
    assert again.verified and again.checksum == report.checksum
    assert snapshot(back) == snapshot(source)

    # The copy is a working store: search finds hostile text, and new rows get new ids (sequences were moved on).
    with Store.open(store_url) as store:
        before = max(a.id for a in [store.get_article(i) for i in range(1, 9)] if a is not None)
        added = store.add_article_with_matches(article("new", "a brand new article", None), [], lambda *_: [])
        assert added.article_id == before + 1 and not added.duplicate
        feed = store.add_feed("third", "https://third.example/feed")
        assert feed.id == 3
        page = store.browse_matches(store_filter(q="詐騙園區"))
        assert [m.article.title for m in page.items] == [HOSTILE[1]]


def store_filter(**kwargs: Any) -> Any:
    from monitor.store import MatchFilter

    return MatchFilter(**kwargs)


def test_a_copy_into_a_database_that_holds_anything_is_refused_and_writes_nothing(source: str, store_url: str) -> None:
    with Store.open(store_url) as store:
        store.add_feed("already", "https://already.example/feed")
    with pytest.raises(CopyRefusedError, match=r"not empty \(feeds \(1 row\)\)"):
        copy_store(source, store_url)
    assert held(store_url) == {"feeds": 1}


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (MONITOR_TEST_DATABASE_URL)")
@pytest.mark.postgres
def test_nul_in_the_source_refuses_a_postgresql_copy_naming_the_row_and_leaves_it_empty(
    source: str, store_url: str
) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("the PostgreSQL target only")
    engine = create_store_engine(source)  # an old store (or the sqlite3 shell) could hold what monitor now cleans
    with engine.begin() as conn:
        conn.execute(text("UPDATE articles SET title = :title WHERE id = 3"), {"title": "bad\x00title"})
    engine.dispose()
    with pytest.raises(CopyRefusedError, match=r"articles \(id=3\): title holds a NUL character"):
        copy_store(source, store_url)
    assert held(store_url) == {}


def test_the_command_prints_counts_and_the_checksum_and_refuses_a_second_run(source: str, store_url: str) -> None:
    if store_url.startswith("postgresql"):  # a password (the test server trusts loopback): never printed
        store_url = make_url(store_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    runner = CliRunner()
    result = runner.invoke(app, ["--database", source, "db", "copy", "--to", store_url, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    [line] = result.stdout.splitlines()
    report = json.loads(line)
    assert report["verified"] is True and report["rows"] == sum(t["rows"] for t in report["tables"])
    assert {t["table"]: t["rows"] for t in report["tables"]}["articles"] == 8
    assert all(t["checksum"] == t["target_checksum"] for t in report["tables"])
    assert "s3cret" not in result.stdout + result.stderr

    again = runner.invoke(app, ["--database", source, "db", "copy", "--to", store_url])
    assert again.exit_code == 2
    assert again.stderr.startswith("monitor: error: the target database") and "not empty" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1 and "s3cret" not in again.stderr


def test_the_text_report_lists_each_table(source: str, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'target.db'}"
    result = CliRunner().invoke(app, ["--database", source, "db", "copy", "--to", target], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.stderr
    for name in ("feeds", "entries", "stories", "story_keys", "articles", "matches", "deliveries", "feedback"):
        assert f" {name} " in result.stdout
    assert "verified" in result.stdout and "checksum" in result.stdout


def test_a_missing_or_empty_source_is_refused_rather_than_copied_as_nothing(tmp_path: Path, store_url: str) -> None:
    missing = tmp_path / "typo.db"
    with pytest.raises(CopyRefusedError, match="does not exist"):
        copy_store(f"sqlite:///{missing}", store_url)
    assert not missing.exists()  # not created by the attempt
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    Store.open(empty).close()
    with pytest.raises(CopyRefusedError, match="holds nothing to copy"):
        copy_store(empty, store_url)
