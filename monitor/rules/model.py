"""The values the rules package hands to the rest of monitor: documents in, rules and matches out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from monitor.rules.nodes import Node
from monitor.severity import SEVERITIES

__all__ = ["Document", "Example", "Hit", "Match", "Rule", "SEVERITIES"]


@dataclass(frozen=True, slots=True)
class Document:
    """An article as the matcher sees it. Offsets in hits index these strings as given."""

    title: str = ""
    text: str = ""
    url: str = ""
    author: str = ""
    #: ISO 639-1 code; None means "detect it if some rule needs it".
    lang: str | None = None
    #: The feed's name; ``feed_tags`` are its tags from config.toml. Both are compared case-insensitively.
    feed: str = ""
    feed_tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Example:
    """One ``examples`` item of a rule: a document and whether the rule must match it."""

    doc: Document
    should_match: bool
    line: int = 0
    column: int = 0
    label: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    """A loaded rule. ``version`` is a hash of its normalised definition (query, lang, feeds)."""

    id: str
    title: str
    query: str
    description: str = ""
    severity: str = "medium"
    tags: tuple[str, ...] = ()
    lang: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    enabled: bool = True
    notify: tuple[str, ...] | None = None
    version: str = ""
    path: Path | None = None
    line: int = 0
    #: The parsed query (sets resolved).
    node: Node | None = field(default=None, repr=False, compare=False)
    examples: tuple[Example, ...] = field(default=(), repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Hit:
    """One span that made a query true: ``text == document.<field>[start:end]``."""

    field: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that matched a document.

    ``hits`` are every hit (docs/rule-language.md section 6); ``decisive`` the few of them that together make the query true
    (its witness, :mod:`monitor.rules.witness`). ``snippet`` is plain text, about 300 characters around the
    decisive hits: one passage, or several joined by `` […] `` when they are far apart (docs/rules.md,
    "Snippets"); ``snippet_hits`` are the ``(start, end)`` offsets of the hits inside it, which
    :meth:`marked_snippet` uses to mark them.
    """

    rule: Rule
    hits: tuple[Hit, ...]
    snippet: str
    snippet_hits: tuple[tuple[int, int], ...] = ()
    decisive: tuple[Hit, ...] = ()

    def marked_snippet(self, before: str = "**", after: str = "**") -> str:
        """The snippet with every hit wrapped in ``before``/``after`` (``**…**`` by default)."""
        out: list[str] = []
        pos = 0
        for start, end in sorted(self.snippet_hits):
            if start < pos:
                continue
            out += [self.snippet[pos:start], before, self.snippet[start:end], after]
            pos = end
        out.append(self.snippet[pos:])
        return "".join(out)
