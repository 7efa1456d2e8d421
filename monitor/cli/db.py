"""``monitor db current|upgrade|copy|prune``: the database's schema revision, its migration, a copy of the whole
store into another database (a SQLite store onto PostgreSQL), and a one-off retention prune.

The database is ``[database] url`` of ``--config``, or ``--database URL``; URLs are printed without passwords.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from monitor.cli.common import TextOrJson, console, err_console, plain, plural, print_jsonl, settings_from
from monitor.clock import now_utc
from monitor.config import MIN_KEEP_ARTICLES, parse_duration
from monitor.errors import ConfigError, StoreError
from monitor.store import PruneReport, Store
from monitor.store.base import _describe, _redacted, create_store_engine

__all__ = ["db_app"]

db_app = typer.Typer(
    no_args_is_help=True,
    help="The database: schema revision and migration, a copy into another database, pruning old articles.",
)


@db_app.command("current")
def _current(ctx: typer.Context, format: TextOrJson = typer.Option(TextOrJson.text, "--format", "-f")) -> None:
    """The schema revision of the database and the newest this monitor knows. Changes nothing.

    Exit 0 at the newest revision, 1 when behind (or no schema yet: run `monitor db upgrade`)."""
    from monitor.store.schema import current_revision, head_revision

    url = settings_from(ctx).database.url
    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            current = current_revision(conn)
    except SQLAlchemyError as e:
        raise StoreError(f"cannot read the schema revision of {_redacted(url)}: {_describe(e)}") from e
    finally:
        engine.dispose()
    head = head_revision()
    known = _known_revisions()
    state = "head" if current == head else ("empty" if current is None else "behind")
    if current is not None and current not in known:
        state = "newer"
    if format is TextOrJson.json:
        print_jsonl([{"database": _redacted(url), "current": current, "head": head, "state": state}])
    else:
        shown = {
            "head": f"{current} (the newest)",
            "empty": f"no schema yet (the newest is {head}): run `monitor db upgrade`",
            "behind": f"{current} (the newest is {head}): run `monitor db upgrade`",
            "newer": f"{current}, unknown to this monitor (its newest is {head}): written by a newer monitor",
        }[state]
        console.print(Text.assemble(_redacted(url), ": ", shown))
    if state != "head":
        raise typer.Exit(1)


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    from monitor.store.schema import alembic_config

    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


@db_app.command("upgrade")
def _upgrade(ctx: typer.Context) -> None:
    """Migrate the database to the newest schema revision (every command does it when it opens the database; this
    does only that, e.g. before starting several workers). Safe to run while workers run: one migrates, once."""
    from monitor.store.schema import UnknownRevisionError, current_revision, upgrade_to_head

    url = settings_from(ctx).database.url
    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            before = current_revision(conn)
        upgrade_to_head(engine)
        with engine.connect() as conn:
            after = current_revision(conn)
    except UnknownRevisionError as e:
        raise StoreError(f"{_redacted(url)} was written by a newer monitor: {e}") from e
    except StoreError:
        raise
    except SQLAlchemyError as e:
        raise StoreError(f"cannot migrate {_redacted(url)}: {_describe(e)}") from e
    finally:
        engine.dispose()
    if before == after:
        console.print(Text(f"{_redacted(url)}: already at {after} (the newest)"))
    else:
        console.print(Text(f"{_redacted(url)}: migrated from {before or 'an empty database'} to {after}"))


@db_app.command("copy")
def _copy(
    ctx: typer.Context,
    to: str = typer.Option(..., "--to", metavar="URL", help="The empty database to copy into, e.g. postgresql://…"),
    format: TextOrJson = typer.Option(TextOrJson.text, "--format", "-f"),
) -> None:
    """Copy the whole store (feeds, seen entries, stories, story keys, articles, matches, deliveries, feedback;
    ids kept) into the empty database URL, then read it back and compare rows and checksums, table by table.

    Refuses a target that holds any row. Exit 0 when every table matches, 1 when one does not."""
    from monitor.store.copy import copy_store

    source = settings_from(ctx).database.url
    with Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=not err_console.is_terminal,
    ) as bar:
        tasks: dict[str, Any] = {}

        def start(table: str, total: int) -> None:
            tasks[table] = bar.add_task(table, total=total)

        def advance(table: str, rows: int) -> None:
            bar.advance(tasks[table], rows)

        report = copy_store(source, to, start=start, progress=advance)
    if format is TextOrJson.json:
        print_jsonl([report.as_json()])
    else:
        table = Table(title=f"{report.source} -> {report.target}")
        for column in ("table", "rows", "copied", "checksum (sha256, order-free)", "same"):
            table.add_column(column, justify="right" if column in ("rows", "copied") else "left")
        for t in report.tables:
            same = Text("yes", "green") if t.verified else Text("NO", "bold red")
            table.add_row(t.name, str(t.rows), str(t.target_rows), t.checksum[:16], same)
        console.print(table)
        verdict = "verified" if report.verified else "NOT verified: the target differs"
        console.print(
            Text(
                f"{plural(report.rows, 'row')} copied in {report.seconds:.1f} s; checksum {report.checksum} {verdict}",
                "bold" if report.verified else "bold red",
            )
        )
    if not report.verified:
        raise typer.Exit(1)


@db_app.command("prune")
def _prune(
    ctx: typer.Context,
    older_than: str = typer.Option(
        "", "--older-than", metavar="DURATION", help="Instead of [store] keep_articles, e.g. 180d (at least 1d)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would go; remove nothing."),
    format: TextOrJson = typer.Option(TextOrJson.text, "--format", "-f"),
) -> None:
    """Remove the unmatched articles fetched before [store] keep_articles (or --older-than), now, in small batches.

    Matched stories keep every article; seen entries stay, so nothing comes back as new (docs/storage.md)."""
    from monitor.retention import prune

    settings = settings_from(ctx)
    keep = _keep(older_than) if older_than else settings.store.keep_articles
    if keep is None:
        raise ConfigError("nothing to prune by: set [store] keep_articles (e.g. '180d') or give --older-than")
    with Store.open(settings.database.url) as store:
        report = prune(store, keep, now_utc(), dry_run=dry_run)
    if format is TextOrJson.json:
        print_jsonl([report.as_json()])
        return
    for line in _said(report):
        console.print(plain(line))


def _keep(value: str) -> float:
    try:
        keep = parse_duration(value)
    except ValueError as e:
        raise ConfigError(f"--older-than: {e}") from None
    if keep < MIN_KEEP_ARTICLES:
        raise ConfigError(f"--older-than: must be at least '1d' (got {value!r})")
    return keep


def _said(report: PruneReport) -> list[str]:
    verb = "would remove" if report.dry_run else "removed"
    before = report.cutoff.isoformat(timespec="seconds")
    return [
        f"{verb} {plural(report.articles, 'unmatched article')} fetched before {before} "
        f"({plural(report.story_keys, 'story key')}; {plural(report.stories_emptied, 'story', 'stories')} left "
        "without articles, whose rows go at the next prune)",
        f"{verb} {plural(report.stories, 'empty story', 'empty stories')} left by an earlier prune",
        f"kept {plural(report.kept, 'older article')}: their story matched",
    ]
