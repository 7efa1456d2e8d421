"""What every command shares: the settings named by ``--config``, the store, the console, output formats."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from monitor.config import Settings, load_settings
from monitor.store import Store

__all__ = ["Format", "config_path", "console", "err_console", "open_store", "print_jsonl", "settings_from"]

console = Console(highlight=False, soft_wrap=False)
err_console = Console(stderr=True, highlight=False)


class Format(str, Enum):
    """Output formats; JSON is JSON Lines (one object a line)."""

    text = "text"
    json = "json"
    csv = "csv"


def config_path(ctx: typer.Context) -> Path | None:
    """The ``--config`` given to the root command (or ``MONITOR_CONFIG``), if any."""
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    value = obj.get("config")
    return Path(value) if value else None


def settings_from(ctx: typer.Context) -> Settings:
    return load_settings(config_path(ctx))


def open_store(settings: Settings) -> Store:
    return Store.open(settings.database.url)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds") + ("Z" if value.tzinfo is None else "")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def print_jsonl(rows: Iterable[Mapping[str, Any]]) -> None:
    """JSON Lines on stdout, unescaped Unicode, datetimes as ISO 8601 UTC."""
    for row in rows:
        typer.echo(json.dumps(row, ensure_ascii=False, default=_default))
