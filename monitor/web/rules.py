"""The rules pages and API: every rule with its matches of the last 7 and 30 days, its last match and a chart of
matches per day (SVG drawn on the server); one rule's page; ``GET /api/v1/rules``; and the feedback on a match
(``POST /api/v1/matches/{id}/feedback`` and the form the ``feedback_buttons`` macro posts).

The workbench and ``/api/v1/backtest`` are in ``web/workbench.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from monitor.api import Monitor
from monitor.clock import iso_utc
from monitor.rules import Rule
from monitor.store import Judgement, RuleActivity
from monitor.web.auth import Reader, Writer, user_of
from monitor.web.login import safe_next
from monitor.web.render import page

__all__ = [
    "Bar",
    "FeedbackBody",
    "MatchId",
    "RuleRow",
    "api_feedback",
    "api_rules",
    "bars",
    "form_feedback",
    "router",
    "rule_page",
    "rule_rows",
    "rules_page",
]

router = APIRouter()
#: A match id as the store keeps it (an INTEGER column: 32 bits on PostgreSQL); larger is no match, not an error.
MatchId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_DAYS = 30  # the chart's span
_CHART_W, _CHART_H = 186, 36  # px: 31 bars of 6 px


@dataclass(frozen=True)
class Bar:
    """One day of a chart: its rectangle in the SVG and its count."""

    x: int
    y: int
    width: int
    height: int
    day: date
    count: int


@dataclass(frozen=True)
class RuleRow:
    """A rule in force and its activity."""

    rule: Rule
    activity: RuleActivity

    def count(self, days: int) -> int:
        return self.activity.recent.get(days, 0)

    @property
    def bars(self) -> list[Bar]:
        return bars(self.activity.days)

    def as_json(self) -> dict[str, Any]:
        """The ``GET /api/v1/rules`` item."""
        r, act = self.rule, self.activity
        return {
            "id": r.id,
            "title": r.title,
            "description": r.description,
            "query": r.query,
            "severity": r.severity,
            "tags": list(r.tags),
            "lang": list(r.lang),
            "feeds": list(r.feeds),
            "enabled": r.enabled,
            "version": r.version,
            "matches_7d": self.count(7),
            "matches_30d": self.count(30),
            "last_match": iso_utc(act.last_match) if act.last_match else None,
            "per_day": [{"date": d.isoformat(), "matches": n} for d, n in act.days],
        }


def bars(days: tuple[tuple[date, int], ...], width: int = _CHART_W, height: int = _CHART_H) -> list[Bar]:
    """The bars of a per-day chart, scaled to the busiest day (a day with matches is at least 2 px high)."""
    if not days:
        return []
    step = max(1, width // len(days))
    top = max(n for _, n in days) or 1
    out = []
    for i, (day, n) in enumerate(days):
        h = 0 if n == 0 else max(2, round(n / top * (height - 2)))
        out.append(Bar(i * step, height - h, max(1, step - 1), h, day, n))
    return out


def _monitor(request: Request) -> Monitor:
    m: Monitor = request.app.state.monitor
    return m


def rule_rows(m: Monitor) -> list[RuleRow]:
    """Every rule in force, in file order, with its activity over the last 30 days."""
    activity = m.rule_activity(_DAYS)
    quiet = RuleActivity.quiet(m.clock(), _DAYS)
    return [RuleRow(rule, activity.get(rule.id, quiet)) for rule in m.rules.rules]


@router.get("/rules", include_in_schema=False)
def rules_page(request: Request, _: Reader) -> Response:
    return page(request, "rules.html", rows=rule_rows(_monitor(request)), days=_DAYS)


@router.get("/rules/{rule_id}", include_in_schema=False)
def rule_page(request: Request, rule_id: str, _: Reader) -> Response:
    m = _monitor(request)
    rule = m.rules.get(rule_id)
    if rule is None:
        raise HTTPException(404, f"no rule {rule_id!r} in force")
    recent = m.matches(rule=rule_id, limit=20) if "*" not in rule_id and "?" not in rule_id else []
    judged = m.store.feedback_of([x.id for x in recent])
    examples = [(ex.should_match, ex.label, ex.doc.title or ex.doc.text[:120]) for ex in rule.examples]
    row = RuleRow(rule, m.rule_activity(_DAYS).get(rule_id) or RuleActivity.quiet(m.clock(), _DAYS))
    return page(request, "rule.html", row=row, days=_DAYS, recent=recent, judged=judged, examples=examples, rule=rule)


@router.get("/api/v1/rules", tags=["rules"], summary="Every rule in force with its recent activity")
def api_rules(request: Request, _: Reader) -> dict[str, list[dict[str, Any]]]:
    """The rules in force, in file order: description, query, severity, tags, filters, matches in the last 7 and 30
    days, last match and matches per UTC day over the last 30 days."""
    return {"items": [row.as_json() for row in rule_rows(_monitor(request))]}


class FeedbackBody(BaseModel):
    """An analyst's verdict on a match."""

    model_config = ConfigDict(extra="forbid", strict=True)
    relevant: bool


@router.post(
    "/api/v1/matches/{match_id}/feedback",
    tags=["matches"],
    summary="Mark a match relevant or not relevant",
    responses={403: {"description": "Read-only (no token configured) or a wrong CSRF token"}, 404: {}},
)
def api_feedback(request: Request, match_id: MatchId, body: FeedbackBody, _: Writer) -> dict[str, Any]:
    """Record the verdict (with who and when); a second one replaces the first."""
    return _judgement_json(_judge(request, match_id, body.relevant))


@router.post("/matches/{match_id}/feedback", include_in_schema=False)
def form_feedback(
    request: Request,
    match_id: MatchId,
    _: Writer,
    relevant: Annotated[str, Form()],
    next: Annotated[str, Form()] = "",  # noqa: A002 - the form field's name
) -> Response:
    """The feedback buttons' form: htmx swaps in the buttons with the new state; a plain form goes back."""
    if relevant not in ("true", "false"):
        raise HTTPException(400, "relevant must be 'true' or 'false'")
    judged = _judge(request, match_id, relevant == "true")
    if request.headers.get("hx-request") == "true":
        return page(request, "_feedback_form.html", match=_Ref(match_id), judged=judged)
    return RedirectResponse(safe_next(next) if next else "/", status_code=303)


@dataclass(frozen=True)
class _Ref:
    id: int


def _judge(request: Request, match_id: int, relevant: bool) -> Judgement:
    judged = _monitor(request).feedback(match_id, relevant, by=user_of(request))
    if judged is None:
        raise HTTPException(404, f"no match {match_id}")
    return judged


def _judgement_json(j: Judgement) -> dict[str, Any]:
    return {"match": j.match_id, "relevant": j.relevant, "judged_by": j.judged_by, "judged_at": iso_utc(j.judged_at)}
