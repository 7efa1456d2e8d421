"""This worker's claims on feeds: who polls what when several ``monitor run`` processes share one PostgreSQL.

Inputs: the store, ``[scheduler] claim_lease``, the feeds a worker is polling. Outputs: the feeds it may poll
(claimed for it), claims kept alive while polls run, and the polls to stop when a claim was lost.

A claim is a lease on the database's clock (``Store.claim_due_feeds``): a worker claims a share of the due feeds
(never a feed on a host another worker holds), renews its claims every third of the lease while their polls run
(``holding``), and its poll's state write ends the claim, or is refused if the claim lapsed (fencing:
``Store.update_feed_state(..., worker=WORKER)``). A worker that dies frees its feeds when its lease ends; one that
stalls past it finds its polls cancelled and its writes refused when it wakes. SQLite has one daemon and no
claims: every call here then answers at once (docs/design.md, Scale).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

from monitor.clock import worker_id
from monitor.config import Settings
from monitor.errors import MonitorError
from monitor.store import FeedRecord, FeedState, Store

__all__ = [
    "WORKER",
    "canceller",
    "claim",
    "holding",
    "off_loop",
    "poll_all",
    "poll_in_batches",
    "polling",
    "record_state",
    "recording",
    "release",
    "retire",
    "take_due",
    "unfinished",
]

_log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: This process as a claimant: ``host:pid:nonce``, so a restarted process (or one in another container with the
#: same host name and pid) is never mistaken for the one before it.
WORKER = worker_id(unique=True)
# Feeds whose poll has started writing its state: that write ends the claim, so a renewal that no longer finds it
# is not a lost claim (the poll is done, not stalled). A poll that starts takes its feed out again.
_RECORDING: set[int] = set()
# Claims, renewals and releases run in threads of their own: in the default executor they would queue behind DNS
# lookups and delivery runs (a channel that never answers holds a thread for its timeout), so a tick would claim
# nothing, a claim would lapse while its renewal waited, and a shutdown would wait for a release.
_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="monitor-claims")


async def off_loop(function: Callable[..., _T], *args: Any) -> _T:
    """``function(*args)``, a claim's store call, in the claims' own threads."""
    return await asyncio.get_running_loop().run_in_executor(_THREADS, functools.partial(function, *args))


def polling(feed_id: int) -> None:
    """A poll of this feed starts: its claim is renewed until it records its state."""
    _RECORDING.discard(feed_id)


def recording(feed_id: int) -> None:
    """This feed's poll writes its state now (and so ends its claim): renewals leave it alone."""
    _RECORDING.add(feed_id)


def record_state(store: Store, feed: FeedRecord, state: FeedState) -> bool:
    """Write a poll's state if this worker still holds the feed (fenced on PostgreSQL), ending the claim; a write
    refused is logged: the worker stalled past its lease and another may have polled the feed meanwhile."""
    if store.update_feed_state(feed.id, state, worker=WORKER):
        return True
    _log.warning(
        "feed state refused feed=%s: this worker no longer holds the feed (it stalled past scheduler.claim_lease "
        "and another worker may have polled it), or the feed was removed",
        feed.name,
    )
    return False


def take_due(
    store: Store, settings: Settings, now: datetime, limit: int | None = None, busy: Collection[int] = ()
) -> list[FeedRecord]:
    """Up to ``limit`` feeds due at ``now``, most overdue first, except ``busy`` ones; claimed for this worker
    on PostgreSQL (its share of them, on hosts no other worker holds)."""
    lease = settings.scheduler.claim_lease
    return store.take_due_feeds(now, lease=lease, worker=WORKER, limit=limit, busy=busy)


def claim(store: Store, settings: Settings, feed_ids: Collection[int]) -> set[int]:
    """Claim these feeds whether due or not (``monitor poll``, "poll now"); those held now. A feed another worker
    is polling is not taken from it."""
    return store.claim_feeds(feed_ids, lease=settings.scheduler.claim_lease, worker=WORKER)


def release(store: Store, feed_ids: Collection[int]) -> None:
    """End this worker's claims on feeds it will not poll after all (cancelled at shutdown, claimed twice):
    the others may take them at once. A store error only logs: the claims then end with their lease."""
    try:
        store.release_feeds(feed_ids, WORKER)
    except MonitorError as e:
        _log.error("feed claims not released, they end with their lease feeds=%d error=%r", len(feed_ids), str(e))


def retire(store: Store) -> None:
    """This worker stops: it no longer counts when the others divide the due feeds."""
    try:
        store.retire_worker(WORKER)
    except MonitorError as e:
        _log.error("worker not retired, it ages out error=%r", str(e))


async def poll_all(
    store: Store,
    settings: Settings,
    feeds: Collection[FeedRecord],
    poll: Callable[[FeedRecord], Awaitable[_T]],
    slots: int,
) -> list[tuple[FeedRecord, asyncio.Future[_T]]]:
    """Poll ``feeds`` (claimed already), ``slots`` at a time, their claims renewed until each poll ends; every
    (feed, finished poll), a poll stopped by a lost claim cancelled."""
    gate = asyncio.Semaphore(slots)

    async def gated(feed: FeedRecord) -> _T:
        async with gate:  # a feed's time budget starts when its poll does, not while it waits for a turn
            return await poll(feed)

    polls = {feed.id: asyncio.ensure_future(gated(feed)) for feed in feeds}
    if polls:
        async with holding(store, settings, unfinished(polls), canceller(polls)):
            try:
                await asyncio.wait(polls.values())
            except BaseException:
                await _stop(polls.values())
                raise
    return [(feed, polls[feed.id]) for feed in feeds]


async def _stop(polls: Collection[asyncio.Future[Any]]) -> None:
    """Cancel ``polls`` and wait for them to end: ``asyncio.wait``, unlike ``gather``, leaves its futures running
    when it is cancelled (shutdown, the caller's time limit), and they would outlive the session they use."""
    for poll in polls:
        poll.cancel()
    await asyncio.gather(*polls, return_exceptions=True)


async def poll_in_batches(
    store: Store,
    settings: Settings,
    take: Callable[[int], list[FeedRecord]],
    poll: Callable[[FeedRecord], Awaitable[_T]],
    slots: int,
) -> list[tuple[FeedRecord, asyncio.Future[_T]]]:
    """PostgreSQL (``monitor poll``): ``take(n)`` claims up to n due feeds, as poll slots free up, so workers and
    ``monitor poll`` runs sharing the database share a backlog too; each feed is polled at most once per call,
    under a renewed claim. Every (feed, finished poll), a poll stopped by a lost claim cancelled."""
    polls: dict[int, asyncio.Future[_T]] = {}
    feeds: dict[int, FeedRecord] = {}
    async with holding(store, settings, unfinished(polls), canceller(polls)):
        while True:
            room = slots - sum(not p.done() for p in polls.values())
            fresh = await off_loop(take, room) if room > 0 else []
            if again := [f.id for f in fresh if f.id in polls]:  # due again already (entries left over)
                await off_loop(release, store, again)
            for feed in fresh:
                if feed.id not in polls:
                    feeds[feed.id], polls[feed.id] = feed, asyncio.ensure_future(poll(feed))
            running = [p for p in polls.values() if not p.done()]
            if not running:
                break
            try:
                await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            except BaseException:
                await _stop(running)
                raise
    await off_loop(retire, store)
    return [(feeds[feed_id], done) for feed_id, done in polls.items()]


def unfinished(polls: Mapping[int, asyncio.Future[Any]]) -> Callable[[], list[int]]:
    """The ids of the polls still running, for ``holding``."""
    return lambda: [feed_id for feed_id, poll in polls.items() if not poll.done()]


def canceller(polls: Mapping[int, asyncio.Future[Any]]) -> Callable[[set[int]], None]:
    """What ``holding`` calls with lost claims: stop those polls (another worker may poll the feeds now)."""

    def cancel(feed_ids: set[int]) -> None:
        for feed_id in feed_ids:
            polls[feed_id].cancel()

    return cancel


@asynccontextmanager
async def holding(
    store: Store, settings: Settings, held: Callable[[], Collection[int]], lost: Callable[[set[int]], None]
) -> AsyncIterator[None]:
    """While the block runs, renew this worker's claims on the ``held()`` feeds every third of the lease (and its
    heartbeat), and call ``lost`` with the ids whose claim lapsed (the worker stalled past its lease: another
    may have the feed now, so their polls must stop). Nothing runs on SQLite."""
    if store.dialect != "postgresql":
        yield
        return
    task = asyncio.create_task(_renew(store, settings.scheduler.claim_lease, held, lost), name="renew feed claims")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _renew(
    store: Store, lease: float, held: Callable[[], Collection[int]], lost: Callable[[set[int]], None]
) -> None:
    while True:
        await asyncio.sleep(lease / 3)
        ids = set(held()) - _RECORDING
        try:  # in a thread of its own, not the store writer's queue: a long batch must not delay a renewal
            kept = await off_loop(functools.partial(store.renew_feed_claims, lease=lease, worker=WORKER), ids)
        except Exception as e:  # the database is away (or a bug): the claims hold until their lease ends; try again,
            # as a renewal loop that died would let every later poll's claim lapse unseen
            _log.warning("feed claims not renewed feeds=%d error=%s: %s", len(ids), type(e).__name__, e)
            continue
        if gone := (ids - kept) & (set(held()) - _RECORDING):  # a poll that ended its claim meanwhile is done
            _log.warning(
                "feed claims lost, their polls stop feeds=%d (this worker stalled past scheduler.claim_lease "
                "%gs; another worker may poll them now)",
                len(gone),
                lease,
            )
            lost(gone)
