"""The daemon: an APScheduler timer that runs the pipeline's tick, reloads rules, and stops cleanly.

Inputs: Settings and an open Store. Every tick one job starts a task for each due feed that is not already being
polled (per-feed interval), so a slow feed delays only itself: each poll runs on its own, within
``scheduler.feed_timeout``. Another job delivers pending alerts and due digests, so a long poll never holds back
alerts. A rule file that changes is reloaded; a bad edit keeps the last good rule set and logs the error.
SIGTERM and SIGINT give running polls a short grace, then cancel them (each article is its own transaction, so
nothing is left half-written) and exit.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.config import Settings
from monitor.errors import MonitorError
from monitor.extract import ExtractorPool
from monitor.fetch import Fetcher, Resolver
from monitor.notify import Notifier
from monitor.pipeline import Context, FeedResult, due_feeds, parallel_polls, poll_due, poll_feed, utcnow
from monitor.rules import RuleSet, folder_rule_files, load_rules
from monitor.store import Store

__all__ = ["Daemon", "RuleWatcher", "SHUTDOWN_GRACE", "run_cycle"]

_log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 5.0  # seconds running polls get to finish after SIGTERM before they are cancelled


class RuleWatcher:
    """Holds the current rule set and reloads it when a rule file changes; a bad edit keeps the last good set."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._fingerprint = self._scan()
        self._rules = self._load()  # errors at start are fatal: the caller exits 2
        self.last_error: str | None = None

    def current(self) -> RuleSet:
        return self._rules

    def refresh(self) -> bool:
        """Reload if any rule file was added, removed or changed. Returns True when a new set is in force."""
        fingerprint = self._scan()
        if fingerprint == self._fingerprint:
            return False
        self._fingerprint = fingerprint
        try:
            self._rules = self._load()
        except MonitorError as e:
            self.last_error = str(e)
            for error in getattr(e, "errors", None) or [e]:
                _log.error("rules not reloaded, keeping the last good set error=%r", str(error))
            return False
        self.last_error = None
        _log.info("rules reloaded rules=%d", len(self._rules.rules))
        return True

    def _load(self) -> RuleSet:
        settings = self._settings
        return load_rules(
            list(settings.rules.paths),
            known_feeds=[f.name for f in settings.feeds] + [t for f in settings.feeds for t in f.tags],
            known_channels=list(settings.channels),
        )

    def _files(self) -> Iterator[Path]:
        for root in self._settings.rules.paths:
            if root.is_file():
                yield root
            elif root.is_dir():
                yield from folder_rule_files(root)  # the files load_rules reads, so hidden ones are not watched

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        out = []
        for path in self._files():
            try:
                stat = path.stat()
            except OSError:
                continue
            out.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(out)


async def run_cycle(
    settings: Settings,
    store: Store,
    rules: Callable[[], RuleSet],
    *,
    due_only: bool,
    force: bool = False,
    names: tuple[str, ...] = (),
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
    clock: Callable[[], datetime] = utcnow,
    extractor: ExtractorPool | None = None,
) -> list[FeedResult]:
    """One poll cycle (``monitor poll``, ``monitor demo``), with a fresh extractor pool unless one is given."""
    async with AsyncExitStack() as stack:
        fetcher = await stack.enter_async_context(Fetcher(settings.fetch, transport=transport, resolver=resolver))
        if extractor is None:
            extractor = stack.enter_context(
                ExtractorPool(settings.fetch.extract_processes, timeout=settings.fetch.extract_timeout)
            )
        ctx = Context(settings, store, fetcher, rules, extractor, clock)
        return await poll_due(ctx, due_only=due_only, force=force, names=names)


class Daemon:
    """``monitor run``: poll due feeds every tick, deliver alerts, until SIGTERM/SIGINT."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        clock: Callable[[], datetime] = utcnow,
        extractor: ExtractorPool | None = None,
    ) -> None:
        self.settings = settings
        self._extractor = extractor  # None: the daemon starts its own pool (a given one is shared, not closed)
        self.store = store
        self.rules = RuleWatcher(settings)
        self._transport = transport
        self._resolver = resolver
        self._clock = clock
        self._stop = asyncio.Event()
        self._polls: dict[int, asyncio.Task[FeedResult]] = {}  # feed id -> its running poll: one at a time
        self._sending = asyncio.Lock()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Run until stopped. Running polls get ``SHUTDOWN_GRACE``, then are cancelled; a delivery run finishes."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        self.store.sync_feeds(self.settings.feeds)
        for warning in (*self.settings.warnings, *self.rules.current().warnings):
            _log.warning("configuration warning: %s", warning)
        async with AsyncExitStack() as stack:
            fetcher = await stack.enter_async_context(
                Fetcher(self.settings.fetch, transport=self._transport, resolver=self._resolver)
            )
            extractor = self._extractor if self._extractor is not None else stack.enter_context(
                ExtractorPool(self.settings.fetch.extract_processes, timeout=self.settings.fetch.extract_timeout)
            )
            notifier = Notifier(self.settings, self.store, rules=self.rules.current, clock=self._clock)
            ctx = Context(self.settings, self.store, fetcher, self.rules.current, extractor, self._clock)
            scheduler = AsyncIOScheduler(timezone="UTC")
            # Polling and delivering are separate jobs, so a long poll never holds back the alerts already due.
            for job, args in ((self._start_polls, [ctx]), (self._deliver, [notifier])):
                scheduler.add_job(
                    job, "interval", args=args, seconds=self.settings.scheduler.tick,
                    next_run_time=datetime.now().astimezone(), max_instances=1, coalesce=True,
                    misfire_grace_time=None,
                )
            scheduler.start()
            _log.info("daemon started feeds=%d rules=%d", len(self.store.list_feeds()), len(self.rules.current().rules))
            try:
                await self._stop.wait()
            finally:
                await self._stop_polls(ctx)  # no job starts new work once stopped
                async with self._sending:  # let a running delivery run record its outcomes
                    pass
                scheduler.shutdown(wait=False)  # last: it cancels running jobs (a Traceback for a delivery run)
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
        _log.info("daemon stopped")

    async def _start_polls(self, ctx: Context) -> None:
        """Start a task for each due feed not already being polled; the tick never waits for a poll."""
        if self._stop.is_set():
            return
        await asyncio.to_thread(self.rules.refresh)  # a big rule file takes seconds to load: not on the loop
        room = parallel_polls(self.settings) - len(self._polls)
        try:
            due = due_feeds(ctx, self._clock(), room, busy=self._polls.keys())
        except MonitorError as e:  # the database is down: try again next tick
            _log.error("due feeds not read error=%r", str(e))
            return
        for feed in due:
            task = asyncio.create_task(poll_feed(feed, ctx), name=f"poll {feed.name}")
            self._polls[feed.id] = task
            task.add_done_callback(functools.partial(self._poll_done, feed.id))

    def _poll_done(self, feed_id: int, task: asyncio.Task[FeedResult]) -> None:
        self._polls.pop(feed_id, None)
        if not task.cancelled() and task.exception() is not None:  # poll_feed records its failures: a bug
            _log.error("feed poll crashed feed_id=%d", feed_id, exc_info=task.exception())

    async def _stop_polls(self, ctx: Context) -> None:
        """Let running polls finish within ``SHUTDOWN_GRACE``, then cancel the rest. A cancelled poll records
        nothing (its stored articles stay, each its own transaction) and its feed is due again at once."""
        running = dict(self._polls)
        if not running:
            return
        _, late = await asyncio.wait(running.values(), timeout=SHUTDOWN_GRACE)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        cancelled = [feed_id for feed_id, task in running.items() if task in late]
        if cancelled:
            _log.info("polls cancelled at shutdown feeds=%d", len(cancelled))
            try:
                ctx.store.release_feeds(cancelled, self._clock())
            except MonitorError as e:  # their claims then end with the lease
                _log.error("cancelled feeds not released error=%r", str(e))

    async def _deliver(self, notifier: Notifier) -> None:
        if self._stop.is_set():
            return
        async with self._sending:
            now = self._clock()
            await asyncio.to_thread(notifier.send_due, now)
            await asyncio.to_thread(notifier.send_digests, now)
