"""The SSRF guard: which addresses a request may reach, checked on the resolved IP at connect time.

Inputs: a host name (or IP literal in any spelling) and port. Outputs: the vetted IP addresses to connect to, or
``AddressBlocked`` with a readable reason. ``GuardedTransport`` is the fetcher's httpx transport: it resolves the
name itself, vets every address and connects to the vetted IP, so DNS rebinding between the check and the
connection is impossible. The Host header and TLS SNI stay the name (taken from the URL).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
import threading
from typing import Protocol

import httpx

from monitor.fetch.wire import WireTransport

__all__ = [
    "AddressBlocked",
    "GuardedTransport",
    "Resolver",
    "SystemResolver",
    "blocked_reason",
    "literal_ip",
    "literal_refusal",
    "vet_host",
]

_IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def _nets(*pairs: tuple[str, str]) -> tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...]:
    return tuple((ipaddress.ip_network(net), category) for net, category in pairs)


# The address policy, written out rather than taken from ``ipaddress.is_global``, whose answers change between
# Python versions (3.11 calls fec0::/10 and 3fff::/20 global). First match wins; docs/design.md "allow_private".
_IPV4_RANGES = _nets(
    ("0.0.0.0/8", "unspecified"),  # Linux connects 0.x.x.x to the local host
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared (CGNAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),  # IETF protocol assignments
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "reserved"),  # the retired 6to4 relay anycast
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),  # includes the broadcast address 255.255.255.255
)
_IPV6_RANGES = _nets(
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "private"),  # local-use NAT64 (RFC 8215): the operator's own translator
    ("100::/64", "reserved"),  # discard-only
    ("2001::/23", "reserved"),  # IETF protocol assignments (Teredo 2001::/32 is judged before this)
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("fc00::/7", "private"),  # unique local
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),  # deprecated, but routed inside some networks
    ("ff00::/8", "multicast"),
)
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")  # IPv6 outside it (but for the forms above) is unallocated
# IPv6 forms that carry an IPv4 address: judged by that address; a public one is fetched only through the
# translators that real networks use (IPv4-mapped, NAT64 64:ff9b::/96, 6to4), never through the others.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible ::a.b.c.d
_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT IPv4-translated ::ffff:0:a.b.c.d
_OPENED_BY_ALLOW_PRIVATE = frozenset({"loopback", "private", "shared (CGNAT)", "site-local"})


class AddressBlocked(Exception):
    """Raised inside the transport; ``fetch`` turns it into ``BlockedAddressError`` with the URL.

    ``private``: ``allow_private`` would have opened the address (so the error can say how to allow it).
    """

    def __init__(self, reason: str, *, private: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.private = private


class Resolver(Protocol):
    """Turns a host name into IP address strings (the SSRF guard vets each one); raises OSError if it cannot."""

    async def resolve(self, host: str, port: int) -> list[str]: ...


class SystemResolver:
    """The operating system's resolver (``getaddrinfo``), run without blocking the event loop."""

    async def resolve(self, host: str, port: int) -> list[str]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


_LITERAL_CHARS = frozenset("0123456789abcdefxABCDEFX.")  # what an IPv4 literal is written with, in any spelling


def literal_ip(host: str) -> _IP | None:
    """The IP a host string denotes by itself, in any spelling a C resolver accepts, else None.

    ``inet_aton`` reads ``2130706433``, ``0x7f000001``, ``127.1`` and ``0177.0.0.1`` as 127.0.0.1, as the
    system resolver would: checking them here means no resolver can be talked past them.
    """
    host = host.strip("[]")
    if ":" not in host and not _LITERAL_CHARS.issuperset(host):  # a name (IPv6 has colons): spare the parses
        return None
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host:
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


# Where RFC 6052 puts the IPv4 address for each prefix length a local-use NAT64 may use: its bytes, and where
# the suffix (which must be zero) starts. The prefix length is the operator's choice, so every reading that
# fits the address is judged.
_NAT64_LAYOUTS = (((6, 7, 9, 10), 11), ((7, 9, 10, 11), 12), ((9, 10, 11, 12), 13), ((12, 13, 14, 15), 16))


def _local_nat64_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address a local-use NAT64 address (64:ff9b:1::/48) may carry."""
    b = ip.packed
    return [ipaddress.IPv4Address(bytes(b[i] for i in at)) for at, suffix in _NAT64_LAYOUTS if not any(b[suffix:])]


def _embedded(ip: ipaddress.IPv6Address) -> tuple[list[ipaddress.IPv4Address], bool] | None:
    """The IPv4 address(es) ``ip`` carries and whether a public one may be fetched through it; None: no IPv4."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped], True
    if ip in _NAT64:
        return [ipaddress.IPv4Address(ip.packed[12:])], True
    if ip.sixtofour is not None:
        return [ip.sixtofour], True
    if ip in _LOCAL_NAT64:
        return _local_nat64_ipv4(ip), False
    if ip.teredo is not None:
        return [ip.teredo[1]], False
    if ip in _TRANSLATED or (ip in _COMPATIBLE and int(ip) > 1):
        return [ipaddress.IPv4Address(ip.packed[12:])], False
    return None


def _category(ip: _IP) -> str | None:
    """What kind of non-public address ``ip`` is, or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        carried = _embedded(ip)
        if carried is not None:
            inner, public_ok = carried
            kinds = [c for c in map(_category, inner) if c is not None]
            # a reading that even allow_private keeps closed wins over one it opens
            worst = min(kinds, key=lambda c: c in _OPENED_BY_ALLOW_PRIVATE, default=None)
            if worst is not None or public_ok:
                return worst
    ranges = _IPV4_RANGES if isinstance(ip, ipaddress.IPv4Address) else _IPV6_RANGES
    listed = next((category for net, category in ranges if ip in net), None)
    if listed is not None:
        return listed
    if isinstance(ip, ipaddress.IPv6Address) and ip not in _GLOBAL_UNICAST:
        return "reserved"
    return None if ip.is_global else "reserved"


def blocked_reason(ip: _IP, *, allow_private: bool) -> str | None:
    """Why connecting to ``ip`` is refused under this policy, or None when it is allowed."""
    category = _category(ip)
    if category is None or (allow_private and category in _OPENED_BY_ALLOW_PRIVATE):
        return None
    return f"{category} address {ip}"


def literal_refusal(host: str, *, allow_private: bool) -> tuple[str, bool] | None:
    """(why, whether ``allow_private`` opens it) when ``host`` is an IP literal this policy refuses; None for a
    name or an allowed address. Checked before every request: the answers for literals are kept (few hosts)."""
    bare = host.strip("[]")
    return None if ":" not in bare and not _LITERAL_CHARS.issuperset(bare) else _literal_refusal(host, allow_private)


@functools.lru_cache(maxsize=256)
def _literal_refusal(host: str, allow_private: bool) -> tuple[str, bool] | None:
    literal = literal_ip(host)
    if literal is None:
        return None
    why = blocked_reason(literal, allow_private=allow_private)
    return None if why is None else (why, blocked_reason(literal, allow_private=True) is None)


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
            raise httpx.ConnectError(f"cannot resolve {host}: {e}") from e
        if not addresses:
            raise httpx.ConnectError(f"cannot resolve {host}: no addresses")
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address.split("%")[0])
        except ValueError as e:
            raise httpx.ConnectError(f"cannot resolve {host}: not an address in the answer") from e
        reason = blocked_reason(ip, allow_private=allow_private)
        if reason is not None:
            verb = "is" if literal is not None else "resolves to"
            raise AddressBlocked(f"{host} {verb} {reason}", private=blocked_reason(ip, allow_private=True) is None)
    return addresses


class _Trust:
    """The default verifying TLS context, as ``httpx.create_ssl_context(trust_env=False)`` makes it (certifi's CA
    bundle), made once per process; the bundle is read on the first https request (``load``, off the loop), not
    when the fetcher is made: 30-50 ms of CPU that a poll's start-up need not pay before its first request."""

    def __init__(self) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names
        self.loaded = False
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:  # two event loops (or threads) asking at once read the bundle once
            if not self.loaded:
                import certifi  # httpx's own dependency, the bundle it would load

                self.context.load_verify_locations(certifi.where())
                self.loaded = True


@functools.cache
def _trust() -> _Trust:
    return _Trust()


class GuardedTransport(WireTransport):
    """The fetcher's transport (``monitor.fetch.wire``) connecting only to vetted addresses; never via a proxy."""

    def __init__(
        self,
        resolver: Resolver,
        *,
        allow_private: bool,
        limits: httpx.Limits,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._trust = None if ssl_context is not None else _trust()
        super().__init__(limits=limits, ssl_context=ssl_context or _trust().context)
        self._resolver = resolver
        self._allow_private = allow_private

    async def addresses(self, host: str, port: int) -> list[str]:
        return await vet_host(host, port, self._resolver, allow_private=self._allow_private)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._trust is not None and not self._trust.loaded and request.url.scheme == "https":
            await asyncio.to_thread(self._trust.load)  # once per process, before its first TLS handshake
        return await super().handle_async_request(request)
