"""Retention in the store: remove unmatched articles fetched before a cutoff, in small batches.

Inputs: a cutoff time. Output: ``PruneReport`` (counts). ``monitor.retention`` decides the cutoff from
``[store] keep_articles``; this module only deletes, the same way on SQLite and PostgreSQL.

What goes and what stays (docs/storage.md, "Retention"):

- an article goes when it was fetched before the cutoff and its story has no match and no delivery: a matched
  story keeps every article (its alert and its "also reported by" list stay whole), unmatched ones go;
- the story keys of a story left without articles go with its last article (nothing can join it any more);
- the story row itself goes at the next prune, not at once: on PostgreSQL a writer that found the story by one
  of its keys a moment before could still be adding a copy to it (its insert would then fail on the foreign key);
  once the keys are gone nothing can find it, so the next prune removes it safely;
- seen entries (``entries``) stay, so a feed that still lists an old item never makes it new again.

Each batch (``PRUNE_BATCH`` articles) is its own short transaction, with a pause between batches, so the daemon's
writes never wait long for one (SQLite: one writer at a time; PostgreSQL: row locks on the batch only).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Table, and_, exists, func, or_, select

from monitor.store.base import StoreBase, chunked
from monitor.store.tables import Article, Delivery, Match, Story, StoryKey, metadata

__all__ = ["PRUNE_BATCH", "PruneReport", "RetentionStore"]

#: Articles per transaction. On SQLite a batch holds the one write lock: with its story keys (24 an article) and
#: the search index's delete trigger, 500 took 0.5-1.6 s on a loaded machine at 100,000 articles, 200 a fifth of a
#: second or so; the rate per article hardly depends on it (docs/benchmarks.md, "Retention and copy").
PRUNE_BATCH = 200

_articles: Table = metadata.tables[Article.__tablename__]
_stories: Table = metadata.tables[Story.__tablename__]
_story_keys: Table = metadata.tables[StoryKey.__tablename__]
_matches: Table = metadata.tables[Match.__tablename__]
_deliveries: Table = metadata.tables[Delivery.__tablename__]


@dataclass(frozen=True)
class PruneReport:
    """What a prune removed (or, ``dry_run``, would remove)."""

    cutoff: datetime
    dry_run: bool
    articles: int = 0  # unmatched articles fetched before the cutoff
    story_keys: int = 0  # keys of the stories those left without articles
    stories_emptied: int = 0  # stories left without articles (their rows go at the next prune)
    stories: int = 0  # story rows removed: emptied by an earlier prune
    kept: int = 0  # articles fetched before the cutoff that stay: their story matched
    batches: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "cutoff": self.cutoff,
            "dry_run": self.dry_run,
            "articles": self.articles,
            "story_keys": self.story_keys,
            "stories_emptied": self.stories_emptied,
            "stories": self.stories,
            "kept": self.kept,
            "batches": self.batches,
        }


def _unmatched_story(story_id: ColumnElement[int]) -> list[ColumnElement[bool]]:
    """Conditions: the story ``story_id`` (a column) has no match and no delivery."""
    return [
        ~exists().where(_matches.c.story_id == story_id),
        ~exists().where(_deliveries.c.story_id == story_id),
    ]


class RetentionStore(StoreBase):
    """The retention methods of ``Store``."""

    def prune_articles(
        self,
        cutoff: datetime,
        *,
        dry_run: bool = False,
        batch_size: int = PRUNE_BATCH,
        pause: float = 0.0,
        progress: Callable[[PruneReport], None] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> PruneReport:
        """Remove unmatched articles fetched before ``cutoff`` (module docstring), ``batch_size`` per transaction,
        sleeping ``pause`` seconds between transactions; ``progress`` sees the running totals after each batch, and
        a true ``stop()`` ends the prune between two batches (the rest waits for the next prune).

        Raises:
            StoreError: a batch failed; the batches before it stay done (each is whole), the rest waits for the
                next prune.
        """
        report = PruneReport(cutoff, dry_run)
        report = self._remove_empty_stories(report, batch_size, pause, stop)
        after: tuple[datetime, int] | None = None
        seen_stories: set[int] = set()  # dry run: a story counted once though its articles span batches
        while True:
            with self._read("prune articles") if dry_run else self._write("prune articles") as conn:
                batch = _old_unmatched(conn, cutoff, after, batch_size)
                if not batch:
                    break
                after = (batch[-1][2], batch[-1][0])
                report = _pruned(conn, report, batch, seen_stories)
            if progress is not None:
                progress(report)
            if stop is not None and stop():
                break
            if pause:
                time.sleep(pause)
        with self._read("count kept articles") as conn:
            old = conn.execute(
                select(func.count()).select_from(_articles).where(_articles.c.fetched_at < cutoff)
            ).scalar_one()
        return replace(report, kept=int(old) - (report.articles if dry_run else 0))

    def _remove_empty_stories(
        self, report: PruneReport, batch_size: int, pause: float, stop: Callable[[], bool] | None
    ) -> PruneReport:
        """Remove the stories an earlier prune emptied: created before the cutoff, no article, key, match or
        delivery left (a dry run counts them). Walked by id, so the stories that stay are read once per prune."""
        s = _stories.c
        empty = [
            s.created_at < report.cutoff,
            ~exists().where(_articles.c.story_id == s.id),
            ~exists().where(_story_keys.c.story_id == s.id),
            *_unmatched_story(s.id),
        ]
        if report.dry_run:
            with self._read("count empty stories") as conn:
                found = conn.execute(select(func.count()).select_from(_stories).where(*empty)).scalar_one()
            return replace(report, stories=int(found))
        removed, after = 0, 0
        while True:
            with self._write("remove empty stories") as conn:
                ids = list(
                    conn.execute(select(s.id).where(s.id > after, *empty).order_by(s.id).limit(batch_size)).scalars()
                )
                if ids:
                    # The same conditions again in the DELETE: a copy may have joined one since the SELECT.
                    removed += conn.execute(_stories.delete().where(s.id.in_(ids), *empty)).rowcount
                    after = ids[-1]
            if len(ids) < batch_size or (stop is not None and stop()):
                return replace(report, stories=removed)
            if pause:
                time.sleep(pause)


def _old_unmatched(
    conn: Connection, cutoff: datetime, after: tuple[datetime, int] | None, limit: int
) -> list[tuple[int, int, datetime]]:
    """The next ``limit`` articles (id, story, fetched_at) fetched before ``cutoff`` whose story has no match or
    delivery, oldest first, after ``after`` (keyset: kept articles are read once per prune, not once per batch)."""
    a = _articles.c
    where = [a.fetched_at < cutoff, ~exists().where(_matches.c.article_id == a.id), *_unmatched_story(a.story_id)]
    if after is not None:
        where.append(or_(a.fetched_at > after[0], and_(a.fetched_at == after[0], a.id > after[1])))
    rows = conn.execute(select(a.id, a.story_id, a.fetched_at).where(*where).order_by(a.fetched_at, a.id).limit(limit))
    return [(int(r[0]), int(r[1]), r[2]) for r in rows]


def _pruned(
    conn: Connection, report: PruneReport, batch: Sequence[tuple[int, int, datetime]], seen: set[int]
) -> PruneReport:
    """Delete one batch (or, in a dry run, count it) and the keys of the stories it leaves without articles."""
    a, k = _articles.c, _story_keys.c
    ids = [row[0] for row in batch]
    stories = sorted({row[1] for row in batch} - seen)
    if report.dry_run:
        seen.update(stories)  # emptied: no article fetched since the cutoff (the old ones all go)
        staying_article = select(a.story_id).where(a.story_id.in_(stories), a.fetched_at >= report.cutoff)
        emptied = sorted(set(stories) - set(conn.execute(staying_article).scalars()))
        keys = 0
        for chunk in chunked(emptied):
            keys += int(conn.execute(select(func.count()).where(k.story_id.in_(chunk))).scalar_one())
        return replace(
            report,
            articles=report.articles + len(ids),
            story_keys=report.story_keys + keys,
            stories_emptied=report.stories_emptied + len(emptied),
            batches=report.batches + 1,
        )
    # The conditions again in the DELETE: a copy that matched may have joined the story since the SELECT.
    recheck = [~exists().where(_matches.c.article_id == a.id), *_unmatched_story(a.story_id)]
    deleted = conn.execute(_articles.delete().where(a.id.in_(ids), *recheck)).rowcount
    still = set(conn.execute(select(a.story_id).where(a.story_id.in_(stories)).distinct()).scalars())
    emptied = [s for s in stories if s not in still]
    keys = 0
    for chunk in chunked(emptied):
        keys += conn.execute(_story_keys.delete().where(k.story_id.in_(chunk))).rowcount
    return replace(
        report,
        articles=report.articles + deleted,
        story_keys=report.story_keys + keys,
        stories_emptied=report.stories_emptied + len(emptied),
        batches=report.batches + 1,
    )
