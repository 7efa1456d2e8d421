"""Fetching: a URL (+ ETag/Last-Modified) -> FetchResult, politely, within limits and behind the SSRF guard.

``client`` holds the Fetcher, ``guard`` the address policy and the guarded transport, ``decode`` the bounded
Content-Encoding decoders. Errors are ``monitor.errors.FetchError`` subclasses; see docs/fetching.md.
"""

from monitor.fetch.client import MAX_RETRY_AFTER, FetchResult, Fetcher, parse_retry_after
from monitor.fetch.guard import Resolver, SystemResolver, blocked_reason

__all__ = [
    "MAX_RETRY_AFTER", "FetchResult", "Fetcher", "Resolver", "SystemResolver", "blocked_reason", "parse_retry_after"
]
