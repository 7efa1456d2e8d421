"""Retention: ``[store] keep_articles`` prunes unmatched articles older than that, in the daemon and on demand.

Inputs: the settings (``[store] keep_articles``; unset keeps every article forever), the store and the time now.
Output: a ``PruneReport`` (``monitor.store.retention`` does the deleting, in small batches; what goes and what
stays is written there and in docs/storage.md, "Retention").

``run_retention`` is the one function the daemon calls, every ``RETENTION_EVERY`` seconds: on PostgreSQL with
several workers it must run in one of them only (the leader), so the daemon gates that call, not this module.
``monitor db prune`` calls ``prune`` once, with ``--dry-run`` to count first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from monitor.clock import MIN_TIME
from monitor.config import Settings
from monitor.store import PruneReport, Store

__all__ = ["DAEMON_PAUSE", "RETENTION_EVERY", "cutoff", "prune", "run_retention"]

# Under the daemon's logger: its line shows at the default verbosity, as the daemon's poll cycle lines do.
_log = logging.getLogger("monitor.daemon.retention")

#: Seconds between two retention runs of the daemon: at a million articles a day an hour's worth is a few
#: hundred batches of PRUNE_BATCH, each a short transaction.
RETENTION_EVERY = 3600.0
#: Seconds the daemon's prune waits between batches, so poll writes (one writer at a time on SQLite) get in.
DAEMON_PAUSE = 0.05


def cutoff(now: datetime, keep: float) -> datetime:
    """The time before which articles go: ``now`` minus ``keep`` seconds (the start of time when that is before
    it: nothing goes)."""
    try:
        return now - timedelta(seconds=keep)
    except OverflowError:
        return MIN_TIME


def prune(
    store: Store,
    keep: float,
    now: datetime,
    *,
    dry_run: bool = False,
    pause: float = 0.0,
    stop: Callable[[], bool] | None = None,
) -> PruneReport:
    """Remove (``dry_run``: count) the unmatched articles fetched more than ``keep`` seconds before ``now``."""
    return store.prune_articles(cutoff(now, keep), dry_run=dry_run, pause=pause, stop=stop)


def run_retention(store: Store, settings: Settings, now: datetime, stop: Callable[[], bool] | None = None) -> None:
    """The daemon's retention job: prune by ``[store] keep_articles`` (nothing when unset) and log one line.
    ``stop`` is asked between batches (the daemon is stopping: the rest waits for the next run).

    Raises:
        StoreError: a batch failed; the batches before it stay done.
    """
    keep = settings.store.keep_articles
    if keep is None:
        return
    report = prune(store, keep, now, pause=DAEMON_PAUSE, stop=stop)
    if report.articles or report.stories:
        _log.info(
            "retention: %d articles, %d story keys and %d stories removed (fetched before %s; %d older kept: "
            "their story matched)",
            report.articles,
            report.story_keys,
            report.stories,
            report.cutoff.isoformat(timespec="seconds"),
            report.kept,
        )
