"""The store on real SQLite (and PostgreSQL when MONITOR_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import dataclasses
import multiprocessing
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from monitor import dedup
from monitor.config import FeedSettings
from monitor.errors import FeedExistsError, StoreError
from monitor.store import (
    DeliveryOutcome,
    FeedState,
    MatchFilter,
    NewArticle,
    NewMatch,
    PlannedDelivery,
    Store,
)
from tests.conftest import PROJECT

NOW = datetime(2026, 11, 3, 8, 0, 0, tzinfo=UTC)
SEEDS = sorted((PROJECT / "seeds").glob("*.txt"))
WIRE = (
    "Police in Sihanoukville raided a building used by an online scam ring on Tuesday and "
    "detained more than two hundred foreign workers, officials from the national committee "
    "said. The workers told investigators they had been lured by fake job offers and forced "
    "to defraud people abroad through investment and romance schemes. The committee said it "
    "would repatriate the victims and prosecute the organisers of the compound."
)


def article(
    url: str,
    *,
    feed_id: int | None = None,
    text: str = WIRE,
    title: str = "Scam raid",
    feed_name: str = "wire",
    entry_keys: Sequence[str] = (),
) -> NewArticle:
    return NewArticle(
        feed_id=feed_id,
        feed_name=feed_name,
        url=url,
        canonical_url=dedup.canonical_url(url),
        title=title,
        text=text,
        author=None,
        published=NOW - timedelta(hours=1),
        lang="en",
        content_hash=dedup.content_hash(text),
        story_keys=dedup.story_keys(text),
        entry_keys=tuple(entry_keys) or (url,),
        extracted=True,
    )


def match(rule: str = "scam-raid", version: str = "v1", severity: str = "high") -> NewMatch:
    return NewMatch(
        rule_id=rule,
        rule_version=version,
        severity=severity,
        tags=("scam",),
        hits=(("text", 0, 6, "Police"), {"field": "title", "start": 0, "end": 4, "text": "Scam"}),
        snippet="Police in Sihanoukville raided a building",
    )


def plan_to(*channels: str, mode: str = "immediate"):  # type: ignore[no-untyped-def]
    def plan(story_id: int, new_story: bool) -> list[PlannedDelivery]:
        return [PlannedDelivery("scam-raid", c, mode, None) for c in channels]

    return plan


def no_plan(story_id: int, new_story: bool) -> list[PlannedDelivery]:
    return []


# --- feeds -------------------------------------------------------------------------------


def test_add_get_list_remove_feed(store: Store) -> None:
    added = store.add_feed("kt", "https://kt.example/feed", tags=["asia"], interval=600.0)
    assert (added.name, added.url, added.tags, added.interval, added.source) == (
        "kt",
        "https://kt.example/feed",
        ("asia",),
        600.0,
        "cli",
    )
    assert store.get_feed("kt") == added
    assert [f.name for f in store.list_feeds()] == ["kt"]
    assert store.remove_feed("kt") is True
    assert store.remove_feed("kt") is False
    assert store.get_feed("kt") is None


def test_duplicate_feed_name_is_a_user_error(store: Store) -> None:
    store.add_feed("kt", "https://kt.example/feed")
    with pytest.raises(FeedExistsError, match="kt") as caught:
        store.add_feed("kt", "https://other.example/feed")
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, StoreError)


def _settings(name: str, url: str, **kw: object) -> SimpleNamespace:
    values = {"url": url, "name": name, "tags": (), "interval": None, "full_text": None, "enabled": True, **kw}
    return SimpleNamespace(**values)


def test_sync_feeds_upserts_by_name_and_disables_removed(store: Store) -> None:
    store.add_feed("mine", "https://cli.example/feed")
    store.sync_feeds(
        [
            _settings("a", "https://a.example/feed", tags=("x",)),  # type: ignore[list-item]
            _settings("b", "https://b.example/feed"),
        ]
    )
    a = store.get_feed("a")
    assert a is not None
    store.update_feed_state(a.id, dataclasses.replace(a.state, etag='"v1"', last_status="ok"))
    records = store.sync_feeds([_settings("a", "https://a.example/new", interval=60.0)])  # type: ignore[list-item]
    assert [r.name for r in records] == ["a"]
    by_name = {f.name: f for f in store.list_feeds()}
    assert by_name["a"].url == "https://a.example/new" and by_name["a"].interval == 60.0
    assert by_name["a"].etag is None  # the validator belonged to the old URL
    assert by_name["a"].id == a.id and by_name["a"].last_status == "ok"
    assert by_name["b"].enabled is False  # gone from config: kept, not polled
    assert by_name["mine"].enabled is True and by_name["mine"].source == "cli"


def test_feed_state_round_trip_and_due_feeds(store: Store) -> None:
    first = store.add_feed("a", "https://a.example/feed")
    second = store.add_feed("b", "https://b.example/feed")
    assert {f.name for f in store.list_due_feeds(NOW)} == {"a", "b"}
    state = FeedState(
        url="https://a.example/moved",
        etag='"e"',
        last_modified="Tue, 03 Nov",
        last_polled=NOW,
        last_success=NOW,
        last_status="ok",
        last_error=None,
        consecutive_failures=0,
        next_poll=NOW + timedelta(minutes=10),
        retry_after_until=None,
        blocked_requests=2,
    )
    assert store.update_feed_state(first.id, state) is True
    assert store.get_feed("a").state == state  # type: ignore[union-attr]
    assert [f.name for f in store.list_due_feeds(NOW)] == ["b"]
    assert {f.name for f in store.list_due_feeds(NOW + timedelta(minutes=10))} == {"a", "b"}
    store.update_feed_state(second.id, dataclasses.replace(second.state, enabled=False))
    assert [f.name for f in store.list_due_feeds(NOW + timedelta(hours=1))] == ["a"]
    assert store.update_feed_state(9999, state) is False


def test_isolation_fields_round_trip(store: Store) -> None:
    feed = store.add_feed("a", "https://a.example/feed")
    state = dataclasses.replace(
        feed.state,
        failed_entries=3,
        last_entry_error="guid:x: ValueError: bad",
        redirect_pending="https://b.example/feed",
    )
    store.update_feed_state(feed.id, state)
    assert store.get_feed("a").state == state  # type: ignore[union-attr]


# --- entries and articles -----------------------------------------------------------------


def test_unseen_entries_are_per_feed(store: Store) -> None:
    a = store.add_feed("a", "https://a.example/feed")
    b = store.add_feed("b", "https://b.example/feed")
    store.mark_entries_seen(a.id, ["guid-1", "https://x.example/1"])
    assert store.unseen_entries(a.id, ["guid-1", "guid-2", "https://x.example/1"]) == {"guid-2"}
    assert store.unseen_entries(b.id, ["guid-1"]) == {"guid-1"}
    many = [f"k{i}" for i in range(1200)]  # more than one IN (...) chunk
    store.mark_entries_seen(a.id, many)
    assert store.unseen_entries(a.id, many + ["new"]) == {"new"}


def test_article_is_stored_once_through_two_feeds(store: Store) -> None:
    a = store.add_feed("a", "https://a.example/feed")
    b = store.add_feed("b", "https://b.example/feed")
    first = store.add_article_with_matches(
        article("https://news.example/raid?utm_source=a", feed_id=a.id), [match()], plan_to("email")
    )
    second = store.add_article_with_matches(
        article("https://NEWS.example/raid#top", feed_id=b.id, feed_name="b"), [match()], plan_to("email", "chat")
    )
    assert not first.duplicate and first.new_story and first.deliveries_created == 1
    assert second.duplicate and second.article_id == first.article_id
    assert (second.match_ids, second.deliveries_created) == ((), 0)
    assert store.count_articles() == 1
    assert len(store.list_matches()) == 1
    assert store.unseen_entries(b.id, ["https://NEWS.example/raid#top"]) == set()
    assert {f.name: f.articles for f in store.list_feeds()} == {"a": 1, "b": 0}


def test_repeated_match_insert_is_a_no_op(store: Store) -> None:
    result = store.add_article_with_matches(
        article("https://news.example/1"), [match(), match(), match(version="v2")], no_plan
    )
    assert len(result.match_ids) == 2  # (rule, v1) once, (rule, v2) once
    assert sorted(m.rule_version for m in store.list_matches()) == ["v1", "v2"]


def test_same_story_and_rule_is_delivered_once_per_channel(store: Store) -> None:
    first = store.add_article_with_matches(article("https://a.example/1"), [match()], plan_to("email", "email"))
    copy = store.add_article_with_matches(article("https://b.example/copy"), [match()], plan_to("email", "chat"))
    assert first.deliveries_created == 1
    assert copy.story_id == first.story_id and not copy.new_story and not copy.duplicate
    assert copy.deliveries_created == 1  # chat is new, email already has this (story, rule)
    digest = store.add_article_with_matches(article("https://c.example/2"), [match()], plan_to("email", mode="digest"))
    assert digest.deliveries_created == 1  # a digest is a different delivery mode
    channels = sorted((d.channel, d.mode) for m in store.list_matches() for d in m.deliveries)
    assert channels == [("chat", "immediate"), ("email", "digest"), ("email", "immediate")]


def test_plan_sees_story_and_novelty(store: Store) -> None:
    calls: list[tuple[int, bool]] = []

    def plan(story_id: int, new_story: bool) -> list[PlannedDelivery]:
        calls.append((story_id, new_story))
        return []

    one = store.add_article_with_matches(article("https://a.example/1"), [match()], plan)
    two = store.add_article_with_matches(article("https://b.example/1"), [match()], plan)
    assert calls == [(one.story_id, True), (two.story_id, False)]


def test_a_failing_plan_rolls_everything_back(store: Store) -> None:
    feed = store.add_feed("a", "https://a.example/feed")

    def broken(story_id: int, new_story: bool) -> list[PlannedDelivery]:
        raise RuntimeError("routing bug")

    with pytest.raises(RuntimeError, match="routing bug"):
        store.add_article_with_matches(
            article("https://a.example/1", feed_id=feed.id, entry_keys=["g1"]), [match()], broken
        )
    assert store.count_articles() == 0 and store.list_matches() == []
    assert store.unseen_entries(feed.id, ["g1"]) == {"g1"}  # retried at the next poll


def test_stories_group_by_hash_and_story_keys(store: Store) -> None:
    original = store.add_article_with_matches(article("https://a.example/1"), [], no_plan)
    same_text = store.add_article_with_matches(
        article("https://b.example/2", text=WIRE.upper().replace(" ", "  ")), [], no_plan
    )
    body = SEEDS[3].read_text(encoding="utf-8")
    seed = store.add_article_with_matches(article("https://c.example/3", text=body), [], no_plan)
    lines = body.splitlines()
    reprint_text = "\n".join(["A different headline", "Reporting by a wire service."] + lines[2:])
    reprint = store.add_article_with_matches(article("https://d.example/4", text=reprint_text), [], no_plan)
    other_text = SEEDS[4].read_text(encoding="utf-8")
    other = store.add_article_with_matches(article("https://e.example/5", text=other_text), [], no_plan)
    assert same_text.story_id == original.story_id
    assert seed.new_story and seed.story_id != original.story_id
    assert reprint.story_id == seed.story_id and not reprint.new_story
    assert other.new_story and other.story_id not in (original.story_id, seed.story_id)
    assert [a.url for a in store.story_articles(seed.story_id)] == ["https://c.example/3", "https://d.example/4"]


def test_short_texts_are_not_grouped_by_hash(store: Store) -> None:
    one = store.add_article_with_matches(article("https://a.example/1", text=""), [], no_plan)
    two = store.add_article_with_matches(article("https://b.example/2", text=""), [], no_plan)
    assert one.story_id != two.story_id


def test_get_article_returns_what_was_stored(store: Store) -> None:
    result = store.add_article_with_matches(article("https://a.example/1?fbclid=x"), [], no_plan)
    stored = store.get_article(result.article_id)
    assert stored is not None
    assert (stored.url, stored.canonical_url, stored.text, stored.published, stored.extracted) == (
        "https://a.example/1?fbclid=x",
        "https://a.example/1",
        WIRE,
        NOW - timedelta(hours=1),
        True,
    )
    assert store.get_article(result.article_id + 100) is None


# --- matches ------------------------------------------------------------------------------


def test_list_matches_gives_the_json_contract(store: Store) -> None:
    feed = store.add_feed("kt", "https://kt.example/feed")
    store.add_article_with_matches(
        article("https://a.example/1", feed_id=feed.id, feed_name="kt"), [match()], plan_to("email"), now=NOW
    )
    [found] = store.list_matches()
    line = found.as_json()
    assert set(line) == {
        "id",
        "rule",
        "rule_version",
        "severity",
        "article",
        "story",
        "hits",
        "snippet",
        "matched_at",
        "deliveries",
    }
    assert line["article"] == {
        "id": found.article.id,
        "url": "https://a.example/1",
        "title": "Scam raid",
        "feed": "kt",
        "published": "2026-11-03T07:00:00Z",
        "lang": "en",
    }
    assert line["hits"][0] == {"field": "text", "start": 0, "end": 6, "text": "Police"}
    assert line["deliveries"] == [{"channel": "email", "status": "pending", "attempts": 0, "last_error": None}]
    assert (line["rule"], line["severity"], line["matched_at"]) == ("scam-raid", "high", "2026-11-03T08:00:00Z")


def test_list_matches_filters(store: Store) -> None:
    for i, rule in enumerate(["scam-raid", "scam-rescue", "gambling"]):
        store.add_article_with_matches(
            article(f"https://a.example/{i}", text=f"text {i}"), [match(rule)], no_plan, now=NOW + timedelta(hours=i)
        )
    assert [m.rule for m in store.list_matches()] == ["gambling", "scam-rescue", "scam-raid"]
    assert [m.rule for m in store.list_matches(rule="scam-raid")] == ["scam-raid"]
    assert [m.rule for m in store.list_matches(rule="scam-*")] == ["scam-rescue", "scam-raid"]
    assert [m.rule for m in store.list_matches(rule="scam_raid")] == []  # _ is not a wildcard
    assert [m.rule for m in store.list_matches(since=NOW + timedelta(hours=1))] == ["gambling", "scam-rescue"]
    assert len(store.list_matches(limit=1)) == 1


# --- concurrency --------------------------------------------------------------------------


def _distinct_text(i: int) -> str:
    rng = random.Random(i)
    return " ".join(rng.choice(WIRE.split()) + str(rng.randrange(50)) for _ in range(60))


def _writer(url: str, worker: int, count: int) -> int:
    with Store.open(url) as db:
        for i in range(count):
            # Every worker writes the same URLs: articles, matches and deliveries collide.
            db.add_article_with_matches(
                article(f"https://a.example/{i}", text=_distinct_text(i), entry_keys=[f"g{i}"]),
                [match()],
                plan_to("email", "chat"),
            )
            # ... and each its own copy of the same story under another URL.
            db.add_article_with_matches(
                article(f"https://w{worker}.example/{i}", text=_distinct_text(i)), [match()], plan_to("email", "chat")
            )
            db.mark_entries_seen(1, [f"w{worker}-{i}", f"shared-{i}"])
    return worker


@pytest.mark.slow
def test_concurrent_writers_do_not_fail(store_url: str) -> None:
    with Store.open(store_url) as db:
        db.add_feed("a", "https://a.example/feed")
    context = multiprocessing.get_context("fork")
    with context.Pool(4) as pool:
        done = pool.starmap(_writer, [(store_url, w, 25) for w in range(4)])
    assert sorted(done) == [0, 1, 2, 3]
    with Store.open(store_url) as db:
        assert db.count_articles() == 25 * 5
        matches = db.list_matches()
        assert len(matches) == 25 * 5 and len({m.story for m in matches}) == 25
        assert sum(len(m.deliveries) for m in matches) == 25 * 2  # one per (story, rule, channel)
        assert db.unseen_entries(1, ["shared-0", "w3-24", "other"]) == {"other"}


def _copier(url: str, worker: int, rounds: int, barrier: Any) -> None:
    with Store.open(url) as db:
        for i in range(rounds):
            barrier.wait(timeout=30)  # every worker writes its copy of story i at once
            db.add_article_with_matches(
                article(f"https://w{worker}.example/{i}", text=_distinct_text(1000 + i)), [match()], plan_to("email")
            )


@pytest.mark.slow
def test_copies_written_at_once_by_several_processes_are_one_story(store_url: str) -> None:
    Store.open(store_url).close()
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(4)
    workers = [context.Process(target=_copier, args=(store_url, w, 15, barrier)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    with Store.open(store_url) as db:
        matches = db.list_matches()
    assert len(matches) == 60 and len({m.story for m in matches}) == 15
    assert sum(len(m.deliveries) for m in matches) == 15  # one email per story


# --- errors -------------------------------------------------------------------------------


def _batched(store: Store) -> None:
    with store.batch():
        store.mark_entries_seen(1, ["k"])


CALLS = {
    "batch": _batched,
    "add_article_with_matches": lambda s: s.add_article_with_matches(article("https://x/1"), [], no_plan),
    "add_feed": lambda s: s.add_feed("x", "https://x.example/feed"),
    "add_feeds": lambda s: s.add_feeds([FeedSettings(url="https://x.example/feed", name="x")]),
    "browse_matches": lambda s: s.browse_matches(MatchFilter(q="x", tag="t")),
    "claim_deliveries": lambda s: s.claim_deliveries(NOW, worker="w", lease=60),
    "claim_due_feeds": lambda s: s.claim_due_feeds(NOW, 60, "w"),
    "claim_feeds": lambda s: s.claim_feeds([1], lease=60, worker="w"),
    "renew_feed_claims": lambda s: s.renew_feed_claims([1], lease=60, worker="w"),
    "retire_worker": lambda s: s.retire_worker("w"),
    "take_due_feeds": lambda s: s.take_due_feeds(NOW, lease=60, worker="w"),
    "count_articles": lambda s: s.count_articles(),
    "count_recent_messages": lambda s: s.count_recent_messages("email", NOW),
    "feed_names": lambda s: s.feed_names(),
    "get_article": lambda s: s.get_article(1),
    "get_feed": lambda s: s.get_feed("x"),
    "list_claimants": lambda s: s.list_claimants(NOW),
    "list_deliveries": lambda s: s.list_deliveries(),
    "list_due_feeds": lambda s: s.list_due_feeds(NOW),
    "list_feeds": lambda s: s.list_feeds(),
    "list_matches": lambda s: s.list_matches(),
    "mark_entries_seen": lambda s: s.mark_entries_seen(1, ["k"]),
    "match_detail": lambda s: s.match_detail(1),
    "record_outcomes": lambda s: s.record_outcomes([DeliveryOutcome(1, "sent", 1)]),
    "release_claims": lambda s: s.release_claims("w"),
    "release_deliveries": lambda s: s.release_deliveries([1], "w"),
    "release_feeds": lambda s: s.release_feeds([1], "w"),
    "rule_ids": lambda s: s.rule_ids(),
    "ping": lambda s: s.ping(),
    "remove_feed": lambda s: s.remove_feed("x"),
    "story_articles": lambda s: s.story_articles(1),
    "sync_feeds": lambda s: s.sync_feeds([]),
    "unseen_entries": lambda s: s.unseen_entries(1, ["k"]),
    "update_feed_state": lambda s: s.update_feed_state(1, FeedState(url="https://x/")),
    # the rules slice: feedback and the backtest's window reads
    "set_feedback": lambda s: s.set_feedback(1, True, "ana"),
    "clear_feedback": lambda s: s.clear_feedback(1),
    "feedback_of": lambda s: s.feedback_of([1]),
    "judged_matches": lambda s: s.judged_matches("r"),
    "corpus_batch": lambda s: s.corpus_batch(NOW - timedelta(days=30), NOW),
    "window_matches": lambda s: s.window_matches("r", NOW - timedelta(days=30), NOW),
    "rule_activity": lambda s: s.rule_activity(NOW),
}
CALLS.update(  # the health and outbox views of store/health.py
    {
        "delivery_counts": lambda s: s.delivery_counts(),
        "feed_activity": lambda s: s.feed_activity(NOW),
        "get_delivery": lambda s: s.get_delivery(1),
        "requeue_delivery": lambda s: s.requeue_delivery(1, NOW),
        "store_counts": lambda s: s.store_counts(),
        # issue 17: fenced leases and digest windows
        "renew_deliveries": lambda s: s.renew_deliveries([1], "w", 60, NOW),
        "open_digest_window": lambda s: s.open_digest_window("c", NOW, worker="w", lease=60, now=NOW),
        "renew_digest_window": lambda s: s.renew_digest_window("c", NOW, "w", 60, NOW),
        "list_digest_windows": lambda s: s.list_digest_windows(),
    }
)
CALLS["prune_articles"] = lambda s: s.prune_articles(NOW)  # retention (store/retention.py)


# Feed claims are PostgreSQL's (SQLite has one daemon): on SQLite these answer without asking the database.
SQLITE_NO_CLAIMS = {"claim_feeds", "renew_feed_claims", "release_feeds", "retire_worker"}


def test_every_public_method_is_covered_by_the_error_tests() -> None:
    public = {name for name in dir(Store) if not name.startswith("_") and callable(getattr(Store, name))} - {
        "open",
        "close",
    }
    assert public == set(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_closed_store_raises_store_error(store: Store, name: str) -> None:
    if store.dialect == "sqlite" and name in SQLITE_NO_CLAIMS:
        pytest.skip("no claims on SQLite: answered without the database")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        CALLS[name](store)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_broken_database_raises_store_error(tmp_path: Path, name: str) -> None:
    if name in SQLITE_NO_CLAIMS:
        pytest.skip("no claims on SQLite: answered without the database")
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with Store.open(url, busy_timeout=0.1) as db:
        with db._write("break") as conn:  # a schema gone wrong under a running process
            for table in (
                "digest_windows",
                "feedback",
                "deliveries",
                "matches",
                "story_keys",
                "articles",
                "entries",
                "stories",
                "feeds",
            ):
                conn.exec_driver_sql(f"DROP TABLE {table}")
        with pytest.raises(StoreError) as caught:
            CALLS[name](db)
        assert "no such table" in str(caught.value) and caught.value.__cause__ is not None


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://nobody@127.0.0.1:1/none",
        "nosuchdialect://x/y",
        "not a url",
        "sqlite:////proc/forbidden/monitor.db",
    ],
    ids=["unreachable", "dialect", "garbage", "unwritable"],
)
def test_open_failures_raise_store_error(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    assert "\n" not in str(caught.value)


def test_password_never_appears_in_errors() -> None:
    with pytest.raises(StoreError) as caught:
        Store.open("postgresql+psycopg://user:s3cret@127.0.0.1:1/db")
    assert "s3cret" not in str(caught.value)


def test_relative_sqlite_path_creates_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Store.open("sqlite:///data/deep/monitor.db") as db:
        db.add_feed("a", "https://a.example/feed")
    assert (tmp_path / "data" / "deep" / "monitor.db").is_file()


def test_take_due_feeds_hides_the_dialect(store: Store) -> None:
    """One call for the pipeline. On PostgreSQL the feeds are claimed (a second worker gets none until the lease
    ends; a busy feed is leased anyway); SQLite has one daemon: due feeds minus the busy ones, nothing leased."""
    store.sync_feeds(
        [FeedSettings(url="https://a.example/feed", name="a"), FeedSettings(url="https://b.example/feed", name="b")]
    )
    ids = {f.name: f.id for f in store.list_feeds()}
    taken = store.take_due_feeds(NOW, lease=300, worker="w1", busy={ids["b"]})
    again = store.take_due_feeds(NOW, lease=300, worker="w2")
    if store.dialect == "postgresql":  # the lease is on the database's clock: a later ``now`` does not end it
        assert ([f.name for f in taken], again) == (["a", "b"], [])
        assert store.take_due_feeds(NOW + timedelta(seconds=301), lease=300, worker="w2") == []
    else:
        assert [f.name for f in taken] == ["a"]
        assert [f.name for f in again] == ["a", "b"]
    assert store.take_due_feeds(NOW, lease=300, worker="w1", limit=0) == []
