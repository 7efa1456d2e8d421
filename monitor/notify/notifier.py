"""The sender: claims due deliveries from the outbox, renders them, sends them per channel and records outcomes.

Inputs: ``Settings`` (channels, notify, scheduler.timezone), a ``Store`` (the outbox), the current rules, ``now``.
Outputs: messages through apprise and ``SendReport`` values; every outcome is written back to the outbox.

Each channel is sent from its own thread, so a slow or dead channel delays no other one; a send is bounded by
``notify.timeout`` per URL.

Isolation: each message (one story's alert, a summary, a digest) has one boundary where any exception while it is
composed, rendered or sent becomes a recorded failure of that message's deliveries alone; the channel goes on with
its next message. A render error from the data (an ``OverflowError`` on a date, …) would recur at every retry, so
its deliveries are marked failed at once; a template error (the operator may fix the template), a database error
and a refused send are retried with the usual backoff. Only a channel-wide failure (server unreachable, timeout,
invalid URL) is applied to the rest of the channel's messages in the run: they back off together instead of each
waiting for the same dead server. It is applied once the next message fails the same way: a server may hang up on
one message only. Each channel's run is itself a boundary: nothing escapes ``send_due``.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol, TypeVar, runtime_checkable

from monitor.clock import now_utc, worker_id
from monitor.config import ChannelSettings, Settings
from monitor.errors import NotifyError, StoreError
from monitor.notify.compose import RuleInfo, build_digest, group_by_story, story_alert
from monitor.notify.outcomes import Outcomes
from monitor.notify.redact import redact, url_secrets
from monitor.notify.render import Message, Renderer, StoryAlert
from monitor.notify.report import Failure, SendReport, pid_alive, test_alert
from monitor.notify.routing import next_channel_digest
from monitor.notify.send import (
    AppriseFactory,
    UrlResult,
    install_log_redaction,
    load_apprise,
    send_to_url,
    split_for_throttle,
)
from monitor.store import DeliveryRecord, Store

__all__ = ["Notifier", "SendReport"]

_log = logging.getLogger(__name__)
_HOUR = timedelta(hours=1)
_T = TypeVar("_T")


@runtime_checkable
class _HasRules(Protocol):
    @property
    def rules(self) -> Sequence[RuleInfo]: ...


_Rules = Iterable[RuleInfo] | _HasRules


class Notifier:
    """Delivers the outbox. ``send_due`` for immediate alerts, ``send_digests`` for digests.

    Args:
        settings: the whole configuration (channels, ``notify``, ``scheduler.timezone``).
        store: the outbox (``monitor.store.Store``).
        rules: the rules (titles for alerts), or a callable giving the current ones at each run (hot reload);
            an alert for a rule not found shows its id.
        apprise_factory: makes an ``apprise.Apprise``-like object (tests).
        clock: aware-UTC "now" used when a method gets no ``now``.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        rules: _Rules | Callable[[], _Rules] = (),
        apprise_factory: AppriseFactory | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._factory = apprise_factory
        self._clock = clock or now_utc
        self._renderer = Renderer(settings.notify.templates, settings.scheduler.timezone)
        self._worker = worker_id(unique=True)
        self._secrets = tuple(s for ch in settings.channels.values() for url in ch.urls for s in url_secrets(url))
        self._recovered = False
        self._rules_source = rules if callable(rules) else None
        self._rules: Mapping[str, RuleInfo] = {}
        if not callable(rules):
            self.set_rules(rules)
        self._outcomes = Outcomes(store, self._worker, self.redact)
        install_log_redaction(self._secrets)
        load_apprise()  # here, before any sending thread (see load_apprise)

    @property
    def lease(self) -> float:
        """Seconds a claim lasts (``[notify] lease``): it is renewed just before each send, so it must outlast one
        send (``notify.timeout`` and some) and no more: a dead worker's deliveries go out after it."""
        return max(self._settings.notify.lease, self._settings.notify.timeout + 5.0)

    def set_rules(self, rules: _Rules) -> None:
        """Use these rules' titles and severities from now on (a ``RuleSet`` or rules)."""
        listed = rules.rules if isinstance(rules, _HasRules) else rules
        self._rules = {rule.id: rule for rule in listed}

    def recover(self, now: datetime | None = None) -> int:
        """Release the leases of dead senders on this host (killed mid-run), so a restart resends at once.

        Workers are named ``host:pid:nonce``; a lease held by a pid of this host that no longer runs is released.
        Leases of other hosts are left to expire (``lease`` seconds). Returns the deliveries released.
        """
        host = socket.gethostname()
        released = 0
        for worker in self._store.list_claimants(now or self._clock()):
            name, _, rest = worker.partition(":")
            pid = rest.partition(":")[0]
            if name == host and worker != self._worker and pid.isdigit() and not pid_alive(int(pid)):
                released += self._store.release_claims(worker)
        if released:
            _log.info("deliveries recovered count=%d", released)
        return released

    def _prepare(self, now: datetime) -> None:
        """Before a run: the current rules, and (once per process) the leases of dead senders released."""
        if self._rules_source is not None:
            self.set_rules(self._rules_source())
        if not self._recovered:
            self._recovered = True
            self.recover(now)

    def redact(self, text: object) -> str:
        """``text`` with every configured channel secret hidden."""
        return redact(text, self._secrets)

    def send_due(self, now: datetime | None = None) -> SendReport:
        """Send the immediate alerts due at ``now``: one message per story per channel, throttled per hour."""
        now = now or self._clock()
        self._prepare(now)
        rows = self._store.claim_deliveries(now, worker=self._worker, lease=self.lease, mode="immediate")
        return self._per_channel(rows, lambda name, chunk: self._send_channel(name, chunk, now))

    def send_digests(self, now: datetime | None = None) -> SendReport:
        """Send every digest due at ``now``: one message per channel, its matches grouped by rule and story."""
        now = now or self._clock()
        self._prepare(now)
        rows = self._store.claim_deliveries(now, worker=self._worker, lease=self.lease, mode="digest", limit=100_000)
        return self._per_channel(rows, lambda name, chunk: self._send_digest(name, chunk, now))

    def test_channel(self, name: str) -> list[UrlResult]:
        """Send a test alert to every URL of channel ``name``; one result per URL (redacted).

        Raises:
            NotifyError: no such channel.
        """
        channel = self._channel(name)
        message = self._renderer.alert(test_alert(name, self._clock()), channel.format)
        return [self._send_url(url, message) for url in channel.urls]

    def _channel(self, name: str) -> ChannelSettings:
        channel = self._settings.channels.get(name)
        if channel is None:
            off = next((w for w in self._settings.warnings if w.startswith(f"channel {name!r}")), None)
            if off:  # configured, but its ${VAR:-} is unset
                raise NotifyError(off, channel=name)
            known = ", ".join(sorted(self._settings.channels)) or "none configured"
            raise NotifyError(f"unknown channel {name!r} (channels: {known})", channel=name)
        return channel

    def _per_channel(
        self, rows: Sequence[DeliveryRecord], job: Callable[[str, list[DeliveryRecord]], SendReport]
    ) -> SendReport:
        by_channel: dict[str, list[DeliveryRecord]] = {}
        for row in rows:
            by_channel.setdefault(row.channel, []).append(row)
        if not by_channel:
            return SendReport()
        with ThreadPoolExecutor(max_workers=min(8, len(by_channel)), thread_name_prefix="monitor-notify") as pool:
            reports = list(pool.map(lambda item: self._channel_boundary(job, *item), by_channel.items()))
        return sum(reports, SendReport())

    def _channel_boundary(
        self, job: Callable[[str, list[DeliveryRecord]], SendReport], name: str, rows: list[DeliveryRecord]
    ) -> SendReport:
        """One channel's run; an error outside every message (the outbox unwritable …) ends only this channel.

        Its claimed deliveries stay leased and are sent again when the lease ends.
        """
        try:
            return job(name, rows)
        except Exception as e:
            error = self.redact(f"{type(e).__name__}: {e}")
            _log.error("channel run failed channel=%s deliveries=%d error=%s", name, len(rows), error)
            return SendReport(errors=(f"{name}: {error}",))

    def _send_channel(self, name: str, rows: list[DeliveryRecord], now: datetime) -> SendReport:
        channel = self._settings.channels.get(name)
        if channel is None:
            return self._outcomes.record(rows, now, f"channel {name!r} is no longer configured", retry=False)
        limit = self._settings.notify.max_per_hour
        budget = limit - self._store.count_recent_messages(name, now - _HOUR)
        alerts, summarised, held = split_for_throttle(group_by_story(rows), budget)
        self._store.release_deliveries([row.id for group in held for row in group], self._worker)
        report = SendReport(held=sum(len(group) for group in held))
        down: Failure | None = None  # a channel-wide failure in this run: the rest back off with it
        suspect = False  # the last message failed channel-wide: the next one tells the channel from the message
        for group in alerts:
            failure = down or self._deliver(channel, partial(self._alert_message, group, channel), group, now)
            if down is None:
                # A server may hang up on or stall at one message only (its size, its content): that message must
                # not back off the whole channel at every run, so a second failure in a row confirms the channel.
                wide = bool(failure and failure.channel_wide)
                down, suspect = (failure if wide and suspect else None), wide
            report += self._outcomes.recorded(group, now, failure, story=group[0].story_id)
        if summarised:
            if down:
                return report + self._outcomes.recorded(
                    [row for group in summarised for row in group], now, down, status="suppressed"
                )
            message, summarised, report = self._isolated(
                summarised,
                lambda groups: self._renderer.summary(
                    [self._alert(group) for group in groups], channel.format, limit=limit
                ),
                now,
                report,
            )
            if summarised:
                rows = [row for group in summarised for row in group]
                sent = message if isinstance(message, Failure) else self._send(channel, message, rows, now)
                report += self._outcomes.recorded(rows, now, sent, status="suppressed")
        return report

    def _send_digest(self, name: str, rows: list[DeliveryRecord], now: datetime) -> SendReport:
        channel = self._settings.channels.get(name)
        if channel is None:
            return self._outcomes.record(rows, now, f"channel {name!r} is no longer configured", retry=False)
        # The window: when the rows were due (the route's cron time, or a retry's). Recorded before the send and
        # closed with the rows' outcomes, so a worker taking over never sends it again.
        window = max(row.next_attempt_at or row.created_at for row in rows)
        state = self._store.open_digest_window(name, window, worker=self._worker, lease=self.lease, now=now)
        if state == "sent":
            later = next_channel_digest(self._settings, name, now)
            if later is not None:
                return self._outcomes.postpone(name, rows, window, later, now)
            window = now  # no digest route for the channel any more: its rows go out now, on their own
            state = self._store.open_digest_window(name, window, worker=self._worker, lease=self.lease, now=now)
        if state != "open":
            _log.info("digest window busy channel=%s window=%s: another worker sends it", name, window.isoformat())
            self._store.release_deliveries([row.id for row in rows], self._worker)
            return SendReport()
        return self._digest_window(channel, name, rows, (name, window), now)

    def _digest_window(
        self,
        channel: ChannelSettings,
        name: str,
        rows: list[DeliveryRecord],
        window: tuple[str, datetime],
        now: datetime,
    ) -> SendReport:
        stories: dict[int, list[DeliveryRecord]] = {}
        for row in rows:
            stories.setdefault(row.story_id, []).append(row)
        message, groups, report = self._isolated(
            list(stories.values()),
            lambda groups: self._digest_message([row for group in groups for row in group], channel),
            now,
            SendReport(),
        )
        if not groups:  # every story failed alone (recorded): the window waits for their retry
            self._outcomes.close_window(window, now)
            return report
        kept = [row for group in groups for row in group]
        sent = message if isinstance(message, Failure) else self._send(channel, message, kept, now, window)
        return report + self._outcomes.recorded(kept, now, sent, window=window)

    def _isolated(
        self,
        groups: list[list[DeliveryRecord]],
        make: Callable[[list[list[DeliveryRecord]]], Message],
        now: datetime,
        report: SendReport,
    ) -> tuple[Message | Failure, list[list[DeliveryRecord]], SendReport]:
        """One message about many stories (a digest, a summary), and the stories it is about.

        When it cannot be made, each story is tried alone: those that fail alone are recorded failed alone, and the
        message is made again without them (rare, so N+1 renders are fine).
        """
        message = self._attempt(partial(make, groups))
        if not isinstance(message, Failure) or len(groups) < 2:
            return message, groups, report
        kept: list[list[DeliveryRecord]] = []
        for group in groups:
            alone = self._attempt(partial(make, [group]))
            if isinstance(alone, Failure):
                report += self._outcomes.recorded(group, now, alone, story=group[0].story_id)
            else:
                kept.append(group)
        if not kept or len(kept) == len(groups):  # all failed alone (recorded), or only together: fail them all
            return message, kept, report
        return self._attempt(partial(make, kept)), kept, report

    def _deliver(
        self, channel: ChannelSettings, make: Callable[[], Message], rows: Sequence[DeliveryRecord], now: datetime
    ) -> Failure | None:
        """Compose, render and send one message: None when sent, else why not. Never raises."""
        message = self._attempt(make)
        return message if isinstance(message, Failure) else self._send(channel, message, rows, now)

    def _attempt(self, make: Callable[[], _T]) -> _T | Failure:
        """``make()``, or the failure it raised: the boundary of one message's composing and rendering."""
        try:
            return make()
        except (NotifyError, StoreError) as e:  # a user template, the database: may be fixed, so retried
            return Failure(self.redact(e))
        except Exception as e:  # from the data itself: the same again at every retry, so failed at once
            _log.warning("alert not rendered error_class=%s error=%s", type(e).__name__, self.redact(e))
            return Failure(self.redact(f"cannot render the alert: {type(e).__name__}: {e}"), retry=False)

    def _digest_message(self, rows: Sequence[DeliveryRecord], channel: ChannelSettings) -> Message:
        groups, stories, omitted = build_digest(
            rows, self._rules, self._store.story_articles, max_items=self._settings.notify.digest_max_items
        )
        return self._renderer.digest(groups, channel.format, stories=stories, omitted=omitted)

    def _alert_message(self, rows: Sequence[DeliveryRecord], channel: ChannelSettings) -> Message:
        return self._renderer.alert(self._alert(rows), channel.format)

    def _alert(self, rows: Sequence[DeliveryRecord]) -> StoryAlert:
        return story_alert(rows, self._rules, self._store.story_articles)

    def _send(
        self,
        channel: ChannelSettings,
        message: Message,
        rows: Sequence[DeliveryRecord],
        now: datetime,
        window: tuple[str, datetime] | None = None,
    ) -> Failure | None:
        """Send to every URL of the channel; None on success, else the errors (redacted).

        Just before each URL the lease on ``rows`` (and on the digest ``window``) is renewed; when that fails the
        worker stalled past its lease and another may be sending them: nothing more is sent, nothing recorded."""
        results: list[UrlResult] = []
        try:
            for url in channel.urls:
                if not self._renew(rows, now, window):
                    _log.warning(
                        "alert not sent: the lease ran out channel=%s deliveries=%d sent_to=%d of %d URLs",
                        rows[0].channel if rows else "-",
                        len(rows),
                        len(results),
                        len(channel.urls),
                    )
                    return Failure("the lease on these deliveries ran out before the send", lost=True)
                results.append(self._send_url(url, message))
            failures = [r for r in results if not r.ok]
        except Exception as e:  # send_to_url reports failures as values; anything else is a bug: this message only
            _log.warning("alert not sent error_class=%s error=%s", type(e).__name__, self.redact(e))
            return Failure(self.redact(f"{type(e).__name__}: {e}"))
        if not failures:
            return None
        return Failure(
            "; ".join(f"{r.url}: {r.error}" for r in failures), channel_wide=any(r.channel_wide for r in failures)
        )

    def _renew(self, rows: Sequence[DeliveryRecord], now: datetime, window: tuple[str, datetime] | None) -> bool:
        """Renew this worker's lease on ``rows`` (and ``window``); False when any is no longer its own."""
        try:
            renewed = self._store.renew_deliveries([row.id for row in rows], self._worker, self.lease, now)
            if renewed and window is not None:
                renewed = self._store.renew_digest_window(*window, self._worker, self.lease, now)
        except StoreError as e:  # the database is away: not sent; the rows come back when the lease ends
            _log.warning("delivery lease not renewed error=%s", self.redact(e))
            return False
        return renewed

    def _send_url(self, url: str, message: Message) -> UrlResult:
        return send_to_url(
            url, message, timeout=self._settings.notify.timeout, factory=self._factory, secrets=self._secrets
        )
