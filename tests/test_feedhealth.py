"""A feed's health (monitor/feedhealth.py): its usual gap, the silent flag, the JSON line the CLI and API share."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from monitor.feedhealth import MIN_SILENCE, feed_health, feed_line, silence, usual_gap
from monitor.store import FeedActivity, FeedRecord

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
FEED = FeedRecord(
    id=1,
    name="wire",
    url="https://user:hunter22@wire.example/feed?token=abc123",
    tags=("news",),
    enabled=True,
    interval=None,
    full_text=None,
    source="config",
    etag=None,
    last_modified=None,
    last_polled=NOW,
    last_success=NOW,
    last_status="ok",
    last_error=None,
    consecutive_failures=0,
    next_poll=NOW + timedelta(minutes=15),
    retry_after_until=None,
    blocked_requests=2,
    created_at=NOW - timedelta(days=90),
)


def every(gap: timedelta, count: int, newest: datetime) -> list[datetime]:
    return [newest - gap * i for i in range(count)]


def test_the_usual_gap_is_the_median_and_needs_a_habit() -> None:
    hourly = every(timedelta(hours=1), 10, NOW)
    assert usual_gap(hourly) == timedelta(hours=1)
    assert usual_gap([*hourly, NOW - timedelta(days=30)]) == timedelta(hours=1)  # one long pause changes nothing
    assert usual_gap(hourly[:3]) is None  # two gaps: no habit yet
    assert usual_gap([NOW] * 10) is None  # all stored at once (no dates): no habit either


@pytest.mark.parametrize(
    ("gap", "quiet", "silent"),
    [
        (timedelta(hours=1), timedelta(hours=2), False),  # a short pause
        (timedelta(hours=1), timedelta(hours=5), False),  # 5 gaps, but not yet MIN_SILENCE
        (timedelta(hours=1), timedelta(days=1), True),
        (timedelta(minutes=10), timedelta(hours=3), False),  # a busy feed resting at night
        (timedelta(days=1), timedelta(days=3), False),
        (timedelta(days=1), timedelta(days=5), True),
        (timedelta(days=7), timedelta(days=60), True),  # a weekly feed quiet for two months
    ],
)
def test_a_feed_is_silent_after_several_usual_gaps(gap: timedelta, quiet: timedelta, silent: bool) -> None:
    published = every(gap, 12, NOW - quiet)
    assert (silence(FEED, published, NOW) == quiet) is silent
    assert (silence(FEED, published, NOW) is None) is not silent


def test_a_disabled_feed_is_never_silent() -> None:
    published = every(timedelta(hours=1), 12, NOW - timedelta(days=10))
    assert silence(dataclasses.replace(FEED, enabled=False), published, NOW) is None
    assert MIN_SILENCE < timedelta(days=10)


def test_health_rows_carry_activity_and_feeds_without_articles_get_zeros() -> None:
    quiet = every(timedelta(hours=2), 8, NOW - timedelta(days=3))
    other = dataclasses.replace(FEED, id=2, name="new")
    rows = feed_health([FEED, other], {1: FeedActivity((0, 0, 0, 4, 4, 0, 0), tuple(quiet))}, NOW)
    assert [(r.feed.name, r.per_day, r.silent) for r in rows] == [
        ("wire", (0, 0, 0, 4, 4, 0, 0), True),
        ("new", (0,) * 7, False),
    ]
    assert rows[0].last_published == quiet[0] and rows[0].usual_gap == timedelta(hours=2)
    assert rows[0].silent_for == timedelta(days=3)
    line = rows[0].as_json()
    assert line["silent"] is True and line["articles_per_day"] == [0, 0, 0, 4, 4, 0, 0]


def test_the_json_line_hides_credentials_and_keeps_the_cli_keys() -> None:
    line = feed_line(dataclasses.replace(FEED, last_error="GET https://u:pw123456@wire.example/x failed"))
    assert list(line)[:11] == [
        "name",
        "url",
        "tags",
        "enabled",
        "last_polled",
        "last_success",
        "last_status",
        "last_error",
        "consecutive_failures",
        "next_poll",
        "articles",
    ]
    assert line["blocked_requests"] == 2
    assert "hunter22" not in str(line) and "abc123" not in str(line) and "pw123456" not in str(line)
    assert line["last_success"] == "2026-12-06T12:00:00Z"
