"""The query tree: frozen nodes produced by :mod:`monitor.rules.syntax` and walked by the matcher.

Every node keeps ``col``, the 1-based column of its first character in the query, for error messages.
``str(node)`` is the canonical query text (sets shown by name), used in explanations and rule versions.
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
    "Term",
    "TEXT_FIELDS",
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


@dataclass(frozen=True, slots=True)
class Term(Node):
    """A word or a phrase (several elems in order). ``exact``: letter case must match (``=``)."""

    elems: tuple[Elem, ...]
    exact: bool = False

    def __str__(self) -> str:
        body = " ".join(e.text for e in self.elems)
        body = f'"{body}"' if len(self.elems) > 1 else body
        return ("=" if self.exact else "") + body


@dataclass(frozen=True, slots=True)
class SetRef(Node):
    """``@name``; ``terms`` is the flattened, resolved list of the set's entries."""

    name: str
    terms: tuple[Term, ...] = ()

    def __str__(self) -> str:
        return f"@{self.name}"


@dataclass(frozen=True, slots=True)
class Regex(Node):
    pattern: str
    ignore_case: bool = False

    def __str__(self) -> str:
        return "/" + self.pattern.replace("/", r"\/") + "/" + ("i" if self.ignore_case else "")


@dataclass(frozen=True, slots=True)
class Meta(Node):
    """``feed:x`` or ``lang:xx`` (a filter, not a positive term)."""

    kind: str
    value: str

    def __str__(self) -> str:
        return f'{self.kind}:"{self.value}"' if " " in self.value else f"{self.kind}:{self.value}"


@dataclass(frozen=True, slots=True)
class FieldScope(Node):
    field: str
    child: Node

    def __str__(self) -> str:
        return f"{self.field}:{_wrap(self.child)}"


@dataclass(frozen=True, slots=True)
class Not(Node):
    child: Node

    def __str__(self) -> str:
        return f"NOT {_wrap(self.child)}"


@dataclass(frozen=True, slots=True)
class And(Node):
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return " AND ".join(_wrap(c, Or) for c in self.children)


@dataclass(frozen=True, slots=True)
class Or(Node):
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return " OR ".join(str(c) for c in self.children)


@dataclass(frozen=True, slots=True)
class Near(Node):
    left: Node
    right: Node
    distance: int
    ordered: bool = False

    def __str__(self) -> str:
        op = "ONEAR" if self.ordered else "NEAR"
        return f"{_wrap(self.left)} {op}/{self.distance} {_wrap(self.right)}"


def _wrap(node: Node, *kinds: type) -> str:
    compound = kinds or (And, Or, Near)
    return f"({node})" if isinstance(node, compound) else str(node)


def iter_nodes(node: Node) -> list[Node]:
    """All nodes of a tree, parents before children (set entries included)."""
    out = [node]
    if isinstance(node, (And, Or)):
        for c in node.children:
            out.extend(iter_nodes(c))
    elif isinstance(node, (Not, FieldScope)):
        out.extend(iter_nodes(node.child))
    elif isinstance(node, Near):
        out.extend(iter_nodes(node.left))
        out.extend(iter_nodes(node.right))
    elif isinstance(node, SetRef):
        out.extend(node.terms)
    return out
