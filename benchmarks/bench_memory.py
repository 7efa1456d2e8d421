"""Memory benchmark: peak memory of the whole process tree of ``monitor poll`` polling N loopback feeds with full text.

Run: ``.venv/bin/python benchmarks/bench_memory.py [--feeds 500] [--entries 20] [--processes N] [--write]``.
The feeds and their article pages are served by threaded HTTP servers in this process, spread over loopback hosts
(127.0.0.1, .2, ...) as in ``bench_poll.py``; ``monitor poll`` runs as its own process on a fresh deployment (a
config with the shipped rules, ``full_text`` on, a new SQLite file), and every process of its tree (the poller,
the forkserver, the extraction workers) is sampled every ``--interval`` seconds from ``/proc``:

- *RSS*: the sum of the tree's resident sets at the sample with the highest sum (what ``ps`` adds up: pages shared
  between processes, such as the workers' copy-on-write ones, count once per process);
- *PSS*: the same with each shared page divided among the processes that share it (``smaps_rollup``): what the
  tree costs the machine;
- *HWM*: each process's own peak (``VmHWM``) summed over every process seen: an upper bound on the tree's peak RSS
  that no sampling gap can miss.

Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.docs_section import write_section  # noqa: E402
from monitor.demo import DemoArticle, article_page, demo_articles, rss_feed  # noqa: E402
from monitor.starter import SHIPPED_RULES  # noqa: E402

__all__ = ["Peak", "main", "measure"]

#: Goal (issue 16): the tree's peak RSS, MB.
GOAL_MB = 400
_FILLER = (
    "ministry officials province workers court report government week village market company minister "
    "investigation labour rights economy tourism farmers rice rubber exports festival weather school road "
    "bridge hospital election budget students teachers prices fuel harvest river season council"
).split()


class _Site:
    """``feeds`` RSS feeds of ``entries`` articles each (a seed story plus 400-900 words), on ``hosts`` servers."""

    def __init__(self, feeds: int, entries: int, hosts: int) -> None:
        rng = random.Random(7)
        seeds = demo_articles()
        now = datetime.now(UTC)
        self.pages: dict[str, bytes] = {}
        self.servers = [ThreadingHTTPServer((f"127.0.0.{h + 1}", 0), self._handler()) for h in range(hosts)]
        self.feed_urls: list[str] = []
        for f in range(feeds):
            host, port = self.servers[f % hosts].server_address[:2]
            base = f"http://{host}:{port}"
            articles = []
            for i in range(entries):
                seed = seeds[rng.randrange(len(seeds))]
                filler = " ".join(rng.choice(_FILLER) for _ in range(rng.randint(400, 900)))
                slug = hashlib.sha1(f"{f}-{i}".encode()).hexdigest()[:12]
                body = f"{seed.body}\n{filler.capitalize()}."
                articles.append(DemoArticle(slug, f"{seed.title} ({f}-{i})", body, now - timedelta(minutes=i)))
            self.pages[f"/feeds/{f}.xml"] = rss_feed(articles, base).encode()
            for a in articles:
                self.pages[f"/news/{a.slug}.html"] = article_page(a, articles[:4]).encode()
            self.feed_urls.append(f"{base}/feeds/{f}.xml")
        for server in self.servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                data = pages.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                kind = "text/html" if self.path.endswith(".html") else "application/rss+xml"
                self.send_response(200)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


def _config(folder: Path, feed_urls: Sequence[str], processes: int | None) -> Path:
    lines = [
        "[database]",
        'url = "sqlite:///monitor.db"',
        "[fetch]",
        "allow_private = true",
        "full_text = true",
        *([f"extract_processes = {processes}"] if processes else []),
        "[rules]",
        f'paths = ["{SHIPPED_RULES.as_posix()}"]',
    ]
    for i, url in enumerate(feed_urls):
        lines += ["[[feeds]]", f'name = "feed-{i}"', f'url = "{url}"']
    config = folder / "config.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _tree(root: int) -> list[tuple[int, str]]:
    """Every process under ``root`` (itself included) with its role: the poller, the forkserver, the extraction
    workers it forks, or another helper (multiprocessing's resource tracker)."""
    children, out = _children(), [(root, "poller")]
    for pid in children.get(root, ()):
        role = _role(pid)
        out.append((pid, role))
        out.extend((worker, "worker") for worker in children.get(pid, ()) if role == "forkserver")
    return out


def _kb(path: str, *fields: str) -> dict[str, int]:
    found: dict[str, int] = {}
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                name = line.split(":", 1)[0]
                if name in fields:
                    found[name] = int(line.split()[1])
    except OSError:
        pass
    return found


@dataclass
class Peak:
    """The highest sums seen (MB), the processes of the RSS peak, and the run's wall time."""

    rss: float = 0.0
    pss: float = 0.0
    hwm: dict[int, float] = field(default_factory=dict)
    at_peak: list[tuple[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    processes: int = 0

    @property
    def hwm_sum(self) -> float:
        return sum(self.hwm.values())


def _role(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            command = f.read()
    except OSError:
        return "?"
    if b"forkserver" in command:
        return "forkserver"
    return "tracker" if b"resource_tracker" in command else "helper"


def _sample(root: int, peak: Peak) -> None:
    rss_sum = pss_sum = 0.0
    rows = []
    for pid, role in _tree(root):
        status = _kb(f"/proc/{pid}/status", "VmRSS", "VmHWM")
        rss = status.get("VmRSS", 0) / 1024
        if not rss:
            continue
        peak.hwm[pid] = max(peak.hwm.get(pid, 0.0), status.get("VmHWM", 0) / 1024)
        pss_sum += _kb(f"/proc/{pid}/smaps_rollup", "Pss").get("Pss", 0) / 1024
        rss_sum += rss
        rows.append((role, rss))
    peak.processes = max(peak.processes, len(rows))
    peak.pss = max(peak.pss, pss_sum)
    if rss_sum > peak.rss:
        peak.rss, peak.at_peak = rss_sum, sorted(rows, key=lambda r: -r[1])


def _command() -> list[str]:
    """The ``monitor`` console script beside this Python, as a user runs it (its forkserver then preloads the
    script's imports, as a user's does), else ``python -m monitor``."""
    script = Path(sys.executable).with_name("monitor")
    return [str(script)] if script.exists() else [sys.executable, "-m", "monitor"]


def measure(
    feeds: int, entries: int, hosts: int, processes: int | None, interval: float = 0.1, root: Path = ROOT
) -> Peak:
    """One ``monitor poll`` of a fresh deployment; its tree's peaks. ``root``: the checkout whose code runs."""
    site = _Site(feeds, entries, hosts)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
            folder = Path(tmp)
            config = _config(folder, site.feed_urls, processes)
            env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
            env["XDG_CACHE_HOME"] = str(folder / "cache")
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
            argv = [*_command(), "-q", "-c", str(config), "poll", "--no-deliver"]
            peak = Peak()
            started = time.perf_counter()
            child = subprocess.Popen(argv, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            errors: list[bytes] = []
            reader = threading.Thread(target=lambda: errors.append(child.stderr.read() if child.stderr else b""))
            reader.start()
            while child.poll() is None:
                _sample(child.pid, peak)
                time.sleep(interval)
            peak.seconds = time.perf_counter() - started
            reader.join()
            if child.stderr is not None:
                child.stderr.close()
            if child.returncode not in (0, 1):
                raise SystemExit(f"monitor poll failed ({child.returncode}): {b''.join(errors).decode()[-2000:]}")
            return peak
    finally:
        site.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=25, help="loopback hosts the feeds are spread over")
    parser.add_argument("--processes", type=int, default=None, help="[fetch] extract_processes (default: cores)")
    parser.add_argument("--runs", type=int, default=1, help="polls of fresh deployments (median reported)")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between samples")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose code runs (default: this one)")
    parser.add_argument("--write", action="store_true", help="replace the section of docs/benchmarks.md")
    args = parser.parse_args(argv)
    peaks = [
        measure(args.feeds, args.entries, args.hosts, args.processes, args.interval, args.root.resolve())
        for _ in range(args.runs)
    ]
    for i, p in enumerate(peaks, 1):
        at_peak = ", ".join(f"{name} {mb:.0f}" for name, mb in p.at_peak)
        print(
            f"run {i}: RSS {p.rss:.0f} MB ({at_peak}), PSS {p.pss:.0f} MB, HWM sum {p.hwm_sum:.0f} MB, "
            f"{p.processes} processes, {p.seconds:.1f} s"
        )
    rss = statistics.median(p.rss for p in peaks)
    verdict = "met" if rss < GOAL_MB else "**not met**"
    workers = args.processes or os.cpu_count()
    row = (
        f"| {args.feeds} feeds × {args.entries} entries, full text, {workers} extraction processes | "
        f"{rss:.0f} MB | {statistics.median(p.pss for p in peaks):.0f} MB | "
        f"{statistics.median(p.hwm_sum for p in peaks):.0f} MB | {statistics.median(p.seconds for p in peaks):.0f} s |"
    )
    print(row)
    print(f"goal: tree RSS < {GOAL_MB} MB: {verdict}")
    if args.write:
        write_section(
            "Memory",
            "## Memory\n\n"
            f"`python benchmarks/bench_memory.py --feeds {args.feeds} --entries {args.entries} --runs {args.runs}` "
            f"({os.cpu_count()} CPUs; median of {args.runs}).\n\n"
            "| run | peak RSS of the tree | peak PSS | sum of each process's peak | poll time |\n"
            "|---|---:|---:|---:|---:|\n"
            f"{row}\n",
        )


if __name__ == "__main__":
    main()
