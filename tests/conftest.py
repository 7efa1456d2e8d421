"""Shared fixtures: a clean environment per test, the store fixtures, the project's paths; the suite's xdist and
Hypothesis set-up (CONTRIBUTING.md, "Tests in parallel")."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

PROJECT = Path(__file__).resolve().parent.parent
# Third-party evaluation data (docs/benchmarks.md, "Evaluation data"): beside the checkout as shared/eval, or where
# MONITOR_EVAL_DIR points. Tests that read it skip without it, saying how to get it.
EVAL = Path(os.environ.get("MONITOR_EVAL_DIR") or PROJECT.parent / "shared" / "eval")


def needs_eval(path: Path) -> pytest.MarkDecorator:
    """Skip unless ``path`` (inside ``EVAL``) exists, with a reason that says how to get the data."""
    return pytest.mark.skipif(
        not path.exists(),
        reason=(
            f"third-party evaluation data not found at {path}: get it as docs/benchmarks.md "
            "('Evaluation data') says, or set MONITOR_EVAL_DIR"
        ),
    )


# Read before the autouse fixture clears MONITOR_* for each test.
TEST_DATABASE_URL = os.environ.get("MONITOR_TEST_DATABASE_URL", "")

# A terminal's size does not reach the CLI's tables: rich fixes a console's width from COLUMNS when the console is
# made (at import), and an xdist worker inherits COLUMNS=80 from its parent (readline exports it there), so tables
# would fold where a serial run's do not. Tests that care set COLUMNS for the call (CliRunner's env).
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)

# Property tests draw the same examples on every run (a seed from each test's own source), so a run passes or
# fails the same way whichever worker takes the test and however busy the machine is; the time health check is
# off for the same reason. `pytest --hypothesis-profile=explore` draws new examples and keeps failures in
# .hypothesis/ to replay them, for hunting bugs on purpose.
settings.register_profile(
    "suite", derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("explore", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Without pytest-xdist (``-p no:xdist``) the ``--numprocesses``/``--dist`` of addopts are accepted and
    ignored, so the README's command still runs, in one process."""
    if not pluginmanager.has_plugin("xdist"):
        group = parser.getgroup("xdist", "stand-ins while pytest-xdist is disabled")
        group.addoption("--numprocesses", dest="numprocesses", default=None, help="ignored without pytest-xdist")
        group.addoption("--dist", dest="dist", default="no", help="ignored without pytest-xdist")


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The compiled-rules cache (``monitor.rules.cache``) of this run in its own folder, not in ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No MONITOR_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("MONITOR_"):
            monkeypatch.delenv(name)
    yield


@pytest.fixture
def project() -> Path:
    return PROJECT


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``--dist loadgroup`` the tests of a module that share a module-scoped fixture (a poll of a page set, an
    installed wheel, a warm extraction worker) run on one worker, so the fixture is made once; the others spread
    test by test. Session-scoped fixtures (a loopback server, a browser) are one per worker anyway."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info is not None else ()
        if any(d.scope in ("module", "class") for chain in defs for d in chain):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Slow tests first (a stable sort): xdist hands tests out in this order, so the last ones to start are short
    and no worker is left running a 45-second corpus poll while the other one is idle."""
    session.items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _processes() -> dict[int, tuple[int, list[str]]]:
    """Live processes of this Python (``sys.executable``, this virtualenv): pid -> (parent pid, argv)."""
    found: dict[int, tuple[int, list[str]]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else ():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode("utf-8", "replace").split("\0")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile, or not ours to read
            continue
        if argv[0] == sys.executable and fields[0] != "Z":
            found[int(entry.name)] = (int(fields[1]), argv)
    return found


def _left_behind(before: set[int]) -> list[str]:
    """Processes the suite started that outlive it: a ``monitor`` daemon below this pytest, or a multiprocessing
    helper (forkserver, resource tracker, pool worker) whose owner is gone. Another test run's are not ours."""
    procs = _processes()
    helpers = {pid for pid, (_, argv) in procs.items() if any("multiprocessing" in arg for arg in argv)}
    left = []
    for pid, (parent, argv) in procs.items():
        if pid in before or pid == os.getpid():
            continue
        if pid in helpers:  # up through helpers to the owner: gone (reparented to init) or not
            for _ in range(100):
                if parent not in helpers:
                    break
                parent = procs[parent][0]
            if parent == 1 or not Path(f"/proc/{parent}").exists():
                left.append(f"{pid}: {' '.join(argv)[:160]}")
        elif "monitor" in argv[1:3] and parent == os.getpid():  # a daemon a test started and never stopped
            left.append(f"{pid}: {' '.join(argv)[:160]}")
    return left


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_BEFORE] = set(_processes())
    session.config.stash[_REPORTED] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The suite fails if a process it started (a daemon, an extraction worker) is still running after it.

    Under xdist each worker looks for its own (a daemon's parent is the worker) and hands the list to the controller
    (``workeroutput``), which fails the run: a worker's exit status does not reach the command line."""
    before = session.config.stash.get(_BEFORE, set())
    deadline = time.monotonic() + 5.0  # an orphaned worker notices its owner is gone within a second
    while (left := _left_behind(before)) and time.monotonic() < deadline:
        time.sleep(0.2)
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["left_behind"] = left
        return
    left += session.config.stash.get(_REPORTED, [])
    if left:
        print("\nprocesses left running by the test suite:\n  " + "\n  ".join(left), file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the xdist controller: collect what a finished worker found left running."""
    left = getattr(node, "workeroutput", {}).get("left_behind", [])
    node.config.stash.setdefault(_REPORTED, []).extend(f"{node.gateway.id}: {line}" for line in left)


_BEFORE = pytest.StashKey[set[int]]()
_REPORTED = pytest.StashKey[list[str]]()


# The fixtures of the support modules, registered once for every test (a test names them as parameters).
from tests.support.chat import chat_server  # noqa: E402, F401
from tests.support.dbfixtures import store, store_url  # noqa: E402, F401
from tests.support.hostile import hostile_server  # noqa: E402, F401
from tests.support.newssite import news_site  # noqa: E402, F401
from tests.support.smtp import smtp_server  # noqa: E402, F401
from tests.support.webapp import (  # noqa: E402, F401
    browser_page,
    chromium_browser,
    client,
    live_server,
    live_server_factory,
    locked,
    web_deployment,
    web_monitor,
)
