"""Secret redaction: the one helper every log line, error and CLI output of notify passes through.

Input: any text (an apprise URL, an exception message, a log line). Output: the same text with passwords, tokens,
keys, ``user:pass@`` parts, secret query values and token-like path segments of URLs replaced by ``***``.

Redaction errs on hiding too much: a hidden harmless path word costs nothing, a leaked webhook token costs a lot.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping

__all__ = ["LOG_VALUE_LIMIT", "MASK", "bound_log_record", "redact", "redact_credentials", "shorten", "url_secrets"]

MASK = "***"
#: The most characters of one log value (an argument, or a message without arguments) that reach a log line.
LOG_VALUE_LIMIT = 500

# Attacker text (a feed's error, a redirect's Location) reaches log lines and errors, so redaction is linear in its
# input: each pattern starts only at the start of a run of its characters (lookbehind), never backtracks into it
# (possessive quantifiers, an atomic group), and the exact start of a key or scheme is then found inside that run.
# (The old patterns, a lazy prefix after any ``\b``, took O(n^2): 21 s for a 16 KB "a-a-a-…" line.)

# Anything that looks like "scheme://rest" up to whitespace or a quote; apprise URLs included.
_URL = re.compile(r"""\b([a-zA-Z][a-zA-Z0-9+.\-]{0,30})://([^\s'"<>`]+)""")
# A run of scheme characters right before "://" and one character of the rest (the scheme is the run's tail).
_SCHEME_RUN = re.compile(r"""(?<![a-zA-Z0-9+.\-])[a-zA-Z0-9+.\-]++(?=://[^\s'"<>`])""")
_SCHEME = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]{0,30}+\Z")  # searched for in the run's last 31 characters
_URL_REST = re.compile(r"""[^\s'"<>`]++""")

# key=value / key: value pairs whose key names a secret (outside URLs too: headers, error messages; quoted as in
# JSON or a Python dict, ``"token": "…"``). The key is
# the tail of a run of key characters that holds a secret word ("x-api-key=1", "DB_PASSWORD: 2"), from the run's
# first word boundary. Matched case-insensitively on a folded copy of the text (see _fold): the regex engine's
# case-insensitive alternation costs 40 times more.
# Only whether a run holds a secret word matters, so the words are password, passwd, pwd, pass, secret, token,
# api_key, apikey, key, auth, authorization, bearer, signature, sig, credential, session, webhook reduced to those
# the others contain, and factored by first letter (the engine tries fewer branches at each position).
_SECRET_WORDS = r"p(?:ass|wd)|s(?:ecret|ession|ig)|token|key|auth|bearer|credential|webhook"
_KEY_SEPARATOR = re.compile(
    rf"""(?<![a-z0-9_\-])(?>[a-z0-9_\-]*?(?:{_SECRET_WORDS}))[a-z0-9_\-]*+(['"]?\s*+[=:]\s*+['"]?)"""
    r"""(?:(bearer|basic)\s++)?(?=[^\s&,;'"<>])"""
)
_SECRET_WORD = re.compile(_SECRET_WORDS)
_VALUE = re.compile(r"""[^\s&,;'"<>]++""")
_BOUNDARY = re.compile(r"\b")
# Query parameters that are harmless and help a reader tell channels apart.
_SAFE_QUERY_KEYS = frozenset(
    {
        "mode",
        "format",
        "overflow",
        "retry",
        "wait",
        "optional",
        "cto",
        "method",
        "priority",
        "from",
        "to",
        "cc",
        "bcc",
        "name",
        "smtp",
        "port",
        "secure",
        "verify",
        "rto",
        "lang",
        "tz",
    }
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
    return _redact_key_values(_each_url(result, _redact_url))


def redact_credentials(text: object) -> str:
    """``text`` with the user info of each URL (``user:pass@``) and each secret-named value (``apikey=…``,
    ``token: …``) replaced by ``***``, the rest kept.

    For feed and article URLs, whose paths a reader needs (``redact`` hides every token-like path word too).
    """
    return _redact_key_values(_each_url(str(text), _hide_userinfo))


def shorten(text: str, limit: int = LOG_VALUE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, saying how many were cut: ``abc…(+61440 chars)``."""
    return text if len(text) <= limit else f"{text[:limit]}…(+{len(text) - limit} chars)"


def bound_log_record(record: logging.LogRecord, secrets: Iterable[str] = (), limit: int = LOG_VALUE_LIMIT) -> None:
    """Cut each argument of ``record`` (and a message without arguments) to ``limit`` characters, in place.

    A feed's error, a redirect's ``Location`` or an item's link is attacker text of up to ~64 KB; no log line should
    carry it whole. A value is redacted before it is cut, so a cut never leaves the head of a secret that redaction
    of the whole line would no longer recognise (``secrets``: as for ``redact``).
    """
    secrets = tuple(secrets)
    if isinstance(record.args, Mapping):
        record.args = {key: _bounded(value, secrets, limit) for key, value in record.args.items()}
    elif isinstance(record.args, tuple):
        record.args = tuple(_bounded(value, secrets, limit) for value in record.args)
    if not isinstance(record.msg, str) or len(record.msg) > limit:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: logging reports it itself when it formats the record
            return
        record.msg, record.args = _bounded(message, secrets, limit), None


def _bounded(value: object, secrets: tuple[str, ...], limit: int) -> object:
    """``value`` unchanged if it prints short (numbers keep their type for ``%d``); else its text, redacted and cut."""
    if value is None or isinstance(value, (int, float)):
        return value
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:  # as logging would: the value's own failure is reported when the record is formatted
        return value
    return value if len(text) <= limit else shorten(redact(text, secrets), limit)


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


def _hide_userinfo(scheme: str, rest: str) -> str:
    netloc_end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    at = rest.rfind("@", 0, netloc_end)
    return f"{scheme}://{MASK}{rest[at:]}" if at > 0 else f"{scheme}://{rest}"


def _redact_query_pair(pair: str) -> str:
    key, eq, value = pair.partition("=")
    if not eq or not value or key.lower() in _SAFE_QUERY_KEYS:
        return pair
    return f"{key}={MASK}"


def _each_url(text: str, replace: Callable[[str, str], str]) -> str:
    """``text`` with each ``scheme://rest`` (as ``_URL`` finds them, left to right) replaced by
    ``replace(scheme, rest)``; linear in ``text``."""
    out: list[str] = []
    done = pos = 0
    while (run := _SCHEME_RUN.search(text, pos)) is not None:
        scheme = _SCHEME.search(text, max(run.start(), run.end() - 31), run.end())
        if scheme is None:
            pos = run.end() + 1
            continue
        rest = _URL_REST.match(text, run.end() + 3)
        assert rest is not None  # _SCHEME_RUN looked ahead for one character of it
        out += [text[done : scheme.start()], replace(scheme.group(), rest.group())]
        done = pos = rest.end()
    out.append(text[done:])
    return "".join(out)


def _redact_key_values(text: str) -> str:
    """Hide the value of every ``key=value`` / ``key: value`` whose key holds a secret word; linear in ``text``."""
    folded = _fold(text)
    out: list[str] = []
    done = pos = 0
    while (found := _KEY_SEPARATOR.search(folded, pos)) is not None:
        run_end = found.start(1)
        key_start = _key_start(text, folded, found.start(), run_end)
        if key_start is None:
            pos = run_end  # no secret word after the run's first word boundary: look further on
            continue
        value = _VALUE.match(text, found.end())
        assert value is not None  # the separator pattern looked ahead for one value character
        if value.group() != MASK:
            scheme = f"{text[found.start(2) : found.end(2)]} " if found.group(2) else ""
            out += [text[done : found.end(1)], scheme, MASK]
            done = value.end()
        pos = value.end()
    out.append(text[done:])
    return "".join(out)


def _fold(text: str) -> str:
    """``text`` with every character that case-insensitive ``[a-z]`` matches as its ASCII lower case, and each
    index kept (``str.lower`` alone turns "İ" into two characters and keeps "ı" and "ſ")."""
    if text.isascii():
        return text.lower()
    return text.replace("\u0130", "i").replace("\u0131", "i").replace("\u017f", "s").lower()


def _key_start(text: str, folded: str, start: int, end: int) -> int | None:
    """Where the key of the run ``text[start:end]`` begins: its first word boundary, if a secret word follows
    inside the run; else None."""
    before = text[start - 1] if start else " "
    if folded[start] != "-" and not (before.isalnum() or before == "_"):
        return start  # the common case: the run starts a word, and the pattern found a secret word in it
    boundary = _BOUNDARY.search(text, start, end)
    if boundary is not None and boundary.start() < end and _SECRET_WORD.search(folded, boundary.start(), end):
        return boundary.start()
    return None
