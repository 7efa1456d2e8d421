"""Start-up benchmark: how long ``monitor --help`` takes, and how long ``monitor poll`` takes to send its first request.

Run: ``.venv/bin/python benchmarks/bench_startup.py [--runs 10] [--write]``.
Each command runs as a fresh process (``python -m monitor``), as a user starts it. ``poll`` runs on a deployment in a
temporary folder: a config with the shipped rules (``full_text`` on, as shipped) and one feed on a loopback server
in this process, which notes when the first request arrives: that is "ready to fetch" (settings read, rules loaded
and compiled, store opened and migrated, pipeline imported). Three cases: the deployment's very first poll (new
database, no compiled-rules cache: ``XDG_CACHE_HOME`` points at an empty folder), a first poll with the rules
already compiled once, and a later poll (database and cache in place: the usual ``monitor poll``). CPU time
(user + system of the child) is reported beside wall time: on a shared machine it moves less. The modules' bytecode
is compiled once before the clock (a warm-up poll) and kept in a temporary ``PYTHONPYCACHEPREFIX``, as an installed
package has its ``.pyc`` files, whatever ``PYTHONDONTWRITEBYTECODE`` says.
``--root DIR`` runs another checkout's code (``DIR`` first on ``PYTHONPATH``), to compare before and after.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.docs_section import write_section  # noqa: E402
from monitor.demo import demo_articles, rss_feed  # noqa: E402
from monitor.starter import SHIPPED_RULES  # noqa: E402

__all__ = ["Sample", "main", "measure"]

#: Goals (issue 16): wall seconds.
HELP_GOAL = 0.3
POLL_GOAL = 1.0


@dataclass(frozen=True)
class Sample:
    """One process: wall seconds to the event measured (exit, or the first request), and the CPU seconds it had
    used by then (user + system: on a loaded machine this moves much less than wall time)."""

    wall: float
    cpu: float


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a running process has used (``/proc``), None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _FirstRequest:
    """A loopback site with one small feed; ``arrived`` holds the ``perf_counter`` of the latest first request and
    ``cpu`` the CPU seconds the polling process (``pid``) had used by then."""

    def __init__(self) -> None:
        self.arrived: float | None = None
        self.cpu: float | None = None
        self.pid = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/feed.xml"
        self.feed = rss_feed(demo_articles()[:2], self.url.removesuffix("/feed.xml")).encode()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if site.arrived is None:
                    site.arrived = time.perf_counter()
                    site.cpu = _cpu_seconds(site.pid)
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(site.feed)))
                self.end_headers()
                self.wfile.write(site.feed)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _env(root: Path, cache: Path, bytecode: Path) -> dict[str, str]:
    """The child's environment: ``root``'s code first, ``cache`` as its cache folder, and its modules' bytecode
    kept in ``bytecode``. An installed monitor has its ``.pyc`` files (pip compiles them): a checkout run with
    ``PYTHONDONTWRITEBYTECODE`` (set in some shells and CI) would compile every module from source at every
    start, about a third of ``monitor poll``'s start-up, which no user pays."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    env["PYTHONPYCACHEPREFIX"] = str(bytecode)
    env["XDG_CACHE_HOME"] = str(cache)
    return env


def _run(argv: Sequence[str], env: dict[str, str], cwd: Path, site: _FirstRequest | None = None) -> Sample:
    """Run one process; with ``site``, measure to its first request there, else to its exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    child = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if site is not None:
        site.pid = child.pid
    _, errors = child.communicate()
    ended = time.perf_counter()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({child.returncode}): {errors.decode(errors='replace')[-2000:]}")
    if site is None:
        return Sample(ended - started, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    if site.arrived is None or site.cpu is None:
        raise SystemExit(f"{' '.join(argv)} exited without fetching the feed")
    return Sample(site.arrived - started, site.cpu)


def _config(folder: Path, feed_url: str) -> Path:
    config = folder / "config.toml"
    config.write_text(
        f"""[database]
url = "sqlite:///monitor.db"
[fetch]
allow_private = true
[rules]
paths = ["{SHIPPED_RULES.as_posix()}"]
[[feeds]]
name = "loopback"
url = "{feed_url}"
full_text = false
""",
        encoding="utf-8",
    )
    return config


@contextmanager
def _deployment(site: _FirstRequest) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        folder = Path(tmp)
        _config(folder, site.url)
        yield folder


def measure(runs: int, root: Path = ROOT, python: str = sys.executable) -> dict[str, list[Sample]]:
    """``runs`` fresh processes of each case; returns the samples by case name."""
    monitor = [python, "-m", "monitor"]
    site = _FirstRequest()
    out: dict[str, list[Sample]] = {k: [] for k in ("help", "version", "poll_new", "poll_compiled", "poll_again")}

    def poll(folder: Path, cache: Path) -> Sample:
        site.arrived = site.cpu = None
        argv = [*monitor, "-q", "-c", str(folder / "config.toml"), "poll", "--no-deliver"]
        return _run(argv, _env(root, cache, bytecode), folder, site)

    try:
        with tempfile.TemporaryDirectory(prefix="bench-startup-cache-") as tmp:
            warm, bytecode = Path(tmp) / "warm", Path(tmp) / "bytecode"
            with _deployment(site) as folder:  # not measured: compiles every module's bytecode once
                poll(folder, warm)
            for _ in range(runs):
                cold = Path(tmp) / "cold"
                shutil.rmtree(cold, ignore_errors=True)
                out["help"].append(_run([*monitor, "--help"], _env(root, warm, bytecode), Path(tmp)))
                out["version"].append(_run([*monitor, "--version"], _env(root, warm, bytecode), Path(tmp)))
                with _deployment(site) as folder:
                    out["poll_new"].append(poll(folder, cold))
                with _deployment(site) as folder:
                    out["poll_compiled"].append(poll(folder, cold))
                    out["poll_again"].append(poll(folder, cold))
    finally:
        site.close()
    return out


_LABELS = {
    "help": "`monitor --help`",
    "version": "`monitor --version`",
    "poll_new": "`monitor poll`, first request: new deployment (new database, rules not compiled yet)",
    "poll_compiled": "`monitor poll`, first request: new database, rules compiled by an earlier run",
    "poll_again": "`monitor poll`, first request: a later poll (database and compiled rules in place)",
}


def table(samples: dict[str, list[Sample]]) -> str:
    """A markdown table: median and best wall time, median CPU time, and the goal where there is one."""
    rows = ["| command | median wall | best wall | median CPU by then | goal (wall) |", "|---|---:|---:|---:|---|"]
    for key, label in _LABELS.items():
        got = samples[key]
        wall = statistics.median(s.wall for s in got)
        goal = {"help": HELP_GOAL, "poll_again": POLL_GOAL, "poll_compiled": POLL_GOAL}.get(key)
        verdict = "" if goal is None else f"< {goal:g} s: {'met' if wall < goal else '**not met**'}"
        rows.append(
            f"| {label} | {wall:.3f} s | {min(s.wall for s in got):.3f} s | "
            f"{statistics.median(s.cpu for s in got):.3f} s | {verdict} |"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="processes per case (median reported)")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose code runs (default: this one)")
    parser.add_argument("--write", action="store_true", help="replace the section of docs/benchmarks.md")
    args = parser.parse_args(argv)
    samples = measure(args.runs, args.root.resolve())
    text = table(samples)
    print(text)
    load = os.getloadavg()[0]
    print(f"{args.runs} runs per case, {os.cpu_count()} CPUs, load average {load:.1f} at the end")
    if args.write:
        write_section(
            "Start-up",
            f"## Start-up\n\n`python benchmarks/bench_startup.py --runs {args.runs}` ({os.cpu_count()} CPUs, load "
            f"average {load:.1f} at the end).\n\n{text}\n",
        )


if __name__ == "__main__":
    main()
