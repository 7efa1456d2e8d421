"""What operators run the app with: ``/metrics`` (Prometheus text, behind the token when one is set) and the web
server ``monitor run`` starts on its own event loop when ``[web] enabled = true`` (``serve_web``).

Inside ``monitor run`` the app gets the daemon's ``readiness`` (``/readyz`` answers 503 when the scheduler has not
ticked within two ticks) and its ``poll_now`` (the Feeds page's "poll now" runs on the daemon's loop, with its
fetcher and extractors, and never polls a feed twice at once).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Protocol

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from monitor.errors import MonitorError
from monitor.metrics import new_registry
from monitor.pipeline import FeedResult
from monitor.web.auth import Reader

if TYPE_CHECKING:
    from monitor.api import Monitor

__all__ = ["Host", "STOP_GRACE", "listen", "metrics", "poller", "router", "serve_web"]

router = APIRouter(tags=["ops"])

STOP_GRACE = 5  # seconds open requests get to finish when the daemon stops


class Host(Protocol):
    """What the daemon offers the app it serves."""

    def readiness(self) -> str | None: ...

    def poll_now(self, name: str) -> FeedResult | None: ...


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format 0.0.4 (or OpenMetrics)."}},
)
def metrics(request: Request, _reader: Reader) -> Response:
    """Prometheus metrics: the store's counts, read now, and this process's feed fetches (docs/web.md). Text format
    0.0.4, or OpenMetrics when the scraper asks for it (``Accept``)."""
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(_registry(request.app)), headers={"content-type": content_type})


def _registry(app: FastAPI) -> CollectorRegistry:
    registry: CollectorRegistry | None = getattr(app.state, "metrics_registry", None)
    if registry is None:  # one per app: its collector reads that app's store
        monitor = app.state.monitor
        registry = app.state.metrics_registry = new_registry(lambda: monitor.store)
    return registry


class _Embedded(uvicorn.Server):
    """A uvicorn server inside the daemon: the daemon's SIGTERM and SIGINT handlers stop both, so it installs none
    (uvicorn's would replace them and re-raise the signal once it stopped)."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@asynccontextmanager
async def serve_web(monitor: Monitor, host: Host, sock: socket.socket) -> AsyncIterator[str]:
    """Serve the app on ``sock`` (``listen``) on the running loop until the block ends, then close it; yields the
    app's URL."""
    from monitor.web.app import create_app  # the daemon imports this module only when the web is enabled

    app = create_app(monitor, readiness=host.readiness)
    app.state.poll_now = host.poll_now
    config = uvicorn.Config(
        app,
        log_config=None,  # the daemon's logging stays as the CLI set it
        log_level="warning",
        access_log=False,
        server_header=False,
        lifespan="off",
        timeout_graceful_shutdown=STOP_GRACE,
    )
    server = _Embedded(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="web")
    try:
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if task.done():
            task.result()  # its error, if it raised one
            raise MonitorError("web: the server stopped as it started")
        yield f"http://{_bracketed(monitor.settings.web.host)}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)
        sock.close()


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host``:``port`` for ``serve_web``.

    Raises:
        MonitorError: the address cannot be listened on (in use, not an address of this machine).
    """
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except OSError as e:
        raise MonitorError(f"web: cannot listen on {host}:{port}: {e.strerror or e}") from None


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def poller(request: Request) -> Callable[[str], FeedResult | None]:
    """How this app polls a feed now: the daemon's loop inside ``monitor run``, else its own (``Monitor.poll_now``)."""
    given: Callable[[str], FeedResult | None] | None = getattr(request.app.state, "poll_now", None)
    return given or request.app.state.monitor.poll_now
