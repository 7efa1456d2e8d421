"""Language identification: plain text -> ISO 639-1 code or None (py3langid).

Used when a page or feed does not state its language. Short or ambiguous text gives ``None`` rather than a
guess, so that a rule restricted to a language (``lang = "de"``) never fires on a coin toss.

py3langid walks its byte automaton in a Python loop, about 0.5 µs a byte: 2-4 ms for an article, the largest
per-entry cost of a poll. :class:`_FastIdentifier` computes the same walk with numpy and scores it with
py3langid's own code, so the language and its confidence are py3langid's, bit for bit (tests/test_lang.py
compares them on real feeds and articles; docs/benchmarks.md, "Per-entry work").
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

        def _raw_score(self, text: bytes) -> Any:
            visits = self._visits(text)
            if not visits:
                return super()._raw_score(text)  # no feature: py3langid's own fill
            return self._sparse_score(visits, self.nb_ptc)

        def _visits(self, data: bytes) -> dict[int, int]:
            """``py3langid.langid.visit_counts``: feature -> count, in order of first occurrence."""
            codes = np.frombuffer(data, dtype=np.uint8)
            size = len(codes)
            if size == 0:
                return {}
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
                return {}
            found, where, counts = np.unique(features, return_index=True, return_counts=True)
            order = np.argsort(where, kind="stable")
            return dict(zip(found[order].tolist(), counts[order].tolist(), strict=True))

    return _FastIdentifier


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
