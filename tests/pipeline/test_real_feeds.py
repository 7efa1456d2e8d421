"""Every file of the eval feed corpus as a configured feed, through ONE real poll of the pipeline: no crash, no
hang; each feed ends ``ok`` or with its error recorded; well-formed real news feeds store their entries."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from monitor.config import DatabaseSettings, FeedSettings, FetchSettings, RulesSettings, Settings
from monitor.daemon import RuleWatcher, run_cycle
from monitor.store import Store
from tests.conftest import EVAL, PROJECT, needs_eval
from tests.support.hostile import HostileServer

ROOT = EVAL / "feeds"
pytestmark = [pytest.mark.slow, needs_eval(ROOT)]


def test_the_whole_corpus_in_one_poll(tmp_path: Path, hostile_server: HostileServer) -> None:  # noqa: F811
    files = sorted(p for p in ROOT.rglob("*") if p.is_file() and p.suffix in (".xml", ".json", ".rdf", ".atom"))
    assert len(files) > 2000
    feeds = tuple(
        FeedSettings(
            name=p.relative_to(ROOT).as_posix(), url=hostile_server.url("/file/" + p.relative_to(ROOT).as_posix())
        )
        for p in files
    )
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'corpus.db'}"),
        fetch=FetchSettings(allow_private=True, full_text=False, timeout=30, per_host=8),
        rules=RulesSettings(paths=(PROJECT / "rules",)),
        feeds=feeds,
    )
    store = Store.open(settings.database.url)
    store.sync_feeds(settings.feeds)
    results = asyncio.run(run_cycle(settings, store, RuleWatcher(settings).current, due_only=False))

    assert len(results) == len(files)
    by_status: dict[str, int] = {}
    for r in results:
        by_status[r.status] = by_status.get(r.status, 0) + 1
        assert r.status in ("ok", "error"), r
        assert r.error is None or not r.error.startswith("internal error"), r  # a bug, not a bad feed
    news = [r for r in results if r.feed.startswith("real/news/")]
    assert len(news) == 51 and all(r.status == "ok" and r.new > 0 for r in news), [r for r in news if not r.new]
    recorded = {f.name: f for f in store.list_feeds()}
    assert all(recorded[r.feed].last_error for r in results if r.status == "error")
    assert store.count_articles() > 1000
    print(f"corpus poll: {by_status}, {store.count_articles()} articles")
    store.close()
