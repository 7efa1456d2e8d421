"""Hostile values on the article write path (``monitor.store.driver``): each fails only its own article, with a
readable ``StoreError``, or is stored intact; the batch's other articles commit beside it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.config import FeedSettings
from monitor.errors import StoreError
from monitor.store import NewArticle, NewMatch, PlannedDelivery, Store
from monitor.store.writer import StoreWriter
from tests.support.dbfixtures import store, store_url  # noqa: F401

_MATCH = NewMatch(rule_id="r", rule_version="1", severity="high", tags=("t",), hits=(("title", 0, 1, "t"),))

# name -> (article changes, match changes, refused: True on every backend, None when a backend may refuse it)
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], bool | None]] = {
    "nul in a snippet": ({}, {"snippet": "a\x00b"}, None),
    "nul in a tag": ({}, {"tags": ("a\x00b",)}, None),
    "nul in a rule id": ({}, {"rule_id": "r\x00"}, None),
    "lone surrogate in a snippet": ({}, {"snippet": "a\udc80b"}, True),
    "lone surrogate in a hit": ({}, {"hits": (("title", 0, 1, "\ud800"),)}, None),
    "odd characters in a hit": ({}, {"hits": (("title", 0, 1, '\u2028"\\</script>\ufeff\U0001f600'),)}, False),
    "nul in a hit": ({}, {"hits": (("title", 0, 1, "a\x00b"),)}, None),
    "huge text": ({"text": "x" * 5_000_000, "title": "é" * 100_000}, {}, False),
    "64-bit edge story keys": ({"story_keys": (2**63 - 1, -(2**63), 0)}, {}, False),
    "story key past 64 bits": ({"story_keys": (2**63,)}, {}, True),
    "hit offset past 64 bits": ({}, {"hits": (("title", 2**64, 2**64 + 1, "t"),)}, None),
    "naive published time": ({"published": datetime(2026, 12, 6, 7, 0)}, {}, False),  # noqa: DTZ001 - on purpose
    "year 9999": ({"published": datetime(9999, 12, 31, 23, 59, tzinfo=UTC)}, {}, False),
}


def _article(feed: int, n: int, **changes: Any) -> NewArticle:
    base = NewArticle(
        feed_id=feed, feed_name="f", url=f"https://news.example/{n}", canonical_url=f"https://news.example/{n}",
        title=f"t{n}", text="x", author=None, published=None, lang="en", content_hash=f"h{n}",
        story_keys=(n,), entry_keys=(f"e{n}",),
    )  # fmt: skip
    return replace(base, **changes)


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_value_fails_only_its_article_inside_a_batch(store: Store, case: str) -> None:  # noqa: F811
    changes, match_changes, refused = CASES[case]
    store.sync_feeds([FeedSettings(url="https://news.example/feed", name="f")])
    feed = store.list_feeds()[0].id

    def plan(story_id: int, new_story: bool) -> list[PlannedDelivery]:
        return [PlannedDelivery("r", "chat", "immediate")]

    failed: StoreError | None = None
    with store.batch():
        store.add_article_with_matches(_article(feed, 1), [_MATCH], plan)
        try:
            store.add_article_with_matches(_article(feed, 2, **changes), [replace(_MATCH, **match_changes)], plan)
        except StoreError as e:
            failed = e
        store.add_article_with_matches(_article(feed, 3), [_MATCH], plan)
    if refused is not None:
        assert (failed is not None) == refused, failed
    if failed is not None:
        assert str(failed).startswith("add article failed: ") and len(str(failed)) < 400
    matches = store.list_matches()
    stored = sorted(m.article.url for m in matches)
    assert stored == [f"https://news.example/{n}" for n in ((1, 3) if failed else (1, 2, 3))]
    assert store.count_articles() == len(store.list_deliveries()) == len(stored)
    if not failed:  # stored intact, read back as written
        article = store.get_article(next(m.article.id for m in matches if m.article.url.endswith("/2")))
        assert article is not None
        for name, value in changes.items():
            if name == "published":
                assert article.published == value.replace(tzinfo=value.tzinfo or UTC)
            elif name != "story_keys":
                assert getattr(article, name) == value


def test_refused_values_in_one_writer_batch_fail_only_their_articles(store: Store) -> None:  # noqa: F811
    store.sync_feeds([FeedSettings(url="https://news.example/feed", name="f")])
    feed = store.list_feeds()[0].id

    def plan(story_id: int, new_story: bool) -> list[PlannedDelivery]:
        return [PlannedDelivery("r", "chat", "immediate")]

    hostile = [
        _article(feed, 2, story_keys=(2**63,)),  # PostgreSQL refuses it on the server: the transaction aborts
        _article(feed, 4),
    ]

    async def main() -> list[Any]:
        with StoreWriter(store) as writer:
            calls = [writer.call(store.add_article_with_matches, _article(feed, 1), [_MATCH], plan)]
            calls.append(writer.call(store.add_article_with_matches, hostile[0], [_MATCH], plan))
            calls.append(writer.call(store.add_article_with_matches, _article(feed, 3), [_MATCH], plan))
            bad_match = replace(_MATCH, snippet="a\udc80b")  # no driver encodes a lone surrogate
            calls.append(writer.call(store.add_article_with_matches, hostile[1], [bad_match], plan))
            calls.append(writer.call(store.add_article_with_matches, _article(feed, 5), [_MATCH], plan))
            return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = asyncio.run(main())
    assert [type(o).__name__ for o in outcomes] == ["AddResult", "StoreError", "AddResult", "StoreError", "AddResult"]
    assert sorted(m.article.url for m in store.list_matches()) == [f"https://news.example/{n}" for n in (1, 3, 5)]
    assert store.count_articles() == len(store.list_deliveries()) == 3
