"""Fetcher against the loopback hostile server: conditional GET, limits, timeouts, redirects, SSRF guard."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import shutil
import ssl
import subprocess
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import httpx
import pytest

from monitor.config import FetchSettings
from monitor.errors import (
    BlockedAddressError,
    FetchError,
    FetchStatusError,
    FetchTimeout,
    ResponseTooLargeError,
    TooManyRedirectsError,
)
from monitor.fetch import MAX_RETRY_AFTER, Fetcher, FetchResult, blocked_reason, parse_retry_after
from monitor.fetch.guard import GuardedTransport
from tests.support.hostile import FEED_XML, HostileServer

T = TypeVar("T")


class MapResolver:
    """A test resolver: names to fixed addresses, counting lookups."""

    def __init__(self, table: dict[str, list[str]], delay: float = 0.0) -> None:
        self.table = table
        self.delay = delay
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        await asyncio.sleep(self.delay)
        if host not in self.table:
            raise OSError(f"{host}: name not known")
        return self.table[host]


def settings(**overrides: Any) -> FetchSettings:
    base: dict[str, Any] = {"allow_private": True, "timeout": 5.0, "connect_timeout": 2.0}
    return FetchSettings(**{**base, **overrides})


def fetch(
    url: str,
    *,
    resolver: MapResolver | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    **overrides: Any,
) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(settings(**overrides), resolver=resolver) as fetcher:
            return await fetcher.fetch(url, etag=etag, last_modified=last_modified)

    return asyncio.run(go())


def with_fetcher(body: Callable[[Fetcher], Awaitable[T]], **overrides: Any) -> T:
    async def go() -> T:
        async with Fetcher(settings(**overrides)) as fetcher:
            return await body(fetcher)

    return asyncio.run(go())


# --- plain fetching, conditional GET, decoding ---


def test_fetch_feed_returns_body_validators_and_lowercase_headers(hostile_server: HostileServer) -> None:
    result = fetch(hostile_server.url("/feed.xml"))
    assert result.status == 200 and result.body == FEED_XML and not result.not_modified
    assert result.etag == '"v1"' and result.last_modified == "Mon, 02 Feb 2026 10:00:00 GMT"
    assert result.headers["content-type"] == "application/rss+xml"
    assert result.permanent_url is None and result.final_url == result.url


def test_sends_user_agent_and_accept_encoding(hostile_server: HostileServer) -> None:
    echoed = json.loads(fetch(hostile_server.url("/echo"), user_agent="monitor-test/1").body)
    assert echoed["User-Agent"] == "monitor-test/1"
    assert "gzip" in echoed["Accept-Encoding"]


@pytest.mark.parametrize(
    ("etag", "last_modified"), [('"v1"', None), (None, "Mon, 02 Feb 2026 10:00:00 GMT")], ids=["etag", "last-modified"]
)
def test_conditional_get_gives_not_modified(
    hostile_server: HostileServer, etag: str | None, last_modified: str | None
) -> None:
    result = fetch(hostile_server.url("/feed.xml"), etag=etag, last_modified=last_modified)
    assert result.not_modified and result.status == 304 and result.body == b""
    sent = hostile_server.requests[-1][1]
    assert sent.get("If-None-Match") == etag and sent.get("If-Modified-Since") == last_modified


@pytest.mark.parametrize("path", ["/gzip", "/deflate", "/deflate/raw"])
def test_compressed_bodies_are_decoded(hostile_server: HostileServer, path: str) -> None:
    result = fetch(hostile_server.url(path))
    assert result.body == FEED_XML and "content-encoding" not in result.headers


# --- size limits and memory ---


def _peak_mb(run: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        run()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak / 1e6


@pytest.mark.parametrize("path", ["/gzip-bomb", "/gzip-bomb-big", "/huge", "/huge/no-length"])
def test_oversized_bodies_stop_at_the_cap_with_bounded_memory(hostile_server: HostileServer, path: str) -> None:
    def run() -> None:
        with pytest.raises(ResponseTooLargeError, match="larger than 5,000,000 bytes"):
            fetch(hostile_server.url(path), max_bytes=5_000_000)

    started = time.monotonic()
    assert _peak_mb(run) < 50
    assert time.monotonic() - started < 10


def test_body_within_cap_after_decompression_is_kept(hostile_server: HostileServer) -> None:
    assert len(fetch(hostile_server.url("/gzip-bomb"), max_bytes=11_000_000).body) == 10 * 1024 * 1024


# --- timeouts and broken connections ---


def test_stalled_server_times_out(hostile_server: HostileServer) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        fetch(hostile_server.url("/stall/10"), timeout=1.0)
    assert time.monotonic() - started < 3


def test_drip_feed_hits_total_timeout_though_each_read_is_quick(hostile_server: HostileServer) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="timed out after 1.5s"):
        fetch(hostile_server.url("/drip"), timeout=1.5)
    assert 1.4 < time.monotonic() - started < 3.5


def test_slow_resolver_is_a_connect_timeout() -> None:
    resolver = MapResolver({"slow.test": ["127.0.0.1"]}, delay=5)
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        fetch("http://slow.test:9/", resolver=resolver, connect_timeout=0.3)
    assert time.monotonic() - started < 2


def test_connection_reset_is_a_fetch_error(hostile_server: HostileServer) -> None:
    with pytest.raises(FetchError) as caught:
        fetch(hostile_server.url("/reset"))
    assert type(caught.value) is FetchError and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("encoding", "message"), [("compress", "unsupported Content-Encoding"), ("gzip", "corrupt gzip")]
)
def test_bad_content_encoding_is_a_fetch_error(hostile_server: HostileServer, encoding: str, message: str) -> None:
    with pytest.raises(FetchError, match=message):
        fetch(hostile_server.url(f"/encoded/{encoding}"))


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (httpx.ConnectTimeout("t"), FetchTimeout),
        (httpx.ReadTimeout("t"), FetchTimeout),
        (httpx.PoolTimeout("t"), FetchTimeout),
        (httpx.ConnectError("refused"), FetchError),
        (httpx.RemoteProtocolError(""), FetchError),
        (httpx.ReadError("eof"), FetchError),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else v.__name__,
)
def test_every_httpx_error_leaves_as_a_fetch_error(raised: Exception, expected: type[FetchError]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise raised

    async def go() -> None:
        async with Fetcher(settings(), transport=httpx.MockTransport(handler)) as fetcher:
            await fetcher.fetch("http://feeds.example/rss?token=SECRET")

    with pytest.raises(expected) as caught:
        asyncio.run(go())
    assert isinstance(caught.value.__cause__, httpx.HTTPError)
    message = str(caught.value)
    assert "feeds.example/rss" in message and "SECRET" not in message and "\n" not in message
    assert caught.value.url == "http://feeds.example/rss?token=SECRET"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "notaurl",
        "http:///nohost",
        "javascript:alert(1)",
        "http://[bad/",
        "http://" + "a" * 300 + ".test/",
        "http://unknown.test/feed",
    ],
)
def test_malformed_or_unresolvable_urls_are_fetch_errors(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        fetch(url, resolver=MapResolver({}))
    assert "\n" not in str(caught.value)


def test_garbage_redirect_location_is_a_fetch_error(hostile_server: HostileServer) -> None:
    with pytest.raises(FetchError):
        fetch(hostile_server.url("/redirect-to?url=" + quote("http://[::1")))


def test_validators_with_control_characters_are_not_sent(hostile_server: HostileServer) -> None:
    result = fetch(hostile_server.url("/feed.xml"), etag='"a\r\nInjected: 1"', last_modified="x\n")
    assert result.status == 200 and "Injected" not in hostile_server.requests[-1][1]


# --- statuses ---


@pytest.mark.parametrize("status", [404, 410, 500])
def test_error_status(hostile_server: HostileServer, status: int) -> None:
    with pytest.raises(FetchStatusError, match=f"HTTP {status}") as caught:
        fetch(hostile_server.url(f"/status/{status}"))
    assert caught.value.status == status and caught.value.retry_after is None


def test_retry_after_seconds_and_date(hostile_server: HostileServer) -> None:
    with pytest.raises(FetchStatusError) as caught:
        fetch(hostile_server.url("/retry-after/30"))
    assert caught.value.status == 429 and caught.value.retry_after == 30
    with pytest.raises(FetchStatusError) as caught:
        fetch(hostile_server.url("/retry-after/date?status=503"))
    assert caught.value.status == 503 and 100 < (caught.value.retry_after or 0) <= 121


@pytest.mark.parametrize("value", ["", "soon", "-5", "Mon, 99 Foo 2026"])
def test_unreadable_retry_after_is_none(value: str) -> None:
    assert parse_retry_after(value) is None


# --- redirects ---


def test_temporary_redirects_are_followed_without_permanent_url(hostile_server: HostileServer) -> None:
    result = fetch(hostile_server.url("/redirect/3"))
    assert result.body == FEED_XML and result.final_url == hostile_server.url("/feed.xml")
    assert result.permanent_url is None


def test_all_permanent_chain_sets_permanent_url(hostile_server: HostileServer) -> None:
    result = fetch(hostile_server.url("/permanent/2"))
    assert result.permanent_url == hostile_server.url("/feed.xml")
    assert fetch(hostile_server.url("/mixed")).permanent_url is None


def test_too_many_redirects(hostile_server: HostileServer) -> None:
    with pytest.raises(TooManyRedirectsError, match="more than 2 redirects"):
        fetch(hostile_server.url("/redirect/3"), max_redirects=2)


def test_redirect_loop_is_detected(hostile_server: HostileServer) -> None:
    with pytest.raises(TooManyRedirectsError, match="redirect loop"):
        fetch(hostile_server.url("/loop/a"), max_redirects=10)


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://example.com/feed", "gopher://x/"])
def test_redirect_to_other_schemes_is_blocked(hostile_server: HostileServer, target: str) -> None:
    with pytest.raises(BlockedAddressError, match="unsupported scheme"):
        fetch(hostile_server.url("/redirect-to?url=" + quote(target)))


def test_https_to_http_downgrade_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            return httpx.Response(301, headers={"Location": "http://feeds.example/rss"})
        return httpx.Response(200, content=FEED_XML)

    async def go(**overrides: Any) -> FetchResult:
        async with Fetcher(settings(**overrides), transport=httpx.MockTransport(handler)) as fetcher:
            return await fetcher.fetch("https://feeds.example/rss")

    with pytest.raises(TooManyRedirectsError, match="downgrade"):
        asyncio.run(go())
    assert asyncio.run(go(allow_https_downgrade=True)).body == FEED_XML


# --- politeness: concurrency and delay ---


def _concurrent(hostile_server: HostileServer, path: str, n: int, **overrides: Any) -> float:
    async def body(fetcher: Fetcher) -> float:
        started = time.monotonic()
        await asyncio.gather(*(fetcher.fetch(hostile_server.url(f"{path}?track=1&i={i}")) for i in range(n)))
        return time.monotonic() - started

    hostile_server.reset_concurrency()
    return with_fetcher(body, **overrides)


def test_per_host_limit_caps_parallel_requests(hostile_server: HostileServer) -> None:
    _concurrent(hostile_server, "/stall/0.3", 4, per_host=1)
    assert hostile_server.max_in_flight == 1
    _concurrent(hostile_server, "/stall/0.3", 4, per_host=4)
    assert hostile_server.max_in_flight == 4


def test_global_concurrency_caps_parallel_requests(hostile_server: HostileServer) -> None:
    _concurrent(hostile_server, "/stall/0.3", 4, per_host=4, concurrency=2)
    assert hostile_server.max_in_flight == 2


def test_a_busy_host_does_not_starve_other_hosts(hostile_server: HostileServer) -> None:
    resolver = MapResolver({"busy.test": ["127.0.0.1"], "quiet.test": ["127.0.0.1"]})

    async def go() -> float:
        async with Fetcher(settings(concurrency=2, per_host=1), resolver=resolver) as fetcher:
            busy = [fetcher.fetch(hostile_server.url(f"/stall/0.4?i={i}", host="busy.test")) for i in range(4)]

            async def quiet() -> float:
                await asyncio.sleep(0.05)  # the busy host's fetches are queued by now
                started = time.monotonic()
                await fetcher.fetch(hostile_server.url("/feed.xml", host="quiet.test"))
                return time.monotonic() - started

            quiet_task = asyncio.ensure_future(quiet())
            await asyncio.gather(*busy)
            return await quiet_task

    assert asyncio.run(go()) < 0.3  # not behind the 1.6 s queue for busy.test


def test_per_host_delay_spaces_requests(hostile_server: HostileServer) -> None:
    before = len(hostile_server.requests)
    _concurrent(hostile_server, "/feed.xml", 3, per_host=3, per_host_delay=0.3)
    starts = [t for _, _, t in hostile_server.requests[before:]]
    assert all(b - a >= 0.25 for a, b in zip(starts, starts[1:], strict=False))


# --- SSRF guard ---


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::1",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
        "192.0.2.1",
        "240.0.0.1",
    ],
)
def test_names_resolving_to_non_public_addresses_are_refused_before_connecting(
    hostile_server: HostileServer, address: str
) -> None:
    resolver = MapResolver({"news.example": [address]})
    connections = hostile_server.connections
    with pytest.raises(BlockedAddressError) as caught:
        fetch(hostile_server.url("/feed.xml", host="news.example"), resolver=resolver, allow_private=False)
    assert "news.example resolves to" in str(caught.value) and str(ipaddress.ip_address(address)) in caught.value.reason
    assert hostile_server.connections == connections


def test_refusal_reason_is_readable() -> None:
    resolver = MapResolver({"news.example": ["127.0.0.1"]})
    with pytest.raises(BlockedAddressError) as caught:
        fetch("http://news.example/feed", resolver=resolver, allow_private=False)
    assert caught.value.reason == "news.example resolves to loopback address 127.0.0.1"
    assert caught.value.url == "http://news.example/feed"


def test_one_private_answer_among_public_ones_refuses_the_name() -> None:
    resolver = MapResolver({"news.example": ["93.184.216.34", "10.1.2.3"]})
    with pytest.raises(BlockedAddressError, match="private address 10.1.2.3"):
        fetch("http://news.example/feed", resolver=resolver, allow_private=False)


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "127.1", "0177.0.0.1", "[::ffff:127.0.0.1]", "127.0.0.1"])
def test_odd_spellings_of_loopback_are_refused(hostile_server: HostileServer, host: str) -> None:
    connections = hostile_server.connections
    with pytest.raises(BlockedAddressError):
        fetch(hostile_server.url("/feed.xml", host=host), allow_private=False)
    assert hostile_server.connections == connections


def test_allow_private_fetches_loopback_through_a_name_keeping_the_host_header(hostile_server: HostileServer) -> None:
    resolver = MapResolver({"intranet.test": ["127.0.0.1"]})
    result = fetch(hostile_server.url("/echo", host="intranet.test"), resolver=resolver)
    assert json.loads(result.body)["Host"] == f"intranet.test:{hostile_server.port}"


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:{port}/feed.xml",
        "http://[fe80::1]/",
        "http://metadata.test/",
    ],
)
def test_allow_private_never_opens_link_local_or_unspecified(hostile_server: HostileServer, target: str) -> None:
    resolver = MapResolver({"metadata.test": ["169.254.169.254"]})
    url = hostile_server.url("/redirect-to?url=" + quote(target.format(port=hostile_server.port)))
    with pytest.raises(BlockedAddressError, match="link-local|unspecified"):
        fetch(url, resolver=resolver, allow_private=True)


@pytest.mark.parametrize("target", ["http://127.0.0.1/admin", "http://2130706433/", "http://[::1]:8080/"])
def test_redirect_from_public_server_to_loopback_is_refused(target: str) -> None:
    """Article links and redirects are attacker-controlled: every hop is vetted, even with a custom transport."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": target})

    async def go() -> None:
        async with Fetcher(settings(allow_private=False), transport=httpx.MockTransport(handler)) as fetcher:
            await fetcher.fetch("http://news.example/story")

    with pytest.raises(BlockedAddressError, match="loopback"):
        asyncio.run(go())
    assert seen == ["http://news.example/story"]


@pytest.mark.parametrize(
    ("address", "allow_private", "blocked"),
    [
        ("8.8.8.8", False, False),
        ("2606:4700:4700::1111", False, False),
        ("127.0.0.1", True, False),
        ("10.0.0.1", True, False),
        ("fd00::1", True, False),
        ("100.64.0.1", True, False),
        ("169.254.169.254", True, True),
        ("fe80::1", True, True),
        ("0.0.0.0", True, True),
        ("::", True, True),
        ("224.0.0.1", True, True),
        ("::ffff:169.254.169.254", True, True),
        ("::ffff:8.8.8.8", False, False),
    ],
)
def test_address_policy_table(address: str, allow_private: bool, blocked: bool) -> None:
    reason = blocked_reason(ipaddress.ip_address(address), allow_private=allow_private)
    assert (reason is not None) == blocked


# --- TLS through the guard: connect to the vetted IP, but SNI and certificate checks use the name ---

_needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


class _AnyNameResolver:
    async def resolve(self, host: str, port: int) -> list[str]:
        return ["127.0.0.1"]  # every name: the certificate decides which names work


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HostileServer, Path, list[str]]]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=news.test",
            "-addext",
            "subjectAltName=DNS:news.test",
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str] = []

    def record_sni(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        names.append(name or "")

    context.sni_callback = record_sni
    server = HostileServer(Path("/tmp"), tls=context).start()
    yield server, cert, names
    server.stop()


def _fetch_tls(url: str, cafile: Path) -> FetchResult:
    settings = FetchSettings(allow_private=True, timeout=5.0)
    transport = GuardedTransport(
        _AnyNameResolver(),
        allow_private=True,
        limits=httpx.Limits(max_connections=4),
        ssl_context=ssl.create_default_context(cafile=str(cafile)),
    )

    async def go() -> FetchResult:
        async with Fetcher(settings, transport=transport) as fetcher:
            return await fetcher.fetch(url)

    return asyncio.run(go())


@_needs_openssl
def test_tls_uses_the_name_for_sni_and_verification(tls_server: tuple[HostileServer, Path, list[str]]) -> None:
    server, cert, names = tls_server
    result = _fetch_tls(f"https://news.test:{server.port}/feed.xml", cert)
    assert result.body == FEED_XML and names[-1] == "news.test"


@_needs_openssl
def test_certificate_for_another_name_is_refused(tls_server: tuple[HostileServer, Path, list[str]]) -> None:
    server, cert, _ = tls_server
    with pytest.raises(FetchError, match="certificate|CERTIFICATE|hostname"):
        _fetch_tls(f"https://other.test:{server.port}/feed.xml", cert)


@_needs_openssl
def test_the_default_trust_is_certifis_and_refuses_an_unknown_issuer(
    tls_server: tuple[HostileServer, Path, list[str]],
) -> None:
    # The default context reads its CA bundle on the first https request (not at start-up): that request is still
    # verified, against certifi's bundle, so a certificate nobody in it issued is refused.
    from monitor.fetch import guard

    server, _, _ = tls_server
    transport = GuardedTransport(_AnyNameResolver(), allow_private=True, limits=httpx.Limits(max_connections=4))

    async def go() -> FetchResult:
        async with Fetcher(FetchSettings(allow_private=True, timeout=5.0), transport=transport) as fetcher:
            return await fetcher.fetch(f"https://news.test:{server.port}/feed.xml")

    with pytest.raises(FetchError, match="certificate|CERTIFICATE"):
        asyncio.run(go())
    ours, httpxs = guard._trust().context, httpx.create_ssl_context(trust_env=False)  # noqa: SLF001
    assert guard._trust().loaded and ours.cert_store_stats() == httpxs.cert_store_stats()  # noqa: SLF001
    same = ("verify_mode", "check_hostname", "options", "minimum_version", "maximum_version", "verify_flags")
    assert {k: getattr(ours, k) for k in same} == {k: getattr(httpxs, k) for k in same}


# --- issue 11: only FetchErrors leave, server values bounded, more address ranges, per-request permission ---


def _headers(server: HostileServer, **query: str) -> str:
    """A URL whose answer has these headers (``times``: each value repeated, for huge ones)."""
    return server.url("/headers?" + urlencode({k.replace("_", "-"): v for k, v in query.items()}))


@pytest.mark.parametrize(
    "raised",
    [
        RecursionError("maximum recursion depth exceeded"),
        ValueError("x" * 100_000),
        OverflowError("too big"),
        UnicodeError("bad label"),
        KeyError("k"),
        AttributeError("h11 oddity"),
        ExceptionGroup("g", [OSError("o")]),
    ],
    ids=lambda e: type(e).__name__,
)
def test_any_other_exception_leaves_as_a_short_fetch_error_naming_its_class(raised: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise raised

    async def go() -> None:
        async with Fetcher(settings(), transport=httpx.MockTransport(handler)) as fetcher:
            await fetcher.fetch("http://feeds.example/rss?token=SECRET")

    with pytest.raises(FetchError) as caught:
        asyncio.run(go())
    message = str(caught.value)
    assert message.startswith(f"{type(raised).__name__} fetching http://feeds.example/rss")
    assert len(message) < 250 and "SECRET" not in message and caught.value.__cause__ is raised


def test_cancellation_is_never_turned_into_a_fetch_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise asyncio.CancelledError()

    async def go() -> None:
        async with Fetcher(settings(), transport=httpx.MockTransport(handler)) as fetcher:
            await fetcher.fetch("http://feeds.example/rss")

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(go())


@pytest.mark.parametrize(
    ("coding", "times", "ok"),
    [("gzip,", "3000", False), ("gzip,", "5", False), ("identity,", "3000", True), ("identity,", "1", True)],
)
def test_content_encoding_codings_are_bounded(hostile_server: HostileServer, coding: str, times: str, ok: bool) -> None:
    url = _headers(hostile_server, Content_Encoding=coding, times=times)
    if ok:
        assert fetch(url).body == FEED_XML
        return
    with pytest.raises(FetchError, match=r"codings listed \(at most 4\)") as caught:
        fetch(url)
    assert type(caught.value) is FetchError and len(str(caught.value)) < 200


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("²", None),
        ("١٢", None),
        ("３０", None),
        ("30", 30),
        (" 30 ", 30),
        ("0" * 30 + "5", 5),
        ("99999999999999999999", MAX_RETRY_AFTER),
        ("9" * 5000, MAX_RETRY_AFTER),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),
        ("Fri, 31 Dec 9999 23:59:59 -2359", MAX_RETRY_AFTER),
        ("Mon, 01 Jan 0001 00:00:00 +2359", 0.0),
        ("Mon, 01 Jan 2001 00:00:00 GMT", 0.0),
        ("Fri, 31 Dec 9999 99:99:99 GMT", None),
        ("1e9", None),
    ],
)
def test_retry_after_is_read_from_ascii_digits_or_a_date_and_clamped(value: str, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


@pytest.mark.parametrize(("value", "expected"), [("²", None), ("99999999999999999999", MAX_RETRY_AFTER)])
def test_retry_after_from_the_wire(hostile_server: HostileServer, value: str, expected: float | None) -> None:
    with pytest.raises(FetchStatusError) as caught:
        fetch(_headers(hostile_server, status="503", Retry_After=value))
    assert caught.value.status == 503 and caught.value.retry_after == expected


def test_reason_phrase_is_cleaned_and_cut(hostile_server: HostileServer) -> None:
    with pytest.raises(FetchStatusError) as caught:
        fetch(_headers(hostile_server, status="500", reason="[/x]\x1b[2J\u202eevil\u200b", times="500"))
    message = str(caught.value)
    assert message.startswith("HTTP 500 [/x] [2Jevil[/x]") and "\x1b" not in message and "\u202e" not in message
    assert len(message) < 200 and message.endswith(f"from {hostile_server.url('/headers')}")


def test_a_16_kb_location_is_a_short_fetch_error(hostile_server: HostileServer) -> None:
    with pytest.raises(FetchError, match=r"redirect Location of 16,000 characters .* \(at most 4,096\)") as caught:
        fetch(_headers(hostile_server, status="302", Location="/a", times="8000"))
    assert len(str(caught.value)) < 200


def test_a_redirect_to_a_port_out_of_range_is_an_invalid_url(hostile_server: HostileServer) -> None:
    with pytest.raises(FetchError, match="invalid URL: Port out of range"):
        fetch(_headers(hostile_server, status="302", Location="http://127.0.0.1:99999999999999999999/"))


@pytest.mark.parametrize(("etag", "kept"), [('"v1"', True), ('"' + "x" * 600 + '"', False)])
def test_only_sane_validators_are_kept(hostile_server: HostileServer, etag: str, kept: bool) -> None:
    result = fetch(_headers(hostile_server, ETag=etag, Last_Modified="Mon, 02 Feb 2026 10:00:00 GMT" + " " * 600 + "x"))
    assert result.etag == (etag if kept else None) and result.last_modified is None


def test_long_header_values_are_cut(hostile_server: HostileServer) -> None:
    result = fetch(_headers(hostile_server, X_Long="a", times="60000"))
    assert result.headers["x-long"] == "a" * 4096


def test_a_resolver_answering_garbage_is_a_fetch_error() -> None:
    with pytest.raises(FetchError, match="cannot resolve news.example"):
        fetch("http://news.example/", resolver=MapResolver({"news.example": ["not-an-address"]}))


@pytest.mark.parametrize(
    "address",
    [
        "fec0::1",
        "feff::1",
        "64:ff9b:1::808:808",
        "64:ff9b:1::7f00:1",
        "64:ff9b:1:7f00:0:100::",
        "64:ff9b::a00:1",
        "2002:c0a8:101::1",
        "2002:a9fe:a9fe::1",
        "2001::1",
        "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
        "::7f00:1",
        "::808:808",
        "::ffff:0:808:808",
        "::ffff:0:7f00:1",
        "::ffff:0.0.0.0",
        "::ffff:100.64.0.1",
        "::ffff:198.18.0.1",
        "::",
        "::0.0.0.2",
        "ff02::1",
        "ff0e::1",
        "2001:db8::1",
        "3fff::1",
        "100::1",
        "5f00::1",
        "4000::1",
        "0.1.2.3",
        "100.127.255.255",
        "198.18.0.1",
        "198.19.255.255",
        "192.0.0.9",
        "192.0.2.1",
        "198.51.100.7",
        "203.0.113.9",
        "192.88.99.1",
        "224.0.0.251",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
    ],
)
def test_more_non_public_ranges_are_refused(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address), allow_private=False) is not None


@pytest.mark.parametrize(
    ("address", "opened"),
    [
        ("fec0::1", True),
        ("64:ff9b:1::808:808", True),
        ("64:ff9b:1::7f00:1", True),
        ("::ffff:100.64.0.1", True),
        ("64:ff9b:1::a9fe:a9fe", False),
        ("64:ff9b:1:7f00:0:100::", False),
        ("2002:a9fe:a9fe::1", False),
        ("::ffff:0:808:808", False),
        ("2001::1", False),
        ("198.18.0.1", False),
        ("2001:db8::1", False),
        ("ff02::1", False),
        ("240.0.0.1", False),
    ],
)
def test_allow_private_opens_only_intranet_ranges(address: str, opened: bool) -> None:
    assert (blocked_reason(ipaddress.ip_address(address), allow_private=True) is None) == opened


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::8.8.8.8",
        "2002:808:808::1",
        "::ffff:8.8.8.8",
        "2a00:1450:4001::1",
        "1.1.1.1",
        "192.31.196.1",
        "100.128.0.1",
        "198.20.0.1",
    ],
)
def test_public_addresses_and_their_translations_are_fetched(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address), allow_private=False) is None


def test_permission_is_per_request_and_the_pools_are_separate(hostile_server: HostileServer) -> None:
    """A keep-alive connection opened for a trusted intranet feed is never reused by a request that is not."""
    resolver = MapResolver({"intranet.test": ["127.0.0.1"]})
    url = hostile_server.url("/feed.xml", host="intranet.test")

    async def go() -> tuple[FetchResult, BlockedAddressError, int]:
        async with Fetcher(settings(allow_private=False), resolver=resolver) as fetcher:
            trusted = await fetcher.fetch(url, allow_private=True)
            connections = hostile_server.connections
            with pytest.raises(BlockedAddressError) as caught:
                await fetcher.fetch(url)
            assert hostile_server.connections == connections
            assert (await fetcher.fetch(url, allow_private=True)).status == 200
            return trusted, caught.value, hostile_server.connections - connections

    trusted, refused, new_connections = asyncio.run(go())
    assert trusted.body == FEED_XML and new_connections == 0  # the second trusted fetch reused its connection
    assert refused.reason == "intranet.test resolves to loopback address 127.0.0.1"
    assert str(refused).endswith(
        "(to fetch it, set allow_private = true on this feed's [[feeds]] entry in config.toml,"
        " or [fetch] allow_private = true for every feed)"
    )


def test_a_permitted_request_follows_its_redirects_to_loopback(hostile_server: HostileServer) -> None:
    async def go(allow: bool) -> FetchResult:
        async with Fetcher(settings(allow_private=False)) as fetcher:
            return await fetcher.fetch(hostile_server.url("/redirect/2"), allow_private=allow)

    assert asyncio.run(go(True)).body == FEED_XML
    with pytest.raises(BlockedAddressError, match=r"blocked: loopback address 127.0.0.1 \(to fetch it, set "):
        asyncio.run(go(False))


def test_the_hint_is_given_only_when_allow_private_would_help() -> None:
    resolver = MapResolver({"meta.test": ["169.254.169.254"]})
    with pytest.raises(BlockedAddressError) as caught:
        fetch("http://meta.test/", resolver=resolver, allow_private=False)
    assert "allow_private" not in str(caught.value)


@_needs_openssl
def test_tls_conditional_gets_share_one_connection(tls_server: tuple[HostileServer, Path, list[str]]) -> None:
    """A kept TLS connection passes the idle check (nothing unread in its socket: TLS 1.3's session tickets came
    before the first answer) and is reused."""
    server, cert, _ = tls_server
    transport = GuardedTransport(
        _AnyNameResolver(),
        allow_private=True,
        limits=httpx.Limits(max_connections=4),
        ssl_context=ssl.create_default_context(cafile=str(cert)),
    )

    async def go() -> None:
        async with Fetcher(settings(), transport=transport) as fetcher:
            for _ in range(4):
                assert (await fetcher.fetch(f"https://news.test:{server.port}/feed.xml", etag='"v1"')).not_modified

    before = server.connections
    asyncio.run(go())
    assert server.connections - before == 1
