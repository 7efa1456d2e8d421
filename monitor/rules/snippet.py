"""Snippets: about 300 characters of an article's plain text around the first hits, with the hits' offsets in it.

Split from :mod:`monitor.rules.evaluate`, which re-exports :func:`make_snippet`.
"""

from __future__ import annotations

import re

from monitor.rules.model import Document

__all__ = ["SNIPPET_CHARS", "make_snippet"]

SNIPPET_CHARS = 300
_WS_RE = re.compile(r"\s+")  # the same characters as str.isspace()
#: (field, start, end): a hit as offsets into the document's field text.
_SpanHit = tuple[str, int, int]


def make_snippet(doc: Document, hits: list[_SpanHit]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """About 300 characters of plain text around the first hits, and the hits' offsets inside it.

    ``hits`` are in reading order (title first, then text; by offset within a field), as matches give them.
    """
    if not hits:
        return " ".join(doc.text[:SNIPPET_CHARS].split()), ()
    field = "text" if any(h[0] == "text" for h in hits) else hits[0][0]
    source: str = getattr(doc, field)
    spans = [(s, e) for f, s, e in hits if f == field]
    first = spans[0][0]
    lo = max(0, first - SNIPPET_CHARS // 4)
    if lo > 0:
        cut = source.rfind(" ", 0, lo)
        lo = cut + 1 if lo - cut < 40 else lo
    hi = min(len(source), lo + SNIPPET_CHARS)
    if hi < len(source):
        cut = source.find(" ", hi)
        hi = cut if 0 <= cut - hi < 40 else hi
    window = source[lo:hi]
    # Whitespace runs collapse to one space, none at the start or end (str.split() and _WS_RE both use
    # str.isspace()).
    body = " ".join(window.split())
    prefix = "…" if lo > 0 else ""
    suffix = "…" if hi < len(source) else ""
    inside = [(s, e) for s, e in spans if lo <= s and e <= hi]
    shift, size = len(prefix), len(body)
    if size == len(window.strip()):
        # No inner run was longer than one character: offsets only shift by what is stripped at the start.
        start = lo + len(window) - len(window.lstrip())
        marks = tuple((max(0, s - start) + shift, min(max(0, e - start), size) + shift) for s, e in inside)
    else:
        marks = tuple(
            (_collapsed(window, s - lo) + shift, min(_collapsed(window, e - lo), size) + shift) for s, e in inside
        )
    return prefix + body + suffix, marks


def _collapsed(window: str, pos: int) -> int:
    """The offset in ``window``'s collapsed body (see :func:`make_snippet`) of offset ``pos`` in ``window``."""
    return len(_WS_RE.sub(" ", window[:pos]).lstrip())
