"""A small stored corpus for backtest, feedback and rules-page tests: a store holding articles fetched over the last
weeks, some with stored matches, and the rule files they were matched by.

``Corpus.build(store, tmp_path)`` writes ``rules/news.yaml`` (sets and two rules) and fills the store: for rule
``scam-raid`` one match the current rule keeps, one it would gain, one it would lose, and one outside a 30-day
window; a feed tagged ``asia`` for the ``feeds:`` filter of rule ``casino``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.api import Monitor
from monitor.config import DatabaseSettings, FeedSettings, FetchSettings, RulesSettings, Settings
from monitor.store import FeedRecord, NewArticle, NewMatch, PlannedDelivery, Store

__all__ = ["NOW", "RULES", "Corpus"]

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
RULES = """
sets:
  raid_words: [raid*, arrest*]
rules:
  - id: scam-raid
    title: Raid on a scam compound
    description: Police action against scam compounds.
    query: '@raid_words AND "scam compound*"'
    severity: high
    tags: [scams]
  - id: casino
    title: Casino news from Asian feeds
    query: casino*
    feeds: [asia]
"""
KEPT = ("Police raid scam compound in Poipet", "Police raided a scam compound in Poipet and detained 270 workers.")
GAINED = ("Arrests at a scam compound", "Officers arrested 40 people at a scam compound near the border on Monday.")
LOST = ("Scam compound reopens", "A scam compound that closed last year reopened under a new name.")
OLD = ("Raid on a scam compound in Bavet", "Police raided a scam compound in Bavet and detained 100 workers.")
CASINO = ("Casino tax rises", "The casino tax rises next year, the ministry said.")
OTHER = ("Angkor welcomes record visitors", "Siem Reap received more visitors this year than in any year since 2019.")


@dataclass
class Corpus:
    """What ``build`` stored: article ids and stored match ids by name."""

    settings: Settings
    store: Store
    feed: FeedRecord
    articles: dict[str, int] = field(default_factory=dict)
    matches: dict[str, int] = field(default_factory=dict)
    now: datetime = NOW
    channel: str | None = None  # matches planned for delivery on this channel (pending)

    @classmethod
    def build(
        cls, store: Store, folder: Path, url: str = "", *, now: datetime = NOW, channel: str | None = None
    ) -> Corpus:
        rules = folder / "rules"
        rules.mkdir(exist_ok=True)
        (rules / "news.yaml").write_text(RULES, encoding="utf-8")
        settings = Settings(
            database=DatabaseSettings(url=url or "sqlite://"),
            fetch=FetchSettings(extract_processes=1),
            rules=RulesSettings(paths=(rules,)),
            feeds=(FeedSettings(url="https://news.example/feed.xml", name="daily", tags=("asia",)),),
        )
        feed = store.sync_feeds(settings.feeds)[0]
        corpus = cls(settings, store, feed, now=now, channel=channel)
        corpus.add("kept", KEPT, 2, "scam-raid")
        corpus.add("gained", GAINED, 3)
        corpus.add("lost", LOST, 5, "scam-raid")
        corpus.add("old", OLD, 40, "scam-raid")
        corpus.add("casino", CASINO, 1)
        corpus.add("other", OTHER, 1)
        return corpus

    @staticmethod
    def rules_text() -> str:
        return RULES

    def monitor(self) -> Monitor:
        return Monitor(self.settings, self.store, clock=lambda: self.now)

    def add(self, name: str, article: tuple[str, str], days_ago: float, rule: str | None = None) -> int:
        title, text = article
        when = self.now - timedelta(days=days_ago)
        url = f"https://news.example/{name}.html"
        new = NewArticle(
            feed_id=self.feed.id,
            feed_name=self.feed.name,
            url=url,
            canonical_url=url,
            title=title,
            text=text,
            author=None,
            published=when,
            lang="en",
            content_hash=hashlib.sha256(text.encode()).hexdigest(),
        )
        word = title.split()[-1]
        hit = {"field": "title", "start": title.index(word), "end": len(title), "text": word}
        found = [NewMatch(rule, "old-version", "high", ("scams",), (hit,), title)] if rule else []
        planned = [PlannedDelivery(rule, self.channel)] if rule and self.channel else []
        added = self.store.add_article_with_matches(new, found, lambda story, is_new: planned, now=when)
        self.articles[name] = added.article_id
        if rule:
            self.matches[name] = added.match_ids[0]
        return added.article_id
