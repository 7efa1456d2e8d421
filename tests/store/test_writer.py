"""The store writer: many writes to a transaction, each still whole, each failure its own (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sqlalchemy import text

from monitor.errors import StoreError
from monitor.store import PlannedDelivery, Store
from monitor.store.writer import MAX_BATCH_LOCKS, StoreWriter
from tests.store.test_store import article, match, plan_to


def _broken_plan(story_id: int, new_story: bool) -> list[PlannedDelivery]:
    raise RuntimeError("routing bug")


def test_a_batch_commits_every_article_with_its_matches_and_deliveries(store: Store) -> None:
    with store.batch():
        for i in range(3):
            store.add_article_with_matches(
                article(f"https://a.example/{i}", text=f"story {i} " * 20), [match()], plan_to("chat")
            )
    matches = store.list_matches()
    assert store.count_articles() == 3 and len(matches) == 3
    assert all(len(m.deliveries) == 1 for m in matches)


def test_a_failing_write_in_a_batch_rolls_back_alone(store: Store) -> None:
    with store.batch():
        store.add_article_with_matches(
            article("https://a.example/1", text="first story " * 20), [match()], plan_to("chat")
        )
        with pytest.raises(RuntimeError, match="routing bug"):  # its article and matches go with it
            store.add_article_with_matches(
                article("https://a.example/2", text="second story " * 20), [match()], _broken_plan
            )
        store.add_article_with_matches(
            article("https://a.example/3", text="third story " * 20), [match()], plan_to("chat")
        )
    urls = sorted(m.article.url for m in store.list_matches())
    assert urls == ["https://a.example/1", "https://a.example/3"] and store.count_articles() == 2


def test_a_batch_that_fails_stores_nothing(store: Store) -> None:
    with pytest.raises(KeyboardInterrupt), store.batch():
        store.add_article_with_matches(article("https://a.example/1"), [match()], plan_to("chat"))
        raise KeyboardInterrupt  # the process stopped mid-batch: the transaction is never committed
    assert store.count_articles() == 0 and store.list_matches() == []


def test_the_writer_gives_each_caller_its_own_result(store: Store) -> None:
    async def main() -> list[Any]:
        with StoreWriter(store) as writer:
            calls = [
                writer.call(
                    store.add_article_with_matches,
                    article("https://a.example/1", text="one " * 20),
                    [match()],
                    plan_to("chat"),
                ),
                writer.call(
                    store.add_article_with_matches,
                    article("https://a.example/2", text="two " * 20),
                    [match()],
                    _broken_plan,
                ),
                writer.call(
                    store.add_article_with_matches,
                    article("https://a.example/3", text="three " * 20),
                    [],
                    plan_to("chat"),
                ),
            ]
            return await asyncio.gather(*calls, return_exceptions=True)

    first, second, third = asyncio.run(main())
    assert not first.duplicate and first.match_ids and first.deliveries_created == 1
    assert isinstance(second, RuntimeError)
    assert not third.duplicate and third.match_ids == ()
    assert store.count_articles() == 2


def test_the_writer_runs_off_the_calling_thread_and_batches_what_queued(store: Store) -> None:
    threads: set[str] = set()

    def write(i: int) -> int:
        threads.add(threading.current_thread().name)
        store.mark_entries_seen(None, [])  # a write inside the batch
        return i

    async def main() -> list[int]:
        with StoreWriter(store) as writer:
            return list(await asyncio.gather(*(writer.call(write, i) for i in range(50))))

    assert asyncio.run(main()) == list(range(50))
    assert threads == {"monitor-store-writer"}


def test_a_commit_that_fails_fails_every_caller_of_its_batch(store: Store) -> None:
    store.close()  # every transaction fails: its callers get the StoreError, and the writer goes on

    async def main() -> list[Any]:
        with StoreWriter(store) as writer:
            return await asyncio.gather(*(writer.call(store.count_articles) for _ in range(3)), return_exceptions=True)

    assert all(isinstance(r, StoreError) for r in asyncio.run(main()))


def test_a_read_inside_a_batch_sees_the_batch_writes(store: Store) -> None:
    feed = store.add_feed("wire", "https://wire.example/feed")
    with store.batch():
        store.mark_entries_seen(feed.id, ["guid-1"])
        assert store.unseen_entries(feed.id, ["guid-1", "guid-2"]) == {"guid-2"}
    assert store.unseen_entries(feed.id, ["guid-1", "guid-2"]) == {"guid-2"}


def test_a_batch_holds_a_bounded_number_of_story_locks_on_postgresql(store: Store) -> None:
    """PostgreSQL's lock table is shared by every connection (64 locks each by default): a first poll's batch of
    200 articles took 5,400 story locks, and three workers ran the server out of shared memory."""
    if store.dialect != "postgresql":
        pytest.skip("story locks are PostgreSQL's")
    texts = [" ".join(f"w{i}x{j}" for j in range(400)) for i in range(60)]  # unrelated texts: ~27 keys each
    held: list[int] = []

    def count_locks() -> None:  # runs inside the batch, after its locks were taken
        conn = store._batch.conn
        held.append(
            conn.execute(
                text("SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'")
            ).scalar_one()
        )

    async def main() -> None:
        with StoreWriter(store) as writer:
            calls = []
            for i, body in enumerate(texts):
                calls.append(
                    writer.call(
                        store.add_article_with_matches,
                        article(f"https://a.example/{i}", text=body),
                        [match()],
                        plan_to("chat"),
                    )
                )
                calls.append(writer.call(count_locks))
            await asyncio.gather(*calls)

    asyncio.run(main())
    assert store.count_articles() == 60
    assert held and max(held) <= MAX_BATCH_LOCKS
    assert max(held) > 27  # several articles still share a batch
