"""What a delivery run reports (``SendReport``), why one message was not delivered (``Failure``), and the small
helpers of ``monitor.notify.notifier`` that need no state: whether a sender's pid lives, the test alert."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime

from monitor.notify.render import AlertArticle, AlertRule, StoryAlert

__all__ = ["Failure", "SendReport", "pid_alive", "test_alert"]


@dataclass(frozen=True)
class Failure:
    """Why one message was not delivered; ``retry``: try again later; ``channel_wide``: the rest will fail too."""

    error: str
    retry: bool = True
    channel_wide: bool = False
    lost: bool = False  # the worker's lease on the rows ran out before the send: not sent, nothing to record


@dataclass(frozen=True)
class SendReport:
    """What one ``send_due``/``send_digests`` run did. Counts are deliveries (rows) unless named messages."""

    messages: int = 0
    sent: int = 0
    suppressed: int = 0
    retried: int = 0
    failed: int = 0
    held: int = 0
    errors: tuple[str, ...] = field(default=())
    lost: int = 0  # deliveries not sent because this worker's lease on them ran out (another worker has them)

    def __str__(self) -> str:
        text = (
            f"{self.messages} messages sent ({self.sent} sent, {self.suppressed} summarised), "
            f"{self.retried} to retry, {self.failed} failed, {self.held} held by the hourly limit"
        )
        text += f", {self.lost} left to another worker (lease lost)" if self.lost else ""
        return text + (f"; errors: {'; '.join(self.errors)}" if self.errors else "")

    def __add__(self, other: SendReport) -> SendReport:
        return SendReport(
            self.messages + other.messages,
            self.sent + other.sent,
            self.suppressed + other.suppressed,
            self.retried + other.retried,
            self.failed + other.failed,
            self.held + other.held,
            self.errors + other.errors,
            self.lost + other.lost,
        )


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def test_alert(channel: str, now: datetime) -> StoryAlert:
    rule = AlertRule(
        id="monitor.test", title="Test alert", severity="info", description="Sent by `monitor notify test`."
    )
    article = AlertArticle(
        title=f"monitor test alert for channel {channel}",
        url="https://example.org/monitor-test",
        feed="monitor",
        published=now,
    )
    return StoryAlert(
        story_id=0,
        rules=(rule,),
        article=article,
        snippet="If you can read this, the channel works: monitor alerts will arrive here.",
        hit_texts=("channel works",),
    )
