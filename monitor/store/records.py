"""The values that cross the store seam: frozen dataclasses, never ORM objects.

Inputs: ``NewArticle``, ``NewMatch``, ``PlannedDelivery``, ``FeedState``.
Outputs: ``FeedRecord``, ``ArticleRecord``, ``MatchRecord`` (with ``ArticleSummary``,
``MatchHit``, ``MatchDelivery``) and ``AddResult``. ``FeedRecord.as_json()`` and
``MatchRecord.as_json()`` give the JSON Lines objects of docs/design.md (``feeds list`` and
``matches --format json``); times there are ISO 8601 UTC with a ``Z``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor import clock
from monitor.clean import INDEXABLE_BYTES, bound_key, clean_text, clean_url, is_clean, strip_userinfo

__all__ = [
    "AddResult",
    "ArticleRecord",
    "ArticleSummary",
    "FeedRecord",
    "FeedState",
    "MatchDelivery",
    "MatchHit",
    "MatchRecord",
    "NewArticle",
    "NewMatch",
    "PlannedDelivery",
    "iso_utc",
]


def iso_utc(when: datetime | None) -> str | None:
    """Render a UTC time as ``2026-11-03T08:15:00Z`` (None stays None)."""
    return None if when is None else clock.iso_utc(when)


@dataclass(frozen=True)
class FeedState:
    """The fields the pipeline updates after a poll (``Store.update_feed_state``)."""

    url: str
    enabled: bool = True
    etag: str | None = None
    last_modified: str | None = None
    last_polled: datetime | None = None
    last_success: datetime | None = None
    last_status: str | None = None  # ok | not_modified | error | skipped | gone
    last_error: str | None = None
    consecutive_failures: int = 0
    next_poll: datetime | None = None
    retry_after_until: datetime | None = None
    blocked_requests: int = 0
    failed_entries: int = 0  # entries that failed alone (recorded, marked seen), counted over the feed's life
    last_entry_error: str | None = None  # the last of them: "<entry key>: <exception class>: <message>"
    redirect_pending: str | None = None  # a permanent redirect seen once: the feed moves when it repeats


@dataclass(frozen=True)
class FeedRecord:
    """A feed as stored, with its polling state and article count."""

    id: int
    name: str
    url: str
    tags: tuple[str, ...]
    enabled: bool
    interval: float | None
    full_text: bool | None
    source: str
    etag: str | None
    last_modified: str | None
    last_polled: datetime | None
    last_success: datetime | None
    last_status: str | None
    last_error: str | None
    consecutive_failures: int
    next_poll: datetime | None
    retry_after_until: datetime | None
    blocked_requests: int
    created_at: datetime
    articles: int = 0
    config_url: str | None = None  # the URL config.toml names; differs from ``url`` once a redirect moved the feed
    failed_entries: int = 0
    last_entry_error: str | None = None
    redirect_pending: str | None = None

    @property
    def state(self) -> FeedState:
        """The polling state, to ``dataclasses.replace`` and pass to ``update_feed_state``."""
        return FeedState(
            url=self.url,
            enabled=self.enabled,
            etag=self.etag,
            last_modified=self.last_modified,
            last_polled=self.last_polled,
            last_success=self.last_success,
            last_status=self.last_status,
            last_error=self.last_error,
            consecutive_failures=self.consecutive_failures,
            next_poll=self.next_poll,
            retry_after_until=self.retry_after_until,
            blocked_requests=self.blocked_requests,
            failed_entries=self.failed_entries,
            last_entry_error=self.last_entry_error,
            redirect_pending=self.redirect_pending,
        )

    def as_json(self) -> dict[str, Any]:
        """The ``feeds list --format json`` object."""
        return {
            "name": self.name,
            "url": self.url,
            "tags": list(self.tags),
            "enabled": self.enabled,
            "last_polled": iso_utc(self.last_polled),
            "last_success": iso_utc(self.last_success),
            "last_status": self.last_status,
            "last_error": self.last_error,
            "consecutive_failures": self.consecutive_failures,
            "next_poll": iso_utc(self.next_poll),
            "articles": self.articles,
            "config_url": self.config_url,
            "redirect_pending": self.redirect_pending,
            "failed_entries": self.failed_entries,
            "last_entry_error": self.last_entry_error,
        }


@dataclass(frozen=True)
class NewArticle:
    """An article to store (``dedup`` has computed the URL key, hash and story keys)."""

    feed_id: int | None
    feed_name: str
    url: str
    canonical_url: str
    title: str
    text: str
    author: str | None
    published: datetime | None
    lang: str | None
    content_hash: str
    story_keys: tuple[int, ...] = ()
    entry_keys: tuple[str, ...] = ()
    extracted: bool = False
    owned: bool = True  # False: the link is on another site than the feed's (stored under a feed-scoped key)
    furniture: str = ""  # page furniture split off the text (monitor.furniture): kept, never matched

    def __post_init__(self) -> None:
        # Last line of defence; parse_feed and extract_html already clean (monitor.clean). PostgreSQL refuses NUL
        # in text and no driver encodes a lone surrogate, so one such value would fail the insert.
        for name in ("feed_name", "url", "canonical_url", "title", "text", "author", "lang", "furniture"):
            value = getattr(self, name)
            if isinstance(value, str) and not is_clean(value):
                object.__setattr__(self, name, value := clean_text(value))
            if name == "url" and "@" in value:  # never a link with user:pass@, as Python or a browser reads it
                object.__setattr__(self, name, clean_url(value))
            elif name == "canonical_url" and "@" in value:  # a key, maybe not a URL at all
                object.__setattr__(self, name, strip_userinfo(value) or value)
        if not all(is_clean(key) for key in self.entry_keys):
            object.__setattr__(self, "entry_keys", tuple(clean_text(key) for key in self.entry_keys))
        # PostgreSQL cannot index a value over 2,704 bytes: an absurd key is hashed, not refused.
        object.__setattr__(self, "canonical_url", bound_key(self.canonical_url, INDEXABLE_BYTES))
        object.__setattr__(self, "entry_keys", tuple(bound_key(key, INDEXABLE_BYTES) for key in self.entry_keys))


@dataclass(frozen=True)
class NewMatch:
    """A rule match to store; ``hits`` are ``(field, start, end, text)`` tuples, dicts or Hits."""

    rule_id: str
    rule_version: str | int
    severity: str
    tags: tuple[str, ...] = ()
    hits: tuple[Any, ...] = ()
    snippet: str = ""


@dataclass(frozen=True)
class PlannedDelivery:
    """A delivery the routing plan wants for a story; ``not_before`` None means now."""

    rule_id: str
    channel: str
    mode: str = "immediate"  # "immediate" | "digest"
    not_before: datetime | None = None


@dataclass(frozen=True)
class AddResult:
    """What ``add_article_with_matches`` did."""

    article_id: int
    story_id: int
    new_story: bool
    duplicate: bool  # the canonical URL was already stored: nothing else was inserted
    match_ids: tuple[int, ...] = ()
    deliveries_created: int = 0


@dataclass(frozen=True)
class ArticleRecord:
    """A stored article."""

    id: int
    url: str
    canonical_url: str
    title: str
    text: str
    author: str | None
    published: datetime | None
    lang: str | None
    content_hash: str
    feed_id: int | None
    feed_name: str
    story_id: int
    fetched_at: datetime
    extracted: bool
    owned: bool = True
    furniture: str = ""


@dataclass(frozen=True)
class ArticleSummary:
    """The article part of a match line."""

    id: int
    url: str
    title: str
    feed: str
    published: datetime | None
    lang: str | None


@dataclass(frozen=True)
class MatchHit:
    """Where a rule term matched: ``text[start:end]`` of ``field`` (title or text)."""

    field: str
    start: int
    end: int
    text: str

    @classmethod
    def coerce(cls, hit: Any) -> MatchHit:
        """Accept a tuple, a mapping or any object with the four attributes."""
        if isinstance(hit, MatchHit):
            return hit
        if isinstance(hit, Mapping):
            return cls(str(hit["field"]), int(hit["start"]), int(hit["end"]), str(hit["text"]))
        if isinstance(hit, (tuple, list)):
            name, start, end, text = hit
            return cls(str(name), int(start), int(end), str(text))
        return cls(str(hit.field), int(hit.start), int(hit.end), str(hit.text))

    def as_json(self) -> dict[str, Any]:
        """``{"field", "start", "end", "text"}``."""
        return {"field": self.field, "start": self.start, "end": self.end, "text": self.text}

    @classmethod
    def json_of(cls, hit: Any) -> dict[str, Any]:
        """``coerce(hit).as_json()``; a hit with the four attributes (the matcher's) goes straight to its JSON
        (the writer stores about ten per match)."""
        if isinstance(hit, (cls, Mapping, tuple, list)):
            return cls.coerce(hit).as_json()
        return {"field": str(hit.field), "start": int(hit.start), "end": int(hit.end), "text": str(hit.text)}


@dataclass(frozen=True)
class MatchDelivery:
    """One channel's delivery state for a match."""

    channel: str
    status: str
    attempts: int
    last_error: str | None
    mode: str = "immediate"


@dataclass(frozen=True)
class MatchRecord:
    """A stored match with its article, story and deliveries."""

    id: int
    rule: str
    rule_version: str
    severity: str
    tags: tuple[str, ...]
    article: ArticleSummary
    story: int
    hits: tuple[MatchHit, ...]
    snippet: str
    matched_at: datetime
    deliveries: tuple[MatchDelivery, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        """The ``matches --format json`` object of docs/design.md."""
        art = self.article
        return {
            "id": self.id,
            "rule": self.rule,
            "rule_version": self.rule_version,
            "severity": self.severity,
            "article": {
                "id": art.id,
                "url": art.url,
                "title": art.title,
                "feed": art.feed,
                "published": iso_utc(art.published),
                "lang": art.lang,
            },
            "story": self.story,
            "hits": [h.as_json() for h in self.hits],
            "snippet": self.snippet,
            "matched_at": iso_utc(self.matched_at),
            "deliveries": [
                {"channel": d.channel, "status": d.status, "attempts": d.attempts, "last_error": d.last_error}
                for d in self.deliveries
            ],
        }
