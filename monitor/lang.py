"""Language identification: plain text -> ISO 639-1 code or None (py3langid).

Used when a page or feed does not state its language. Short or ambiguous text gives ``None`` rather than a
guess, so that a rule restricted to a language (``lang = "de"``) never fires on a coin toss.
"""

from __future__ import annotations

import functools
import re
from typing import Any

__all__ = ["detect_language"]

#: Fewer word characters than this and the model guesses (``"hello"`` comes back as Breton).
_MIN_WORD_CHARS = 12
#: Normalised probability below which we say "unsure" (measured: short clear sentences score > 0.7).
_MIN_CONFIDENCE = 0.5
#: The model is linear in the text; the first few thousand characters decide as well as the whole article.
_MAX_CHARS = 5000
_WORD_CHAR = re.compile(r"[^\W\d_]", re.UNICODE)


@functools.cache
def _identifier() -> Any:
    # Loading the model takes ~1 s: once per process, on first use (workers warm it up at start).
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """Identify the language of ``text``.

    Args:
        text: plain text (an article body, a title plus summary, ...).

    Returns:
        The ISO 639-1 code (``"en"``, ``"de"``, ...), or ``None`` when the text is too short, the model is unsure,
        or the language has no two-letter code.
    """
    sample = text[:_MAX_CHARS]
    if len(_WORD_CHAR.findall(sample)) < _MIN_WORD_CHARS:
        return None
    code, confidence = _identifier().classify(sample)
    if confidence < _MIN_CONFIDENCE or len(code) != 2:
        return None
    return str(code)
