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
from collections.abc import AsyncIterator, Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime

from monitor.clock import worker_id
from monitor.config import Settings
from monitor.errors import MonitorError
from monitor.store import FeedRecord, Store

__all__ = ["WORKER", "claim", "holding", "polling", "recording", "release", "retire", "take_due"]

_log = logging.getLogger(__name__)

#: This process as a claimant: ``host:pid:nonce``, so a restarted process (or one in another container with the
#: same host name and pid) is never mistaken for the one before it.
WORKER = worker_id(unique=True)
# Feeds whose poll has started writing its state: that write ends the claim, so a renewal that no longer finds it
# is not a lost claim (the poll is done, not stalled). A poll that starts takes its feed out again.
_RECORDING: set[int] = set()
# Renewals run in threads of their own: in the default executor they would queue behind DNS lookups, rule reloads
# and delivery runs, and a claim that lapses while waiting there stops polls that were fine.
_RENEWER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitor-claims")


def polling(feed_id: int) -> None:
    """A poll of this feed starts: its claim is renewed until it records its state."""
    _RECORDING.discard(feed_id)


def recording(feed_id: int) -> None:
    """This feed's poll writes its state now (and so ends its claim): renewals leave it alone."""
    _RECORDING.add(feed_id)


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
            renew = functools.partial(store.renew_feed_claims, ids, lease=lease, worker=WORKER)
            kept = await asyncio.get_running_loop().run_in_executor(_RENEWER, renew)
        except MonitorError as e:  # the database is away: the claims hold until their lease ends, try again
            _log.warning("feed claims not renewed feeds=%d error=%r", len(ids), str(e))
            continue
        if gone := (ids - kept) & (set(held()) - _RECORDING):  # a poll that ended its claim meanwhile is done
            _log.warning(
                "feed claims lost, their polls stop feeds=%d (this worker stalled past scheduler.claim_lease "
                "%gs; another worker may poll them now)",
                len(gone),
                lease,
            )
            lost(gone)
