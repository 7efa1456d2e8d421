"""The Deliveries page (the alert outbox: pending, sent, failed with the redacted last error) with "retry now" for a
failed delivery, and ``/api/v1/deliveries``.

Items of ``/api/v1/deliveries`` are the objects ``monitor deliveries --format json`` prints. Every error shown passes
the notifier's redaction (the configured channels' secrets and anything that looks like a credential); channel URLs
are never shown, only channel names. "Retry now" (for a failed delivery, or a pending one waiting to retry after a
failed attempt) makes it due and runs a delivery now: one more attempt (403 in read-only mode; a cookie session sends
its CSRF token).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from starlette.responses import Response

from monitor.api import Monitor
from monitor.notify.redact import redact_credentials
from monitor.store import DeliveryRecord
from monitor.web.auth import Reader, Writer
from monitor.web.render import page

__all__ = [
    "DeliveryList",
    "STATUSES",
    "api_deliveries",
    "api_retry",
    "deliveries_page",
    "delivery_line",
    "retry_now",
    "router",
]

router = APIRouter(tags=["deliveries"])
STATUSES = ("pending", "sent", "failed", "suppressed")
_Status = Literal["pending", "sent", "failed", "suppressed"]
_Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first.")]
_Channel = Annotated[
    str | None, Query(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$", description="Only this channel.")
]
_ID_MAX = 2**63 - 1  # the largest id either database stores: a larger one is a 422, not a store error


class DeliveryList(BaseModel):
    """``items``: one ``monitor deliveries --format json`` object per delivery, newest first."""

    items: list[dict[str, Any]]


def delivery_line(monitor: Monitor, d: DeliveryRecord) -> dict[str, Any]:
    """``d.as_json()`` with its last error redacted and the credentials of its article's URL hidden."""
    row = d.as_json()
    article = {**row["article"], "url": redact_credentials(d.article_url)}
    return {**row, "last_error": monitor.notifier.redact(d.last_error) if d.last_error else None, "article": article}


@router.get("/api/v1/deliveries", response_model=DeliveryList)
def api_deliveries(
    request: Request, _reader: Reader, status: _Status | None = None, channel: _Channel = None, limit: _Limit = 100
) -> DeliveryList:
    """The outbox, newest first, optionally of one status and channel."""
    monitor: Monitor = request.app.state.monitor
    found = monitor.deliveries(status=status, channel=channel, limit=limit)
    return DeliveryList(items=[delivery_line(monitor, d) for d in found])


@router.post(
    "/api/v1/deliveries/{delivery_id}/retry",
    responses={
        403: {"description": "Read-only mode or no CSRF token"},
        404: {"description": "No such delivery"},
        409: {"description": "No attempt of the delivery failed (or a sender holds it now)"},
    },
)
def api_retry(request: Request, delivery_id: Annotated[int, Path(ge=1, le=_ID_MAX)], _writer: Writer) -> dict[str, Any]:
    """Send a delivery whose last attempt failed again now: the delivery after that attempt (``sent``, or ``pending``
    or ``failed`` with its new error)."""
    monitor: Monitor = request.app.state.monitor
    return delivery_line(monitor, _retry(monitor, delivery_id))


@router.get("/deliveries", response_class=Response, include_in_schema=False)
def deliveries_page(
    request: Request,
    _reader: Reader,
    status: _Status | None = None,
    channel: _Channel = None,
    limit: _Limit = 100,
    retried: Annotated[int | None, Query(ge=1, le=_ID_MAX)] = None,
) -> Response:
    """The outbox with counts by status; after "retry now", a line saying how the attempt went."""
    monitor: Monitor = request.app.state.monitor
    found = monitor.deliveries(status=status, channel=channel, limit=limit)
    notice = None
    if retried is not None and (again := monitor.delivery(retried)) is not None:
        notice = f"Retried delivery #{again.id} to {again.channel}: {again.status}"
    counts = monitor.delivery_counts()
    return page(
        request,
        "deliveries.html",
        rows=[(d, delivery_line(monitor, d)) for d in found],
        counts={s: counts.get(s, 0) for s in STATUSES},
        status=status,
        channel=channel,
        limit=limit,
        notice=notice,
        more="/deliveries?"
        + urlencode({k: v for k, v in (("status", status), ("channel", channel)) if v} | {"limit": 1000}),
    )


@router.post("/deliveries/retry", response_class=RedirectResponse, status_code=303, include_in_schema=False)
def retry_now(request: Request, delivery: Annotated[int, Form(ge=1, le=_ID_MAX)], _writer: Writer) -> RedirectResponse:
    """The page's "retry now": one more attempt, then back to the outbox (303: a reload sends nothing)."""
    _retry(request.app.state.monitor, delivery)
    return RedirectResponse(f"/deliveries?{urlencode({'retried': delivery})}", status_code=303)


def _retry(monitor: Monitor, delivery_id: int) -> DeliveryRecord:
    again = monitor.retry_delivery(delivery_id)
    if again is not None:
        return again
    known = monitor.delivery(delivery_id)
    if known is None:
        raise HTTPException(404, f"no delivery #{delivery_id}")
    raise HTTPException(409, f"delivery #{delivery_id} is {known.status} and no attempt of it failed: nothing to retry")
