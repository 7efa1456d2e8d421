"""Prometheus metrics (monitor/metrics.py) after a real poll of a loopback news site, read back with
prometheus_client's own parser: the store's counts at scrape time and this process's fetch histogram and errors."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitor.api import Monitor
from monitor.clock import now_utc
from monitor.errors import (
    BlockedAddressError,
    FetchError,
    FetchStatusError,
    FetchTimeout,
    ResponseTooLargeError,
    TooManyRedirectsError,
)
from monitor.metrics import FETCH_ERROR_REASONS, fetch_error_reason, new_registry
from monitor.store import Store
from tests.pipeline.test_poll import RAID, TOURISM, make_settings, rules_dir  # noqa: F401
from tests.support.chat import ChatServer
from tests.support.newssite import NewsSite

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(store: Store) -> tuple[Samples, dict[str, str]]:
    """Every sample by (name, labels), and each family's type, as a scraper reads them."""
    text = generate_latest(new_registry(lambda: store)).decode()
    families = list(text_string_to_metric_families(text))
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}
    return samples, {f.name: f.type for f in families}


def test_metrics_count_what_a_poll_stored_and_time_its_fetches(
    tmp_path: Path,
    news_site: NewsSite,
    chat_server: ChatServer,
    rules_dir: Path,  # noqa: F811
) -> None:
    news_site.add("daily", *RAID)
    news_site.add("daily", *TOURISM)
    news_site.broken.add("/feeds/down.xml")
    settings = make_settings(
        f"sqlite:///{tmp_path / 'm.db'}",
        rules_dir,
        {"daily": news_site.feed_url("daily"), "down": f"{news_site.base}/feeds/down.xml"},
        channels={"chat": {"urls": [chat_server.url()]}},
        routes=[{"channels": ["chat"]}],
    )
    with Monitor(settings) as monitor:
        before, _ = scrape(monitor.store)
        monitor.sync_feeds()
        monitor.poll()
        monitor.deliver()
        after, types = scrape(monitor.store)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after[key] - before.get(key, 0.0)

    assert types["monitor_feeds"] == "gauge" and types["monitor_feed_fetch_duration_seconds"] == "histogram"
    assert types["monitor_articles"] == types["monitor_matches"] == types["monitor_deliveries"] == "counter"
    assert after[("monitor_feeds", (("status", "ok"),))] == 1
    assert after[("monitor_feeds", (("status", "error"),))] == 1
    assert after[("monitor_feeds", (("status", "never_polled"),))] == 0  # every status is there, at 0 if need be
    assert after[("monitor_articles_total", ())] == 2
    assert after[("monitor_matches_total", (("rule", "scam-raid"),))] == 1
    assert after[("monitor_deliveries_total", (("channel", "chat"), ("status", "sent")))] == 1
    assert after[("monitor_delivery_queue_depth", ())] == 0
    polled = after[("monitor_last_successful_poll_timestamp_seconds", ())]
    assert abs(polled - now_utc().replace(tzinfo=UTC).timestamp()) < 60
    assert after[("monitor_store_up", ())] == 1
    # this process fetched two feed documents: one answered, one failed with a 500
    assert delta("monitor_feed_fetch_duration_seconds_count") == 2
    assert delta("monitor_feed_fetch_duration_seconds_bucket", le="+Inf") == 2
    assert delta("monitor_feed_fetch_errors_total", reason="http_5xx") == 1
    assert sum(delta("monitor_feed_fetch_errors_total", reason=r) for r in FETCH_ERROR_REASONS) == 1
    # no series names a feed (one per feed would grow without bound)
    labels = {value for _, pairs in after for _, value in pairs}
    assert not labels & {"daily", "down", news_site.feed_url("daily")}


def test_an_empty_store_scrapes_with_zeros(store: Store) -> None:
    samples, _ = scrape(store)
    assert samples[("monitor_articles_total", ())] == 0
    assert samples[("monitor_last_successful_poll_timestamp_seconds", ())] == 0
    assert samples[("monitor_feeds", (("status", "error"),))] == 0


def test_a_store_that_fails_is_reported_and_the_scrape_still_works(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'm.db'}")
    store.close()  # every read now raises StoreError
    samples, _ = scrape(store)
    assert samples[("monitor_store_up", ())] == 0
    assert ("monitor_feed_fetch_duration_seconds_count", ()) in samples  # the process's own metrics stay
    assert not any(name == "monitor_articles_total" for name, _ in samples)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (FetchTimeout("read timed out"), "timeout"),
        (BlockedAddressError("loopback address"), "blocked"),
        (ResponseTooLargeError("over 5MB"), "too_large"),
        (TooManyRedirectsError("loop"), "redirects"),
        (FetchStatusError("404", status=404), "http_4xx"),
        (FetchStatusError("429", status=429, retry_after=60), "http_4xx"),
        (FetchStatusError("503", status=503), "http_5xx"),
        (FetchError("connection refused"), "network"),
        (RuntimeError("a bug"), "internal"),
    ],
)
def test_each_failure_has_a_bounded_reason(error: BaseException, reason: str) -> None:
    assert fetch_error_reason(error) == reason
    assert reason in FETCH_ERROR_REASONS
