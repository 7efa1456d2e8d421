"""Extraction quality on the article-extraction benchmark (scrapinghub, 181 real pages from 126 sites).

Every page goes through the pipeline's own path (gzip-stored bytes -> ``ExtractorPool`` -> ``extract_html``) and is
scored with the benchmark's metric, as its ``evaluate.py`` computes it: ``\\w+`` tokens (case kept), word 4-gram
shingles counted with multiplicity, per-page TP/FP/FN normalised by their sum; precision averaged over pages with a
prediction, recall over pages with a ground truth; F1 = 2PR/(P+R). trafilatura 2.0.0 published F1 0.958
(P 0.938, R 0.978); our text is the body without the furniture ``monitor.furniture`` splits off. A drop means our
settings, our decoding or the furniture detector lose something.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
from collections import Counter

import pytest

from monitor.errors import ExtractError
from monitor.extractpool import ExtractorPool
from tests.conftest import EVAL, needs_eval

BENCHMARK = EVAL / "extraction-benchmark"
_TOKEN = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)


def _shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    # evaluate.py: a text shorter than n tokens is one shingle of all its tokens; no tokens, no shingle
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n])


def _tp_fp_fn(true: str, pred: str) -> tuple[float, float, float]:
    truth, prediction = _shingles(true), _shingles(pred)
    tp = float(sum((truth & prediction).values()))
    fp = float(sum((prediction - truth).values()))
    fn = float(sum((truth - prediction).values()))
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


def score(truths: list[str], predictions: list[str]) -> tuple[float, float, float]:
    """(precision, recall, F1) over pages, as the benchmark's evaluate.py computes them."""
    counts = [_tp_fp_fn(t, p) for t, p in zip(truths, predictions, strict=True)]
    precision = statistics.mean(_precision(*c) for c in counts if c[0] + c[1] > 0)
    recall = statistics.mean(_recall(*c) for c in counts if c[0] + c[2] > 0)
    return precision, recall, 2 * precision * recall / (precision + recall)


def benchmark_pages() -> tuple[list[tuple[bytes, str]], list[str]]:
    """The benchmark's pages as fetched bytes with their URLs, and the ground-truth article bodies."""
    truth = json.loads((BENCHMARK / "ground-truth.json").read_text(encoding="utf-8"))
    ids = sorted(truth)
    pages = [(gzip.decompress((BENCHMARK / "html_gz" / f"{i}.html.gz").read_bytes()), truth[i]["url"]) for i in ids]
    return pages, [truth[i].get("articleBody", "") for i in ids]


def test_metric_matches_the_benchmark_definition() -> None:
    assert score(["a b c d e"], ["a b c d e"]) == (1.0, 1.0, 1.0)
    precision, recall, _ = score(["one two three four five six"], ["one two three four"])
    assert precision == 1.0 and recall == pytest.approx(1 / 3)
    # an empty prediction counts against recall and is left out of precision
    assert score(["one two three four", "x y z w"], ["one two three four", ""])[:2] == (1.0, 0.5)


@pytest.mark.slow
@needs_eval(BENCHMARK)
def test_benchmark_f1() -> None:
    pages, truths = benchmark_pages()
    with ExtractorPool(processes=2, timeout=30.0) as pool:
        results = pool.map(pages)
    errors = [r for r in results if isinstance(r, ExtractError)]
    assert not errors
    predictions = [r.text if r is not None and not isinstance(r, ExtractError) else "" for r in results]
    precision, recall, f1 = score(truths, predictions)
    # measured: P 0.959 R 0.976 F1 0.967 (trafilatura alone: P 0.942 R 0.978 F1 0.960); furniture removal must
    # raise precision without costing the bodies' recall
    assert f1 >= 0.965 and recall >= 0.974, f"P={precision:.3f} R={recall:.3f} F1={f1:.3f}"
