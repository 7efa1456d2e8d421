"""``benchmarks/bench_poll.py`` stays runnable: a tiny run of every part, its report read (never timed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EVAL, PROJECT

BENCH = PROJECT / "benchmarks" / "bench_poll.py"


@pytest.mark.slow
def test_the_poll_benchmark_runs_at_a_tiny_size() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "4x3", "--full-text-feeds", "1", "--hosts", "2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    shared, full = (json.loads(line.split("| runs: ")[1]) for line in lines)
    run = shared["monitor"][0]
    assert (run["entries"], run["articles"], run["errors"]) == (12, 12, [0, 0])
    assert run["second_statuses"] == ["not_modified"] and run["lag_p99_ms"] >= 0
    assert full["monitor"][0]["entries"] == 20 and full["pool"][0]["pages"] == 20  # one feed of 20 pages
    # the full-text part says which pages it served: the extraction benchmark's real ones when they are there
    pages = "real" if (EVAL / "extraction-benchmark" / "ground-truth.json").exists() else "synthetic"
    assert f", {pages} pages |" in lines[1]


def test_the_reader_side_never_imports_monitor() -> None:
    """reader runs in its own venv, where monitor is not installed."""
    source = (PROJECT / "benchmarks" / "reader_side.py").read_text(encoding="utf-8")
    assert "import monitor" not in source and "from monitor" not in source


def test_a_reader_run_when_its_venv_is_there(tmp_path: Path) -> None:
    python = PROJECT / "benchmarks" / ".reader-venv" / "bin" / "python"
    if not python.exists():
        pytest.skip("no benchmarks/.reader-venv (bench_poll.py --against-reader makes it)")
    sys.path.insert(0, str(PROJECT / "benchmarks"))
    import bench_poll

    with bench_poll.serve(3, 2, 1, 0) as urls:
        (tmp_path / "urls.json").write_text(json.dumps(urls))
        result = bench_poll.run_reader(python, tmp_path / "urls.json", tmp_path)
    assert result["entries"] == 6 and result["errors"] == [0, 0] and result["not_modified"] == [0, 3]
