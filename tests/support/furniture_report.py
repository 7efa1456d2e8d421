"""The furniture sets through the real pipeline, and their numbers: ``.venv/bin/python -m tests.support.furniture_report``
(every set; ``--set a``, ``--set b`` or ``--set c`` for one).

``run_set`` serves every page of a labelled set (set A: ``tests.support.furniture_pages``; set B, written blind:
``tests.support.furniture_pages_b``; set C, the final blind judge: ``tests.support.furniture_pages_c``) and one RSS
feed per site template from a loopback HTTP server, runs ``monitor poll`` and ``monitor matches --format json``
through the CLI with the shipped rules into a temporary SQLite store, and returns what a user sees: the rules that fired on each page, with their hits.
``tables`` prints the outcome by furniture kind, language, placement and template.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from monitor.cli import app
from tests.support.furniture_pages import KINDS, Page, pages, render, rss
from tests.support.furniture_pages_b import KINDS_B, PLACES_B, TEMPLATES_B, PageB, pages_b, render_b, rss_b
from tests.support.furniture_pages_c import KINDS_C, PLACES_C, TEMPLATES_C, PageC, pages_c, render_c, rss_c
from tests.support.newssite import NewsSite

__all__ = [
    "LANGUAGES",
    "PROJECT",
    "SET_A",
    "SET_B",
    "SET_C",
    "Fired",
    "LabelledSet",
    "Outcome",
    "main",
    "run_set",
    "tables",
]

PROJECT = Path(__file__).resolve().parents[2]
AnyPage = Page | PageB | PageC
LANGUAGES = ("en", "km", "th", "zh", "id", "vi", "ms", "fr")


@dataclass(frozen=True)
class LabelledSet:
    """A labelled furniture set: its pages, how a page and a feed are served, and the orders of its tables."""

    name: str
    pages: Callable[[], Sequence[AnyPage]]
    render: Callable[[Any], str]
    rss: Callable[[str, str, datetime], str]
    kinds: tuple[str, ...]
    places: tuple[str, ...]
    templates: tuple[str, ...]


SET_A = LabelledSet(
    "A",
    pages,
    render,
    rss,
    KINDS,
    ("before", "top", "inline", "end", "after"),
    ("wordpress", "newspaper", "plain", "amp", "portal"),
)
SET_B = LabelledSet("B", pages_b, render_b, rss_b, KINDS_B, PLACES_B, TEMPLATES_B)
SET_C = LabelledSet("C", pages_c, render_c, rss_c, KINDS_C, PLACES_C, TEMPLATES_C)


@dataclass(frozen=True)
class Fired:
    """One stored match: the rule, the words it hit (field: text) and the alert's snippet."""

    rule: str
    hits: tuple[str, ...]
    snippet: str


@dataclass
class Outcome:
    """The rules fired on each page, and what the poll said about the feeds."""

    labelled: LabelledSet = SET_A
    fired: dict[str, list[Fired]] = field(default_factory=dict)  # page id -> its matches
    feeds: list[dict[str, object]] = field(default_factory=list)  # ``feeds list --format json``
    unfetched: list[str] = field(default_factory=list)  # pages the poll never requested
    texts: dict[str, str] = field(default_factory=dict)  # page id -> the article text the store kept and matched
    poll_output: str = ""

    def pages(self) -> Sequence[AnyPage]:
        return self.labelled.pages()

    def rules(self, page: AnyPage) -> set[str]:
        return {f.rule for f in self.fired.get(page.id, [])}

    def false_alerts(self) -> list[AnyPage]:
        """Off-topic pages that raised any alert."""
        return [p for p in self.pages() if not p.on_topic and self.fired.get(p.id)]

    def misses(self) -> list[AnyPage]:
        """On-topic pages on which a rule of their label did not fire."""
        return [p for p in self.pages() if p.on_topic and not p.story.match <= self.rules(p)]

    def lost_body(self, page: AnyPage) -> list[str]:
        """The story's paragraphs (their opening and closing words) missing from the stored text."""
        stored = _squeeze(self.texts.get(page.id, ""))
        return [p[:40] for p in map(_squeeze, page.story.body) if p[:40] not in stored or p[-40:] not in stored]

    def body_losses(self) -> list[AnyPage]:
        """Pages whose stored text lost part of the story itself."""
        return [p for p in self.pages() if self.lost_body(p)]

    def explain(self, page: AnyPage) -> str:
        """One failed page: its id (story--kind-place-template), what fired with its hits, what was missing."""
        lines = [f"{page.id} [{page.block.kind}, {page.place}, {page.story.lang}]"]
        for f in self.fired.get(page.id, []):
            lines.append(f"    fired {f.rule}: hits {list(f.hits)}; snippet {f.snippet[:160]!r}")
        if lost := self.lost_body(page):
            lines.append(f"    story paragraphs not in the stored text: {lost}")
        if page.on_topic and (missing := page.story.match - self.rules(page)):
            lines.append(f"    missing {sorted(missing)}")
        return "\n".join(lines)


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


def _config(folder: Path, site: NewsSite, feeds: Iterable[str]) -> Path:
    path = folder / "config.toml"
    entries = "".join(f'[[feeds]]\nname = "{f}"\nurl = "{site.base}/feeds/{f}.xml"\n' for f in feeds)
    path.write_text(
        f"""
[database]
url = "sqlite:///{folder / "furniture.db"}"
[fetch]
allow_private = true
per_host = 8
concurrency = 16
extract_processes = 2
[rules]
paths = ["{PROJECT / "rules"}"]
{entries}""",
        encoding="utf-8",
    )
    return path


def run_set(folder: Path, labelled: LabelledSet = SET_A) -> Outcome:
    """Serve the set, poll it once with the CLI into ``folder``, and read back the stored matches."""
    site = NewsSite()
    everything = labelled.pages()
    try:
        feeds = sorted({p.feed for p in everything})
        now = datetime.now(UTC)
        for page in everything:
            site.raw[f"/news/{page.id}.html"] = labelled.render(page)
        for feed in feeds:
            site.raw[f"/feeds/{feed}.xml"] = labelled.rss(feed, site.base, now)
        config = _config(folder, site, feeds)
        outcome = Outcome(labelled)
        code, outcome.poll_output = _invoke("--config", str(config), "poll")
        if code != 0:
            raise RuntimeError(f"monitor poll exited {code}:\n{outcome.poll_output}")
        requested = {path for path, _ in site.requests}
        outcome.unfetched = [p.id for p in everything if f"/news/{p.id}.html" not in requested]
        _, listed = _invoke("--config", str(config), "feeds", "list", "--format", "json")
        outcome.feeds = [json.loads(line) for line in listed.splitlines() if line.startswith("{")]
        code, out = _invoke("--config", str(config), "matches", "--format", "json")
        by_url = {f"{site.base}/news/{p.id}.html": p.id for p in everything}
        for line in out.splitlines() if code == 0 else []:
            row = json.loads(line)
            page_id = by_url.get(row["article"]["url"], row["article"]["url"])
            hits = tuple(f"{h['field']}: {h['text']}" for h in row["hits"])
            outcome.fired.setdefault(page_id, []).append(Fired(row["rule"], hits, row["snippet"]))
        with closing(sqlite3.connect(folder / "furniture.db")) as db:  # the text the dashboard shows
            for url, text in db.execute("SELECT url, text FROM articles"):
                outcome.texts[by_url.get(url, url)] = text
        return outcome
    finally:
        site.close()


def _table(title: str, key: Callable[[AnyPage], str], order: Iterable[str], outcome: Outcome) -> list[str]:
    false, missed = {p.id for p in outcome.false_alerts()}, {p.id for p in outcome.misses()}
    cut = {p.id for p in outcome.body_losses()}
    rows = [
        f"| {title} | off-topic pages | off-topic alerted | on-topic pages | on-topic missed | story cut |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    totals = [0, 0, 0, 0, 0]
    for name in order:
        chosen = [p for p in outcome.pages() if key(p) == name]
        if not chosen:
            continue
        off = [p for p in chosen if not p.on_topic]
        on = [p for p in chosen if p.on_topic]
        counts = [
            len(off),
            sum(p.id in false for p in off),
            len(on),
            sum(p.id in missed for p in on),
            sum(p.id in cut for p in chosen),
        ]
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        rows.append(f"| {name} | " + " | ".join(map(str, counts)) + " |")
    rows.append("| **all** | " + " | ".join(f"**{n}**" for n in totals) + " |")
    return rows


def tables(outcome: Outcome) -> str:
    """Markdown tables of the outcome by furniture kind, language, placement and site template. "story cut": pages
    whose stored text lost part of the story itself (a paragraph's opening or closing words)."""
    labelled = outcome.labelled
    parts = [
        _table("kind", lambda p: p.block.kind, labelled.kinds, outcome),
        _table("language", lambda p: p.story.lang, LANGUAGES, outcome),
        _table("placement", lambda p: p.place, labelled.places, outcome),
        _table("template", lambda p: p.template, labelled.templates, outcome),
    ]
    return "\n\n".join("\n".join(t) for t in parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Print each set's tables and every failed page; exit 1 when any page failed."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.furniture_report")
    parser.add_argument(
        "--set", choices=("a", "b", "c", "all"), default="all", help="which labelled set (default: all)"
    )
    chosen = {"a": [SET_A], "b": [SET_B], "c": [SET_C], "all": [SET_A, SET_B, SET_C]}[parser.parse_args(argv).set]
    for name in [n for n in os.environ if n.startswith("MONITOR_")]:
        del os.environ[name]  # the developer's settings must not leak into the run
    status = 0
    for labelled in chosen:
        with tempfile.TemporaryDirectory() as folder:
            outcome = run_set(Path(folder), labelled)
        print(f"## Set {labelled.name}\n\n{tables(outcome)}")
        failed = list(dict.fromkeys(outcome.false_alerts() + outcome.misses() + outcome.body_losses()))
        if outcome.unfetched:
            print(f"\nnever fetched: {outcome.unfetched}")
        if failed:
            print(f"\n{len(failed)} pages of set {labelled.name} failed:")
            print("\n".join(outcome.explain(p) for p in failed))
        status |= 1 if failed or outcome.unfetched else 0
        print()
    return status


if __name__ == "__main__":
    sys.exit(main())
