"""Secrets in channel URLs never show: redact() on the URL shapes apprise users write."""

from __future__ import annotations

import logging

import pytest

from monitor.notify import redact, url_secrets
from monitor.notify.send import install_log_redaction

CASES = [
    ("mailto://alerts:S3cretPass@smtp.example.org:587?from=a@example.org&to=desk@example.org",
     ["S3cretPass", "alerts:"], "smtp.example.org:587"),
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general",
     ["T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ"], "slack://"),
    ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123456", ["AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"],
     "tgram://"),
    ("discord://1234567890/abcdefTOKENxyz_-9876543210", ["abcdefTOKENxyz_-9876543210", "1234567890"],
     "discord://"),
    ("json://127.0.0.1:8080/hooks/xoxb-supersecret-path?token=qwerty123456&mode=x",
     ["xoxb-supersecret-path", "qwerty123456"], "127.0.0.1:8080/hooks/"),
    ("https://hooks.slack.com/services/T000AAAA/B000BBBB/XXXXXXXXXXXXXXXXXXXXXXXX",
     ["T000AAAA", "B000BBBB", "XXXXXXXXXXXXXXXXXXXXXXXX"], "hooks.slack.com/services/"),
    ("mmost://mattermost.example.org/8uz1yz4ns3ff7rc9gh3ti3t7jr", ["8uz1yz4ns3ff7rc9gh3ti3t7jr"],
     "mattermost.example.org"),
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


@pytest.mark.parametrize("text", [
    "login failed: password=hunter22 for user x",
    "Authorization: Bearer abcdef123456",
    "api_key: 9f8e7d6c5b4a",
    'error sending to "discord://1234567890/abcdefTOKENxyz_-9876543210": refused',
])
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
