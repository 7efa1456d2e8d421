"""The query tree: frozen nodes produced by :mod:`monitor.rules.syntax` and walked by the matcher.

Every node keeps ``col``, the 1-based column of its first character in the query, for error messages.
``str(node)`` is the canonical query text (sets shown by name, terms as written), used in explanations;
``node.render(spaced=True)`` is the form rule versions hash (see :meth:`Node.render`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "And",
    "Elem",
    "FieldScope",
    "Meta",
    "Near",
    "Node",
    "Not",
    "Or",
    "Regex",
    "SetRef",
    "TEXT_FIELDS",
    "Term",
    "iter_nodes",
]

#: The article fields a query can name; the default scope is title or text.
TEXT_FIELDS = ("title", "text", "url", "author")


@dataclass(frozen=True, slots=True)
class Elem:
    """One word of a term: a literal (already folded) or a glob compiled to ``pattern``."""

    text: str  # literal word, or the glob as written after folding ("raid*")
    pattern: str | None  # regex (fullmatch) for a glob, None for a literal
    nospace: bool
    joined: bool  # must be glued to the previous word in the text (inside a no-space word)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Node:
    col: int

    def __str__(self) -> str:
        return self.render()

    def render(self, *, spaced: bool = False) -> str:
        """The canonical query text. ``spaced``: every word of a term separated by a space, also inside a
        no-space-script word (``"ប៉ោ យ ប៉ែ ត"`` for ``ប៉ោយប៉ែត``): the form rule versions hash, kept so that
        showing such terms as written did not give every rule using one a new version."""
        raise NotImplementedError  # pragma: no cover - every node kind defines it


@dataclass(frozen=True, slots=True)
class Term(Node):
    """A word or a phrase (several elems in order). ``exact``: letter case must match (``=``)."""

    elems: tuple[Elem, ...]
    exact: bool = False

    def render(self, *, spaced: bool = False) -> str:
        if spaced:
            body = " ".join(e.text for e in self.elems)
            quoted = len(self.elems) > 1
        else:  # as written: the graphemes of a no-space-script word are glued together again
            body = "".join((" " if k and not e.joined else "") + e.text for k, e in enumerate(self.elems))
            quoted = " " in body
        return ("=" if self.exact else "") + (f'"{body}"' if quoted else body)


@dataclass(frozen=True, slots=True)
class SetRef(Node):
    """``@name``; ``terms`` is the flattened, resolved list of the set's entries."""

    name: str
    terms: tuple[Term, ...] = ()

    def render(self, *, spaced: bool = False) -> str:
        return f"@{self.name}"


@dataclass(frozen=True, slots=True)
class Regex(Node):
    pattern: str
    ignore_case: bool = False

    def render(self, *, spaced: bool = False) -> str:
        return "/" + self.pattern.replace("/", r"\/") + "/" + ("i" if self.ignore_case else "")


@dataclass(frozen=True, slots=True)
class Meta(Node):
    """``feed:x`` or ``lang:xx`` (a filter, not a positive term)."""

    kind: str
    value: str

    def render(self, *, spaced: bool = False) -> str:
        return f'{self.kind}:"{self.value}"' if " " in self.value else f"{self.kind}:{self.value}"


@dataclass(frozen=True, slots=True)
class FieldScope(Node):
    field: str
    child: Node

    def render(self, *, spaced: bool = False) -> str:
        return f"{self.field}:{_wrap(self.child, spaced)}"


@dataclass(frozen=True, slots=True)
class Not(Node):
    child: Node

    def render(self, *, spaced: bool = False) -> str:
        return f"NOT {_wrap(self.child, spaced)}"


@dataclass(frozen=True, slots=True)
class And(Node):
    children: tuple[Node, ...]

    def render(self, *, spaced: bool = False) -> str:
        return " AND ".join(_wrap(c, spaced, Or) for c in self.children)


@dataclass(frozen=True, slots=True)
class Or(Node):
    children: tuple[Node, ...]

    def render(self, *, spaced: bool = False) -> str:
        return " OR ".join(c.render(spaced=spaced) for c in self.children)


@dataclass(frozen=True, slots=True)
class Near(Node):
    left: Node
    right: Node
    distance: int
    ordered: bool = False

    def render(self, *, spaced: bool = False) -> str:
        op = "ONEAR" if self.ordered else "NEAR"
        return f"{_wrap(self.left, spaced)} {op}/{self.distance} {_wrap(self.right, spaced)}"


def _wrap(node: Node, spaced: bool, *kinds: type) -> str:
    compound = kinds or (And, Or, Near)
    text = node.render(spaced=spaced)
    return f"({text})" if isinstance(node, compound) else text


def iter_nodes(node: Node, *, entries: bool = True) -> list[Node]:
    """All nodes of a tree, parents before children; set entries included unless ``entries`` is false (a set of
    thousands of terms is shared by many rules: walking it once per rule costs their product)."""
    out = [node]
    if isinstance(node, (And, Or)):
        for c in node.children:
            out.extend(iter_nodes(c, entries=entries))
    elif isinstance(node, (Not, FieldScope)):
        out.extend(iter_nodes(node.child, entries=entries))
    elif isinstance(node, Near):
        out.extend(iter_nodes(node.left, entries=entries))
        out.extend(iter_nodes(node.right, entries=entries))
    elif isinstance(node, SetRef) and entries:
        out.extend(node.terms)
    return out
