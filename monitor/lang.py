"""Language detection: text -> ISO 639-1 code, or None when the text is too short to tell."""

from __future__ import annotations

__all__ = ["MIN_CHARS", "detect_language"]

MIN_CHARS = 20  # below this, langid guesses are noise


def detect_language(text: str) -> str | None:
    """The most likely ISO 639-1 language of ``text`` (py3langid), or None for short or empty text."""
    sample = " ".join(text.split())[:5000]
    if len(sample) < MIN_CHARS:
        return None
    import py3langid  # imported lazily: loading its model costs ~0.3 s

    code, _score = py3langid.classify(sample)
    return str(code) or None
