"""The Python API: ``monitor.open(config)`` gives a ``Monitor``, the one way in for the CLI, the daemon and scripts.

In the manner of ``reader.make_reader``: one object holds the settings, the store and the current rules, and
offers what a user does with them (poll, deliver, match, read matches and feeds). ``monitor.pipeline`` still wires
the stages of a poll; this module only builds its collaborators (``session``) and calls it.

    with monitor.open("config.toml") as m:
        m.poll()
        m.deliver()
        for found in m.matches(since=...):
            ...
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from monitor.clock import now_utc
from monitor.config import Settings, load_settings
from monitor.extractpool import ExtractorPool
from monitor.feedhealth import FeedHealth, feed_health
from monitor.feedstate import OFFLINE_RETRY, offline, offline_state
from monitor.fetch import Fetcher
from monitor.notify import Notifier, SendReport
from monitor.offloop import responsive_loop
from monitor.pipeline import Context, FeedResult, poll_due
from monitor.rules import Document, Match, RuleSet
from monitor.rules.watch import RuleWatcher
from monitor.store import (
    DeliveryRecord,
    FeedRecord,
    JudgedMatch,
    Judgement,
    MatchDetail,
    MatchFilter,
    MatchPage,
    MatchRecord,
    RuleActivity,
    Store,
)
from monitor.store.writer import StoreWriter

if TYPE_CHECKING:
    import httpx

    from monitor.backtest import Backtest
    from monitor.fetch import Resolver
    from monitor.workbench import Trial

__all__ = ["Monitor", "open"]

_log = logging.getLogger(__name__)


def open(config: Settings | str | Path | None = None, *, store: Store | None = None) -> Monitor:  # noqa: A001
    """A ``Monitor`` on ``config`` (a ``Settings``, a config file, or None: ``$MONITOR_CONFIG`` else
    ``./config.toml`` else the defaults), its store opened and migrated and its rules loaded.

    Raises:
        ConfigError: the config file is invalid (one line, ``file:line``).
        RuleSetError: a rule file is invalid.
        StoreError: the database cannot be opened.
    """
    settings = config if isinstance(config, Settings) else load_settings(Path(config) if config else None)
    return Monitor(settings, store)


class Monitor:
    """Settings, store and rules, and what is done with them. Close it (or use it as a context manager)."""

    def __init__(
        self,
        settings: Settings,
        store: Store | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        clock: Callable[[], datetime] = now_utc,
        rules: RuleSet | Callable[[], RuleSet] | None = None,
    ) -> None:
        self.settings = settings
        self._given_rules = rules  # used as they are; None: the rule files of the settings, loaded on first use
        self._watcher: RuleWatcher | None = None
        self._owns_store = store is None
        self._store = store  # None: opened (and migrated) on first use
        self.clock = clock
        self._transport = transport
        self._resolver = resolver
        self._notifier: Notifier | None = None

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the store (when this ``Monitor`` opened it)."""
        if self._owns_store and self._store is not None:
            self._store.close()
            self._store = None

    @property
    def store(self) -> Store:
        """The database, opened and migrated on first use.

        Raises:
            StoreError: it cannot be opened.
        """
        if self._store is None:
            self._store = Store.open(self.settings.database.url)
        return self._store

    @property
    def watcher(self) -> RuleWatcher | None:
        """The rule files being watched (loaded on first use); None when the rules were given."""
        if self._watcher is None and self._given_rules is None:
            self._watcher = RuleWatcher(self.settings)
        return self._watcher

    @property
    def rules(self) -> RuleSet:
        """The rule set in force, loaded on first use (``reload_rules`` picks up edited rule files).

        Raises:
            RuleSetError: a rule file is invalid (at the first load; later a bad edit keeps the last good set).
        """
        watcher = self.watcher
        if watcher is not None:
            return watcher.current()
        given = self._given_rules
        return given if isinstance(given, RuleSet) else given()  # type: ignore[misc]

    def _rules(self) -> RuleSet:
        return self.rules

    def reload_rules(self) -> bool:
        """Reload the rule files if they changed; a bad edit keeps the last good set. True when a new set is in force."""
        watcher = self.watcher
        return watcher.refresh() if watcher is not None else False

    def sync_feeds(self) -> list[FeedRecord]:
        """Make the config's feeds the stored ones (the daemon and ``poll`` do this at start)."""
        return self.store.sync_feeds(self.settings.feeds)

    def feeds(self) -> list[FeedRecord]:
        """Every feed with its health, by name. Reads only: a config feed not stored yet (the daemon or ``poll``
        adds it at start) is listed as never polled, with id 0."""
        stored = self.store.list_feeds()
        known = {f.name for f in stored}
        now = self.clock()
        pending = [
            FeedRecord(
                id=0,
                name=f.name,
                url=f.url,
                tags=f.tags,
                enabled=True,
                interval=f.interval,
                full_text=f.full_text,
                source="config",
                etag=None,
                last_modified=None,
                last_polled=None,
                last_success=None,
                last_status=None,
                last_error=None,
                consecutive_failures=0,
                next_poll=None,
                retry_after_until=None,
                blocked_requests=0,
                created_at=now,
                config_url=f.url,
            )
            for f in self.settings.feeds
            if f.name not in known
        ]
        return sorted(stored + pending, key=lambda f: f.name)

    def feed_health(self, days: int = 7) -> list[FeedHealth]:
        """Every feed (as ``feeds``) with its articles per day over ``days`` days and whether it went silent
        (``monitor.feedhealth``)."""
        now = self.clock()
        return feed_health(self.feeds(), self.store.feed_activity(now, days=days), now, days=days)

    def poll_now(self, name: str) -> FeedResult | None:
        """Poll one feed now, even inside its back-off (the Feeds page's "poll now"); None: no such feed."""
        if self.store.get_feed(name) is None:
            if all(f.name != name for f in self.settings.feeds):
                return None
            self.sync_feeds()  # a config feed the daemon has not stored yet
        results = self.poll(feeds=[name], force=True)
        return results[0] if results else FeedResult(name, "skipped", error="the feed is disabled")

    def deliveries(
        self, *, status: str | None = None, channel: str | None = None, limit: int | None = 100
    ) -> list[DeliveryRecord]:
        """The outbox, newest first, optionally of one status and channel."""
        return self.store.list_deliveries(status=status, channel=channel, limit=limit)

    def delivery(self, delivery_id: int) -> DeliveryRecord | None:
        """One delivery of the outbox, or None."""
        return self.store.get_delivery(delivery_id)

    def delivery_counts(self) -> dict[str, int]:
        """Deliveries by status, over every channel."""
        return self.store.delivery_counts()

    def retry_delivery(self, delivery_id: int) -> DeliveryRecord | None:
        """Send a delivery whose last attempt failed again now: one more attempt (with whatever else is due); its
        record after it, or None when no such delivery (``Store.requeue_delivery``) has this id."""
        if not self.store.requeue_delivery(delivery_id, self.clock()):
            return None
        row = self.store.get_delivery(delivery_id)
        self.deliver(digests=row is not None and row.mode == "digest")
        return self.store.get_delivery(delivery_id)

    def matches(
        self, *, rule: str | None = None, since: datetime | None = None, limit: int | None = None
    ) -> list[MatchRecord]:
        """Stored matches, newest first, with their article and deliveries."""
        return self.store.list_matches(rule=rule, since=since, limit=limit)

    def browse_matches(
        self, where: MatchFilter | None = None, *, limit: int = 50, cursor: str | None = None
    ) -> MatchPage:
        """A page of stored matches newest first, filtered and searched (docs/web.md); ``next`` is the next page's
        cursor. ``InvalidCursorError`` for a cursor this store did not give."""
        return self.store.browse_matches(where, limit=limit, cursor=cursor)

    def match_detail(self, match_id: int) -> MatchDetail | None:
        """One stored match in full (article text, every rule that matched it, its story), or None."""
        return self.store.match_detail(match_id)

    def backtest(
        self,
        *,
        rule: str | None = None,
        query: str | None = None,
        text: str | None = None,
        days: float = 30.0,
        limit: int | None = None,
        source: str = "draft.yaml",
    ) -> Backtest:
        """What a rule would have matched among the articles stored in the last ``days`` days, compared with the
        stored matches of its id (``monitor.backtest.draft_for`` says which rule: ``rule``, ``query``, ``text``).
        Reads only: nothing is saved, alerted or written. ``limit``: items kept per status (counts are complete);
        ``source``: how errors name ``text`` (a file's path).

        Raises:
            RuleSetError, UnknownRuleError, ValueError: as ``draft_for``; StoreError.
        """
        from monitor.backtest import draft_for, run_backtest

        paths = self.settings.rules.paths
        draft, baseline = draft_for(self._rules, paths, rule=rule, query=query, text=text, source=source)
        return run_backtest(self.store, draft, days=days, compare_with=baseline, limit=limit, clock=self.clock)

    def try_rules(
        self,
        *,
        text: str | None = None,
        url: str | None = None,
        rule: str | None = None,
        query: str | None = None,
        rule_text: str | None = None,
    ) -> Trial:
        """The workbench: pasted ``text``, or the article at ``url`` (fetched through the SSRF guard, extracted), run
        through the rules in force (``rule``: explain that one; default: those that match), or through a draft
        (``query`` or ``rule_text``, as ``backtest``). Nothing is stored.

        Raises:
            ValueError: no text; FetchError, ExtractError: the URL; RuleSetError, UnknownRuleError: the rules.
        """
        from monitor.backtest import draft_for
        from monitor.workbench import fetch_article, text_document, try_document

        ruleset, explain = self.rules if query is None and rule_text is None else None, [rule] if rule else None
        if ruleset is None:
            draft, _ = draft_for(self._rules, self.settings.rules.paths, rule=rule, query=query, text=rule_text)
            ruleset, explain = draft.ruleset, [draft.rule.id]
        if url:
            doc = fetch_article(url, self.settings.fetch, transport=self._transport, resolver=self._resolver)
            return try_document(url, doc, ruleset, explain)
        return try_document("text", text_document(text or ""), ruleset, explain)

    def feedback(self, match_id: int, relevant: bool, *, by: str = "") -> Judgement | None:
        """Record an analyst's judgement of a stored match (replacing an earlier one); None: no such match."""
        return self.store.set_feedback(match_id, relevant, by, now=self.clock())

    def judged(self, rule: str) -> list[JudgedMatch]:
        """The judged matches of a rule id, oldest judgement first (``judgements.examples_yaml`` makes examples)."""
        return self.store.judged_matches(rule)

    def rule_activity(self, days: int = 30) -> dict[str, RuleActivity]:
        """Per rule id with stored matches: matches per day over the last ``days`` days, in the last 7 and 30
        days, and its last match."""
        return self.store.rule_activity(self.clock(), days)

    def match(self, documents: Iterable[Document]) -> Iterator[tuple[Document, Match]]:
        """Run the current rules over documents (nothing is stored): each (document, match), in input order."""
        for doc in documents:
            for found in self.rules.match(doc):
                yield doc, found

    @asynccontextmanager
    async def session(self, *, extractor: ExtractorPool | None = None) -> AsyncIterator[Context]:
        """The collaborators of polls: a fetcher and an extractor pool (a given pool is shared, not closed)."""
        settings = self.settings
        responsive_loop()  # threads parsing, matching and storing hand the loop the GIL within a millisecond
        async with AsyncExitStack() as stack:
            fetcher = await stack.enter_async_context(
                Fetcher(settings.fetch, transport=self._transport, resolver=self._resolver)
            )
            if extractor is None:
                extractor = stack.enter_context(
                    ExtractorPool(settings.fetch.extract_processes, timeout=settings.fetch.extract_timeout)
                )
            writer = stack.enter_context(StoreWriter(self.store))  # the polls' writes, off the loop, batched
            yield Context(settings, self.store, fetcher, self._rules, extractor, self.clock, writer)

    async def poll_async(
        self,
        *,
        feeds: Sequence[str] = (),
        force: bool = False,
        due_only: bool = False,
        extractor: ExtractorPool | None = None,
    ) -> list[FeedResult]:
        """One poll cycle: every enabled feed (``due_only``: those due), or the named ``feeds``; one result each."""
        async with self.session(extractor=extractor) as ctx:
            results = await poll_due(ctx, due_only=due_only, force=force, names=tuple(feeds))
        await asyncio.to_thread(self.settle_offline, results)
        return results

    def settle_offline(self, results: Sequence[FeedResult]) -> bool:
        """After a cycle in which every feed failed to resolve its host or find a route (``feedstate.offline``):
        the machine is offline, not the feeds broken. Their failure is not counted and they are due again after
        ``OFFLINE_RETRY`` seconds, not after a back-off. True when that was the case."""
        if not offline(results):
            return False
        now = self.clock()
        failed = {r.feed for r in results if r.status == "error"}
        for feed in self.store.list_feeds():
            if feed.name in failed:
                self.store.update_feed_state(feed.id, offline_state(feed.state, now))
        _log.warning(
            "offline: all %d feeds failed to resolve their host or reach the network; "
            "trying again in %g s, not backing off",
            len(failed),
            OFFLINE_RETRY,
        )
        return True

    def poll(self, *, feeds: Sequence[str] = (), force: bool = False, due_only: bool = False) -> list[FeedResult]:
        """``poll_async`` from synchronous code (it runs its own event loop)."""
        return asyncio.run(self.poll_async(feeds=feeds, force=force, due_only=due_only))

    @property
    def notifier(self) -> Notifier:
        """The sender of this monitor's alerts (made once: it remembers the senders it recovered)."""
        if self._notifier is None:
            self._notifier = Notifier(self.settings, self.store, rules=self._rules, clock=self.clock)
        return self._notifier

    def deliver(self, now: datetime | None = None, *, digests: bool = False) -> SendReport:
        """Send the alerts due now (and, with ``digests``, the digests due); every outcome is recorded."""
        report = self.notifier.send_due(now)
        return report + self.notifier.send_digests(now) if digests else report

    def run(self) -> None:
        """Run the daemon until SIGTERM or SIGINT (``monitor run``)."""
        from monitor.daemon import Daemon  # the daemon is built on this class

        asyncio.run(Daemon.of(self).run())
