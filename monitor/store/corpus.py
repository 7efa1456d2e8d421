"""Reads over a window of time: the stored articles a backtest runs a rule over, the matches it compares with,
and each rule's activity (matches per day, last match) for the rules page.

Inputs: a start time (naive UTC), an end time, a rule id.
Outputs: ``CorpusArticle`` batches (keyset pages by id: each batch is its own short read transaction, so a backtest
over months never holds one open while the daemon writes), ``MatchRecord`` values, ``RuleActivity``. Reads only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Table, case, func, select

from monitor.store.base import StoreBase
from monitor.store.matches import match_columns, match_record
from monitor.store.records import ArticleSummary, MatchRecord
from monitor.store.tables import Article, Feed, Match, metadata

__all__ = ["CorpusArticle", "CorpusStore", "RuleActivity"]

_articles: Table = metadata.tables[Article.__tablename__]
_matches: Table = metadata.tables[Match.__tablename__]
_feeds: Table = metadata.tables[Feed.__tablename__]


@dataclass(frozen=True, slots=True)
class CorpusArticle:
    """A stored article as the matcher reads it (its feed's tags included), without its furniture."""

    id: int
    url: str
    title: str
    text: str
    author: str | None
    published: datetime | None
    lang: str | None
    feed: str
    feed_tags: tuple[str, ...]
    fetched_at: datetime

    @property
    def summary(self) -> ArticleSummary:
        """The article part of a match line."""
        return ArticleSummary(self.id, self.url, self.title, self.feed, self.published, self.lang)


@dataclass(frozen=True)
class RuleActivity:
    """A rule's stored matches over the last days: per UTC day (oldest first, days without a match included),
    in all, and the time of its last match ever."""

    days: tuple[tuple[date, int], ...]
    last_match: datetime | None = None
    recent: dict[int, int] = field(default_factory=dict)  # window in days -> matches in it (7, 30)

    @classmethod
    def quiet(cls, now: datetime, days: int = 30) -> RuleActivity:
        """The activity of a rule without a stored match: every day of the span at 0."""
        return cls(tuple((d, 0) for d in _span(now - timedelta(days=days), now)))


class CorpusStore(StoreBase):
    """The window reads of ``Store``."""

    def corpus_batch(
        self, since: datetime, until: datetime, *, after: int = 0, limit: int = 500
    ) -> list[CorpusArticle]:
        """Articles stored (``fetched_at``) in ``[since, until)`` with an id above ``after``, by id, at most
        ``limit``: call again with the last id until the list is empty."""
        query = (
            select(
                _articles.c.id,
                _articles.c.url,
                _articles.c.title,
                _articles.c.text,
                _articles.c.author,
                _articles.c.published,
                _articles.c.lang,
                _articles.c.feed_name,
                _feeds.c.tags,
                _articles.c.fetched_at,
            )
            .outerjoin(_feeds, _feeds.c.id == _articles.c.feed_id)
            .where(_articles.c.id > after, _articles.c.fetched_at >= since, _articles.c.fetched_at < until)
            .order_by(_articles.c.id)
            .limit(limit)
        )
        with self._read("read stored articles") as conn:
            return [
                CorpusArticle(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], tuple(r[8] or ()), r[9])
                for r in conn.execute(query)
            ]

    def window_matches(self, rule_id: str, since: datetime, until: datetime) -> list[MatchRecord]:
        """The stored matches of ``rule_id`` (any version) on articles stored in ``[since, until)``, one per
        article (its latest), without deliveries."""
        query = (
            match_columns()
            .where(_matches.c.rule_id == rule_id, _articles.c.fetched_at >= since, _articles.c.fetched_at < until)
            .order_by(_matches.c.matched_at, _matches.c.id)
        )
        with self._read("read a rule's matches") as conn:
            rows = [row._mapping for row in conn.execute(query)]
        latest = {row["article_id"]: row for row in rows}
        return [match_record(row) for row in latest.values()]

    def rule_activity(
        self, now: datetime, days: int = 30, windows: tuple[int, ...] = (7, 30)
    ) -> dict[str, RuleActivity]:
        """Per rule id with stored matches: its matches per UTC day over the last ``days`` days (to ``now``), its
        matches in each of the last ``windows`` days (``matched_at`` after ``now`` minus that many days), and its
        last match."""
        since = now - timedelta(days=days)
        day = (
            func.substr(_matches.c.matched_at, 1, 10)  # stored as text, "2026-12-06 10:00:00"
            if self.dialect == "sqlite"
            else func.to_char(_matches.c.matched_at, "YYYY-MM-DD")
        )
        per_day = (
            select(_matches.c.rule_id, day, func.count())
            .where(_matches.c.matched_at >= since, _matches.c.matched_at <= now)
            .group_by(_matches.c.rule_id, day)
        )
        recent = [func.sum(case((_matches.c.matched_at >= now - timedelta(days=w), 1), else_=0)) for w in windows]
        totals = select(_matches.c.rule_id, func.max(_matches.c.matched_at), *recent).group_by(_matches.c.rule_id)
        counts: dict[str, dict[date, int]] = defaultdict(dict)
        with self._read("read rule activity") as conn:
            for rule_id, when, n in conn.execute(per_day):
                counts[rule_id][date.fromisoformat(str(when))] = int(n)
            rows = list(conn.execute(totals))
        span = _span(since, now)
        out: dict[str, RuleActivity] = {}
        for rule_id, last, *sums in rows:
            by_day = counts.get(rule_id, {})
            out[rule_id] = RuleActivity(
                tuple((d, by_day.get(d, 0)) for d in span),
                last,
                dict(zip(windows, (int(n or 0) for n in sums), strict=True)),
            )
        return out


def _span(since: datetime, now: datetime) -> list[date]:
    """Every UTC day from ``since`` to ``now``, both included."""
    return [date.fromordinal(o) for o in range(since.date().toordinal(), now.date().toordinal() + 1)]
