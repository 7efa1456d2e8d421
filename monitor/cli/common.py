"""What every command shares: the settings named by ``--config``, the store, the console, output formats.

Values from data (feed names and errors, titles, URLs, snippets, rule text) are attacker text: they are printed as
rich ``Text`` (never parsed as markup), with terminal control sequences removed (``clean``), and URLs with their
credentials hidden (``link``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.text import Text

from monitor import clock
from monitor.api import Monitor
from monitor.clock import iso_utc, minute
from monitor.config import DatabaseSettings, Settings, load_settings
from monitor.notify.redact import redact_credentials
from monitor.store import MatchRecord, Store

__all__ = [
    "Format",
    "TextOrJson",
    "clean",
    "config_path",
    "console",
    "err_console",
    "link",
    "local_time",
    "minute",
    "monitor_from",
    "open_store",
    "plain",
    "plural",
    "print_error",
    "print_jsonl",
    "print_matches",
    "settings_from",
    "show_times_in",
]

# emoji=False: feed titles, rule names and errors print as written (`:fire:` is text, not an emoji code)
console = Console(highlight=False, soft_wrap=False, emoji=False)
err_console = Console(stderr=True, highlight=False, emoji=False)


# What a terminal would act on instead of print: escape sequences (CSI colours and cursor moves, OSC titles and
# OSC 8 hyperlinks with their payload, DCS/APC strings), their 8-bit forms, other C0/C1 control characters (BEL,
# backspace, carriage return) and the bidi overrides that reorder what is shown.
# A control string's payload and its terminator (BEL or ST); it stops at any introducer, so scanning stays linear.
_STRING = r"[^\x07\x1b\x9c\x90\x98\x9d\x9e\x9f]*+(?:\x07|\x1b\\|\x9c)"
_CONTROL = re.compile(
    rf"(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f]){_STRING}"
    r"|(?:\x1b\[|\x9b)[0-?]*+[ -/]*+[@-~]?"
    r"|\x1b[ -/]*+[0-~]?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)
_CONTROL_CHAR = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# Lone surrogates (a JSON document may spell them, "\ud800") cannot be encoded: printing one raised.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"\r\n|[\n\u2028\u2029\x85]")


def clean(value: object, *, lines: bool = False) -> str:
    """``value`` as text a terminal shows as written: control sequences and characters removed; each line break a
    space (so a value cannot forge a line of output), or kept with ``lines``; tabs kept."""
    text = str(value)
    if not lines:
        text = _LINE_BREAKS.sub(" ", text)
    if not _CONTROL_CHAR.search(text):  # one fast scan for the usual text
        return text
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))


def plain(value: object, style: str = "", *, lines: bool = False) -> Text:
    """``value`` cleaned, as rich ``Text``: printed literally, ``[/x]`` and ``[link=…]`` included."""
    return Text(clean(value, lines=lines), style=style)


def local_time(value: datetime, *, seconds: bool = False) -> str:
    """``clock.local_time`` in the configured ``[scheduler] timezone`` (set by ``settings_from``)."""
    return clock.local_time(value, _zone[0], seconds=seconds)


_zone: list[ZoneInfo] = [ZoneInfo("UTC")]


def link(url: object) -> str:
    """A URL (or text holding URLs) to show: credentials (``user:pass@``, ``apikey=…``) hidden, cleaned."""
    return clean(redact_credentials(url))


class Format(StrEnum):
    """Output formats of tables; JSON is JSON Lines (one object a line)."""

    text = "text"
    json = "json"
    csv = "csv"


class TextOrJson(StrEnum):
    """Output formats of commands whose rows nest (matches with hits, explanations, extracted articles)."""

    text = "text"
    json = "json"


def plural(count: int, one: str, many: str = "") -> str:
    """``1 match``, ``2 matches``: the count with the word it takes."""
    return f"{count} {one if count == 1 else many or one + 's'}"


def print_error(message: object, *, one_line: bool = False) -> None:
    """The one way an error reaches the user: ``monitor: error: …`` on stderr, with channel secrets and credentials
    hidden and control characters removed; ``one_line`` also folds line breaks and runs of spaces."""
    from monitor.notify import redact

    text = clean(redact(str(message)))
    typer.echo(f"monitor: error: {' '.join(text.split()) if one_line else text}", err=True)


def config_path(ctx: typer.Context) -> Path | None:
    """The ``--config`` given to the root command (or ``MONITOR_CONFIG``), if any."""
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    value = obj.get("config")
    return Path(value) if value else None


def settings_from(ctx: typer.Context) -> Settings:
    """The settings of ``--config``, with ``--database`` (or ``MONITOR_DATABASE_URL``) as the database when given;
    their ``[scheduler] timezone`` becomes the zone times are shown in."""
    settings = load_settings(config_path(ctx))
    root = ctx.find_root()
    url = root.obj.get("database") if isinstance(root.obj, dict) else None
    if url:
        settings = settings.model_copy(update={"database": DatabaseSettings(url=url)})
    show_times_in(settings)
    return settings


def show_times_in(settings: Settings) -> None:
    """Show every human-facing time from now on in ``settings.scheduler.timezone`` (``local_time``)."""
    _zone[0] = ZoneInfo(settings.scheduler.timezone)


def open_store(settings: Settings) -> Store:
    return Store.open(settings.database.url)


def monitor_from(ctx: typer.Context) -> Monitor:
    """The ``Monitor`` of the ``--config`` given (store opened, rules loaded): close it, or use ``with``."""
    return Monitor(settings_from(ctx))


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


# json.dumps escapes C0 controls; these it would write raw (ensure_ascii=False), and a terminal may act on them
# (or, lone surrogates, no encoder takes them).
_JSON_RAW_CONTROLS = re.compile(r"[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def print_jsonl(rows: Iterable[Mapping[str, Any]]) -> None:
    """JSON Lines on stdout, unescaped Unicode (control characters escaped), datetimes as ISO 8601 UTC."""
    for row in rows:
        line = json.dumps(row, ensure_ascii=False, default=_default)
        typer.echo(_JSON_RAW_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", line))


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def print_matches(matches: Iterable[MatchRecord], titles: Mapping[str, str] | None = None) -> None:
    """One block per article, in the order given (newest first from the store): title and source, the rules it
    matched (highest severity first; by title when ``titles`` maps rule ids to titles) with their delivery state, and
    the snippet with the matched words in bold."""
    from monitor.notify import render_snippet
    from monitor.rules import SEVERITIES

    by_article: dict[int, list[MatchRecord]] = {}
    for m in matches:
        by_article.setdefault(m.article.id, []).append(m)
    count, articles = sum(map(len, by_article.values())), len(by_article)
    console.print(Text(f"{plural(count, 'match', 'matches')} in {plural(articles, 'article')}\n", "bold"))
    for found in by_article.values():
        found.sort(key=lambda m: SEVERITIES.index(m.severity), reverse=True)
        article = found[0].article
        when = local_time(article.published or found[0].matched_at)
        console.print(plain(article.title, "bold"))
        console.print(Text("  ").append(f"{clean(article.feed)} · {when} · {link(article.url)}", "dim"))
        for m in found:
            severity = (clean(m.severity), _SEVERITY_STYLE.get(m.severity, ""))
            title = (titles or {}).get(m.rule)
            line = (
                Text.assemble("  ", clean(title), " (", clean(m.rule), ", ", severity, ")")
                if title
                else Text.assemble("  ", clean(m.rule), " (", severity, ")")
            )
            sent = ", ".join(f"{d.channel}: {d.status}" for d in m.deliveries)
            console.print(line.append(f"  {clean(sent)}", "dim") if sent else line)
        # the ** marks around matched words become bold; the text between them stays text
        parts = _BOLD.split(clean(render_snippet(found[0].snippet, found[0].hits, "text")))
        console.print(
            Text("  ")
            .append_tokens((part, "bold yellow" if i % 2 else "") for i, part in enumerate(parts))
            .append("\n")
        )
