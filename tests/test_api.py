"""The Python API (docs/api.md): ``monitor.open(config)`` -> ``Monitor``, used the way a script would, on a loopback
news site and a loopback chat receiver, with a real config file and a real store."""

from __future__ import annotations

from pathlib import Path

import pytest

import monitor
from monitor.errors import ConfigError, RuleSetError
from monitor.rules import Document
from tests.pipeline.test_poll import RAID, RULES, TOURISM
from tests.support.chat import ChatServer
from tests.support.newssite import NewsSite


def _deployment(tmp_path: Path, feed_url: str, chat_url: str) -> Path:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "scams.yaml").write_text(RULES, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///data/monitor.db"
[fetch]
allow_private = true
extract_processes = 1
[rules]
paths = ["rules"]
[[feeds]]
name = "daily"
url = "{feed_url}"
[channels.chat]
urls = ["{chat_url}"]
[[routes]]
channels = ["chat"]
""",
        encoding="utf-8",
    )
    return config


def test_a_script_polls_delivers_and_reads_matches(
    tmp_path: Path, news_site: NewsSite, chat_server: ChatServer
) -> None:
    news_site.add("daily", *RAID)
    news_site.add("daily", *TOURISM)
    config = _deployment(tmp_path, news_site.feed_url("daily"), chat_server.url())
    with monitor.open(config) as m:
        assert [f.name for f in m.feeds()] == ["daily"] and m.feeds()[0].id == 0  # listed, not yet stored
        m.sync_feeds()
        results = m.poll()
        assert [(r.feed, r.status, r.new, r.matched) for r in results] == [("daily", "ok", 2, 1)]
        report = m.deliver()
        assert report.sent == 1
        found = m.matches()
        assert [(x.rule, x.article.title) for x in found] == [("scam-raid", RAID[0])]
        assert [d.status for d in found[0].deliveries] == ["sent"]
        assert m.feeds()[0].articles == 2
    assert len(chat_server.messages()) == 1 and RAID[0] in str(chat_server.messages()[0])
    assert (tmp_path / "data" / "monitor.db").is_file()  # relative to the config file's folder


def test_match_runs_the_rules_without_storing(tmp_path: Path) -> None:
    config = _deployment(tmp_path, "https://example.org/feed", "json://127.0.0.1:9/hook")
    with monitor.open(config) as m:
        found = list(m.match([Document(title=RAID[0], text=RAID[1]), Document(title=TOURISM[0], text=TOURISM[1])]))
        assert [(doc.title, hit.rule.id) for doc, hit in found] == [(RAID[0], "scam-raid")]
    assert not (tmp_path / "data").exists()  # matching never opens the store


def test_errors_are_precise(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        monitor.open(tmp_path / "missing.toml")
    config = _deployment(tmp_path, "https://example.org/feed", "json://127.0.0.1:9/hook")
    (tmp_path / "rules" / "scams.yaml").write_text("rules:\n  - id: x\n    title: X\n    query: 'a AND'\n")
    with monitor.open(config) as m, pytest.raises(RuleSetError, match="scams.yaml:4"):
        _ = m.rules
    assert not (tmp_path / "data").exists()  # a bad rule file is found before the store is touched
