"""NEAR/ONEAR on articles that repeat their operands many times: same hits as the pairwise definition, fast."""

from __future__ import annotations

import random
import time

from monitor.rules import Document, RuleSet
from monitor.rules.text import normalise

WORDS = ["raid", "raided", "scam", "compound", "poipet", "police", "the", "said", "online"]


def _pairwise_hits(text: str, left: set[str], right: set[str], dist: int, ordered: bool) -> set[tuple[int, int]]:
    """Spans of every left/right word occurrence that has a partner within ``dist`` words (docs/rule-language.md)."""
    f = normalise(text)
    a = [i for i, w in enumerate(f.words) if w in left]
    b = [i for i, w in enumerate(f.words) if w in right]
    used: set[int] = set()
    for i in a:
        for j in b:
            if 0 <= j - i - 1 <= dist or (not ordered and 0 <= i - j - 1 <= dist):
                used |= {i, j}
    return {(f.starts[k], f.ends[k]) for k in used}


def test_near_hits_match_the_pairwise_definition_on_repetitive_text() -> None:
    rng = random.Random(7)
    for _ in range(40):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 300)))
        for op, ordered in (("NEAR", False), ("ONEAR", True)):
            dist = rng.randint(0, 4)
            rs = RuleSet.from_queries({"r": f"(raid OR raided) {op}/{dist} (scam OR compound OR raid)"})
            got = {(h.start, h.end) for m in rs.match(Document(text=text)) for h in m.hits}
            want = _pairwise_hits(text, {"raid", "raided"}, {"scam", "compound", "raid"}, dist, ordered)
            assert got == want


def test_near_is_not_quadratic_in_occurrences() -> None:
    """20,000 occurrences of each operand (pairwise: 400 million pairs) match in well under a second."""
    text = " ".join(["raid filler filler filler scam filler filler filler"] * 20000)
    rs = RuleSet.from_queries({"far": "raid NEAR/2 scam", "near": "raid ONEAR/3 scam"})
    start = time.perf_counter()
    got = rs.match(Document(text=text))
    elapsed = time.perf_counter() - start
    assert [m.rule.id for m in got] == ["near"]
    assert len(got[0].hits) == 40000
    assert elapsed < 5
