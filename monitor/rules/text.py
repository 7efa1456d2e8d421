"""Text normalisation shared by queries and articles (RULES.md section 3).

Input: a field's text as stored. Output: a :class:`Field` holding its words (NFKC, case-folded, Latin
diacritics removed), the case-kept form of each word (for ``=`` terms), each word's span in the original
text (code-point offsets), and a space-joined string of the words for the Aho-Corasick pass.

Words are runs of letters, marks and digits; everything else separates. A change of script splits a word.
Scripts written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) are cut into grapheme
clusters, each one a word of its own, so substring matching and NEAR distances work on the same tokens.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache

import regex

__all__ = [
    "Field",
    "WordPiece",
    "fold_word",
    "nfkc_with_map",
    "normalise",
    "split_words",
]

_NOSPACE_SCRIPTS = ("Han", "Hiragana", "Katakana", "Thai", "Lao", "Khmer", "Myanmar")
_NOSPACE_RE = regex.compile("|".join(rf"\p{{scx={s}}}" for s in _NOSPACE_SCRIPTS))
_LATIN_RE = regex.compile(r"\p{Script=Latin}")
_COMMON_RE = regex.compile(r"\p{Script=Common}|\p{Script=Inherited}")
_WORD_RE = regex.compile(r"[\p{L}\p{M}\p{N}]+")
_QUERY_WORD_RE = regex.compile(r"[\p{L}\p{M}\p{N}*?]+")
_GRAPHEME_RE = regex.compile(r"\X")
_WILDCARDS = "*?"

# Latin letters whose "diacritic" is not a combining mark in Unicode (stroke, slash, bar).
_STROKES = str.maketrans(
    {
        "đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ħ": "h", "Ħ": "H",
        "ŧ": "t", "Ŧ": "T", "ı": "i", "ƀ": "b", "Ƀ": "B", "ɨ": "i", "Ɨ": "I", "ƶ": "z",
        "Ƶ": "Z", "ȼ": "c", "Ȼ": "C", "ɇ": "e", "Ɇ": "E", "ƚ": "l", "Ƚ": "L", "ɍ": "r", "Ɍ": "R",
    }
)

# Script classes of a character: "NS" no-space script, "C" common (digits, joins any spaced script),
# "W" a query wildcard (joins anything), "M" a mark (joins the current run), else a script name.
_NS, _COMMON, _WILD, _MARK = "NS", "C", "W", "M"


@lru_cache(maxsize=65536)
def _script_class(ch: str) -> str:
    if ch in _WILDCARDS:
        return _WILD
    if unicodedata.category(ch).startswith("M"):
        return _MARK
    if _NOSPACE_RE.match(ch):
        return _NS
    if _LATIN_RE.match(ch):
        return "Latn"
    if _COMMON_RE.match(ch):
        return _COMMON
    return unicodedata.name(ch, "?").split(" ")[0]


def _compatible(run: str, ch: str) -> bool:
    """Whether a character of class ``ch`` continues a run of class ``run``."""
    if ch in (_MARK, _WILD) or run == ch or run == _WILD:
        return True
    if _NS in (run, ch):
        return False
    return _COMMON in (run, ch)


@dataclass(frozen=True, slots=True)
class WordPiece:
    """One word of a text or query: its folded and case-kept forms and its span in the source."""

    text: str
    cased: str
    start: int
    end: int
    nospace: bool
    joined: bool  # no separator between this word and the one before


def fold_word(word: str, *, keep_case: bool = False, latin: bool = True) -> str:
    """Case-fold (unless ``keep_case``) and, for Latin-script words, remove diacritics."""
    if word.isascii():
        return word if keep_case else word.lower()
    if not keep_case:
        word = word.casefold()
    if not latin:
        return word
    decomposed = unicodedata.normalize("NFD", word)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped).translate(_STROKES)


def _runs(word: str) -> list[tuple[int, int, str]]:
    """Split one letter/mark/digit run into script runs: (start, end, class)."""
    out: list[tuple[int, int, str]] = []
    start, cls = 0, _MARK
    for i, ch in enumerate(word):
        c = _script_class(ch)
        if i == 0:
            cls = c
            continue
        if _compatible(cls, c):
            if cls in (_MARK, _WILD, _COMMON) and c not in (_MARK, _WILD):
                cls = c
            continue
        out.append((start, i, cls))
        start, cls = i, c
    out.append((start, len(word), cls))
    return out


def _pieces(text: str, pattern: regex.Pattern[str]) -> list[WordPiece]:
    pieces: list[WordPiece] = []
    prev_end = -1
    for m in pattern.finditer(text):
        word, base = m.group(), m.start()
        if word.isascii():
            pieces.append(WordPiece(word.lower(), word, base, m.end(), False, base == prev_end))
            prev_end = m.end()
            continue
        for rs, re_, cls in _runs(word):
            seg = word[rs:re_]
            if cls == _NS:
                for g in _GRAPHEME_RE.finditer(seg):
                    s, e = base + rs + g.start(), base + rs + g.end()
                    gt = g.group()
                    pieces.append(WordPiece(gt.casefold(), gt, s, e, True, s == prev_end))
                    prev_end = e
                continue
            latin = cls in ("Latn", _COMMON, _WILD, _MARK)
            s, e = base + rs, base + re_
            pieces.append(
                WordPiece(
                    fold_word(seg, latin=latin),
                    fold_word(seg, keep_case=True, latin=latin),
                    s, e, False, s == prev_end,
                )
            )
            prev_end = e
    return pieces


def nfkc_with_map(text: str) -> tuple[str, list[int] | None, list[int] | None]:
    """NFKC-normalise ``text``; return it with, per output character, its source start and end.

    The maps are ``None`` when the text is already NFKC (offsets are then the identity).
    """
    if unicodedata.is_normalized("NFKC", text):
        return text, None, None
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        while j < n and (unicodedata.category(text[j]).startswith("M") or "\u1160" <= text[j] <= "\u11ff"):
            j += 1
        norm = unicodedata.normalize("NFKC", text[i:j])
        out.append(norm)
        starts.extend([i] * len(norm))
        ends.extend([j] * len(norm))
        i = j
    return "".join(out), starts, ends


def split_words(text: str, *, wildcards: bool = False) -> list[WordPiece]:
    """The words of a short text (a query term), offsets into its NFKC form."""
    nfkc = unicodedata.normalize("NFKC", text)
    return _pieces(nfkc, _QUERY_WORD_RE if wildcards else _WORD_RE)


@dataclass(frozen=True, slots=True)
class Field:
    """A normalised field: its words, their spans in the original text, and the AC search string."""

    text: str
    words: tuple[WordPiece, ...]
    norm: str  # " w0 w1 w2 " (folded words, one space between)
    norm_starts: tuple[int, ...] = field(repr=False)
    nfkc: str = field(repr=False)
    nfkc_starts: list[int] | None = field(repr=False)
    nfkc_ends: list[int] | None = field(repr=False)

    def word_at(self, norm_pos: int) -> int:
        """Index of the word starting at or before ``norm_pos`` in :attr:`norm`."""
        return bisect_right(self.norm_starts, norm_pos) - 1

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Original-text span covering words ``first`` to ``last`` inclusive."""
        return self.words[first].start, self.words[last].end

    def nfkc_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of :attr:`nfkc` back to the original text."""
        if self.nfkc_starts is None or self.nfkc_ends is None:
            return start, end
        if start >= end:
            pos = self.nfkc_starts[start] if start < len(self.nfkc_starts) else len(self.text)
            return pos, pos
        return self.nfkc_starts[start], self.nfkc_ends[end - 1]


def normalise(text: str) -> Field:
    """Normalise one field of an article (title, text, url or author)."""
    nfkc, starts, ends = nfkc_with_map(text)
    pieces = _pieces(nfkc, _WORD_RE)
    if starts is not None and ends is not None:
        pieces = [
            WordPiece(p.text, p.cased, starts[p.start], ends[p.end - 1], p.nospace, p.joined)
            for p in pieces
        ]
    norm_starts: list[int] = []
    pos = 1
    for p in pieces:
        norm_starts.append(pos)
        pos += len(p.text) + 1
    norm = " " + " ".join(p.text for p in pieces) + " " if pieces else " "
    return Field(text, tuple(pieces), norm, tuple(norm_starts), nfkc, starts, ends)
