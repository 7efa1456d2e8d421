"""The database schema as SQLModel tables (the source alembic autogenerates from).

Only ``monitor.store`` uses these classes; they never leave it (the facade returns the
frozen dataclasses of ``records.py``). Timestamps are UTC without an offset in plain ``DateTime`` columns (the
schema of every store since 0001); ``UTCDateTime`` converts at the seam: it takes aware times (and naive ones, taken
as UTC) and gives back aware UTC. JSON columns use SQLAlchemy's portable ``JSON`` type (TEXT on SQLite, ``json`` on
PostgreSQL).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Index, TypeDecorator, UniqueConstraint
from sqlalchemy import true as sa_true
from sqlmodel import Field, SQLModel

from monitor.clock import as_utc

__all__ = [
    "Article",
    "Delivery",
    "DigestWindow",
    "Entry",
    "Feed",
    "Feedback",
    "Match",
    "Story",
    "StoryKey",
    "UTCDateTime",
    "Worker",
    "metadata",
]

metadata = SQLModel.metadata


class UTCDateTime(TypeDecorator[datetime]):
    """A ``DateTime`` column holding UTC without an offset; Python sees aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Feed(SQLModel, table=True):
    """A polled feed and its polling state."""

    __tablename__ = "feeds"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    url: str  # where the feed is polled; a permanent redirect moves it
    config_url: str | None = None  # the URL config.toml names (None for CLI feeds)
    tags: list[str] = Field(default_factory=list, sa_type=JSON)
    enabled: bool = True
    interval: float | None = None  # seconds; None: [scheduler] poll_interval
    full_text: bool | None = None  # None: [fetch] full_text
    source: str = "config"  # "config" | "cli"
    etag: str | None = None
    last_modified: str | None = None
    last_polled: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_success: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status: str | None = None  # ok | not_modified | error | skipped | gone
    last_error: str | None = None
    consecutive_failures: int = 0
    next_poll: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    retry_after_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    blocked_requests: int = 0  # SSRF refusals, a hint that the feed links somewhere odd
    created_at: datetime = Field(sa_type=UTCDateTime)
    failed_entries: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # entries that failed alone
    last_entry_error: str | None = None  # the last of them: "<entry key>: <exception class>: <message>"
    redirect_pending: str | None = None  # a permanent redirect seen once; the feed moves when the next poll repeats it
    claimed_by: str | None = None  # PostgreSQL: the worker polling the feed (docs/design.md, Scale)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)  # its lease, on the database's clock


class Entry(SQLModel, table=True):
    """A key (GUID or canonical URL) already seen in a feed: "new entries only"."""

    __tablename__ = "entries"

    feed_id: int = Field(foreign_key="feeds.id", ondelete="CASCADE", primary_key=True)
    key: str = Field(primary_key=True)


class Story(SQLModel, table=True):
    """A group of articles that report the same thing (same URL, text or near-identical text)."""

    __tablename__ = "stories"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)  # retention finds old stories by it
    title: str = ""


class StoryKey(SQLModel, table=True):
    """A MinHash LSH band key of a story; the primary key (key first) serves lookups by key."""

    __tablename__ = "story_keys"
    __table_args__ = (Index("ix_story_keys_story_id", "story_id"),)  # a story's keys: retention removes them

    key: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    story_id: int = Field(foreign_key="stories.id", ondelete="CASCADE", primary_key=True)


class Article(SQLModel, table=True):
    """An article, stored once per canonical URL."""

    __tablename__ = "articles"

    id: int | None = Field(default=None, primary_key=True)
    canonical_url: str = Field(unique=True)
    url: str
    content_hash: str = Field(index=True)
    title: str = ""
    text: str = ""
    author: str | None = None
    published: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lang: str | None = None
    feed_id: int | None = Field(default=None, foreign_key="feeds.id", ondelete="SET NULL", index=True)
    feed_name: str = ""
    story_id: int = Field(foreign_key="stories.id", index=True)
    fetched_at: datetime = Field(sa_type=UTCDateTime, index=True)  # retention walks old articles by it
    extracted: bool = False  # True: full text from the page; False: the feed's summary
    # True: the link is on the feed's own site (stored under its canonical URL); False: a copy of another site's
    # article, stored under a key of its feed ("feed:<id>:<url>") so it can never claim that site's URL.
    owned: bool = Field(default=True, sa_column_kwargs={"server_default": sa_true()})
    # Page furniture split off the text (related lists, comments, promos: monitor.furniture); never matched.
    furniture: str = Field(default="", sa_column_kwargs={"server_default": ""})


class Match(SQLModel, table=True):
    """A rule that matched an article; unique per (article, rule, rule version)."""

    __tablename__ = "matches"
    __table_args__ = (
        UniqueConstraint("article_id", "rule_id", "rule_version", name="uq_matches_article_rule_version"),
        Index("ix_matches_rule_id_matched_at_id", "rule_id", "matched_at", "id"),  # a rule's matches, newest first
    )

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="articles.id", ondelete="CASCADE")
    rule_id: str = Field(index=True)
    rule_version: str = ""
    severity: str
    tags: list[str] = Field(default_factory=list, sa_type=JSON)
    hits: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    snippet: str = ""
    story_id: int = Field(foreign_key="stories.id", index=True)
    matched_at: datetime = Field(sa_type=UTCDateTime, index=True)


class Delivery(SQLModel, table=True):
    """The outbox: one row per (channel, story, rule, mode); queried by the notifier."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("channel", "story_id", "rule_id", "mode", name="uq_deliveries_channel_story_rule_mode"),
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_deliveries_story_id", "story_id"),  # the dashboard's rows and match page read a story's alerts
    )

    id: int | None = Field(default=None, primary_key=True)
    match_id: int | None = Field(default=None, foreign_key="matches.id", ondelete="SET NULL", index=True)
    channel: str
    story_id: int = Field(foreign_key="stories.id")
    rule_id: str
    mode: str = "immediate"  # "immediate" | "digest"
    status: str = "pending"  # "pending" | "sent" | "failed" | "suppressed"
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = None
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DigestWindow(SQLModel, table=True):
    """One digest of one channel: the window (when its rows were due) and who sends it; "sent" is final.

    Written in the transaction that records the digest's deliveries, so a worker taking over never sends a window
    again: rows that reach a sent window late go into the channel's next one.
    """

    __tablename__ = "digest_windows"
    __table_args__ = (UniqueConstraint("channel", "window_at", name="uq_digest_windows_channel_window_at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str
    window_at: datetime = Field(sa_type=UTCDateTime)
    status: str = "sending"  # "sending" | "sent" | "failed" (its rows wait for a retry, under a new window)
    claimed_by: str | None = None
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)  # on the database's clock
    deliveries: int = 0
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Feedback(SQLModel, table=True):
    """An analyst's judgement of a match: relevant or not, who said so and when (the latest judgement wins)."""

    __tablename__ = "feedback"

    id: int | None = Field(default=None, primary_key=True)
    match_id: int = Field(foreign_key="matches.id", ondelete="CASCADE", unique=True)
    relevant: bool
    judged_by: str = ""  # the web user's name or "api"; no accounts yet, so a free label
    judged_at: datetime = Field(sa_type=UTCDateTime)


class Worker(SQLModel, table=True):
    """A ``monitor run`` process sharing a PostgreSQL store, while it ticks: how many share the due feeds."""

    __tablename__ = "workers"

    name: str = Field(primary_key=True)  # ``clock.worker_id(unique=True)``: host:pid:nonce
    seen_until: datetime = Field(sa_type=UTCDateTime)  # on the database's clock; past it the worker is gone
