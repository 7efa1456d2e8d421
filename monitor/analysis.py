"""An entry's analysis: its text chosen, matched, its language, keys and delivery plan, ready to be stored.

Inputs: a new feed entry, its entry keys, its page's extraction (or None) and the poll's ``Analysis`` (the feed,
its sites, settings, clock) with the rule set in force. Output: ``Prepared``, what
``Store.add_article_with_matches`` stores (the article row, its matches, its planned deliveries). CPU work only,
run in a CPU thread (``offloop.in_thread``), never on the event loop: a feed's entries that need no page are
analysed in one call (``prepare_all``), each still its own failure unit (its exception is returned in its place
and raised at its own entry's boundary, ``pipeline._guarded_entry``); an entry whose page was fetched is analysed
alone (``prepare``) once its extraction is in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor import dedup
from monitor.config import Settings
from monitor.extract import Extracted, choose_article
from monitor.feeds import FeedEntry
from monitor.lang import detect_language
from monitor.notify import plan_deliveries
from monitor.offloop import language_ready
from monitor.rules import Document, Match, RuleSet
from monitor.store import FeedRecord, NewArticle, NewMatch, PlannedDelivery

__all__ = ["Analysis", "Prepared", "feed_sites", "prepare", "prepare_all"]

#: An entry ready for the store: its article, its matches, the deliveries its matches plan.
Prepared = tuple[NewArticle, list[NewMatch], Sequence[PlannedDelivery]]


@dataclass(frozen=True)
class Analysis:
    """What every entry of one poll of a feed is analysed with (``sites``: ``feed_sites``)."""

    feed: FeedRecord
    sites: frozenset[str]
    settings: Settings
    clock: Callable[[], datetime]


def feed_sites(feed: FeedRecord) -> frozenset[str]:
    """The sites whose links the feed owns: its own URL's and its configured URL's (CPU: the suffix list)."""
    return frozenset(filter(None, (dedup.site(feed.url), dedup.site(feed.config_url or ""))))


def prepare_all(
    analysis: Analysis, rules: RuleSet, entries: Sequence[tuple[FeedEntry, tuple[str, ...]]]
) -> list[Prepared | Exception]:
    """``prepare`` of each entry (with its keys) on the feed's own text, in order; an entry that raises has its
    exception in its place, and the others are prepared as usual."""
    out: list[Prepared | Exception] = []
    for entry, keys in entries:
        try:
            out.append(prepare(analysis, rules, entry, keys, None))
        except Exception as e:  # this entry's failure alone: raised at its own boundary, on the event loop
            out.append(e)
    return out


def prepare(
    analysis: Analysis, rules: RuleSet, entry: FeedEntry, keys: tuple[str, ...], extracted: Extracted | None
) -> Prepared:
    """Choose the entry's title, body and furniture (its page's, else the feed's own text), match them with
    ``rules``, compute the article's keys and language, and plan the deliveries of its matches."""
    feed = analysis.feed
    chosen = choose_article(extracted, entry.title, entry.summary, entry.content)
    used_page = extracted is not None and chosen.from_page
    author = (extracted.author if extracted and used_page else "") or entry.author or ""
    published = entry.published or (extracted.date if extracted else None)
    lang = extracted.lang if extracted and used_page else None
    title, text = chosen.title, chosen.text  # the body: the furniture is stored apart, never matched
    document = Document(
        title=title, text=text, url=entry.url, author=author, lang=lang, feed=feed.name, feed_tags=tuple(feed.tags)
    )
    matches = list(rules.match(document))
    canonical = dedup.canonical_url(entry.url) if entry.url else ""
    owned = not canonical or dedup.site(canonical) in analysis.sites  # judged on the key itself, so they agree
    link = dedup.storable_key(canonical or f"guid:{feed.id}:{entry.guid}")
    article = NewArticle(
        feed_id=feed.id,
        feed_name=feed.name,
        url=entry.url,
        canonical_url=link,
        title=title,
        text=text,
        author=author,
        published=published,
        lang=lang or _detect_language(f"{title}\n{text}"),
        content_hash=dedup.content_hash(f"{title}\n{text}"),
        # A copy of another site's article also joins the story of other copies of its link.
        story_keys=dedup.story_keys(text) + (() if owned else (dedup.link_story_key(link),)),
        entry_keys=keys,
        extracted=chosen.from_page,
        owned=owned,
        furniture=chosen.furniture,
    )
    # Routing reads only the matches, rules and settings: planned here, so the writer thread only writes.
    planned = plan_deliveries(matches, rules, analysis.settings, published, analysis.clock())
    return article, [_new_match(m) for m in matches], planned


def _detect_language(text: str) -> str | None:
    language_ready()  # the model is loaded once, and only in a process that detects (pages come with theirs)
    return detect_language(text)


def _new_match(match: Match) -> NewMatch:
    rule = match.rule
    return NewMatch(
        rule_id=rule.id,
        rule_version=rule.version,
        severity=rule.severity,
        tags=tuple(rule.tags),
        hits=match.hits,
        snippet=match.snippet,
    )
