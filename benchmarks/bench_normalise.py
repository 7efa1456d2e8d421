"""Normalisation of real articles: the per-article cost every rule set pays, and the first word span of a match.

The matcher normalises each field once (``monitor.rules.text.normalise``); a matched article then needs word
offsets for its hits. Synthetic benchmark articles are ASCII, real ones are not: this runs both steps over the
human-written article bodies of the extraction benchmark (``../shared/eval``) that are 3,000-8,000 characters long.

Usage: ``python benchmarks/bench_normalise.py [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.rules.text import normalise  # noqa: E402
from tests.conftest import EVAL  # noqa: E402

GROUND_TRUTH = EVAL / "extraction-benchmark" / "ground-truth.json"


def _best_of(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _middle_span(body: str) -> None:
    field = normalise(body)
    middle = len(field.words) // 2
    field.spans([(middle, middle)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    bodies = [v["articleBody"] for v in json.loads(GROUND_TRUTH.read_text()).values()]
    bodies = [b for b in bodies if 3000 <= len(b) <= 8000]
    norm_us, span_us = [], []
    for body in bodies:
        norm = _best_of(lambda body=body: normalise(body), args.repeats)
        both = _best_of(lambda body=body: _middle_span(body), args.repeats)
        norm_us.append(norm * 1e6)
        span_us.append(max(0.0, both - norm) * 1e6)
    ascii_only = sum(b.isascii() for b in bodies)
    print(f"{len(bodies)} articles ({ascii_only} pure ASCII); best of {args.repeats}")
    print(
        f"normalise: mean {statistics.mean(norm_us):.0f} us, median {statistics.median(norm_us):.0f} us, "
        f"max {max(norm_us):.0f} us"
    )
    print(f"first span of a matched article: mean {statistics.mean(span_us):.0f} us, max {max(span_us):.0f} us")


if __name__ == "__main__":
    main()
