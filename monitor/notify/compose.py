"""Compose what a message says from outbox rows (pure): one alert per story, digests grouped by rule.

Inputs: ``DeliveryRecord`` rows claimed from the outbox, the current rules (for titles) and a story's articles.
Outputs: ``StoryAlert`` and ``DigestGroup`` values for ``render``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from monitor.clock import MAX_TIME
from monitor.notify.render import ALSO_REPORTED_MAX, AlertArticle, AlertRule, DigestGroup, StoryAlert, clip
from monitor.severity import severity_rank
from monitor.store import ArticleRecord, DeliveryRecord

__all__ = ["RuleInfo", "build_digest", "group_by_story", "story_alert"]


class RuleInfo(Protocol):
    """What an alert shows of a rule (``monitor.rules.Rule`` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def description(self) -> str: ...


_StoryArticles = Callable[[int], Sequence[ArticleRecord]]
# Article and feed text is hostile and unbounded: an alert shows this much of each.
_TITLE_MAX = 300
_FEED_MAX = 100
_SNIPPET_MAX = 1000
_LAST = MAX_TIME


def group_by_story(rows: Iterable[DeliveryRecord]) -> list[list[DeliveryRecord]]:
    """Rows grouped by (channel, story), most severe story first, then oldest first (claim order)."""
    groups: dict[tuple[str, int], list[DeliveryRecord]] = {}
    for row in rows:
        groups.setdefault((row.channel, row.story_id), []).append(row)
    ordered = list(groups.values())
    ordered.sort(key=lambda group: -max(severity_rank(row.severity) for row in group))
    return ordered


def story_alert(
    rows: Sequence[DeliveryRecord], rules: Mapping[str, RuleInfo], story_articles: _StoryArticles | None = None
) -> StoryAlert:
    """The alert for one story: every rule in ``rows`` (highest severity first), the first article, the hits.

    ``story_articles`` gives the story's other articles (``Store.story_articles``): they are listed as "also
    reported by", except the one the alert is about: one article per outlet, at most ``ALSO_REPORTED_MAX``
    outlets; ``also_more`` counts the articles not listed.
    """
    alert_rules = sorted(
        {row.rule_id: _alert_rule(row, rules) for row in rows}.values(),
        key=lambda rule: (-severity_rank(rule.severity), rule.id),
    )
    main = min(rows, key=lambda row: (not row.article_owned, row.matched_at or _LAST, row.id))
    article = _article(main.article_title, main.article_url, main.feed_name, main.published)
    others = [a for a in (story_articles(main.story_id) if story_articles else ()) if a.id != main.article_id]
    outlets: dict[str, ArticleRecord] = {}  # each outlet's first article, in story order
    for other in others:
        if len(outlets) == ALSO_REPORTED_MAX:
            break
        outlets.setdefault(other.feed_name, other)
    shown = tuple(_article(a.title, a.url, a.feed_name, a.published) for a in outlets.values())
    hit_texts = tuple(dict.fromkeys(hit.text for row in rows if row.article_id == main.article_id for hit in row.hits))
    return StoryAlert(
        story_id=main.story_id,
        rules=tuple(alert_rules),
        article=article,
        snippet=clip(main.snippet, _SNIPPET_MAX),
        hit_texts=hit_texts,
        also_reported=shown,
        also_more=len(others) - len(shown),
    )


def build_digest(
    rows: Sequence[DeliveryRecord],
    rules: Mapping[str, RuleInfo],
    story_articles: _StoryArticles | None = None,
    *,
    max_items: int = 200,
) -> tuple[list[DigestGroup], int, int]:
    """Group digest rows by rule (highest severity first) and story (newest first).

    Returns:
        (groups, stories, omitted): ``stories`` distinct stories in the digest, ``omitted`` items left out over
        ``max_items`` (they are counted in each group's ``total``).
    """
    by_rule: dict[str, dict[int, list[DeliveryRecord]]] = {}
    for row in rows:
        by_rule.setdefault(row.rule_id, {}).setdefault(row.story_id, []).append(row)
    order = sorted(
        by_rule,
        key=lambda rule_id: (
            -severity_rank(_alert_rule(next(iter(by_rule[rule_id].values()))[0], rules).severity),
            rule_id,
        ),
    )
    groups: list[DigestGroup] = []
    budget, omitted = max_items, 0
    for rule_id in order:
        stories = sorted(by_rule[rule_id].values(), key=lambda group: max(_newest(row) for row in group), reverse=True)
        shown = stories[: max(budget, 0)]
        budget -= len(shown)
        omitted += len(stories) - len(shown)
        groups.append(
            DigestGroup(
                rule=_alert_rule(stories[0][0], rules),
                stories=tuple(story_alert(group, rules, story_articles) for group in shown),
                total=len(stories),
            )
        )
    return groups, len({row.story_id for row in rows}), omitted


def _alert_rule(row: DeliveryRecord, rules: Mapping[str, RuleInfo]) -> AlertRule:
    rule = rules.get(row.rule_id)
    if rule is None:  # the rule was removed or renamed since it matched: show what the match recorded
        return AlertRule(id=row.rule_id, title=row.rule_id, severity=row.severity)
    return AlertRule(id=rule.id, title=rule.title or rule.id, severity=rule.severity, description=rule.description)


def _article(title: str, url: str, feed: str, published: datetime | None) -> AlertArticle:
    return AlertArticle(title=clip(title, _TITLE_MAX), url=url, feed=clip(feed, _FEED_MAX), published=published)


def _newest(row: DeliveryRecord) -> datetime:
    return row.published or row.matched_at or row.created_at
