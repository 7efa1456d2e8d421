"""NFKC with offset maps: the normalised text and, per character of it, where it came from in the source.

Hits are offsets into the stored text while words are read from its NFKC form (docs/rule-language.md section 3), so every
normalised character keeps the span of the source unit it came from: a character with the marks that follow it.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import regex

__all__ = ["nfkc_with_map"]


def nfkc_with_map(text: str) -> tuple[str, list[int] | None, list[int] | None]:
    """NFKC-normalise ``text``; return it with, per output character, its source start and end.

    The maps are ``None`` when the text is already NFKC (offsets are then the identity).
    """
    if unicodedata.is_normalized("NFKC", text):
        return text, None, None
    nfkc = unicodedata.normalize("NFKC", text)
    mapped = _nfkc_units(text)
    if mapped[0] == nfkc:
        return mapped
    return _nfkc_each(text)  # the regex module's Unicode data disagrees with unicodedata's here: go char by char


# Where NFKC may change the text: a character it maps to something else (quick check No), or one that may compose
# with the characters before it (Maybe). Scanning for this class is fast; most text has none. Marks that NFKC
# only reorders are not in it: the result is compared with the whole text's NFKC, and the slow path taken if not.
_NFKC_HINT_RE = regex.compile(r"[\p{NFKC_QC=N}\p{NFKC_QC=M}]")


@lru_cache(maxsize=1024)
def _follows(ch: str) -> bool:
    """Whether ``ch`` joins the unit of the character before it (the unit :func:`_nfkc_each` normalises): a
    mark, a Hangul vowel or final jamo, or a character NFKC turns into a combining one (half-width katakana
    voicing marks, which compose with the kana before them: ｶﾞ is ガ)."""
    if unicodedata.category(ch).startswith("M") or "\u1160" <= ch <= "\u11ff":
        return True
    return ch > "\u00ff" and unicodedata.combining(unicodedata.normalize("NFKC", ch)[:1] or " ") > 0


def _nfkc_units(text: str) -> tuple[str, list[int], list[int]]:
    """NFKC with offset maps, normalising only the units that may change one by one (a character and the marks
    that follow it); the text between them is copied and mapped with ``range`` (in C)."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos, n = 0, len(text)
    for m in _NFKC_HINT_RE.finditer(text):
        i = m.start()
        if i < pos:
            continue  # inside the unit before
        while i > pos and _follows(text[i]):
            i -= 1  # back to the character the marks follow: the unit starts there
        j = i + 1
        while j < n and _follows(text[j]):
            j += 1
        out.append(text[pos:i])
        starts.extend(range(pos, i))
        ends.extend(range(pos + 1, i + 1))
        norm = unicodedata.normalize("NFKC", text[i:j])
        out.append(norm)
        starts.extend([i] * len(norm))
        ends.extend([j] * len(norm))
        pos = j
    out.append(text[pos:])
    starts.extend(range(pos, n))
    ends.extend(range(pos + 1, n + 1))
    return "".join(out), starts, ends


def _nfkc_each(text: str) -> tuple[str, list[int], list[int]]:
    """NFKC with offset maps, one character (with the marks and jamo that follow it) at a time."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        while j < n and _follows(text[j]):
            j += 1
        norm = unicodedata.normalize("NFKC", text[i:j])
        out.append(norm)
        starts.extend([i] * len(norm))
        ends.extend([j] * len(norm))
        i = j
    return "".join(out), starts, ends
