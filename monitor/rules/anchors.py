"""Rule anchors: a compiled query -> the keys (and where) it cannot be true without.

The matcher indexes each rule by one group of *tokens* (a key id in a place, :func:`token`) and evaluates the
rule only when one token of that group occurred in the article and every other group it needs has one too:
``a AND b`` needs a key of ``a`` and a key of ``b``; ``title:x`` needs the key of ``x`` in the title, not
anywhere. These are necessary conditions only (a key that occurred may fail its word-by-word check), so
they never change a result, only how many rules are evaluated.
"""

from __future__ import annotations

from itertools import product
from math import prod

from monitor.rules.compile import AND, FIELD, NEAR, OR, SET, TERM, CNode, TermTable
from monitor.rules.nodes import TEXT_FIELDS

__all__ = ["PLACES", "best_group", "group_cost", "requirements", "token"]

_MAX_OR_GROUPS = 8
#: Where a key must occur: place 0 is the default scope (title or text), place ``1 + i`` is ``TEXT_FIELDS[i]``.
PLACES = ("title or text", *TEXT_FIELDS)
_PLACE = {name: i + 1 for i, name in enumerate(TEXT_FIELDS)}


def token(kid: int, place: int, table: TermTable) -> int:
    """The token of key ``kid`` occurring in place ``PLACES[place]``.

    Tokens of the default place (title or text) are the key ids themselves, so the matcher gets them with one
    set union; those of the next place follow them, and so on, so that it turns a field's key ids into tokens
    with one addition each (in C: ``map(offset.__add__, ...)``). Only valid once every rule is compiled into
    ``table`` (the stride is its number of keys).
    """
    return place * len(table.keys) + kid


def requirements(c: CNode, table: TermTable, place: int = 0) -> list[frozenset[int]]:
    """Groups of tokens such that ``c`` can only be true when every group has a token that occurred.

    Call it once every rule is compiled into ``table`` (see :func:`token`).

    An AND needs the groups of all its children, a NEAR those of both operands; an OR needs, for each way
    of picking one group per branch, the union of the picked groups (see :func:`_or_groups`). An empty list
    means no such group exists (REGEX, META, NOT, or a term without a key where it matters).
    """
    kind = c[0]
    if kind == SET:  # a set's group is built once per place, not once per rule that uses the set
        memo_key = ("set", c[1], place)
        if memo_key not in table.memo:
            table.memo[memo_key] = _term_group(c[1], table, place)
        return list(table.memo[memo_key])
    if kind == TERM:
        return _term_group((c[1],), table, place)
    if kind == FIELD:
        return requirements(c[2], table, _PLACE[c[1]])
    if kind == AND:
        return _dedup([g for x in c[1] for g in requirements(x, table, place)])
    if kind == OR:
        return _or_groups([requirements(x, table, place) for x in c[1]], table)
    if kind == NEAR:
        return _dedup(requirements((SET, c[1]), table, place) + requirements((SET, c[2]), table, place))
    return []  # REGEX, META, NOT


def _term_group(tids: tuple[int, ...], table: TermTable, place: int) -> list[frozenset[int]]:
    kids = [table.terms[t].kid for t in tids]
    # An empty set is never true: its empty group is never met, so the rule is never a candidate.
    if None in kids:
        return []
    return [frozenset(token(k, place, table) for k in kids if k is not None)]


def _or_groups(branches: list[list[frozenset[int]]], table: TermTable) -> list[frozenset[int]]:
    """The groups of an OR.

    ``a OR (b AND c)`` needs ``a|b`` and ``a|c`` (distribution) while that makes at most
    :data:`_MAX_OR_GROUPS` groups; beyond, one group: the union of each branch's best group.
    """
    if any(not groups for groups in branches):
        return []
    if prod(len(groups) for groups in branches) > _MAX_OR_GROUPS:
        best = [best_group(groups, table) for groups in branches]
        return [frozenset().union(*[g for g in best if g is not None])]
    return _dedup([frozenset().union(*choice) for choice in product(*branches)])


def _dedup(groups: list[frozenset[int]]) -> list[frozenset[int]]:
    return list(dict.fromkeys(groups))


def best_group(groups: list[frozenset[int]], table: TermTable) -> frozenset[int] | None:
    """The group to index a rule by: the fewest keys, then the fewest fields, then the longest shortest key.

    Long keys are rarer in text than short ones, and a key in one field rarer than in either of two.
    """
    if not groups:
        return None
    return min(groups, key=lambda g: group_cost(g, table))


def group_cost(group: frozenset[int], table: TermTable) -> tuple[int, bool, int]:
    """How often ``group`` is expected to occur, lowest first (see :func:`best_group`); cached, since a set's
    group is the same object in every rule that uses it."""
    cost = table.memo.get(group)
    if cost is None:
        cost = table.memo[group] = _group_cost(group, table)
    return cost


def _group_cost(group: frozenset[int], table: TermTable) -> tuple[int, bool, int]:
    stride = max(1, len(table.keys))
    kids = {t % stride for t in group}
    either = any(t < stride for t in group)  # in the title or the text, not in one field
    return len(kids), either, -min((table.key_length(k) for k in kids), default=0)
