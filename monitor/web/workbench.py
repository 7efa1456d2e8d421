"""The rule workbench: paste an article's text or give its URL and see which rules match it and why; edit a rule's
query, or the whole rule, and backtest it over the articles stored in the last N days (gained, lost, kept against
its stored matches) without saving, alerting or touching the store. ``POST /api/v1/backtest`` is the same engine.

Trying and backtesting are actions: they answer 403 in read-only mode (no ``[web] token``), as the URL is fetched
by the server (through the fetcher's SSRF guard) and a backtest reads a month of articles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from monitor.api import Monitor
from monitor.backtest import Backtest
from monitor.errors import MonitorError, RuleSetError, UnknownRuleError
from monitor.notify.redact import redact
from monitor.rules import Explanation
from monitor.rules.draft import rule_yaml
from monitor.web.auth import Reader, Writer
from monitor.web.render import page
from monitor.workbench import Trial

__all__ = [
    "BacktestBody",
    "LISTED",
    "SHOWN_TEXT",
    "TreeNode",
    "api_backtest",
    "router",
    "shown_tree",
    "workbench_action",
    "workbench_page",
]

router = APIRouter()
#: Items listed per status (gained, lost, kept) on the page and by default in the API; the counts are complete.
LISTED = 100
#: Characters of the tried document shown with its hits marked.
SHOWN_TEXT = 20_000
_FALSE_ENTRIES = 3  # a set's false entries shown (it may hold thousands), as `rules explain`


@dataclass(frozen=True)
class TreeNode:
    """A node of the explanation as the page shows it: a set's false entries cut to a few."""

    query: str
    value: bool
    words: tuple[str, ...]
    children: tuple[TreeNode, ...]
    hidden: int = 0


def shown_tree(node: Explanation) -> TreeNode:
    """``node`` with, under each set, its true entries and at most three false ones (``hidden`` counts the rest)."""
    children = node.children
    hidden = 0
    if node.query.startswith("@"):
        false = [c for c in children if not c.value]
        keep = {id(c) for c in false[:_FALSE_ENTRIES]}
        children = tuple(c for c in children if c.value or id(c) in keep)
        hidden = len(false) - len(keep)
    words = tuple(sorted({h.text for h in node.hits}))
    return TreeNode(node.query, node.value, words, tuple(shown_tree(c) for c in children), hidden)


class BacktestBody(BaseModel):
    """What to backtest: a rule in force (``rule``), a query (in place of ``rule``'s when both are given), or a
    rule file's text (``text``; ``rule`` picks one of several rules in it)."""

    model_config = ConfigDict(extra="forbid")
    rule: str | None = Field(None, max_length=200, description="A rule id.")
    query: str | None = Field(None, max_length=100_000, description="A query; it may name the sets of rule files.")
    text: str | None = Field(None, max_length=1_000_000, description="YAML: a rule file, rules, or one rule.")
    days: float = Field(30, gt=0, le=3660, description="The window: articles stored in the last this many days.")
    limit: int = Field(LISTED, ge=0, le=100_000, description="Items listed per status (counts are complete).")


def _monitor(request: Request) -> Monitor:
    m: Monitor = request.app.state.monitor
    return m


def _errors(e: Exception) -> list[str]:
    """A failure as the lines shown to the user: each rule error, else the one message, redacted."""
    if isinstance(e, RuleSetError):
        return [redact(str(x)) for x in e.errors]
    return [redact(str(e))]


@router.post(
    "/api/v1/backtest",
    tags=["rules"],
    summary="Backtest a rule, a query or a rule's text over the stored articles",
    responses={
        403: {"description": "Read-only (no token configured) or a wrong CSRF token"},
        404: {"description": "No rule in force has this id"},
        422: {"description": "The query or the rule has errors (each in `errors`)"},
    },
)
def api_backtest(request: Request, body: BacktestBody, _: Writer) -> Any:
    """What the rule would have matched among the articles stored in the last ``days`` days, compared with the
    stored matches of its id (gained, lost, kept), with the decisive snippet of each. Nothing is saved or sent."""
    try:
        result = _monitor(request).backtest(
            rule=body.rule, query=body.query, text=body.text, days=body.days, limit=body.limit
        )
    except UnknownRuleError as e:
        raise HTTPException(404, redact(str(e))) from None
    except (RuleSetError, ValueError) as e:
        lines = _errors(e)
        return JSONResponse({"detail": lines[0], "errors": lines}, status_code=422)
    return result.as_json()


@router.get("/workbench", include_in_schema=False)
def workbench_page(request: Request, _: Reader, rule: str = "") -> Response:
    m = _monitor(request)
    chosen = m.rules.get(rule) if rule else None
    return _render(request, m, rule=chosen.id if chosen else "", mode="rule")


@router.post("/workbench", include_in_schema=False)
def workbench_action(
    request: Request,
    _: Writer,
    action: Annotated[str, Form()] = "try",
    rule: Annotated[str, Form(max_length=200)] = "",
    mode: Annotated[str, Form()] = "rule",
    query: Annotated[str, Form(max_length=100_000)] = "",
    rule_text: Annotated[str, Form(max_length=1_000_000)] = "",
    text: Annotated[str, Form(max_length=1_000_000)] = "",
    url: Annotated[str, Form(max_length=4000)] = "",
    days: Annotated[float, Form(gt=0, le=3660)] = 30,
) -> Response:
    m = _monitor(request)
    if action not in ("try", "backtest") or mode not in ("rule", "query", "yaml"):
        raise HTTPException(400, "action must be try or backtest, and mode rule, query or yaml")
    draft = {
        "rule": rule or None if mode != "yaml" else None,
        "query": query if mode == "query" else None,
        "text": rule_text if mode == "yaml" else None,
    }
    form: dict[str, Any] = {
        "rule": rule,
        "mode": mode,
        "query": query,
        "rule_text": rule_text,
        "text": text,
        "url": url,
        "days": days,
    }
    trial: Trial | None = None
    result: Backtest | None = None
    try:
        if action == "try":
            if not (text.strip() or url.strip()):
                raise ValueError("paste an article's text or give its URL")
            trial = m.try_rules(
                text=text, url=url.strip() or None, rule=draft["rule"], query=draft["query"], rule_text=draft["text"]
            )
        else:
            if mode == "rule" and not rule:
                raise ValueError("choose the rule to backtest, or write a query or a rule")
            result = m.backtest(rule=draft["rule"], query=draft["query"], text=draft["text"], days=days, limit=LISTED)
    except (MonitorError, ValueError) as e:
        return _render(request, m, status_code=422, errors=_errors(e), action=action, **form)
    return _render(request, m, trial=trial, result=result, action=action, **form)


def _render(request: Request, m: Monitor, *, status_code: int = 200, **context: Any) -> Response:
    rules = m.rules.rules
    chosen = m.rules.get(str(context.get("rule") or ""))
    if chosen is not None:  # the editors start from the chosen rule
        context.setdefault("query", chosen.query)
        context.setdefault("rule_text", rule_yaml(chosen))
    trial: Trial | None = context.get("trial")
    shown = None
    if trial is not None:
        doc = trial.document
        title_spans = [(h.start, h.end) for x in trial.matches for h in x.hits if h.field == "title"]
        text_spans = [(h.start, h.end) for x in trial.matches for h in x.hits if h.field == "text"]
        shown = {
            "title": (doc.title, title_spans),
            "text": (doc.text[:SHOWN_TEXT], [s for s in text_spans if s[1] <= SHOWN_TEXT]),
            "cut": max(0, len(doc.text) - SHOWN_TEXT),
            "trees": {e.rule.id: shown_tree(e.tree) for e in trial.explained},
        }
    defaults = {"rule": "", "mode": "rule", "query": "", "rule_text": "", "text": "", "url": "", "days": 30}
    values = {**defaults, **context}
    values["days"] = f"{float(values['days']):g}"
    return page(
        request,
        "workbench.html",
        status_code=status_code,
        rules=rules,
        shown=shown,
        errors=context.get("errors", []),
        trial=trial,
        result=context.get("result"),
        listed=LISTED,
        **{k: v for k, v in values.items() if k not in ("trial", "result", "errors")},
    )
