"""The store's writer thread: the writes of every running poll, off the event loop, many to a transaction.

Inputs: store calls (a bound method and its arguments) from coroutines. Output: each call's result or exception,
as the awaited value. One thread runs them in order; the calls queued while one batch ran form the next batch,
which runs inside ``Store.batch``: one transaction, each call a savepoint of it (a batch of one call is its own
transaction, without the savepoint: the feed-state writes of an all-304 cycle mostly come one at a time). So a poll of 500 feeds commits a
few dozen times, not once per article and feed, and the event loop never waits for the database.

What it keeps: each call commits whole or not at all (an article, its matches and deliveries together); a call
that fails rolls back alone and raises its own error to its caller; a commit that fails raises its error to every
caller of that batch, and nothing of it is stored (their entries stay unseen, so the next poll retries them). A
``kill -9`` loses the batch being written and nothing committed. A caller cancelled while waiting (a poll's time
budget) does not stop its call: what it stores is kept, as a finished write would be.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from monitor.store.articles import ArticleStore
from monitor.store.base import StoreBase

__all__ = ["DEADLOCK_ATTEMPTS", "MAX_BATCH", "MAX_BATCH_LOCKS", "StoreWriter", "deadlocked"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: Calls per transaction at most: a batch holds SQLite's write lock, so other processes wait for it this long.
MAX_BATCH = 200
#: PostgreSQL: story locks one batch takes at most. An article takes about 27 (its story keys), and the server's
#: lock table is shared by every connection (64 per connection by default): 200 articles' 5,400 locks per worker
#: ran it out of memory with three workers, so a batch ends before its locks would pass this.
MAX_BATCH_LOCKS = 256
#: Times a batch that PostgreSQL ended as a deadlock's victim is written (the last time, its other calls commit).
DEADLOCK_ATTEMPTS = 5


@dataclass
class _Call:
    function: Callable[..., Any]
    args: tuple[Any, ...]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    locks: frozenset[int] = frozenset()  # the story lock keys it takes (PostgreSQL)


class StoreWriter:
    """A thread that runs store writes in batches; ``await writer.call(store.method, *args)``. Close it (or use
    it as a context manager) to let it finish the queued calls and stop."""

    def __init__(self, store: StoreBase, *, max_batch: int = MAX_BATCH) -> None:
        self._store = store
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="monitor-store-writer", daemon=True)
        self._thread.start()

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Finish the queued calls, then stop the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    async def call(self, function: Callable[..., _T], *args: Any) -> _T:
        """``function(*args)`` in the writer thread, in the next batch; its result, or its exception raised."""
        if not self._thread.is_alive():
            raise RuntimeError("the store writer is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        self._queue.put(_Call(function, args, loop, future))
        return await future

    def _run(self) -> None:
        carried: _Call | None = None  # the call that would have passed a batch's lock bound: the next batch's first
        while True:
            first = carried if carried is not None else self._queue.get()
            carried = None
            if first is None:
                return
            first = self._with_locks(first)
            calls, stop, locks = [first], False, set(first.locks)
            while len(calls) < self._max_batch:
                try:
                    queued = self._queue.get_nowait()
                except queue.Empty:
                    break
                if queued is None:
                    stop = True
                    break
                queued = self._with_locks(queued)
                if len(locks | queued.locks) > MAX_BATCH_LOCKS:
                    carried = queued
                    break
                locks |= queued.locks
                calls.append(queued)
            self._execute(calls)
            if stop:
                return

    def _with_locks(self, call: _Call) -> _Call:
        if isinstance(self._store, ArticleStore) and not call.locks:
            try:
                call.locks = frozenset(self._store._batch_story_keys(call.function, call.args))
            except Exception:  # this call's keys alone: it takes its own locks in its write, and fails there
                _log.debug("story lock keys not taken up front", exc_info=True)
        return call

    def _execute(self, calls: list[_Call]) -> None:
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            last = attempt == DEADLOCK_ATTEMPTS
            try:
                outcomes = self._transaction(calls, retry=not last)
            except Exception as e:  # the transaction failed (begin or commit): nothing of the batch is stored
                if deadlocked(e) and not last:
                    _log.info("store batch deadlocked, written again calls=%d attempt=%d", len(calls), attempt)
                    time.sleep(random.uniform(0.01, 0.1) * attempt)  # apart from the other side's own retry
                    continue
                _log.warning("store batch not written calls=%d error=%s", len(calls), type(e).__name__)
                outcomes = [(False, e)] * len(calls)
            break
        for call, (ok, value) in zip(calls, outcomes, strict=True):
            try:
                call.loop.call_soon_threadsafe(_settle, call.future, ok, value)
            except RuntimeError:  # that loop has closed: nobody waits for this result any more
                pass

    def _transaction(self, calls: list[_Call], *, retry: bool) -> list[tuple[bool, Any]]:
        """The calls in one transaction; with ``retry``, a call that deadlocked rolls the whole batch back (its
        error raised) so that it runs again with every lock released in between."""
        if len(calls) == 1:  # alone, its write is its own transaction: no savepoint (on PostgreSQL two round trips)
            return [self._alone(calls[0], retry=retry)]
        outcomes: list[tuple[bool, Any]] = []
        with self._store.batch():
            self._lock(calls)
            for call in calls:
                try:
                    outcomes.append((True, call.function(*call.args)))
                except Exception as e:  # this call's failure alone: its savepoint is rolled back
                    outcomes.append((False, e))
            deadlock = next((value for ok, value in outcomes if not ok and deadlocked(value)), None)
            if retry and deadlock is not None:
                raise deadlock
        return outcomes

    @staticmethod
    def _alone(call: _Call, *, retry: bool) -> tuple[bool, Any]:
        """A batch of one call, outside ``Store.batch``: the call's write commits (or fails) by itself, as a batch
        of it would; a deadlock is raised with ``retry``, for ``_execute`` to run it again."""
        try:
            return True, call.function(*call.args)
        except Exception as e:
            if retry and deadlocked(e):
                raise
            return False, e

    def _lock(self, calls: list[_Call]) -> None:
        """Take the story locks of every call of the batch first, in one sorted statement (PostgreSQL): locks
        taken call by call would come in each batch's own order, and two workers' batches could each hold a key
        the other waits for. The writes of the batch then wait for nothing else of another batch's but its row
        conflicts (two first alerts of one story, found through different keys): a deadlock there is rare, and
        retried (``_execute``)."""
        if isinstance(self._store, ArticleStore):
            self._store._lock_batch_story_keys(key for call in calls for key in call.locks)


def deadlocked(error: BaseException) -> bool:
    """True when ``error`` (or what caused it) is PostgreSQL's deadlock error (SQLSTATE 40P01): the transaction it
    ended is worth running again."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "sqlstate", None) == "40P01":
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # its caller was cancelled meanwhile
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
