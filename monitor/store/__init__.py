"""The store: every read and write of monitor's database behind one ``Store`` facade.

``Store.open(url)`` connects to SQLite (``sqlite:///path``, the default; WAL mode) or
PostgreSQL (``postgresql+psycopg://…``) and migrates the schema to the newest alembic
revision. Methods take and return the frozen dataclasses of ``records.py``; every
database error leaves the store as ``monitor.errors.StoreError``.

The class is assembled from per-domain mixins: ``feeds.py``, ``articles.py``,
``matches.py``, ``browse.py`` (the dashboard's reads, with ``search.py``), ``deliveries.py`` (the outbox, owned by
notify's engineer), ``retention.py`` (pruning old unmatched articles) and ``health.py`` (counts and views for
/metrics and the web's Feeds and Deliveries pages), all built on ``base.StoreBase`` (engine, transactions, error
mapping). ``copy.py`` copies a whole store into another database. docs/storage.md has more.
"""

from __future__ import annotations

import sqlite3
from types import TracebackType

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from monitor.errors import StoreError
from monitor.store.articles import ArticleStore, DeliveryPlan
from monitor.store.base import DEFAULT_BUSY_TIMEOUT, create_store_engine
from monitor.store.browse import BrowseStore, InvalidCursorError, MatchDetail, MatchFilter, MatchPage, StoryInfo
from monitor.store.corpus import CorpusArticle, CorpusStore, RuleActivity
from monitor.store.deliveries import DeliveryOutcome, DeliveryRecord, DeliveryStore
from monitor.store.digests import DigestWindowClose, DigestWindowRecord, DigestWindowStore
from monitor.store.feedback import FeedbackStore, JudgedMatch, Judgement
from monitor.store.feeds import FeedStore
from monitor.store.health import FeedActivity, HealthStore, StoreCounts
from monitor.store.matches import MatchStore
from monitor.store.records import (
    AddResult,
    ArticleRecord,
    ArticleSummary,
    FeedRecord,
    FeedState,
    MatchDelivery,
    MatchHit,
    MatchRecord,
    NewArticle,
    NewMatch,
    PlannedDelivery,
)
from monitor.store.retention import PruneReport, RetentionStore
from monitor.store.schema import UnknownRevisionError, upgrade_to_head

__all__ = [
    "AddResult",
    "ArticleRecord",
    "ArticleSummary",
    "CorpusArticle",
    "DeliveryOutcome",
    "DeliveryPlan",
    "DeliveryRecord",
    "DigestWindowClose",
    "DigestWindowRecord",
    "FeedActivity",
    "FeedRecord",
    "FeedState",
    "InvalidCursorError",
    "JudgedMatch",
    "Judgement",
    "MatchDelivery",
    "MatchDetail",
    "MatchFilter",
    "MatchHit",
    "MatchPage",
    "MatchRecord",
    "NewArticle",
    "NewMatch",
    "PlannedDelivery",
    "PruneReport",
    "RuleActivity",
    "Store",
    "StoreCounts",
    "StoryInfo",
    "is_transient",
]


class Store(
    FeedStore,
    ArticleStore,
    MatchStore,
    BrowseStore,
    HealthStore,
    DeliveryStore,
    DigestWindowStore,
    FeedbackStore,
    CorpusStore,
    RetentionStore,
):
    """monitor's database. Open with ``Store.open(url)``; close with ``close()`` or ``with``."""

    @classmethod
    def open(cls, url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT, migrate: bool = True) -> Store:
        """Connect to ``url`` and upgrade its schema to the newest revision.

        Safe to call from several processes at once: the migration runs under a lock.

        Args:
            url: ``sqlite:///path`` (folder created if missing), ``sqlite://`` (in
                memory) or ``postgresql+psycopg://user@host/db``.
            busy_timeout: seconds a SQLite writer waits for another process's lock.
            migrate: False skips the migration (tests of old revisions).

        Raises:
            StoreError: the database is unreachable, malformed or cannot be migrated.
        """
        engine = create_store_engine(url, busy_timeout=busy_timeout)
        try:
            if migrate:
                upgrade_to_head(engine)
        except (SQLAlchemyError, sqlite3.Error, UnknownRevisionError, OSError) as e:
            engine.dispose()
            raise StoreError(f"cannot open the database: {_describe_open(e)}") from e
        return cls(engine)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def is_transient(error: BaseException) -> bool:
    """True for a store error that may pass (database locked, connection lost, statement timeout), so the write
    is worth retrying later; False for one the data itself causes (NUL in text, a constraint, too big)."""
    return isinstance(error, StoreError) and isinstance(error.__cause__, (OperationalError, InterfaceError))


def _describe_open(error: Exception) -> str:
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"
