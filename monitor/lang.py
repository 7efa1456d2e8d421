"""Language identification: plain text -> ISO 639-1 code or None (py3langid).

Used when a page or feed does not state its language. Short or ambiguous text gives ``None`` rather than a
guess, so that a rule restricted to a language (``lang = "de"``) never fires on a coin toss.

py3langid walks its byte automaton in a Python loop, about 0.5 µs a byte: 2-4 ms for an article, the largest
per-entry cost of a poll. :class:`_FastIdentifier` computes the same walk with numpy and scores it with
py3langid's arithmetic in the same order (its float16 table widened by bit shifts, exact, where numpy's cast took a
third of the time), so the language and its confidence are py3langid's, bit for bit (tests/test_lang.py compares
them on real feeds and articles; docs/benchmarks.md, "Per-entry work").
"""

from __future__ import annotations

import functools
import re
from itertools import islice
from typing import Any

__all__ = ["detect_language"]

#: Fewer word characters than this and the model guesses (``"hello"`` comes back as Breton).
_MIN_WORD_CHARS = 12
#: Normalised probability below which we say "unsure" (measured: short clear sentences score > 0.7).
_MIN_CONFIDENCE = 0.5
#: The model is linear in the text; the first 2,000 characters decide as well as the whole article (and as the first
#: 5,000 did: the same language for all 2,428 feed entries and articles of the evaluation corpus, docs/benchmarks.md).
_MAX_CHARS = 2000
_WORD_CHAR = re.compile(r"[^\W\d_]", re.UNICODE)
#: The depth of py3langid's automaton (its longest byte n-gram): the state after a byte depends on that byte and
#: the ``_DEPTH - 1`` before it only (an Aho-Corasick state is the longest suffix of the input that is a node of
#: the trie). tests/test_lang.py checks it against the model.
_DEPTH = 6
#: Added to a negative normal float16's bits shifted left by 13 to give its float32's: the exponent's bias
#: 15 -> 127 (112 << 23), and the sign moved from bit 28 to bit 31.
_WIDEN = (112 << 23) - (1 << 28) + (1 << 31)


def _identifier_class() -> Any:
    # Imported with the model, not with this module: a poll of feeds that state their language, or whose pages
    # come with theirs, never loads numpy for it (0.09 s of start-up).
    import numpy as np
    from py3langid.langid import LanguageIdentifier

    class _FastIdentifier(LanguageIdentifier):  # type: ignore[misc]
        """py3langid's identifier with the automaton walk vectorised (same features, same order, same scores)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._next = np.asarray(self.tk_nextmove)  # array('I'): a view, no copy
            self._rows = np.asarray(self.tk_row, dtype=np.intp) << 8
            self._out = np.asarray(self.tk_output, dtype=np.int32)
            self._halves = _negative_normal_halves(self.nb_ptc)

        def _raw_score(self, text: bytes) -> Any:
            features, counts = self._features(text)
            if not len(features):
                return super()._raw_score(text)  # no feature: py3langid's own fill
            if self._halves is None:
                return self._sparse_score(dict(zip(features.tolist(), counts.tolist(), strict=True)), self.nb_ptc)
            # py3langid's _sparse_score, with its float16 rows widened by their bits (exact, 4x numpy's cast)
            rows = self._halves[features].astype(np.uint32)
            rows <<= 13  # the 10-bit mantissa to float32's 23 bits, the exponent and sign with it
            rows += _WIDEN  # rebias the exponent (15 -> 127) and move the sign bit: every value is negative
            return np.log1p(counts.astype(np.float32)) @ rows.view(np.float32) + self.nb_pc

        def _features(self, data: bytes) -> tuple[Any, Any]:
            """``py3langid.langid.visit_counts``: its features and their counts, in order of first occurrence."""
            codes = np.frombuffer(data, dtype=np.uint8)
            size = len(codes)
            if size == 0:
                return (), ()
            # Position i's state: the automaton started at the root _DEPTH - 1 bytes earlier (or at the text's
            # start), which is where every suffix it can hold begins.
            head = min(size, _DEPTH - 1)
            first = []
            state = 0
            for k in range(head):
                state = int(self._next[self._rows[state] + codes[k]])
                first.append(state)
            states = np.asarray(first, dtype=np.intp)
            if size > head:
                tail = np.zeros(size - head, dtype=np.intp)
                for k in range(_DEPTH):
                    tail = self._next[self._rows[tail] + codes[k : size - head + k]].astype(np.intp)
                states = np.concatenate((states, tail))
            features = self._out[states]
            features = features[features >= 0]
            if not len(features):
                return (), ()
            return _first_seen(features)

    return _FastIdentifier


def _first_seen(values: Any) -> tuple[Any, Any]:
    """The distinct ``values`` in order of first occurrence, and how often each occurs (``np.unique``'s sort,
    without its wrappers: a third of the walk's time)."""
    import numpy as np

    order = values.argsort(kind="stable")  # stable: a group's first position is its first occurrence
    ranked = values[order]
    starts = np.flatnonzero(np.concatenate(([True], ranked[1:] != ranked[:-1])))
    counts = np.diff(np.append(starts, len(ranked)))
    seen = order[starts].argsort()
    return ranked[starts][seen], counts[seen]


def _negative_normal_halves(table: Any) -> Any:
    """The model's float16 table as its bits, when every value is a negative normal number (log probabilities:
    the shipped model's are) and ``_WIDEN`` widens it exactly; else None (py3langid's own scoring)."""
    import numpy as np

    if table.dtype != np.float16:
        return None
    bits = table.view(np.uint16)
    exponent = bits & 0x7C00
    if not ((bits & 0x8000).all() and (exponent != 0).all() and (exponent != 0x7C00).all()):
        return None
    return bits


@functools.cache
def _identifier() -> Any:
    # Loading the model takes ~1 s: once per process, on first use (workers warm it up at start).
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    try:
        return _identifier_class().from_model_file(MODEL_FILE, norm_probs=True)
    except AttributeError:  # a py3langid whose internals moved: its own (slower) walk, same answers
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@functools.lru_cache(maxsize=64)
def _classify(sample: str) -> tuple[str, float]:
    # The pipeline asks twice for the same text (the matcher, when a rule has a lang filter, then the stored
    # article): the second time is a dictionary look-up.
    code, confidence = _identifier().classify(sample)
    return str(code), float(confidence)


def detect_language(text: str) -> str | None:
    """Identify the language of ``text``.

    Args:
        text: plain text (an article body, a title plus summary, ...).

    Returns:
        The ISO 639-1 code (``"en"``, ``"de"``, ...), or ``None`` when the text is too short, the model is unsure,
        or the language has no two-letter code.
    """
    sample = text[:_MAX_CHARS]
    if sum(1 for _ in islice(_WORD_CHAR.finditer(sample), _MIN_WORD_CHARS)) < _MIN_WORD_CHARS:
        return None  # (counting stops at the 12th: findall built a string per letter of 5,000 characters)
    code, confidence = _classify(sample)
    if confidence < _MIN_CONFIDENCE or len(code) != 2:
        return None
    return code
