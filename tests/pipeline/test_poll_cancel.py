"""A poll cycle that is cancelled (shutdown, the caller's time limit) stops its feeds' polls with it: they must not
outlive the session (fetcher, store writer, extraction pool) that they use."""

from __future__ import annotations

import asyncio

from monitor.claims import poll_all
from monitor.config import Settings
from monitor.store import FeedRecord, Store


def test_cancelling_a_cycle_cancels_the_polls_it_started(store: Store) -> None:
    store.sync_feeds(Settings.model_validate({"feeds": [{"name": "a", "url": "https://a.example/rss"}]}).feeds)
    ended: list[str] = []

    async def poll(feed: FeedRecord) -> None:
        try:
            await asyncio.sleep(30)
            ended.append("finished")
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise

    async def main() -> list[str]:
        cycle = asyncio.ensure_future(poll_all(store, Settings(), store.list_feeds(), poll, slots=4))
        await asyncio.sleep(0.1)
        cycle.cancel()
        await asyncio.gather(cycle, return_exceptions=True)
        return list(ended)  # when the cycle has ended, before the loop's own shutdown cancels what is left

    assert asyncio.run(main()) == ["cancelled"]
