"""The web app: ``create_app(monitor)`` builds it on a ``Monitor`` (the same store the daemon writes).

Each area is a router module listed in ``ROUTERS``; this module adds what every response shares: the security
headers (a Content-Security-Policy with no inline script or style), the static files (htmx vendored: no CDN), and
errors as a one-line page for browsers or JSON for the API and scripts (never a traceback).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor import __version__
from monitor.errors import MonitorError
from monitor.notify.redact import redact
from monitor.web.auth import LoginRequired
from monitor.web.render import page

if TYPE_CHECKING:
    from monitor.api import Monitor

__all__ = ["CSP", "ROUTERS", "create_app", "wants_html"]

_log = logging.getLogger(__name__)

# The modules whose ``router`` the app includes, in order (each area adds its own line).
ROUTERS = (
    "monitor.web.health",
    "monitor.web.login",
    "monitor.web.matches",
    "monitor.web.atom",
    "monitor.web.ops",
    "monitor.web.feeds",
    "monitor.web.deliveries",
    "monitor.web.rules",
    "monitor.web.workbench",
)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # article and feed links must not learn the dashboard's URL
    (b"x-frame-options", b"DENY"),
]


def create_app(monitor: Monitor, *, readiness: Callable[[], str | None] | None = None) -> FastAPI:
    """The app on ``monitor``. ``readiness`` (inside ``monitor run``) returns None when the daemon is healthy, else
    why not (``/readyz`` answers 503 with it)."""
    app = FastAPI(
        title="monitor",
        version=__version__,
        summary="Media monitoring: matches, rules, feeds and deliveries.",
        docs_url=None,  # Swagger UI loads its script from a CDN; /openapi.json is the description
        redoc_url=None,
    )
    app.state.monitor = monitor
    app.state.readiness = readiness
    for name in ROUTERS:
        app.include_router(importlib.import_module(name).router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(MonitorError, _monitor_error)
    app.add_middleware(_SecurityHeaders)
    app.openapi = _described(app)  # type: ignore[method-assign]
    return app


# What a 422 carries (``_invalid_request``); FastAPI would describe its own default, a list under ``detail``.
_INVALID = {
    "title": "HTTPValidationError",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "The first invalid parameter and what is wrong with it."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}


_UNREADABLE = {
    "description": "The body cannot be read (not JSON, not UTF-8)",
    "content": {"application/json": {"schema": {"type": "object", "properties": {"detail": {"type": "string"}}}}},
}


def _described(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` with the 422 answers described as the app gives them, and the 400 of a body that is not
    JSON (or not UTF-8) on each operation that takes one."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        schemas = schema.get("components", {}).get("schemas", {})
        if "HTTPValidationError" in schemas:
            schemas["HTTPValidationError"] = _INVALID
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if "requestBody" in operation:
                    operation["responses"].setdefault("400", _UNREADABLE)
        return schema

    return openapi


class _SecurityHeaders:
    """Adds the security headers to every response (pure ASGI: no per-request task, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + _HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def wants_html(request: Request) -> bool:
    """A browser asking for a page (not the API, Atom, metrics or a script)."""
    path = request.url.path
    if path.startswith(("/api/", "/atom/")) or path in ("/metrics", "/openapi.json"):
        return False
    return "text/html" in request.headers.get("accept", "")


async def _login_required(request: Request, exc: Exception) -> Response:
    if wants_html(request) and request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    return JSONResponse(
        {"detail": "the token is required: Authorization: Bearer <token>"},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "error"
    return _error(request, exc.status_code, detail, getattr(exc, "headers", None))


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors: list[Any] = list(exc.errors())
    first = errors[0] if errors else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("query", "body", "path"))
    detail = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid request"))
    if wants_html(request):
        return _error(request, 400, detail)
    return JSONResponse({"detail": detail, "errors": _plain(errors)}, status_code=422)


async def _monitor_error(request: Request, exc: Exception) -> Response:
    _log.warning("%s %s: %s", request.method, request.url.path, exc)
    return _error(request, 503, redact(str(exc)))


def _error(request: Request, status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    if wants_html(request):
        return page(request, "error.html", status_code=status, status=status, detail=detail)
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _plain(errors: list[Any]) -> list[dict[str, Any]]:
    """Validation errors without the offending input (it may be large or hostile) or exception objects."""
    return [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))} for e in errors
    ]
