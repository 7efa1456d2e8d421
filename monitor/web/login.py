"""``/login`` and ``/logout``: the form that turns the token into a session cookie for a browser."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from monitor.web.auth import SESSION_COOKIE, SESSION_MAX_AGE, session_cookie, token_matches
from monitor.web.render import page

__all__ = ["login", "login_form", "logout", "router", "safe_next"]

router = APIRouter(include_in_schema=False)


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path on this site only (never ``//host`` or ``https://host``; no control
    character either: browsers drop tabs and newlines from a URL, so ``/<tab>/host`` would be ``//host``)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or not value.isprintable():
        return "/"
    return value


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:  # noqa: A002 - the query parameter's name
    return page(request, "login.html", next=safe_next(next), error="")


@router.post("/login")
def login(
    request: Request,
    token: Annotated[str, Form()] = "",
    name: Annotated[str, Form(max_length=80)] = "",
    next: Annotated[str, Form()] = "/",  # noqa: A002
) -> Response:
    configured = request.app.state.monitor.settings.web.token
    if not configured:
        return RedirectResponse(safe_next(next), status_code=303)
    if not token_matches(token, configured):
        return page(request, "login.html", status_code=401, next=safe_next(next), error="Wrong token.")
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_cookie(configured, name.strip() or "analyst"),
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
