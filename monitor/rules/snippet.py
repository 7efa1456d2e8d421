"""Snippets: about 300 characters of an article's plain text around its decisive hits, with the hits' offsets in it.

The decisive hits are a match's witness (:mod:`monitor.rules.witness`): the few occurrences that make the rule
true. When they fit in one window, the snippet is one passage around them, as it always was for a single term
(a quarter of the window before the first hit). When they are far apart, it is one passage per group of nearby
hits, in document order, joined by ``SEPARATOR`` (``…passage one… […] …passage two…``); the passages share the
window's characters and are cut at word boundaries, with ``…`` where text was cut. The snippet shows the text;
when every decisive hit is in another field (a ``title:`` rule), it shows that field, as before.

Split from :mod:`monitor.rules.evaluate`, which re-exports :func:`make_snippet`.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Sequence

from monitor.rules.model import Document

__all__ = ["MAX_PASSAGES", "SEPARATOR", "SNIPPET_CHARS", "make_snippet"]

SNIPPET_CHARS = 300
#: Between two passages of a snippet.
SEPARATOR = " […] "
#: Passages a snippet shows at most (each gets at least 60 characters); decisive hits beyond them are not shown.
MAX_PASSAGES = 4
_WS_RE = re.compile(r"\s+")  # the same characters as str.isspace()
_SENTENCE_END = re.compile(r"[.!?。！？]\s+|\n\s*")
#: Characters a passage keeps around its hits at least.
_CONTEXT = 40
#: (field, start, end): a hit as offsets into the document's field text.
_SpanHit = tuple[str, int, int]
_Span = tuple[int, int]
#: How far a cut moves to leave a grapheme cluster whole (a longer cluster is hostile: it is cut).
_CLUSTER_MAX = 32


def make_snippet(
    doc: Document, hits: list[_SpanHit], decisive: Sequence[_SpanHit] = ()
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """About 300 characters of plain text around the decisive hits, and the offsets of every hit inside it.

    ``hits`` are in reading order (title first, then text; by offset within a field), as matches give them;
    ``decisive`` (the witness) defaults to the first hits.
    """
    if not hits and not decisive:
        return " ".join(doc.text[:SNIPPET_CHARS].split()), ()
    chosen = list(decisive) or hits
    field = "text" if any(h[0] == "text" for h in chosen) else chosen[0][0]
    source: str = getattr(doc, field)
    spans = [(s, e) for f, s, e in hits if f == field]
    keys = sorted({(s, e) for f, s, e in chosen if f == field})
    if not decisive:
        keys = keys[:1]
    out: list[str] = []
    marks: list[tuple[int, int]] = []
    for lo, hi in _windows(source, keys):
        if out:
            out.append(SEPARATOR)
        shift = sum(map(len, out))
        inside = sorted(set(_inside(spans, lo, hi) + [(s, e) for s, e in keys if lo <= s and e <= hi]))
        text, found = _passage(source, lo, hi, inside)
        out.append(text)
        marks += [(s + shift, e + shift) for s, e in found]
    return "".join(out), tuple(marks)


def _windows(source: str, keys: list[_Span]) -> list[_Span]:
    """The (lo, hi) of each passage: one around every key if they fit, else one per group of nearby keys."""
    first, last = keys[0][0], max(e for _, e in keys)
    if len(keys) == 1 or last - first <= SNIPPET_CHARS - _CONTEXT:
        lo = max(0, first - SNIPPET_CHARS // 4)
        if len(keys) > 1 and last + _CONTEXT // 2 > lo + SNIPPET_CHARS:
            lo = max(0, last + _CONTEXT // 2 - SNIPPET_CHARS)  # the last hit needs the room, not the lead-in
        if lo > 0:
            cut = source.rfind(" ", 0, lo)
            lo = cut + 1 if lo - cut < 40 else lo
        hi = min(len(source), lo + SNIPPET_CHARS)
        if hi < len(source):
            cut = source.find(" ", hi)
            hi = cut if 0 <= cut - hi < 40 else hi
        return [(_cluster_edge(source, lo, 1), _reach(source, _cluster_edge(source, hi, -1), last))]
    for k in range(2, MAX_PASSAGES + 1):
        width = (SNIPPET_CHARS - len(SEPARATOR) * (k - 1)) // k - 2  # 2: the "…" either side
        groups = _groups(keys, width - _CONTEXT)
        if len(groups) <= k:
            break
    groups = groups[:MAX_PASSAGES]
    width = (SNIPPET_CHARS - len(SEPARATOR) * (len(groups) - 1)) // len(groups) - 2
    windows: list[_Span] = []
    for gs, ge in groups:
        lo = max(0, gs - max(0, width - (ge - gs)) // 3)  # a third of the room before the hits
        start = _sentence_start(source, max(0, lo - _CONTEXT), gs)
        if start is not None and ge <= start + width:
            lo = start
        hi = min(len(source), lo + width)
        lo = max(0, min(lo, hi - width))
        lo, hi = _word_edges(source, lo, hi, gs, ge)
        hi = _reach(source, hi, ge)
        if windows and lo <= windows[-1][1]:  # the passages touch: one passage
            lo = windows.pop()[0]
        windows.append((lo, hi))
    return windows


def _groups(keys: list[_Span], width: int) -> list[_Span]:
    """Keys gathered left to right into stretches of at most ``width`` characters (a longer key stands alone)."""
    groups: list[_Span] = []
    for s, e in keys:
        if groups and e - groups[-1][0] <= width:
            groups[-1] = (groups[-1][0], max(groups[-1][1], e))
        else:
            groups.append((s, e))
    return groups


def _sentence_start(source: str, lo: int, hi: int) -> int | None:
    """The last sentence start in ``lo..hi`` (after ``.``, ``!``, ``?`` and a space, or a line break; the text's
    start), if any: a passage reads better from there."""
    found = [m.end() for m in _SENTENCE_END.finditer(source, lo, hi)]
    return found[-1] if found else 0 if lo == 0 else None


def _word_edges(source: str, lo: int, hi: int, first: int, last: int) -> _Span:
    """``lo..hi`` narrowed to whole words, without cutting into ``first..last`` (the hits): to the nearest space
    within ``_CONTEXT`` characters, else (a long word: emoji, a script without spaces) to a grapheme cluster's edge,
    so that the passage keeps the text around its hits."""
    if lo > 0 and not source[lo - 1].isspace():
        m = _WS_RE.search(source, lo, min(first, lo + _CONTEXT))
        lo = m.end() if m is not None else _cluster_edge(source, lo, 1)
    if hi < len(source) and not source[hi].isspace():
        floor = max(last, hi - _CONTEXT)
        cut = max(source.rfind(" ", floor, hi), source.rfind("\n", floor, hi))
        hi = cut if cut >= 0 else _cluster_edge(source, hi, -1)
    return lo, hi


def _reach(source: str, hi: int, end: int) -> int:
    """``hi`` moved on to ``end`` (a hit's end) when only whitespace and a few characters lie between: a phrase
    whose words a long whitespace run separates is shown whole (the run collapses to one space)."""
    if end <= hi or len(" ".join(source[hi:end].split())) > _CONTEXT:
        return hi
    return end


def _cluster_edge(source: str, pos: int, step: int) -> int:
    """``pos`` moved by ``step`` (1 or -1) to the nearest edge of a grapheme cluster, so that a cut leaves a letter
    with its marks, an emoji sequence, a flag, and a Khmer coeng or a virama with the letter it joins."""
    for _ in range(_CLUSTER_MAX):
        if not _inside_cluster(source, pos):
            return pos
        pos += step
    return pos


def _inside_cluster(source: str, pos: int) -> bool:
    if pos <= 0 or pos >= len(source):
        return False
    here, before = source[pos], source[pos - 1]
    if unicodedata.category(here) in ("Mn", "Mc", "Me") or here in "\u200c\u200d":
        return True  # a mark, a variation selector or a joiner belongs to what precedes it
    if "\U0001f3fb" <= here <= "\U0001f3ff" or "\U000e0020" <= here <= "\U000e007f":
        return True  # a skin tone, a tag (a subdivision flag)
    if before == "\u200d" or unicodedata.combining(before) == 9:
        return True  # after a zero-width joiner, a virama or a coeng: the next letter is joined
    if _regional(here) and _regional(before):  # a flag is a pair of regional indicators
        run = 0
        while run < pos and run < _CLUSTER_MAX and _regional(source[pos - 1 - run]):
            run += 1
        return run % 2 == 1
    return False


def _regional(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def _inside(spans: list[_Span], lo: int, hi: int) -> list[_Span]:
    """The spans (sorted by start) that lie within ``lo..hi``: a bisect, then only those starting inside."""
    out: list[_Span] = []
    for i in range(bisect_left(spans, (lo, -1)), len(spans)):
        s, e = spans[i]
        if s >= hi:
            break
        if e <= hi:
            out.append((s, e))
    return out


def _passage(source: str, lo: int, hi: int, inside: list[_Span]) -> tuple[str, list[_Span]]:
    """``source[lo:hi]`` with its whitespace collapsed and "…" where the text goes on, and the offsets in it of
    the spans ``inside`` it."""
    window = source[lo:hi]
    # Whitespace runs collapse to one space, none at the start or end (str.split() and _WS_RE both use
    # str.isspace()).
    body = " ".join(window.split())
    prefix = "…" if lo > 0 else ""
    suffix = "…" if hi < len(source) else ""
    shift, size = len(prefix), len(body)
    if size == len(window.strip()):
        # No inner run was longer than one character: offsets only shift by what is stripped at the start.
        start = lo + len(window) - len(window.lstrip())
        marks = [(max(0, s - start) + shift, min(max(0, e - start), size) + shift) for s, e in inside]
    else:
        marks = [(_collapsed(window, s - lo) + shift, min(_collapsed(window, e - lo), size) + shift) for s, e in inside]
    return prefix + body + suffix, marks


def _collapsed(window: str, pos: int) -> int:
    """The offset in ``window``'s collapsed body (see :func:`make_snippet`) of offset ``pos`` in ``window``."""
    return len(_WS_RE.sub(" ", window[:pos]).lstrip())
