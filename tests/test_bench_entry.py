"""The per-entry benchmark stays runnable (a tiny size, not timed)."""

from __future__ import annotations

import importlib.util

from tests.conftest import PROJECT


def test_entry_benchmark_smoke() -> None:
    spec = importlib.util.spec_from_file_location("_bench_entry", PROJECT / "benchmarks" / "bench_entry.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = bench.run(repeats=1, limit=4)
    assert results["labelled"]["entries"] == 4
    for row in results.values():
        assert row["story keys"] > 0 and row["language"] > 0 and row["matching (shipped rules)"] > 0
    markdown = bench.to_markdown(results, 1)
    assert markdown.startswith("## Per-entry work") and "| labelled | 4 |" in markdown
