"""A loopback HTTP receiver for chat-style apprise URLs (``json://``), recording every POST.

``chat_server`` yields a ``ChatServer``: ``url(path)`` gives ``json://127.0.0.1:PORT/path``, ``posts`` the decoded
JSON bodies received (with their path), ``status`` the HTTP status to answer (set 500 to simulate a broken
receiver), ``refuse`` (a function of a post giving the status to answer it with, or None) a receiver that refuses
particular messages, and ``delay`` seconds to wait before answering (a slow receiver). ``hold`` (a function of a
post giving True to hold it) keeps a request unanswered, listed in ``held``, until ``release`` is set; it then
answers ``held_status``, and a 2xx answer records the post (the server took it, even if its sender died meanwhile),
any other answer records nothing: a sender killed or stopped mid-send, seen from the receiver. Import with
``from tests.support.chat import chat_server``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

__all__ = ["ChatServer"]


class ChatServer:
    """A threaded HTTP server on 127.0.0.1 that records JSON posts."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.status = 200
        self.delay = 0.0
        self.refuse: Callable[[dict[str, Any]], int | None] | None = None
        self.hold: Callable[[dict[str, Any]], bool] | None = None
        self.held: list[dict[str, Any]] = []
        self.release = threading.Event()
        self.held_status = 200
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if owner.delay:
                    time.sleep(owner.delay)
                try:
                    data = json.loads(body)
                except ValueError:
                    data = {"raw": body.decode("utf-8", "replace")}
                post = {"path": self.path, **data}
                if owner.hold is not None and owner.hold(post):
                    with owner.lock:
                        owner.held.append(post)
                    owner.release.wait()
                    if 200 <= owner.held_status < 300:
                        with owner.lock:
                            owner.posts.append(post)
                    self.send_response(owner.held_status)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                refused = owner.refuse(post) if owner.refuse else None
                if not refused:
                    with owner.lock:
                        owner.posts.append({"path": self.path, **data})
                self.send_response(refused or owner.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def messages(self, path: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [p for p in self.posts if path is None or p["path"].split("?")[0] == f"/{path}"]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    server = ChatServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
