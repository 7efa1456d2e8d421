"""The access rules and bad-input rules on every route of the app, found by walking ``app.routes``: a route added
later is covered without editing this file (docs/web.md, "Access").

- With a token set and none given: 401 for the API, Atom feeds and ``/metrics``; pages send browsers to ``/login``.
  Only ``/healthz``, ``/readyz``, ``/login`` (and ``/logout``), ``/openapi.json`` and ``/static`` are open.
- ``?token=`` opens the Atom feeds and nothing else.
- Without a token every action (POST) answers 403 "read-only"; with a cookie session an action without its CSRF
  token answers 403, and the same action with it does not.
- No path or query value, however hostile (``../``, NUL, huge numbers, very long text, unicode, search syntax),
  makes a 500.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel
from starlette.routing import Route

from monitor.api import Monitor
from monitor.web import create_app
from monitor.web.auth import READ_ONLY
from tests.support.routes import flat_routes
from tests.support.webapp import with_token

TOKEN = "every-route-t0ken"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
HTML = {"Accept": "text/html,application/xhtml+xml"}

# Never behind the token: health for supervisors, the login form (and leaving it), the API's description.
OPEN = frozenset({"/healthz", "/readyz", "/login", "/logout", "/openapi.json"})
# Values attackers and fuzzers send: traversal, NUL, overflowing numbers, long text, odd unicode, markup, search
# syntax (FTS5 and tsquery), JSON-ish words.
HOSTILE = (
    "../../../etc/passwd",
    "..\\..\\windows",
    "\x00",
    "a\x00b",
    "99999999999999999999999999",
    "-1",
    "1e309",
    "x" * 5000,
    "\u202e\ufeff\U0001d518 \u0e44\u0e17\u0e22 \u1781\u17d2\u1798\u17c2\u179a",
    "'\"<script>alert(1)</script>",
    '"',
    "NEAR(a b",
    "* - ^ : ( ) AND OR NOT",
    "%",
    "null",
)


def _walk() -> list[tuple[str, str]]:
    """(method, path) of every route of the app (the app's routes do not depend on the monitor it serves)."""
    app = create_app(None)  # type: ignore[arg-type]
    found = []
    for path, route in flat_routes(app):
        found += [(method, path) for method in sorted((route.methods or set()) - {"HEAD"})]
    return sorted(found)


ROUTES = _walk()
GETS = [path for method, path in ROUTES if method == "GET"]
ACTIONS = [path for method, path in ROUTES if method != "GET" and path not in OPEN]


def _machine(path: str) -> bool:
    """Scripts and readers, not browsers: they get 401, never a redirect to the login form."""
    return path.startswith(("/api/", "/atom/")) or path == "/metrics"


def _route(app: Any, method: str, path: str) -> Route:
    return next(r for p, r in flat_routes(app) if p == path and method in (r.methods or ()))


def _is_int(field: Any) -> bool:
    return getattr(field.field_info, "annotation", None) is int


def _sample(m: Monitor, name: str, field: Any) -> str:
    """A value of a path parameter that names something that exists, so an open route answers 200."""
    if _is_int(field):
        known = {"delivery_id": [d.id for d in m.deliveries(limit=1)], "match_id": [x.id for x in m.matches(limit=1)]}
        return str((known.get(name) or [1])[0])
    if "rule" in name:
        return m.rules.rules[0].id
    if name == "name":
        return m.feeds()[0].name
    return "x"


def _url(app: Any, m: Monitor, method: str, path: str, **given: str) -> str:
    """``path`` with each parameter filled: ``given`` (quoted) or a sample that exists."""
    route = _route(app, method, path)
    fields = {f.name: f for f in getattr(getattr(route, "dependant", None), "path_params", [])}

    def fill(found: re.Match[str]) -> str:
        name = found.group(1)
        return quote(given[name], safe="") if name in given else _sample(m, name, fields.get(name))

    return re.sub(r"{(\w+)(?::\w+)?}", fill, path)


@pytest.fixture
def locked(web_monitor: Monitor) -> Iterator[tuple[TestClient, Monitor]]:
    m = with_token(web_monitor, TOKEN)
    with TestClient(create_app(m), follow_redirects=False, raise_server_exceptions=False) as client:
        yield client, m


@pytest.fixture
def unlocked(web_monitor: Monitor) -> Iterator[TestClient]:
    with TestClient(create_app(web_monitor), follow_redirects=False, raise_server_exceptions=False) as client:
        yield client


def test_the_walk_finds_the_areas_routes() -> None:
    """The walk sees what the app serves (so the tests below are not vacuous)."""
    assert {"/healthz", "/metrics", "/feeds", "/api/v1/feeds", "/deliveries"} <= set(GETS)
    assert "/deliveries/retry" in ACTIONS and "/login" not in ACTIONS


@pytest.mark.parametrize("path", sorted(OPEN & set(GETS)))
def test_open_routes_answer_without_the_token(locked: tuple[TestClient, Monitor], path: str) -> None:
    client, _ = locked
    assert client.get(path).status_code == 200
    assert client.get("/static/app.css").status_code == 200


@pytest.mark.parametrize("path", [p for p in GETS if p not in OPEN])
def test_every_read_needs_the_token(locked: tuple[TestClient, Monitor], path: str) -> None:
    client, m = locked
    url = _url(client.app, m, "GET", path)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = client.get(url, headers=headers)
        assert refused.status_code == 401, (url, headers, refused.status_code)
        assert refused.headers["www-authenticate"] == "Bearer" and TOKEN not in refused.text
    browser = client.get(url, headers=HTML)
    if _machine(path):
        assert browser.status_code == 401
    else:
        assert browser.status_code == 303 and browser.headers["location"].startswith("/login?next=%2F")
    assert client.get(url, headers=BEARER).status_code == 200, url


@pytest.mark.parametrize("path", [p for p in GETS if p not in OPEN])
def test_only_atom_feeds_take_the_token_in_the_query(locked: tuple[TestClient, Monitor], path: str) -> None:
    client, m = locked
    url = _url(client.app, m, "GET", path)
    answer = client.get(url, params={"token": TOKEN})
    if path.startswith("/atom/"):
        assert answer.status_code == 200, url
        assert client.get(url, params={"token": "wrong"}).status_code == 401
    else:
        assert answer.status_code == 401, url


@pytest.mark.parametrize("path", ACTIONS)
def test_every_action_needs_the_token_and_never_takes_it_in_the_query(
    locked: tuple[TestClient, Monitor], path: str
) -> None:
    client, m = locked
    url = _url(client.app, m, "POST", path)
    assert client.post(url).status_code == 401
    assert client.post(url, headers=HTML, data={"csrf": "x"}).status_code == 401
    assert client.post(url, params={"token": TOKEN}).status_code == 401


@pytest.mark.parametrize("path", ACTIONS)
def test_without_a_token_every_action_is_read_only(unlocked: TestClient, web_monitor: Monitor, path: str) -> None:
    url = _url(unlocked.app, web_monitor, "POST", path)
    for headers in ({}, {"Authorization": "Bearer anything"}, HTML):
        refused = unlocked.post(url, headers=headers)
        assert refused.status_code == 403, (url, headers, refused.status_code)
        if headers is not HTML:
            assert refused.json()["detail"] == READ_ONLY


@pytest.mark.parametrize("path", ACTIONS)
def test_a_session_action_needs_its_csrf_token(locked: tuple[TestClient, Monitor], path: str) -> None:
    client, m = locked
    assert client.post("/login", data={"token": TOKEN, "name": "Dara"}).status_code == 303
    csrf = client.get("/login", headers=HTML).text.split('name="csrf-token" content="')[1].split('"')[0]
    url = _url(client.app, m, "POST", path)
    for attempt in ({}, {"data": {"csrf": "0" * 32}}, {"headers": {"X-CSRF-Token": csrf[:-1] + "x"}}):
        refused = client.post(url, **attempt)
        assert refused.status_code == 403 and "CSRF" in refused.json()["detail"], (url, attempt)
    # The same session with its token gets past the check (whatever the action then says of the empty body).
    accepted = client.post(url, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code not in (401, 403), (url, accepted.status_code, accepted.text[:200])


def _form_and_json(route: Route) -> tuple[list[str], list[str]]:
    """The names of an action's form fields, and of its JSON body's fields."""
    form: list[str] = []
    body: list[str] = []
    for field in getattr(getattr(route, "dependant", None), "body_params", []):
        kind = type(field.field_info).__name__
        annotation = getattr(field.field_info, "annotation", None)
        if kind in ("Form", "File"):
            form.append(field.alias)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            body += list(annotation.model_fields)
        else:
            body.append(field.alias)
    return form, body


def _requests(route: Route, method: str, url_of: Any) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, url, httpx keywords) for each hostile value in each parameter of ``route``."""
    dependant = getattr(route, "dependant", None)
    path_names = [f.name for f in getattr(dependant, "path_params", [])]
    query_names = [f.alias for f in getattr(dependant, "query_params", [])]
    form, body = _form_and_json(route) if isinstance(route, APIRoute) else ([], [])
    for value in HOSTILE:
        for name in path_names:
            yield method, url_of(**{name: value}), {}
        for name in query_names:
            yield method, url_of(), {"params": {name: value}}
        for name in form:
            yield method, url_of(), {"data": {name: value}}
        for name in body:
            yield method, url_of(), {"json": {name: value}}
    if body:
        for shape in ([], "x", None, {"days": 1e308, "limit": -(2**70)}, {"relevant": True, "rule": "x" * 10_000}):
            yield method, url_of(), {"json": shape}


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p in ROUTES if p not in ("/login", "/logout")])
def test_no_hostile_value_makes_a_500(locked: tuple[TestClient, Monitor], method: str, path: str) -> None:
    client, m = locked
    route = _route(client.app, method, path)
    broke = []
    for how, url, extra in _requests(route, method, lambda **given: _url(client.app, m, method, path, **given)):
        for headers in (BEARER, {**BEARER, **HTML}):
            answer = client.request(how, url, headers=headers, **extra)
            if answer.status_code >= 500 or "Traceback" in answer.text:
                broke.append(f"{how} {url[:120]} {str(extra)[:120]} -> {answer.status_code} {answer.text[:200]}")
            if TOKEN in answer.text and path != "/openapi.json":
                broke.append(f"{how} {url[:120]} {str(extra)[:120]} shows the token")
    assert not broke, "\n".join(broke[:20])


@pytest.mark.parametrize(
    "path",
    [
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/..%2fapp.py",
        "/static/..%2f..%2fconfig.toml",
        "/static/%2e%2e%2f%2e%2e%2fdata%2fmonitor.db",
        "/static/....//app.py",
        "/static/%00",
        "/static//etc/passwd",
        "/static/..\\app.py",
    ],
)
def test_static_files_never_leave_their_folder(unlocked: TestClient, path: str) -> None:
    answer = unlocked.get(path)
    assert answer.status_code in (400, 404, 405), (path, answer.status_code)
    assert "create_app" not in answer.text and "[database]" not in answer.text
