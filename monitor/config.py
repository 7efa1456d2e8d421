"""config.toml -> frozen, typed Settings.

Inputs: a TOML file (``--config``, ``MONITOR_CONFIG`` or ``./config.toml``). Output: ``Settings``.
Durations ("30s", "15m", "1h", "1d") become float seconds, sizes ("5MB", "5MiB") int bytes, relative paths
become absolute against the config file's folder, and ``${ENV}`` in any string is expanded. Every problem is
one ``ConfigError`` line naming the file, line and dotted key. No other module reads the file or ``os.environ``.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from monitor.errors import ConfigError
from monitor.severity import SEVERITIES, Severity
from monitor.tomlpos import key_lines, line_of, toml_error_position

__all__ = [
    "ChannelSettings",
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_DATABASE_URL",
    "DEFAULT_USER_AGENT",
    "DatabaseSettings",
    "Duration",
    "FeedSettings",
    "FetchSettings",
    "MIN_KEEP_ARTICLES",
    "NotifySettings",
    "RouteSettings",
    "RulesSettings",
    "SEVERITIES",
    "SchedulerSettings",
    "Settings",
    "Size",
    "StoreSettings",
    "WebSettings",
    "load_settings",
    "parse_duration",
    "parse_size",
]

DEFAULT_CONFIG_PATH = Path("config.toml")
DEFAULT_DATABASE_URL = "sqlite:///data/monitor.db"
DEFAULT_USER_AGENT = "monitor/0.2 (media-monitoring alert pipeline; +https://example.org/monitor)"

_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_SIZE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?", re.IGNORECASE)
_ENV = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def parse_duration(value: object) -> float:
    """``"1h30m"`` -> 5400.0; a bare number is seconds. Raises ValueError on anything else."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '30s', '15m', '1h' or '1d'")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:  # TOML reads inf and nan: they fail date arithmetic later
            raise ValueError(f"invalid duration {value!r}: use a number of seconds >= 0, or e.g. '30s', '15m'")
        return float(value)
    text = str(value).strip().lower().replace(" ", "")
    if not text or _DURATION_PART.sub("", text):
        raise ValueError(f"invalid duration {value!r}: use e.g. '30s', '15m', '1h' or '1d'")
    return sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(text))


def parse_size(value: object) -> int:
    """``"5MB"`` -> 5_000_000, ``"5MiB"`` -> 5_242_880; a bare number is bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE.fullmatch(str(value).strip())
    if not match:
        raise ValueError(f"invalid size {value!r}: use e.g. '500KB', '5MB' or '5MiB'")
    return int(float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()])


Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    url: str = DEFAULT_DATABASE_URL


#: The shortest ``[store] keep_articles``: an article younger than a day may still gain copies that match.
MIN_KEEP_ARTICLES = 86400.0


class StoreSettings(_Section):
    """What the store keeps. ``keep_articles`` unset: every article, forever (``monitor.retention``)."""

    keep_articles: Duration | None = None

    @field_validator("keep_articles")
    @classmethod
    def _at_least_a_day(cls, value: float | None) -> float | None:
        if value is not None and value < MIN_KEEP_ARTICLES:
            raise ValueError(f"keep_articles must be at least '1d' (got {value:g} s), or unset to keep every article")
        return value


class SchedulerSettings(_Section):
    poll_interval: Duration = 900.0
    tick: Duration = 30.0
    feed_timeout: Duration = Field(default=300.0, gt=0)  # one feed's poll is cancelled (a failure) past this
    # PostgreSQL: how long a worker's claim on a feed lasts unless renewed (every third of it while the poll runs);
    # a worker that dies frees its feeds this long after its last renewal (docs/design.md, Scale)
    claim_lease: Duration = Field(default=60.0, ge=2.0)
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class FetchSettings(_Section):
    timeout: Duration = 20.0
    connect_timeout: Duration = 10.0
    max_bytes: Size = 5_000_000
    concurrency: int = Field(default=16, ge=1)
    per_host: int = Field(default=2, ge=1)
    per_host_delay: Duration = 0.0
    user_agent: str = DEFAULT_USER_AGENT
    allow_private: bool = False
    full_text: bool = True
    max_redirects: int = Field(default=5, ge=0, le=20)
    allow_https_downgrade: bool = False
    max_backoff: Duration = 6 * 3600.0
    extract_timeout: Duration = 30.0
    extract_processes: int | None = Field(default=None, ge=1)


class RulesSettings(_Section):
    paths: tuple[Path, ...] = (Path("rules"),)


class FeedSettings(_Section):
    url: str
    name: str = ""
    tags: tuple[str, ...] = ()
    interval: Duration | None = None
    full_text: bool | None = None
    enabled: bool = True
    allow_private: bool = False  # this feed's URL and its redirects may reach loopback / private addresses
    allow_private_links: bool = False  # so may the pages its items link to (never implied by allow_private)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"(?i)https?://[^/\s]+", value):
            shown = value if len(value) <= 100 else value[:99] + "…"  # a pasted page is not repeated whole
            raise ValueError(f"{shown!r} is not a feed URL: use http(s)://…, e.g. https://example.org/feed.xml")
        return value

    @model_validator(mode="after")
    def _default_name(self) -> FeedSettings:
        if not self.name:
            host = re.sub(r"(?i)^https?://(www\.)?", "", self.url).split("/")[0]
            object.__setattr__(self, "name", host)
        return self


class ChannelSettings(_Section):
    """A channel's apprise URLs (empty ones, e.g. from an unset ``${VAR:-}``, are dropped) and its format."""

    urls: tuple[str, ...] = ()
    format: Literal["text", "markdown", "html"] = "text"

    @field_validator("urls")
    @classmethod
    def _drop_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(url.strip() for url in value if url.strip())


class RouteSettings(_Section):
    channels: tuple[str, ...] = Field(min_length=1)
    severity: Severity | None = None
    tags: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    mode: Literal["immediate", "digest"] = "immediate"
    digest: str | None = None

    @model_validator(mode="after")
    def _digest_schedule(self) -> RouteSettings:
        if self.mode == "digest" and not self.digest:
            raise ValueError("a route with mode = 'digest' needs digest = '<cron>', e.g. '0 8 * * *'")
        if self.digest:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(self.digest)
            except ValueError as e:
                raise ValueError(f"invalid cron expression {self.digest!r}: {e}") from None
        return self


class NotifySettings(_Section):
    max_age: Duration = 3 * 86400.0
    max_per_hour: int = Field(default=20, ge=1)
    templates: Path | None = None
    timeout: Duration = 30.0
    digest_max_items: int = Field(default=200, ge=1)
    # How long a worker's claim on deliveries lasts; renewed just before each send, so it only has to outlast one
    # send (at least ``timeout`` + 5 s is used). A dead worker's deliveries are sent by another after this.
    lease: Duration = Field(default=60.0, gt=0)


class WebSettings(_Section):
    """The web app (``monitor serve``; inside ``monitor run`` when ``enabled``). Without a token it is read-only."""

    enabled: bool = False
    host: str = "127.0.0.1"  # loopback by default: expose it on purpose, behind a token
    port: int = Field(default=8080, ge=0, le=65535)
    token: str = ""  # e.g. "${MONITOR_WEB_TOKEN}"; every page, API call, Atom feed and /metrics then needs it


class Settings(_Section):
    """The whole configuration. ``path`` is the file it came from (None: built-in defaults)."""

    path: Path | None = None
    warnings: tuple[str, ...] = ()
    database: DatabaseSettings = DatabaseSettings()
    store: StoreSettings = StoreSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    fetch: FetchSettings = FetchSettings()
    rules: RulesSettings = RulesSettings()
    feeds: tuple[FeedSettings, ...] = ()
    channels: dict[str, ChannelSettings] = {}
    routes: tuple[RouteSettings, ...] = ()
    notify: NotifySettings = NotifySettings()
    web: WebSettings = WebSettings()

    @model_validator(mode="after")
    def _references(self) -> Settings:
        names = [feed.name for feed in self.feeds]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ValueError(f"feeds[{index}].name: duplicate feed name {name!r}")
        for index, route in enumerate(self.routes):
            for channel in route.channels:
                if channel not in self.channels:
                    raise ValueError(
                        f"routes[{index}].channels: unknown channel {channel!r}{_suggest(channel, self.channels)}"
                    )
        return self

    @model_validator(mode="after")
    def _switch_off_empty_channels(self) -> Settings:
        """A channel with no URL (its ``${VAR:-}`` unset) is off: routes skip it, and a warning says so."""
        off = sorted(name for name, channel in self.channels.items() if not channel.urls)
        if not off:
            return self
        channels = {n: c for n, c in self.channels.items() if c.urls}
        routes = tuple(
            r.model_copy(update={"channels": tuple(c for c in r.channels if c in channels)})
            for r in self.routes
            if any(c in channels for c in r.channels)
        )
        notes = tuple(f"channel {name!r} has no URL and is off (set its environment variable)" for name in off)
        for key, value in (("channels", channels), ("routes", routes), ("warnings", self.warnings + notes)):
            object.__setattr__(self, key, value)
        return self


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the configuration.

    Args:
        path: the config file; ``None`` means ``$MONITOR_CONFIG``, else ``./config.toml`` (built-in defaults when
            that default file does not exist).
        environ: the variables for ``${ENV}`` expansion (default ``os.environ``).

    Raises:
        ConfigError: one line, ``file:line: key: problem``.
    """
    env = os.environ if environ is None else environ
    explicit = path is not None or bool(env.get("MONITOR_CONFIG"))
    path = Path(path or env.get("MONITOR_CONFIG") or DEFAULT_CONFIG_PATH)
    if not path.exists():
        if explicit:
            raise ConfigError(f"{path}: config file not found")
        return _resolve_paths(Settings(), Path.cwd())
    try:
        source = path.read_text(encoding="utf-8")
        raw = tomllib.loads(source)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}:{toml_error_position(e)}: invalid TOML: {str(e).split(' (at ')[0]}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config file: {e}") from e
    lines = key_lines(source)
    data = _expand_env(raw, env, path, lines, ())
    try:
        settings = Settings.model_validate({**data, "path": path.resolve()})
    except ValidationError as e:
        raise ConfigError(_describe(e, path, lines)) from e
    except ValueError as e:  # raised by our own validators outside pydantic's wrapping
        raise ConfigError(f"{path}: {e}") from e
    return _resolve_paths(settings, path.resolve().parent)


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    """Relative paths (rules, templates, the SQLite file) are relative to the config file's folder."""
    url = settings.database.url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and ":memory:" not in url:
        url = "sqlite:///" + str(base / url.removeprefix("sqlite:///"))
    templates = settings.notify.templates
    return settings.model_copy(
        update={
            "database": settings.database.model_copy(update={"url": url}),
            "rules": RulesSettings(paths=tuple(base / p for p in settings.rules.paths)),
            "notify": settings.notify.model_copy(update={"templates": base / templates if templates else None}),
        }
    )


def _expand_env(value: Any, env: Mapping[str, str], path: Path, lines: dict[str, int], key: tuple[Any, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _expand_env(v, env, path, lines, (*key, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, env, path, lines, (*key, i)) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name not in env and default is not None:
            return default
        if name not in env:
            dotted = _dotted(key)
            raise ConfigError(f"{path}:{line_of(dotted, lines)}: {dotted}: environment variable ${{{name}}} is not set")
        return env[name]

    return _ENV.sub(substitute, value)


def _describe(error: ValidationError, path: Path, lines: dict[str, int]) -> str:
    first = error.errors()[0]
    loc = tuple(first["loc"])
    dotted = _dotted(loc)
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        parent = _model_fields_at(loc[:-1])
        message = f"unknown key {loc[-1]!r}{_suggest(str(loc[-1]), parent)}"
    elif first["type"] == "missing":
        message = "required key is missing"
    where = dotted or message.split(":")[0]
    if not dotted and ": " in message:
        where, message = message.split(": ", 1)
    return f"{path}:{line_of(where, lines)}: {where}: {message}" if where else f"{path}: {message}"


def _model_fields_at(loc: tuple[Any, ...]) -> list[str]:
    model: Any = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return []
    return list(model.model_fields)


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
