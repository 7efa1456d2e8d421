"""``monitor run`` (the daemon), ``monitor poll`` (one cycle now) and ``monitor demo`` (offline, end to end)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from monitor.api import Monitor
from monitor.cli.common import (
    clean,
    console,
    err_console,
    link,
    local_time,
    plain,
    print_matches,
    settings_from,
    show_times_in,
)
from monitor.cli.notify import naming_variables
from monitor.config import DatabaseSettings, FeedSettings, FetchSettings, RulesSettings, Settings
from monitor.demo import demo_articles, in_demo_order, serve_demo_site
from monitor.feedstate import OFFLINE_RETRY, offline, summary
from monitor.pipeline import FeedResult
from monitor.starter import SHIPPED_RULES, init_deployment
from monitor.store import FeedRecord

__all__ = ["demo", "init", "poll", "run"]


def run(ctx: typer.Context) -> None:
    """Run the daemon: poll due feeds every tick, deliver alerts and digests, until SIGTERM or Ctrl-C.

    Logs a start line (feeds, rules, channels, database) and one line per poll cycle; -q: errors only."""
    with Monitor(naming_variables(settings_from(ctx))) as monitor:
        _ = monitor.rules  # a bad rule file stops the start, before anything is written
        monitor.run()


def poll(
    ctx: typer.Context,
    feed: list[str] = typer.Option([], "--feed", help="Poll only this feed (by name); repeatable."),
    force: bool = typer.Option(False, "--force", help="Also poll feeds inside a Retry-After or back-off window."),
    deliver: bool = typer.Option(True, "--deliver/--no-deliver", help="Send pending alerts after polling."),
) -> None:
    """Poll every enabled feed once now, deliver pending alerts, and exit.

    Prints a table, why each feed failed or was skipped, and a summary line. Exit status 1 when every feed polled
    failed, 0 otherwise. When every feed failed to resolve its host or reach the network, the machine is taken to
    be offline: the feeds are tried again a minute later, without backing off."""
    settings = naming_variables(settings_from(ctx))
    for warning in settings.warnings:
        err_console.print(plain(f"monitor: warning: {warning}"))
    with Monitor(settings) as monitor:
        _ = monitor.rules  # a bad rule file stops the poll, before anything is written
        monitor.sync_feeds()
        unknown = set(feed) - {f.name for f in monitor.feeds()}
        if unknown:
            raise typer.BadParameter(f"no feed named {sorted(unknown)[0]!r}", param_hint="--feed")
        with console.status("Polling feeds…"):
            results = monitor.poll(feeds=feed, force=force)
        _print_results(results)
        _print_problems(results, {f.name: f for f in monitor.feeds()})
        console.print(plain(summary(results), "bold"))
        if deliver:
            console.print(plain(f"Deliveries: {monitor.deliver()}"))
    polled = [r for r in results if r.status != "skipped"]
    if polled and all(r.status == "error" for r in polled):
        raise typer.Exit(1)


def demo(
    data: Path = typer.Option(None, "--data", help="Folder for the demo database (default: a temporary folder)."),
    rules: list[Path] = typer.Option([], "--rules", help="Rule files or folders (default: the shipped rules/)."),
) -> None:
    """Offline end-to-end demo: serve the seed corpus as a news site on loopback, poll it, print the matches."""
    rule_paths = tuple(p.resolve() for p in rules) or (SHIPPED_RULES,)
    folder = data.resolve() if data else Path(tempfile.mkdtemp(prefix="monitor-demo-"))
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # as the store makes its folders: private
    articles = demo_articles()
    with serve_demo_site(articles) as feed_url:
        settings = Settings(  # times in UTC (the default [scheduler] timezone)
            database=DatabaseSettings(url=f"sqlite:///{folder / 'demo.db'}"),
            fetch=FetchSettings(allow_private=True),  # the demo site is on loopback
            rules=RulesSettings(paths=rule_paths),
            feeds=(FeedSettings(url=feed_url, name="mekong-daily", tags=("demo", "cambodia")),),
        )
        show_times_in(settings)
        with Monitor(settings) as monitor:
            _ = monitor.rules
            monitor.sync_feeds()
            console.print(
                Text.assemble(
                    f"Serving {len(articles)} articles at ",
                    (feed_url, "bold"),
                    clean(f"; {len(monitor.rules.rules)} rules from {', '.join(map(str, rule_paths))}"),
                )
            )
            with console.status("Polling the demo feed: fetch, extract, match, store…"):
                first = monitor.poll()
            _print_results(first)
            titles = {rule.id: rule.title for rule in monitor.rules.rules}
            print_matches(in_demo_order(monitor.matches()), titles=titles)
            second = monitor.poll()
            console.print(
                Text.assemble(
                    "Second poll: ", (second[0].status, "bold"), f" (conditional GET, {second[0].new} new entries)"
                )
            )
    console.print(plain(f"Demo database: {folder / 'demo.db'} (choose the folder with --data)"))


def init(
    folder: Path = typer.Argument(Path("."), help="Folder for the new deployment (default: this one)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing config.toml and rule files."),
) -> None:
    """Start a deployment: write a starter config.toml and rules/ (copies of the shipped rules) to edit."""
    written = init_deployment(folder, force=force)
    for path in written:
        console.print(plain(f"wrote {path}"))
    console.print(plain(f"Next: edit {written[0]} (its first lines say what to edit), then `monitor poll`."))


def _print_results(results: Sequence[FeedResult]) -> None:
    table = Table(title="Poll", show_lines=False)
    for column in ("feed", "status", "new", "matched", "seconds"):
        table.add_column(column, justify="right" if column in ("new", "matched", "seconds") else "left")
    for r in results:
        style = {"error": "red", "skipped": "yellow"}.get(r.status, "")
        table.add_row(plain(r.feed), plain(r.status, style), str(r.new), str(r.matched), f"{r.seconds:.2f}")
    console.print(table)


def _print_problems(results: Sequence[FeedResult], feeds: dict[str, FeedRecord]) -> None:
    """Each failed feed with its error, each skipped one with when it is due and how to poll it now: whole lines
    (a table cell would fold an error mid-word), each stored error already one line of at most 500 characters."""
    for r in results:
        feed = feeds.get(r.feed)
        if r.status == "error":
            typer.echo(link(f"{r.feed}: failed: {r.error}"))  # credentials of a URL in it hidden
        elif r.status == "skipped" and feed is not None and feed.next_poll is not None:
            window = "Retry-After" if (r.error or "").startswith("retry-after") else "back-off"
            typer.echo(
                clean(
                    f"{r.feed}: skipped: in {window} after {feed.consecutive_failures} failed "
                    f"poll{'' if feed.consecutive_failures == 1 else 's'}, due "
                    f"{local_time(feed.next_poll, seconds=True)}; `monitor poll --force` polls it now"
                )
            )
    if offline(results):
        typer.echo(
            f"Offline? Every feed failed to resolve its host or reach the network: they are tried again "
            f"in {OFFLINE_RETRY:g} s, without backing off."
        )
