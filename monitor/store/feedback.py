"""Analysts' judgements of matches: "relevant" or "not relevant", one per match, who said so and when.

Inputs: a match id, the verdict, the judge's name (the web user, ``"api"`` for a Bearer token, or a free label).
Outputs: ``Judgement`` values; ``JudgedMatch`` (the judgement with the article as the matcher saw it) for
``monitor rules feedback``, which turns them into a rule's ``examples``. The latest judgement of a match wins; it is
deleted with its match (``ON DELETE CASCADE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, select

from monitor.clock import now_utc
from monitor.store.base import StoreBase, chunked
from monitor.store.tables import Article, Feed, Feedback, Match, metadata

__all__ = ["FeedbackStore", "JudgedMatch", "Judgement"]

_feedback: Table = metadata.tables[Feedback.__tablename__]
_matches: Table = metadata.tables[Match.__tablename__]
_articles: Table = metadata.tables[Article.__tablename__]
_feeds: Table = metadata.tables[Feed.__tablename__]


@dataclass(frozen=True)
class Judgement:
    """One analyst's verdict on one match."""

    match_id: int
    relevant: bool
    judged_by: str
    judged_at: datetime


@dataclass(frozen=True)
class JudgedMatch:
    """A judged match of a rule with the article's fields as the matcher read them (title, text, url, author,
    language, feed and its tags), so it can become one of the rule's examples."""

    judgement: Judgement
    rule_id: str
    article_id: int
    title: str
    text: str
    url: str
    author: str | None
    lang: str | None
    feed: str
    feed_tags: tuple[str, ...]


class FeedbackStore(StoreBase):
    """The feedback methods of ``Store``."""

    def set_feedback(
        self, match_id: int, relevant: bool, judged_by: str = "", *, now: datetime | None = None
    ) -> Judgement | None:
        """Record (or replace) the judgement of a match; None when there is no such match."""
        values = {
            "match_id": match_id,
            "relevant": bool(relevant),
            "judged_by": judged_by,
            "judged_at": now or now_utc(),
        }
        with self._write("set feedback") as conn:
            if conn.execute(select(_matches.c.id).where(_matches.c.id == match_id)).first() is None:
                return None
            # One statement on both dialects: a second judgement replaces the first (the unique match_id).
            insert = self._insert(_feedback).values(**values)
            update = {k: insert.excluded[k] for k in ("relevant", "judged_by", "judged_at")}
            conn.execute(insert.on_conflict_do_update(index_elements=[_feedback.c.match_id], set_=update))
        return Judgement(match_id, bool(relevant), judged_by, values["judged_at"])  # type: ignore[arg-type]

    def clear_feedback(self, match_id: int) -> bool:
        """Forget the judgement of a match; True when there was one."""
        with self._write("clear feedback") as conn:
            return bool(conn.execute(_feedback.delete().where(_feedback.c.match_id == match_id)).rowcount)

    def feedback_of(self, match_ids: Sequence[int]) -> dict[int, Judgement]:
        """The judgements of these matches, by match id (an unjudged match is absent)."""
        found: dict[int, Judgement] = {}
        with self._read("read feedback") as conn:
            for chunk in chunked(list(dict.fromkeys(match_ids))):
                for row in conn.execute(select(_feedback).where(_feedback.c.match_id.in_(chunk))):
                    found[row.match_id] = Judgement(row.match_id, bool(row.relevant), row.judged_by, row.judged_at)
        return found

    def judged_matches(self, rule_id: str) -> list[JudgedMatch]:
        """Every judged match of ``rule_id`` (any version of the rule), oldest judgement first, one per article."""
        query = (
            select(
                _feedback,
                _matches.c.rule_id,
                _articles.c.id.label("article_id"),
                _articles.c.title,
                _articles.c.text,
                _articles.c.url,
                _articles.c.author,
                _articles.c.lang,
                _articles.c.feed_name,
                _feeds.c.tags,
            )
            .join(_matches, _matches.c.id == _feedback.c.match_id)
            .join(_articles, _articles.c.id == _matches.c.article_id)
            .outerjoin(_feeds, _feeds.c.id == _articles.c.feed_id)
            .where(_matches.c.rule_id == rule_id)
            .order_by(_feedback.c.judged_at, _feedback.c.id)
        )
        with self._read("list judged matches") as conn:
            rows = list(conn.execute(query))
        latest = {row.article_id: row for row in rows}  # two versions of the rule matched one article: the last word
        return [
            JudgedMatch(
                judgement=Judgement(row.match_id, bool(row.relevant), row.judged_by, row.judged_at),
                rule_id=row.rule_id,
                article_id=row.article_id,
                title=row.title,
                text=row.text,
                url=row.url,
                author=row.author,
                lang=row.lang,
                feed=row.feed_name,
                feed_tags=tuple(row.tags or ()),
            )
            for row in rows
            if latest[row.article_id] is row
        ]
