"""``benchmarks/bench_workers.py`` stays runnable: a tiny run on the test PostgreSQL, its report read (never timed)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import PROJECT
from tests.support.dbfixtures import TEST_DATABASE_URL

BENCH = PROJECT / "benchmarks" / "bench_workers.py"


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs MONITOR_TEST_DATABASE_URL (PostgreSQL)")
def test_the_workers_benchmark_runs_at_a_tiny_size() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--feeds", "40", "--entries", "1", "--hosts", "2", "--workers", "2"]
        + ["--full-text-feeds", "1", "--full-text-workers", "1", "--database", TEST_DATABASE_URL],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    shared, full = (json.loads(line.split("| runs: ")[1]) for line in done.stdout.splitlines() if "| runs: " in line)
    first, second = shared["first"]["per_worker"], shared["second"]["per_worker"]
    assert [shared["workers"], len(first)] == [2, 2]
    # every feed polled once in each cycle, across the two workers; the second cycle all 304s
    assert sum(w["feeds"] for w in first) == 40 and sum(w["entries"] for w in first) == 40
    assert sum(w["feeds"] for w in second) == 40 and sum(w["not_modified"] for w in second) == 40
    assert shared["stored"]["articles"] == shared["stored"]["distinct_urls"] == 40
    assert sum(w["lock_statements"] for w in first) >= 1 and shared["samples"] >= 1
    assert full["full_text"] and sum(w["entries"] for w in full["first"]["per_worker"]) == 20
