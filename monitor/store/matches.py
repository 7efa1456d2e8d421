"""Reading matches: ``monitor matches`` and ``Monitor.matches`` (the web dashboard, when it comes, reads the same).

Inputs: an optional rule id (or glob), a start time and a limit.
Outputs: ``MatchRecord`` values, newest first, each with its article summary and the
state of the deliveries created for it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, select

from monitor.store.base import StoreBase, chunked
from monitor.store.records import ArticleSummary, MatchDelivery, MatchHit, MatchRecord
from monitor.store.tables import Article, Delivery, Match, metadata

__all__ = ["MatchStore", "match_columns", "match_record"]

_matches: Table = metadata.tables[Match.__tablename__]
_articles: Table = metadata.tables[Article.__tablename__]
_deliveries: Table = metadata.tables[Delivery.__tablename__]
_GLOB = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_", "*": "%", "?": "_"})


class MatchStore(StoreBase):
    """The match methods of ``Store``."""

    def list_matches(
        self, rule: str | None = None, since: datetime | None = None, limit: int | None = None
    ) -> list[MatchRecord]:
        """Matches, newest first.

        Args:
            rule: a rule id, or a glob (``scam-*``) as in routes.
            since: only matches at or after this time (UTC).
            limit: at most this many.
        """
        query = match_columns().order_by(_matches.c.matched_at.desc(), _matches.c.id.desc()).limit(limit)
        if rule is not None and any(c in rule for c in "*?"):
            query = query.where(_matches.c.rule_id.like(rule.translate(_GLOB), escape="\\"))
        elif rule is not None:
            query = query.where(_matches.c.rule_id == rule)
        if since is not None:
            query = query.where(_matches.c.matched_at >= since)
        with self._read("list matches") as conn:
            rows = [row._mapping for row in conn.execute(query)]
            deliveries = _deliveries_of(conn, [row["id"] for row in rows])
        return [match_record(row, deliveries.get(row["id"], ())) for row in rows]

    def rule_ids(self) -> list[str]:
        """The ids of the rules that have stored matches, sorted."""
        query = select(_matches.c.rule_id).distinct().order_by(_matches.c.rule_id)
        with self._read("list rule ids") as conn:
            return [row[0] for row in conn.execute(query)]


def _deliveries_of(conn: Connection, match_ids: list[int]) -> dict[int, list[MatchDelivery]]:
    found: dict[int, list[MatchDelivery]] = defaultdict(list)
    for chunk in chunked(match_ids):
        rows = conn.execute(
            select(_deliveries)
            .where(_deliveries.c.match_id.in_(chunk))
            .order_by(_deliveries.c.channel, _deliveries.c.mode)
        )
        for row in rows:
            found[row.match_id].append(
                MatchDelivery(
                    channel=row.channel,
                    status=row.status,
                    attempts=row.attempts,
                    last_error=row.last_error,
                    mode=row.mode,
                )
            )
    return found


def match_columns() -> Any:
    """SELECT of a match's row with its article's summary columns (``match_record`` reads its rows)."""
    return (
        select(
            _matches,
            _articles.c.url,
            _articles.c.title,
            _articles.c.feed_name,
            _articles.c.published,
            _articles.c.lang,
        )
        .select_from(_matches)
        .join(_articles, _articles.c.id == _matches.c.article_id)
    )


def match_record(row: Any, deliveries: Any = ()) -> MatchRecord:
    """A ``MatchRecord`` from a row of ``match_columns`` (and its deliveries)."""
    return MatchRecord(
        id=row["id"],
        rule=row["rule_id"],
        rule_version=row["rule_version"],
        severity=row["severity"],
        tags=tuple(row["tags"] or ()),
        article=ArticleSummary(
            id=row["article_id"],
            url=row["url"],
            title=row["title"],
            feed=row["feed_name"],
            published=row["published"],
            lang=row["lang"],
        ),
        story=row["story_id"],
        hits=tuple(MatchHit.coerce(h) for h in row["hits"] or ()),
        snippet=row["snippet"],
        matched_at=row["matched_at"],
        deliveries=tuple(deliveries),
    )
