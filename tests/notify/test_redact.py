"""Secrets in channel URLs never show: redact() on the URL shapes apprise users write."""

from __future__ import annotations

import logging
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.notify import redact, url_secrets
from monitor.notify.redact import _redact_url
from monitor.notify.send import install_log_redaction

CASES = [
    (
        "mailto://alerts:S3cretPass@smtp.example.org:587?from=a@example.org&to=desk@example.org",
        ["S3cretPass", "alerts:"],
        "smtp.example.org:587",
    ),
    (
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general",
        ["T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ"],
        "slack://",
    ),
    (
        "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123456",
        ["AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"],
        "tgram://",
    ),
    ("discord://1234567890/abcdefTOKENxyz_-9876543210", ["abcdefTOKENxyz_-9876543210", "1234567890"], "discord://"),
    (
        "json://127.0.0.1:8080/hooks/xoxb-supersecret-path?token=qwerty123456&mode=x",
        ["xoxb-supersecret-path", "qwerty123456"],
        "127.0.0.1:8080/hooks/",
    ),
    (
        "https://hooks.slack.com/services/T000AAAA/B000BBBB/XXXXXXXXXXXXXXXXXXXXXXXX",
        ["T000AAAA", "B000BBBB", "XXXXXXXXXXXXXXXXXXXXXXXX"],
        "hooks.slack.com/services/",
    ),
    (
        "mmost://mattermost.example.org/8uz1yz4ns3ff7rc9gh3ti3t7jr",
        ["8uz1yz4ns3ff7rc9gh3ti3t7jr"],
        "mattermost.example.org",
    ),
    ("ntfy://user:hunter22@ntfy.example.org/alerts", ["hunter22"], "ntfy.example.org/alerts"),
    ("postgresql+psycopg://monitor:dbpass99@db.internal/monitor", ["dbpass99"], "db.internal/monitor"),
]


@pytest.mark.parametrize(("url", "secrets", "kept"), CASES, ids=[c[0].split(":")[0] for c in CASES])
def test_redact_hides_secrets_and_keeps_the_host(url: str, secrets: list[str], kept: str) -> None:
    shown = redact(url)
    for secret in secrets:
        assert secret not in shown
    assert kept in shown
    assert "***" in shown


@pytest.mark.parametrize(
    "text",
    [
        "login failed: password=hunter22 for user x",
        "Authorization: Bearer abcdef123456",
        "api_key: 9f8e7d6c5b4a",
        'error sending to "discord://1234567890/abcdefTOKENxyz_-9876543210": refused',
    ],
)
def test_redact_hides_key_value_secrets_in_messages(text: str) -> None:
    shown = redact(text)
    for secret in ("hunter22", "abcdef123456", "9f8e7d6c5b4a", "abcdefTOKENxyz"):
        assert secret not in shown


def test_known_secrets_are_hidden_even_outside_a_url() -> None:
    url = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123456"
    message = "bot AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw was rejected"
    assert "AAHdq" not in redact(message, url_secrets(url))


def test_text_without_secrets_is_unchanged() -> None:
    text = "alert sent channel=desk story=3 status=sent to https://news.example.org/article"
    assert redact(text) == text


def test_apprise_log_lines_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction(["Zq9SecretTokenValue"])
    with caplog.at_level(logging.WARNING, logger="apprise"):
        logging.getLogger("apprise").warning("posting to %s failed", "https://x.example.org/Zq9SecretTokenValue")
    assert "Zq9SecretTokenValue" not in caplog.text
    assert "posting to" in caplog.text


# --- redaction is linear (issue 11): attacker text reaches log lines ---------------------------------------------

# The patterns before issue 11, kept as the reference: the linear rewrite must hide exactly what they hid (and
# quoted keys, ``"token": "…"`` as in JSON or a Python dict, which both hide since).
_OLD_URL = re.compile(r"""\b([a-zA-Z][a-zA-Z0-9+.\-]{0,30})://([^\s'"<>`]+)""")
_OLD_KEY_VALUE = re.compile(
    r"""(?i)\b((?:[a-z0-9_\-]*?)(?:password|passwd|pwd|pass|secret|token|api[_\-]?key|apikey|key|auth|"""
    r"""authorization|bearer|signature|sig|credential|session|webhook)[a-z0-9_\-]*)"""
    r"""(['"]?\s*[=:]\s*['"]?)(?:(bearer|basic)\s+)?([^\s&,;'"<>]+)"""
)


def _old_redact(text: str) -> str:
    def key_value(m: re.Match[str]) -> str:
        if m.group(4) == "***":
            return m.group(0)
        return f"{m.group(1)}{m.group(2)}{m.group(3) + ' ' if m.group(3) else ''}***"

    return _OLD_KEY_VALUE.sub(key_value, _OLD_URL.sub(lambda m: _redact_url(m.group(1), m.group(2)), text))


# Pieces that meet at every edge of the patterns: key characters and word boundaries ("-", "é" is a word character,
# "K" (Kelvin), "ſ", "ı", "İ" are what case-insensitive [a-z] also matches), separators, value stops, the bearer
# scheme, the mask, and URL parts (a scheme longer than 31 characters, user info, query, fragment).
_PIECES = [
    "a",
    "-",
    "_",
    "=",
    ":",
    " ",
    "\t",
    "\n",
    "&",
    ",",
    ";",
    "<",
    "'",
    "é",
    "\u212a",
    "\u017f",
    "\u0131",
    "\u0130",
    '"',
    "key",
    "pass",
    "token",
    "Bearer",
    "basic",
    "***",
    "=***",
    "x",
    "1",
    "api_key",
    "AUTH",
    "s",
    "://",
    "http",
    "+",
    ".",
    "/",
    "?",
    "@",
    "#",
    "h.t",
    "A" * 12,
    "`",
    "user:pw@",
]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=16).map("".join))
def test_linear_redaction_hides_exactly_what_the_old_patterns_hid(text: str) -> None:
    assert redact(text) == _old_redact(text)


# Shapes that made the old patterns quadratic (a lazy prefix before a secret word after any word boundary), and
# others that stress each remaining pattern: runs of key characters, separators, schemes, URL parts.
ADVERSARIAL = {
    "a-a-": "a-",
    "keykey": "key",
    "pass=": "pass=",
    "key= ": "key= ",
    "x=": "x=",
    "a=b=": "a=b=",
    "bearer": "token: bearer ",
    "://": "://",
    "a://": "a://",
    "url": "http://x.org/a?b=c&",
    "dots": "a.",
    "word-": "é-",
    "scheme-run": "a" * 40 + "://",
    "path": "/aa",
}


def _seconds(text: str, repeat: int = 3) -> float:
    """CPU seconds of this thread: time the machine gave other processes (the other xdist worker, a build) while
    this one waited for a core is not counted, so a busy machine does not make a linear redaction look quadratic."""
    best = float("inf")
    for _ in range(repeat):
        started = time.thread_time()
        redact(text)
        best = min(best, time.thread_time() - started)
    return best


@pytest.mark.parametrize("unit", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_redaction_time_grows_linearly(unit: str) -> None:
    """4 times the text takes at most about 4 times as long (quadratic would be 16): 16 KB of "a-" took 28 s."""
    small, large = (unit * (size // len(unit)) for size in (16_384, 65_536))
    assert _seconds(large) < 8 * _seconds(small) + 0.02
    assert _seconds(unit * (1_048_576 // len(unit)), repeat=1) < 2.0  # measured 30-250 ms on a loaded 2-core machine


def test_redaction_is_linear_inside_a_long_key_and_a_long_url() -> None:
    key = "a-" * 32_768 + "password=hunter22"
    assert redact(key).endswith("password=***") and "hunter22" not in redact(key)
    url = "https://alice:S3cretPass@" + "a." * 32_768 + "org/x?token=abc123"
    assert "S3cretPass" not in redact(url) and "abc123" not in redact(url)
