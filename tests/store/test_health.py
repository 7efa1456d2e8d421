"""The store's health and outbox views (store/health.py) on real SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from monitor.store import DeliveryOutcome, Store
from tests.store.test_store import NOW, article, match, no_plan, plan_to


def _text(i: int) -> str:
    return f"Article number {i} about the raid in Poipet, told in its own distinct words: " + " ".join(
        f"w{i}x{j}" for j in range(12)
    )


def _store_articles(store: Store, feed_id: int, times: list[datetime], *, published: bool = True) -> None:
    for i, when in enumerate(times):
        new = dataclasses.replace(
            article(f"https://wire.example/{feed_id}/{i}", feed_id=feed_id, text=_text(feed_id * 1000 + i)),
            published=when if published else None,
        )
        store.add_article_with_matches(new, [], no_plan, now=when)


def test_counts_of_an_empty_store_name_every_feed_status_at_zero(store: Store) -> None:
    counts = store.store_counts()
    assert counts.feeds == dict.fromkeys(
        ("disabled", "error", "gone", "never_polled", "not_modified", "ok", "skipped"), 0
    )
    assert (counts.articles, counts.matches, counts.deliveries, counts.queue_depth) == (0, {}, {}, 0)
    assert counts.last_success is None


def test_counts_group_feeds_matches_and_deliveries(store: Store) -> None:
    ok = store.add_feed("ok", "https://ok.example/feed")
    bad = store.add_feed("bad", "https://bad.example/feed")
    gone = store.add_feed("gone", "https://gone.example/feed")
    store.add_feed("new", "https://new.example/feed")
    off = store.add_feed("off", "https://off.example/feed")
    store.update_feed_state(ok.id, dataclasses.replace(ok.state, last_status="ok", last_success=NOW))
    earlier = NOW - timedelta(hours=2)
    store.update_feed_state(bad.id, dataclasses.replace(bad.state, last_status="error", last_success=earlier))
    store.update_feed_state(gone.id, dataclasses.replace(gone.state, last_status="gone", enabled=False))
    store.update_feed_state(off.id, dataclasses.replace(off.state, last_status="ok", enabled=False))
    store.add_article_with_matches(article("https://x.example/1"), [match("raid")], plan_to("email", "chat"), now=NOW)
    other = article("https://x.example/2", text=_text(2))
    store.add_article_with_matches(other, [match("raid"), match("fraud")], plan_to("email"), now=NOW)
    claimed = store.claim_deliveries(NOW, worker="w", lease=60)
    email = [d for d in claimed if d.channel == "email"]
    store.record_outcomes([DeliveryOutcome(email[0].id, "sent", 1, sent_at=NOW)])
    store.release_deliveries([d.id for d in claimed], "w")

    counts = store.store_counts()
    assert {k: v for k, v in counts.feeds.items() if v} == {
        "ok": 1,
        "error": 1,
        "gone": 1,
        "never_polled": 1,
        "disabled": 1,
    }
    assert counts.articles == 2
    assert counts.matches == {"fraud": 1, "raid": 2}
    assert counts.deliveries == {("chat", "pending"): 1, ("email", "pending"): 1, ("email", "sent"): 1}
    assert counts.queue_depth == 2
    assert counts.last_success == NOW
    assert store.delivery_counts() == {"pending": 2, "sent": 1}


def test_activity_counts_articles_per_day_and_keeps_the_newest_publication_times(store: Store) -> None:
    busy = store.add_feed("busy", "https://busy.example/feed")
    quiet = store.add_feed("quiet", "https://quiet.example/feed")
    store.add_feed("empty", "https://empty.example/feed")
    # busy: 3 articles in the last 24 hours, 2 the day before, 1 six days ago, 1 ten days ago (outside the window)
    ages = [1, 5, 23, 25, 47, 6 * 24 + 1, 10 * 24]
    _store_articles(store, busy.id, [NOW - timedelta(hours=h) for h in reversed(ages)])  # stored as they came
    _store_articles(store, quiet.id, [NOW - timedelta(days=30)], published=False)

    activity = store.feed_activity(NOW, days=7, recent=4)
    assert set(activity) == {busy.id, quiet.id}  # a feed with no article has no activity
    assert activity[busy.id].per_day == (1, 0, 0, 0, 0, 2, 3)
    assert activity[busy.id].published == tuple(NOW - timedelta(hours=h) for h in ages[:4])
    assert activity[quiet.id].per_day == (0,) * 7
    assert activity[quiet.id].published == (NOW - timedelta(days=30),)  # no date: when it was fetched


def test_activity_reads_in_batches_and_stops_past_its_window(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    feed = store.add_feed("busy", "https://busy.example/feed")
    quiet = store.add_feed("quiet", "https://quiet.example/feed")
    _store_articles(store, quiet.id, [NOW - timedelta(days=40 - d) for d in range(3)])  # long before the window
    hours = [9 * 24, 8 * 24 + 2, 6 * 24, 50, 30, 20, 10, 3, 2, 1]
    _store_articles(store, feed.id, [NOW - timedelta(hours=h) for h in hours])
    whole = store.feed_activity(NOW, recent=5)
    monkeypatch.setattr("monitor.store.health._BATCH", 2)
    assert store.feed_activity(NOW, recent=5) == whole
    assert whole[feed.id].per_day == (1, 0, 0, 0, 1, 1, 5)
    assert whole[feed.id].published == tuple(NOW - timedelta(hours=h) for h in (1, 2, 3, 10, 20))
    assert whole[quiet.id].per_day == (0,) * 7 and len(whole[quiet.id].published) == 3  # by its own query


def test_a_failed_delivery_is_made_due_again_and_only_one_whose_last_attempt_failed(store: Store) -> None:
    store.add_article_with_matches(article("https://x.example/1"), [match()], plan_to("email", "chat"), now=NOW)
    rows = store.claim_deliveries(NOW, worker="w", lease=60)
    failed, sent = sorted(rows, key=lambda d: d.channel != "email")
    store.record_outcomes(
        [
            DeliveryOutcome(failed.id, "failed", 5, last_error="SMTP 550 mailbox unavailable"),
            DeliveryOutcome(sent.id, "sent", 1, sent_at=NOW),
        ]
    )
    assert not store.requeue_delivery(sent.id, NOW)
    assert not store.requeue_delivery(999_999, NOW)
    later = NOW + timedelta(minutes=3)
    assert store.requeue_delivery(failed.id, later)
    again = store.get_delivery(failed.id)
    assert again is not None
    assert (again.status, again.attempts, again.next_attempt_at) == ("pending", 5, later)
    assert again.last_error == "SMTP 550 mailbox unavailable"  # shown until the next attempt says otherwise
    assert again.article_title == "Scam raid"
    assert [d.id for d in store.claim_deliveries(later, worker="w2", lease=60)] == [failed.id]
    assert not store.requeue_delivery(failed.id, later)  # a sender holds it now
    assert store.get_delivery(999_999) is None


def test_a_pending_delivery_is_made_due_again_only_after_a_failed_attempt(store: Store) -> None:
    store.add_article_with_matches(article("https://x.example/1"), [match()], plan_to("pager", "chat"), now=NOW)
    rows = {d.channel: d for d in store.claim_deliveries(NOW, worker="w", lease=60)}
    retry_at = NOW + timedelta(minutes=30)
    store.record_outcomes([DeliveryOutcome(rows["pager"].id, "pending", 1, retry_at, "HTTP 500")])
    store.release_deliveries([rows["chat"].id], "w")
    assert not store.requeue_delivery(rows["chat"].id, NOW)  # never attempted: it goes at the next run anyway
    assert store.requeue_delivery(rows["pager"].id, NOW)
    again = store.get_delivery(rows["pager"].id)
    assert again is not None and (again.status, again.attempts, again.next_attempt_at) == ("pending", 1, NOW)
