"""``monitor notify test CHANNEL`` and ``monitor deliveries``: try a channel, and see the outbox.

Every URL and error printed here passes through ``monitor.notify.redact``: channel secrets never reach the terminal.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import typer
from rich.markup import escape

from monitor.cli.common import console, open_store, print_jsonl, settings_from
from monitor.notify import Notifier, redact
from monitor.store import DeliveryRecord

__all__ = ["deliveries", "notify_app", "send_test"]

notify_app = typer.Typer(no_args_is_help=True, help="Try alert channels.")


class _Format(str, Enum):
    text = "text"
    json = "json"


class _Status(str, Enum):
    pending = "pending"
    sent = "sent"
    failed = "failed"
    suppressed = "suppressed"


@notify_app.command("test")
def send_test(ctx: typer.Context, channel: str = typer.Argument(..., help="A [channels.NAME] of config.toml."),
                 format: _Format = typer.Option(_Format.text, "--format", "-f")) -> None:
    """Send a test alert to every URL of CHANNEL and say, per URL, whether it was delivered. Exit 1 if any failed."""
    settings = settings_from(ctx)
    store = open_store(settings)
    try:
        results = Notifier(settings, store).test_channel(channel)
    finally:
        store.close()
    if format is _Format.json:
        print_jsonl({"channel": channel, "url": r.url, "ok": r.ok, "error": r.error} for r in results)
    else:
        for r in results:
            verdict = "[green]delivered[/]" if r.ok else "[red]failed[/]"
            detail = f": {escape(redact(r.error or ''))}" if not r.ok else ""
            console.print(f"{verdict} {escape(redact(r.url))}{detail}")
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def deliveries(
    ctx: typer.Context,
    status: _Status = typer.Option(None, "--status", help="Only deliveries in this state."),
    channel: str = typer.Option(None, "--channel", help="Only this channel."),
    limit: int = typer.Option(100, "--limit", help="At most this many, newest first (0: all)."),
    format: _Format = typer.Option(_Format.text, "--format", "-f"),
) -> None:
    """The alert outbox, newest first: channel, status, attempts and last error. Exit 1 when there are none."""
    store = open_store(settings_from(ctx))
    try:
        found = store.list_deliveries(status=status.value if status else None, channel=channel,
                                      limit=limit or None)
    finally:
        store.close()
    if format is _Format.json:
        print_jsonl({**d.as_json(), "last_error": redact(d.last_error) if d.last_error else None} for d in found)
    else:
        _print_text(found)
    if not found:
        raise typer.Exit(1)


def _print_text(found: list[DeliveryRecord]) -> None:
    """One block per delivery: a summary line, the article, the last error (plain lines read well at any width)."""
    for d in found:
        when = d.sent_at if d.status in ("sent", "suppressed") else d.next_attempt_at
        label = "sent" if d.status in ("sent", "suppressed") else "next"
        typer.echo(f"#{d.id} {d.channel} {d.mode} {d.status} attempts={d.attempts} rule={d.rule_id} "
                   f"story={d.story_id} {label}={_when(when)}")
        typer.echo(f"    {d.article_title or '(article gone)'} {d.article_url}".rstrip())
        if d.last_error:
            typer.echo(f"    last error: {redact(d.last_error)}")
    typer.echo(f"{len(found)} deliveries")


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%MZ") if value else "-"
