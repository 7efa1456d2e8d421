"""Start-up: which modules ``monitor --help`` and ``monitor poll`` import (their cost is their imports: docs/benchmarks.md
"Start-up"), and the lazily imported commands' listing, which must read as the commands' own help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import typer.main
from typer.testing import CliRunner

from monitor.cli import COMMANDS, app, load_command
from tests.support.newssite import NewsSite

#: What ``monitor --help`` must not import: the store, the fetcher, extraction, alerts, the web app and their
#: libraries (each a tenth of a second or more).
HEAVY = (
    "alembic",
    "apprise",
    "datasketch",
    "fastapi",
    "httpx",
    "jinja2",
    "monitor.api",
    "monitor.pipeline",
    "monitor.store",
    "numpy",
    "py3langid",
    "pydantic",
    "scipy",
    "sqlalchemy",
    "starlette",
    "trafilatura",
    "uvicorn",
    "yaml",
)
#: What ``monitor poll`` must not import before it fetches, on a deployment whose database is at the newest schema:
#: extraction runs in worker processes, alerts are sent after polling, and the web app is another command. numpy
#: (story keys, language) is imported by the first entry that needs it: a poll that finds nothing new never does.
#: Jinja2 renders alerts (none here: nothing new, --no-deliver); httpx's command line (click, pygments) and httpcore
#: and anyio (httpx's own transport: the fetcher has its own) are never used.
NOT_FOR_POLL = (
    "alembic",
    "anyio",
    "apprise",
    "click",
    "httpcore",
    "httpx._main",
    "jinja2",
    "pygments",
    "datasketch",
    "fastapi",
    "numpy",
    "scipy",
    "starlette",
    "trafilatura",
    "uvicorn",
    "monitor.web",
)

_RUN = """
import json, sys
sys.argv = ["monitor", *json.loads(sys.argv[1])]
from monitor.cli import main
try:
    main()
finally:
    with open({out!r}, "w") as f:
        json.dump(sorted(name for name, module in sys.modules.items() if module is not None), f)  # None: barred
"""


def _imported(args: list[str], out: Path, cwd: Path) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """The modules loaded by the time ``monitor <args>`` exits, in a fresh interpreter."""
    code = _RUN.format(out=str(out))
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    return set(json.loads(out.read_text())), done


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_help_imports_no_heavy_module(tmp_path: Path) -> None:
    modules, done = _imported(["--help"], tmp_path / "modules.json", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "poll" in done.stdout and "serve" in done.stdout
    assert _loaded(modules, HEAVY) == []
    assert not [m for m in modules if m.startswith("monitor.cli.")]  # no command module: only the listing


def test_poll_imports_neither_extraction_nor_alerts_nor_the_web_app(tmp_path: Path, news_site: NewsSite) -> None:
    news_site.add("wire", "Police raid scam compound in Poipet", "Police raided an online scam compound in Poipet.")
    (tmp_path / "config.toml").write_text(
        f"""[database]
url = "sqlite:///monitor.db"
[fetch]
allow_private = true
[rules]
paths = ["{Path(__file__).parents[2] / "rules"}"]
[[feeds]]
name = "wire"
url = "{news_site.feed_url("wire")}"
full_text = false
""",
        encoding="utf-8",
    )
    args = ["-c", str(tmp_path / "config.toml"), "poll", "--no-deliver"]
    _, first = _imported(args, tmp_path / "first.json", tmp_path)  # a new database: migrated (alembic)
    assert first.returncode == 0, first.stderr
    modules, again = _imported(args, tmp_path / "again.json", tmp_path)
    assert again.returncode == 0, again.stderr
    assert "1 feed: 1 ok" in again.stdout
    assert _loaded(modules, NOT_FOR_POLL) == []
    assert {"monitor.pipeline", "monitor.store", "monitor.rules.cache"} <= modules  # it did poll, with the cache
    assert not {"monitor.cli.rules", "monitor.cli.feeds", "monitor.cli.web"} & modules  # other commands' modules


def test_the_listing_reads_as_the_commands_own_help() -> None:
    lazy = [CliRunner().invoke(app, ["--help"], terminal_width=width) for width in (80, 300)]
    root = typer.main.get_command(app)
    for name, (_, _, summary) in COMMANDS.items():
        assert root.commands[name].get_short_help_str(1000) == summary  # type: ignore[attr-defined]  # imports it
    eager = [CliRunner().invoke(app, ["--help"], terminal_width=width) for width in (80, 300)]
    assert [r.stdout for r in lazy] == [r.stdout for r in eager]
    listed = lazy[1].stdout.split("Commands:")[1].strip().splitlines()
    assert [line.split()[0] for line in listed] == list(COMMANDS)


def test_a_command_is_built_as_the_app_would_build_it() -> None:
    poll = load_command("poll")
    rules = load_command("rules")
    assert poll.name == "poll" and {p.name for p in poll.params} >= {"feed", "force", "deliver"}
    assert rules.name == "rules" and "check" in rules.commands  # type: ignore[attr-defined]  # a group


def test_an_unknown_command_still_gets_a_suggestion() -> None:
    result = CliRunner().invoke(app, ["pol"])
    assert result.exit_code == 2
    assert "No such command 'pol'. Did you mean 'poll'?" in result.stderr
