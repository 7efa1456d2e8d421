"""A feed's polling state: which feeds to poll, and the state a poll leaves (pure, no I/O).

Inputs: ``FeedRecord`` values, the time, a poll's error or its permanent redirect.
Outputs: the feeds to poll (``select_feeds``), back-off delays, the ``FeedState`` after a failure, the URL to poll
next, errors as one storable line, whether a cycle's failures mean the machine is offline (``offline``), and a
cycle's one-line summary. ``pipeline`` records these; ``cli`` and the daemon show them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from monitor.clock import MAX_TIME
from monitor.config import Settings
from monitor.errors import FetchStatusError, MonitorError
from monitor.store import FeedRecord, FeedState

__all__ = [
    "ERROR_CHARS",
    "MAX_RETRY_AFTER",
    "OFFLINE_RETRY",
    "Outcome",
    "backoff_delay",
    "error_line",
    "failed_state",
    "follow_permanent",
    "later",
    "offline",
    "offline_state",
    "opened_feeds",
    "pages_per_feed",
    "parallel_polls",
    "select_feeds",
    "summary",
]

_log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 30 * 86400.0  # a server's Retry-After is honoured up to 30 days
ERROR_CHARS = 500  # a recorded error is one line of at most this many characters
OFFLINE_RETRY = 60.0  # seconds until feeds are tried again after a cycle in which the machine seemed offline

# How a failure reads when the network, not the feed, is down: no name resolves, no route leaves the machine.
_NETWORK_DOWN = (
    "cannot resolve ",
    "Name or service not known",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "No route to host",
)


class Outcome(Protocol):
    """What a summary reads of a poll's result (``pipeline.FeedResult``)."""

    @property
    def status(self) -> str: ...
    @property
    def new(self) -> int: ...
    @property
    def matched(self) -> int: ...
    @property
    def error(self) -> str | None: ...


def later(now: datetime, seconds: float) -> datetime:
    """``now`` plus ``seconds``, saturating at ``datetime.max``: an interval of millennia or a clock near year 9999
    must not raise OverflowError (in the failure handler it would escape the poll)."""
    try:
        return now + timedelta(seconds=seconds)
    except OverflowError:
        return MAX_TIME


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


def parallel_polls(settings: Settings) -> int:
    """How many feeds are polled at once: enough to keep the fetcher's connections busy, few enough that a poll
    does not spend its time budget queueing behind hundreds of others for a connection."""
    return max(4, settings.fetch.concurrency)


def opened_feeds(settings: Settings) -> frozenset[tuple[str, str]]:
    """(feed name, ``"allow_private"`` or ``"allow_private_links"``) for each ``[[feeds]]`` entry that sets it: read
    at every poll, so looked up rather than searched for among the feeds (a scan per poll is quadratic in them)."""
    keys = ("allow_private", "allow_private_links")
    return frozenset((feed.name, key) for feed in settings.feeds for key in keys if getattr(feed, key))


def pages_per_feed(settings: Settings) -> int:
    """How many of one feed's pages are fetched (and extracted) at once: a quarter of the fetcher's connections,
    so a feed whose links drip on as many hosts as there are connections holds back only itself."""
    return max(1, settings.fetch.concurrency // 4)


def follow_permanent(feed: FeedRecord, permanent_url: str | None) -> tuple[str, str | None]:
    """(the URL to poll from now on, the permanent redirect still pending). A feed moves only when the same
    permanent redirect is seen on two consecutive polls: one hostile or misconfigured 301 does not move it."""
    if not permanent_url or permanent_url == feed.url:
        return feed.url, None
    if permanent_url != feed.redirect_pending:
        return feed.url, permanent_url
    _log.info("feed moved feed=%s from=%s to=%s", feed.name, feed.url, permanent_url)
    return permanent_url, None


def error_line(error: BaseException, prefix: str = "", *, name_class: bool = False) -> str:
    """One storable line: our own errors by message (and class if ``name_class``), anything else (a bug) with its
    class; no NUL, no lone surrogate, at most ``ERROR_CHARS`` characters."""
    text = f"{type(error).__name__}: {error}" if name_class else str(error)
    text = text if isinstance(error, MonitorError) else f"internal error: {type(error).__name__}: {error}"
    text = " ".join(f"{prefix}{text}".split())
    text = text.encode("utf-8", "replace").decode("utf-8").replace("\0", "")
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


def failed_state(
    feed: FeedRecord, now: datetime, error: BaseException, *, interval: float, max_backoff: float
) -> FeedState:
    """The polling state after a failure: back off, honour Retry-After, retire a feed that is gone (410)."""
    failures = feed.consecutive_failures + 1
    retry_after = _bounded_retry_after(error.retry_after if isinstance(error, FetchStatusError) else None)
    delay = backoff_delay(failures, interval, max_backoff, retry_after)
    gone = isinstance(error, FetchStatusError) and error.status == 410
    return replace(
        feed.state,
        enabled=feed.enabled and not gone,
        last_polled=now,
        last_status="gone" if gone else "error",
        last_error=error_line(error),
        consecutive_failures=failures,
        next_poll=later(now, delay),
        retry_after_until=later(now, retry_after) if retry_after else None,
    )


def _bounded_retry_after(seconds: float | None) -> float | None:
    """A server's Retry-After as a usable delay: at most ``MAX_RETRY_AFTER`` (``99999999999999999999`` must not
    overflow the date arithmetic of the error handler), None when negative, infinite or not a number."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER)


def offline(results: Sequence[Outcome]) -> bool:
    """Whether a cycle's results say the machine is offline rather than its feeds broken: two or more feeds
    polled, and every one failed to resolve its host or to find a route. Then the feeds are tried again after
    ``OFFLINE_RETRY`` (``offline_state``) instead of each backing off for up to ``fetch.max_backoff``."""
    polled = [r for r in results if r.status != "skipped"]
    return len(polled) >= 2 and all(
        r.status == "error" and any(mark in (r.error or "") for mark in _NETWORK_DOWN) for r in polled
    )


def offline_state(state: FeedState, now: datetime) -> FeedState:
    """A feed's state after a failure recorded in an offline cycle: its error kept, not counted as one of the
    feed's failures, and the feed due again after ``OFFLINE_RETRY`` (not after its back-off)."""
    return replace(
        state,
        consecutive_failures=max(state.consecutive_failures - 1, 0),
        next_poll=later(now, OFFLINE_RETRY),
        retry_after_until=None,
    )


def summary(results: Sequence[Outcome]) -> str:
    """A cycle in one line: ``11 feeds: 9 ok, 3 new, 1 matched, 2 failed`` (and how many were skipped)."""
    count = {status: sum(r.status == status for r in results) for status in ("error", "skipped")}
    ok = len(results) - count["error"] - count["skipped"]
    line = (
        f"{len(results)} feed{'' if len(results) == 1 else 's'}: {ok} ok, {sum(r.new for r in results)} new, "
        f"{sum(r.matched for r in results)} matched, {count['error']} failed"
    )
    return line + (f", {count['skipped']} skipped" if count["skipped"] else "")
