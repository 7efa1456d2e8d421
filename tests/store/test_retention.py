"""Retention ([store] keep_articles): old unmatched articles go in small batches; matched stories stay whole, seen
entries stay, and a story emptied by one prune is removed by the next. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from monitor.dedup import canonical_url, content_hash, story_keys
from monitor.retention import cutoff, prune
from monitor.store import NewArticle, NewMatch, Store
from monitor.store.base import create_store_engine

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
KEEP = 180 * 86400.0
OLD = NOW - timedelta(days=200)
YOUNG = NOW - timedelta(days=10)


def words(topic: str, n: int = 60) -> str:
    """A text long enough for story keys (40 words and more), its own per topic."""
    return " ".join(f"{topic}{i % 17} word{i}" for i in range(n // 2))


def add(
    store: Store,
    feed_id: int | None,
    slug: str,
    text_: str,
    when: datetime,
    *,
    matched: bool = False,
    keys: bool = True,
) -> tuple[int, int]:
    """Store one article fetched at ``when`` (matched by rule r1 with a delivery planned, or not); (id, story)."""
    url = f"https://site.example/{slug}"
    article = NewArticle(
        feed_id=feed_id,
        feed_name="site",
        url=url,
        canonical_url=canonical_url(url),
        title=slug,
        text=text_,
        author=None,
        published=when,
        lang="en",
        content_hash=content_hash(text_),
        story_keys=story_keys(text_) if keys else (),
        entry_keys=(f"guid-{slug}",),
    )
    matches = [NewMatch("r1", "1", "high", (), (), "snippet")] if matched else []

    def plan(story_id: int, new_story: bool) -> list[Any]:
        from monitor.store import PlannedDelivery

        return [PlannedDelivery("r1", "chat")] if matched else []

    result = store.add_article_with_matches(article, matches, plan, now=when)
    return result.article_id, result.story_id


def count(store_url: str, sql: str, **params: Any) -> int:
    engine = create_store_engine(store_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql), params).scalar_one())
    finally:
        engine.dispose()


def test_prune_removes_old_unmatched_articles_and_keeps_matched_stories_and_young_articles(
    store: Store, store_url: str
) -> None:
    feed = store.add_feed("site", "https://site.example/feed").id
    matched_id, matched_story = add(store, feed, "raid", words("raid"), OLD, matched=True)
    copy_id, copy_story = add(store, feed, "raid-copy", words("raid"), OLD)  # same text: the matched story
    gone_id, gone_story = add(store, feed, "weather", words("weather"), OLD)
    half_old, half_story = add(store, feed, "port-old", words("port"), OLD)
    half_young, half_story_2 = add(store, feed, "port-new", words("port"), YOUNG)  # same story, young
    young_id, _ = add(store, feed, "festival", words("festival"), YOUNG)
    assert copy_story == matched_story and half_story_2 == half_story
    keys_before = count(store_url, "SELECT COUNT(*) FROM story_keys WHERE story_id = :s", s=gone_story)
    assert keys_before > 0

    report = prune(store, KEEP, NOW)

    assert (report.articles, report.stories_emptied, report.stories, report.kept) == (2, 1, 0, 2)
    assert report.story_keys == keys_before  # the emptied story's keys: nothing can join it any more
    assert store.get_article(gone_id) is None and store.get_article(half_old) is None
    for kept in (matched_id, copy_id, half_young, young_id):
        assert store.get_article(kept) is not None
    assert count(store_url, "SELECT COUNT(*) FROM story_keys WHERE story_id = :s", s=half_story) > 0
    assert len(store.list_matches()) == 1 and len(store.list_deliveries()) == 1
    # Seen entries stay: a feed that still lists the pruned item does not make it new again.
    assert store.unseen_entries(feed, ["guid-weather", "guid-fresh"]) == {"guid-fresh"}

    # The emptied story's row goes at the next prune (a copy being added to it could still have held it).
    assert count(store_url, "SELECT COUNT(*) FROM stories WHERE id = :s", s=gone_story) == 1
    again = prune(store, KEEP, NOW)
    assert (again.articles, again.stories, again.kept) == (0, 1, 2)
    assert count(store_url, "SELECT COUNT(*) FROM stories WHERE id = :s", s=gone_story) == 0

    # The same text arriving again founds a new story: nothing points at the removed one.
    new_id, new_story = add(store, feed, "weather-again", words("weather"), NOW)
    assert new_story != gone_story and store.get_article(new_id) is not None


def test_prune_goes_in_batches_and_a_dry_run_counts_the_same_without_removing(store: Store, store_url: str) -> None:
    feed = store.add_feed("site", "https://site.example/feed").id
    with store.batch():
        for i in range(1203):
            add(store, feed, f"brief-{i}", f"short brief number {i}", OLD + timedelta(seconds=i), keys=False)
        add(store, feed, "matched", "a matched brief", OLD, matched=True, keys=False)

    dry = store.prune_articles(cutoff(NOW, KEEP), dry_run=True, batch_size=100)
    assert (dry.articles, dry.stories_emptied, dry.batches, dry.kept, dry.dry_run) == (1203, 1203, 13, 1, True)
    assert store.count_articles() == 1204

    seen: list[int] = []
    done = store.prune_articles(cutoff(NOW, KEEP), batch_size=100, progress=lambda r: seen.append(r.articles))
    assert (done.articles, done.stories_emptied, done.batches, done.kept) == (1203, 1203, 13, 1)
    assert seen == [*range(100, 1201, 100), 1203]  # one transaction per batch, each of at most 100
    assert store.count_articles() == 1
    # The next prune removes the 1,203 empty stories, in batches too.
    assert store.prune_articles(cutoff(NOW, KEEP), batch_size=100).stories == 1203
    assert count(store_url, "SELECT COUNT(*) FROM stories") == 1


def test_a_stop_between_batches_leaves_the_rest_for_the_next_prune(store: Store) -> None:
    feed = store.add_feed("site", "https://site.example/feed").id
    with store.batch():
        for i in range(250):
            add(store, feed, f"brief-{i}", f"short brief number {i}", OLD, keys=False)
    first = store.prune_articles(cutoff(NOW, KEEP), batch_size=100, stop=lambda: True)
    assert (first.articles, first.batches) == (100, 1)
    rest = store.prune_articles(cutoff(NOW, KEEP), batch_size=100)
    assert rest.articles == 150 and store.count_articles() == 0


def test_a_keep_longer_than_the_calendar_removes_nothing(store: Store) -> None:
    feed = store.add_feed("site", "https://site.example/feed").id
    add(store, feed, "ancient", "an article from long ago", datetime(1990, 1, 1, tzinfo=UTC), keys=False)
    report = prune(store, 1e15, NOW)  # an interval of millennia: the cutoff is the start of time
    assert report.articles == 0 and store.count_articles() == 1
