"""The fetcher: a URL (+ ETag/Last-Modified) -> FetchResult, politely and within limits.

Conditional GET, bounded decompression, global and per-host concurrency with a per-host delay, connect/read/total
timeouts, a body size cap, redirects followed by hand (each hop through the SSRF guard). This is the only module
that sees httpx exceptions; every failure leaves as a ``monitor.errors.FetchError`` subclass.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

import httpx

from monitor.errors import (
    BlockedAddressError,
    FetchError,
    FetchStatusError,
    FetchTimeout,
    ResponseTooLargeError,
    TooManyRedirectsError,
)
from monitor.fetch.bounds import (
    MAX_HEADER,
    MAX_URL,
    ascii_digits,
    clip,
    parse_retry_after,
    safe_url,
    url_host,
    validator,
)
from monitor.fetch.decode import ACCEPT_ENCODING, UnsupportedEncoding, make_decoder
from monitor.fetch.gates import HostGates, Lane
from monitor.fetch.guard import (
    AddressBlocked,
    GuardedTransport,
    Resolver,
    SystemResolver,
    literal_refusal,
)

if TYPE_CHECKING:
    from monitor.config import FetchSettings

__all__ = ["FetchResult", "Fetcher"]

_log = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
# The decoded body replaces the wire body, so these no longer describe it.
_DROPPED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
# Both settings that open the address: the feed's own, or every request's.
_PRIVATE_HINT = (
    " (to fetch it, set allow_private = true on this feed's [[feeds]] entry in config.toml,"
    " or [fetch] allow_private = true for every feed)"
)


@dataclass(frozen=True)
class FetchResult:
    """One fetched resource. ``headers`` has lower-case keys; ``body`` is decoded (no Content-Encoding)."""

    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    etag: str | None
    last_modified: str | None
    not_modified: bool
    permanent_url: str | None


@dataclass(frozen=True)
class _Hop:
    """The outcome of one request: either a final result or where to go next."""

    result: FetchResult | None = None
    location: str | None = None
    status: int = 0


class Fetcher:
    """Fetches feeds and pages under the ``[fetch]`` limits; use as ``async with Fetcher(settings) as f``.

    Args:
        settings: the ``[fetch]`` section.
        transport: an httpx transport to use instead of the guarded one (tests: ``httpx.MockTransport``). The
            connect-time SSRF guard lives in the default transport; with a custom one only IP-literal URLs are
            vetted, and the caller answers for where its transport connects.
        resolver: how the guarded transport resolves names (default: the system resolver).

    Requests that may reach private addresses (``allow_private`` globally or per request) go through their own
    guarded connection pool, so a connection opened for a trusted intranet feed is never reused by another.
    """

    def __init__(
        self,
        settings: FetchSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self._settings = settings
        # Two lanes (feeds, pages), each with ``concurrency`` slots: the pool must hold both. Every open connection
        # may stay idle (for its keep-alive expiry): a cycle's polls come back to a host after the others' turns.
        connections = 2 * settings.concurrency
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        if transport is not None:
            self._strict = self._open = self._client(transport)
        else:
            resolver = resolver or SystemResolver()
            self._open = self._client(GuardedTransport(resolver, allow_private=True, limits=limits))
            self._strict = (
                self._open
                if settings.allow_private
                else self._client(GuardedTransport(resolver, allow_private=False, limits=limits))
            )
        self._slots = {lane: asyncio.Semaphore(settings.concurrency) for lane in ("feed", "page")}
        self._gates = HostGates(settings.per_host, settings.per_host_delay)

    def _client(self, transport: httpx.AsyncBaseTransport) -> httpx.AsyncClient:
        s = self._settings
        read = float(getattr(s, "read_timeout", None) or s.timeout)
        return httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(connect=s.connect_timeout, read=read, write=read, pool=s.timeout),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": s.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pools."""
        await self._strict.aclose()
        if self._open is not self._strict:
            await self._open.aclose()

    async def fetch(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        *,
        allow_private: bool = False,
        lane: Lane = "page",
    ) -> FetchResult:
        """GET ``url`` (conditionally when ``etag``/``last_modified`` are given), following redirects.

        Args:
            allow_private: this request and its redirects may reach loopback and private addresses (a feed's
                own ``allow_private``); ``[fetch] allow_private = true`` opens them for every request.
            lane: ``"feed"`` for a feed's own document, ``"page"`` for the articles it links to. The lanes have
                their own per-host and global slots, so pages that drip until their timeout never hold back a
                feed's request to the same host (or any other).
        Returns:
            The final response; ``not_modified`` is True on 304 (then ``body`` is empty).
        Raises:
            FetchTimeout, BlockedAddressError, ResponseTooLargeError, TooManyRedirectsError, FetchStatusError,
            or FetchError for any other failure: nothing else leaves this method (but cancellation).
        """
        headers = {}
        # Validators come from earlier responses; one with control characters would fail every later poll.
        if etag := validator(etag):
            headers["If-None-Match"] = etag
        if last_modified := validator(last_modified):
            headers["If-Modified-Since"] = last_modified
        try:
            return await self._follow(url, headers, allow_private or self._settings.allow_private, lane)
        except FetchError as e:
            e.url = e.url or url
            _log.debug("fetch failed url=%s error=%s", safe_url(url), type(e).__name__)
            raise
        except Exception as e:  # the boundary: a bug or a library's surprise fails this fetch only
            _log.warning("fetch failed unexpectedly url=%s error=%s", safe_url(url), type(e).__name__)
            _log.debug("unexpected fetch error", exc_info=True)
            raise FetchError(f"{type(e).__name__} fetching {safe_url(url)}: {clip(str(e))}", url=url) from e

    async def _follow(self, url: str, headers: dict[str, str], allow_private: bool, lane: Lane) -> FetchResult:
        s = self._settings
        seen: set[str] = set()
        permanent = True
        budget = s.timeout  # the total limit covers time on the wire across all hops, not queueing for a host
        current = url
        for hops in range(s.max_redirects + 1):
            parsed = self._vet_url(current, previous=url if hops else None, allow_private=allow_private)
            target = str(parsed)
            if target in seen:
                raise TooManyRedirectsError(f"redirect loop at {safe_url(target)}", url=url)
            seen.add(target)
            started = time.monotonic()
            client = self._open if allow_private else self._strict
            hop = await self._hop(client, parsed, headers, budget, original=url, lane=lane)
            budget -= time.monotonic() - started
            if hop.result is not None:
                if hops == 0 or not permanent:
                    return hop.result
                return _with_permanent(hop.result)
            assert hop.location is not None
            permanent = permanent and hop.status in _PERMANENT
            if len(hop.location) > MAX_URL:
                raise FetchError(
                    f"redirect Location of {len(hop.location):,} characters from {safe_url(target)}"
                    f" (at most {MAX_URL:,})",
                    url=url,
                )
            try:
                next_url = str(httpx.URL(target).join(hop.location))
            except (httpx.InvalidURL, TypeError, ValueError) as e:
                raise FetchError(f"invalid redirect Location from {safe_url(target)}: {clip(str(e))}", url=url) from e
            self._check_downgrade(target, next_url, url)
            current = next_url
        raise TooManyRedirectsError(f"more than {s.max_redirects} redirects", url=url)

    def _vet_url(self, url: str, *, previous: str | None, allow_private: bool) -> httpx.URL:
        """Scheme and IP-literal checks before any connection; returns the URL as httpx will send it (parsed once:
        the request is made from it)."""
        if len(url) > MAX_URL:
            raise FetchError(f"invalid URL: {len(url):,} characters (at most {MAX_URL:,})", url=url)
        try:
            split = urllib.parse.urlsplit(url)
            host = split.hostname or ""
            split.port  # noqa: B018 - raises ValueError for a port out of 0-65535, which the socket layer would not
        except ValueError as e:
            raise FetchError(f"invalid URL: {clip(str(e))}", url=url) from e
        if split.scheme.lower() not in ("http", "https"):
            what = "redirect to" if previous else "URL with"
            reason = f"{what} unsupported scheme {clip(split.scheme, 20) or 'none'!r}"
            raise BlockedAddressError(f"blocked: {reason}", url=url, reason=reason)
        if not host:
            raise FetchError(f"invalid URL: no host in {safe_url(url)}", url=url)
        # Checked on the raw host before httpx parses it: odd spellings (0177.0.0.1) must be refused, not just
        # rejected as invalid. Also vetted at connect time; this covers custom transports too.
        refused = literal_refusal(host, allow_private=allow_private)
        if refused is not None:
            reason, opened = refused  # "loopback address 127.0.0.1": the address is named once
            raise BlockedAddressError(f"blocked: {reason}{_PRIVATE_HINT if opened else ''}", url=url, reason=reason)
        try:
            target = httpx.URL(url)
            target = target.copy_with(fragment=None) if "#" in url else target  # no fragment: the same URL
        except (httpx.InvalidURL, TypeError, ValueError) as e:
            raise FetchError(f"invalid URL: {clip(str(e))}", url=url) from e
        try:
            target.host  # noqa: B018 - httpx decodes it for the Host header: 'xn--.test' parses, then raises there
        except UnicodeError as e:
            raise FetchError(
                f"invalid URL: host {url_host(target)!r} is not valid IDNA: {clip(str(e), 60)}", url=url
            ) from e
        return target

    def _check_downgrade(self, current: str, next_url: str, original: str) -> None:
        if (
            httpx.URL(current).scheme == "https"
            and httpx.URL(next_url).scheme == "http"
            and not self._settings.allow_https_downgrade
        ):
            raise TooManyRedirectsError(f"refused https->http downgrade redirect to {safe_url(next_url)}", url=original)

    async def _hop(
        self,
        client: httpx.AsyncClient,
        url: httpx.URL,
        headers: dict[str, str],
        budget: float,
        *,
        original: str,
        lane: Lane,
    ) -> _Hop:
        gate = self._gates.get(url.host, lane)
        gate.users += 1
        try:
            # Host slot (and delay) first, global slot second: fetches queued behind a busy host hold no global
            # slot, so other hosts are not starved. Both are held per hop, so a cross-host redirect cannot deadlock.
            async with gate.slots:
                await gate.wait_turn()
                async with self._slots[lane]:
                    return await self._timed_exchange(client, url, headers, budget, original=original)
        finally:
            gate.users -= 1

    async def _timed_exchange(
        self, client: httpx.AsyncClient, url: httpx.URL, headers: dict[str, str], budget: float, *, original: str
    ) -> _Hop:
        """One exchange under the remaining total budget, with httpx's errors mapped to FetchError."""
        try:
            async with asyncio.timeout(max(budget, 0.0)):
                return await self._exchange(client, url, headers, original=original)
        except TimeoutError as e:
            raise FetchTimeout(
                f"timed out after {self._settings.timeout:g}s fetching {safe_url(url)}", url=original
            ) from e
        except AddressBlocked as e:
            hint = _PRIVATE_HINT if e.private else ""
            raise BlockedAddressError(f"blocked: {e.reason}{hint}", url=original, reason=e.reason) from e
        except httpx.TimeoutException as e:
            kind = "connect" if isinstance(e, httpx.ConnectTimeout) else "read"
            raise FetchTimeout(f"{kind} timeout fetching {safe_url(url)}", url=original) from e
        except (httpx.HTTPError, httpx.InvalidURL) as e:
            raise FetchError(
                f"{type(e).__name__} fetching {safe_url(url)}: {clip(str(e)) or 'connection failed'}", url=original
            ) from e

    async def _exchange(
        self, client: httpx.AsyncClient, parsed: httpx.URL, headers: dict[str, str], *, original: str
    ) -> _Hop:
        url = str(parsed)
        async with client.stream("GET", parsed, headers=headers) as response:
            status = response.status_code
            if status in _REDIRECTS and "location" in response.headers:
                return _Hop(location=response.headers["location"], status=status)
            result_headers = {
                k.lower(): v[:MAX_HEADER] for k, v in response.headers.items() if k.lower() not in _DROPPED_HEADERS
            }
            if status == 304:
                if _log.isEnabledFor(logging.DEBUG):  # safe_url parses the URL: not for a log line nobody sees
                    _log.debug("fetch not modified url=%s", safe_url(url))
                return _Hop(result=self._result(original, url, status, result_headers, b"", not_modified=True))
            if not 200 <= status < 300:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                phrase = clip(response.reason_phrase, 100)  # server text: it ends up in logs and the CLI
                phrase = f" {phrase}" if phrase else ""
                raise FetchStatusError(
                    f"HTTP {status}{phrase} from {safe_url(url)}", url=original, status=status, retry_after=retry_after
                )
            body = await self._read_body(response, url, original)
            return _Hop(result=self._result(original, url, status, result_headers, body, not_modified=False))

    async def _read_body(self, response: httpx.Response, url: str, original: str) -> bytes:
        """The decoded body, aborting as soon as the wire or decoded size passes ``max_bytes``."""
        cap = self._settings.max_bytes
        encoding = response.headers.get("content-encoding", "")
        declared = response.headers.get("content-length", "")
        too_large = ResponseTooLargeError(f"body of {safe_url(url)} is larger than {cap:,} bytes", url=original)
        if not encoding and ascii_digits(declared) and (len(declared) > 18 or int(declared) > cap):
            raise too_large
        if response.is_stream_consumed:  # an in-memory response (httpx.MockTransport): already decoded
            if len(response.content) > cap:
                raise too_large
            return response.content
        try:
            decoder = make_decoder(encoding)
        except UnsupportedEncoding as e:
            raise FetchError(f"unsupported Content-Encoding from {safe_url(url)}: {clip(str(e))}", url=original) from e
        body = bytearray()
        wire = 0  # an encoding never doubles a real body: an endless stream that decodes to nothing stops too
        try:
            async for raw in response.aiter_raw():
                wire += len(raw)
                if wire > 2 * cap:
                    raise too_large
                for chunk in decoder.feed(raw):
                    body += chunk
                    if len(body) > cap:
                        raise too_large
            for chunk in decoder.flush():
                body += chunk
        except zlib.error as e:
            raise FetchError(f"corrupt {clip(encoding, 40)} body from {safe_url(url)}: {e}", url=original) from e
        if len(body) > cap:
            raise too_large
        return bytes(body)

    @staticmethod
    def _result(
        original: str, final: str, status: int, headers: dict[str, str], body: bytes, *, not_modified: bool
    ) -> FetchResult:
        return FetchResult(
            url=original,
            final_url=final,
            status=status,
            headers=headers,
            body=body,
            etag=validator(headers.get("etag")),
            last_modified=validator(headers.get("last-modified")),
            not_modified=not_modified,
            permanent_url=None,
        )


def _with_permanent(result: FetchResult) -> FetchResult:
    return FetchResult(**{**result.__dict__, "permanent_url": result.final_url})
