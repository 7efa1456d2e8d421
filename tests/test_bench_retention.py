"""``benchmarks/bench_retention.py`` stays runnable: a tiny store, one prune, the next, a copy (not timed)."""

from __future__ import annotations

from benchmarks import bench_retention


def test_the_retention_benchmark_runs_at_a_tiny_size() -> None:
    found = bench_retention.main(["--articles", "600"])
    assert found["pruned"] + found["kept"] == 239  # fetched over 180 of 300 days ago: ids 1-239
    assert found["kept"] == 2 and found["stories"] == found["pruned"] and found["copy verified"] is True
