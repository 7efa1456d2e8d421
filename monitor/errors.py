"""The exception tree of monitor: one root, one family per stage.

    MonitorError
    ├── ConfigError (ValueError)        config.toml: key, file:line
    ├── StoreError                      database failures (locked, closed, unreachable)
    │   └── FeedExistsError (ValueError)    `feeds add` with a name already taken
    ├── FetchError                      carries the URL
    │   ├── FetchTimeout
    │   ├── BlockedAddressError (ValueError)   SSRF guard, bad scheme
    │   ├── ResponseTooLargeError
    │   ├── TooManyRedirectsError
    │   └── FetchStatusError            HTTP status >= 400 (with Retry-After, if any)
    ├── FeedParseError                  carries the feed URL
    ├── ExtractError                    carries the page URL
    ├── RuleError (ValueError)          carries path, line, column
    │   └── RuleSetError                several RuleErrors, the set is rejected whole
    └── NotifyError                     carries the channel

Every ``str(error)`` is one line. User-caused errors also subclass ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "BlockedAddressError",
    "ConfigError",
    "ExtractError",
    "FeedExistsError",
    "FeedParseError",
    "FetchError",
    "FetchStatusError",
    "FetchTimeout",
    "MonitorError",
    "NotifyError",
    "ResponseTooLargeError",
    "RuleError",
    "RuleSetError",
    "StoreError",
    "TooManyRedirectsError",
    "UnknownRuleError",
]


def _one_line(text: str) -> str:
    return " ".join(text.split())


class MonitorError(Exception):
    """Root of every error monitor raises on purpose."""

    def __str__(self) -> str:
        return _one_line(super().__str__())


class ConfigError(MonitorError, ValueError):
    """config.toml is unreadable or wrong; the message names the key and position."""


class StoreError(MonitorError):
    """The database failed (locked, closed, unreachable, schema mismatch)."""


class FeedExistsError(StoreError, ValueError):
    """A feed with this name is already stored; ``name`` is the name."""

    def __init__(self, message: str, *, name: str = "") -> None:
        super().__init__(message)
        self.name = name


class FetchError(MonitorError):
    """A request failed; ``url`` is the URL that was asked for."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class FetchTimeout(FetchError):
    """Connect, read or total time limit exceeded."""


class BlockedAddressError(FetchError, ValueError):
    """The URL or a redirect hop points at an address or scheme we never fetch."""

    def __init__(self, message: str, *, url: str = "", reason: str = "") -> None:
        super().__init__(message, url=url)
        self.reason = reason


class ResponseTooLargeError(FetchError):
    """The body (after decompression) went past ``fetch.max_bytes``."""


class TooManyRedirectsError(FetchError):
    """More than the allowed redirects, or a redirect loop or downgrade."""


class FetchStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, message: str, *, url: str = "", status: int, retry_after: float | None = None) -> None:
        super().__init__(message, url=url)
        self.status = status
        self.retry_after = retry_after


class FeedParseError(MonitorError):
    """The body is not a feed we can read."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class ExtractError(MonitorError):
    """Text extraction of a page failed or timed out."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class RuleError(MonitorError, ValueError):
    """A rule file is wrong; ``str()`` is ``path:line:column: message``."""

    def __init__(self, message: str, *, path: Path | str | None = None, line: int = 0, column: int = 0) -> None:
        self.message = _one_line(message)
        self.path = Path(path) if path is not None else None
        self.line = line
        self.column = column
        super().__init__(self.message)

    def __str__(self) -> str:
        if self.path is None:
            return self.message
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class RuleSetError(RuleError):
    """Several rule errors; the whole set is rejected. ``errors`` lists them all."""

    def __init__(self, errors: Sequence[RuleError]) -> None:
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.message, path=first.path, line=first.line, column=first.column)

    def __str__(self) -> str:
        more = len(self.errors) - 1
        return RuleError.__str__(self) + (f" (and {more} more errors)" if more else "")


class UnknownRuleError(MonitorError, LookupError):
    """No rule of the rule set has this id (the message suggests a close one)."""


class NotifyError(MonitorError):
    """Sending to a channel failed; ``channel`` names it (never its secret URL)."""

    def __init__(self, message: str, *, channel: str = "") -> None:
        super().__init__(message)
        self.channel = channel
