"""A hostile HTTP server on 127.0.0.1 for fetch and feed tests: stalls, drips, resets, bombs, loops, redirects,
and any status line and headers (``/headers``).

``HostileServer`` runs a threaded ``http.server`` in the background; ``hostile_server`` is a session fixture
for test modules to import explicitly. It records every connection and request so tests can assert that the
SSRF guard refused *before* connecting. ``/file/<path>`` serves files under ``root`` (the eval feed corpus).
"""

from __future__ import annotations

import email.utils
import gzip
import json
import mimetypes
import re
import socket
import ssl
import struct
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from tests.conftest import EVAL

__all__ = ["FEED_XML", "HostileServer"]

FEED_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Hostile News</title><link>http://news.test/</link>
<item><title>Raid in Poipet</title><link>/a/1</link><guid>g1</guid>
<description>Police &lt;b&gt;raided&lt;/b&gt; a compound.</description>
<pubDate>Mon, 02 Feb 2026 10:00:00 GMT</pubDate></item>
</channel></rss>"""
_ETAG = '"v1"'
_LAST_MODIFIED = "Mon, 02 Feb 2026 10:00:00 GMT"
_BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
    + b']><rss version="2.0"><channel><title>&lol9;</title><item><title>x</title></item></channel></rss>'
)
_MB = 1024 * 1024
_HEADER_LINE = re.compile(rb"^Header:\s*([\w-]+):\s*(.+?)\s*$", re.M)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle + delayed ACK add 40 ms each.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self.server.record(self.path, dict(self.headers.items()))
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        route = getattr(self, "_r_" + parts[0].replace("-", "_").replace(".", "_"), None)
        query = parse_qs(url.query)
        tracked = "track" in query  # only tagged requests count, so stragglers of other tests do not
        if tracked:
            self.server.enter()
        try:
            if route is None:
                self._send(404, b"not found")
            else:
                route(parts[1:], query)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            if tracked:
                self.server.leave()

    def _send(self, status: int, body: bytes, ctype: str = "text/plain", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, chunks: Iterator[bytes], length: int | None = None, **headers: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        if length is not None:
            self.send_header("Content-Length", str(length))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(chunk)

    # --- routes: /<name>/<args...> -> _r_<name>(args, query) ---
    def _r_feed_xml(self, args: list[str], q: dict[str, list[str]]) -> None:
        if self.headers.get("If-None-Match") == _ETAG or self.headers.get("If-Modified-Since") == _LAST_MODIFIED:
            self.send_response(304)
            self.send_header("ETag", _ETAG)
            self.end_headers()
            return
        self._send(200, FEED_XML, "application/rss+xml", ETag=_ETAG, Last_Modified=_LAST_MODIFIED)

    def _r_echo(self, args: list[str], q: dict[str, list[str]]) -> None:
        self._send(200, json.dumps(dict(self.headers.items())).encode(), "application/json")

    def _r_status(self, args: list[str], q: dict[str, list[str]]) -> None:
        self._send(int(args[0]), b"error page")

    def _r_reason(self, args: list[str], q: dict[str, list[str]]) -> None:
        """/reason/<status>?text=<phrase>: any reason phrase on the status line (markup, escape sequences)."""
        body = b"error page"
        self.send_response(int(args[0]), q.get("text", [""])[0])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _r_retry_after(self, args: list[str], q: dict[str, list[str]]) -> None:
        value = args[0] if args[0] != "date" else email.utils.formatdate(time.time() + 120, usegmt=True)
        self._send(int(q.get("status", ["429"])[0]), b"slow down", Retry_After=value)

    def _r_stall(self, args: list[str], q: dict[str, list[str]]) -> None:
        time.sleep(float(args[0]))
        self._send(200, FEED_XML, "application/rss+xml")

    def _r_drip(self, args: list[str], q: dict[str, list[str]]) -> None:
        self._stream(self._dripping(), length=100)

    def _dripping(self) -> Iterator[bytes]:
        for _ in range(100):
            yield b"x"
            self.wfile.flush()
            time.sleep(1.0)

    def _r_reset(self, args: list[str], q: dict[str, list[str]]) -> None:
        # SO_LINGER 0 makes close() send RST instead of FIN: a connection reset mid-request.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def _redirect(self, status: int, location: str) -> None:
        self._send(status, b"", Location=location)

    def _r_redirect(self, args: list[str], q: dict[str, list[str]]) -> None:
        n = int(args[0])
        self._redirect(302, f"/redirect/{n - 1}" if n > 1 else "/feed.xml")

    def _r_permanent(self, args: list[str], q: dict[str, list[str]]) -> None:
        n = int(args[0])
        self._redirect(301 if n % 2 else 308, f"/permanent/{n - 1}" if n > 1 else "/feed.xml")

    def _r_mixed(self, args: list[str], q: dict[str, list[str]]) -> None:
        self._redirect(301, "/redirect/1")

    def _r_loop(self, args: list[str], q: dict[str, list[str]]) -> None:
        self._redirect(302, "/loop/b" if args[0] == "a" else "/loop/a")

    def _r_redirect_to(self, args: list[str], q: dict[str, list[str]]) -> None:
        self._redirect(int(q.get("status", ["302"])[0]), q["url"][0])

    def _r_gzip(self, args: list[str], q: dict[str, list[str]]) -> None:
        self._send(200, gzip.compress(FEED_XML), "application/rss+xml", Content_Encoding="gzip")

    def _r_deflate(self, args: list[str], q: dict[str, list[str]]) -> None:
        body = zlib.compress(FEED_XML) if not args else zlib.compress(FEED_XML)[2:-4]  # /deflate/raw: no header
        self._send(200, body, "application/rss+xml", Content_Encoding="deflate")

    def _r_encoded(self, args: list[str], q: dict[str, list[str]]) -> None:
        """A body labelled with any Content-Encoding; /encoded/gzip is a corrupt gzip stream."""
        self._send(200, b"\x1f\x8b\x08\x00garbage-not-deflate" * 4, "application/rss+xml", Content_Encoding=args[0])

    def _r_gzip_bomb(self, args: list[str], q: dict[str, list[str]]) -> None:
        body = self.server.small_bomb()
        self._send(200, body, "application/rss+xml", Content_Encoding="gzip")

    def _r_gzip_bomb_big(self, args: list[str], q: dict[str, list[str]]) -> None:
        self._stream(_lazy_bomb(gigabytes=10), Content_Encoding="gzip")

    def _r_huge(self, args: list[str], q: dict[str, list[str]]) -> None:
        chunk = b"<!-- padding -->" * 4096  # 64 KiB
        count = 50 * _MB // len(chunk)
        self._stream((chunk for _ in range(count)), length=None if args else count * len(chunk))

    def _r_body(self, args: list[str], q: dict[str, list[str]]) -> None:
        bodies = {
            "invalid.xml": b"<rss><channel><item><title>broken</item></rss",
            "billion-laughs.xml": _BILLION_LAUGHS,
        }
        self._send(200, bodies[args[0]], q.get("type", ["application/rss+xml"])[0])

    def _r_headers(self, args: list[str], q: dict[str, list[str]]) -> None:
        """Any status, reason phrase and headers: ``/headers?status=503&Retry-After=%C2%B2``. ``times=N`` repeats
        every header value (and the reason) N times, for oversized headers; values go out as UTF-8 bytes."""
        times = int(q.pop("times", ["1"])[0])
        status = int(q.pop("status", ["200"])[0])
        reason = q.pop("reason", [""])[0] * times

        def raw(text: str) -> str:  # http.server writes latin-1: smuggle the UTF-8 bytes through it
            return text.encode("utf-8").decode("latin-1")

        self.send_response_only(status, raw(reason) or None)
        self.send_header("Content-Length", str(len(FEED_XML)))
        self.send_header("Content-Type", "text/html")
        for name, values in q.items():
            self.send_header(name, raw(values[0] * times))
        self.end_headers()
        self.wfile.write(FEED_XML)

    def _r_file(self, args: list[str], q: dict[str, list[str]]) -> None:
        path = (self.server.root / "/".join(args)).resolve()
        if self.server.root not in path.parents:
            self._send(403, b"outside root")
            return
        body = path.read_bytes()
        ctype = mimetypes.guess_type(path.name)[0] or "application/xml"
        extra = {m.group(1).decode().lower(): m.group(2).decode("latin-1") for m in _HEADER_LINE.finditer(body[:2000])}
        ctype = extra.pop("content-type", ctype)
        self._send(200, body, ctype)


def _lazy_bomb(gigabytes: int) -> Iterator[bytes]:
    """A gzip stream of zeros generated as the client reads it; never held in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(_MB)
    for _ in range(gigabytes * 1024):
        out = compressor.compress(zeros)
        if out:
            yield out
    yield compressor.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root.resolve()
        self.lock = threading.Lock()
        self.connections = 0
        self.requests: list[tuple[str, dict[str, str], float]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._bomb: bytes | None = None

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up early is no error here
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    def verify_request(self, request: object, client_address: object) -> bool:
        with self.lock:
            self.connections += 1
        return True

    def record(self, path: str, headers: dict[str, str]) -> None:
        with self.lock:
            self.requests.append((path, headers, time.monotonic()))

    def enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def small_bomb(self) -> bytes:
        """10 MB of zeros as ~10 KB of gzip, made once."""
        with self.lock:
            if self._bomb is None:
                self._bomb = gzip.compress(bytes(10 * _MB), compresslevel=9)
            return self._bomb


class HostileServer:
    """The running server: ``url(path)``, ``port``, and what it saw (``connections``, ``requests``)."""

    def __init__(self, root: Path, tls: ssl.SSLContext | None = None) -> None:
        self._server = _Server(root)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> HostileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    @property
    def connections(self) -> int:
        return self._server.connections

    @property
    def requests(self) -> list[tuple[str, dict[str, str], float]]:
        with self._server.lock:
            return list(self._server.requests)

    def reset_concurrency(self) -> None:
        with self._server.lock:
            self._server.max_in_flight = 0

    @property
    def max_in_flight(self) -> int:
        return self._server.max_in_flight


@pytest.fixture(scope="session")
def hostile_server() -> Iterator[HostileServer]:
    server = HostileServer(EVAL / "feeds").start()
    yield server
    server.stop()
