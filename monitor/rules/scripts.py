"""Scripts inside a word: a letter/mark/digit run cut where its script changes, no-space scripts into graphemes.

docs/rule-language.md section 3: Latin-script letters lose their diacritics, other scripts keep theirs; a change of script
splits a word; Han, kana, Thai, Lao, Khmer and Myanmar text is matched grapheme by grapheme.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import regex

__all__ = ["fold_word", "split_run"]

_NOSPACE_SCRIPTS = ("Han", "Hiragana", "Katakana", "Thai", "Lao", "Khmer", "Myanmar")
_NOSPACE_RE = regex.compile("|".join(rf"\p{{scx={s}}}" for s in _NOSPACE_SCRIPTS))
_LATIN_RE = regex.compile(r"\p{Script=Latin}")
_COMMON_RE = regex.compile(r"\p{Script=Common}|\p{Script=Inherited}")
_GRAPHEME_RE = regex.compile(r"\X")
_WILDCARDS = "*?"

# Latin letters whose "diacritic" is not a combining mark in Unicode (stroke, slash, bar).
_STROKES = str.maketrans(
    {
        "đ": "d",
        "Đ": "D",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "ħ": "h",
        "Ħ": "H",
        "ŧ": "t",
        "Ŧ": "T",
        "ı": "i",
        "ƀ": "b",
        "Ƀ": "B",
        "ɨ": "i",
        "Ɨ": "I",
        "ƶ": "z",
        "Ƶ": "Z",
        "ȼ": "c",
        "Ȼ": "C",
        "ɇ": "e",
        "Ɇ": "E",
        "ƚ": "l",
        "Ƚ": "L",
        "ɍ": "r",
        "Ɍ": "R",
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


def split_run(word: str) -> tuple[tuple[int, int, str, str, bool], ...]:
    """A non-ASCII letter/digit run cut into words: (start, end, folded, cased, nospace)."""
    # Words with diacritics repeat from article to article: cached. A long run (a Thai or Khmer phrase, which
    # rarely repeats) is not, so that the cache cannot grow to hundreds of megabytes in a long-running daemon.
    return _split_scripts(word) if len(word) > _CACHED_RUN else _split_cached(word)


def _graphemes(seg: str, base: int) -> list[tuple[int, int, str, str, bool]]:
    """The grapheme clusters of a no-space-script segment starting at ``base``, each one word."""
    out: list[tuple[int, int, str, str, bool]] = []
    pos = base
    for g in _GRAPHEME_RE.findall(seg):
        end = pos + len(g)
        out.append((pos, end, g.casefold(), g, True))
        pos = end
    return out


def _split_scripts(word: str) -> tuple[tuple[int, int, str, str, bool], ...]:
    out: list[tuple[int, int, str, str, bool]] = []
    for rs, re_, cls in _runs(word):
        seg = word[rs:re_]
        if cls == _NS:
            out += _graphemes(seg, rs)
            continue
        latin = cls in ("Latn", _COMMON, _WILD, _MARK)
        out.append((rs, re_, fold_word(seg, latin=latin), fold_word(seg, keep_case=True, latin=latin), False))
    return tuple(out)


_CACHED_RUN = 24
_split_cached = lru_cache(maxsize=65536)(_split_scripts)
