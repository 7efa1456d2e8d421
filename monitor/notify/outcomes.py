"""What became of claimed deliveries, written back to the outbox (fenced to this worker's claims) and logged.

Inputs: the rows of one message, ``now``, and why it was not delivered (``Failure``) or None. Outputs: the outbox
rows updated (``Store.record_outcomes(worker=…)``: a worker whose lease ran out writes nothing) and a ``SendReport``.
A failed delivery is retried with backoff (``next_retry``) or marked failed; a digest's window is closed with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from monitor.notify.report import Failure, SendReport
from monitor.notify.send import first_attempt_estimate, next_retry
from monitor.store import DeliveryOutcome, DeliveryRecord, DigestWindowClose, Store

__all__ = ["Outcomes"]

_log = logging.getLogger("monitor.notify.notifier")  # the sender's log lines, as before the split


class Outcomes:
    """Records outcomes for the sender ``worker`` (``Notifier``), redacting errors with ``redact``."""

    def __init__(self, store: Store, worker: str, redact: Callable[[object], str]) -> None:
        self._store = store
        self._worker = worker
        self.redact = redact

    def recorded(
        self,
        rows: Sequence[DeliveryRecord],
        now: datetime,
        failure: Failure | None,
        *,
        status: str = "sent",
        story: int | None = None,
        window: tuple[str, datetime] | None = None,
    ) -> SendReport:
        if failure is not None and failure.lost:  # another worker has these rows now: write nothing
            return SendReport(lost=len(rows))
        return self.record(
            rows,
            now,
            failure.error if failure else None,
            status=status,
            retry=failure.retry if failure else True,
            story=story,
            window=window,
        )

    def record(
        self,
        rows: Sequence[DeliveryRecord],
        now: datetime,
        error: str | None,
        *,
        status: str = "sent",
        retry: bool = True,
        story: int | None = None,
        window: tuple[str, datetime] | None = None,
    ) -> SendReport:
        outcomes = [self._outcome(row, now, error, status, retry) for row in rows]
        closed = None
        if window is not None:
            closed = DigestWindowClose(window[0], window[1], "sent" if error is None else "failed", now)
        self._store.record_outcomes(outcomes, worker=self._worker, now=now, window=closed)  # fenced: logs a refusal
        counts = {s: sum(o.status == s for o in outcomes) for s in ("sent", "suppressed", "pending", "failed")}
        channel = rows[0].channel if rows else ""
        if error is None:
            _log.info(
                "alert sent channel=%s mode=%s story=%s status=%s deliveries=%d",
                channel,
                rows[0].mode,
                story if story is not None else "-",
                status,
                len(rows),
            )
        else:
            _log.warning(
                "alert failed channel=%s mode=%s story=%s retry=%d failed=%d error=%s",
                channel,
                rows[0].mode if rows else "-",
                story if story is not None else "-",
                counts["pending"],
                counts["failed"],
                self.redact(error),
            )
        return SendReport(
            messages=1 if error is None and rows else 0,
            sent=counts["sent"],
            suppressed=counts["suppressed"],
            retried=counts["pending"],
            failed=counts["failed"],
            errors=(f"{channel}: {self.redact(error)}",) if error else (),
        )

    def _outcome(
        self, row: DeliveryRecord, now: datetime, error: str | None, status: str, retry: bool
    ) -> DeliveryOutcome:
        attempts = row.attempts + 1
        if error is None:
            return DeliveryOutcome(row.id, status, attempts, row.next_attempt_at, None, now)
        first = first_attempt_estimate(row.attempts, row.next_attempt_at, now)
        again = next_retry(attempts, first, now) if retry else None
        return DeliveryOutcome(
            row.id, "pending" if again else "failed", attempts, again, self.redact(error)[:2000], None
        )

    def postpone(
        self, name: str, rows: list[DeliveryRecord], window: datetime, later: datetime, now: datetime
    ) -> SendReport:
        """Rows due in a window that went out already (they committed after it was sent): into the next one."""
        outcomes = [DeliveryOutcome(r.id, "pending", r.attempts, later, r.last_error, None) for r in rows]
        moved = self._store.record_outcomes(outcomes, worker=self._worker, now=now)
        _log.info(
            "digest rows late for a window already sent channel=%s window=%s deliveries=%d next=%s",
            name,
            window.isoformat(),
            moved,
            later.isoformat(),
        )
        return SendReport()

    def close_window(self, window: tuple[str, datetime], now: datetime) -> None:
        """Close a digest window none of whose stories could be sent (each recorded alone): retried later."""
        self._store.record_outcomes([], worker=self._worker, now=now, window=DigestWindowClose(*window, "failed"))
