"""``/healthz`` (the process answers) and ``/readyz`` (the store answers and, inside ``monitor run``, the scheduler
ticks): for load balancers and supervisors, so never behind the token."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from monitor.errors import MonitorError
from monitor.notify.redact import redact

__all__ = ["healthz", "readyz", "router"]

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """200 while the process runs."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready; the reason is in the body."}})
def readyz(request: Request) -> JSONResponse:
    """200 when the store answers and the scheduler (inside ``monitor run``) has ticked lately; else 503."""
    try:
        request.app.state.monitor.store.ping()
    except MonitorError as e:
        return JSONResponse({"status": "unavailable", "reason": redact(f"store: {e}")}, status_code=503)
    readiness = request.app.state.readiness
    reason = readiness() if readiness is not None else None
    if reason:
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    return JSONResponse({"status": "ok"})
