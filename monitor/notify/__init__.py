"""Alert delivery: channels, routing, templates, digests, throttling and the sender (apprise).

Inputs: matches and their planned deliveries (the outbox rows the store writes with each match), the
``[channels.*]``/``[[routes]]``/``[notify]`` settings. Outputs: email and chat messages, and the outbox updated.

- ``plan_deliveries(matches, rules, settings, published, now)``: pure routing, called by the pipeline inside
  ``Store.add_article_with_matches`` (``routing.py``).
- ``Notifier(settings, store, *, rules=(), apprise_factory=None, clock=None)``: ``send_due(now)``,
  ``send_digests(now)``, ``test_channel(name)`` (``notifier.py``).
- ``redact(text)``: the one secret-redaction helper (``redact.py``).
- Pure decisions: ``next_retry`` (backoff), ``next_digest_at`` (cron), ``split_for_throttle``.
"""

from __future__ import annotations

from monitor.notify.notifier import Notifier
from monitor.notify.redact import redact, url_secrets
from monitor.notify.render import Message, Renderer, StoryAlert, render_snippet
from monitor.notify.report import SendReport
from monitor.notify.routing import next_digest_at, plan_deliveries, route_applies
from monitor.notify.send import UrlResult, next_retry, split_for_throttle

__all__ = [
    "Message",
    "Notifier",
    "Renderer",
    "SendReport",
    "StoryAlert",
    "UrlResult",
    "next_digest_at",
    "next_retry",
    "plan_deliveries",
    "redact",
    "render_snippet",
    "route_applies",
    "split_for_throttle",
    "url_secrets",
]
