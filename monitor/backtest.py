"""The backtest: what a rule (in force, edited, or only a query) would have matched among the stored articles of the
last days, compared with what its rule id did match (gained, lost), without saving, alerting or writing anything.

Inputs: a ``Draft`` (``monitor.rules.draft``), the store, a window (``since``, ``until``) and the rule id to compare
with. Outputs: a ``Backtest``: counts, and per article the snippet with its decisive hits (as an alert would show
it) and the judgement of its stored match. The store is only read, in short keyset batches
(``Store.corpus_batch``), so the daemon keeps writing while a month of articles is read; the rule runs in this
process with the matcher of the pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.clock import iso_utc, now_utc
from monitor.notify.redact import redact_credentials
from monitor.rules import Document, Match, RuleSet
from monitor.rules.draft import Draft, draft_from_query, draft_from_rule, draft_from_text
from monitor.store import ArticleSummary, CorpusArticle, Judgement, MatchHit, MatchRecord, Store

__all__ = ["BATCH", "Backtest", "BacktestItem", "document_of", "draft_for", "run_backtest"]

#: Articles read per store query: large enough that the queries cost little, small enough that each read
#: transaction is short.
BATCH = 1000
_STATUS_ORDER = {"gained": 0, "lost": 1, "kept": 2}


@dataclass(frozen=True)
class BacktestItem:
    """One article: ``gained`` (the draft matches it, the stored matches do not), ``lost`` (stored, no longer
    matched) or ``kept`` (both). The snippet and hits are the draft's; for a lost one, the stored match's."""

    status: str
    article: ArticleSummary
    snippet: str
    snippet_hits: tuple[tuple[int, int], ...]
    decisive: tuple[MatchHit, ...]
    match_id: int | None = None  # the stored match (kept, lost)
    judgement: Judgement | None = None  # its feedback

    def as_json(self) -> dict[str, Any]:
        """The JSON of one backtest item (``rules backtest --format json``, ``POST /api/v1/backtest``)."""
        art = self.article
        judged = self.judgement
        return {
            "status": self.status,
            "article": {
                "id": art.id,
                "url": redact_credentials(art.url),
                "title": art.title,
                "feed": art.feed,
                "published": iso_utc(art.published) if art.published else None,
                "lang": art.lang,
            },
            "snippet": self.snippet,
            "snippet_hits": [list(span) for span in self.snippet_hits],
            "decisive": [h.as_json() for h in self.decisive],
            "match": self.match_id,
            "relevant": None if judged is None else judged.relevant,
        }


@dataclass(frozen=True)
class Backtest:
    """The outcome: counts over every article of the window, and the items (all, or the first ``limit`` of each
    status)."""

    draft: Draft
    compared_with: str | None  # the rule id whose stored matches are the baseline; None: no baseline
    since: datetime
    until: datetime
    scanned: int
    counts: dict[str, int]  # gained, lost, kept
    items: tuple[BacktestItem, ...]
    seconds: float
    timed_out: int = 0  # articles on which the rule's regex ran out of time (counted as not matched)
    baseline: int = 0  # stored matches of ``compared_with`` in the window
    judged: dict[str, dict[str, int]] = field(default_factory=dict)  # status -> {"relevant": n, "not_relevant": n}

    @property
    def matched(self) -> int:
        """Articles the draft matches."""
        return self.counts["gained"] + self.counts["kept"]

    def as_json(self) -> dict[str, Any]:
        """The JSON of a backtest (``rules backtest --format json``, ``POST /api/v1/backtest``)."""
        rule = self.draft.rule
        return {
            "rule": {"id": rule.id, "title": rule.title, "query": rule.query, "version": rule.version},
            "compared_with": self.compared_with,
            "since": iso_utc(self.since),
            "until": iso_utc(self.until),
            "scanned": self.scanned,
            "matched": self.matched,
            "baseline": self.baseline,
            "gained": self.counts["gained"],
            "lost": self.counts["lost"],
            "kept": self.counts["kept"],
            "judged": self.judged,
            "timed_out": self.timed_out,
            "seconds": round(self.seconds, 3),
            "warnings": list(self.draft.warnings),
            "items": [item.as_json() for item in self.items],
        }


def document_of(article: CorpusArticle) -> Document:
    """A stored article as the pipeline handed it to the rules (its feed's tags as they are now)."""
    return Document(
        title=article.title,
        text=article.text,
        url=article.url,
        author=article.author or "",
        lang=article.lang,
        feed=article.feed,
        feed_tags=article.feed_tags,
    )


def draft_for(
    rules: Callable[[], RuleSet],
    set_paths: Sequence[Path],
    *,
    rule: str | None = None,
    query: str | None = None,
    text: str | None = None,
    source: str = "draft.yaml",
) -> tuple[Draft, str | None]:
    """The rule to try and the rule id to compare it with: the rule ``rule`` in force; ``query`` (in place of the
    query of ``rule`` when given, keeping its filters); or the rule that ``text`` (a rule file, a list of rules or
    one rule's mapping) defines, ``rule`` picking one of several. ``rules`` gives the rules in force (loaded only
    when needed: a draft's text does not need them); errors in ``text`` name it ``source``.

    Raises:
        RuleSetError: the query or the text has errors.
        UnknownRuleError: ``rule`` names no rule in force.
        ValueError: none of ``rule``, ``query`` and ``text`` is given, or both ``query`` and ``text``.
    """
    if text is not None and query is not None:
        raise ValueError("give a query or a rule's text, not both")
    if text is not None:
        draft = draft_from_text(text, set_paths, rule_id=rule, name=source)
        return draft, draft.rule.id
    if query is not None:
        return draft_from_query(query, set_paths, base=rules().rule(rule) if rule else None), rule
    if rule is not None:
        return draft_from_rule(rules().rule(rule)), rule
    raise ValueError("give a rule id, a query or a rule's text")


def run_backtest(
    store: Store,
    draft: Draft,
    *,
    days: float,
    compare_with: str | None = None,
    limit: int | None = None,
    clock: Callable[[], datetime] = now_utc,
) -> Backtest:
    """Run ``draft`` over the articles stored in the last ``days`` days, compared with the stored matches of
    ``compare_with`` on them; keep at most ``limit`` items of each status (all when None). Reads only.

    Raises:
        StoreError: the store cannot be read.
    """
    started = time.perf_counter()
    until = clock()
    since = until - timedelta(days=days)
    stored: dict[int, MatchRecord] = {}
    if compare_with is not None:
        stored = {m.article.id: m for m in store.window_matches(compare_with, since, until)}
    judgements = store.feedback_of([m.id for m in stored.values()]) if stored else {}
    baseline = len(stored)
    tally = _Tally(limit)
    scanned = timed_out = after = 0
    while batch := store.corpus_batch(since, until, after=after, limit=BATCH):
        after = batch[-1].id
        scanned += len(batch)
        for article in batch:
            timed_out += _step(draft, article, stored.pop(article.id, None), judgements, tally)
    for before in stored.values():  # a stored match on an article gone from the window meanwhile: still lost
        tally.add(_lost(before, judgements))
    return Backtest(
        draft=draft,
        compared_with=compare_with,
        since=since,
        until=until,
        scanned=scanned,
        counts=tally.counts,
        items=tally.items(),
        seconds=time.perf_counter() - started,
        timed_out=timed_out,
        baseline=baseline,
        judged=tally.judged,
    )


class _Tally:
    """The counts, the verdicts and the listed items (at most ``limit`` of each status) of a running backtest."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.counts = {"gained": 0, "lost": 0, "kept": 0}
        self.judged: dict[str, dict[str, int]] = {}
        self.listed: dict[str, list[BacktestItem]] = {"gained": [], "lost": [], "kept": []}

    def full(self, status: str) -> bool:
        return self.limit is not None and len(self.listed[status]) >= self.limit

    def count(self, status: str, judgement: Judgement | None) -> None:
        self.counts[status] += 1
        if judgement is not None:
            tally = self.judged.setdefault(status, {"relevant": 0, "not_relevant": 0})
            tally["relevant" if judgement.relevant else "not_relevant"] += 1

    def add(self, item: BacktestItem) -> None:
        self.count(item.status, item.judgement)
        if not self.full(item.status):
            self.listed[item.status].append(item)

    def items(self) -> tuple[BacktestItem, ...]:
        return tuple(sorted((i for group in self.listed.values() for i in group), key=_order))


def _step(
    draft: Draft,
    article: CorpusArticle,
    before: MatchRecord | None,
    judgements: dict[int, Judgement],
    tally: _Tally,
) -> bool:
    """Run the draft over one article and count it; True when the rule's regex ran out of time on it."""
    status = "kept" if before else "gained"
    doc = document_of(article)
    if tally.full(status):  # counted, not listed: whether it matches is enough (no hits or snippet to build)
        late: list[str] = []
        if draft.ruleset.matching(doc, late):
            tally.count(status, judgements.get(before.id) if before else None)
        elif before is not None:
            tally.add(_lost(before, judgements))
        return bool(late)
    found = draft.ruleset.match(doc)
    if found:
        tally.add(_item(status, article.summary, found[0], before, judgements))
    elif before is not None:
        tally.add(_lost(before, judgements))
    return draft.rule.id in found.timed_out


def _order(item: BacktestItem) -> tuple[int, float, int]:
    published = item.article.published
    return (_STATUS_ORDER[item.status], -(published.timestamp() if published else 0.0), -item.article.id)


def _item(
    status: str, article: ArticleSummary, m: Match, before: MatchRecord | None, judgements: dict[int, Judgement]
) -> BacktestItem:
    decisive = tuple(MatchHit(h.field, h.start, h.end, h.text) for h in m.decisive)
    match_id = before.id if before else None
    return BacktestItem(status, article, m.snippet, m.snippet_hits, decisive, match_id, judgements.get(match_id or 0))


def _lost(before: MatchRecord, judgements: dict[int, Judgement]) -> BacktestItem:
    spans = _spans_in(before.snippet, [h.text for h in before.hits])
    return BacktestItem(
        "lost", before.article, before.snippet, spans, before.hits, before.id, judgements.get(before.id)
    )


def _spans_in(snippet: str, texts: list[str]) -> tuple[tuple[int, int], ...]:
    """Where the stored hits' words are in a stored snippet (its hits hold offsets in the article, not in the
    snippet): each occurrence, case-insensitive, longest words first, never overlapping; at most 50 words."""
    folded = snippet.casefold()
    spans: list[tuple[int, int]] = []
    if len(folded) != len(snippet):  # case folding changed the length (ß, ﬁ): offsets would not line up
        return ()
    for text in sorted({t.casefold() for t in texts if t.strip()}, key=len, reverse=True)[:50]:
        start = folded.find(text)
        while start >= 0:
            end = start + len(text)
            if all(end <= s or start >= e for s, e in spans):
                spans.append((start, end))
            start = folded.find(text, end)
    return tuple(sorted(spans))
