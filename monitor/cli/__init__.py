"""The command line: the root typer app, global options and one-line errors.

Each command group lives in its own module (``rules``, ``feeds``, ``run``, ``notify``, ``extract``); this module
wires them together. A ``MonitorError`` becomes ``monitor: error: <message>`` on stderr with exit status 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from monitor.errors import MonitorError

__all__ = ["app", "main"]


class _Group(TyperGroup):
    """Turns user-caused errors into one line and exit status 2, for every subcommand."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except MonitorError as e:
            from monitor.cli.common import print_error

            print_error(e)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Media monitoring: poll news feeds, match boolean rules, alert by email or chat.",
)


def _print_version(value: bool) -> None:
    if value:
        from monitor import __version__

        typer.echo(f"monitor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Path = typer.Option(
        None, "--config", "-c", envvar="MONITOR_CONFIG", help="config.toml to use (default ./config.toml)."
    ),
    database: str = typer.Option(
        None,
        "--database",
        envvar="MONITOR_DATABASE_URL",
        metavar="URL",
        help="The database to use instead of [database] url, e.g. sqlite:///monitor.db (no config file needed).",
    ),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More log output (-vv for debug)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors in the log."),
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
    ),
) -> None:
    ctx.obj = {"config": config, "database": database}
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    _setup_logging(level)
    # The daemon's start line and one line per poll cycle are shown at the default verbosity (not under -q).
    logging.getLogger("monitor.daemon").setLevel(logging.INFO if level == logging.WARNING else logging.NOTSET)


class _RedactingFormatter(logging.Formatter):
    """Secrets (apprise URLs, passwords) never reach a log line, nor more than a bounded part of any value."""

    def format(self, record: logging.LogRecord) -> str:
        from monitor.notify import redact

        return redact(super().format(record))

    def formatException(self, ei: Any) -> str:
        from monitor.notify.redact import shorten

        # the last line of a traceback is the exception's message: attacker text as often as not
        return "\n".join(shorten(line) for line in super().formatException(ei).splitlines())


def _bound_values(record: logging.LogRecord) -> bool:
    """Handler filter: each logged value cut to ``LOG_VALUE_LIMIT`` characters before the line is formatted."""
    from monitor.notify.redact import bound_log_record

    bound_log_record(record)
    return True


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is now (test runners swap it), never to a stream closed since."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _setup_logging(level: int) -> None:
    handler = _StderrHandler()
    handler.addFilter(_bound_values)
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("monitor")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _register() -> None:
    from monitor.cli import extract, feeds, notify, rules, run, tuning, web

    app.command("run")(run.run)
    app.command("poll")(run.poll)
    app.command("demo")(run.demo)
    app.command("init")(run.init)
    app.command("serve")(web.serve)
    rules.rules_app.command("backtest")(tuning.backtest)
    rules.rules_app.command("feedback")(tuning.feedback)
    app.add_typer(rules.rules_app, name="rules")
    app.command("match")(rules.match)
    app.command("extract")(extract.extract)
    app.add_typer(feeds.feeds_app, name="feeds")
    app.command("matches")(feeds.matches)
    app.command("deliveries")(notify.deliveries)
    app.add_typer(notify.notify_app, name="notify")


_register()


def main() -> None:
    """Console entry point."""
    app(prog_name="monitor")
