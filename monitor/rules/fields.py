"""The fields of one article as the matcher reads them: normalised (:func:`~monitor.rules.text.normalise`) and
scanned for keys when first read, so that a field no candidate rule reads (``url`` and ``author`` in most rule sets)
costs nothing. Split from :mod:`monitor.rules.evaluate`, whose :class:`~monitor.rules.evaluate.DocState` holds them.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from operator import itemgetter

import daachorse

from monitor.rules.model import Document
from monitor.rules.text import Field, normalise

__all__ = ["Fields", "Fired"]

_NONE: frozenset[int] = frozenset()
_THIRD = itemgetter(2)  # (start, end, pattern id)


class Fields(dict[str, Field]):
    """Field name -> the field normalised, made when first read (only its first ``limit`` characters if longer)."""

    def __init__(self, doc: Document, limit: int) -> None:
        super().__init__()
        self._doc = doc
        self._limit = limit

    def __missing__(self, name: str) -> Field:
        text: str = getattr(self._doc, name)
        made = self[name] = normalise(text[: self._limit] if len(text) > self._limit else text)
        return made


class Fired(dict[str, AbstractSet[int]]):
    """Field name -> the ids of the keys that occur in it (one pass of the automaton), found when first read."""

    def __init__(self, fields: Fields, automaton: daachorse.DoubleArrayAhoCorasick | None) -> None:
        super().__init__()
        self._fields = fields
        self._automaton = automaton

    def __missing__(self, name: str) -> AbstractSet[int]:
        norm = self._fields[name].norm
        if self._automaton is None or len(norm) <= 1:
            found: AbstractSet[int] = _NONE
        else:
            found = set(map(_THIRD, self._automaton.find_overlapping(norm.encode())))  # the key ids, in C
        self[name] = found
        return found
