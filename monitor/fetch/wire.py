"""HTTP/1.1 on the wire for the fetcher: an httpx transport with a small connection pool, on asyncio and h11.

Inputs: httpx requests (from ``Fetcher``'s client), the addresses a host may be reached at (``addresses``: the
SSRF guard's vetted IPs, ``GuardedTransport``). Outputs: streamed httpx responses. httpx's own transport runs on
httpcore and anyio, which cost ~0.5 ms of CPU per conditional GET (cancel scopes per read, a pool that scans every
connection at each request and closes a response's connection unless its body was read); this one parses with
h11 (as httpcore does, with the same 100 KiB bound on a response head), finds an idle connection by its origin in
O(1), and keeps the connection of a response whose end has arrived (a 304's, a redirect's) even when its empty
body was not read. Per request: httpx's connect, read and write timeouts; at most ``max_connections`` open (an
idle one of another origin closed to make room, else a wait up to the pool timeout), at most
``max_keepalive_connections`` idle, each for ``keepalive_expiry`` seconds."""

from __future__ import annotations

import asyncio
import collections
import select
import ssl
import time
from collections.abc import AsyncIterator

import h11
import httpx

__all__ = ["WireTransport"]

_MAX_HEAD = 100 * 1024  # bytes of a response head at most (httpcore's bound, so hostile servers meet the same limit)
_HIGH_WATER = 256 * 1024  # bytes buffered unread before the socket stops being read
_HEAD_READ = 8 * 1024  # a head goes to h11 in slices: h11 bounds it only while incomplete, not one that came whole
_MAX_INFORMATIONAL = 100  # 1xx heads before a response at most: an endless stream of them is an attack
_Origin = tuple[bytes, bytes, int]  # scheme, host, port


class _Stale(Exception):
    """The connection closed before a byte of the answer came (``error``): on a kept connection, the server closed it
    while it was idle, and the request may go again on a new one."""

    def __init__(self, error: httpx.TransportError) -> None:
        super().__init__(str(error))
        self.error = error


async def _wait(waiter: asyncio.Future[None], timeout: float | None, error: httpx.TimeoutException) -> None:
    try:
        async with asyncio.timeout(timeout):
            await waiter
    except TimeoutError as e:
        raise error from e


class _Reader(asyncio.Protocol):
    """A socket's incoming bytes, buffered (bounded) until read."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._paused = self.writing_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
            self._paused = True
        self._wake()

    def eof_received(self) -> None:
        self.eof = True
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof, self.error = True, exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def read(self, timeout: float | None, limit: int | None = None) -> bytes:
        """What has arrived, at most ``limit`` bytes (waiting up to ``timeout`` for something); b"" at the end."""
        if not self.buffer and not self.eof:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await _wait(self._waiter, timeout, httpx.ReadTimeout("timed out reading the response"))
            finally:
                self._waiter = None
        if self.buffer:
            return self.take(limit)
        if self.error is not None:
            raise httpx.ReadError(str(self.error) or type(self.error).__name__)
        return b""

    def take(self, limit: int | None = None) -> bytes:  # what is buffered, at most ``limit`` bytes, at once
        data = bytes(self.buffer[:limit])
        del self.buffer[:limit]
        if self._paused and not self.buffer and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    async def drain(self, timeout: float | None) -> None:
        if self.writing_paused:
            self._drained = asyncio.get_running_loop().create_future()
            await _wait(self._drained, timeout, httpx.WriteTimeout("timed out sending the request"))


class _Connection:
    """One HTTP/1.1 connection: a request at a time, kept while both sides end their messages cleanly."""

    def __init__(self, origin: _Origin, transport: asyncio.Transport, reader: _Reader) -> None:
        self.origin = origin
        self.transport = transport
        self.reader = reader
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD)
        self.expires = 0.0
        self._answered = False  # a byte of this request's response has arrived
        self._doubt = False  # the response had Content-Length beside Transfer-Encoding: never reused

    def alive(self) -> bool:
        """Open, and the server has sent nothing since its last response (a stray byte would corrupt the next)."""
        return not self.reader.eof and not self.reader.buffer and not self.transport.is_closing()

    def usable(self, now: float) -> bool:
        """Unexpired, alive, and nothing unread in its socket either (a busy loop's): httpcore checks it so too."""
        if not (now < self.expires and self.alive()):
            return False
        poll = select.poll()
        poll.register(self.transport.get_extra_info("socket").fileno(), select.POLLIN)
        return not poll.poll(0)

    def close(self) -> None:
        """At once, without TLS's closing handshake (as httpcore did): a kept connection has nothing left to say,
        and a graceful close could outlive the event loop with its socket open."""
        self.transport.abort()

    async def exchange(self, request: httpx.Request, timeouts: dict[str, float | None]) -> h11.Response:
        """Send ``request`` and read the head of its response."""
        self._answered = False
        data = self.h11.send(
            h11.Request(method=request.method, target=request.url.raw_path, headers=request.headers.raw)
        )
        assert data is not None
        out = bytearray(data)
        async for chunk in request.stream:  # type: ignore[union-attr]
            if chunk:
                out += self.h11.send(h11.Data(data=chunk)) or b""
        out += self.h11.send(h11.EndOfMessage()) or b""
        if self.transport.is_closing():
            raise _Stale(httpx.WriteError("the connection is closed"))
        self.transport.write(bytes(out))
        await self.reader.drain(timeouts.get("write"))
        for _ in range(_MAX_INFORMATIONAL + 1):
            event = await self.event(timeouts.get("read"))
            if isinstance(event, h11.Response):
                # Both framings: the body is read by its chunks (RFC 9112 6.3), but what follows it is in doubt
                self._doubt = {b"content-length", b"transfer-encoding"} <= {name for name, _ in event.headers}
                return event
            # 1xx heads are skipped (a 101 is never asked for, h11 refuses it); nothing else comes before a response
        raise httpx.RemoteProtocolError(f"more than {_MAX_INFORMATIONAL} informational (1xx) responses")

    async def event(self, timeout: float | None) -> h11.Event:
        """The next h11 event of the response, reading as needed."""
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as e:
                raise httpx.RemoteProtocolError(str(e)) from e
            if event is not h11.NEED_DATA:
                assert isinstance(event, h11.Event)
                return event
            head = self.h11.their_state is h11.SEND_RESPONSE
            unanswered = head and not self._answered
            try:
                data = await self.reader.read(timeout, _HEAD_READ if head else None)
            except httpx.ReadError as e:  # reset: on a kept connection, as stale as a closed one
                if unanswered:
                    raise _Stale(e) from e
                raise
            if not data and head:
                gone = httpx.RemoteProtocolError("Server disconnected without sending a response.")
                raise _Stale(gone) if unanswered else gone
            self._answered = True
            self.h11.receive_data(data)

    def finished(self) -> bool:
        """Whether both messages ended, reading nothing more (a 304's or a short answer's end has arrived with
        its head); then the connection is ready for the next request."""
        h = self.h11
        if h.their_state is h11.SEND_BODY and self.reader.buffer:  # a short body's rest, come with its head
            h.receive_data(self.reader.take())
        try:
            while h.our_state is h11.DONE and h.their_state is h11.SEND_BODY:
                if h.next_event() is h11.NEED_DATA:
                    return False
        except h11.RemoteProtocolError:
            return False
        if self._doubt or h.our_state is not h11.DONE or h.their_state is not h11.DONE or h.trailing_data[0]:
            return False
        h.start_next_cycle()
        return True


class _Body(httpx.AsyncByteStream):
    """A response's body, read as it is iterated; closing it gives the connection back (or closes it)."""

    def __init__(self, pool: WireTransport, connection: _Connection, timeout: float | None) -> None:
        self._pool = pool
        self._connection: _Connection | None = connection
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            raise httpx.StreamClosed()
        try:
            while True:
                event = await connection.event(self._timeout)
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    return
        except _Stale as e:  # only before a response's head: never here
            raise e.error from e

    async def aclose(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            self._pool.give_back(connection)


class WireTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio. ``addresses`` says which IPs a host may be reached at (subclasses vet them)."""

    def __init__(self, *, limits: httpx.Limits, ssl_context: ssl.SSLContext) -> None:
        self._ssl = ssl_context
        self._max_open = limits.max_connections or 1 << 30
        self._max_idle = limits.max_keepalive_connections if limits.max_keepalive_connections is not None else 1 << 30
        self._expiry = limits.keepalive_expiry if limits.keepalive_expiry is not None else float("inf")
        self._open = 0  # connections open (idle ones included)
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()  # requests waiting for room
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._oldest: dict[_Connection, None] = {}  # every idle connection, oldest first
        self._closed = False

    async def addresses(self, host: str, port: int) -> list[str]:
        """The IPs to try for ``host``, in order (here: the name itself, as the socket layer resolves it)."""
        return [host]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise httpx.ConnectError("the transport is closed")
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        origin: _Origin = (url.raw_scheme, url.raw_host, port)
        retry = request.method in ("GET", "HEAD")
        while True:
            connection, kept = await self._connection(origin, timeouts)
            try:
                head = await connection.exchange(request, timeouts)
            except _Stale as stale:
                self._drop(connection)
                if kept and retry:  # the server closed a kept connection meanwhile: once more on a new one
                    retry = False
                    continue
                raise stale.error from stale.error.__cause__
            except BaseException:
                self._drop(connection)
                raise
            return httpx.Response(
                head.status_code,
                headers=head.headers.raw_items(),
                stream=_Body(self, connection, timeouts.get("read")),
                extensions={"http_version": b"HTTP/" + head.http_version, "reason_phrase": head.reason},
            )

    async def _connection(self, origin: _Origin, timeouts: dict[str, float | None]) -> tuple[_Connection, bool]:
        """An idle connection to ``origin`` (True), or a new one (False)."""
        now = time.monotonic()
        while self._oldest and not next(iter(self._oldest)).usable(now):  # expired first: they are the oldest
            self._drop(self._take_oldest())
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            del self._oldest[connection]
            if not idle:  # no empty lists: pages on endless new hosts must not grow the pool's memory
                del self._idle[origin]
            if connection.usable(now):
                return connection, True
            self._drop(connection)
        await self._room(timeouts.get("pool"))
        try:
            return await self._connect(origin, timeouts.get("connect")), False
        except BaseException:
            self._release()
            raise

    async def _room(self, timeout: float | None) -> None:
        """Room for one more open connection: a free one, an idle connection's (closed), or one that frees up."""
        if self._open < self._max_open:
            self._open += 1
            return
        if self._oldest:  # its room passes to this request
            self._take_oldest().close()
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except BaseException as e:
            if waiter.done() and not waiter.cancelled():  # the room came as this request gave up: pass it on
                self._release()
            elif waiter in self._waiting:  # no longer waiting: a connection given back is kept, not closed for it
                self._waiting.remove(waiter)
            waiter.cancel()
            if isinstance(e, TimeoutError):
                raise httpx.PoolTimeout("timed out waiting for a connection") from e
            raise

    def _release(self) -> None:
        """A connection closed: its room goes to the first request waiting, else it is free."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._open -= 1

    async def _connect(self, origin: _Origin, timeout: float | None) -> _Connection:
        scheme, raw_host, port = origin
        host = raw_host.decode("ascii")
        tls = self._ssl if scheme == b"https" else None
        loop = asyncio.get_running_loop()
        last: OSError | None = None
        # A turn for the loop first: connects refused at once (a vetted name's private address) must neither hold
        # it for a feed's thousands of links nor pile up their cancelled timers until it next runs.
        await asyncio.sleep(0)
        try:
            async with asyncio.timeout(timeout):
                for address in await self.addresses(host, port):
                    try:
                        transport, reader = await loop.create_connection(
                            _Reader, address, port, ssl=tls, server_hostname=host if tls else None
                        )
                    except OSError as e:  # the next vetted address, as a resolving client would
                        last = e
                        continue
                    assert isinstance(transport, asyncio.Transport)
                    return _Connection(origin, transport, reader)
        except TimeoutError as e:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}") from e
        raise httpx.ConnectError(str(last) if last else f"cannot connect to {host}") from last

    def give_back(self, connection: _Connection) -> None:
        """A response is closed: keep its connection if the exchange ended cleanly and no request waits for room,
        else close it."""
        if self._closed or self._waiting or not connection.finished() or not connection.alive():
            self._drop(connection)
            return
        connection.expires = time.monotonic() + self._expiry
        self._idle.setdefault(connection.origin, []).append(connection)
        self._oldest[connection] = None
        while len(self._oldest) > self._max_idle:
            self._drop(self._take_oldest())

    def _take_oldest(self) -> _Connection:
        connection = next(iter(self._oldest))
        del self._oldest[connection]
        idle = self._idle[connection.origin]
        idle.remove(connection)
        if not idle:
            del self._idle[connection.origin]
        return connection

    def _drop(self, connection: _Connection) -> None:
        connection.close()
        self._release()

    async def aclose(self) -> None:
        self._closed = True
        while self._oldest:
            self._drop(self._take_oldest())
        await asyncio.sleep(0)  # their sockets close at the loop's next turn
