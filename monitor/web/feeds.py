"""The Feeds page (each feed's health: last success and error, failures, next poll, blocked requests, articles per
day over 7 days, a "silent" flag) with its "poll now" action, and ``/api/v1/feeds``.

``/api/v1/feeds`` gives ``{"items": [...]}``, each item the object ``monitor feeds list --format json`` prints
(``monitor.feedhealth.feed_line``: credentials in URLs and errors hidden). "Poll now" is an action: 403 in read-only
mode, a CSRF token with a cookie session; inside ``monitor run`` it polls on the daemon's loop (``web/ops.py``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from starlette.responses import Response

from monitor.feedhealth import FeedHealth, feed_line
from monitor.notify.redact import redact_credentials
from monitor.pipeline import FeedResult
from monitor.web.auth import Reader, Writer
from monitor.web.ops import poller
from monitor.web.render import page

__all__ = ["FeedList", "PollResult", "api_feeds", "api_poll", "feeds_page", "poll_now", "router"]

router = APIRouter(tags=["feeds"])
_STATUSES = ("ok", "not_modified", "error", "skipped", "gone")


class FeedList(BaseModel):
    """``items``: one ``feeds list --format json`` object per feed, by name."""

    items: list[dict[str, Any]]


class PollResult(BaseModel):
    """What polling one feed now did."""

    feed: str
    status: str
    new: int
    matched: int
    error: str | None
    seconds: float


@router.get("/api/v1/feeds", response_model=FeedList)
def api_feeds(request: Request, _reader: Reader) -> FeedList:
    """Every feed with its health, shaped as the lines of ``monitor feeds list --format json``."""
    return FeedList(items=[feed_line(f) for f in request.app.state.monitor.feeds()])


@router.post(
    "/api/v1/feeds/{name:path}/poll",
    response_model=PollResult,
    responses={403: {"description": "Read-only mode or no CSRF token"}, 404: {"description": "No such feed"}},
)
def api_poll(request: Request, name: str, _writer: Writer) -> PollResult:
    """Poll the feed ``name`` now (even inside its back-off); what the poll did."""
    return _shown(_poll(request, name))


@router.get("/feeds", response_class=Response, include_in_schema=False)
def feeds_page(
    request: Request,
    _reader: Reader,
    polled: Annotated[str | None, Query(max_length=400)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    new: Annotated[int | None, Query(ge=0)] = None,
    matched: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """The health table; after "poll now", a line saying what the poll did."""
    rows: list[FeedHealth] = request.app.state.monitor.feed_health()
    notice = None
    if polled and status in _STATUSES:
        notice = f"Polled {polled} now: {status.replace('_', ' ')}"
        if status in ("ok", "not_modified"):
            notice += f", {new or 0} new, {matched or 0} matched"
        elif status == "skipped":
            notice = f"{polled} was not polled: it is disabled (enable it in config.toml)"
    return page(
        request,
        "feeds.html",
        rows=rows,
        notice=notice,
        span=_span,
        silent=sum(r.silent for r in rows),
        failing=sum(r.feed.enabled and r.feed.last_status == "error" for r in rows),
    )


@router.post("/feeds/poll", response_class=RedirectResponse, status_code=303, include_in_schema=False)
def poll_now(request: Request, feed: Annotated[str, Form(max_length=400)], _writer: Writer) -> RedirectResponse:
    """The page's "poll now": poll, then back to the table with what it did (303, so a reload polls nothing)."""
    result = _poll(request, feed)
    query = urlencode({"polled": result.feed, "status": result.status, "new": result.new, "matched": result.matched})
    return RedirectResponse(f"/feeds?{query}", status_code=303)


def _poll(request: Request, name: str) -> FeedResult:
    # A name with control characters is no feed's, and PostgreSQL refuses NUL in text: a 404, not a store error.
    result = poller(request)(name) if name.isprintable() else None
    if result is None:
        raise HTTPException(404, f"no feed named {name!r}")
    return result


def _shown(result: FeedResult) -> PollResult:
    error = redact_credentials(result.error) if result.error else None
    return PollResult(
        feed=result.feed,
        status=result.status,
        new=result.new,
        matched=result.matched,
        error=error,
        seconds=round(result.seconds, 3),
    )


def _span(value: timedelta | None) -> str:
    """A duration as people say it: ``40 min``, ``5 h``, ``3 days``."""
    seconds = value.total_seconds() if value else 0.0
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 2 * 86400:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"
