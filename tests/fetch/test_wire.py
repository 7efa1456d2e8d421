"""The fetcher's own HTTP/1.1 transport (``monitor/fetch/wire.py``): connections kept and reused politely, and a
kept connection that the server dropped meanwhile costs no failed poll."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from monitor.config import FetchSettings
from monitor.errors import FetchError
from monitor.fetch import Fetcher

ETAG = '"v1"'
_NOT_MODIFIED = f"HTTP/1.1 304 Not Modified\r\nETag: {ETAG}\r\nContent-Length: 0\r\n\r\n".encode()
_OK = f"HTTP/1.1 200 OK\r\nETag: {ETAG}\r\nContent-Length: 5\r\n\r\nhello".encode()

# Given the connection's number (from 1) and its request's number on it (from 1): the answer, or None to hang up.
Answer = Callable[[int, int], bytes | None]


async def _serve(answer: Answer, client: Callable[[str], Awaitable[None]]) -> int:
    """Run ``client`` against a loopback server answering with ``answer``; the connections it accepted."""
    connections = 0

    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        number, requests = connections, 0
        writers.append(writer)
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                requests += 1
                reply = answer(number, requests)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
                if reply.startswith(b"HTTP/1.0"):  # its body ends where the connection does
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        await client(f"http://127.0.0.1:{port}/feed.xml")
        for writer in writers:
            writer.close()
            await writer.wait_closed()
    return connections


def _fetcher() -> Fetcher:
    return Fetcher(FetchSettings(allow_private=True, timeout=5.0))


def test_conditional_gets_to_one_host_share_one_connection() -> None:
    async def client(url: str) -> None:
        async with _fetcher() as fetcher:
            for _ in range(5):  # a 304's connection is kept though its (empty) body is never read
                assert (await fetcher.fetch(url, etag=ETAG)).not_modified
            assert (await fetcher.fetch(url)).body == b"hello"

    def answer(connection: int, request: int) -> bytes:
        return _OK if request == 6 else _NOT_MODIFIED

    assert asyncio.run(_serve(answer, client)) == 1


def test_a_kept_connection_the_server_dropped_is_replaced_not_failed() -> None:
    async def client(url: str) -> None:
        async with _fetcher() as fetcher:
            assert (await fetcher.fetch(url, etag=ETAG)).not_modified
            assert (await fetcher.fetch(url)).body == b"hello"  # the server hangs up on it: a new one answers

    def answer(connection: int, request: int) -> bytes | None:
        if connection == 1:
            return _NOT_MODIFIED if request == 1 else None  # its idle timeout struck as the request came
        return _OK

    assert asyncio.run(_serve(answer, client)) == 2


def test_a_new_connection_dropped_without_an_answer_fails_once() -> None:
    async def client(url: str) -> None:
        async with _fetcher() as fetcher:
            with pytest.raises(FetchError, match="disconnected without sending a response"):
                await fetcher.fetch(url)

    assert asyncio.run(_serve(lambda connection, request: None, client)) == 1


def test_chunked_and_close_delimited_bodies_arrive_whole_and_the_chunked_connection_is_kept() -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    old = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello, 1996"

    async def client(url: str) -> None:
        async with _fetcher() as fetcher:
            assert (await fetcher.fetch(url)).body == b"hello world"
            assert (await fetcher.fetch(url)).body == b"hello world"
            assert (await fetcher.fetch(url)).body == b"hello, 1996"
            assert (await fetcher.fetch(url)).body == b"hello world"  # on a new connection: the last one closed

    def answer(connection: int, request: int) -> bytes:
        return old if (connection, request) == (1, 3) else chunked

    assert asyncio.run(_serve(answer, client)) == 2
