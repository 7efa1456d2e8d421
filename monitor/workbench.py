"""The rule workbench: pasted text or an article's URL, run through rules, each verdict explained as ``monitor rules
explain`` explains it. Nothing is stored.

Inputs: text (title = its first non-empty line, as a ``.txt`` input of ``monitor match``) or an ``http(s)://`` URL,
fetched by the pipeline's ``Fetcher`` (its limits and SSRF guard: loopback and private addresses are refused unless
``[fetch] allow_private`` opens them) and extracted by the pipeline's extractor; a ``RuleSet`` (the rules in force or
a draft). Outputs: a ``Trial``: the document, every rule that matched, and for the rules asked about (default: those
that matched) the verdict, the decisive snippet, the query as a tree of true/false nodes, and why it did not match.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor.config import FetchSettings
from monitor.errors import FetchError
from monitor.rules import Document, Explanation, Match, Rule, RuleSet

if TYPE_CHECKING:
    import httpx

    from monitor.fetch import Resolver

__all__ = ["Explained", "MAX_TEXT", "Trial", "fetch_article", "text_document", "try_document", "why_not"]

#: Pasted text longer than this is refused (the matcher reads at most its first 1 MB of a field anyway).
MAX_TEXT = 1_000_000


@dataclass(frozen=True)
class Explained:
    """One rule's verdict on the document, as ``rules explain`` gives it."""

    rule: Rule
    match: Match | None
    tree: Explanation
    why_not: str | None  # one line: what kept it from matching (None when it matched, or the tree says it all)


@dataclass(frozen=True)
class Trial:
    """A document tried against rules."""

    source: str  # "text", or the URL fetched
    document: Document
    matches: tuple[Match, ...]
    explained: tuple[Explained, ...]


def text_document(text: str) -> Document:
    """Pasted text as a document: the title is its first non-empty line, the text all of it.

    Raises:
        ValueError: the text is empty or longer than :data:`MAX_TEXT` characters.
    """
    if not text.strip():
        raise ValueError("the text is empty: paste an article, or give its URL")
    if len(text) > MAX_TEXT:
        raise ValueError(f"the text is longer than {MAX_TEXT:,} characters")
    title = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return Document(title=title, text=text)


def fetch_article(
    url: str,
    settings: FetchSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
) -> Document:
    """The article at ``url``, fetched as the pipeline fetches a page (limits, SSRF guard) and extracted.

    Raises:
        FetchError: not an http(s) URL, refused (``BlockedAddressError``), too large, a timeout, an error status.
        ExtractError: the page cannot be extracted.
    """
    from monitor.documents import html_document  # trafilatura is imported on first use
    from monitor.fetch import Fetcher

    if not url.lower().startswith(("http://", "https://")):
        raise FetchError("the URL must start with http:// or https://", url=url)

    async def get() -> tuple[bytes, str]:
        async with Fetcher(settings, transport=transport, resolver=resolver) as fetcher:
            result = await fetcher.fetch(url)
            return bytes(result.body), result.final_url

    body, final = asyncio.run(get())
    return html_document(body, final)


def try_document(source: str, doc: Document, ruleset: RuleSet, explain: Sequence[str] | None = None) -> Trial:
    """Run ``ruleset`` over ``doc`` and explain the rules named in ``explain`` (default: those that matched).

    Raises:
        UnknownRuleError: ``explain`` names a rule ``ruleset`` does not have.
    """
    for rule_id in explain or ():
        ruleset.rule(rule_id)
    found = tuple(ruleset.match(doc))
    ids = [m.rule.id for m in found] if explain is None else list(explain)
    explained = []
    for rule_id in dict.fromkeys(ids):
        rule = ruleset.rule(rule_id)
        tree = ruleset.explain(rule_id, doc)
        m = ruleset.match_rule(rule_id, doc)
        explained.append(Explained(rule, m, tree, why_not(tree, rule) if m is None else None))
    return Trial(source, doc, found, tuple(explained))


def why_not(result: Explanation, rule: Rule) -> str | None:
    """What kept a rule from matching, in one line: the false parts of a query that is partly true, or the rule's
    lang/feeds filters when the query itself is true; None when the tree says it all (nothing in it is true)."""
    if result.value:
        limits = [
            f"{key}: [{', '.join(values)}]" for key, values in (("lang", rule.lang), ("feeds", rule.feeds)) if values
        ]
        return (
            f"the query is true, but the rule's filters ({', '.join(limits)}) leave this document out"
            if limits
            else None
        )
    if not any(c.value for c in result.children):
        return None
    false = [c.query if len(c.query) <= 80 else c.query[:79] + "…" for c in result.children if not c.value]
    more = f" (and {len(false) - 3} more)" if len(false) > 3 else ""
    return "false: " + "; ".join(false[:3]) + more
