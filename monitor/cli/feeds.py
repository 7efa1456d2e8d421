"""``monitor feeds list|add|remove|import|export`` and ``monitor matches``: what the store holds, as tables, JSON
Lines or CSV (checking a new feed and OPML files: ``feedfiles``)."""

from __future__ import annotations

import csv
import sys
from datetime import datetime
from typing import Any

import typer
from pydantic import ValidationError
from rich.table import Table
from rich.text import Text

from monitor.cli.common import (
    Format,
    clean,
    console,
    link,
    local_time,
    monitor_from,
    open_store,
    plain,
    print_error,
    print_jsonl,
    print_matches,
    settings_from,
)
from monitor.cli.feedfiles import check_url, export_feeds, import_feeds, refuse_known
from monitor.cli.rules import unknown_rule
from monitor.clock import now_utc
from monitor.config import FeedSettings, parse_duration
from monitor.errors import MonitorError
from monitor.feedhealth import feed_line
from monitor.matchview import cutoff, shown_match
from monitor.notify.redact import shorten
from monitor.store import FeedRecord

__all__ = ["feeds_app", "matches"]

feeds_app = typer.Typer(no_args_is_help=True, help="List, add and remove feeds.")


@feeds_app.command("list")
def _list_feeds(ctx: typer.Context, format: Format = typer.Option(Format.text, "--format", "-f")) -> None:
    """Feeds with their health: last success, last error, consecutive failures, next poll."""
    with monitor_from(ctx) as monitor:
        feeds = monitor.feeds()
    rows = [feed_line(f) for f in feeds]  # the same objects as /api/v1/feeds
    if format is Format.json:
        print_jsonl(rows)
        return
    if format is Format.csv:
        _write_csv(rows)
        return
    table = Table(title=f"{len(feeds)} feeds")  # cells are Text: a feed's name or error is never markup
    for column in (
        "name",
        "status",
        "articles",
        "failures",
        "failed entries",
        "blocked",
        "last success",
        "next poll",
        "last error",
    ):
        table.add_column(column, overflow="fold")
    for f in feeds:
        status = f.last_status or "never polled"
        if not f.enabled:
            status = f"disabled ({status})"
        table.add_row(
            plain(f.name),
            plain(status),
            str(f.articles),
            str(f.consecutive_failures),
            str(f.failed_entries),
            str(f.blocked_requests),
            _when(f.last_success),
            _when(f.next_poll, seconds=True),
            Text(shorten(link(_notes(f)))),
        )  # JSON and CSV keep each field whole
    console.print(table)
    console.print(Text(_FOOTNOTE, "dim"))


_FOOTNOTE = (
    "blocked: requests of this feed the address guard refused (its URL, a redirect or an article link "
    "pointing at a loopback, private or link-local address): see allow_private in docs/config.md."
)


def _notes(feed: FeedRecord) -> str:
    """The last error, then what else an operator should know: a moved feed, a pending move, a failed entry."""
    notes = [feed.last_error or ""]
    if feed.config_url and feed.url != feed.config_url:
        notes.append(f"moved from {feed.config_url} to {feed.url} (permanent redirect)")
    if feed.redirect_pending:
        notes.append(f"permanent redirect to {feed.redirect_pending} seen once; moves if it repeats")
    if feed.last_entry_error:
        notes.append(f"last failed entry: {feed.last_entry_error}")
    return "; ".join(n for n in notes if n)


@feeds_app.command("add")
def _add_feed(
    ctx: typer.Context,
    url: str = typer.Argument(..., help="The feed's URL (http or https), or a web page that links to its feed."),
    name: str = typer.Option("", "--name", help="A short unique name (default: the host)."),
    tag: list[str] = typer.Option([], "--tag", help="A tag for routes and rule filters; repeatable."),
    interval: str = typer.Option("", "--interval", help="Poll interval, e.g. 10m (default: scheduler.poll_interval)."),
    check: bool = typer.Option(
        True, "--check/--no-check", help="Fetch the URL first: refuse what is not a feed, find the feeds of a web page."
    ),
    allow_private: bool = typer.Option(
        False, "--allow-private", help="Let the check reach loopback and private addresses (your own network)."
    ),
) -> None:
    """Add a feed to the database (feeds in config.toml are added at every start).

    The URL is fetched first (unless --no-check): a feed is added; a web page's feed, found from its
    <link rel="alternate"> (or a usual path such as /feed), is added when it has one, listed when it has several."""
    feed = _feed_settings(url, name, tag, interval)
    with monitor_from(ctx) as monitor:
        refuse_known(monitor.feeds(), feed)
        if check:
            found = check_url(monitor.settings, feed, allow_private)
            if found is None:
                raise typer.Exit(1)
            if found.url != feed.url:
                feed = _feed_settings(found.url, name, tag, interval)
                refuse_known(monitor.feeds(), feed)
        record = monitor.store.add_feed(feed.name, feed.url, feed.tags, feed.interval, feed.full_text)
        private = monitor.settings.fetch.allow_private
    console.print(Text.assemble("Added feed ", (clean(record.name), "bold"), " ", link(record.url)))
    if allow_private and not private:
        console.print(
            plain(
                "Note: polls reach loopback and private addresses only with allow_private = true under "
                "[fetch] in config.toml (or with the feed as a [[feeds]] entry with allow_private = true).",
                "yellow",
            )
        )


def _feed_settings(url: str, name: str, tags: list[str], interval: str) -> FeedSettings:
    """The feed as the config would hold it; a bad value is one line (the validator's message, not pydantic's)."""
    try:
        return FeedSettings(
            url=url, name=name, tags=tuple(tags), interval=parse_duration(interval) if interval else None
        )
    except ValidationError as e:
        raise MonitorError(str(e.errors()[0]["msg"]).removeprefix("Value error, ")) from None
    except ValueError as e:
        raise MonitorError(f"--interval: {e}") from None


feeds_app.command("import")(import_feeds)
feeds_app.command("export")(export_feeds)


@feeds_app.command("remove")
def _remove_feed(ctx: typer.Context, name: str = typer.Argument(..., help="The feed's name.")) -> None:
    """Remove a feed; its articles and matches stay."""
    settings = settings_from(ctx)
    store = open_store(settings)
    try:
        removed = store.remove_feed(name)
    finally:
        store.close()
    if not removed:
        console.print(plain(f"No feed named {name!r}.", "red"))
        raise typer.Exit(1)
    note = (
        " (it is also in config.toml: remove it there too, or it comes back)"
        if any(f.name == name for f in settings.feeds)
        else ""
    )
    console.print(Text.assemble("Removed feed ", (clean(name), "bold"), note))


def matches(
    ctx: typer.Context,
    rule: str = typer.Option(None, "--rule", help="Only this rule id."),
    since: str = typer.Option(None, "--since", help="Only matches newer than this: a duration (2h, 3d) or a date."),
    limit: int = typer.Option(None, "--limit", min=0, help="At most this many, newest first."),
    format: Format = typer.Option(Format.text, "--format", "-f"),
) -> None:
    """Stored matches, newest first, with their delivery state. Exit 1 when there are none."""
    start = _since(since) if since else None
    store = open_store(settings_from(ctx))
    try:
        found = store.list_matches(rule=rule, since=start, limit=limit)
        unknown = unknown_rule(settings_from(ctx), rule, store.rule_ids) if rule and not found else None
    finally:
        store.close()
    if unknown:
        print_error(unknown)
        raise typer.Exit(2)
    if format is Format.json:
        print_jsonl(shown_match(m) for m in found)
    elif format is Format.csv:
        _write_csv([_flat(shown_match(m)) for m in found])
    else:
        print_matches(found)
    if not found:
        raise typer.Exit(1)


def _since(value: str) -> datetime:
    """The cutoff of ``--since``, aware UTC (``monitor.matchview.cutoff``)."""
    try:
        return cutoff(value, now_utc())
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--since") from None


def _flat(line: dict[str, Any]) -> dict[str, Any]:
    article = line.pop("article")
    line.update({f"article_{k}": v for k, v in article.items()})
    line["hits"] = "; ".join(h["text"] for h in line["hits"])
    line["deliveries"] = "; ".join(f"{d['channel']}:{d['status']}" for d in line["deliveries"])
    return line


def _write_csv(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(v) for k, v in row.items()})


def _csv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if not isinstance(value, str):
        return value
    value = clean(value, lines=True)  # CSV quotes line breaks
    # A feed's title such as "=HYPERLINK(...)" would run as a formula in a spreadsheet (OWASP: CSV injection).
    return f"'{value}" if value[:1] in _FORMULA_STARTS else value


_FORMULA_STARTS = frozenset("=+-@\t\r")


def _when(value: datetime | None, *, seconds: bool = False) -> str:
    return local_time(value, seconds=seconds) if value else "-"
