"""Builders for notify tests: settings with channels and routes, rules, and stories stored with their plan.

``make_settings(channels={...}, routes=[...], **notify)`` builds a validated ``Settings``; ``rule(...)`` a
``monitor.rules.Rule``; ``add_story(store, settings, rules, ...)`` stores an article with its matches and the
deliveries ``plan_deliveries`` decides, exactly as the pipeline does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from monitor.config import Settings
from monitor.dedup import canonical_url, content_hash, story_keys
from monitor.notify import plan_deliveries
from monitor.rules import Rule
from monitor.store import AddResult, NewArticle, NewMatch, Store

__all__ = ["T0", "add_story", "make_settings", "rule"]

T0 = datetime(2026, 11, 3, 8, 0, 0, tzinfo=UTC)


def make_settings(channels: dict[str, Any], routes: Sequence[dict[str, Any]] = (), **notify: Any) -> Settings:
    notify.setdefault("timeout", 5.0)
    return Settings.model_validate({"channels": channels, "routes": list(routes), "notify": notify})


def rule(
    rule_id: str,
    severity: str = "high",
    *,
    title: str | None = None,
    tags: Sequence[str] = (),
    notify: Sequence[str] | None = None,
) -> Rule:
    return Rule(
        id=rule_id,
        title=title or f"Rule {rule_id}",
        query="x",
        severity=severity,
        tags=tuple(tags),
        notify=tuple(notify) if notify is not None else None,
        version="1",
    )


def add_story(
    store: Store,
    settings: Settings,
    rules: Sequence[Rule],
    *,
    url: str,
    title: str,
    text: str,
    feed: str = "Khmer Times",
    published: datetime | None = None,
    now: datetime = T0,
    hits: Sequence[str] = ("scam compound",),
    snippet: str | None = None,
) -> AddResult:
    """Store one article matched by every rule in ``rules``, planning deliveries like the pipeline."""
    snippet = snippet if snippet is not None else text[:200]
    matches = []
    for r in rules:
        found = [("text", text.find(h), text.find(h) + len(h), h) for h in hits if h in text]
        matches.append(
            NewMatch(
                rule_id=r.id,
                rule_version=r.version,
                severity=r.severity,
                tags=r.tags,
                hits=tuple(found),
                snippet=snippet,
            )
        )
    article = NewArticle(
        feed_id=None,
        feed_name=feed,
        url=url,
        canonical_url=canonical_url(url),
        title=title,
        text=text,
        author=None,
        published=published or now,
        lang="en",
        content_hash=content_hash(text),
        story_keys=story_keys(text),
    )

    def plan(story_id: int, new_story: bool) -> list[Any]:
        return plan_deliveries(matches, rules, settings, article.published, now)

    return store.add_article_with_matches(article, matches, plan, now=now)
