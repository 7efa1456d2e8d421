"""Fetching: a URL (+ ETag/Last-Modified) -> FetchResult, politely, within limits and behind the SSRF guard.

``client`` holds the Fetcher, ``guard`` the address policy and the guarded transport, ``decode`` the bounded
Content-Encoding decoders, ``bounds`` the limits on what a server sends (header values, Retry-After). Errors are
``monitor.errors.FetchError`` subclasses; see docs/fetching.md.
"""

from monitor.fetch.bounds import MAX_RETRY_AFTER, parse_retry_after
from monitor.fetch.client import Fetcher, FetchResult
from monitor.fetch.guard import Resolver, SystemResolver, blocked_reason

__all__ = [
    "FetchResult",
    "Fetcher",
    "MAX_RETRY_AFTER",
    "Resolver",
    "SystemResolver",
    "blocked_reason",
    "parse_retry_after",
]
