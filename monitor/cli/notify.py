"""``monitor notify test CHANNEL`` and ``monitor deliveries``: try a channel, and see the outbox.

Every URL and error printed here passes through ``monitor.notify.redact`` (article URLs through
``redact_credentials``): channel secrets and feed credentials never reach the terminal.
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from enum import StrEnum
from typing import Any

import typer
from rich.text import Text

from monitor.cli.common import (
    TextOrJson,
    clean,
    console,
    err_console,
    link,
    local_time,
    open_store,
    plain,
    print_jsonl,
    settings_from,
)
from monitor.config import Settings
from monitor.notify import Notifier, redact
from monitor.notify.redact import redact_credentials
from monitor.store import DeliveryRecord

__all__ = ["deliveries", "naming_variables", "notify_app", "send_test"]

notify_app = typer.Typer(no_args_is_help=True, help="Try alert channels.")


class _Status(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"
    suppressed = "suppressed"


@notify_app.command("test")
def send_test(
    ctx: typer.Context,
    channel: str = typer.Argument(..., help="A [channels.NAME] of config.toml."),
    format: TextOrJson = typer.Option(TextOrJson.text, "--format", "-f"),
) -> None:
    """Send a test alert to every URL of CHANNEL and say, per URL, whether it was delivered. Exit 1 if any failed."""
    settings = naming_variables(settings_from(ctx))
    for warning in settings.warnings:
        if not warning.startswith(f"channel {channel!r}"):  # the channel tested says its own in the error
            err_console.print(plain(f"monitor: warning: {warning}"))
    store = open_store(settings)
    try:
        results = Notifier(settings, store).test_channel(channel)
    finally:
        store.close()
    if format is TextOrJson.json:
        print_jsonl(
            {"channel": channel, "url": redact(r.url), "ok": r.ok, "error": redact(r.error) if r.error else None}
            for r in results
        )
    else:
        for r in results:
            verdict = ("delivered", "green") if r.ok else ("failed", "red")
            detail = f": {redact(r.error or '')}" if not r.ok else ""
            console.print(Text.assemble(verdict, " ", clean(f"{redact(r.url)}{detail}")))
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def deliveries(
    ctx: typer.Context,
    status: _Status = typer.Option(None, "--status", help="Only deliveries in this state."),
    channel: str = typer.Option(None, "--channel", help="Only this channel."),
    limit: int = typer.Option(100, "--limit", min=0, help="At most this many, newest first (0: all)."),
    format: TextOrJson = typer.Option(TextOrJson.text, "--format", "-f"),
) -> None:
    """The alert outbox, newest first: channel, status, attempts and last error. Exit 1 when there are none."""
    store = open_store(settings_from(ctx))
    try:
        found = store.list_deliveries(status=status.value if status else None, channel=channel, limit=limit or None)
    finally:
        store.close()
    if format is TextOrJson.json:
        print_jsonl(_shown(d) for d in found)
    else:
        _print_text(found)
    if not found:
        raise typer.Exit(1)


def _shown(d: DeliveryRecord) -> dict[str, Any]:
    """``d.as_json()`` with its error redacted and the credentials of its article URL hidden."""
    row = d.as_json()
    article = {**row["article"], "url": redact_credentials(d.article_url)}
    return {**row, "last_error": redact(d.last_error) if d.last_error else None, "article": article}


def _print_text(found: list[DeliveryRecord]) -> None:
    """One block per delivery: a summary line, the article, the last error (plain lines read well at any width)."""
    for d in found:
        when = d.sent_at if d.status in ("sent", "suppressed") else d.next_attempt_at
        label = "sent" if d.status in ("sent", "suppressed") else "next"
        typer.echo(
            clean(
                f"#{d.id} {d.channel} {d.mode} {d.status} attempts={d.attempts} rule={d.rule_id} "
                f"story={d.story_id} {label}={_when(when, seconds=label == 'next')}"
            )
        )
        typer.echo(f"    {clean(d.article_title or '(article gone)')} {link(d.article_url or '')}".rstrip())
        if d.last_error:
            typer.echo(f"    last error: {clean(redact(d.last_error))}")
    typer.echo(f"{len(found)} deliveries")


def _when(value: datetime | None, *, seconds: bool) -> str:
    return local_time(value, seconds=seconds).replace(" ", "T", 1).replace(" ", "") if value else "-"


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
_UNNAMED = "(set its environment variable)"


def naming_variables(settings: Settings) -> Settings:
    """``settings`` whose "channel has no URL and is off" warnings name the variables to set, as the config file's
    ``[channels.NAME] urls`` spell them (``${MONITOR_CHAT_URL:-}`` → ``set MONITOR_CHAT_URL``)."""
    if settings.path is None or not any(_UNNAMED in w for w in settings.warnings):
        return settings
    try:
        channels = tomllib.loads(settings.path.read_text(encoding="utf-8")).get("channels")
    except (OSError, ValueError):  # read when the settings were loaded: changed since, keep the general hint
        return settings
    named = []
    for warning in settings.warnings:
        for name, channel in (channels if isinstance(channels, dict) else {}).items():
            urls = channel.get("urls") if isinstance(channel, dict) else None
            found = [
                v
                for url in (urls if isinstance(urls, list) else [])[:100]
                if isinstance(url, str)
                for v in _VARIABLE.findall(url)
            ]
            if found and warning.startswith(f"channel {name!r}"):
                warning = warning.replace(_UNNAMED, f"(set {' or '.join(dict.fromkeys(found))})")
        named.append(warning)
    return settings.model_copy(update={"warnings": tuple(named)})
