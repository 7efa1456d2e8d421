"""``benchmarks/bench_web.py`` stays runnable: a tiny store, one run, every case answered (not timed)."""

from __future__ import annotations

from benchmarks import bench_web


def test_the_web_benchmark_runs_at_a_tiny_size() -> None:
    found = bench_web.main(["--articles", "300", "--matches", "60", "--requests", "2", "--runs", "1"])
    assert set(bench_web.PAGES) < set(found)
    assert found["backtest articles"] > 0 and found["backtest rate"] > 0
