"""NEAR and ONEAR over one document (docs/rule-language.md section 4): whether some occurrence of one operand has one
of the other within the distance, and which occurrences do (a NEAR's hits).

Each occurrence is checked against the other operand's sorted positions with a binary search, so a NEAR costs
O((m + n) log n) in the operands' occurrence counts, not O(m * n). Split from :mod:`monitor.rules.evaluate`.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING

from monitor.rules.compile import CNode

if TYPE_CHECKING:
    from monitor.rules.evaluate import DocState

__all__ = ["near_true", "near_used"]

_Occ = tuple[int, int]


def _within(sorted_pos: list[int], lo: int, hi: int) -> bool:
    """Whether some value of ``sorted_pos`` lies in ``[lo, hi]``."""
    i = bisect_left(sorted_pos, lo)
    return i < len(sorted_pos) and sorted_pos[i] <= hi


def near_true(st: DocState, c: CNode, field: str) -> bool:
    """Whether some left occurrence has a right one within the distance (after it, or either side)."""
    _, left, right, dist, ordered = c
    a_occ = st.operand_occ(left, field)
    if not a_occ:
        return False
    b_occ = st.operand_occ(right, field)
    if not b_occ:
        return False
    b_first = [b[0] for b in b_occ]  # sorted: occurrences are sorted by first word
    if ordered:
        return any(_within(b_first, a1 + 1, a1 + 1 + dist) for _, a1 in a_occ)
    # One term's occurrences all have the same length, so their last words are sorted too.
    b_last = [b[1] for b in b_occ] if len(right) == 1 else sorted(b[1] for b in b_occ)
    for a0, a1 in a_occ:
        if _within(b_first, a1 + 1, a1 + 1 + dist) or _within(b_last, a0 - 1 - dist, a0 - 1):
            return True
    return False


def near_used(st: DocState, c: CNode, field: str) -> list[_Occ]:
    """Sorted occurrences of either operand that have a partner within the distance (docs/rule-language.md: both operands);
    cached per document (the snippet's witness asks again)."""
    key = (id(c), field)  # equal nodes are one tuple (TermTable.node)
    cached = st.near.get(key)
    if cached is None:
        cached = st.near[key] = _near_used(st, c, field)
    return cached


def _near_used(st: DocState, c: CNode, field: str) -> list[_Occ]:
    _, left, right, dist, ordered = c
    a_occ = st.operand_occ(left, field)
    b_occ = st.operand_occ(right, field)
    if not a_occ or not b_occ:
        return []
    a_first = [a[0] for a in a_occ]
    a_last = sorted(a[1] for a in a_occ)
    b_first = [b[0] for b in b_occ]
    b_last = sorted(b[1] for b in b_occ)
    used: set[_Occ] = set()
    for a in a_occ:
        if _within(b_first, a[1] + 1, a[1] + 1 + dist) or (not ordered and _within(b_last, a[0] - 1 - dist, a[0] - 1)):
            used.add(a)
    for b in b_occ:
        if _within(a_last, b[0] - 1 - dist, b[0] - 1) or (not ordered and _within(a_first, b[1] + 1, b[1] + 1 + dist)):
            used.add(b)
    return sorted(used)
