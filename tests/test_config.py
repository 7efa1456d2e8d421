"""config.toml -> Settings: defaults, durations, sizes, ${ENV}, relative paths, one-line errors with positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_settings, parse_duration, parse_size
from monitor.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("1h", 3600), ("1d", 86400), ("1h30m", 5400), ("250ms", 0.25), (45, 45)],
    ids=str,
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "size"),
    [("5MB", 5_000_000), ("5MiB", 5_242_880), ("500KB", 500_000), ("1GiB", 2**30), ("1024", 1024), (2048, 2048)],
    ids=str,
)
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


def test_the_shipped_config_loads_without_any_environment(project: Path) -> None:
    settings = load_settings(project / "config.toml", environ={})
    assert len(settings.feeds) >= 8
    assert settings.rules.paths == (project / "rules",)
    assert settings.database.url == f"sqlite:///{project / 'data' / 'monitor.db'}"
    # both example channels read their secret URL from the environment, so they are off here
    assert settings.channels == {} and settings.warnings


def test_the_shipped_config_channels_take_their_secrets_from_the_environment(project: Path) -> None:
    env = {
        "MONITOR_EMAIL_URL": "mailtos://u:secret@smtp.example.org?to=a@example.org",
        "MONITOR_CHAT_URL": "json://chat.example.org/hook",
    }
    settings = load_settings(project / "config.toml", environ=env)
    assert settings.channels["email"].urls == (env["MONITOR_EMAIL_URL"],)
    assert {c for r in settings.routes for c in r.channels} == {"email", "chat"}


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, environ={})
    assert settings.scheduler.poll_interval == 900
    assert settings.fetch.max_bytes == 5_000_000 and settings.fetch.allow_private is False
    assert settings.notify.max_age == 3 * 86400


def test_monitor_config_variable_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[scheduler]\ntick = "5s"\n')
    assert load_settings(None, environ={"MONITOR_CONFIG": str(path)}).scheduler.tick == 5


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[rules]\npaths = ["my-rules"]\n[notify]\ntemplates = "tpl"\n[database]\nurl = "sqlite:///db/m.db"\n'
    )
    settings = load_settings(path, environ={})
    assert settings.rules.paths == (tmp_path / "my-rules",)
    assert settings.notify.templates == tmp_path / "tpl"
    assert settings.database.url == f"sqlite:///{tmp_path}/db/m.db"


def test_env_expansion_in_any_string(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[database]\nurl = "postgresql+psycopg://u:${PGPASS}@db/x"\n'
        '[fetch]\nuser_agent = "bot $${HOME} ${WHO:-desk}"\n',
    )
    settings = load_settings(path, environ={"PGPASS": "pw"})
    assert settings.database.url == "postgresql+psycopg://u:pw@db/x"
    assert settings.fetch.user_agent == "bot ${HOME} desk"


ERRORS = [
    (
        "unknown-key",
        '[fetch]\ntimeout = "20s"\ntimout = "3s"\n',
        r"config.toml:3: fetch.timout: unknown key 'timout' \(did you mean 'timeout'\?\)",
    ),
    (
        "unknown-section",
        '[fech]\ntimeout = "1s"\n',
        r"config.toml:1: fech: unknown key 'fech' \(did you mean 'fetch'\?\)",
    ),
    (
        "bad-duration",
        '[[feeds]]\nurl = "https://a.example/f"\n[[feeds]]\nurl = "https://b.example/f"\ninterval = "ten minutes"\n',
        r"config.toml:5: feeds\[1\].interval: invalid duration 'ten minutes'",
    ),
    (
        "missing-env",
        '[channels.chat]\nurls = ["json://${HOOK}"]\n',
        r"config.toml:2: channels.chat.urls\[0\]: environment variable \$\{HOOK\} is not set",
    ),
    ("bad-toml", "[fetch\ntimeout = 1\n", r"config.toml:1:\d+: invalid TOML"),
    (
        "bad-url",
        '[[feeds]]\nurl = "ftp://a.example/f"\n',
        r"config.toml:2: feeds\[0\].url: 'ftp://a.example/f' is not a feed URL: use http",
    ),
    (
        "unknown-channel",
        '[channels.a]\nurls = ["json://x"]\n[[routes]]\nchannels = ["b"]\n',
        r"routes\[0\].channels: unknown channel 'b'",
    ),
    (
        "digest-without-cron",
        '[channels.a]\nurls = ["json://x"]\n[[routes]]\nchannels = ["a"]\nmode = "digest"\n',
        r"config.toml:3: routes\[0\]: .*needs digest",
    ),
    (
        "bad-cron",
        '[channels.a]\nurls = ["json://x"]\n[[routes]]\nchannels = ["a"]\nmode = "digest"\ndigest = "every day"\n',
        r"invalid cron expression",
    ),
    (
        "bad-severity",
        '[channels.a]\nurls = ["json://x"]\n[[routes]]\nchannels = ["a"]\nseverity = "urgent"\n',
        r"config.toml:5: routes\[0\].severity",
    ),
    ("bad-zone", '[scheduler]\ntimezone = "Mars/Olympus"\n', r"config.toml:2: scheduler.timezone: unknown time zone"),
    ("short-lease", '[scheduler]\nclaim_lease = "1s"\n', r"config.toml:2: scheduler.claim_lease: .*2"),
    (
        "duplicate-feed",
        '[[feeds]]\nurl = "https://a.example/f"\n[[feeds]]\nurl = "https://a.example/g"\n',
        r"duplicate feed name 'a.example'",
    ),
]


@pytest.mark.parametrize(("text", "pattern"), [(t, p) for _, t, p in ERRORS], ids=[i for i, _, _ in ERRORS])
def test_errors_are_one_line_with_file_line_and_key(tmp_path: Path, text: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern) as caught:
        load_settings(write(tmp_path, text), environ={})
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_an_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml", environ={})
