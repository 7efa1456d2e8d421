"""Story assignment locks only the story keys involved (PostgreSQL): unrelated articles write in parallel, copies of
one story still found one story, two workers' batches in opposite orders never deadlock, and a batch that
PostgreSQL ends as a deadlock's victim is written again (issue 17, item 3)."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from monitor.store import AddResult, Store
from monitor.store.articles import story_lock_keys
from monitor.store.writer import StoreWriter
from tests.daemon.test_daemon import wait_for
from tests.store.test_store import _distinct_text, article, match, plan_to
from tests.support.dbfixtures import TEST_DATABASE_URL

# A schema of its own on the test PostgreSQL (tests/support/dbfixtures.py), for the tests that take ``store_url``.
on_postgresql = pytest.mark.parametrize(
    "store_url",
    [
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs MONITOR_TEST_DATABASE_URL (PostgreSQL)"),
            ],
        )
    ],
    indirect=True,
)


def _add_in_thread(store: Store, url: str, body: str, out: list[AddResult]) -> threading.Thread:
    def run() -> None:
        out.append(store.add_article_with_matches(article(url, text=body), [match()], plan_to("chat")))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@on_postgresql
def test_an_unrelated_article_is_not_held_up_and_a_copy_waits_for_its_story(store_url: str) -> None:
    """A worker's batch still open (not committed) holds only its own stories' keys: another story is written
    meanwhile, while a copy of the open batch's story waits for it and then joins its story."""
    with Store.open(store_url) as store, Store.open(store_url) as other, Store.open(store_url) as third:
        held = threading.Event()
        release = threading.Event()
        first: list[AddResult] = []

        def open_batch() -> None:
            with store.batch():
                first.append(
                    store.add_article_with_matches(
                        article("https://a.example/1", text=_distinct_text(1)), [match()], plan_to("chat")
                    )
                )
                held.set()
                release.wait(60)

        batch = threading.Thread(target=open_batch, daemon=True)
        batch.start()
        assert held.wait(60)
        unrelated: list[AddResult] = []
        copy: list[AddResult] = []
        writing_unrelated = _add_in_thread(other, "https://b.example/1", _distinct_text(2), unrelated)
        writing_copy = _add_in_thread(third, "https://c.example/1", _distinct_text(1), copy)
        try:
            # With one global lock the unrelated article waited for the open batch too.
            assert wait_for(lambda: bool(unrelated), 60), "an unrelated story waited for another worker's batch"
            assert not copy, "a copy of a story being written did not wait for it"
        finally:
            release.set()
            batch.join(60)
            writing_unrelated.join(60)
            writing_copy.join(60)
        assert copy and copy[0].story_id == first[0].story_id and not copy[0].new_story
        assert unrelated[0].story_id != first[0].story_id and unrelated[0].new_story
        matches = store.list_matches()
        assert sum(len(m.deliveries) for m in matches) == 2  # one alert for each of the two stories


def _batches_in_order(url: str, order: list[int], barrier: Any) -> int:
    """One writer's batch of copies of stories ``order`` (each its own URL); returns the deadlocks it met."""
    retried: list[logging.LogRecord] = []

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "deadlocked" in record.getMessage():
                retried.append(record)

    logging.getLogger("monitor.store.writer").addHandler(Count())
    logging.getLogger("monitor.store.writer").setLevel(logging.INFO)

    async def main(store: Store) -> list[AddResult]:
        with StoreWriter(store) as writer:
            barrier.wait(timeout=60)  # both workers queue their whole batch at the same moment
            calls = [
                writer.call(
                    store.add_article_with_matches,
                    article(f"https://w{order[0]}.example/{i}", text=_distinct_text(3000 + i)),
                    [match()],
                    plan_to("chat"),
                )
                for i in order
            ]
            return await asyncio.gather(*calls)

    with Store.open(url) as store:
        for _ in range(3):
            asyncio.run(main(store))
    return len(retried)


@on_postgresql
@pytest.mark.slow
def test_two_workers_batches_in_opposite_orders_found_one_story_each_without_deadlock(store_url: str) -> None:
    """Each worker's writer batch writes copies of the same 40 stories, one in the opposite order of the other.
    Locks taken article by article would deadlock; the batch's keys, taken up front and sorted, cannot."""
    Store.open(store_url).close()
    context = multiprocessing.get_context("fork")
    stories = list(range(40))
    with context.Pool(2) as pool:
        barrier = context.Manager().Barrier(2)
        deadlocks = pool.starmap(
            _batches_in_order, [(store_url, stories, barrier), (store_url, stories[::-1], barrier)]
        )
    assert deadlocks == [0, 0]
    with Store.open(store_url) as store:
        matches = store.list_matches()
    assert len(matches) == 80 and len({m.story for m in matches}) == 40
    assert sum(len(m.deliveries) for m in matches) == 40  # one alert per story


@on_postgresql
def test_a_batch_ended_by_a_deadlock_is_written_again_whole(store_url: str) -> None:
    """A real deadlock between the writer's batch and another session: PostgreSQL ends the batch (its deadlock
    check runs first), the writer runs the whole batch again, and every call's result arrives once."""
    with Store.open(store_url) as store:
        admin = create_engine(store_url)
        ours, theirs = threading.Event(), threading.Event()
        attempts: list[int] = []

        def crossing() -> str:  # the writer's side: lock 1, then 2 (the other side holds 2, then wants 1)
            attempts.append(1)
            batch_conn = store._batch.conn
            batch_conn.execute(text("SELECT pg_advisory_xact_lock(1)"))
            if len(attempts) == 1:
                ours.set()
                assert theirs.wait(60)
            batch_conn.execute(text("SELECT pg_advisory_xact_lock(2)"))
            return "crossed"

        def other_side() -> None:
            with admin.begin() as conn:
                conn.execute(text("SET LOCAL deadlock_timeout = '30s'"))  # so the writer's session is the victim
                conn.execute(text("SELECT pg_advisory_xact_lock(2)"))
                assert ours.wait(60)
                theirs.set()
                conn.execute(text("SELECT pg_advisory_xact_lock(1)"))

        async def main() -> tuple[AddResult, str]:
            with StoreWriter(store) as writer:
                return await asyncio.gather(
                    writer.call(
                        store.add_article_with_matches,
                        article("https://a.example/1", text=_distinct_text(7)),
                        [match()],
                        plan_to("chat"),
                    ),
                    writer.call(crossing),
                )

        side = threading.Thread(target=other_side, daemon=True)
        side.start()
        try:
            stored, crossed = asyncio.run(main())
        finally:
            side.join(60)
            admin.dispose()
        assert crossed == "crossed" and len(attempts) == 2
        assert stored.new_story and store.count_articles() == 1
        assert sum(len(m.deliveries) for m in store.list_matches()) == 1


def test_copies_of_one_story_share_a_lock_key_and_other_stories_do_not() -> None:
    one, copy = (
        article("https://a.example/1", text=_distinct_text(1)),
        article("https://b.example/2", text=_distinct_text(1)),
    )
    other = article("https://c.example/3", text=_distinct_text(2))
    assert set(story_lock_keys(one)) & set(story_lock_keys(copy))
    assert not set(story_lock_keys(one)) & set(story_lock_keys(other))
    assert story_lock_keys(one) == sorted(story_lock_keys(one))
