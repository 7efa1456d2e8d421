"""The start-up and memory benchmarks run, at a tiny size (their numbers are in docs/benchmarks.md, not checked here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_startup_benchmark_runs() -> None:
    bench = _load("bench_startup")
    samples = bench.measure(1)
    assert {key: len(got) for key, got in samples.items()} == {
        "help": 1,
        "version": 1,
        "poll_new": 1,
        "poll_compiled": 1,
        "poll_again": 1,
    }
    assert all(s.wall > 0 and s.cpu > 0 for got in samples.values() for s in got)
    table = bench.table(samples)
    assert "`monitor --help`" in table and "< 1 s" in table


@pytest.mark.slow
def test_the_memory_benchmark_runs() -> None:
    bench = _load("bench_memory")
    peak = bench.measure(feeds=2, entries=1, hosts=1, processes=1, interval=0.05)
    roles = {role for role, _ in peak.at_peak}
    assert "poller" in roles and peak.processes >= 2
    assert 0 < peak.pss <= peak.rss <= peak.hwm_sum + 1
