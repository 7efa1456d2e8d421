"""schemathesis against /openapi.json for the Matches API and the Atom feeds: every request the description calls
valid is answered (never a 500), every invalid one is a 4xx, every answer has the described status, type and
shape (schemathesis' default checks)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from monitor.api import Monitor
from monitor.web import create_app

OURS = ("/api/v1/matches", "/api/v1/matches/{match_id}", "/atom/matches.xml", "/atom/rules/{rule_id}.xml")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize("path", OURS)
def test_operations_hold_to_their_description(web_monitor: Monitor, path: str, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(web_monitor))
    [operation] = [result.ok() for result in schema.get_all_operations() if result.ok().path == path]
    if mode is GenerationMode.NEGATIVE and not operation.query and not operation.path_parameters:
        pytest.skip("no parameter to make invalid")

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate()

    check()
