"""Text normalisation shared by queries and articles (docs/rule-language.md section 3).

Input: a field's text as stored. Output: a :class:`Field` holding its words (NFKC, case-folded, Latin
diacritics removed), the case-kept form of each word (for ``=`` terms), each word's span in the original
text (code-point offsets), and a space-joined string of the words for the Aho-Corasick pass.

Words are runs of letters, marks and digits; everything else separates. A change of script splits a word.
Scripts written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) are cut into grapheme
clusters, each one a word of its own, so substring matching and NEAR distances work on the same tokens.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

import regex

from monitor.rules.nfkc import nfkc_with_map
from monitor.rules.scripts import fold_word, split_run

__all__ = [
    "Field",
    "WordPiece",
    "fold_word",
    "nfkc_with_map",
    "normalise",
    "split_words",
]

_WORD_RE = regex.compile(r"[\p{L}\p{M}\p{N}]+")
_WORD_SPLIT_RE = regex.compile(r"([\p{L}\p{M}\p{N}]+)")  # split() also returns the separators
#: The same words in ASCII text, captured so that ``split`` also returns the separators.
_ASCII_SPLIT_RE = re.compile(r"([A-Za-z0-9]+)")
_QUERY_WORD_RE = regex.compile(r"[\p{L}\p{M}\p{N}*?]+")
#: U+02BC MODIFIER LETTER APOSTROPHE is a letter to Unicode but an apostrophe to writers (``Cambodiaʼs``), and
#: apostrophes separate words (docs/rule-language.md 3.3): words are read from the text with it as a plain one (same offsets).
_APOSTROPHE = str.maketrans({"\u02bc": "'"})


@dataclass(frozen=True, slots=True)
class WordPiece:
    """One word of a text or query: its folded and case-kept forms and its span in the source."""

    text: str
    cased: str
    start: int
    end: int
    nospace: bool
    joined: bool  # no separator between this word and the one before


def _pieces(text: str, pattern: regex.Pattern[str]) -> list[WordPiece]:
    pieces: list[WordPiece] = []
    prev_end = -1
    for m in pattern.finditer(text):
        word, base = m.group(), m.start()
        if word.isascii():
            pieces.append(WordPiece(word.lower(), word, base, m.end(), False, base == prev_end))
            prev_end = m.end()
            continue
        for rs, re_, folded, cased, nospace in split_run(word):
            s, e = base + rs, base + re_
            pieces.append(WordPiece(folded, cased, s, e, nospace, s == prev_end))
            prev_end = e
    return pieces


def split_words(text: str, *, wildcards: bool = False) -> list[WordPiece]:
    """The words of a short text (a query term), offsets into its NFKC form."""
    nfkc = unicodedata.normalize("NFKC", text).translate(_APOSTROPHE)
    return _pieces(nfkc, _QUERY_WORD_RE if wildcards else _WORD_RE)


def _expand(edges: list[int], cut: list[tuple[int, tuple[tuple[int, int, str, str, bool], ...]]]) -> list[int]:
    """Run edges with each cut run's pair replaced by the edges of its words (offsets within the run)."""
    out: list[int] = []
    done = 0
    for k, pieces in cut:
        out += edges[done : 2 * k]
        base = edges[2 * k]
        out += [base + x for piece in pieces for x in piece[:2]]
        done = 2 * k + 2
    out += edges[done:]
    return out


#: Up to this many spans at once are computed edge by edge (:meth:`Field._edge`), beyond from all edges.
_SPARSE_SPANS = 32


class Field:
    """A normalised field: its words, their spans in the original text, and the AC search string.

    ``words`` (folded) and ``cased`` are computed at once; spans and positions in :attr:`norm` only when
    first asked for, since most articles match no rule and never need them.
    """

    __slots__ = (
        "text",
        "words",
        "cased",
        "norm",
        "_nfkc",
        "_maps",
        "_parts",
        "_runs",
        "_cut",
        "_edges_cache",
        "_sparse",
        "_lower",
    )

    def __init__(self, text: str, *, fast: bool = True) -> None:
        """``fast=False`` forces the general path, which gives the same result (tests compare the two)."""
        self.text = text
        self._edges_cache: list[int] | None = None
        self._parts: list[str] | None = None
        self._lower: str | None = None
        # ASCII fields: the edges asked for so far (sorted indexes, their offsets), see :meth:`_edge`.
        self._sparse: tuple[list[int], list[int]] = ([-1], [0])
        if fast and text.isascii():
            self._init_ascii(text, text)
            return
        if fast and _ascii_words(text):
            self._init_ascii(text, None)
            return
        nfkc, starts, ends = nfkc_with_map(text)
        self._nfkc: str | None = nfkc
        self._maps = (starts, ends)
        # [sep, run, sep, run, ..., sep]: kept so that spans come from running lengths (see :meth:`_edges`).
        self._runs = _WORD_SPLIT_RE.split(nfkc.translate(_APOSTROPHE) if "\u02bc" in nfkc else nfkc)
        # Runs cut into several words: (index of the run, its words' (start, end, ...) within it, which tile it).
        self._cut: list[tuple[int, tuple[tuple[int, int, str, str, bool], ...]]] = []
        runs = self._runs[1::2]
        words: list[str] = []
        cased: list[str] = []
        done = 0
        for k in [k for k, w in enumerate(runs) if not w.isascii()]:
            if k > done:  # the ASCII runs before it, lower-cased together (in C)
                cased += runs[done:k]
                words += " ".join(runs[done:k]).lower().split(" ")
            pieces = split_run(runs[k])
            if len(pieces) > 1:
                self._cut.append((k, pieces))
            for piece in pieces:
                words.append(piece[2])
                cased.append(piece[3])
            done = k + 1
        if done < len(runs):
            cased += runs[done:]
            words += " ".join(runs[done:]).lower().split(" ")
        self.words = words
        self.cased = cased
        self.norm = " " + " ".join(words) + " " if words else " "

    def _init_ascii(self, text: str, nfkc: str | None) -> None:
        # The words are the [A-Za-z0-9] runs of ``text`` and ``nfkc`` differs from it at most in separators (see
        # :func:`_ascii_words`; None: the NFKC text is made, and mapped, when a regex first needs it): one C-level
        # split gives the words and the separators between them, whose lengths give the spans later without
        # another pass.
        self._nfkc = nfkc
        self._maps = (None, None)
        parts = _ASCII_SPLIT_RE.split(text)
        self._parts = parts
        self.cased = parts[1::2]
        if self.cased:
            lower = " ".join(self.cased).lower()
            self.words = lower.split(" ")
            self.norm = " " + lower + " "
        else:
            self.words = []
            self.norm = " "

    @property
    def nfkc(self) -> str:
        """The text in NFKC, which regexes search (see :meth:`nfkc_span`)."""
        if self._nfkc is None:
            self._nfkc, *maps = nfkc_with_map(self.text)
            self._maps = (maps[0], maps[1])
        return self._nfkc

    @property
    def plain(self) -> bool:
        """Whether the words are the ASCII letter/digit runs of :attr:`text`, where they stand (the fast path)."""
        return self._parts is not None

    def lowered(self) -> str:
        """:attr:`text` lower-cased, of the same length on the fast path (its letters are ASCII); cached."""
        if self._lower is None:
            text = self.text
            # bytes.lower() changes ASCII letters only: the other characters stay as they are (str.translate with
            # a table of the 26 letters would too, at ~20 ns a character)
            if text.isascii():
                self._lower = text.lower()
            else:  # a lone surrogate (a separator here) passes through too
                self._lower = text.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")
        return self._lower

    def _edges(self) -> list[int]:
        """Word offsets in the original text, interleaved: word ``i`` is ``edges[2 * i]:edges[2 * i + 1]``."""
        if self._edges_cache is None:
            if self._parts is not None:
                # parts = [sep, word, sep, word, ..., sep]: running lengths alternate word starts and ends.
                self._edges_cache = list(accumulate(map(len, self._parts)))
                return self._edges_cache
            # Runs' edges in the NFKC text from running lengths (in C), runs cut into several words expanded,
            # then mapped back to the original text.
            bounds = list(accumulate(map(len, self._runs)))
            edges = bounds[: len(self._runs) - 1]
            if self._cut:
                edges = _expand(edges, self._cut)
            ms, me = self._maps
            if ms is not None and me is not None:
                edges[0::2] = map(ms.__getitem__, edges[0::2])
                edges[1::2] = map(me.__getitem__, map((-1).__add__, edges[1::2]))
            self._edges_cache = edges
        return self._edges_cache

    @property
    def starts(self) -> list[int]:
        """Start offset of each word in the original text."""
        return self._edges()[0 : 2 * len(self.words) : 2]

    @property
    def ends(self) -> list[int]:
        """End offset of each word in the original text."""
        return self._edges()[1 : 2 * len(self.words) : 2]

    def joined(self, i: int) -> bool:
        """Whether word ``i`` follows word ``i - 1`` with no separator in between."""
        if self._parts is not None:
            return False  # ASCII words are maximal runs: a separator always lies between two
        edges = self._edges()
        # At or before: two words cut from one character that NFKC expands (Thai sara am) share its span.
        return i > 0 and edges[2 * i] <= edges[2 * i - 1]

    def _edge(self, e: int) -> int:
        """``_edges()[e]`` of an ASCII field, without the whole list: the length of ``parts[: e + 1]``, summed
        from the nearest edge asked for before (a matched article needs a few spans, not every word's)."""
        assert self._parts is not None
        idx, val = self._sparse
        k = bisect_right(idx, e) - 1
        j, v = idx[k], val[k]
        if j == e:
            return v
        v += len("".join(self._parts[j + 1 : e + 1]))  # ~3x faster than sum(map(len, ...))
        idx.insert(k + 1, e)
        val.insert(k + 1, v)
        return v

    def spans(self, occs: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
        """Original-text span of each (first word, last word)."""
        if self._parts is not None and self._edges_cache is None:
            occs = list(occs)
            if len(occs) <= _SPARSE_SPANS:
                edge = self._edge
                return [(edge(2 * a), edge(2 * b + 1)) for a, b in occs]
        edges = self._edges()
        return [(edges[2 * a], edges[2 * b + 1]) for a, b in occs]

    def find_all(self, key: str) -> list[int]:
        """Start of every occurrence of ``key`` in :attr:`norm` (overlapping ones too), ascending."""
        find = self.norm.find
        out: list[int] = []
        pos = find(key)
        while pos >= 0:
            out.append(pos)
            pos = find(key, pos + 1)
        return out

    def words_at(self, positions: list[int]) -> list[int]:
        """Index of the word starting at or before each position of :attr:`norm` (``positions`` ascending).

        Word ``i`` is preceded by ``i + 1`` spaces in :attr:`norm`, so counting spaces (in C, and only from the
        previous position on) finds it without a table of word offsets.
        """
        count = self.norm.count
        out: list[int] = []
        index, prev = -1, 0
        for pos in positions:
            index += count(" ", prev, pos)
            prev = pos
            out.append(index)
        return out

    def nfkc_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of :attr:`nfkc` back to the original text."""
        if self._nfkc is None:
            self.nfkc  # noqa: B018 - maps it
        ms, me = self._maps
        if ms is None or me is None:
            return start, end
        if start >= end:
            pos = ms[start] if start < len(ms) else len(self.text)
            return pos, pos
        return ms[start], me[end - 1]


_WORDISH = ("L", "M", "N")
_NON_ASCII_RE = regex.compile(r"[^\x00-\x7F]")


#: What :func:`_separator_kind` tells: a word character (or one NFKC turns into one), a separator NFKC maps to one
#: separator, a separator NFKC expands into several (``…``: ``...``).
_WORDLIKE, _ONE_FOR_ONE, _EXPANDS = 0, 1, 2


@lru_cache(maxsize=4096)
def _separator_kind(ch: str) -> int:
    """Whether ``ch`` and its NFKC form are separators (not letters, marks or digits), and NFKC's form's length."""
    if ch == "\u02bc":
        return _ONE_FOR_ONE  # an apostrophe (see _APOSTROPHE)
    nfkc = unicodedata.normalize("NFKC", ch)
    if unicodedata.category(ch).startswith(_WORDISH) or unicodedata.combining(ch):
        return _WORDLIKE
    if any(unicodedata.category(c).startswith(_WORDISH) for c in nfkc):
        return _WORDLIKE
    return _ONE_FOR_ONE if len(nfkc) == 1 else _EXPANDS


def _ascii_words(text: str) -> int:
    """Whether ``text``'s words are its ASCII letter/digit runs, at their offsets, though it is not ASCII: its
    non-ASCII characters' worst :func:`_separator_kind` (``_WORDLIKE``: no).

    True for most English news text, whose only non-ASCII characters are curly quotes, dashes, no-break spaces
    and ellipses: each is a separator that NFKC maps to separators, so the words and their offsets are those of
    the ASCII runs and the field takes the fast path of ASCII text. The text the regexes see (NFKC, where an
    ellipsis is three characters) is made and mapped only when one needs it (:meth:`Field.nfkc`).
    """
    first = _NON_ASCII_RE.search(text)
    if first is None or not _separator_kind(first.group()):
        return _WORDLIKE  # Khmer, Cyrillic...: decided by the first non-ASCII character
    kinds = set(map(_separator_kind, set(_NON_ASCII_RE.findall(text, first.end()))))
    kinds.add(_separator_kind(first.group()))
    return _WORDLIKE if _WORDLIKE in kinds else max(kinds)


def normalise(text: str) -> Field:
    """Normalise one field of an article (title, text, url or author)."""
    return Field(text)
