"""The shipped rules on long articles: a passing mention is not a story about the topic.

A long article (several thousand words) that names Cambodia in one paragraph (a border clash) and scam centres in
another, far away, is not about Cambodian scam centres. The shipped rules say "in the same passage" with ``NEAR``:
the place must stand within a few dozen words of an operation, or in the headline (docs/shipped-rules.md).

Checks:
- on tests/data/labelled/long.yaml (long articles written blind, labelled like holdout.yaml): per-article precision
  and recall and per-(article, rule) recall >= 0.9, per-(article, rule) precision >= 0.8;
- real long article bodies on other topics (the extraction benchmark's ground truth, when present) with a Cambodia
  sentence near the top and a scam-centre sentence at the end raise no alert, and the same two sentences side by
  side raise the alert: the distance, not the words, makes the difference.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import EVAL, needs_eval
from tests.rules.test_shipped import _fired, _load_labelled, _report, _score

_ARTICLES = EVAL / "extraction-benchmark" / "ground-truth.json"
_MIN = 0.9
_MIN_PAIR_PRECISION = 0.8

# (the place in passing, the topic in passing, a rule the two fire when they stand in one passage)
_PASSING = [
    (
        "It was a year of floods, a crane collapse and border clashes with Cambodia.",
        "Voters also worry about scam centres along the border that are notorious for forced labour and human"
        " trafficking.",
        "kh-scam-trafficking",
    ),
    (
        "Hotels on the coast filled with tourists from Cambodia and Vietnam.",
        "In Jakarta, police arrested 12 people who ran an online gambling website and blocked 300 Indonesian sites.",
        "kh-gambling-crackdown",
    ),
    (
        "Exports to Cambodia rose four percent, the ministry said.",
        "Police raided a building used as a scam centre and detained 300 people.",
        "kh-scam-crackdown",
    ),
]


def test_precision_and_recall_on_long_articles() -> None:
    docs = _load_labelled("long.yaml")
    assert len(docs) >= 30
    assert sum(1 for d in docs if not d.match) >= 10  # passing mentions that must stay quiet
    assert min(len(d.text) for d in docs) >= 4000  # characters: 2,000+ words, or 4,000+ Chinese characters
    score, problems = _score(docs)
    _report("long.yaml", score, problems)
    # Per article (any alert at all) and per (article, rule) recall: >= 0.9. Per (article, rule) precision is lower
    # (0.84): what is left are secondary angles inside on-topic features (a paragraph on gambling-account freezes in a
    # story on rescued scam workers) that the writers did not label, and one property paragraph recalling the 2019
    # online-gambling ban (docs/shipped-rules.md, "Long articles").
    assert score.precision >= _MIN_PAIR_PRECISION, problems
    assert score.recall >= _MIN, problems
    assert score.doc_precision >= _MIN, problems
    assert score.doc_recall >= _MIN, problems


def _long_bodies() -> list[str]:
    bodies = [v.get("articleBody") or "" for v in json.loads(_ARTICLES.read_text(encoding="utf-8")).values()]
    return [b for b in bodies if len(b.split()) >= 1500 and b.count("\n") >= 8][:8]


@needs_eval(_ARTICLES)
@pytest.mark.parametrize(("place", "topic", "rule"), _PASSING, ids=[p[2] for p in _PASSING])
def test_place_and_topic_far_apart_do_not_alert(place: str, topic: str, rule: str) -> None:
    bodies = _long_bodies()
    assert len(bodies) >= 5
    for body in bodies:
        paragraphs = body.split("\n")
        far = "\n".join([paragraphs[0], place, *paragraphs[1:], topic])
        assert _fired("A long story", far) == set(), body[:80]
        assert rule in _fired("A long story", f"{body}\n{place} {topic}"), body[:80]
