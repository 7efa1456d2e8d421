"""``RuleSet.match`` gives, article for article, the output it gave before the matcher was made faster (issue 16).

The fixtures in tests/data/matcher hold the full match output recorded with the earlier matcher: for every rule
that matched, its id, its hits (their number and a digest of their offsets), the decisive hits (the witness), the
snippet (its length and a digest) and its marks; and the rules that ran out of regex time. Recorded on
- the shipped rules (rules/*.yaml) over the seeds and the labelled corpora (tests/data/labelled);
- a set of generic rules below (every query shape: terms, phrases, wildcards, exact terms, AND/OR/NOT, NEAR and
  ONEAR, field scopes, regexes) over the extraction benchmark's real articles (../shared/eval), which the shipped
  rules do not match.

A change that alters which rules match, a hit, a snippet or its witness shows up here, article by article.
Re-record (only for an intended change of output): ``python -m tests.rules.test_match_output``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from monitor.documents import read_txt
from monitor.rules import Document, RuleSet, load_rules
from monitor.rules.model import Hit, Match
from tests.conftest import EVAL, needs_eval

_ROOT = Path(__file__).resolve().parents[2]
_FIXTURES = _ROOT / "tests" / "data" / "matcher"
_ARTICLES = EVAL / "extraction-benchmark" / "ground-truth.json"
_GENERIC = {
    "term": "government",
    "phrase": '"prime minister"',
    "wildcard": "electr*",
    "exact": "=US",
    "and": "police AND (court OR judge) AND year",
    "or": "election OR vote OR ballot OR campaign",
    "not": "(company OR market) AND NOT stock*",
    "near": "said NEAR/5 (president OR minister OR official*)",
    "onear": "new ONEAR/3 (car OR phone OR law)",
    "near-and": "(people NEAR/10 year) AND (time NEAR/20 (week OR month))",
    "near-or": "(money NEAR/8 spend*) OR (price* NEAR/4 rise) OR title:game*",
    "title": "title:(new OR how) AND the",
    "text": "text:(million NEAR/3 dollar*) OR text:billion",
    "regex": "/\\d{4}/ AND (report* OR study)",
    "nested": "((city OR state) AND (school* OR student*)) OR ((health OR hospital) AND (doctor* NEAR/15 patient*))",
    "url": "url:news AND (world OR international)",
}


def _hits(hits: tuple[Hit, ...]) -> str:
    return " ".join(f"{h.field[:2]}:{h.start}-{h.end}" for h in hits)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _row(m: Match) -> list[object]:
    """A match as recorded: hits and snippet as a count or length and a digest (the fixture stays small), the
    decisive hits and the snippet's marks as they are."""
    hits, snippet = f"{len(m.hits)} {_digest(_hits(m.hits))}", f"{len(m.snippet)} {_digest(m.snippet)}"
    return [m.rule.id, hits, _hits(m.decisive), snippet, [list(x) for x in m.snippet_hits]]


def _output(rules: RuleSet, doc: Document) -> list[object]:
    matches = rules.match(doc)
    for m in matches:  # a hit's text is the document's, at its offsets
        assert all(h.text == getattr(doc, h.field)[h.start : h.end] for h in (*m.hits, *m.decisive))
    return [[_row(m) for m in matches], list(matches.timed_out)]


def _labelled() -> Iterator[tuple[str, Document]]:
    for seed in sorted((_ROOT / "seeds").glob("*.txt")):
        yield f"seeds/{seed.name}", read_txt(seed)
    for name in ("corpus", "holdout", "long"):
        data = yaml.safe_load((_ROOT / "tests" / "data" / "labelled" / f"{name}.yaml").read_text(encoding="utf-8"))
        for d in data["documents"]:
            yield f"{name}/{d['id']}", Document(title=d.get("title", ""), text=d.get("text", ""), lang=d.get("lang"))


def _articles() -> Iterator[tuple[str, Document]]:
    truth = json.loads(_ARTICLES.read_text(encoding="utf-8"))
    for key, item in sorted(truth.items()):
        yield key[:16], Document(text=item["articleBody"], url=item.get("url", ""))


@cache
def _shipped() -> RuleSet:
    return load_rules([_ROOT / "rules"], run_rule_examples=False)


def _expected(name: str) -> dict[str, Any]:
    lines = (_FIXTURES / name).read_text(encoding="utf-8").splitlines()
    return {row[0]: row[1] for row in map(json.loads, lines)}


def _compare(name: str, rules: RuleSet, docs: Iterator[tuple[str, Document]]) -> None:
    expected = _expected(name)
    seen = 0
    for key, doc in docs:
        got = json.loads(json.dumps(_output(rules, doc)))
        assert got == expected[key], f"{name}: {key}"
        seen += 1
    assert seen == len(expected)


def test_shipped_rules_on_the_seeds_and_labelled_corpora_give_the_recorded_output() -> None:
    _compare("labelled.jsonl", _shipped(), _labelled())


@needs_eval(_ARTICLES)
def test_generic_rules_on_real_articles_give_the_recorded_output() -> None:
    _compare("articles.jsonl", RuleSet.from_queries(_GENERIC), _articles())


def test_the_fixtures_are_what_they_say() -> None:
    # Guards the comparison itself: the labelled fixture holds matches, snippets and several-hit witnesses.
    rows = [r for output in _expected("labelled.jsonl").values() for r in output[0]]
    assert len(rows) > 500
    assert sum(len(r[2].split()) > 1 for r in rows) > 100
    assert all(not r[3].startswith("0 ") for r in rows)


def _write() -> None:
    _FIXTURES.mkdir(parents=True, exist_ok=True)
    sets = [
        ("labelled.jsonl", _shipped(), _labelled()),
        ("articles.jsonl", RuleSet.from_queries(_GENERIC), _articles()),
    ]
    for name, rules, docs in sets:
        lines = [json.dumps([key, _output(rules, doc)], ensure_ascii=False) for key, doc in docs]
        (_FIXTURES / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        digest = hashlib.sha256("".join(lines).encode()).hexdigest()[:12]
        print(name, len(lines), "documents", digest)


if __name__ == "__main__":
    _write()
