"""``monitor demo`` and its news feed: articles newest first on every run, rules shown by title, snippets that do not
repeat the headline above them."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.demo import demo_articles
from monitor.starter import SHIPPED_SEEDS

_SOURCE = re.compile(r"^  mekong-daily · (\d{4}-\d\d-\d\d \d\d:\d\d [+-]\d\d:\d\d) · (\S+)$")
_RULE = re.compile(r"^  (.+) \((kh-[a-z-]+), (critical|high|medium|low|info)\)(  .*)?$")


def test_each_seed_gives_a_title_and_a_body_that_does_not_repeat_it() -> None:
    articles = demo_articles()
    seeds = sorted(SHIPPED_SEEDS.glob("*.txt"))
    assert len(articles) == len(seeds) + 2  # and the two unrelated stories
    for seed, article in zip(seeds, articles, strict=False):
        assert article.title and article.title.rstrip("…") not in article.body, seed.name
        # nothing of the seed is lost between title and body (a section label such as "Cybersecurity" stays)
        words = seed.read_text(encoding="utf-8").split()
        assert sorted(f"{article.title} {article.body}".split()) == sorted(words) or sorted(
            f"{article.title}. {article.body}".split()
        ) == sorted(words), seed.name


@pytest.mark.slow
def test_demo_lists_articles_newest_first_with_rule_titles_and_fresh_snippets(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--data", str(tmp_path)], env={"COLUMNS": "1000"})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    sources = [(i, m) for i, line in enumerate(lines) if (m := _SOURCE.match(line))]
    assert len(sources) == 5
    shown = [(m.group(1), m.group(2)) for _, m in sources]
    newest_first = sorted(sorted(shown, key=lambda s: s[1]), key=lambda s: datetime.fromisoformat(s[0]), reverse=True)
    assert shown == newest_first

    titles = {
        "kh-scam-trafficking": "Cambodia - trafficking and forced criminality in scam compounds",
        "kh-scam-crackdown": "Cambodia - enforcement action against scam or cyber-fraud operations",
    }
    rules = [m for line in lines if (m := _RULE.match(line))]
    assert len(rules) == 26  # every match, by title with its id and severity
    assert {m.group(2): m.group(1) for m in rules if m.group(2) in titles} == titles

    for index, _ in sources:
        headline = lines[index - 1]
        after = lines[index + 1 :]
        snippet = next(line for line in after if line.startswith("  ") and not _RULE.match(line))
        assert headline[:60] not in snippet, headline
