"""Route decisions (pure): which channels get a match, immediately or in a digest, and when.

Inputs: the matches of one article (their rules), the ``[channels.*]``/``[[routes]]`` settings, the article's
published date and ``now``. Output: ``PlannedDelivery`` values the store writes in the same transaction as the match.

Decisions (docs/design.md "Every route whose filters a match passes applies; a channel receives a given match at most
once"):

- A rule's own ``notify:`` list overrides the routes: immediate alerts to exactly those channels.
- Otherwise every route whose filters the rule passes applies: minimum ``severity``, ``tags`` (any overlap with the
  rule's tags), ``rules`` (fnmatch globs on the rule id). An empty filter passes everything.
- A channel that is both immediate and digest for a match gets the immediate alert only (it has seen it already).
  Two digest routes to one channel: the first in config order decides the schedule.
- An entry published longer ago than ``notify.max_age`` gets no immediate alert; its digest deliveries stay.
- A digest delivery is due (``not_before``) at the route's next cron fire time in ``scheduler.timezone``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeGuard, cast
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from monitor.clock import as_utc
from monitor.config import RouteSettings, Settings
from monitor.severity import severity_rank
from monitor.store import PlannedDelivery

__all__ = [
    "next_channel_digest",
    "next_digest_at",
    "plan_deliveries",
    "route_applies",
    "severity_rank",
]


class _RuleLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def notify(self) -> Sequence[str] | None: ...


class _HasRules(Protocol):
    @property
    def rules(self) -> Sequence[_RuleLike]: ...


class _MatchWithRule(Protocol):
    @property
    def rule(self) -> _RuleLike: ...


class _MatchWithRuleId(Protocol):
    @property
    def rule_id(self) -> str: ...


_MatchLike = _MatchWithRule | _MatchWithRuleId | str


def route_applies(route: RouteSettings, rule: _RuleLike) -> bool:
    """True when ``rule`` passes every filter of ``route`` (severity minimum, tag overlap, id globs)."""
    if route.severity is not None and severity_rank(rule.severity) < severity_rank(route.severity):
        return False
    if route.tags and not set(route.tags) & set(rule.tags):
        return False
    return not route.rules or any(fnmatch.fnmatchcase(rule.id, glob) for glob in route.rules)


def next_digest_at(cron: str, tz: str, after: datetime) -> datetime:
    """The first fire time of ``cron`` (in zone ``tz``) strictly after ``after``, as aware UTC."""
    zone = ZoneInfo(tz)
    trigger = CronTrigger.from_crontab(cron, timezone=zone)
    start = as_utc(after).astimezone(zone)
    fire: datetime | None = trigger.get_next_fire_time(None, start + timedelta(microseconds=1))
    if fire is None:  # a cron expression always fires again; guard for mypy and odd triggers
        raise ValueError(f"cron expression {cron!r} never fires after {after.isoformat()}")
    utc: datetime = fire.astimezone(UTC)
    return utc


def next_channel_digest(settings: Settings, channel: str, after: datetime) -> datetime | None:
    """The next digest time of ``channel`` after ``after`` (the earliest of its digest routes); None without one."""
    times = [
        next_digest_at(route.digest, settings.scheduler.timezone, after)
        for route in settings.routes
        if route.mode == "digest" and route.digest and channel in route.channels
    ]
    return min(times, default=None)


def plan_deliveries(
    matches: Iterable[_MatchLike],
    rules: Iterable[_RuleLike] | Mapping[str, _RuleLike] | _HasRules,
    settings: Settings,
    published: datetime | None,
    now: datetime,
) -> list[PlannedDelivery]:
    """Decide the deliveries for the matches of one article.

    Args:
        matches: rule matches (objects with ``.rule`` or ``.rule_id``, or plain rule ids).
        rules: the current rules, to look up ids: a ``RuleSet``, a ``Mapping`` by id or an iterable of rules.
        settings: channels, routes, ``notify.max_age`` and ``scheduler.timezone``.
        published: the entry's published date (UTC), None when unknown (treated as fresh).
        now: aware UTC.

    Returns:
        One ``PlannedDelivery`` per (rule, channel), immediate before digest, in match order.
    """
    by_id = _rules_by_id(rules)
    stale = published is not None and (now - published).total_seconds() > settings.notify.max_age
    planned: list[PlannedDelivery] = []
    for item in matches:
        rule = _rule_of(item, by_id)
        if rule is not None:
            planned.extend(_plan_rule(rule, settings, stale, now))
    return planned


def _rules_by_id(rules: Iterable[_RuleLike] | Mapping[str, _RuleLike] | _HasRules) -> dict[str, _RuleLike]:
    if isinstance(rules, Mapping):
        return dict(rules)
    listed = rules.rules if _has_rules(rules) else rules
    return {rule.id: rule for rule in cast("Iterable[_RuleLike]", listed)}


def _has_rules(rules: object) -> TypeGuard[_HasRules]:
    return hasattr(rules, "rules")


def _rule_of(item: _MatchLike, by_id: Mapping[str, _RuleLike]) -> _RuleLike | None:
    if isinstance(item, str):
        return by_id.get(item)
    rule: _RuleLike | None = getattr(item, "rule", None)
    if rule is not None and not isinstance(rule, str):
        return by_id.get(rule.id, rule)
    rule_id = getattr(item, "rule_id", None)
    return by_id.get(rule_id) if isinstance(rule_id, str) else None


def _plan_rule(rule: _RuleLike, settings: Settings, stale: bool, now: datetime) -> list[PlannedDelivery]:
    if rule.notify:
        if stale:
            return []
        channels = [c for c in dict.fromkeys(rule.notify) if c in settings.channels]
        return [PlannedDelivery(rule_id=rule.id, channel=c, mode="immediate", not_before=now) for c in channels]
    immediate: dict[str, None] = {}
    digest: dict[str, str] = {}
    for route in settings.routes:
        if not route_applies(route, rule):
            continue
        for channel in route.channels:
            if channel not in settings.channels:
                continue
            if route.mode == "immediate":
                immediate.setdefault(channel)
            elif route.digest:
                digest.setdefault(channel, route.digest)
    planned = (
        []
        if stale
        else [PlannedDelivery(rule_id=rule.id, channel=c, mode="immediate", not_before=now) for c in immediate]
    )
    for channel, cron in digest.items():
        if stale or channel not in immediate:
            due = next_digest_at(cron, settings.scheduler.timezone, now)
            planned.append(PlannedDelivery(rule_id=rule.id, channel=channel, mode="digest", not_before=due))
    return planned
