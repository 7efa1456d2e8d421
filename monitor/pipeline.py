"""The pipeline: the only module that wires the stages together.

Inputs: a due feed (``FeedRecord``) and the collaborators in a ``Context``. Output: one ``FeedResult`` per feed.
fetch feed -> parse -> new entries only -> fetch pages -> extract -> dedup keys -> match -> store article,
matches and planned deliveries in one transaction -> record the feed's polling state.

Each unit has one boundary where any exception becomes a recorded failure of that unit alone: ``_guarded_entry``
for an entry (logged with its class, counted on the feed, its keys marked seen; the feed's other entries go on)
and ``poll_feed`` for a feed (recorded with back-off, and cancelled past ``scheduler.feed_timeout``). Parsing
and per-entry CPU work (``analysis``) run in threads, so a huge feed never holds the event loop and the other
feeds' polls: a feed's entries without pages are analysed in one CPU-thread call, an entry with a page when its
extraction is in.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from monitor import claims, dedup, metrics
from monitor.analysis import Analysis, Prepared, feed_sites, prepare, prepare_all
from monitor.clock import now_utc
from monitor.config import Settings
from monitor.errors import BlockedAddressError, FetchError, FetchTimeout, MonitorError
from monitor.extract import Extracted, charset_from_headers, extract_html
from monitor.extractpool import ExtractorPool
from monitor.feeds import FeedEntry
from monitor.feedstate import (
    backoff_delay,
    error_line,
    failed_state,
    follow_permanent,
    later,
    opened_feeds,
    pages_per_feed,
    parallel_polls,
    select_feeds,
)
from monitor.fetch import Fetcher, FetchResult
from monitor.offloop import in_thread, stored
from monitor.parsethread import parse_in_thread
from monitor.rules import RuleSet
from monitor.store import FeedRecord, FeedState, PlannedDelivery, Store, is_transient
from monitor.store.writer import StoreWriter

__all__ = [
    "Context",
    "FeedResult",
    "MAX_ENTRIES_PER_POLL",
    "Status",
    "backoff_delay",
    "due_feeds",
    "parallel_polls",
    "poll_due",
    "poll_feed",
    "select_feeds",
]

_log = logging.getLogger(__name__)

MAX_ENTRIES_PER_POLL = 200  # a feed that suddenly lists thousands of entries is worked through over several ticks

Status = Literal["ok", "not_modified", "skipped", "error"]


@dataclass(frozen=True)
class FeedResult:
    """What one poll of one feed did."""

    feed: str
    status: Status
    new: int = 0
    matched: int = 0
    error: str | None = None
    seconds: float = 0.0


@dataclass
class Context:
    """The collaborators of a poll. ``rules`` returns the current rule set (the daemon hot-reloads it)."""

    settings: Settings
    store: Store
    fetcher: Fetcher
    rules: Callable[[], RuleSet]
    extractor: ExtractorPool | None = None
    clock: Callable[[], datetime] = now_utc
    writer: StoreWriter | None = None  # None: each store write is its own transaction (in the store thread)
    opened: frozenset[tuple[str, str]] = field(init=False)  # (feed name, "allow_private[_links]") set in config

    def __post_init__(self) -> None:
        self.opened = opened_feeds(self.settings)


async def poll_due(
    ctx: Context, *, due_only: bool = True, force: bool = False, names: Sequence[str] = ()
) -> list[FeedResult]:
    """Poll the selected feeds (``due_only``: as ``due_feeds`` gives them), at most ``parallel_polls`` at once;
    one result per feed, skipped ones included. On PostgreSQL each feed is polled under this worker's claim,
    renewed while the polls run (``claims``); a feed another worker is polling is skipped."""
    now, slots, store = ctx.clock(), parallel_polls(ctx.settings), ctx.store
    take, poll = (lambda n: due_feeds(ctx, ctx.clock(), n)), (lambda feed: poll_feed(feed, ctx))
    if due_only and not names and store.dialect == "postgresql":  # a few at a time, as slots free up
        return [_outcome(f, done) for f, done in await claims.poll_in_batches(store, ctx.settings, take, poll, slots)]
    if due_only and not names:
        chosen, skipped = due_feeds(ctx, now), list[tuple[FeedRecord, str]]()
    else:
        feeds = [f for f in await asyncio.to_thread(store.list_feeds) if not names or f.name in names]
        chosen, skipped = select_feeds(feeds, now, due_only=due_only, force=force or bool(names))
        held = await claims.off_loop(claims.claim, store, ctx.settings, [f.id for f in chosen])
        skipped += [(f, "another worker is polling it") for f in chosen if f.id not in held]
        chosen = [f for f in chosen if f.id in held]
    polled = await claims.poll_all(store, ctx.settings, chosen, poll, slots)
    return [FeedResult(f.name, "skipped", error=why) for f, why in skipped] + [_outcome(f, d) for f, d in polled]


def _outcome(feed: FeedRecord, poll: asyncio.Future[FeedResult]) -> FeedResult:
    """A finished poll's result; one stopped because its claim was lost is a skip that says so."""
    if poll.cancelled():
        return FeedResult(feed.name, "skipped", error="its claim was lost (scheduler.claim_lease)")
    return poll.result()


def due_feeds(ctx: Context, now: datetime, limit: int | None = None, busy: Collection[int] = ()) -> list[FeedRecord]:
    """Up to ``limit`` feeds due at ``now``, most overdue first, except ``busy`` ones, taken for this process
    (``claims.take_due``: on PostgreSQL claimed on the database's clock). A blocking store call."""
    return claims.take_due(ctx.store, ctx.settings, now, limit, busy)


@dataclass
class _Tally:
    """What one poll counts on its feed (SSRF refusals, failed entries) and its pages at once (``pages_per_feed``)."""

    pages: asyncio.Semaphore
    blocked: list[str] = field(default_factory=list)
    failed: int = 0
    last_failure: str | None = None
    unstored: int = 0  # entries a transient store error left unstored (retried next poll)


async def poll_feed(feed: FeedRecord, ctx: Context) -> FeedResult:
    """One poll of one feed, end to end, within ``scheduler.feed_timeout``. A failure is recorded on the feed
    and returned, never raised (cancellation excepted: then nothing is recorded, and entries stored so far stay)."""
    started = time.monotonic()
    now = ctx.clock()
    claims.polling(feed.id)
    tally = _Tally(asyncio.Semaphore(pages_per_feed(ctx.settings)))
    budget = asyncio.timeout(ctx.settings.scheduler.feed_timeout)
    try:
        async with budget:
            new, matched, state = await _poll(feed, ctx, now, tally)
        result = FeedResult(feed.name, state.last_status, new, matched)  # type: ignore[arg-type]
    except MonitorError as e:
        if isinstance(e, BlockedAddressError):
            tally.blocked.append(feed.url)
        state = _failed_state(feed, ctx, now, e)
        result = FeedResult(feed.name, "error", error=state.last_error)
    except Exception as e:
        if isinstance(e, TimeoutError) and budget.expired():
            e = FetchTimeout(
                f"poll cancelled after scheduler.feed_timeout "
                f"({ctx.settings.scheduler.feed_timeout:g}s); stored entries are kept",
                url=feed.url,
            )
        else:  # a bug: log it with its traceback, but one bad feed never stops the others
            _log.exception("feed crashed feed=%s", feed.name)
        state = _failed_state(feed, ctx, now, e)
        result = FeedResult(feed.name, "error", error=state.last_error)
    await _record(feed, ctx, state, tally)
    seconds = time.monotonic() - started
    _log.info(
        "feed polled feed=%s status=%s new=%d matched=%d seconds=%.2f%s",
        feed.name,
        result.status,
        result.new,
        result.matched,
        seconds,
        f" error={result.error!r}" if result.error else "",
    )
    return FeedResult(result.feed, result.status, result.new, result.matched, result.error, seconds)


def _interval(feed: FeedRecord, ctx: Context) -> float:
    return float(feed.interval or ctx.settings.scheduler.poll_interval)


def _failed_state(feed: FeedRecord, ctx: Context, now: datetime, error: BaseException) -> FeedState:
    return failed_state(feed, now, error, interval=_interval(feed, ctx), max_backoff=ctx.settings.fetch.max_backoff)


async def _poll(feed: FeedRecord, ctx: Context, now: datetime, tally: _Tally) -> tuple[int, int, FeedState]:
    with metrics.feed_fetch():  # timed and its failure counted for /metrics
        response = await ctx.fetcher.fetch(
            feed.url,
            etag=feed.etag,
            last_modified=feed.last_modified,
            allow_private=(feed.name, "allow_private") in ctx.opened,
            lane="feed",
        )
    url, redirect_pending = follow_permanent(feed, response.permanent_url)
    ok = replace(
        feed.state,
        url=url,
        redirect_pending=redirect_pending,
        etag=response.etag or (feed.etag if response.not_modified else None),
        last_modified=response.last_modified or (feed.last_modified if response.not_modified else None),
        last_polled=now,
        last_success=now,
        last_status="not_modified" if response.not_modified else "ok",
        last_error=None,
        consecutive_failures=0,
        next_poll=later(now, _interval(feed, ctx)),
        retry_after_until=None,
    )
    if response.not_modified:
        return 0, 0, ok
    parsed = await parse_in_thread((ctx.store, feed.id), response.body, response.final_url, response.headers)
    entries, sites = await _new_entries(feed, parsed.entries, ctx)
    if len(entries) > MAX_ENTRIES_PER_POLL:
        # Take the rest on the next tick: forget the validators, or a 304 would hide the entries left over.
        entries = entries[:MAX_ENTRIES_PER_POLL]
        ok = replace(ok, etag=None, last_modified=None, next_poll=now)
    analysis = Analysis(feed, sites, ctx.settings, ctx.clock)
    if _full_text(feed, ctx):  # each entry analysed as its page comes in
        work = [_process_entry(feed, entry, keys, ctx, analysis, tally) for entry, keys in entries]
    else:  # every entry's text is in the feed: the feed's entries analysed in one CPU-thread call
        work = [_store(ctx, prepared) for prepared in await _prepare_all(analysis, ctx, entries)]
    keys = [k for _, k in entries]
    results = await asyncio.gather(*(_guarded_entry(feed, k, ctx, tally, w) for k, w in zip(keys, work, strict=True)))
    if tally.unstored:  # the database was gone for a moment: forget the validators, or a 304 hides those entries
        ok = replace(ok, etag=None, last_modified=None)
    return len(entries), sum(results), ok


async def _new_entries(
    feed: FeedRecord, entries: Sequence[FeedEntry], ctx: Context
) -> tuple[list[tuple[FeedEntry, tuple[str, ...]]], frozenset[str]]:
    """Entries whose GUID and canonical URL this feed has never shown (each feed's first poll: all of them), with
    their keys; and the sites the feed owns.

    Keys are made in a CPU thread and looked up in the store's (in chunks): a feed of 95k items must not stall
    every other feed's poll."""
    keyed, sites = await in_thread(
        lambda: ([(entry, dedup.entry_keys(entry.guid, entry.url)) for entry in entries], feed_sites(feed))
    )
    new = await stored(ctx.writer, ctx.store.unseen_entries, feed.id, [k for _, ks in keyed for k in ks])
    return [(e, ks) for e, ks in keyed if ks and all(k in new for k in ks)], sites


async def _prepare_all(
    analysis: Analysis, ctx: Context, entries: Sequence[tuple[FeedEntry, tuple[str, ...]]]
) -> list[Prepared | Exception]:
    """``analysis.prepare_all`` in a CPU thread; were that call itself to fail, each entry fails with its error."""
    try:
        return await in_thread(prepare_all, analysis, ctx.rules(), entries)
    except Exception as e:  # cancellation passes, as it would each entry's own hop
        return [e] * len(entries)


async def _guarded_entry(
    feed: FeedRecord, keys: tuple[str, ...], ctx: Context, tally: _Tally, work: Awaitable[int]
) -> int:
    """The entry boundary: any exception while processing one entry (``work``: page, extraction, matching,
    storing) fails that entry alone. It is logged with its class, counted on the feed and its ``keys`` are marked
    seen, so it is not retried at every poll; the feed's other entries are stored and the feed's poll succeeds."""
    try:
        return await work
    except Exception as e:  # cancellation (BaseException) passes: the feed's budget or shutdown
        if is_transient(e):  # the database is locked or gone for a moment: nothing lost, retried next poll
            tally.unstored += 1
            _log.warning(
                "entry not stored, retried next poll feed=%s entry=%r error=%s", feed.name, keys[:1], error_line(e)
            )
            return 0
        tally.failed += 1
        tally.last_failure = error_line(e, prefix=f"{keys[0] if keys else 'entry'}: ", name_class=True)
        _log.warning(
            "entry failed feed=%s entry=%r error=%s",
            feed.name,
            keys[:1],
            tally.last_failure,
            exc_info=not isinstance(e, MonitorError),
        )  # a bug gets its traceback
        try:
            await stored(ctx.writer, ctx.store.mark_entries_seen, feed.id, keys)
        except Exception as store_error:  # still this entry's failure: the boundary itself must not raise
            _log.error(
                "failed entry not marked seen, retried next poll feed=%s error=%s", feed.name, error_line(store_error)
            )
        return 0


async def _process_entry(
    feed: FeedRecord, entry: FeedEntry, keys: tuple[str, ...], ctx: Context, analysis: Analysis, tally: _Tally
) -> int:
    """Fetch and extract one new entry's page, analyse it in a CPU thread and store it; returns the number of
    rules it matched."""
    extracted = await _page_text(feed, entry, ctx, tally)
    rules = ctx.rules()
    return await _store(ctx, await in_thread(prepare, analysis, rules, entry, keys, extracted))


async def _store(ctx: Context, prepared: Prepared | Exception) -> int:
    """Store an analysed entry: its article, matches and planned deliveries in one transaction; returns the number
    of its matches. An entry whose analysis failed raises its exception here, at its own boundary."""
    if isinstance(prepared, Exception):
        raise prepared
    article, new_matches, planned = prepared
    plan = functools.partial(_planned, planned)
    await stored(ctx.writer, ctx.store.add_article_with_matches, article, new_matches, plan, now=ctx.clock())
    return len(new_matches)


def _planned(planned: Sequence[PlannedDelivery], story_id: int, new_story: bool) -> Sequence[PlannedDelivery]:
    """The delivery plan, made before the write (routing does not depend on the story)."""
    return planned


def _full_text(feed: FeedRecord, ctx: Context) -> bool:
    return feed.full_text if feed.full_text is not None else ctx.settings.fetch.full_text


async def _page_text(feed: FeedRecord, entry: FeedEntry, ctx: Context, tally: _Tally) -> Extracted | None:
    """The entry's page, fetched and extracted; None when full text is off, or the page cannot be fetched, is
    refused or yields nothing (the entry's analysis then takes the feed's own content)."""
    if not (_full_text(feed, ctx) and entry.url):
        return None
    async with tally.pages:  # a feed whose pages drip on many hosts must not hold every connection
        page = await _fetch_page(feed, entry.url, ctx, tally.blocked)
        return await _extract(page, ctx) if page is not None else None


async def _fetch_page(feed: FeedRecord, url: str, ctx: Context, blocked: list[str]) -> FetchResult | None:
    try:
        return await ctx.fetcher.fetch(url, allow_private=(feed.name, "allow_private_links") in ctx.opened)
    except BlockedAddressError as e:
        blocked.append(url)
        _log.warning("page refused feed=%s url=%s reason=%r", feed.name, url, e.reason or str(e))
    except FetchError as e:
        _log.info("page not fetched feed=%s url=%s error=%r", feed.name, url, str(e))
    except Exception as e:  # the page boundary: any other error falls back to the feed's own text
        _log.warning("page failed feed=%s url=%s error=%s", feed.name, url, error_line(e), exc_info=True)
    return None


async def _extract(page: FetchResult, ctx: Context) -> Extracted | None:
    try:
        charset = charset_from_headers(page.headers)
        if ctx.extractor is not None:
            return await ctx.extractor.extract(page.body, page.final_url, charset=charset)
        return extract_html(page.body, page.final_url, charset=charset)
    except MonitorError as e:
        _log.info("page not extracted url=%s error=%r", page.final_url, str(e))
    except Exception as e:  # the page boundary: a bug in extraction falls back to the feed's own text
        _log.warning("page not extracted url=%s error=%s", page.final_url, error_line(e), exc_info=True)
    return None


async def _record(feed: FeedRecord, ctx: Context, state: FeedState, tally: _Tally) -> None:
    """Store the poll's outcome with its counts; a store that fails here is logged, never raised."""
    state = replace(
        state,
        blocked_requests=feed.blocked_requests + len(tally.blocked),
        failed_entries=feed.failed_entries + tally.failed,
        last_entry_error=tally.last_failure or feed.last_entry_error,
    )
    claims.recording(feed.id)  # the write ends the claim: renewals must not take that for a lost one
    try:
        await stored(ctx.writer, claims.record_state, ctx.store, feed, state)
    except Exception as e:  # the feed's boundary: an unmapped store error must not reach the poll either
        _log.error("feed state not recorded feed=%s error=%s", feed.name, error_line(e))
