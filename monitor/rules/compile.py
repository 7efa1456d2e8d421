"""Compiling query trees for the matcher: query tree -> compiled node, term table and Aho-Corasick keys.

Every distinct term of every rule gets one entry in a shared table and one Aho-Corasick key: the whole
word or phrase when it is literal (``" scam centre "``, spaces mark word edges in the normalised text),
otherwise its longest literal piece (``" raid"`` for ``raid*``). Which keys a rule needs is worked out in
:mod:`monitor.rules.anchors`.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cache
from typing import Any

import regex

from monitor.rules.nodes import And, FieldScope, Meta, Near, Node, Not, Or, Regex, SetRef, Term
from monitor.rules.text import Field

__all__ = [
    "AND",
    "CNode",
    "CompiledTerm",
    "FIELD",
    "META",
    "NEAR",
    "NOT",
    "OR",
    "REGEX",
    "SET",
    "TERM",
    "TermTable",
    "compile_node",
]

# Compiled node kinds (first item of a CNode tuple).
TERM, SET, REGEX, META, FIELD, NOT, AND, OR, NEAR = range(9)

#: A compiled node: (kind, ...) — see :func:`compile_node` for the layout of each kind.
CNode = tuple[Any, ...]
#: A group of term ids indexed by key: (the ids, their keys, key -> its ids, ids without a key, id -> position).
_Group = tuple[tuple[int, ...], frozenset[int], dict[int, tuple[int, ...]], tuple[int, ...], dict[int, int]]


@dataclass(slots=True)
class CompiledTerm:
    """A term ready to search: its key, where the key sits in it, and how to check a candidate."""

    id: int
    term: Term
    key: str | None
    key_elem: int  # index of the elem the key comes from (0 for a whole-phrase key)
    infix: bool  # the key is inside a word (no word edge before it)
    verify: bool  # a key hit must be checked word by word
    patterns: tuple[re.Pattern[str] | regex.Pattern[str] | None, ...]
    kid: int | None = None  # id of ``key`` in the Aho-Corasick automaton
    #: For a one-word term whose key starts the word and is ASCII: the key's letters, found straight in the
    #: lower-cased text of a field on the ASCII path (:meth:`text_spans`); None: the word-by-word path only.
    piece: str | None = None

    def text_spans(self, f: Field) -> list[tuple[int, int]]:
        """Spans in ``f.text`` of every occurrence, for a term with a :attr:`piece` and a field whose words are
        its ASCII letter/digit runs (``f.plain``): found with ``str.find`` in the lower-cased text, each word
        checked where it stands, without word indexes or running lengths."""
        piece = self.piece
        assert piece is not None and f.plain
        low = f.lowered()
        word_text = f.text if self.term.exact else low
        elem, pattern = self.term.elems[0], self.patterns[0]
        out: list[tuple[int, int]] = []
        find, tail = low.find, _ASCII_WORD_TAIL.match
        pos = find(piece)
        while pos >= 0:
            if pos and low[pos - 1] in _ASCII_ALNUM:  # inside a word, not at its start
                pos = find(piece, pos + 1)
                continue
            end = tail(low, pos + len(piece)).end()  # type: ignore[union-attr]  # `*` always matches
            word = word_text[pos:end]
            if (word == elem.text) if pattern is None else (pattern.fullmatch(word) is not None):
                out.append((pos, end))
            pos = find(piece, end)
        return out

    def check(self, f: Field, start: int) -> bool:
        """Whether the term occurs in ``f`` starting at word ``start``."""
        elems = self.term.elems
        words = f.cased if self.term.exact else f.words
        if start < 0 or start + len(elems) > len(words):
            return False
        for k, e in enumerate(elems):
            s = words[start + k]
            pat = self.patterns[k]
            if pat is not None:
                if pat.fullmatch(s) is None:
                    return False
            elif s != e.text:
                return False
            if e.joined and not f.joined(start + k):
                return False
        return True

    def occurrences(self, f: Field, found: list[int] | None) -> list[tuple[int, int]]:
        """(first word, last word) of every occurrence, from the key's start positions in ``f.norm``."""
        n = len(self.term.elems)
        if self.key is None:
            return [(i, i + n - 1) for i in range(len(f.words)) if self.check(f, i)]
        if not found:
            return []
        shift = 0 if self.infix else 1  # a key that starts a word starts with the space before it
        starts = f.words_at([pos + shift for pos in found] if shift else found)
        if not self.verify:  # the key is the whole term, its words between spaces: one occurrence per start
            return [(s, s + n - 1) for s in starts]
        elem = self.key_elem
        seen: set[int] = set()
        for first in starts:
            start = first - elem
            if start not in seen and self.check(f, start):
                seen.add(start)
        return [(s, s + n - 1) for s in sorted(seen)]


_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_ASCII_WORD_TAIL = re.compile(r"[a-z0-9]*")


@cache
def _compile_glob(pattern: str) -> re.Pattern[str] | regex.Pattern[str]:
    # Globs are literals, '.' and '.*': the stdlib compiles them ~50x faster than `regex`, which we
    # keep for grapheme clusters (\X, a '?' in a no-space script).
    return regex.compile(pattern) if "\\X" in pattern else re.compile(_linear_glob(pattern))


def _linear_glob(pattern: str) -> str:
    """A glob pattern (``.*`` per ``*``, which only a ``*`` writes) that matches a word in linear time.

    With two ``*`` or more, ``fullmatch`` would backtrack over every split of a long word (``cent*r*e`` against a
    word of a million letters: hours). Each piece between two ``*`` is taken at its first occurrence, atomically:
    a glob never needs a later one, so what matches does not change.
    """
    pieces = pattern.split(".*")
    if len(pieces) <= 2:
        return pattern
    return pieces[0] + "".join(f"(?>.*?{p})" for p in pieces[1:-1]) + ".*" + pieces[-1]


def _choose_key(term: Term) -> tuple[str | None, int, bool, bool]:
    """(key, elem index, infix?, whole term?) for a term; key None when nothing literal is left."""
    words = [e.text.casefold() if term.exact else e.text for e in term.elems]
    if all(e.pattern is None for e in term.elems):
        return " " + " ".join(words) + " ", 0, False, True
    best: tuple[int, str, int, bool] | None = None
    for k, (e, w) in enumerate(zip(term.elems, words, strict=True)):
        options: list[tuple[int, str, int, bool]] = []
        if e.pattern is None:
            options.append((len(w) + 2, f" {w} ", k, False))
        else:
            pieces = regex.split(r"[*?]", w)
            if pieces[0]:
                options.append((len(pieces[0]) + 1, " " + pieces[0], k, False))
            longest = max(pieces[1:], key=len, default="")
            if len(longest) > len(pieces[0]):
                options.append((len(longest), longest, k, True))
        for opt in options:
            if best is None or opt[0] > best[0]:
                best = opt
    if best is None:
        return None, 0, False, False
    return best[1], best[2], best[3], False


class TermTable:
    """The distinct terms of a rule set and their Aho-Corasick keys."""

    def __init__(self) -> None:
        self.terms: list[CompiledTerm] = []
        self._ids: dict[Term, int] = {}
        self.keys: dict[str, int] = {}
        self.key_terms: list[list[int]] = []
        self._key_strs: list[str] = []
        # A set's term ids by the identity of its terms (kept alive here): every rule using the set shares one
        # tuple, so compiling, indexing (``anchors``) and checking it cost its size once, not once per rule.
        self._sets: dict[int, tuple[tuple[Term, ...], tuple[int, ...]]] = {}
        #: Caches of :mod:`monitor.rules.anchors`, keyed by sets' term ids and by groups.
        self.memo: dict[object, Any] = {}
        # Per group of term ids (a set, a NEAR operand), by its identity: see :meth:`present`.
        self._groups: dict[int, _Group] = {}
        self._canonical: dict[tuple[int, ...], tuple[int, ...]] = {}
        self._nodes: dict[CNode, CNode] = {}
        #: Ids of the compiled nodes with a regex inside: their results are never reused between rules, since
        #: each search spends the article's regex time (:func:`monitor.rules.evaluate.evaluate`).
        self.volatile: set[int] = set()

    def set_ids(self, terms: tuple[Term, ...]) -> tuple[int, ...]:
        """The ids of a set's terms, one shared tuple per set."""
        cached = self._sets.get(id(terms))
        if cached is None:
            cached = self._sets[id(terms)] = (terms, tuple(self.add(t).id for t in terms))
        return cached[1]

    def add(self, term: Term) -> CompiledTerm:
        tid = self._ids.get(term)
        if tid is not None:
            return self.terms[tid]
        key, elem, infix, whole = _choose_key(term)
        verify = term.exact or not whole or any(e.joined for e in term.elems)
        patterns = tuple(_compile_glob(e.pattern) if e.pattern else None for e in term.elems)
        ct = CompiledTerm(len(self.terms), term, key, elem, infix, verify, patterns)
        e = term.elems[0]
        if key is not None and len(term.elems) == 1 and not infix and key.isascii() and not (e.nospace or e.joined):
            ct.piece = key.strip()
        self._ids[term] = ct.id
        self.terms.append(ct)
        if key is not None:
            kid = self.keys.setdefault(key, len(self.keys))
            ct.kid = kid
            if kid == len(self.key_terms):
                self.key_terms.append([])
                self._key_strs.append(key)
            self.key_terms[kid].append(ct.id)
        return ct

    def canonical(self, tids: tuple[int, ...]) -> tuple[int, ...]:
        """One tuple for equal groups of term ids (NEAR operands): the matcher's per-document caches key them by
        identity, and rules with the same operand share what one of them computed."""
        return self._canonical.setdefault(tids, tids)

    def node(self, c: CNode, *children: CNode) -> CNode:
        """One tuple for equal compiled nodes (``children``: those ``c`` holds), so that a subquery several rules
        share (a place NEAR a topic) is evaluated once per article: the matcher's caches key nodes by identity."""
        # A regex node by its source: compiled patterns compare equal only while ``regex``'s cache holds them, and
        # ``explain`` compiles again at every call (the table would grow by a node each time).
        c = self._nodes.setdefault((REGEX, c[2]) if c[0] == REGEX else c, c)
        if c[0] == REGEX or any(id(x) in self.volatile for x in children):
            self.volatile.add(id(c))
        return c

    def present(self, tids: tuple[int, ...], fired: AbstractSet[int]) -> tuple[int, ...]:
        """The terms of ``tids`` (a set's, a NEAR operand's, two terms or more) that can occur in a field whose
        fired keys are ``fired``: those whose key fired and those without a key, in the order of ``tids``.

        The others have no occurrence there (every path checks the key first), so skipping them changes no
        result; a shipped set has hundreds of terms, of which an article holds a handful. ``tids`` is a compiled
        node's, alive as long as the rule set: its index is kept by the tuple's identity.
        """
        group = self._groups.get(id(tids))
        if group is None or group[0] is not tids:
            group = self._groups[id(tids)] = self._group(tids)
        _, kids, by_kid, keyless, rank = group
        both = kids & fired
        if not both:
            return keyless
        found = [t for kid in both for t in by_kid[kid]]
        found += keyless
        found.sort(key=rank.__getitem__)
        return tuple(found)

    def _group(self, tids: tuple[int, ...]) -> _Group:
        by_kid: dict[int, list[int]] = {}
        keyless: list[int] = []
        for t in tids:
            kid = self.terms[t].kid
            if kid is None:
                keyless.append(t)
            else:
                by_kid.setdefault(kid, []).append(t)
        rank = {t: i for i, t in enumerate(tids)}
        return tids, frozenset(by_kid), {k: tuple(v) for k, v in by_kid.items()}, tuple(keyless), rank

    def key_length(self, kid: int) -> int:
        """Length of key ``kid``; a partial word key counts one less than a whole word of that length."""
        key = self._key_strs[kid]
        return len(key) - (0 if key.endswith(" ") else 1)


def compile_node(node: Node, table: TermTable) -> CNode:
    """Turn a query tree into nested tuples the evaluator walks quickly.

    Layouts: (TERM, term_id), (SET, term_ids), (REGEX, pattern, source), (META, kind, value),
    (FIELD, field, child), (NOT, child), (AND, children), (OR, children),
    (NEAR, left_term_ids, right_term_ids, n, ordered): a NEAR operand (a term, a set or an OR of those)
    is flattened to the sorted ids of its terms, whose merged occurrences are cached per document. Equal nodes
    are one tuple (:meth:`TermTable.node`).
    """
    if isinstance(node, Term):
        return table.node((TERM, table.add(node).id))
    if isinstance(node, SetRef):
        return table.node((SET, table.set_ids(node.terms)))
    if isinstance(node, Regex):
        flags = regex.IGNORECASE if node.ignore_case else 0
        return table.node((REGEX, regex.compile(node.pattern, flags), str(node)))
    if isinstance(node, Meta):
        return table.node((META, node.kind, node.value.casefold()))
    if isinstance(node, FieldScope):
        child = compile_node(node.child, table)
        return table.node((FIELD, node.field, child), child)
    if isinstance(node, Not):
        child = compile_node(node.child, table)
        return table.node((NOT, child), child)
    if isinstance(node, (And, Or)):
        children = tuple(compile_node(c, table) for c in node.children)
        return table.node((AND if isinstance(node, And) else OR, children), *children)
    if isinstance(node, Near):
        left, right = _operand_terms(node.left, table), _operand_terms(node.right, table)
        return table.node((NEAR, table.canonical(left), table.canonical(right), node.distance, node.ordered))
    raise TypeError(f"unknown node {node!r}")  # pragma: no cover


def _operand_terms(node: Node, table: TermTable) -> tuple[int, ...]:
    """The term ids of a NEAR operand: a term, a set, or a (nested) OR of those."""
    if isinstance(node, Term):
        return (table.add(node).id,)
    if isinstance(node, SetRef):
        return tuple(sorted(set(table.set_ids(node.terms))))
    if isinstance(node, Or):
        return tuple(sorted({t for c in node.children for t in _operand_terms(c, table)}))
    raise TypeError(f"not a NEAR operand: {node!r}")  # the parser rejects these
