"""The SSRF guard: which addresses a request may reach, checked on the resolved IP at connect time.

Inputs: a host name (or IP literal in any spelling) and port. Outputs: the vetted IP addresses to connect to, or
``AddressBlocked`` with a readable reason. ``GuardedTransport`` is an httpx transport whose network backend
resolves the name itself, vets every address and connects to the vetted IP, so DNS rebinding between the check
and the connection is impossible. The Host header and TLS SNI stay the name (httpcore takes them from the URL).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Protocol

import httpcore
import httpx

__all__ = [
    "AddressBlocked",
    "GuardedTransport",
    "Resolver",
    "SystemResolver",
    "blocked_reason",
    "literal_ip",
    "vet_host",
]

_IP = ipaddress.IPv4Address | ipaddress.IPv6Address

# DESIGN.md "allow_private": these open with allow_private = true; everything else non-global stays closed.
_PRIVATE_NETS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # Linux connects 0.x.x.x to the local host
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_OPENED_BY_ALLOW_PRIVATE = frozenset({"loopback", "private", "shared (CGNAT)"})


class AddressBlocked(Exception):
    """Raised inside the transport; ``fetch`` turns it into ``BlockedAddressError`` with the URL."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Resolver(Protocol):
    """Turns a host name into IP address strings (the SSRF guard vets each one); raises OSError if it cannot."""

    async def resolve(self, host: str, port: int) -> list[str]: ...


class SystemResolver:
    """The operating system's resolver (``getaddrinfo``), run without blocking the event loop."""

    async def resolve(self, host: str, port: int) -> list[str]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


def literal_ip(host: str) -> _IP | None:
    """The IP a host string denotes by itself, in any spelling a C resolver accepts, else None.

    ``inet_aton`` reads ``2130706433``, ``0x7f000001``, ``127.1`` and ``0177.0.0.1`` as 127.0.0.1, as the
    system resolver would: checking them here means no resolver can be talked past them.
    """
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo client, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _category(ip: _IP) -> str | None:
    """What kind of non-public address ``ip`` is, or None when it is public."""
    if ip.is_unspecified or (isinstance(ip, ipaddress.IPv4Address) and ip in _THIS_NETWORK):
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "shared (CGNAT)"
    if any(ip.version == net.version and ip in net for net in _PRIVATE_NETS):
        return "private"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return _category(inner)
    if not ip.is_global or ip.is_reserved:
        return "reserved"
    return None


def blocked_reason(ip: _IP, *, allow_private: bool) -> str | None:
    """Why connecting to ``ip`` is refused under this policy, or None when it is allowed."""
    category = _category(ip)
    if category is None or (allow_private and category in _OPENED_BY_ALLOW_PRIVATE):
        return None
    return f"{category} address {ip}"


async def vet_host(host: str, port: int, resolver: Resolver, *, allow_private: bool) -> list[str]:
    """Resolve ``host`` and return its addresses if every one is allowed; else raise ``AddressBlocked``.

    One bad address refuses the whole name: a name that mixes public and private answers is an attack.
    """
    literal = literal_ip(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = await resolver.resolve(host, port)
        except (OSError, UnicodeError) as e:  # UnicodeError: the IDNA codec refuses over-long labels
            raise httpcore.ConnectError(f"cannot resolve {host}: {e}") from e
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}: no addresses")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        reason = blocked_reason(ip, allow_private=allow_private)
        if reason is not None:
            verb = "is" if literal is not None else "resolves to"
            raise AddressBlocked(f"{host} {verb} {reason}")
    return addresses


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """A network backend that vets the resolved addresses and connects to the vetted IP only."""

    def __init__(self, resolver: Resolver, *, allow_private: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._resolver = resolver
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await vet_host(host, port, self._resolver, allow_private=self._allow_private)
        except TimeoutError as e:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from e
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as e:  # try the next vetted address, as a resolver-using client would
                last = e
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressBlocked("unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """The default verifying TLS context, built once: loading the CA bundle costs ~90 ms per build."""
    return httpx.create_ssl_context(trust_env=False)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport with the guarded network backend underneath; proxies are never used."""

    def __init__(
        self,
        resolver: Resolver,
        *,
        allow_private: bool,
        limits: httpx.Limits,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        ssl_context = ssl_context or _ssl_context()
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        # httpx has no public hook for a network backend; swap the pool it built for one that uses ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(resolver, allow_private=allow_private),
        )
