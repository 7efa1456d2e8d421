"""The apprise boundary and the pure sending decisions (retry backoff, hourly throttle).

Inputs: a rendered ``Message`` and one channel URL. Output: ``UrlResult(url (redacted), ok, error (redacted),
channel_wide)``: a failure is channel-wide when the service could not be reached (the channel's other messages
would fail alike), else it concerns this message only. The message is cut to the service's limits first.

Only this module touches apprise. Each URL gets its own ``Apprise`` instance, so a result names exactly the URL it
belongs to; apprise's blocking ``notify`` runs in a daemon thread joined with a deadline, so a hanging server costs
at most ``notify.timeout`` (the thread is abandoned, apprise's own socket timeouts end it later). apprise's log lines
pass a filter that redacts every configured secret (docs/design.md "Secrets are never printed or logged").
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from monitor.notify.redact import bound_log_record, redact, url_secrets
from monitor.notify.render import Message, clip

__all__ = [
    "AppriseFactory",
    "AppriseLike",
    "EMAIL_BODY_MAX",
    "RETRY_DELAYS",
    "RETRY_EVERY",
    "RETRY_FOR",
    "UrlResult",
    "first_attempt_estimate",
    "fit_to_service",
    "install_log_redaction",
    "load_apprise",
    "next_retry",
    "send_to_url",
    "split_for_throttle",
]

#: Seconds to wait after the 1st, 2nd, 3rd and 4th failed attempt (docs/design.md: about 1m, 5m, 30m, 2h).
RETRY_DELAYS: tuple[float, ...] = (60.0, 300.0, 1800.0, 7200.0)
#: Then one attempt every 6 hours …
RETRY_EVERY = 6 * 3600.0
#: … for a day, after which the delivery is marked failed.
RETRY_FOR = 24 * 3600.0
# Ticks run late by up to a tick; without slack the last retry of the day would be dropped.
_RETRY_SLACK = 3600.0

_T = TypeVar("_T")


@functools.cache
def load_apprise() -> Any:
    """apprise, imported on first use: sending needs it, polling does not (it costs ``monitor poll`` 0.2 s of
    start-up). ``Notifier`` calls it when it is made, in its caller's thread."""
    with warnings.catch_warnings():
        # apprise's email plugin imports the deprecated stdlib ``imghdr`` (for pgpy) on first use, in whichever
        # thread sends first; importing it once here, quietly, keeps that warning out of sends (and of ``-W error``
        # runs). The filter change is process-wide, so this runs before any sending thread starts.
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise
        import apprise.plugins.email
        import apprise.utils.pgp  # noqa: F401
    return apprise


class AppriseLike(Protocol):
    """The part of ``apprise.Apprise`` we use (tests pass fakes)."""

    def add(self, servers: str) -> bool: ...

    def notify(self, body: str, title: str = "", *, body_format: str | None = None, timeout: float = 0) -> Any: ...


AppriseFactory = Callable[[], AppriseLike]


# apprise's plugins say "Connection error" for refused connections, resets, DNS and TLS failures, SMTP login
# failures; these (and our timeout) concern every message of the channel. Any other failure is the server
# answering "no" to this message (a 5xx, an SMTP 500/554): the channel's other messages are still tried.
_UNREACHABLE = re.compile(
    r"(?i)connection error|connection refused|timed out|invalid or unsupported apprise url"
    r"|invalid apprise url"
)
#: Characters of an email body (apprise's email limit of 32,768 would cut digests no mail server refuses).
EMAIL_BODY_MAX = 2_000_000
_SHORTENED = "… (shortened to fit the channel)"


@dataclass(frozen=True)
class UrlResult:
    """The outcome of sending to one channel URL; ``url`` and ``error`` are redacted.

    ``channel_wide``: the failure is not about this message (the server is unreachable, timed out, or the URL is
    invalid), so the channel's other messages would fail the same way.
    """

    url: str
    ok: bool
    error: str | None = None
    channel_wide: bool = False


def next_retry(attempts: int, first_attempt_at: datetime, now: datetime) -> datetime | None:
    """When to try again after ``attempts`` failed attempts (the latest one at ``now``); None: give up.

    The waits are 1m, 5m, 30m and 2h, then 6h, until a day after the 2h retry. ``first_attempt_at`` anchors that
    day (UTC, like every datetime here).
    """
    delay = RETRY_DELAYS[attempts - 1] if 0 < attempts <= len(RETRY_DELAYS) else RETRY_EVERY
    due = now + timedelta(seconds=delay)
    deadline = first_attempt_at + timedelta(seconds=sum(RETRY_DELAYS) + RETRY_FOR + _RETRY_SLACK)
    return due if due <= deadline else None


def first_attempt_estimate(attempts: int, scheduled: datetime | None, now: datetime) -> datetime:
    """When the first attempt of a delivery happened, from its retry count and its scheduled retry time.

    The outbox keeps no first-attempt time; the schedule is deterministic, so it is the scheduled time minus
    the delays already waited. A delivery never tried before is having its first attempt ``now``.
    """
    if attempts <= 0 or scheduled is None:
        return now
    waited = sum(RETRY_DELAYS[: min(attempts, len(RETRY_DELAYS))])
    waited += max(0, attempts - len(RETRY_DELAYS)) * RETRY_EVERY
    return scheduled - timedelta(seconds=waited)


def split_for_throttle(groups: Sequence[_T], budget: int) -> tuple[list[_T], list[_T], list[_T]]:
    """Split ``groups`` (most important first) into (alerts, summarised, held) for ``budget`` messages left.

    Everything fits: all are alerts. Otherwise ``budget - 1`` alerts and one summary of the rest, so the channel
    never gets more than its hourly limit of messages. No budget left: everything is held for later.
    """
    if len(groups) <= budget:
        return list(groups), [], []
    if budget <= 0:
        return [], [], list(groups)
    return list(groups[: budget - 1]), list(groups[budget - 1 :]), []


def send_to_url(
    url: str, message: Message, *, timeout: float, factory: AppriseFactory | None = None, secrets: Iterable[str] = ()
) -> UrlResult:
    """Send ``message`` to one apprise URL, waiting at most ``timeout`` seconds.

    Never raises for a delivery problem: an invalid URL, a False result, a timeout or an exception from apprise
    all come back as ``UrlResult(ok=False, error=…)`` with secrets redacted. The message is first cut to the
    service's limits (apprise's ``title_maxlen``/``body_maxlen``: 2,000 characters on Discord, 4,000 on
    Mattermost …), so a long alert is shortened rather than refused.
    """
    hidden = (*url_secrets(url), *secrets)
    shown = redact(url, hidden)
    make: AppriseFactory = factory or load_apprise().Apprise
    try:
        instance = make()
        if not instance.add(url):
            return UrlResult(shown, False, "invalid or unsupported apprise URL", channel_wide=True)
    except Exception as e:  # apprise parses user input; any failure here is a config problem we report
        return UrlResult(
            shown, False, redact(f"invalid apprise URL: {type(e).__name__}: {e}", hidden), channel_wide=True
        )
    message = fit_to_service(message, instance)
    outcome = _call_with_deadline(
        lambda: instance.notify(message.body, message.title, body_format=message.format, timeout=timeout), timeout
    )
    if isinstance(outcome, BaseException):
        detail = (
            f"timed out after {timeout:g}s"
            if isinstance(outcome, TimeoutError)
            else (f"{type(outcome).__name__}: {outcome}")
        )
        return UrlResult(shown, False, redact(detail, hidden), channel_wide=isinstance(outcome, TimeoutError))
    if outcome:
        return UrlResult(shown, True, None)
    detail = _describe_failure(outcome)
    return UrlResult(shown, False, redact(detail, hidden), channel_wide=bool(_UNREACHABLE.search(detail)))


def fit_to_service(message: Message, instance: object) -> Message:
    """``message`` cut to the title and body lengths the apprise service of ``instance`` accepts.

    The body is cut at a line end (a line of HTML or markdown is not split) and says it was shortened. A service
    without a title (``title_maxlen`` 0) gets the title in the body, so the body leaves room for it.
    """
    try:
        service = instance[0]  # type: ignore[index]  # apprise.Apprise: its (only) service
        title_max, body_max = int(service.title_maxlen), int(service.body_maxlen)
    except (TypeError, IndexError, AttributeError, ValueError, KeyError):  # not an apprise.Apprise: no limits
        return message
    if isinstance(
        service, load_apprise().plugins.email.NotifyEmail
    ):  # apprise's 32,768 is no SMTP limit: a long digest mail stays whole
        body_max = EMAIL_BODY_MAX
    title = clip(message.title, title_max) if title_max > 0 else message.title
    room = body_max - (0 if title_max > 0 else len(title) + 2)
    body = message.body
    if 0 < room < len(body):
        marker = f"<p>{_SHORTENED}</p>\n" if message.format == "html" else f"{_SHORTENED}\n"
        limit = max(room - len(marker) - 1, 0)
        cut = body.rfind("\n", 0, limit) + 1  # a line end, unless that loses more than half the room
        body = (body[:cut] if cut > limit // 2 else clip(body, limit) + "\n") + marker
    return Message(title=title, body=body, format=message.format, extra=message.extra)


def install_log_redaction(secrets: Iterable[str]) -> None:
    """Redact ``secrets`` (and anything URL- or key-shaped) from apprise's own log records."""
    logger = logging.getLogger("apprise")
    existing = [f for f in logger.filters if isinstance(f, _RedactingFilter)]
    if existing:
        existing[0].add(secrets)
    else:
        logger.addFilter(_RedactingFilter(secrets))


class _RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            self._secrets.update(s for s in secrets if len(s) >= 4)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            secrets = tuple(self._secrets)
        bound_log_record(record, secrets)
        record.msg = redact(record.getMessage(), secrets)
        record.args = None
        return True


def _call_with_deadline(call: Callable[[], _T], timeout: float) -> _T | BaseException:
    """Run ``call`` in a daemon thread; its result, its exception, or ``TimeoutError`` after ``timeout``."""
    box: list[_T | BaseException] = []

    def run() -> None:
        try:
            box.append(call())
        except Exception as e:  # handed back to the caller as a value: one failing URL must not stop others
            box.append(e)

    thread = threading.Thread(target=run, name="monitor-notify-send", daemon=True)
    thread.start()
    thread.join(timeout)
    return box[0] if box else TimeoutError(f"no answer within {timeout:g}s")


def _describe_failure(result: Any) -> str:
    """One line from an apprise result: its status and the warnings its services logged."""
    status = getattr(getattr(result, "status", None), "name", None) or "FAILURE"
    details: list[str] = []
    for service in getattr(result, "results", ()) or ():
        logs = getattr(service, "logs", None)
        for entry in logs() if callable(logs) else ():
            text = str(getattr(entry, "message", entry)).strip()
            if text and text not in details:
                details.append(text.split(" - ", 2)[-1])
    return f"apprise {status}" + (f": {'; '.join(details[-3:])}" if details else "")
