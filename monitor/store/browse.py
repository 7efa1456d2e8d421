"""Browsing stored matches: the dashboard's and the JSON API's filtered pages, and one match in full.

Inputs: a ``MatchFilter`` (rule id or glob, severity, tag, feed, language, time range, full-text search), a page size
and the cursor of the previous page; a match id.
Outputs: a ``MatchPage`` (``MatchRecord`` values newest first, the next page's cursor, and per story how many outlets
reported it and its first articles), a ``MatchDetail`` (the article's text, every match of it with its hits, the
story's other articles, the story's deliveries).

Pages are keyset-paginated on (matched_at, id), newest first: a page reads its rows from an index and stops, whatever
the table holds, and a match stored while the analyst reads never shifts the next page. Nothing here counts the
whole table. Search goes through the index of ``monitor.store.search``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, exists, func, literal_column, select, tuple_
from sqlalchemy.dialects.postgresql import JSONB

from monitor.clean import clean_text
from monitor.clock import MAX_TIME, as_utc
from monitor.errors import MonitorError
from monitor.store.base import StoreBase, chunked
from monitor.store.matches import _deliveries_of, match_columns, match_record
from monitor.store.records import ArticleRecord, ArticleSummary, MatchDelivery, MatchRecord
from monitor.store.search import parse_search, search_condition
from monitor.store.tables import Article, Delivery, Feed, Match, metadata

__all__ = [
    "BrowseStore",
    "CURSOR_PATTERN",
    "InvalidCursorError",
    "MAX_PAGE",
    "MatchDetail",
    "MatchFilter",
    "MatchPage",
    "STORY_SHOWN",
    "StoryDelivery",
    "StoryInfo",
    "decode_cursor",
    "encode_cursor",
]

_matches: Table = metadata.tables[Match.__tablename__]
_articles: Table = metadata.tables[Article.__tablename__]
_deliveries: Table = metadata.tables[Delivery.__tablename__]
_feeds: Table = metadata.tables[Feed.__tablename__]
_GLOB = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_", "*": "%", "?": "_"})

#: The largest page a caller may ask for.
MAX_PAGE = 500
#: Articles of a story a page lists (oldest first); the detail page lists them all.
STORY_SHOWN = 10
_DETAIL_LIMIT = 500  # a story's articles and deliveries on one match's page


class InvalidCursorError(MonitorError, ValueError):
    """A page cursor that this store did not give (edited, truncated, from another version)."""


@dataclass(frozen=True)
class MatchFilter:
    """Which matches to list; every field set narrows the list (None: no condition)."""

    rule: str | None = None  # a rule id, or a glob (``scam-*``) as in routes
    severity: str | None = None  # exactly this severity
    tag: str | None = None  # one of the rule's tags (as stored with the match)
    feed: str | None = None  # the article's feed name
    lang: str | None = None  # the article's language code
    since: datetime | None = None  # matched at or after
    until: datetime | None = None  # matched before
    q: str | None = None  # full-text search over the article's title and text (docs/web.md)


@dataclass(frozen=True)
class StoryInfo:
    """A story as a match row shows it: how many articles and outlets (feeds), and the first articles."""

    articles: int
    outlets: int
    first: tuple[ArticleSummary, ...] = ()


@dataclass(frozen=True)
class MatchPage:
    """One page of matches, newest first; ``next`` is the cursor of the following page (None: the last)."""

    items: tuple[MatchRecord, ...]
    next: str | None
    stories: Mapping[int, StoryInfo] = field(default_factory=dict)
    alerts: Mapping[tuple[int, str], tuple[MatchDelivery, ...]] = field(default_factory=dict)

    def deliveries(self, match: MatchRecord) -> tuple[MatchDelivery, ...]:
        """The alerts of ``match``'s story and rule, per channel: a reprint's row shows what its story's first
        article sent (a channel gets a story once), where ``match.deliveries`` holds only the match's own rows."""
        return self.alerts.get((match.story, match.rule), match.deliveries)

    def others(self, match: MatchRecord) -> tuple[int, tuple[ArticleSummary, ...]]:
        """How many other outlets reported ``match``'s story, and its first other articles."""
        story = self.stories.get(match.story)
        if story is None:
            return 0, ()
        return story.outlets - 1, tuple(a for a in story.first if a.id != match.article.id)


@dataclass(frozen=True)
class StoryDelivery:
    """An alert of a story to a channel, for one rule."""

    channel: str
    rule: str
    mode: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class MatchDetail:
    """One match in full: its article, every rule that matched the article, the story's other articles."""

    match: MatchRecord
    article: ArticleRecord
    matches: tuple[MatchRecord, ...]  # every match of the article, this one first
    story: tuple[ArticleSummary, ...]  # the story's other articles, oldest first
    deliveries: tuple[StoryDelivery, ...]  # the story's alerts, every rule


#: What a cursor looks like (the API's schema says so): microseconds since 1970 and an id, both decimal.
CURSOR_PATTERN = r"^[0-9]{1,20}-[0-9]{1,20}$"
_CURSOR = re.compile(CURSOR_PATTERN)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_ID = 2**63 - 1


def encode_cursor(match: MatchRecord) -> str:
    """The cursor of the page after ``match``: its (matched_at, id), the position of a keyset page."""
    delta = as_utc(match.matched_at) - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{max(0, micros)}-{match.id}"


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """(matched_at, id) of a cursor; any value of the cursor's shape is a position (out-of-range parts clamp).

    Raises:
        InvalidCursorError: not of the shape ``encode_cursor`` gives.
    """
    if not _CURSOR.fullmatch(cursor):
        raise InvalidCursorError("invalid cursor: use the 'next' value of the previous page as it is")
    micros, ident = (int(part) for part in cursor.split("-"))
    try:
        at = _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        at = MAX_TIME
    return at, min(int(ident), _MAX_ID)


class BrowseStore(StoreBase):
    """The dashboard's match reads of ``Store``."""

    def browse_matches(
        self, where: MatchFilter | None = None, *, limit: int = 50, cursor: str | None = None
    ) -> MatchPage:
        """A page of matches newest first, with their deliveries and their stories' outlets.

        Raises:
            InvalidCursorError: ``cursor`` is not one this store gave.
            ValueError: ``limit`` is not between 1 and ``MAX_PAGE``.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
        where = where or MatchFilter()
        conditions = self._conditions(where)
        if conditions is None:  # a search with no word in it finds nothing
            return MatchPage((), None)
        if cursor:
            at, ident = decode_cursor(cursor)
            conditions.append(tuple_(_matches.c.matched_at, _matches.c.id) < tuple_(at, ident))
        query = (
            match_columns()
            .where(*conditions)
            .order_by(_matches.c.matched_at.desc(), _matches.c.id.desc())
            .limit(limit + 1)
        )
        with self._read("browse matches") as conn:
            rows = [row._mapping for row in conn.execute(query)]
            more = len(rows) > limit
            rows = rows[:limit]
            deliveries = _deliveries_of(conn, [row["id"] for row in rows])
            story_ids = sorted({row["story_id"] for row in rows})
            stories = _stories(conn, story_ids)
            alerts = _story_alerts(conn, story_ids)
        items = tuple(match_record(row, deliveries.get(row["id"], ())) for row in rows)
        return MatchPage(items, encode_cursor(items[-1]) if more else None, stories, alerts)

    def match_detail(self, match_id: int) -> MatchDetail | None:
        """The match with this id in full, or None."""
        with self._read("match detail") as conn:
            row = conn.execute(match_columns().where(_matches.c.id == match_id)).first()
            if row is None:
                return None
            article_row = conn.execute(select(_articles).where(_articles.c.id == row.article_id)).first()
            assert article_row is not None  # a match's article is deleted with it (ON DELETE CASCADE)
            siblings = [
                r._mapping
                for r in conn.execute(
                    match_columns()
                    .where(_matches.c.article_id == row.article_id)
                    .order_by(_matches.c.rule_id, _matches.c.id)
                )
            ]
            deliveries = _deliveries_of(conn, [r["id"] for r in siblings])
            story = _story_articles(conn, row.story_id, exclude=row.article_id)
            alerts = _story_deliveries(conn, row.story_id)
        records = [match_record(r, deliveries.get(r["id"], ())) for r in siblings]
        this = next(m for m in records if m.id == match_id)
        article = ArticleRecord(**{name: article_row._mapping[name] for name in ArticleRecord.__dataclass_fields__})
        return MatchDetail(this, article, (this, *(m for m in records if m.id != match_id)), story, alerts)

    def feed_names(self) -> list[str]:
        """The stored feeds' names, sorted (the filter's choices; ``list_feeds`` would count every article)."""
        with self._read("feed names") as conn:
            return [row[0] for row in conn.execute(select(_feeds.c.name).order_by(_feeds.c.name))]

    def _conditions(self, where: MatchFilter) -> list[Any] | None:
        # A NUL or a lone surrogate (a URL can carry them) would fail PostgreSQL's query: stored text has none.
        cleaned: dict[str, Any] = {k: _clean(v) for k, v in vars(where).items() if isinstance(v, str)}
        where = replace(where, **cleaned)
        conditions: list[Any] = []
        if where.rule and any(c in where.rule for c in "*?"):
            conditions.append(_matches.c.rule_id.like(where.rule.translate(_GLOB), escape="\\"))
        elif where.rule:
            conditions.append(_matches.c.rule_id == where.rule)
        if where.severity:
            conditions.append(_matches.c.severity == where.severity)
        if where.tag:
            conditions.append(self._has_tag(where.tag))
        if where.feed:
            conditions.append(_articles.c.feed_name == where.feed)
        if where.lang:
            conditions.append(_articles.c.lang == where.lang.lower())
        if where.since is not None:
            conditions.append(_matches.c.matched_at >= where.since)
        if where.until is not None:
            conditions.append(_matches.c.matched_at < where.until)
        if where.q is not None and where.q.strip():
            terms = parse_search(where.q)
            if not terms:
                return None
            conditions.append(search_condition(self._dialect, terms, _matches.c.article_id))
        return conditions

    def _has_tag(self, tag: str) -> Any:
        if self._dialect == "postgresql":
            return _matches.c.tags.cast(JSONB).op("@>")(func.jsonb_build_array(tag))
        each = func.json_each(_matches.c.tags).table_valued("value")
        return exists(select(literal_column("1")).select_from(each).where(each.c.value == tag))


def _clean(value: str) -> str:
    """``value`` without NUL, control characters and lone surrogates; one made only of them asks for something no
    row has (not for everything, as an empty value would)."""
    cleaned = clean_text(value)
    return cleaned if cleaned.strip() or not value.strip() else "\ufffd"


def _stories(conn: Connection, story_ids: list[int]) -> dict[int, StoryInfo]:
    """Articles and outlets per story, and the first articles of the stories with more than one."""
    counts: dict[int, tuple[int, int]] = {}
    for chunk in chunked(story_ids):
        query = (
            select(_articles.c.story_id, func.count(), func.count(_articles.c.feed_name.distinct()))
            .where(_articles.c.story_id.in_(chunk))
            .group_by(_articles.c.story_id)
        )
        counts.update({row[0]: (int(row[1]), int(row[2])) for row in conn.execute(query)})
    shared = [story for story, (articles, _) in counts.items() if articles > 1]
    first: dict[int, list[ArticleSummary]] = {story: [] for story in shared}
    for chunk in chunked(shared):
        rank = (
            func.row_number()
            .over(partition_by=_articles.c.story_id, order_by=(_articles.c.fetched_at, _articles.c.id))
            .label("rank")
        )
        inner = select(*_summary_columns(), _articles.c.story_id, rank).where(_articles.c.story_id.in_(chunk))
        ranked = inner.subquery()
        query = select(ranked).where(ranked.c.rank <= STORY_SHOWN + 1).order_by(ranked.c.story_id, ranked.c.rank)
        for row in conn.execute(query):
            first[row.story_id].append(_summary(row._mapping))
    return {story: StoryInfo(n, outlets, tuple(first.get(story, ()))) for story, (n, outlets) in counts.items()}


def _story_alerts(conn: Connection, story_ids: list[int]) -> dict[tuple[int, str], tuple[MatchDelivery, ...]]:
    found: dict[tuple[int, str], list[MatchDelivery]] = {}
    d = _deliveries.c
    for chunk in chunked(story_ids):
        query = (
            select(d.story_id, d.rule_id, d.channel, d.status, d.attempts, d.last_error, d.mode)
            .where(d.story_id.in_(chunk))
            .order_by(d.channel, d.mode)
        )
        for row in conn.execute(query):
            delivery = MatchDelivery(row.channel, row.status, row.attempts, row.last_error, row.mode)
            found.setdefault((row.story_id, row.rule_id), []).append(delivery)
    return {key: tuple(value) for key, value in found.items()}


def _summary_columns() -> tuple[Any, ...]:
    c = _articles.c
    return (c.id, c.url, c.title, c.feed_name, c.published, c.lang)


def _summary(row: Any) -> ArticleSummary:
    return ArticleSummary(
        id=row["id"],
        url=row["url"],
        title=row["title"],
        feed=row["feed_name"],
        published=row["published"],
        lang=row["lang"],
    )


def _story_articles(conn: Connection, story_id: int, *, exclude: int) -> tuple[ArticleSummary, ...]:
    query = (
        select(*_summary_columns())
        .where(_articles.c.story_id == story_id, _articles.c.id != exclude)
        .order_by(_articles.c.fetched_at, _articles.c.id)
        .limit(_DETAIL_LIMIT)
    )
    return tuple(_summary(row._mapping) for row in conn.execute(query))


def _story_deliveries(conn: Connection, story_id: int) -> tuple[StoryDelivery, ...]:
    d = _deliveries.c
    query = (
        select(d.channel, d.rule_id, d.mode, d.status, d.attempts, d.last_error, d.created_at, d.sent_at)
        .where(d.story_id == story_id)
        .order_by(d.rule_id, d.channel, d.mode)
        .limit(_DETAIL_LIMIT)
    )
    return tuple(
        StoryDelivery(
            channel=row.channel,
            rule=row.rule_id,
            mode=row.mode,
            status=row.status,
            attempts=row.attempts,
            last_error=row.last_error,
            created_at=row.created_at,
            sent_at=row.sent_at,
        )
        for row in conn.execute(query)
    )
