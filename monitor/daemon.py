"""The daemon: an APScheduler timer that runs the pipeline's tick, reloads rules, and stops cleanly.

Inputs: a ``Monitor`` (``monitor.api``: settings, store, rules). Every tick one job starts a task for each due feed that is not already being
polled (per-feed interval), so a slow feed delays only itself: each poll runs on its own, within
``scheduler.feed_timeout``. Another job delivers pending alerts and due digests, so a long poll never holds back
alerts; a poll that stored new matches also starts a delivery run at once, so its alerts leave within seconds, not
at the next tick. A rule file that changes is reloaded; a bad edit keeps the last good rule set and logs the error.
It logs a start line and, when a tick's polls are done, one line for that cycle (``feedstate.summary``); a cycle
in which every feed failed to resolve its host or reach the network is retried in a minute (``Monitor.settle_offline``).
With ``[store] keep_articles`` a third job prunes old unmatched articles hourly (``monitor.retention``).
SIGTERM and SIGINT give running polls a short grace, then cancel them (each article commits whole, alone or in the
store writer's batch, so nothing is left half-written) and exit.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import functools
import logging
import re
import signal
import time
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from typing import Any

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor import claims
from monitor.api import Monitor
from monitor.clock import now_utc, worker_id
from monitor.config import Settings
from monitor.errors import MonitorError
from monitor.extractpool import ExtractorPool
from monitor.feedstate import summary
from monitor.fetch import Resolver
from monitor.leader import Leader
from monitor.notify import Notifier
from monitor.notify.redact import redact_credentials
from monitor.pipeline import Context, FeedResult, due_feeds, parallel_polls, poll_feed
from monitor.retention import RETENTION_EVERY, run_retention
from monitor.rules import RuleSet
from monitor.rules.watch import RuleWatcher
from monitor.store import FeedRecord, Store

__all__ = ["Daemon", "RuleWatcher", "SHUTDOWN_GRACE", "run_cycle"]

_log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 5.0  # seconds running polls get to finish after SIGTERM before they are cancelled
_OFF = re.compile(r"^channel ('.*'|\".*\") has no URL and is off")


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
    clock: Callable[[], datetime] = now_utc,
    extractor: ExtractorPool | None = None,
) -> list[FeedResult]:
    """One poll cycle with the given rules (``Monitor.poll_async``), with a fresh extractor pool unless one is given."""
    monitor = Monitor(settings, store, transport=transport, resolver=resolver, clock=clock, rules=rules)
    return await monitor.poll_async(feeds=names, force=force, due_only=due_only, extractor=extractor)


class Daemon:
    """``monitor run``: poll due feeds every tick, deliver alerts, until SIGTERM/SIGINT (``Monitor.run``)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        clock: Callable[[], datetime] = now_utc,
        extractor: ExtractorPool | None = None,
    ) -> None:
        self._setup(Monitor(settings, store, transport=transport, resolver=resolver, clock=clock), extractor)

    @classmethod
    def of(cls, monitor: Monitor, *, extractor: ExtractorPool | None = None) -> Daemon:
        """The daemon of an open ``Monitor`` (which it neither closes nor replaces)."""
        daemon = cls.__new__(cls)
        daemon._setup(monitor, extractor)
        return daemon

    def _setup(self, monitor: Monitor, extractor: ExtractorPool | None) -> None:
        self.monitor = monitor
        self.settings = monitor.settings
        self.store = monitor.store
        self.rules = monitor.watcher  # None when the monitor was given fixed rules
        self._extractor = extractor  # None: the daemon starts its own pool (a given one is shared, not closed)
        self._clock = monitor.clock
        self._stop = asyncio.Event()
        self._polls: dict[int, asyncio.Task[FeedResult]] = {}  # feed id -> its running poll: one at a time
        self._sending = asyncio.Lock()
        self._notifier: Notifier | None = None
        self._leader: Leader | None = None  # whether this worker sends digests (``_deliver``); made at its first run
        self._background: set[asyncio.Task[None]] = set()  # cycle summaries and deliveries a poll started
        self._last_tick = time.monotonic()  # when the poll job last ran (``readiness``); the start counts as one
        self._running: tuple[asyncio.AbstractEventLoop, Context] | None = None  # for ``poll_now`` from other threads

    def stop(self) -> None:
        self._stop.set()

    def readiness(self) -> str | None:
        """None while the scheduler ticks (its poll job ran within two ticks), else why not: ``/readyz``."""
        if self._stop.is_set():
            return "the daemon is stopping"
        tick = self.settings.scheduler.tick
        quiet = time.monotonic() - self._last_tick
        return None if quiet <= 2 * tick else f"the scheduler has not ticked for {quiet:.0f} s (tick {tick:g} s)"

    def poll_now(self, name: str) -> FeedResult | None:
        """Poll one feed now, from another thread (the web app's "poll now"), on the daemon's loop with its fetcher
        and extractors; a feed being polled gives that poll's result. None: no such feed."""
        if self._running is None:
            return self.monitor.poll_now(name)
        loop, ctx = self._running
        future = asyncio.run_coroutine_threadsafe(self._poll_now(name, ctx), loop)
        return future.result(timeout=self.settings.scheduler.feed_timeout + 60)

    async def _poll_now(self, name: str, ctx: Context) -> FeedResult | None:
        feed = await asyncio.to_thread(self.store.get_feed, name)
        if feed is None:
            return None
        if self._stop.is_set() or not feed.enabled:
            return FeedResult(
                name, "skipped", error="the daemon is stopping" if feed.enabled else "the feed is disabled"
            )
        running = self._polls.get(feed.id)
        if running is None:
            if not await claims.off_loop(claims.claim, self.store, self.settings, [feed.id]):
                return FeedResult(name, "skipped", error="another worker is polling it")
            running = self._start_poll(feed, ctx)
        return await asyncio.shield(running)

    def _claims_lost(self, feed_ids: set[int]) -> None:
        """Stop the polls whose claim lapsed (this process stalled past ``claim_lease``): another worker may be
        polling those feeds now, and their state writes would be refused anyway."""
        for feed_id in feed_ids:
            if (task := self._polls.get(feed_id)) is not None:
                task.cancel()

    async def run(self) -> None:
        """Run until stopped. Running polls get ``SHUTDOWN_GRACE``, then are cancelled; a delivery run finishes."""
        loop = asyncio.get_running_loop()
        web_socket = None
        if self.settings.web.enabled:  # the web app in this process, on this loop: it stops with the daemon
            from monitor.web.ops import listen, serve_web  # FastAPI is imported only when it is used

            web_socket = listen(self.settings.web.host, self.settings.web.port)  # first: an address in use stops us
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        self.monitor.sync_feeds()
        for warning in (*self.settings.warnings, *self.monitor.rules.warnings):
            _log.warning("configuration warning: %s", warning)
        held = claims.holding(self.store, self.settings, lambda: list(self._polls), self._claims_lost)
        async with self.monitor.session(extractor=self._extractor) as ctx, AsyncExitStack() as web, held:
            if web_socket is not None:
                _log.info("web app at %s", await web.enter_async_context(serve_web(self.monitor, self, web_socket)))
            self._running = (loop, ctx)
            notifier = self._notifier = self.monitor.notifier
            scheduler = AsyncIOScheduler(timezone="UTC")
            # Polling and delivering are separate jobs, so a long poll never holds back the alerts already due.
            for job, args in ((self._start_polls, [ctx]), (self._deliver, [notifier])):
                scheduler.add_job(
                    job,
                    "interval",
                    args=args,
                    seconds=self.settings.scheduler.tick,
                    next_run_time=datetime.now().astimezone(),
                    max_instances=1,
                    coalesce=True,
                    misfire_grace_time=None,
                )
            if self.settings.store.keep_articles is not None:  # retention: first a tick after the start, then hourly
                scheduler.add_job(
                    self._retain,
                    "interval",
                    seconds=RETENTION_EVERY,
                    next_run_time=datetime.now().astimezone() + timedelta(seconds=self.settings.scheduler.tick),
                    max_instances=1,
                    coalesce=True,
                    misfire_grace_time=None,
                )
            scheduler.start()
            _log.info(self._start_line())
            try:
                await self._stop.wait()
            finally:
                await self._stop_polls(ctx)  # no job starts new work once stopped
                await asyncio.gather(*self._background, return_exceptions=True)
                async with self._sending:  # let a running delivery run record its outcomes
                    pass
                scheduler.shutdown(wait=False)  # last: it cancels running jobs (a Traceback for a delivery run)
                if self._leader is not None:  # a clean stop hands the one-off jobs over at once
                    await asyncio.to_thread(self._leader.close)
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
                await claims.off_loop(claims.retire, self.store)
        _log.info("daemon stopped")

    async def _start_polls(self, ctx: Context) -> None:
        """Start a task for each due feed not already being polled; the tick never waits for a poll."""
        if self._stop.is_set():
            return
        self._last_tick = time.monotonic()
        await asyncio.to_thread(self.monitor.reload_rules)  # a big rule file takes seconds to load: not on the loop
        room = parallel_polls(self.settings) - len(self._polls)
        claim = asyncio.ensure_future(claims.off_loop(due_feeds, ctx, self._clock(), room, set(self._polls)))
        try:  # a claim is a database round trip (PostgreSQL): off the loop
            due = await asyncio.shield(claim)
        except asyncio.CancelledError:  # the scheduler stops while claiming: what it took goes back at once
            with contextlib.suppress(Exception):
                await claims.off_loop(claims.release, self.store, [feed.id for feed in await claim])
            return
        except MonitorError as e:  # the database is down: try again next tick
            _log.error("due feeds not read error=%r", str(e))
            return
        if self._stop.is_set():  # stopped while claiming: leave them to the other workers
            await claims.off_loop(claims.release, self.store, [feed.id for feed in due])
            return
        cycle = [self._start_poll(feed, ctx) for feed in due]
        if cycle:
            self._in_background(self._cycle_done(cycle, time.monotonic()))

    def _start_poll(self, feed: FeedRecord, ctx: Context) -> asyncio.Task[FeedResult]:
        task = asyncio.create_task(poll_feed(feed, ctx), name=f"poll {feed.name}")
        self._polls[feed.id] = task
        task.add_done_callback(functools.partial(self._poll_done, feed.id))
        return task

    def _poll_done(self, feed_id: int, task: asyncio.Task[FeedResult]) -> None:
        self._polls.pop(feed_id, None)
        if task.cancelled():
            return
        if task.exception() is not None:  # poll_feed records its failures: a bug
            _log.error("feed poll crashed feed_id=%d", feed_id, exc_info=task.exception())
        elif task.result().matched and self._notifier is not None:  # its alerts go now, not at the next tick
            self._in_background(self._deliver(self._notifier))

    def _in_background(self, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(job)
        self._background.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self._background.discard)

    async def _cycle_done(self, polls: list[asyncio.Task[FeedResult]], started: float) -> None:
        """When a tick's polls are done: one line for the cycle, and an offline cycle retried soon."""
        done = await asyncio.gather(*polls, return_exceptions=True)
        results = [r for r in done if isinstance(r, FeedResult)]
        failed = [r.feed for r in results if r.status == "error"]
        named = ", ".join(failed[:10]) + (f" and {len(failed) - 10} more" if len(failed) > 10 else "")
        _log.info(
            "poll cycle: %s in %.1f s%s",
            summary(results),
            time.monotonic() - started,
            f" (failed: {named})" if failed else "",
        )
        try:
            await asyncio.to_thread(self.monitor.settle_offline, results)
        except MonitorError as e:  # the database is down: the feeds keep their back-off
            _log.error("offline cycle not recorded error=%r", str(e))

    def _start_line(self) -> str:
        """What is running: feeds, rules, channels on and off, the database (without its credentials), the tick."""
        settings = self.settings
        off = []
        for warning in settings.warnings:
            if found := _OFF.match(warning):
                off.append(str(ast.literal_eval(found.group(1))))
        on = ", ".join(sorted(settings.channels)) or "none"
        url = settings.database.url  # a SQLite file by its path: the log redacts URL paths that look like tokens
        database = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else redact_credentials(url)
        feeds = len(self.store.list_feeds())
        return (
            f"monitor started: {feeds} feed{'' if feeds == 1 else 's'}, {len(self.monitor.rules.rules)} rules, "
            f"channels on: {on}; off: {', '.join(off) or 'none'}; database {database}; "
            f"tick {settings.scheduler.tick:g} s"
        )

    async def _stop_polls(self, ctx: Context) -> None:
        """Let running polls finish within ``SHUTDOWN_GRACE``, then cancel the rest. A cancelled poll records
        nothing (its stored articles stay, each committed whole) and its feed is due again at once."""
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
            await claims.off_loop(claims.release, ctx.store, cancelled)  # the other workers may take them at once

    async def _retain(self) -> None:
        """``[store] keep_articles``: prune old unmatched articles in small batches, off the loop, in the one worker
        that holds the jobs' lock (``monitor.leader``; every worker schedules it hourly, so a dead leader's next
        run is at most an hour late: retention is not urgent)."""
        if self._stop.is_set():
            return
        try:
            if not await asyncio.to_thread(self.jobs_leader().holds):
                return
            await asyncio.to_thread(run_retention, self.store, self.settings, self._clock(), self._stop.is_set)
        except MonitorError as e:  # the database is down or a batch failed: the rest waits for the next run
            _log.error("retention stopped error=%r", str(e))

    async def _deliver(self, notifier: Notifier) -> None:
        """Send the due alerts (every worker: claims share them out), then the due digests, in the one worker that
        holds the jobs' lock (``monitor.leader``): checked at every run, so another takes over within a tick."""
        if self._stop.is_set():
            return
        async with self._sending:
            now = self._clock()
            await asyncio.to_thread(notifier.send_due, now)
            if await asyncio.to_thread(self.jobs_leader().holds):
                await asyncio.to_thread(notifier.send_digests, now)

    def jobs_leader(self) -> Leader:
        """Whether this worker runs the one-off jobs (digests, retention): ``await asyncio.to_thread(
        daemon.jobs_leader().holds)`` before each run of one (a round trip; thread-safe). Made at first use;
        a stopped leader's session ends after four ticks idle."""
        if self._leader is None:
            tick = self.settings.scheduler.tick
            self._leader = Leader(self.settings.database.url, worker=worker_id(unique=True), idle_timeout=4 * tick)
        return self._leader
