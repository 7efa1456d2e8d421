"""Full-text extraction benchmark: throughput with one and two worker processes, our wrapper's overhead over bare
trafilatura, and extraction quality (P/R/F1) on the article-extraction benchmark's 181 real pages.

* Throughput: ``ExtractorPool(n).map`` over all pages (bytes as fetched), after a warm-up batch, best of rounds
  (one- and two-process rounds interleaved).
* Overhead: per page, in one process, ``extract_html(bytes, url)`` against
  ``trafilatura.bare_extraction(bytes, url=…, with_metadata=True, include_comments=False, deduplicate=False)``,
  interleaved page by page so that machine noise hits both alike; the median of per-page ratios and the ratio of
  totals are reported (the wrapper adds decoding, the size checks, the date's time zone and language detection).
* Quality: the benchmark's own metric (see tests/extract/test_quality.py) on the pool's results, against bare
  trafilatura's text on the same pages; the ground-truth shingles the furniture detector removed (wrongly).
* Furniture detector (``monitor.furniture.split_tree``) alone: its time per page on trafilatura's element tree.

Usage: ``python benchmarks/bench_extract.py [--rounds 3] [--write]``; ``--write`` replaces the "## Extraction"
section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import trafilatura
import trafilatura.xml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.docs_section import write_section  # noqa: E402
from monitor.errors import ExtractError  # noqa: E402
from monitor.extract import extract_html  # noqa: E402
from monitor.extractpool import ExtractorPool
from monitor.furniture import split_tree  # noqa: E402
from tests.extract.test_quality import _shingles, benchmark_pages, score  # noqa: E402

_Pages = list[tuple[bytes, str]]


def _throughput(pages: _Pages, rounds: int) -> tuple[float, float, list[str]]:
    """Best pages/second with one and with two processes, rounds interleaved (1, 2, 1, 2, ...) so that load
    from other work on the machine hits both alike; and the texts of the last batch."""
    best = {1: 0.0, 2: 0.0}
    texts: list[str] = []
    with ExtractorPool(processes=1, timeout=30.0) as one, ExtractorPool(processes=2, timeout=30.0) as two:
        pools = {1: one, 2: two}
        for processes, pool in pools.items():
            pool.map(pages[: 4 * processes])  # start the workers
        for _ in range(rounds):
            for processes, pool in pools.items():
                started = time.perf_counter()
                results = pool.map(pages)
                best[processes] = max(best[processes], len(pages) / (time.perf_counter() - started))
                texts = [r.text if r is not None and not isinstance(r, ExtractError) else "" for r in results]
    return best[1], best[2], texts


def _direct(html: bytes, url: str) -> object:
    return trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False, deduplicate=False)


def _overhead(pages: _Pages, rounds: int) -> tuple[float, float, float, float]:
    """(median per-page ratio - 1, total ratio - 1, ms per page direct, ms per page ours), best of rounds each."""
    extract_html(*pages[0])  # load the language model outside the clock
    direct = [float("inf")] * len(pages)
    ours = [float("inf")] * len(pages)
    for _ in range(rounds):
        for i, (html, url) in enumerate(pages):
            started = time.perf_counter()
            _direct(html, url)
            middle = time.perf_counter()
            extract_html(html, url)
            direct[i] = min(direct[i], middle - started)
            ours[i] = min(ours[i], time.perf_counter() - middle)
    median = statistics.median(o / d for o, d in zip(ours, direct, strict=True)) - 1
    total = sum(ours) / sum(direct) - 1
    return median, total, 1000 * sum(direct) / len(pages), 1000 * sum(ours) / len(pages)


def _render(tree: Any) -> str:
    return trafilatura.xml.xmltotxt(tree, False)


def _detector(pages: _Pages, truths: list[str], texts: list[str], rounds: int) -> dict[str, float]:
    """Bare trafilatura's scores, the truth shingles our text lost against it, and the detector's ms per page."""
    docs = [_direct(html, url) for html, url in pages]
    bare = [getattr(doc, "text", None) or "" for doc in docs]
    lost = sum(
        sum(((_shingles(t) & _shingles(b)) - (_shingles(t) & _shingles(o))).values())
        for t, b, o in zip(truths, bare, texts, strict=False)
    )
    best = float("inf")
    for _ in range(rounds):
        bodies = [getattr(doc, "body", None) for doc in docs]
        trees = [copy.deepcopy(body) for body in bodies if body is not None]
        started = time.perf_counter()
        for tree in trees:
            split_tree(tree, "", _render)
        best = min(best, time.perf_counter() - started)
    precision, recall, f1 = score(truths, bare)
    return {
        "bare_precision": precision,
        "bare_recall": recall,
        "bare_f1": f1,
        "lost": lost,
        "truth": sum(sum(_shingles(t).values()) for t in truths),
        "detector_ms": 1000 * best / len(pages),
    }


def run(rounds: int) -> dict[str, float]:
    pages, truths = benchmark_pages()
    one, two, texts = _throughput(pages, rounds)
    precision, recall, f1 = score(truths, texts)
    median, total, direct_ms, ours_ms = _overhead(pages, max(1, rounds - 1))
    return {
        "pages": len(pages),
        "one": one,
        "two": two,
        "speedup": two / one,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "overhead_median": median,
        "overhead_total": total,
        "direct_ms": direct_ms,
        "ours_ms": ours_ms,
        "cpus": os.cpu_count() or 0,
        **_detector(pages, truths, texts, rounds),
    }


def to_markdown(r: dict[str, float]) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"""## Extraction

`python benchmarks/bench_extract.py --write` ({int(r["pages"])} real article pages of the scrapinghub
article-extraction benchmark, bytes as fetched; {int(r["cpus"])} CPUs, load average {load:.1f} at the end of the
run: other work shared the machine, so throughput is a floor).

| measure | value | goal |
|---|---|---|
| throughput, 1 process | {r["one"]:.0f} pages/s | |
| throughput, 2 processes | {r["two"]:.0f} pages/s ({r["speedup"]:.2f}x) | >= 1.7x |
| wrapper overhead per article (median of per-page ratios) | {100 * r["overhead_median"]:+.1f}% | < 20% |
| wrapper overhead, all pages | {100 * r["overhead_total"]:+.1f}% ({r["direct_ms"]:.1f} -> {r["ours_ms"]:.1f} ms/page) | |
| precision / recall / F1 (benchmark metric) | {r["precision"]:.3f} / {r["recall"]:.3f} / {r["f1"]:.3f} | F1 >= 0.965, R >= 0.975 |
| bare trafilatura 2.3.1 on the same bytes | {r["bare_precision"]:.3f} / {r["bare_recall"]:.3f} / {r["bare_f1"]:.3f} | |
| furniture detector alone (`split_tree`, best of rounds) | {r["detector_ms"]:.2f} ms/page | small |
| ground-truth shingles the detector removed | {int(r["lost"])} of {int(r["truth"])} ({100 * r["lost"] / r["truth"]:.2f}%) | |

trafilatura 2.0.0 published F1 0.958 (P 0.938, R 0.978) on the same pages with `extract(html,
include_comments=False)`. Our path (`extract_html`: our decoding, `bare_extraction` with metadata, no
deduplication) gives trafilatura's own text, then splits the page furniture off it (`monitor.furniture`,
docs/fetching.md): related and most-read lists, "Read more: …" lines, promos, credits, comments, and the headline
repeated above the story. That raises precision by about 0.017 for a recall cost of about 0.002: most of the removed
truth shingles are copyright lines, photo credits and captions after the story that this benchmark counts as body.
The wrapper's other costs are language detection (py3langid on the first 5,000 characters) and the browser-style
decoding. The overhead rows move by several points between runs when other work loads the machine: measured back
to back under a load average of 3, `extract_html` with and without the detector came out at +15% to +22% either
way (the page-by-page A/B in one process: 24.4 ms with the detector, 22.8 ms with it stubbed, 19.4 ms bare
trafilatura); the detector's own cost is its row (0.7 ms/page; 2.4 ms before a cheap word test ran ahead of its
promo and comment patterns), about 3% of a page's extraction.

Settings checked on the same pages (trafilatura's text, before the detector): `favor_recall=True` F1 0.959
(P 0.941, R 0.979) and `favor_precision=True` F1 0.964 (P 0.958, R 0.971: it drops real paragraphs);
`include_tables=False` F1 0.957 (R 0.972); `include_links=False, include_images=False` and
`prune_xpath=["//aside", "//nav", "//footer"]` changed nothing (trafilatura prunes those already). The default
balanced mode (which already retries short extractions in recall mode) stays, and the detector does the rest.
Detector rules tried and dropped on these pages: two or more bare headline paragraphs in a row inside the body as
furniture (F1 0.965, 888 truth shingles lost: meal plans, programme listings), a run of two headline-like lines
before the story instead of three (no gain, 11 more lost).
Pathological pages (measured in one process): 20,000 link blocks (80,000 `<`) take ~9 s and meet the pool's
per-page limit; pages with more than 100,000 `<` are refused before parsing; 200,000 nested `<div>`s cost 0.4 s
(libxml2 caps the depth); markup past 5,000,000 characters is cut off; a tag longer than 20,000 characters loses its
attributes (`clean.bound_tags`; libxml2 is quadratic in one tag's attributes: 100,000 of them took 327 s; quoted
values are read whole, so `a=">"` cannot hide the tag). The detector judges at most 5,000 blocks a page and reads
at most 400 characters of each with its patterns: 100,000 short lines of text cost ~0.2 s.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    section = to_markdown(run(args.rounds))
    print(section)
    if args.write:
        write_section("Extraction", section)


if __name__ == "__main__":
    main()
