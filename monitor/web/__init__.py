"""The web app: a dashboard, a JSON API, Atom feeds, ``/metrics`` and health checks on the store (docs/web.md).

``create_app(monitor)`` builds it; ``serve(monitor)`` runs it with uvicorn (``monitor serve``). ``monitor run``
serves the same app on its own event loop when ``[web] enabled = true``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor.web.app import create_app

if TYPE_CHECKING:
    from monitor.api import Monitor

__all__ = ["create_app", "serve"]


def serve(monitor: Monitor, *, host: str | None = None, port: int | None = None) -> None:
    """Serve the app until SIGINT or SIGTERM (on ``[web] host`` and ``port`` unless given)."""
    import uvicorn

    web = monitor.settings.web
    uvicorn.run(
        create_app(monitor),
        host=host or web.host,
        port=web.port if port is None else port,
        log_level="warning",
        access_log=False,
        server_header=False,
    )
