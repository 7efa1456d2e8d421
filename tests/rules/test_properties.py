"""The compiled matcher (Aho-Corasick, anchors, key verification) agrees with an obviously-correct evaluator.

The reference walks the query tree over the normalised word list of each field, position by position.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.rules import Document, RuleSet
from monitor.rules.nodes import And, FieldScope, Near, Node, Not, Or, SetRef, Term
from monitor.rules.syntax import parse_query
from monitor.rules.text import Field, normalise

# Hundreds of generated queries and texts against a reference: in the full suite, not the fast loop.
pytestmark = pytest.mark.slow

VOCAB = [
    "scam",
    "scams",
    "raid",
    "raided",
    "Poipet",
    "NCCT",
    "ncct",
    "Việt",
    "viet",
    "centre",
    "center",
    "柬埔寨",
    "警方",
    "ตำรวจ",
    "กัมพูชา",
]
WORDS = [
    "scam",
    "raid",
    "raid*",
    "poipet",
    "=NCCT",
    "viet",
    "cent*e",
    "cent?e",
    "scam*",
    "柬埔寨",
    "警方",
    "=Viet",
    "ตำรวจ",
]
PHRASES = ['"scam raid"', '"raid* poipet"', '"柬埔寨 警方"', '"viet scam"', '"กัมพูชา ตำรวจ"']


def _glob(elem_text: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in elem_text))


def _term_occ(term: Term, f: Field) -> list[tuple[int, int]]:
    words = f.cased if term.exact else f.words
    n = len(term.elems)
    out = []
    for i in range(len(words) - n + 1):
        ok = True
        for k, e in enumerate(term.elems):
            w = words[i + k]
            if e.pattern is not None:
                ok = ok and (re.fullmatch(_glob(e.text), w) is not None if e.text != "?" else True)
            else:
                ok = ok and w == e.text
            # joined: no separator between the two words (they may share a character NFKC split in two)
            if e.joined and not (f.starts[i + k] <= f.ends[i + k - 1]):
                ok = False
        if ok:
            out.append((i, i + n - 1))
    return out


def _occ(node: Node, f: Field) -> list[tuple[int, int]]:
    if isinstance(node, Term):
        return _term_occ(node, f)
    if isinstance(node, SetRef):
        return [o for t in node.terms for o in _term_occ(t, f)]
    assert isinstance(node, Or)
    return [o for c in node.children for o in _occ(c, f)]


def _ref(node: Node, fields: dict[str, Field], scope: tuple[str, ...] = ("title", "text")) -> bool:
    if isinstance(node, (Term, SetRef)):
        return any(_occ(node, fields[s]) for s in scope)
    if isinstance(node, And):
        return all(_ref(c, fields, scope) for c in node.children)
    if isinstance(node, Or):
        return any(_ref(c, fields, scope) for c in node.children)
    if isinstance(node, Not):
        return not _ref(node.child, fields, scope)
    if isinstance(node, FieldScope):
        return _ref(node.child, fields, (node.field,))
    if isinstance(node, Near):
        for s in scope:
            for a in _occ(node.left, fields[s]):
                for b in _occ(node.right, fields[s]):
                    if 0 <= b[0] - a[1] - 1 <= node.distance:
                        return True
                    if not node.ordered and 0 <= a[0] - b[1] - 1 <= node.distance:
                        return True
        return False
    raise AssertionError(node)


_term = st.sampled_from(WORDS + PHRASES)
_operand = st.one_of(_term, st.lists(_term, min_size=2, max_size=3).map(lambda xs: "(" + " OR ".join(xs) + ")"))
_near = st.tuples(_operand, st.sampled_from(["NEAR", "ONEAR"]), st.integers(0, 3), _operand).map(
    lambda t: f"{t[0]} {t[1]}/{t[2]} {t[3]}"
)
_positive = st.one_of(_term, _near, _term.map(lambda t: f"title:{t}"))
_query = st.recursive(
    _positive,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda t: f"{t[0]} AND {t[1]}"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]}) OR ({t[1]})"),
        st.tuples(inner, _term).map(lambda t: f"({t[0]}) NOT {t[1]}"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]}) ({t[1]})"),
    ),
    max_leaves=6,
)
_sep = st.sampled_from([" ", ", ", " - ", ". ", "", "\n"])
_text = st.lists(st.tuples(st.sampled_from(VOCAB), _sep), max_size=25).map(
    lambda parts: "".join(w + s for w, s in parts)
)


@settings(max_examples=300, deadline=None)
@given(queries=st.lists(_query, min_size=1, max_size=6), title=_text, text=_text)
def test_compiled_matcher_agrees_with_reference(queries: list[str], title: str, text: str) -> None:
    rs = RuleSet.from_queries({f"r{i}": q for i, q in enumerate(queries)})
    doc = Document(title=title, text=text)
    got = {m.rule.id for m in rs.match(doc)}
    fields = {"title": normalise(title), "text": normalise(text), "url": normalise(""), "author": normalise("")}
    want = {f"r{i}" for i, q in enumerate(queries) if _ref(parse_query(q), fields)}
    assert got == want


@settings(max_examples=200, deadline=None)
@given(query=_query, text=_text)
def test_hits_point_at_matching_text(query: str, text: str) -> None:
    rs = RuleSet.from_queries({"r": query})
    doc = Document(text=text)
    for m in rs.match(doc):
        for h in m.hits:
            assert getattr(doc, h.field)[h.start : h.end] == h.text
            assert h.text.strip() == h.text and h.text


_ws_sep = st.sampled_from([" ", "  ", "\n", " \n\t ", ", ", ""])
_ws_text = st.lists(st.tuples(st.sampled_from(["raid", "scam", "Poipet", "a", "ok"]), _ws_sep), max_size=120).map(
    lambda parts: "".join(w + s for w, s in parts)
)


def _reference_snippet_marks(source: str, spans: list[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]]:
    """Snippet body and marks computed the slow, obvious way: collapse the text before each offset."""
    first = spans[0][0]
    lo = max(0, first - 75)
    if lo > 0:
        cut = source.rfind(" ", 0, lo)
        lo = cut + 1 if lo - cut < 40 else lo
    hi = min(len(source), lo + 300)
    if hi < len(source):
        cut = source.find(" ", hi)
        hi = cut if 0 <= cut - hi < 40 else hi
    window = source[lo:hi]
    body = re.sub(r"\s+", " ", window).strip()

    def at(pos: int) -> int:
        return len(re.sub(r"\s+", " ", window[: pos - lo]).lstrip())

    prefix = "…" if lo > 0 else ""
    suffix = "…" if hi < len(source) else ""
    marks = [(at(s) + len(prefix), min(at(e), len(body)) + len(prefix)) for s, e in spans if lo <= s and e <= hi]
    return prefix + body + suffix, marks


@settings(max_examples=300, deadline=None)
@given(text=_ws_text)
def test_snippet_marks_agree_with_collapsing_the_text_before_each_hit(text: str) -> None:
    rs = RuleSet.from_queries({"r": "raid OR poipet"})
    for m in rs.match(Document(text=text)):
        spans = sorted((h.start, h.end) for h in m.hits if h.field == "text")
        assert (m.snippet, list(m.snippet_hits)) == _reference_snippet_marks(text, spans)


@settings(max_examples=300, deadline=None)
@given(text=_ws_text | st.text(alphabet=st.sampled_from("ab9 .-,\n\tZ"), max_size=80))
def test_ascii_word_offsets_are_the_words_as_written(text: str) -> None:
    f = normalise(text)
    found = [(m.start(), m.end()) for m in re.finditer(r"[A-Za-z0-9]+", text)]
    assert list(zip(f.starts, f.ends, strict=False)) == found
    assert f.spans([(i, i) for i in range(len(found))]) == found
    assert [text[s:e].lower() for s, e in found] == f.words
