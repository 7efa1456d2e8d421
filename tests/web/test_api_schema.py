"""schemathesis against ``/openapi.json`` on every operation it describes (an operation added later is covered):
with the token, valid requests are answered as described and invalid ones are a 4xx, never a 500; every answer has
a described status, content type and shape (schemathesis' default checks). The app runs in-process (ASGI), with a
bounded number of examples per operation so the module takes well under a minute on one core."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from monitor.api import Monitor
from monitor.web import create_app
from tests.support.webapp import with_token

TOKEN = "schema-t0ken"
# A rule's query and YAML are a language JSON Schema cannot describe: a schema-valid body may hold a bad query (or
# none), and a 422 naming the error is the right answer there.
LANGUAGE = {("POST", "/api/v1/backtest")}
EXAMPLES = 12  # per operation and mode: enough to find a 500 in a parameter, few enough for the suite's budget


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation ``/openapi.json`` describes (the description needs no store)."""
    described = create_app(None).openapi()["paths"]  # type: ignore[arg-type]
    return sorted((method.upper(), path) for path, ops in described.items() for method in ops)


OPERATIONS = _operations()


def test_the_description_covers_the_machine_endpoints() -> None:
    paths = {path for _, path in OPERATIONS}
    assert {"/healthz", "/readyz", "/metrics", "/api/v1/feeds", "/api/v1/deliveries"} <= paths
    pages = [p for p in paths if not p.startswith(("/api/", "/atom/", "/healthz", "/readyz", "/metrics"))]
    assert not pages, "pages and their forms are not API (include_in_schema=False)"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_holds_to_its_description(
    web_monitor: Monitor, method: str, path: str, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(with_token(web_monitor, TOKEN)))
    [operation] = [
        found.ok()
        for found in schema.get_all_operations()
        if found.ok().path == path and found.ok().method.upper() == method
    ]
    if mode is GenerationMode.NEGATIVE and not (operation.query or operation.path_parameters or operation.body):
        pytest.skip("no parameter or body to make invalid")

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: schemathesis.Case) -> None:
        excluded = [positive_data_acceptance] if (method, path) in LANGUAGE else []
        case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=excluded)

    try:
        check()
    except Unsatisfiable:  # e.g. a path parameter that takes any string: nothing invalid to send
        pytest.skip("schemathesis found no invalid request to make")
