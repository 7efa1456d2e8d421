"""The routes an app serves, flattened: ``app.routes`` holds included routers as one entry each on FastAPI >= 0.16x
(``_IncludedRouter``, resolved lazily), plain ``APIRoute`` objects on older versions; tests want every route."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from starlette.routing import Mount, Route

__all__ = ["flat_routes"]


def flat_routes(app: Any) -> Iterator[tuple[str, Route]]:
    """(path as served, route) of every HTTP route of ``app`` (mounts such as ``/static`` left out)."""
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                original = context.original_route
                if isinstance(original, Route):
                    yield context.path or original.path, original
        elif isinstance(route, Route) and not isinstance(route, Mount):
            yield route.path, route
