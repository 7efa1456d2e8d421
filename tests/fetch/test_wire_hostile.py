"""The fetcher's own transport (``monitor/fetch/wire.py``) against hostile loopback servers: stray bytes never
answer a later request, bounds and deadlines hold, the pool never hangs or keeps a dirty connection."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx
import pytest

from monitor.config import FetchSettings
from monitor.errors import FetchError, FetchStatusError, FetchTimeout, ResponseTooLargeError
from monitor.fetch import Fetcher
from monitor.fetch.wire import WireTransport

# A connection's handler: its stream pair and its number (from 1).
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]
_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
_EVIL = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
_NOT_MODIFIED = b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n'


async def _serve(handler: Handler, client: Callable[[str], Awaitable[None]]) -> int:
    """Run ``client`` against a loopback server running ``handler`` per connection; the connections it accepted."""
    count = 0
    tasks: list[asyncio.Task[None]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        count += 1
        tasks.append(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await handler(reader, writer, count)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # cancelled: the test is over (ending quietly, for asyncio's stream callback)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        try:
            await client(f"http://127.0.0.1:{port}/feed.xml")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return count


async def _requests(reader: asyncio.StreamReader) -> None:
    """Wait for the next request's head."""
    await reader.readuntil(b"\r\n\r\n")


def _fetcher(**overrides: Any) -> Fetcher:
    return Fetcher(FetchSettings(**{"allow_private": True, "timeout": 5.0, **overrides}))


def _in_thread(serve: Callable[[socket.socket], None], client: Callable[[str], Coroutine[Any, Any, None]]) -> None:
    """Run ``client`` against ``serve`` (given the listening socket) in a thread of its own: its bytes arrive while
    the client's loop is blocked."""
    listener = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=serve, args=(listener,), daemon=True)
    thread.start()
    try:
        asyncio.run(client(f"http://127.0.0.1:{listener.getsockname()[1]}/feed.xml"))
    finally:
        listener.close()
        thread.join(2)


def test_bytes_sent_after_a_304_never_answer_the_next_request_though_the_loop_was_busy() -> None:
    accepted: list[socket.socket] = []

    def serve(listener: socket.socket) -> None:
        for n in (1, 2):
            sock, _ = listener.accept()
            accepted.append(sock)
            sock.recv(65536)
            if n == 1:
                sock.sendall(_NOT_MODIFIED)
                time.sleep(0.05)
                sock.sendall(_EVIL)  # after the 304's end: not an answer to anything
            else:
                sock.sendall(_OK)

    async def client(url: str) -> None:
        async with _fetcher() as fetcher:
            assert (await fetcher.fetch(url, etag='"v1"')).not_modified
            time.sleep(0.3)  # the loop is busy elsewhere: the stray bytes wait in the socket, unread
            assert (await fetcher.fetch(url)).body == b"hello"

    try:
        _in_thread(serve, client)
    finally:
        for sock in accepted:
            sock.close()
    assert len(accepted) == 2


def test_a_head_past_the_bound_is_refused_though_it_arrived_whole_while_the_loop_was_busy() -> None:
    def serve(listener: socket.socket) -> None:
        sock, _ = listener.accept()
        with sock:
            sock.recv(65536)
            sock.sendall(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 120_000 + b"\r\nContent-Length: 5\r\n\r\nhello")
            time.sleep(0.5)

    async def client(url: str) -> None:
        async with _fetcher() as fetcher:
            fetch = asyncio.create_task(fetcher.fetch(url))
            await asyncio.sleep(0.05)  # the request is sent
            time.sleep(0.2)  # and the whole head waits in the socket
            with pytest.raises(FetchError, match="Receive buffer too long"):
                await fetch

    _in_thread(serve, client)


@pytest.mark.parametrize(
    "first",
    [
        _OK + _EVIL,
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 4\r\n\r\nevil",  # a 304 has no body: these bytes are stray
        b"HTTP/1.1 204 No Content\r\n\r\n" + _EVIL,
    ],
    ids=["after a 200", "a 304 with a body", "after a 204"],
)
def test_bytes_after_a_complete_response_close_its_connection(first: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        requests = 0
        while True:
            await _requests(reader)
            requests += 1
            writer.write(first if (n, requests) == (1, 1) else _OK)
            await writer.drain()

    async def client(url: str) -> None:
        async with _fetcher() as fetcher:
            assert (await fetcher.fetch(url, etag='"v1"')).body in (b"hello", b"")
            for _ in range(3):
                assert (await fetcher.fetch(url)).body == b"hello"

    assert asyncio.run(_serve(handler, client)) == 2


def test_content_length_beside_chunked_reads_the_chunks_and_the_connection_is_not_kept() -> None:
    both = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            await _requests(reader)
            writer.write(both if n == 1 else _OK)
            await writer.drain()

    async def client(url: str) -> None:
        async with _fetcher() as fetcher:
            assert (await fetcher.fetch(url)).body == b"hello"
            assert (await fetcher.fetch(url)).body == b"hello"

    # the framing is in doubt (RFC 9112 6.3: a smuggling attempt): its connection is closed, not reused
    assert asyncio.run(_serve(handler, client)) == 2


def test_an_endless_head_fails_at_the_head_bound_not_the_deadline() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _requests(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n")
        while True:
            writer.write(b"X-Padding: " + b"a" * 1000 + b"\r\n")
            await writer.drain()

    async def client(url: str) -> None:
        async with _fetcher(timeout=30.0) as fetcher:
            started = time.monotonic()
            with pytest.raises(FetchError, match="RemoteProtocolError"):
                await fetcher.fetch(url)
            assert time.monotonic() - started < 5

    asyncio.run(_serve(handler, client))


def test_a_head_dripped_byte_by_byte_meets_the_fetchs_deadline() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _requests(reader)
        for byte in b"HTTP/1.1 200 OK\r\n" + b"X" * 10_000:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)

    async def client(url: str) -> None:
        async with _fetcher(timeout=1.0) as fetcher:
            started = time.monotonic()
            with pytest.raises(FetchTimeout):
                await fetcher.fetch(url)
            assert time.monotonic() - started < 2.5

    asyncio.run(_serve(handler, client))


def test_an_endless_1xx_flood_fails_without_holding_the_loop() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _requests(reader)
        while True:
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" * 1000)
            await writer.drain()

    async def client(url: str) -> None:
        async with _fetcher(timeout=10.0) as fetcher:
            started = time.monotonic()
            with pytest.raises(FetchError):
                await fetcher.fetch(url)
            assert time.monotonic() - started < 5

    asyncio.run(_serve(handler, client))


def test_an_endless_chunked_body_stops_at_the_size_cap() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _requests(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
        while True:
            writer.write(chunk)
            await writer.drain()

    async def client(url: str) -> None:
        async with _fetcher(max_bytes=1_000_000) as fetcher:
            with pytest.raises(ResponseTooLargeError):
                await fetcher.fetch(url)

    asyncio.run(_serve(handler, client))


def test_a_server_closing_mid_body_fails_that_fetch_and_the_next_one_connects_anew() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            await _requests(reader)
            if n == 1:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf")
                await writer.drain()
                return
            writer.write(_OK)
            await writer.drain()

    async def client(url: str) -> None:
        async with _fetcher() as fetcher:
            with pytest.raises(FetchError, match="RemoteProtocolError"):
                await fetcher.fetch(url)
            assert (await fetcher.fetch(url)).body == b"hello"

    assert asyncio.run(_serve(handler, client)) == 2


def test_a_server_that_never_reads_the_request_times_out() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await asyncio.sleep(60)

    async def client(url: str) -> None:
        async with _fetcher(timeout=0.5) as fetcher:
            with pytest.raises(FetchTimeout):
                await fetcher.fetch(url)

    asyncio.run(_serve(handler, client))


def test_connection_close_and_http_1_0_answers_are_not_kept() -> None:
    answers = [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n",
    ]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _requests(reader)
        writer.write(answers[(n - 1) % 3])
        await writer.drain()
        await asyncio.sleep(5)  # the server keeps it open: the client must not reuse it

    async def client(url: str) -> None:
        async with _fetcher() as fetcher:
            for _ in range(2):
                assert (await fetcher.fetch(url)).body == b"hello"
                assert (await fetcher.fetch(url)).body == b"hello"
                assert (await fetcher.fetch(url, etag='"v1"')).not_modified

    assert asyncio.run(_serve(handler, client)) == 6


def test_a_cancelled_fetch_mid_body_leaves_no_dirty_connection_in_the_pool() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            await _requests(reader)
            if n == 1:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel")
                await writer.drain()
                await asyncio.sleep(0.3)
                writer.write(b"lo" + _EVIL[:5])  # the rest of the body: never the next request's answer
                await writer.drain()
                await asyncio.sleep(5)
                return
            writer.write(_OK)
            await writer.drain()

    async def client(url: str) -> None:
        async with _fetcher() as fetcher:
            task = asyncio.create_task(fetcher.fetch(url))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.4)
            assert (await fetcher.fetch(url)).body == b"hello"

    assert asyncio.run(_serve(handler, client)) == 2


def test_the_same_origin_in_other_casing_shares_its_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            await _requests(reader)
            writer.write(_OK)
            await writer.drain()

    async def client(url: str) -> None:
        async with _fetcher() as fetcher:
            named = url.replace("127.0.0.1", "LocalHost")
            variants = (
                url,
                url.replace("http://", "HTTP://"),
                url.replace("/feed.xml", "/other"),
                named,
                named.lower(),
            )
            for variant in variants:
                assert (await fetcher.fetch(variant)).body == b"hello"

    assert asyncio.run(_serve(handler, client)) == 2  # the address, and the name (however spelt)


def test_a_request_that_gave_up_waiting_for_the_pool_costs_no_kept_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            await _requests(reader)
            writer.write(_OK)
            await writer.drain()

    async def client(url: str) -> None:
        transport = WireTransport(
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            ssl_context=httpx.create_ssl_context(),
        )
        async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0, pool=0.2)) as http:
            async with http.stream("GET", url) as held:  # the only connection is busy
                with pytest.raises(httpx.PoolTimeout):
                    await http.get(url)  # waits the pool timeout, never forever
                await held.aread()
            for _ in range(3):  # the connection freed is kept and reused: nobody waits for room any more
                assert (await http.get(url)).content == b"hello"

    assert asyncio.run(_serve(handler, client)) == 1


def test_no_failure_or_cancellation_leaks_the_pools_room() -> None:
    answers = {
        "/reset": b"",  # closed without an answer
        "/garbage": b"SSH-2.0-OpenSSH\r\n\r\n",
        "/short": b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhalf",
        "/ok": _OK,
    }

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ")[1].decode()
            if path == "/stall":
                await asyncio.sleep(5)
            writer.write(answers["/short" if path == "/half" else path])
            await writer.drain()
            if path == "/half":
                await asyncio.sleep(5)  # the rest of the body never comes
            if path != "/ok":
                return

    async def client(url: str) -> None:
        base = url.removesuffix("/feed.xml")
        transport = WireTransport(
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            ssl_context=httpx.create_ssl_context(),
        )
        async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(0.3, pool=0.3)) as http:
            for path in ("/reset", "/garbage", "/short", "/stall"):
                with pytest.raises(httpx.HTTPError):
                    await (await http.get(base + path)).aread()
            with pytest.raises(httpx.ConnectError):  # nothing listens there
                await http.get("http://127.0.0.1:1/")
            with pytest.raises(httpx.ConnectTimeout):  # TLS to a plain HTTP server: the handshake never ends
                await http.get(base.replace("http:", "https:") + "/ok")
            for path in ("/stall", "/half"):  # cancelled waiting for the head, and mid-body
                task = asyncio.create_task(http.get(base + path))
                await asyncio.sleep(0.1)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            assert (await http.get(base + "/ok")).content == b"hello"

    asyncio.run(_serve(handler, client))


def test_an_endless_compressed_body_that_decodes_to_nothing_stops_at_twice_the_cap() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _requests(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n")
        compressor = zlib.compressobj(wbits=31)
        block = compressor.compress(b"") + compressor.flush(zlib.Z_SYNC_FLUSH)  # the gzip header, an empty block
        while True:
            writer.write(b"%x\r\n%s\r\n" % (len(block), block))
            await writer.drain()
            block = b"\x00\x00\x00\xff\xff" * 10_000  # empty stored deflate blocks: no output at all

    async def client(url: str) -> None:
        async with _fetcher(max_bytes=100_000, timeout=30.0) as fetcher:
            with pytest.raises(ResponseTooLargeError):
                await fetcher.fetch(url)

    asyncio.run(_serve(handler, client))


def test_an_error_page_that_came_whole_with_its_head_keeps_its_connection() -> None:
    page = b"<html>" + b"x" * 30_000 + b"</html>"
    not_found = b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s" % (len(page), page)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        requests = 0
        while True:
            await _requests(reader)
            requests += 1
            writer.write(not_found if requests == 1 else _OK)
            await writer.drain()

    async def client(url: str) -> None:
        async with _fetcher() as fetcher:
            with pytest.raises(FetchStatusError):  # its body is never read: it arrived whole, the connection is kept
                await fetcher.fetch(url)
            assert (await fetcher.fetch(url)).body == b"hello"

    assert asyncio.run(_serve(handler, client)) == 1
