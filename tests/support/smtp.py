"""A real SMTP server on loopback (aiosmtpd) that keeps every message it accepts, and can be taken down.

``smtp_server`` yields an ``SmtpServer``: ``url(**query)`` gives the apprise ``mailto://`` URL for it,
``messages`` the parsed ``email.message.EmailMessage`` objects received, ``stop()``/``start()`` simulate an outage
on the same port, ``refuse`` (a function of the parsed message giving an SMTP reply, or None to accept) a server
that refuses particular messages; ``raw`` the bytes of each accepted message.
Import with ``from tests.support.smtp import smtp_server``.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

__all__ = ["SmtpServer", "free_port", "parts"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        refusal = self._server.refuse(message) if self._server.refuse else None
        if refusal:
            return refusal
        with self._server.lock:
            self._server.raw.append(raw)
            self._server.messages.append(message)  # type: ignore[arg-type]
            self._server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1:``port``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.raw: list[bytes] = []
        self.refuse: Callable[[EmailMessage], str | None] | None = None
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def url(self, to: str = "desk@example.org", sender: str = "monitor@example.org") -> str:
        """The apprise URL that sends to this server in plain SMTP."""
        return f"mailto://127.0.0.1:{self.port}?mode=insecure&from={sender}&to={to}"

    def start(self) -> None:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def parts(message: EmailMessage) -> dict[str, str]:
    """``{"text/plain": …, "text/html": …}`` of a received message, decoded."""
    found: dict[str, str] = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            found[part.get_content_type()] = str(part.get_content())  # type: ignore[attr-defined]
    return found


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
