"""Prometheus metrics: what the store holds, counted at scrape time, and this process's feed fetches.

Two halves, so ``monitor serve`` in its own process reports the daemon's work:

- ``StoreCollector`` reads counts from the store at each scrape (``Store.store_counts``): ``monitor_feeds{status}``,
  ``monitor_articles_total``, ``monitor_matches_total{rule}``, ``monitor_deliveries_total{channel,status}``,
  ``monitor_delivery_queue_depth``, ``monitor_last_successful_poll_timestamp_seconds`` (and ``monitor_store_up``,
  0 when the store did not answer: a scrape still succeeds and says so).
- ``FETCH_DURATION`` (``monitor_feed_fetch_duration_seconds``) and ``FETCH_ERRORS``
  (``monitor_feed_fetch_errors_total{reason}``) are this process's own: the pipeline times each feed fetch in
  ``feed_fetch()``. A process that polls nothing (``monitor serve``) shows them empty.

No label names a feed: feeds come and go, and one series per feed would grow the scraper's storage without bound.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.errors import (
    BlockedAddressError,
    FetchError,
    FetchStatusError,
    FetchTimeout,
    MonitorError,
    ResponseTooLargeError,
    TooManyRedirectsError,
)
from monitor.store import Store, StoreCounts

__all__ = [
    "FETCH_DURATION",
    "FETCH_ERRORS",
    "FETCH_ERROR_REASONS",
    "StoreCollector",
    "feed_fetch",
    "fetch_error_reason",
    "new_registry",
]

_log = logging.getLogger(__name__)

#: Every ``reason`` label of ``monitor_feed_fetch_errors_total``; each series exists from the start, at 0.
FETCH_ERROR_REASONS = ("blocked", "http_4xx", "http_5xx", "internal", "network", "redirects", "timeout", "too_large")

# Not in the default registry: each app's registry (new_registry) holds them with its own store collector.
FETCH_DURATION = Histogram(
    "monitor_feed_fetch_duration_seconds",
    "Time to fetch a feed's document (all redirects, to the last byte), successful or not.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0),
    registry=None,
)
FETCH_ERRORS = Counter("monitor_feed_fetch_errors", "Feed fetches that failed, by reason.", ["reason"], registry=None)
for _reason in FETCH_ERROR_REASONS:
    FETCH_ERRORS.labels(_reason)


def fetch_error_reason(error: BaseException) -> str:
    """The ``reason`` label of a failed fetch: one of ``FETCH_ERROR_REASONS`` (a bounded set, never the message)."""
    if isinstance(error, FetchStatusError):
        return "http_5xx" if error.status >= 500 else "http_4xx"
    for kind, reason in _REASONS:
        if isinstance(error, kind):
            return reason
    return "network" if isinstance(error, FetchError) else "internal"


_REASONS: tuple[tuple[type[MonitorError], str], ...] = (
    (FetchTimeout, "timeout"),
    (BlockedAddressError, "blocked"),
    (ResponseTooLargeError, "too_large"),
    (TooManyRedirectsError, "redirects"),
)


@contextmanager
def feed_fetch() -> Iterator[None]:
    """Time the feed fetch in the block and count its failure by reason. A cancelled fetch (the poll's time budget,
    shutdown) is neither: it did not end."""
    started = time.perf_counter()
    try:
        yield
    except Exception as e:
        FETCH_DURATION.observe(time.perf_counter() - started)
        FETCH_ERRORS.labels(fetch_error_reason(e)).inc()
        raise
    FETCH_DURATION.observe(time.perf_counter() - started)


class StoreCollector(Collector):
    """The store-derived metrics, read when scraped. ``store`` gives the store (a ``Monitor`` opens it lazily)."""

    def __init__(self, store: Callable[[], Store]) -> None:
        self._store = store

    def collect(self) -> Iterable[Metric]:
        """One family per metric; when the store fails, only ``monitor_store_up 0``."""
        up = GaugeMetricFamily("monitor_store_up", "1 when the store answered this scrape, else 0.")
        try:
            counts = self._store().store_counts()
        except MonitorError as e:  # the database is down or locked: say so, keep the scrape (and the rest) working
            _log.warning("metrics: store not read error=%r", str(e))
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *_families(counts)]


def _families(counts: StoreCounts) -> list[Metric]:
    feeds = GaugeMetricFamily("monitor_feeds", "Feeds by the status of their last poll.", labels=["status"])
    for status, n in sorted(counts.feeds.items()):
        feeds.add_metric([status], n)
    articles = CounterMetricFamily("monitor_articles", "Articles stored.", value=counts.articles)
    matches = CounterMetricFamily("monitor_matches", "Matches stored, by rule.", labels=["rule"])
    for rule, n in counts.matches.items():
        matches.add_metric([rule], n)
    deliveries = CounterMetricFamily(
        "monitor_deliveries", "Deliveries in the outbox, by channel and status.", labels=["channel", "status"]
    )
    for (channel, status), n in sorted(counts.deliveries.items()):
        deliveries.add_metric([channel, status], n)
    depth = GaugeMetricFamily(
        "monitor_delivery_queue_depth",
        "Deliveries pending: waiting for a send, a retry or their digest.",
        value=counts.queue_depth,
    )
    last = counts.last_success
    stamp = last.replace(tzinfo=UTC).timestamp() if last else 0.0
    polled = GaugeMetricFamily(
        "monitor_last_successful_poll_timestamp_seconds",
        "Unix time of the newest successful poll of any feed (0: none yet).",
        value=stamp,
    )
    return [feeds, articles, matches, deliveries, depth, polled]


def new_registry(store: Callable[[], Store]) -> CollectorRegistry:
    """A registry for one app: its store's counts, this process's fetch metrics, and the process's CPU and memory."""
    registry = CollectorRegistry()
    registry.register(StoreCollector(store))
    registry.register(FETCH_DURATION)
    registry.register(FETCH_ERRORS)
    ProcessCollector(registry=registry)
    return registry
