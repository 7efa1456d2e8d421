"""A feed's health as an operator reads it: the polling state, articles per day, and whether it went silent.

Inputs: ``FeedRecord`` values and the store's ``FeedActivity`` per feed id. Outputs: ``FeedHealth`` values (the web's
Feeds page) and ``feed_line`` (the ``feeds list --format json`` object, which ``/api/v1/feeds`` gives as well).

A feed is *silent* when it has published nothing for several times its usual gap: a feed that posts every hour
and has said nothing for a day, or a weekly one quiet for two months. Polls may well succeed meanwhile (the site
serves an old file, or moved its feed), which is why the poll status alone does not show it.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor.notify.redact import redact_credentials
from monitor.store import FeedActivity, FeedRecord

__all__ = ["FeedHealth", "MIN_GAPS", "MIN_SILENCE", "SILENT_FACTOR", "feed_health", "feed_line", "silence", "usual_gap"]

SILENT_FACTOR = 4  # silent after this many usual gaps without a new article
MIN_SILENCE = timedelta(hours=6)  # but never sooner: a feed that posts every 10 minutes may rest at night
MIN_GAPS = 3  # gaps needed before a feed has a "usual" one (a new feed has no habit yet)
_SHOWN_REDACTED = ("url", "config_url", "redirect_pending", "last_error", "last_entry_error")


@dataclass(frozen=True)
class FeedHealth:
    """One row of the Feeds page."""

    feed: FeedRecord
    per_day: tuple[int, ...]  # articles stored per day, oldest first, the last the 24 hours up to now
    last_published: datetime | None  # its newest article's date (the fetch time where the feed gives none)
    usual_gap: timedelta | None  # the median time between its recent articles; None: too few to say
    silent_for: timedelta | None  # how long it has said nothing, when that is several usual gaps; else None

    @property
    def silent(self) -> bool:
        """It has published nothing for several times its usual gap."""
        return self.silent_for is not None

    def as_json(self) -> dict[str, Any]:
        """``feed_line`` with the page's extra columns."""
        return {
            **feed_line(self.feed),
            "articles_per_day": list(self.per_day),
            "silent": self.silent,
            "usual_gap_seconds": self.usual_gap.total_seconds() if self.usual_gap else None,
        }


def usual_gap(published: Sequence[datetime]) -> timedelta | None:
    """The median gap between consecutive publication times (any order), or None with fewer than ``MIN_GAPS``
    gaps or when they are all zero (a first poll of a feed without dates stores everything at one time)."""
    times = sorted(published)
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(times, times[1:], strict=False)]
    if len(gaps) < MIN_GAPS:
        return None
    gap = statistics.median(gaps)
    return timedelta(seconds=gap) if gap > 0 else None


def silence(feed: FeedRecord, published: Sequence[datetime], now: datetime) -> timedelta | None:
    """How long an enabled feed has said nothing, when that is more than ``SILENT_FACTOR`` usual gaps (and
    ``MIN_SILENCE``); None when it is not silent or has no usual gap yet."""
    gap = usual_gap(published)
    if not feed.enabled or gap is None:
        return None
    quiet = now - max(published)
    return quiet if quiet > max(gap * SILENT_FACTOR, MIN_SILENCE) else None


def feed_health(
    feeds: Sequence[FeedRecord], activity: Mapping[int, FeedActivity], now: datetime, *, days: int = 7
) -> list[FeedHealth]:
    """Each feed with its activity (a feed with no stored article: zeros, never silent), in the order given."""
    rows = []
    for feed in feeds:
        found = activity.get(feed.id)
        published = found.published if found else ()
        rows.append(
            FeedHealth(
                feed,
                found.per_day if found else (0,) * days,
                max(published) if published else None,
                usual_gap(published),
                silence(feed, published, now),
            )
        )
    return rows


def feed_line(feed: FeedRecord) -> dict[str, Any]:
    """The ``feeds list --format json`` object: ``FeedRecord.as_json`` and ``blocked_requests``, with credentials
    in URLs and errors hidden."""
    row = {**feed.as_json(), "blocked_requests": feed.blocked_requests}
    return {**row, **{k: redact_credentials(row[k]) for k in _SHOWN_REDACTED if row.get(k)}}
