"""The command line: the root typer app, global options and one-line errors.

Each command group lives in its own module (``rules``, ``feeds``, ``run``, ``notify``, ``extract``, ``web``, ``db``); this
module wires them together. A ``MonitorError`` becomes ``monitor: error: <message>`` on stderr with exit status 2;
anything else is a bug and keeps its traceback.

Commands are imported when they run (``COMMANDS``), not before: ``monitor --help`` lists them without importing the
store, the fetcher, trafilatura or the web app, and ``monitor poll`` imports what polling needs and no other command's
modules (tests/cli/test_startup.py guards both). A new command is one line in ``COMMANDS``.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

from monitor.errors import MonitorError

__all__ = ["COMMANDS", "app", "load_command", "main"]

#: Every command, in the order ``--help`` lists them: name -> (module, attribute: a command function or a Typer
#: group, its one-line help as ``--help`` shows it). The module is imported when the command runs (or its own
#: ``--help`` is asked for); tests/cli/test_startup.py checks each line against the command's docstring.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": (
        "monitor.cli.run",
        "run",
        "Run the daemon: poll due feeds every tick, deliver alerts and digests, until SIGTERM or Ctrl-C.",
    ),
    "poll": ("monitor.cli.run", "poll", "Poll every enabled feed once now, deliver pending alerts, and exit."),
    "demo": (
        "monitor.cli.run",
        "demo",
        "Offline end-to-end demo: serve the seed corpus as a news site on loopback, poll it, print the matches.",
    ),
    "init": (
        "monitor.cli.run",
        "init",
        "Start a deployment: write a starter config.toml and rules/ (copies of the shipped rules) to edit.",
    ),
    "serve": (
        "monitor.cli.web",
        "serve",
        "Serve the web app until Ctrl-C: matches, rules and backtests, feeds, deliveries, the JSON API, Atom feeds, "
        "/metrics, /healthz and /readyz.",
    ),
    "match": (
        "monitor.cli.rules",
        "match",
        "Run the rules over documents and print the matches; exit 0 some match, 1 none, 2 error.",
    ),
    "extract": (
        "monitor.cli.extract",
        "extract",
        "Show the article text and metadata the pipeline extracts from HTML files or URLs.",
    ),
    "matches": ("monitor.cli.feeds", "matches", "Stored matches, newest first, with their delivery state."),
    "deliveries": (
        "monitor.cli.notify",
        "deliveries",
        "The alert outbox, newest first: channel, status, attempts and last error.",
    ),
    "rules": ("monitor.cli.rules", "rules_app", "Check, test and explain rule files; start one with `rules new`."),
    "feeds": ("monitor.cli.feeds", "feeds_app", "List, add and remove feeds."),
    "notify": ("monitor.cli.notify", "notify_app", "Try alert channels."),
    "db": (
        "monitor.cli.db",
        "db_app",
        "The database: schema revision and migration, a copy into another database, pruning old articles.",
    ),
}


def load_command(name: str) -> Any:
    """The click command ``name`` of ``COMMANDS``, its module imported now; built as ``app.command(name)`` or
    ``app.add_typer(group, name=name)`` would have built it."""
    module, attribute, _ = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    single = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
    if isinstance(target, typer.Typer):
        single.add_typer(target, name=name)
    else:
        single.command(name)(target)
    return typer.main.get_group(single).commands[name]


class _LazyCommands(MutableMapping[str, Any]):
    """The root group's commands: every name known from the start, each command built on first access."""

    def __init__(self) -> None:
        self._loaded: dict[str, Any] = {}
        self._added: dict[str, Any] = {}

    def loaded(self, name: str) -> bool:
        return name in self._loaded or name in self._added

    def __getitem__(self, name: str) -> Any:
        if name in self._added:
            return self._added[name]
        if name not in COMMANDS:
            raise KeyError(name)
        if name not in self._loaded:
            self._loaded[name] = load_command(name)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._added[name] = command

    def __delitem__(self, name: str) -> None:
        del self._added[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._added if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(name not in COMMANDS for name in self._added)


class _Group(TyperGroup):
    """The root command: commands imported on use (``COMMANDS``); user-caused errors become one line and exit
    status 2, for every subcommand."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        lazy = _LazyCommands()
        lazy.update(self.commands)  # none: every command is in COMMANDS
        self.commands = lazy

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # names only: listing must not import every command

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """As typer lists commands, with the one-line help of ``COMMANDS`` for those not imported yet."""
        from typer._click.utils import make_default_short_help

        commands = self.commands
        assert isinstance(commands, _LazyCommands)
        shown: list[tuple[str, Any]] = []  # (name, its command, or its help text while it is not imported)
        for name in commands:
            if commands.loaded(name) or name not in COMMANDS:
                if not commands[name].hidden:
                    shown.append((name, commands[name]))
            else:
                shown.append((name, COMMANDS[name][2]))
        if shown:
            limit = formatter.width - 6 - max(len(name) for name, _ in shown)
            rows = [
                (name, make_default_short_help(cmd, limit) if isinstance(cmd, str) else cmd.get_short_help_str(limit))
                for name, cmd in shown
            ]
            with formatter.section("Commands"):
                formatter.write_dl(rows)

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


def main() -> None:
    """Console entry point."""
    app(prog_name="monitor")
