"""``monitor serve``: the web app (dashboard, JSON API, Atom feeds, ``/metrics``, health) on the store."""

from __future__ import annotations

import typer

from monitor.api import Monitor
from monitor.cli.common import err_console, plain, settings_from
from monitor.cli.notify import naming_variables

__all__ = ["serve"]


def serve(
    ctx: typer.Context,
    host: str = typer.Option(None, "--host", help="Address to listen on (default [web] host, 127.0.0.1)."),
    port: int = typer.Option(None, "--port", min=0, max=65535, help="Port (default [web] port, 8080)."),
) -> None:
    """Serve the web app until Ctrl-C: matches, rules and backtests, feeds, deliveries, the JSON API, Atom feeds,
    /metrics, /healthz and /readyz. Without [web] token it is read-only; it reads the store the daemon writes."""
    from monitor.web import serve as serve_app

    settings = naming_variables(settings_from(ctx))
    with Monitor(settings) as monitor:
        _ = monitor.rules  # a bad rule file stops the start (the pages explain matches with the rules)
        _ = monitor.store  # so does a database that cannot be opened
        web = settings.web
        where = f"http://{host or web.host}:{web.port if port is None else port}/"
        mode = "" if web.token else " (read-only: no [web] token)"
        err_console.print(plain(f"monitor: serving {where}{mode}"))
        serve_app(monitor, host=host, port=port)
