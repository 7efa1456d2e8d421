"""Access to the web app: one shared token (``[web] token``), a login form that sets a signed session cookie, CSRF.

- No token configured: anyone who reaches the port may read (it binds 127.0.0.1 by default), and every action
  (feedback, retry, poll now, backtest) answers 403: the app is read-only.
- A token configured: every page, API call, Atom feed and ``/metrics`` needs it, as ``Authorization: Bearer <token>``,
  as the session cookie the ``/login`` form sets, or (Atom only, for feed readers that cannot send headers)
  ``?token=``. ``/healthz`` and ``/readyz`` never do.
- A cookie session's POSTs carry a CSRF token (form field ``csrf`` or header ``X-CSRF-Token``); a Bearer request
  needs none, as a browser never adds that header by itself.

Cookies and CSRF tokens are HMACs keyed by the token, so changing the token logs everyone out. A session carries
its signed issue time and ends after ``SESSION_MAX_AGE`` whatever the browser keeps (a copied cookie does not live on).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request

__all__ = [
    "AtomReader",
    "LoginRequired",
    "READ_ONLY",
    "Reader",
    "SESSION_COOKIE",
    "SESSION_MAX_AGE",
    "Writer",
    "csrf_token",
    "is_read_only",
    "require_atom_reader",
    "require_reader",
    "require_writer",
    "session_cookie",
    "token_matches",
    "user_of",
]

SESSION_COOKIE = "monitor_session"
SESSION_MAX_AGE = 7 * 86400  # seconds a login lasts
READ_ONLY = "read-only: set [web] token (e.g. MONITOR_WEB_TOKEN) to enable actions"


class LoginRequired(Exception):
    """A page needs the token: browsers are sent to ``/login``, API clients get 401 (``app.py`` decides)."""


def _token(request: Request) -> str:
    return str(request.app.state.monitor.settings.web.token)


def is_read_only(request: Request) -> bool:
    """True when no token is configured (actions are refused)."""
    return not _token(request)


def _sign(token: str, message: str) -> str:
    return hmac.new(token.encode(), message.encode(), hashlib.sha256).hexdigest()


def session_cookie(token: str, user: str, issued: float | None = None) -> str:
    """The cookie value of a login as ``user`` at ``issued`` (Unix seconds, default now): name and time, signed."""
    claims = {"user": user[:80], "iat": int(time.time() if issued is None else issued)}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode()
    return f"{payload}.{_sign(token, 'session:' + payload)}"


def _session_user(request: Request, token: str) -> str | None:
    """The user of a valid session cookie issued less than ``SESSION_MAX_AGE`` ago, else None."""
    value = request.cookies.get(SESSION_COOKIE, "")
    payload, _, signature = value.partition(".")
    if not payload or not hmac.compare_digest(signature, _sign(token, "session:" + payload)):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode()))
        user, issued = claims["user"], claims["iat"]
    except (ValueError, KeyError, TypeError):  # a cookie from before issue times were signed: log in again
        return None
    fresh = isinstance(issued, int) and 0 <= time.time() - issued < SESSION_MAX_AGE
    return user if isinstance(user, str) and fresh else None


def token_matches(given: str, token: str) -> bool:
    """``given`` is the token (in constant time)."""
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def _bearer_ok(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and token_matches(given.strip(), token)


def user_of(request: Request) -> str:
    """Who is acting: the name given at login, "api" for a Bearer request, "" otherwise."""
    token = _token(request)
    if not token:
        return ""
    if _bearer_ok(request, token):
        return "api"
    return _session_user(request, token) or ""


def csrf_token(request: Request) -> str:
    """The CSRF token of this request's session ("" without a token or a session)."""
    token = _token(request)
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return _sign(token, "csrf:" + cookie)[:32] if token and cookie else ""


def _authenticated(request: Request, token: str, *, query_token: bool = False) -> bool:
    if _bearer_ok(request, token) or _session_user(request, token) is not None:
        return True
    return query_token and token_matches(request.query_params.get("token", ""), token)


def require_reader(request: Request) -> None:
    """Dependency of every page, API route and ``/metrics``: the token, when one is configured."""
    token = _token(request)
    if token and not _authenticated(request, token):
        raise LoginRequired


def require_atom_reader(request: Request) -> None:
    """``require_reader`` that also takes ``?token=`` (feed readers cannot send headers)."""
    token = _token(request)
    if token and not _authenticated(request, token, query_token=True):
        raise LoginRequired


async def require_writer(request: Request) -> None:
    """Dependency of every action: 403 in read-only mode; a cookie session must send its CSRF token."""
    token = _token(request)
    if not token:
        raise HTTPException(403, READ_ONLY)
    if _bearer_ok(request, token):
        return
    if _session_user(request, token) is None:
        raise LoginRequired
    sent = request.headers.get("x-csrf-token", "")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = str((await request.form()).get("csrf", ""))
    if not hmac.compare_digest(sent.encode(), csrf_token(request).encode()):
        raise HTTPException(403, "CSRF token missing or wrong: reload the page and try again")


Reader = Annotated[None, Depends(require_reader)]
AtomReader = Annotated[None, Depends(require_atom_reader)]
Writer = Annotated[None, Depends(require_writer)]
