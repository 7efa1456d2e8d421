"""The shipped rule set (rules/*.yaml) against its labelled corpus, the seed expectations and real news feeds.

Loads ``rules/`` with the real loader (which also runs every rule's examples) and checks:
- every label of tests/data/labelled/corpus.yaml (the tuning corpus), and precision / recall >= 0.9 on it;
- precision / recall >= 0.9 on tests/data/labelled/holdout.yaml (written after tuning; only the totals are asserted);
- seeds/expectations.yaml, and that seed 004's page boilerplate plays no part in its matches;
- that ordinary world news (real feeds from ../shared/eval, when present) raises almost no alerts, and real
  article bodies on other topics (the extraction benchmark's ground truth) none.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.rules import Document, RuleSet, load_rules
from tests.conftest import EVAL, needs_eval

_ROOT = Path(__file__).resolve().parents[2]
_RULES = _ROOT / "rules"
_LABELLED = _ROOT / "tests" / "data" / "labelled"
_SEEDS = _ROOT / "seeds"
_NEWS_FEEDS = EVAL / "feeds" / "real" / "news"
_ARTICLES = EVAL / "extraction-benchmark" / "ground-truth.json"
_SEED_004 = "004_46fac9c3ab20f065.txt"
_BOILERPLATE_START = "Read-to-Earn opportunity"
_MIN_PRECISION = 0.9
_MIN_RECALL = 0.9


@cache
def _rules() -> RuleSet:
    return load_rules([_RULES])


def _rule_ids() -> set[str]:
    return {r.id for r in _rules().rules}


def _fired(title: str, text: str, lang: str | None = None) -> set[str]:
    return {m.rule.id for m in _rules().match(Document(title=title, text=text, lang=lang))}


@dataclass(frozen=True)
class _Labelled:
    id: str
    title: str
    text: str
    lang: str | None
    match: frozenset[str]
    may: frozenset[str]
    no_match: frozenset[str]  # explicit no_match plus every rule not in match or may


def _load_labelled(name: str) -> list[_Labelled]:
    raw = yaml.safe_load((_LABELLED / name).read_text(encoding="utf-8"))["documents"]
    out = []
    for d in raw:
        match = frozenset(d.get("match") or ())
        may = frozenset(d.get("may") or ())
        explicit = frozenset(d.get("no_match") or ())
        assert not (match & may) and not (match & explicit) and not (may & explicit), d["id"]
        no_match = explicit | (frozenset(_rule_ids()) - match - may)
        out.append(_Labelled(d["id"], d["title"], d["text"], d.get("lang"), match, may, no_match))
    return out


@dataclass
class _Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    doc_tp: int = 0  # documents that should alert and did
    doc_fp: int = 0  # documents that should not alert and did
    doc_fn: int = 0  # documents that should alert and did not

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def doc_precision(self) -> float:
        return self.doc_tp / (self.doc_tp + self.doc_fp) if self.doc_tp + self.doc_fp else 1.0

    @property
    def doc_recall(self) -> float:
        return self.doc_tp / (self.doc_tp + self.doc_fn) if self.doc_tp + self.doc_fn else 1.0


def _score(docs: list[_Labelled]) -> tuple[_Score, list[str]]:
    score, problems = _Score(), []
    for d in docs:
        fired = _fired(d.title, d.text, d.lang)
        missed, wrong = d.match - fired, fired & d.no_match
        score.tp += len(d.match & fired)
        score.fn += len(missed)
        score.fp += len(wrong)
        if d.match:
            score.doc_tp += bool(fired)
            score.doc_fn += not fired
        else:
            score.doc_fp += bool(fired - d.may)  # an alert the labels allow (may) is not a false alarm
        if missed or wrong:
            problems.append(f"{d.id}: missed {sorted(missed)} wrongly fired {sorted(wrong)}")
    return score, problems


def _report(name: str, score: _Score, problems: list[str]) -> None:
    print(
        f"\n{name}: (document, rule) precision={score.precision:.3f} recall={score.recall:.3f} "
        f"(tp={score.tp} fp={score.fp} fn={score.fn}); any-alert per document "
        f"precision={score.doc_precision:.3f} recall={score.doc_recall:.3f}"
    )
    for p in problems:
        print("  " + p)


# ---------------------------------------------------------------------------------------------- the rule set


def test_shipped_rules_load_cleanly_with_sensible_metadata() -> None:
    rules = _rules()
    assert rules.warnings == ()
    assert 6 <= len(rules.rules) <= 10
    severities = {r.severity for r in rules.rules}
    assert "high" in severities and len(severities) >= 3
    for rule in rules.rules:
        assert rule.enabled and rule.tags and rule.description, rule.id


def test_every_shipped_rule_carries_match_and_no_match_examples() -> None:
    for path in sorted(_RULES.glob("*.yaml")):
        for rule in yaml.safe_load(path.read_text(encoding="utf-8")).get("rules") or ():
            examples = rule.get("examples") or {}
            assert len(examples.get("match") or ()) >= 2, rule["id"]
            assert len(examples.get("no_match") or ()) >= 2, rule["id"]


def test_labels_name_only_shipped_rules() -> None:
    known = _rule_ids()
    for name in ("corpus.yaml", "holdout.yaml"):
        for d in _load_labelled(name):
            assert d.match | d.may <= known, d.id
    expectations = yaml.safe_load((_SEEDS / "expectations.yaml").read_text(encoding="utf-8"))["seeds"]
    for seed, exp in expectations.items():
        assert set(exp["match"]) | set(exp["no_match"]) <= known, seed


# ------------------------------------------------------------------------------------------ labelled corpus


def test_corpus_is_large_varied_and_has_hard_negatives() -> None:
    docs = _load_labelled("corpus.yaml")
    assert len(docs) >= 60
    assert len({d.id for d in docs}) == len(docs)
    assert sum(1 for d in docs if not d.match) >= 15
    assert len({d.lang for d in docs if d.lang}) >= 5
    fired_somewhere = set().union(*(d.match for d in docs))
    assert fired_somewhere == _rule_ids()  # every rule has positives in the corpus


@pytest.mark.parametrize("doc", _load_labelled("corpus.yaml"), ids=lambda d: d.id)
def test_corpus_document_matches_its_labels(doc: _Labelled) -> None:
    fired = _fired(doc.title, doc.text, doc.lang)
    assert doc.match <= fired, f"missed {sorted(doc.match - fired)}"
    assert not fired & doc.no_match, f"wrongly fired {sorted(fired & doc.no_match)}"


@pytest.mark.parametrize("name", ["corpus.yaml", "holdout.yaml"])
def test_precision_and_recall_on_labelled_documents(name: str) -> None:
    score, problems = _score(_load_labelled(name))
    _report(name, score, problems)
    assert score.precision >= _MIN_PRECISION, problems
    assert score.recall >= _MIN_RECALL, problems
    assert score.doc_precision >= _MIN_PRECISION, problems
    assert score.doc_recall >= _MIN_RECALL, problems


def test_hard_negative_alone_is_quiet_but_scam_angle_makes_it_fire() -> None:
    # The same Poipet border story: quiet as a border row, an alert once a scam compound is raided.
    row = "Thailand closed the Poipet checkpoint after a clash between soldiers; Cambodian workers returned home."
    assert _fired("Border row", row) == set()
    scam = row + " Police then raided a scam compound in Poipet and arrested 300 foreigners."
    assert {"kh-scam-crackdown", "kh-scam-hotspots"} <= _fired("Border row", scam)


# ------------------------------------------------------------------------------------------------ the seeds


def _read_seed(path: Path) -> tuple[str, str]:
    text = path.read_text(encoding="utf-8")
    title = next(line.strip() for line in text.splitlines() if line.strip())
    return title, text


def _expectations() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((_SEEDS / "expectations.yaml").read_text(encoding="utf-8"))["seeds"]
    return data


def test_every_seed_has_expectations() -> None:
    assert sorted(_expectations()) == sorted(p.name for p in _SEEDS.glob("*.txt"))


@pytest.mark.parametrize("seed", sorted(_expectations()))
def test_seed_matches_its_expectations(seed: str) -> None:
    exp = _expectations()[seed]
    fired = _fired(*_read_seed(_SEEDS / seed))
    assert set(exp["match"]) <= fired, f"missed {sorted(set(exp['match']) - fired)}"
    assert not fired & set(exp["no_match"]), f"wrongly fired {sorted(fired & set(exp['no_match']))}"


def test_seed_004_matches_do_not_depend_on_page_boilerplate() -> None:
    title, text = _read_seed(_SEEDS / _SEED_004)
    cut = text.index(_BOILERPLATE_START)
    article, boilerplate = text[:cut], text[cut:]
    assert "crackdown" in boilerplate.lower() and "Cambodia" in boilerplate  # the trap is really there
    full = _fired(title, text)
    assert full, "seed 004 should raise alerts"
    assert _fired(title, article) == full
    assert _fired(title, boilerplate) == set()


# ---------------------------------------------------------------------------------- ordinary news background


def _feed_entries() -> list[tuple[str, str, str]]:
    import feedparser  # only this test needs it

    entries = []
    for path in sorted(_NEWS_FEEDS.glob("*.xml")):
        for e in feedparser.parse(path.read_bytes()).entries:
            parts = [e.get("summary", "")] + [c.get("value", "") for c in e.get("content", [])]
            body = html.unescape(re.sub(r"<[^>]+>", " ", " ".join(parts)))
            entries.append((path.name, e.get("title", ""), body))
    return entries


@pytest.mark.slow
@needs_eval(_NEWS_FEEDS)
def test_ordinary_world_news_raises_almost_no_alerts() -> None:
    entries = _feed_entries()
    assert len(entries) > 1000
    alerts = [
        (m.rule.id, name, title)
        for name, title, body in entries
        for m in _rules().match(Document(title=title, text=body))
    ]
    print(f"\n{len(entries)} real feed entries, {len(alerts)} alerts:")
    for a in alerts:
        print("  ", a)
    # The one alert these feeds used to raise, a long TIME piece on Thailand's election that names Cambodia (a border
    # clash) some 650 words before one sentence on scam centres and forced labour, is gone: the place must now stand
    # in the same passage as the topic (tests/rules/test_long.py).
    assert alerts == []


@needs_eval(_ARTICLES)
def test_real_article_bodies_on_other_topics_raise_no_alert() -> None:
    # 181 full article bodies from 126 sites (the extraction benchmark's human-written ground truth): news, blogs
    # and product pages on every topic but this one.
    bodies = [v.get("articleBody") or "" for v in json.loads(_ARTICLES.read_text(encoding="utf-8")).values()]
    assert len(bodies) > 150
    alerts = [(m.rule.id, body[:80]) for body in bodies for m in _rules().match(Document(title="", text=body))]
    assert alerts == []
