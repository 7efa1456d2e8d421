"""The Matches area: the home page (filters, search, pages, j/k/o keys), one match's page, and the JSON API.

- ``GET /``: matches newest first, filtered by ``rule`` (id or glob), ``severity``, ``tag``, ``feed``, ``lang``,
  ``since``/``until`` (a duration such as ``2d`` or a date) and ``q`` (full-text search of the stored articles),
  ``cursor`` pagination. Each row: rule and severity, the article (linked to its source), outlet, date, language,
  the snippet with its hits in ``<mark>``, "also reported by N outlets" (expandable), the delivery state per channel.
- ``GET /matches/{id}``: the article's text with every hit of every rule that matched it marked, each rule's query
  and why it matched (``rules explain``), the story's other articles, the story's deliveries.
- ``GET /api/v1/matches`` (``{"items", "next"}``) and ``GET /api/v1/matches/{id}``: items exactly as the lines of
  ``monitor matches --format json``, credentials redacted the same way (``monitor.matchview``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Path, Query, Request
from markupsafe import Markup
from pydantic import BaseModel
from starlette.responses import Response

from monitor.api import Monitor
from monitor.errors import MonitorError
from monitor.matchview import cutoff, field_spans, safe_href, shown, shown_match, snippet_spans
from monitor.rules import Document, Explanation, RuleSet
from monitor.severity import SEVERITIES, Severity
from monitor.store import ArticleSummary, InvalidCursorError, MatchFilter, MatchPage, MatchRecord
from monitor.store.browse import CURSOR_PATTERN, MAX_PAGE
from monitor.web.auth import Reader
from monitor.web.render import marked, page

__all__ = [
    "Problem",
    "api_match",
    "api_matches",
    "match_page",
    "matches_page",
    "router",
]

router = APIRouter()

_MAX_ID = 2**63 - 1  # larger ids are no row of any table (and SQLite cannot bind them)
_PAGE = 50  # matches per page of the home page
_FALSE_SHOWN = 3  # false entries of a set the explanation shows (the CLI's default too)
_FILTERS = ("rule", "severity", "tag", "feed", "lang", "since", "until", "q")

_Text = Annotated[str | None, Query(max_length=500)]
_Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page (newest first).")]
_Cursor = Annotated[
    str | None, Query(pattern=CURSOR_PATTERN, max_length=41, description="The `next` value of the previous page.")
]
_MatchId = Annotated[int, Path(ge=1, le=_MAX_ID)]
# A time filter is a duration back from now or a date (the schema says which strings, so API tools send good ones).
_DURATION = r"([0-9]{1,6}(\.[0-9]{1,3})?(ms|s|m|h|d|w))+"
_DAY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TIME_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": f"^{_DURATION}$", "maxLength": 40, "description": "a duration: 2h, 3d, 1h30m"},
        {"type": "string", "format": "date", "maxLength": 10, "description": "a day (UTC): 2026-11-01"},
        {"type": "string", "format": "date-time", "maxLength": 40, "description": "a time: 2026-11-01T08:00:00Z"},
        {"type": "null"},
    ]
}
_Time = Annotated[str | None, Query(max_length=40, json_schema_extra=_TIME_SCHEMA)]
# The API takes what its schema describes, and a time without seconds or offset (UTC); the page's form is more
# lenient (" 2d ").
_API_TIME = re.compile(
    rf"{_DURATION}|{_DAY}([Tt ][0-9]{{2}}:[0-9]{{2}}(:[0-9]{{2}}(\.[0-9]+)?)?([Zz]|[+-][0-9]{{2}}:[0-9]{{2}})?)?"
)


class Problem(BaseModel):
    """An error: one line saying what was wrong (``errors``: each invalid parameter, for a 422)."""

    detail: str
    errors: list[dict[str, Any]] = []


_PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No match has this id."},
    422: {"model": Problem, "description": "A parameter is invalid; `detail` names it."},
}


@dataclass(frozen=True)
class _Asked:
    """A request's filters: the store's ``MatchFilter`` and the raw values (to refill the form and the links)."""

    where: MatchFilter
    raw: dict[str, str]


def _asked(request: Request, status: int) -> _Asked:
    """The filters of the query string; a bad value is ``status`` with one line naming it."""
    raw = {name: value.strip() for name in _FILTERS if (value := request.query_params.get(name, "").strip())}
    monitor: Monitor = request.app.state.monitor
    severity = raw.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise HTTPException(status, f"severity: {severity!r} is not one of {', '.join(SEVERITIES)}")
    times = {}
    for name in ("since", "until"):
        if name in raw:
            try:
                times[name] = cutoff(raw[name], monitor.clock())
            except ValueError as e:
                raise HTTPException(status, f"{name}: {e}") from None
    where = MatchFilter(
        rule=raw.get("rule"),
        severity=severity,
        tag=raw.get("tag"),
        feed=raw.get("feed"),
        lang=raw.get("lang"),
        since=times.get("since"),
        until=times.get("until"),
        q=raw.get("q"),
    )
    return _Asked(where, raw)


def _browse(request: Request, asked: _Asked, limit: int, cursor: str | None, status: int) -> MatchPage:
    try:
        return request.app.state.monitor.browse_matches(asked.where, limit=limit, cursor=cursor or None)  # type: ignore[no-any-return]
    except InvalidCursorError as e:
        raise HTTPException(status, str(e)) from None


@router.get(
    "/api/v1/matches",
    tags=["matches"],
    summary="Stored matches, newest first, filtered; cursor pages",
    responses={422: _PROBLEMS[422]},
)
def api_matches(
    request: Request,
    _: Reader,
    rule: _Text = None,
    severity: Severity | None = None,
    tag: _Text = None,
    feed: _Text = None,
    lang: _Text = None,
    since: _Time = None,
    until: _Time = None,
    q: _Text = None,
    limit: _Limit = 50,
    cursor: _Cursor = None,
) -> dict[str, Any]:
    """``{"items": [...], "next": cursor or null}``: each item a ``monitor matches --format json`` line.

    ``rule`` is an id or a glob (``scam-*``); ``severity`` exact; ``tag`` one of the rule's tags; ``feed`` a feed's
    name; ``lang`` a language code; ``since``/``until`` a duration back from now (``2h``, ``3d``) or a date;
    ``q`` words that must all occur in the article's title or text (``"a phrase"``, ``prefix*``)."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and not _API_TIME.fullmatch(value):
            raise HTTPException(422, f"{name}: {value!r} is neither a duration (2h, 3d) nor a date (2026-11-01)")
    found = _browse(request, _asked(request, 422), limit, cursor, 422)
    return {"items": [shown_match(m) for m in found.items], "next": found.next}


@router.get(
    "/api/v1/matches/{match_id}",
    tags=["matches"],
    summary="One stored match",
    responses=_PROBLEMS,
)
def api_match(request: Request, _: Reader, match_id: _MatchId) -> dict[str, Any]:
    """The match as a ``monitor matches --format json`` line."""
    detail = request.app.state.monitor.match_detail(match_id)
    if detail is None:
        raise HTTPException(404, f"no match with id {match_id}")
    return shown_match(detail.match)


@dataclass(frozen=True)
class _Row:
    """A match as its row shows it."""

    match: MatchRecord
    rule_title: str
    href: str | None
    snippet: Markup
    outlets: int
    others: tuple[tuple[ArticleSummary, str | None], ...]
    deliveries: tuple[dict[str, Any], ...]


def _rules(monitor: Monitor) -> RuleSet | None:
    try:
        return monitor.rules
    except MonitorError:  # a rule file broken at the first load: the stored matches still show
        return None


def _row(m: MatchRecord, found: MatchPage, rules: RuleSet | None) -> _Row:
    rule = rules.get(m.rule) if rules is not None else None
    outlets, others = found.others(m)
    deliveries = tuple(
        shown(
            {"channel": d.channel, "status": d.status, "attempts": d.attempts, "last_error": d.last_error}, "last_error"
        )
        for d in found.deliveries(m)
    )
    return _Row(
        match=m,
        rule_title=rule.title if rule is not None and rule.title else m.rule,
        href=safe_href(m.article.url),
        snippet=marked(m.snippet, snippet_spans(m.snippet, m.hits)),
        outlets=outlets,
        others=tuple((a, safe_href(a.url)) for a in others),
        deliveries=deliveries,
    )


def _link(raw: dict[str, str], **more: str) -> str:
    query = urlencode({**raw, **more})
    return f"/?{query}" if query else "/"


@router.get("/", include_in_schema=False)
def matches_page(
    request: Request,
    _: Reader,
    limit: _Limit = _PAGE,
    cursor: _Cursor = None,
    rule: _Text = None,
    severity: _Text = None,
    tag: _Text = None,
    feed: _Text = None,
    lang: _Text = None,
    since: _Text = None,
    until: _Text = None,
    q: _Text = None,
) -> Response:
    """The home page: the matches, newest first."""
    asked = _asked(request, 400)
    found = _browse(request, asked, limit, cursor, 400)
    monitor: Monitor = request.app.state.monitor
    rules = _rules(monitor)
    kept = {**asked.raw, **({"limit": str(limit)} if limit != _PAGE else {})}  # what the page links carry on
    choices = {
        "rules": sorted((r.id, r.title or r.id) for r in rules.rules) if rules is not None else [],
        "tags": sorted({t for r in rules.rules for t in r.tags}) if rules is not None else [],
        "feeds": monitor.store.feed_names(),
        "severities": list(SEVERITIES)[::-1],
    }
    return page(
        request,
        "matches.html",
        rows=[_row(m, found, rules) for m in found.items],
        form={name: asked.raw.get(name, "") for name in _FILTERS},
        filtered=bool(asked.raw),
        choices=choices,
        older=_link(kept, cursor=found.next) if found.next else None,
        newest=_link(kept) if cursor else None,
        judged=monitor.store.feedback_of([m.id for m in found.items]),
    )


@router.get("/matches/{match_id}", include_in_schema=False)
def match_page(request: Request, _: Reader, match_id: _MatchId) -> Response:
    """One match in full."""
    monitor: Monitor = request.app.state.monitor
    detail = monitor.match_detail(match_id)
    if detail is None:
        raise HTTPException(404, f"no match with id {match_id}")
    article = detail.article
    rules = _rules(monitor)
    doc = Document(title=article.title, text=article.text, url=article.url, lang=article.lang, feed=article.feed_name)
    hits = [h for m in detail.matches for h in m.hits]
    explained = [_explained(m, rules, doc) for m in detail.matches]
    story = [(a, safe_href(a.url)) for a in detail.story]
    alerts = [shown(vars(d).copy(), "last_error") for d in detail.deliveries]
    return page(
        request,
        "match.html",
        detail=detail,
        href=safe_href(article.url),
        title=marked(article.title, field_spans(article.title, "title", hits)),
        text=marked(article.text, field_spans(article.text, "text", hits)),
        explained=explained,
        story=story,
        alerts=alerts,
        judged=monitor.store.feedback_of([m.id for m in detail.matches]),
    )


def _explained(m: MatchRecord, rules: RuleSet | None, doc: Document) -> dict[str, Any]:
    """A matched rule as the page explains it: its title and query, and the current rule's explanation tree."""
    rule = rules.get(m.rule) if rules is not None else None
    view: dict[str, Any] = {"match": m, "rule": rule, "tree": None, "note": ""}
    if rule is None or rules is None:
        view["note"] = f"The rule {m.rule!r} is not loaded now, so its query cannot be shown."
        return view
    if rule.version and m.rule_version and rule.version != m.rule_version:
        view["note"] = "The rule has changed since this match: the explanation is the current rule's."
    try:
        view["tree"] = _tree(rules.explain(m.rule, doc))
    except MonitorError as e:
        view["note"] = f"No explanation: {e}"
    return view


def _tree(node: Explanation) -> dict[str, Any]:
    """An explanation node as nested dicts; a set lists its true entries and a few false ones (as the CLI)."""
    children = list(node.children)
    hidden = 0
    if node.query.startswith("@"):
        false = [c for c in children if not c.value]
        keep = {id(c) for c in false[:_FALSE_SHOWN]}
        children = [c for c in children if c.value or id(c) in keep]
        hidden = len(false) - len(keep)
    return {
        "query": node.query,
        "value": node.value,
        "words": sorted({h.text for h in node.hits}),
        "children": [_tree(c) for c in children],
        "hidden": hidden,
    }
