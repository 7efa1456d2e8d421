"""The pipeline: the only module that wires the stages together.

Inputs: a due feed (``FeedRecord``) and the collaborators in a ``Context``. Output: one ``FeedResult`` per feed.
fetch feed -> parse -> new entries only -> fetch pages -> extract -> dedup keys -> match -> store article,
matches and planned deliveries in one transaction -> record the feed's polling state.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from monitor import dedup
from monitor.config import Settings
from monitor.errors import BlockedAddressError, FetchError, FetchStatusError, MonitorError
from monitor.extract import Extracted, ExtractorPool, charset_from_headers, choose_text, extract_html
from monitor.feeds import FeedEntry, parse_feed
from monitor.fetch import Fetcher, FetchResult
from monitor.lang import detect_language
from monitor.notify import plan_deliveries
from monitor.rules import Document, Match, RuleSet
from monitor.store import FeedRecord, FeedState, NewArticle, NewMatch, PlannedDelivery, Store

__all__ = [
    "CLAIM_LEASE",
    "Context",
    "FeedResult",
    "MAX_ENTRIES_PER_POLL",
    "Status",
    "backoff_delay",
    "poll_due",
    "poll_feed",
    "select_feeds",
    "utcnow",
]

_log = logging.getLogger(__name__)
_WORKER = f"{socket.gethostname()}:{os.getpid()}"

CLAIM_LEASE = 900.0  # seconds a claimed feed is reserved for this process; a crashed worker's feeds come back
MAX_ENTRIES_PER_POLL = 200  # a feed that suddenly lists thousands of entries is worked through over several ticks

Status = Literal["ok", "not_modified", "skipped", "error"]


def utcnow() -> datetime:
    """Naive UTC now: the pipeline's and daemon's one clock (all stored times are naive UTC, docs/dev.md)."""
    return datetime.utcnow()


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
    clock: Callable[[], datetime] = utcnow


def backoff_delay(failures: int, interval: float, max_backoff: float, retry_after: float | None = None) -> float:
    """Seconds until the next poll of a failing feed: the interval doubled per consecutive failure, capped;
    never sooner than the server's Retry-After."""
    doublings: int = min(max(failures - 1, 0), 16)
    delay = min(max_backoff, max(interval, 60.0) * (1 << doublings))
    return max(delay, retry_after or 0.0)


def select_feeds(
    feeds: Sequence[FeedRecord], now: datetime, *, due_only: bool, force: bool = False
) -> tuple[list[FeedRecord], list[tuple[FeedRecord, str]]]:
    """Split enabled feeds into those to poll now and those skipped, with the reason.

    ``due_only`` (the daemon's tick) polls feeds whose next poll has come; otherwise (``monitor poll``) every
    enabled feed is polled except those inside a Retry-After or back-off window, unless ``force``."""
    chosen: list[FeedRecord] = []
    skipped: list[tuple[FeedRecord, str]] = []
    for feed in feeds:
        if not feed.enabled:
            continue
        waiting = feed.next_poll is not None and feed.next_poll > now
        if due_only:
            if not waiting:
                chosen.append(feed)
        elif force or not waiting or feed.consecutive_failures == 0:
            chosen.append(feed)
        else:
            reason = "retry-after" if feed.retry_after_until and feed.retry_after_until > now else "back-off"
            skipped.append((feed, f"{reason} until {feed.next_poll:%Y-%m-%d %H:%M:%S} UTC"))
    return chosen, skipped


async def poll_due(
    ctx: Context, *, due_only: bool = True, force: bool = False, names: Sequence[str] = ()
) -> list[FeedResult]:
    """Poll the selected feeds concurrently; one result per feed, skipped ones included.

    On PostgreSQL the daemon (``due_only``) claims due feeds with a lease, so several processes sharing one
    database never poll the same feed at once (DESIGN.md, Scale). SQLite has one daemon, which needs no claim
    and so never waits out the lease of a poll that a ``kill -9`` interrupted."""
    now = ctx.clock()
    if due_only and not names:
        shared = ctx.store.dialect == "postgresql"
        chosen = ctx.store.claim_due_feeds(now, CLAIM_LEASE, _WORKER) if shared else ctx.store.list_due_feeds(now)
        skipped: list[tuple[FeedRecord, str]] = []
    else:
        feeds = [f for f in ctx.store.list_feeds() if not names or f.name in names]
        chosen, skipped = select_feeds(feeds, now, due_only=due_only, force=force or bool(names))
    results = [FeedResult(feed.name, "skipped", error=reason) for feed, reason in skipped]
    results += await asyncio.gather(*(poll_feed(feed, ctx) for feed in chosen))
    return results


async def poll_feed(feed: FeedRecord, ctx: Context) -> FeedResult:
    """One poll of one feed, end to end. A failure is recorded on the feed and returned, never raised."""
    started = time.monotonic()
    now = ctx.clock()
    blocked: list[str] = []  # SSRF refusals during this poll (feed URL or article links), counted on the feed
    try:
        new, matched, state = await _poll(feed, ctx, now, blocked)
        result = FeedResult(feed.name, state.last_status, new, matched)  # type: ignore[arg-type]
    except MonitorError as e:
        if isinstance(e, BlockedAddressError):
            blocked.append(feed.url)
        state = _failed_state(feed, ctx, now, e)
        result = FeedResult(feed.name, "error", error=str(e))
    except Exception as e:  # a bug: log it with its traceback, but one bad feed never stops the others
        _log.exception("feed crashed feed=%s", feed.name)
        state = _failed_state(feed, ctx, now, e)
        result = FeedResult(feed.name, "error", error=f"internal error: {type(e).__name__}: {e}")
    ctx.store.update_feed_state(feed.id, replace(state, blocked_requests=feed.blocked_requests + len(blocked)))
    seconds = time.monotonic() - started
    _log.info(
        "feed polled feed=%s status=%s new=%d matched=%d seconds=%.2f%s",
        feed.name, result.status, result.new, result.matched, seconds,
        f" error={result.error!r}" if result.error else "",
    )
    return FeedResult(result.feed, result.status, result.new, result.matched, result.error, seconds)


def _interval(feed: FeedRecord, ctx: Context) -> float:
    return float(feed.interval or ctx.settings.scheduler.poll_interval)


async def _poll(feed: FeedRecord, ctx: Context, now: datetime, blocked: list[str]) -> tuple[int, int, FeedState]:
    response = await ctx.fetcher.fetch(
        feed.url, etag=feed.etag, last_modified=feed.last_modified,
        allow_private=any(f.allow_private for f in ctx.settings.feeds if f.name == feed.name),
    )
    ok = replace(
        feed.state,
        url=response.permanent_url or feed.url,
        etag=response.etag or (feed.etag if response.not_modified else None),
        last_modified=response.last_modified or (feed.last_modified if response.not_modified else None),
        last_polled=now,
        last_success=now,
        last_status="not_modified" if response.not_modified else "ok",
        last_error=None,
        consecutive_failures=0,
        next_poll=now + timedelta(seconds=_interval(feed, ctx)),
        retry_after_until=None,
    )
    if response.not_modified:
        return 0, 0, ok
    parsed = parse_feed(response.body, response.final_url, response.headers)
    entries = _new_entries(feed, parsed.entries, ctx)
    if len(entries) > MAX_ENTRIES_PER_POLL:
        # Take the rest on the next tick: forget the validators, or a 304 would hide the entries left over.
        entries = entries[:MAX_ENTRIES_PER_POLL]
        ok = replace(ok, etag=None, last_modified=None, next_poll=now)
    results = await asyncio.gather(*(_process_entry(feed, entry, ctx, blocked) for entry in entries))
    return len(entries), sum(results), ok


def _entry_keys(entry: FeedEntry) -> tuple[str, ...]:
    keys = [f"guid:{entry.guid}"] if entry.guid else []
    if entry.url:
        keys.append(f"url:{dedup.canonical_url(entry.url)}")
    return tuple(keys)


def _new_entries(feed: FeedRecord, entries: Sequence[FeedEntry], ctx: Context) -> list[FeedEntry]:
    """Entries whose GUID and canonical URL this feed has never shown (each feed's first poll: all of them)."""
    keys = {entry: _entry_keys(entry) for entry in entries}
    unseen = ctx.store.unseen_entries(feed.id, [k for ks in keys.values() for k in ks])
    return [e for e, ks in keys.items() if ks and all(k in unseen for k in ks)]


async def _process_entry(feed: FeedRecord, entry: FeedEntry, ctx: Context, blocked: list[str]) -> int:
    """Fetch, extract, match and store one new entry; returns the number of rules it matched."""
    title, text, author, published, lang, extracted = await _article_text(feed, entry, ctx, blocked)
    rules = ctx.rules()
    document = Document(
        title=title, text=text, url=entry.url, author=author, lang=lang, feed=feed.name, feed_tags=tuple(feed.tags)
    )
    matches = rules.match(document)
    article = NewArticle(
        feed_id=feed.id,
        feed_name=feed.name,
        url=entry.url,
        canonical_url=dedup.canonical_url(entry.url) if entry.url else f"guid:{feed.id}:{entry.guid}",
        title=title,
        text=text,
        author=author,
        published=published,
        lang=lang or detect_language(f"{title}\n{text}"),
        content_hash=dedup.content_hash(f"{title}\n{text}"),
        story_keys=dedup.story_keys(text),
        entry_keys=_entry_keys(entry),
        extracted=extracted,
    )
    plan = _planner(matches, rules, ctx, published)
    ctx.store.add_article_with_matches(article, [_new_match(m) for m in matches], plan, now=ctx.clock())
    return len(matches)


def _planner(
    matches: Sequence[Match], rules: RuleSet, ctx: Context, published: datetime | None
) -> Callable[[int, bool], Sequence[PlannedDelivery]]:
    def plan(story_id: int, new_story: bool) -> Sequence[PlannedDelivery]:
        return plan_deliveries(matches, rules, ctx.settings, published, ctx.clock())

    return plan


def _new_match(match: Match) -> NewMatch:
    rule = match.rule
    return NewMatch(
        rule_id=rule.id,
        rule_version=rule.version,
        severity=rule.severity,
        tags=tuple(rule.tags),
        hits=match.hits,
        snippet=match.snippet,
    )


async def _article_text(
    feed: FeedRecord, entry: FeedEntry, ctx: Context, blocked: list[str]
) -> tuple[str, str, str, datetime | None, str | None, bool]:
    """The article's title, text, author, date, language and whether the text came from the page itself.

    Falls back to the feed's own content when the page cannot be fetched, is refused, or yields nothing."""
    page = None
    full_text = feed.full_text if feed.full_text is not None else ctx.settings.fetch.full_text
    if full_text and entry.url:
        page = await _fetch_page(feed, entry.url, ctx, blocked)
    extracted = None
    if page is not None:
        extracted = await _extract(page, ctx)
    title, text = choose_text(extracted, entry.title, entry.summary, entry.content)
    used_page = extracted is not None and bool(extracted.text) and text == extracted.text  # choose_text decided
    author = (extracted.author if extracted and used_page else "") or entry.author
    published = entry.published or (extracted.date if extracted else None)
    lang = extracted.lang if extracted and used_page else None
    return title, text, author or "", published, lang, used_page


async def _fetch_page(feed: FeedRecord, url: str, ctx: Context, blocked: list[str]) -> FetchResult | None:
    try:
        return await ctx.fetcher.fetch(
            url, allow_private=any(f.allow_private_links for f in ctx.settings.feeds if f.name == feed.name)
        )
    except BlockedAddressError as e:
        blocked.append(url)
        _log.warning("page refused feed=%s url=%s reason=%r", feed.name, url, e.reason or str(e))
    except FetchError as e:
        _log.info("page not fetched feed=%s url=%s error=%r", feed.name, url, str(e))
    return None


async def _extract(page: FetchResult, ctx: Context) -> Extracted | None:
    try:
        charset = charset_from_headers(page.headers)
        if ctx.extractor is not None:
            return await ctx.extractor.extract(page.body, page.final_url, charset=charset)
        return extract_html(page.body, page.final_url, charset=charset)
    except MonitorError as e:
        _log.info("page not extracted url=%s error=%r", page.final_url, str(e))
        return None


def _failed_state(feed: FeedRecord, ctx: Context, now: datetime, error: BaseException) -> FeedState:
    """The polling state after a failure: back off, honour Retry-After, retire a feed that is gone (410)."""
    failures = feed.consecutive_failures + 1
    retry_after = error.retry_after if isinstance(error, FetchStatusError) else None
    delay = backoff_delay(failures, _interval(feed, ctx), ctx.settings.fetch.max_backoff, retry_after)
    gone = isinstance(error, FetchStatusError) and error.status == 410
    return replace(
        feed.state,
        enabled=feed.enabled and not gone,
        last_polled=now,
        last_status="gone" if gone else "error",
        last_error=str(error),
        consecutive_failures=failures,
        next_poll=now + timedelta(seconds=delay),
        retry_after_until=now + timedelta(seconds=retry_after) if retry_after else None,
    )


