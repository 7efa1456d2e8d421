"""Secret redaction: the one helper every log line, error and CLI output of notify passes through.

Input: any text (an apprise URL, an exception message, a log line). Output: the same text with passwords, tokens,
keys, ``user:pass@`` parts, secret query values and token-like path segments of URLs replaced by ``***``.

Redaction errs on hiding too much: a hidden harmless path word costs nothing, a leaked webhook token costs a lot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MASK", "redact", "url_secrets"]

MASK = "***"

# Anything that looks like "scheme://rest" up to whitespace or a quote; apprise URLs included.
_URL = re.compile(r"""\b([a-zA-Z][a-zA-Z0-9+.\-]{0,30})://([^\s'"<>`]+)""")
# key=value / key: value pairs whose key names a secret (outside URLs too: headers, error messages).
_KEY_VALUE = re.compile(
    r"""(?i)\b((?:[a-z0-9_\-]*?)(?:password|passwd|pwd|pass|secret|token|api[_\-]?key|apikey|key|auth|"""
    r"""authorization|bearer|signature|sig|credential|session|webhook)[a-z0-9_\-]*)"""
    r"""(\s*[=:]\s*)(?:(bearer|basic)\s+)?([^\s&,;'"<>]+)"""
)
# Query parameters that are harmless and help a reader tell channels apart.
_SAFE_QUERY_KEYS = frozenset(
    {"mode", "format", "overflow", "retry", "wait", "optional", "cto", "method", "priority", "from", "to",
     "cc", "bcc", "name", "smtp", "port", "secure", "verify", "rto", "lang", "tz"}
)
_HOSTNAME = re.compile(r"^(?:localhost|\[[0-9a-fA-F:.]+\]|(?:[A-Za-z0-9\-]+\.)+[A-Za-z0-9\-]+)(?::\d{1,5})?$")
# A path word we can show: short, letters only (api, hooks, services, webhooks, notify, path).
_SAFE_SEGMENT = re.compile(r"^[A-Za-z][A-Za-z_\-.]{0,15}$")


def redact(text: object, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` (any object, via ``str``) with every secret replaced by ``***``.

    Args:
        text: a URL, message or log line.
        secrets: exact strings known to be secret (see ``url_secrets``), hidden wherever they appear, even
            outside a URL (for instance inside a library's error message).

    Returns:
        The redacted text; text without secrets comes back unchanged.
    """
    result = str(text)
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        result = result.replace(secret, MASK)
    result = _URL.sub(lambda m: _redact_url(m.group(1), m.group(2)), result)
    return _KEY_VALUE.sub(_redact_key_value, result)


def url_secrets(url: str) -> tuple[str, ...]:
    """The parts of ``url`` that ``redact`` hides (user info, token hosts, path tokens, query values).

    Used to scrub a channel's secrets from text that does not contain the URL itself, such as an apprise log line
    or an exception message naming only the token.
    """
    found: list[str] = []
    match = _URL.search(url)
    if match is None:
        return ()
    netloc, path, query, fragment = _split(match.group(2))
    userinfo, _, host = netloc.rpartition("@")
    found.extend(p for p in re.split(r"[:@]", userinfo) if p)
    if host and not _HOSTNAME.match(host):
        found.extend([host, *host.split(":")])
    found.extend(seg for seg in path.split("/") if seg and not _SAFE_SEGMENT.match(seg))
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if value and key.lower() not in _SAFE_QUERY_KEYS:
            found.append(value)
    if fragment:
        found.append(fragment)
    return tuple(found)


def _split(rest: str) -> tuple[str, str, str, str]:
    """Split ``host/path?query#fragment`` (the text after ``scheme://``) without validating it."""
    rest, _, fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    return netloc, slash + path, query, fragment


def _redact_url(scheme: str, rest: str) -> str:
    netloc, path, query, fragment = _split(rest)
    userinfo, at, host = netloc.rpartition("@")
    shown_host = host if (not host or _HOSTNAME.match(host)) else MASK
    out = f"{scheme}://" + (f"{MASK}@" if at and userinfo else at) + shown_host
    out += "/".join(seg if (not seg or _SAFE_SEGMENT.match(seg)) else MASK for seg in path.split("/"))
    if query:
        out += "?" + "&".join(_redact_query_pair(pair) for pair in query.split("&"))
    if fragment:
        out += "#" + MASK
    return out


def _redact_query_pair(pair: str) -> str:
    key, eq, value = pair.partition("=")
    if not eq or not value or key.lower() in _SAFE_QUERY_KEYS:
        return pair
    return f"{key}={MASK}"


def _redact_key_value(match: re.Match[str]) -> str:
    if match.group(4) == MASK:
        return match.group(0)
    scheme = f"{match.group(3)} " if match.group(3) else ""
    return f"{match.group(1)}{match.group(2)}{scheme}{MASK}"
