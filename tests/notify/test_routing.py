"""Pure decisions: routes, digest schedules, retry backoff and the hourly throttle split."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.notify import next_digest_at, next_retry, plan_deliveries, split_for_throttle
from tests.support.notifykit import T0, make_settings, rule

CHANNELS = {name: {"urls": [f"json://127.0.0.1:9/{name}"]} for name in ("desk", "oncall", "daily", "legal")}
ROUTES = [
    {"channels": ["desk"]},
    {"channels": ["oncall"], "severity": "high"},
    {"channels": ["legal"], "tags": ["legal", "sanctions"], "rules": ["kh.*"]},
    {"channels": ["daily", "desk"], "mode": "digest", "digest": "0 8 * * *"},
]
SETTINGS = make_settings(CHANNELS, ROUTES)


def plan(*rules: object, published: datetime | None = None, settings: object = SETTINGS) -> set[tuple[str, str, str]]:
    planned = plan_deliveries([r.id for r in rules], rules, settings, published, T0)  # type: ignore[attr-defined,arg-type]
    return {(p.rule_id, p.channel, p.mode) for p in planned}


@pytest.mark.parametrize(
    ("severity", "tags", "rule_id", "expected"),
    [
        ("medium", (), "kh.raid", {"desk:immediate", "daily:digest"}),
        ("high", (), "kh.raid", {"desk:immediate", "oncall:immediate", "daily:digest"}),
        ("critical", ("legal",), "kh.raid", {"desk:immediate", "oncall:immediate", "legal:immediate", "daily:digest"}),
        ("low", ("legal",), "th.raid", {"desk:immediate", "daily:digest"}),
    ],
    ids=["medium-plain", "high-adds-oncall", "tag-and-glob-add-legal", "glob-must-match-too"],
)
def test_every_route_whose_filters_pass_applies(
    severity: str, tags: tuple[str, ...], rule_id: str, expected: set[str]
) -> None:
    got = plan(rule(rule_id, severity, tags=tags))
    assert {f"{channel}:{mode}" for _, channel, mode in got} == expected


def test_a_channel_both_immediate_and_digest_gets_the_immediate_alert_only() -> None:
    got = plan(rule("kh.raid", "medium"))
    assert ("kh.raid", "desk", "immediate") in got
    assert ("kh.raid", "desk", "digest") not in got


def test_rule_notify_overrides_routes() -> None:
    assert plan(rule("kh.raid", "critical", notify=["legal"])) == {("kh.raid", "legal", "immediate")}


def test_unknown_channels_in_rule_notify_are_skipped() -> None:
    assert plan(rule("kh.raid", notify=["nowhere", "desk"])) == {("kh.raid", "desk", "immediate")}


def test_old_entries_get_digests_but_no_immediate_alert() -> None:
    old = T0 - timedelta(days=4)
    got = plan(rule("kh.raid", "high"), published=old)
    assert got == {("kh.raid", "daily", "digest"), ("kh.raid", "desk", "digest")}
    assert plan(rule("kh.raid", notify=["desk"]), published=old) == set()
    assert plan(rule("kh.raid", "high"), published=T0 - timedelta(days=2))  # within max_age: alerted


def test_digest_deliveries_are_due_at_the_next_fire_time_in_the_configured_zone() -> None:
    settings = make_settings(CHANNELS, [{"channels": ["daily"], "mode": "digest", "digest": "0 8 * * *"}])
    settings = settings.model_copy(
        update={"scheduler": settings.scheduler.model_copy(update={"timezone": "Asia/Phnom_Penh"})}
    )
    [planned] = plan_deliveries(["kh.raid"], [rule("kh.raid")], settings, None, T0)
    # 08:00 UTC is 15:00 in Phnom Penh; the next 08:00 there is 01:00 UTC the next day.
    assert planned.not_before == datetime(2026, 11, 4, 1, 0, tzinfo=UTC)


def test_next_digest_at_is_the_next_fire_of_the_schedule() -> None:
    assert next_digest_at("*/5 * * * *", "UTC", datetime(2026, 1, 1, 8, 0, tzinfo=UTC)) == datetime(
        2026, 1, 1, 8, 5, tzinfo=UTC
    )


def test_retry_backoff_follows_the_schedule_then_gives_up_after_a_day() -> None:
    first = T0
    now, waits = first, []
    for attempts in range(1, 20):
        due = next_retry(attempts, first, now)
        if due is None:
            break
        waits.append((due - now).total_seconds())
        now = due
    assert waits[:4] == [60, 300, 1800, 7200]
    assert set(waits[4:]) == {6 * 3600}
    assert 25 * 3600 < (now - first).total_seconds() < 28 * 3600
    assert len(waits) == 8


@pytest.mark.parametrize(
    ("groups", "budget", "expected"),
    [
        (3, 5, (3, 0, 0)),
        (5, 5, (5, 0, 0)),
        (8, 5, (4, 4, 0)),
        (8, 1, (0, 8, 0)),
        (8, 0, (0, 0, 8)),
        (8, -2, (0, 0, 8)),
    ],
)
def test_throttle_split_never_exceeds_the_budget(groups: int, budget: int, expected: tuple[int, int, int]) -> None:
    alerts, summarised, held = split_for_throttle(list(range(groups)), budget)
    assert (len(alerts), len(summarised), len(held)) == expected
    assert alerts + summarised + held == list(range(groups))
    assert len(alerts) + (1 if summarised else 0) <= max(budget, 0)
