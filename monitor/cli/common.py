"""What every command shares: the settings named by ``--config``, the store, the console, output formats."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from monitor.config import Settings, load_settings
from monitor.store import MatchRecord, Store

__all__ = [
    "Format",
    "config_path",
    "console",
    "err_console",
    "open_store",
    "print_jsonl",
    "print_matches",
    "settings_from",
]

# emoji=False: feed titles, rule names and errors print as written (`:fire:` is text, not an emoji code)
console = Console(highlight=False, soft_wrap=False, emoji=False)
err_console = Console(stderr=True, highlight=False, emoji=False)


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


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def print_matches(matches: Iterable[MatchRecord]) -> None:
    """One block per article, newest first: title and source, the rules it matched (highest severity first) with
    their delivery state, and the snippet with the matched words in bold."""
    from monitor.notify import render_snippet
    from monitor.rules import SEVERITIES

    by_article: dict[int, list[MatchRecord]] = {}
    for m in matches:
        by_article.setdefault(m.article.id, []).append(m)
    console.print(f"[bold]{sum(map(len, by_article.values()))} matches in {len(by_article)} articles[/]\n")
    for found in by_article.values():
        found.sort(key=lambda m: SEVERITIES.index(m.severity), reverse=True)
        article = found[0].article
        when = (article.published or found[0].matched_at).strftime("%Y-%m-%d %H:%M")
        console.print(f"[bold]{escape(article.title)}[/]")
        console.print(f"  [dim]{escape(article.feed)} · {when} UTC · {escape(article.url)}[/]")
        for m in found:
            sent = ", ".join(f"{d.channel}: {d.status}" for d in m.deliveries)
            style = _SEVERITY_STYLE.get(m.severity, "")
            console.print(f"  {escape(m.rule)} ([{style}]{m.severity}[/])" + (f"  [dim]{escape(sent)}[/]" if sent else ""))
        snippet = escape(render_snippet(found[0].snippet, found[0].hits, "text"))
        console.print("  " + _BOLD.sub(r"[bold yellow]\1[/]", snippet) + "\n")
