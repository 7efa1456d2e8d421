"""Rule matching benchmark: articles/second at 100, 1,000 and 10,000 rules, compile time and memory.

Reproducible (seeded). Synthetic rule sets mix seven query shapes (terms, phrases, wildcards, AND/OR/NOT/NEAR,
fields, sets) with words from a vocabulary; articles are 3,000-8,000 characters of Zipf-distributed words from
the same vocabulary. Two rule profiles: *calibrated* (rules that match any of a separate calibration corpus are
tightened with ``AND context-word``, as an analyst would, so an article matches a handful of rules) and *high*
(the rules as drawn: tens of matches per article at 10,000 rules). Measured in the same run at each size:

* matches and candidate rules (anchors occurred) per article;
* vs naive: every rule evaluated on its own with one compiled regex per term (``\\bterm\\b``) over the text;
* vs the limit: one bare Aho-Corasick pass (daachorse, the matcher's engine) with the same keys over the same
  fields, with and without the normalisation that pass needs (the matcher's own ``normalise``, once per field).

Times are the median of ``--repeats`` passes; the sizes take turns, one pass each (see :func:`_interleaved`).
Usage: ``python benchmarks/bench_rules.py [--sizes 100 1000 10000]
[--articles 150] [--repeats 5] [--profiles calibrated high] [--write]``; ``--write`` replaces the
"## Rule matching" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import re
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import daachorse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.docs_section import write_section  # noqa: E402
from monitor.rules import Document, Rule, RuleSet, load_rules  # noqa: E402
from monitor.rules.nodes import And, FieldScope, Near, Node, Not, Or, SetRef, Term  # noqa: E402
from monitor.rules.syntax import make_term, parse_query  # noqa: E402
from monitor.rules.text import normalise  # noqa: E402

SEED = 20261122
PROJECT = Path(__file__).resolve().parents[1]
#: Every benchmarked rule set is the shipped rules (rules/*.yaml: 9 rules, 1,323 keys of their sets) plus N
#: synthetic ones, as a deployment runs its own rules beside the shipped ones.
SHIPPED = load_rules([PROJECT / "rules"], run_rule_examples=False).rules
_FIELDS = ("title", "text", "url", "author")
#: Rule words come from Zipf ranks >= this: analysts write names and specific phrases, not the commonest words
#: (every article contains those, so a rule on them would alert on everything).
RULE_RANKS_FROM = 1000
#: Calibrated profiles: rules that match any of these many separately drawn articles are tightened.
CALIBRATION_ARTICLES = {"calibrated": 300, "strict": 3000}
CALIBRATION_ROUNDS = 5
_SYL = ["ka", "mo", "ri", "sen", "tha", "pol", "ver", "dan", "lu", "cam", "bo", "nex", "tri", "gal", "zu", "pe"]
_COMMON = (
    "the of and to in a is that for on was with as by at from his her said police officials "
    "government report court new year people country city week two three told after"
).split()


def _vocab(rng: random.Random, n: int) -> list[str]:
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(_SYL) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def _article(rng: random.Random, vocab: list[str], weights: list[float]) -> str:
    target = rng.randint(3000, 8000)
    out: list[str] = []
    size = 0
    while size < target:
        w = rng.choice(_COMMON) if rng.random() < 0.45 else rng.choices(vocab, cum_weights=weights)[0]
        if rng.random() < 0.05:
            w = w.capitalize()
        sep = rng.choice([" "] * 12 + [", ", ". ", "\n"])
        out.append(w + sep)
        size += len(w) + len(sep)
    return "".join(out)


_Template = Callable[[Callable[[], str], random.Random, int], str]
_TEMPLATES: list[_Template] = [
    lambda w, rng, nsets: f"{w()} AND {w()}",
    lambda w, rng, nsets: f'"{w()} {w()}" OR {w()}*',
    lambda w, rng, nsets: f"({w()} OR {w()}) NOT {w()}",
    lambda w, rng, nsets: f"{w()} NEAR/5 {w()}",
    lambda w, rng, nsets: f"@s{rng.randrange(nsets)} AND {w()}",
    lambda w, rng, nsets: f"title:{w()} OR ({w()} {w()})",
    lambda w, rng, nsets: f"{w()[:5]}* AND {w()} AND {w()}",
]


class _RuleGen:
    """Synthetic rules: one of seven query shapes (equally likely) with words from the specific ranks."""

    def __init__(self, rng: random.Random, vocab: list[str], n: int) -> None:
        self.rng = rng
        self.specific = vocab[RULE_RANKS_FROM:]
        self.nsets = max(1, n // 20)
        self.sets: dict[str, tuple[Term, ...]] = {}
        for i in range(self.nsets):
            terms = [make_term(rng.choice(self.specific), 1, exact=False) for _ in range(5)]
            self.sets[f"s{i}"] = tuple(t for t in terms if t is not None)
        self.shapes = [rng.randrange(len(_TEMPLATES)) for _ in range(n)]

    def query(self, i: int) -> str:
        """A (new) query of rule ``i``'s shape."""
        return _TEMPLATES[self.shapes[i]](lambda: self.rng.choice(self.specific), self.rng, self.nsets)

    def rule(self, i: int, query: str) -> Rule:
        return Rule(id=f"r{i}", title=f"r{i}", query=query, node=parse_query(query, self.sets.get))


def _queries(vocab: list[str], n: int, calibration: list[Document] | None) -> tuple[_RuleGen, list[str]]:
    """The rule queries of a size; with a calibration corpus, broad rules are redrawn (see :func:`_calibrate`)."""
    gen = _RuleGen(random.Random(SEED + n), vocab, n)
    queries = [gen.query(i) for i in range(n)]
    if calibration is not None:
        _calibrate(gen, queries, calibration)
    return gen, queries


def _calibrate(gen: _RuleGen, queries: list[str], corpus: list[Document]) -> None:
    """Tighten every rule that matches any article of ``corpus`` with a context word, until none does.

    This is what an analyst does with a rule that alerts on one article in a few hundred: ``(query) AND
    context``. The rule keeps its shape inside; the corpus is drawn like the benchmark's articles but
    separately, so the benchmark is not measured on the articles it was calibrated on.
    """
    todo = list(range(len(queries)))
    for _ in range(CALIBRATION_ROUNDS):
        rs = RuleSet([gen.rule(i, queries[i]) for i in todo])
        broad = sorted({int(m.rule.id[1:]) for d in corpus for m in rs.match(d)})
        if not broad:
            return
        for i in broad:
            queries[i] = f"({queries[i]}) AND {gen.rng.choice(gen.specific)}"
        todo = broad


def _naive_compile(rules: list[Rule]) -> list[object]:
    """Each rule on its own: a regex per term, evaluated over the lower-cased text."""

    def term_re(t: Term) -> re.Pattern[str]:
        parts = [re.escape(e.text).replace(r"\*", r"\w*").replace(r"\?", r"\w") for e in t.elems]
        return re.compile(r"\b" + r"\W+".join(parts) + r"\b")

    def comp(n: Node) -> object:
        if isinstance(n, Term):
            return ("t", term_re(n))
        if isinstance(n, SetRef):
            return ("o", [("t", term_re(t)) for t in n.terms])
        if isinstance(n, And):
            return ("a", [comp(c) for c in n.children])
        if isinstance(n, Or):
            return ("o", [comp(c) for c in n.children])
        if isinstance(n, Not):
            return ("n", comp(n.child))
        if isinstance(n, FieldScope):
            return comp(n.child)
        if isinstance(n, Near):
            return ("a", [comp(n.left), comp(n.right)])  # cheaper than real NEAR: flatters the baseline
        raise TypeError(n)

    return [comp(r.node) for r in rules if r.node is not None]


def _naive_eval(c: object, text: str) -> bool:
    kind, arg = c  # type: ignore[misc]
    if kind == "t":
        return arg.search(text) is not None
    if kind == "a":
        return all(_naive_eval(x, text) for x in arg)
    if kind == "o":
        return any(_naive_eval(x, text) for x in arg)
    return not _naive_eval(arg, text)


def _per_article(fn, docs: list[Document]) -> float:  # type: ignore[no-untyped-def]
    start = time.thread_time()  # CPU time: "articles per second on one core", whatever else loads the machine
    for d in docs:
        fn(d)
    return (time.thread_time() - start) / len(docs)


def _median_per_article(fn, docs: list[Document], repeats: int) -> float:  # type: ignore[no-untyped-def]
    return statistics.median(_per_article(fn, docs) for _ in range(repeats))


def _bare_fns(rs: RuleSet, docs: list[Document]) -> tuple[Callable[[Document], None], Callable[[Document], None]]:
    """The limit: one automaton pass with the matcher's keys, over pre-normalised text and including it."""
    automaton = daachorse.DoubleArrayAhoCorasick([key.encode() for key in rs._table.keys])  # noqa: SLF001
    normed = {id(d): [normalise(getattr(d, f)).norm.encode() for f in _FIELDS] for d in docs}

    def bare(d: Document) -> None:
        for norm in normed[id(d)]:
            automaton.find_overlapping(norm)

    def bare_norm(d: Document) -> None:  # the same fields the matcher normalises, once each
        for f in _FIELDS:
            automaton.find_overlapping(normalise(getattr(d, f)).norm.encode())

    return bare, bare_norm


def _naive(rules: list[Rule], docs: list[Document], n: int) -> float:
    naive = _naive_compile(rules)
    naive_docs = docs[: max(3, min(len(docs), 2_000_000 // (n * 100)))]
    return _per_article(
        lambda d: [_naive_eval(c, d.title.lower()) or _naive_eval(c, d.text.lower()) for c in naive], naive_docs
    )


def _build(gen: _RuleGen, queries: list[str]) -> tuple[RuleSet, list[Rule], float, float]:
    """The rule set of a size, its compile time (parse + compile, as load_rules does) and peak memory."""
    t0 = time.perf_counter()
    rules = [*SHIPPED, *(gen.rule(i, q) for i, q in enumerate(queries))]
    rs = RuleSet(rules)
    compile_s = time.perf_counter() - t0
    tracemalloc.start()  # a second parse + compile, traced (tracing slows it down ~3x)
    RuleSet([*SHIPPED, *(gen.rule(i, q) for i, q in enumerate(queries))])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return rs, rules, compile_s, peak


def _interleaved(fns: list[Callable[[Document], object]], docs: list[Document], repeats: int) -> list[float]:
    """Median seconds per article of each function, timing one pass of each in turn, ``repeats`` rounds.

    On a shared machine the load changes from one second to the next; taking turns exposes every rule set, and
    the bare passes it is compared with, to the same load, so the ratios (the goals) do not depend on which ran
    when.
    """
    for fn in fns:
        fn(docs[0])  # warm caches
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            times[k].append(_per_article(fn, docs))
    return [statistics.median(t) for t in times]


def _measure(
    built: tuple[RuleSet, list[Rule], float, float], times: list[float], docs: list[Document], naive_too: bool = True
) -> dict[str, float]:
    rs, rules, compile_s, peak = built
    per, bare, bare_norm = times
    n = len(rules) - len(SHIPPED)
    matches = sum(len(rs.match(d)) for d in docs) / len(docs)
    candidates = sum(len(rs._candidates(rs._state(d))) for d in docs) / len(docs)  # noqa: SLF001
    naive = _naive(rules, docs, n) if naive_too else float("nan")
    return {
        "rules": n,
        "compile_s": compile_s,
        "peak_mb": peak / 1e6,
        "per_ms": per * 1000,
        "aps": 1 / per,
        "matches": matches,
        "candidates": candidates,
        "bare_ms": bare * 1000,
        "bare_norm_ms": bare_norm * 1000,
        "naive_ms": naive * 1000,
        "vs_naive": naive / per,
        "vs_bare": per / bare,
        "vs_bare_norm": per / bare_norm,
    }


def run(sizes: list[int], n_articles: int, repeats: int, profiles: list[str]) -> dict[str, list[dict[str, float]]]:
    rng = random.Random(SEED)
    vocab = _vocab(rng, 30000)
    weights = list(itertools.accumulate(1.0 / (i + 1) for i in range(len(vocab))))  # Zipf
    docs = [
        Document(title=_article(rng, vocab, weights)[:80], text=_article(rng, vocab, weights))
        for _ in range(n_articles)
    ]
    crng = random.Random(SEED + 1)
    n_calibration = max((CALIBRATION_ARTICLES.get(p, 0) for p in profiles), default=0)
    corpus = [  # the 300 articles of "calibrated" are the first 300 of "strict"
        Document(title=_article(crng, vocab, weights)[:80], text=_article(crng, vocab, weights))
        for _ in range(n_calibration)
    ]
    real = _real_articles()
    out: dict[str, list[dict[str, float]]] = {}
    for profile in profiles:
        size = CALIBRATION_ARTICLES.get(profile)
        built = [_build(*_queries(vocab, n, corpus[:size] if size else None)) for n in sizes]
        times = _interleaved([fn for b in built for fn in (b[0].match, *_bare_fns(b[0], docs))], docs, repeats)
        out[profile] = []
        for k, b in enumerate(built):
            out[profile].append(_measure(b, times[3 * k : 3 * k + 3], docs))
            print(profile, {key: round(v, 3) for key, v in out[profile][-1].items()}, flush=True)
        if real:  # the largest rule set on real articles: what a deployment's matcher sees
            rs = built[-1][0]
            row = _measure(built[-1], _interleaved([rs.match, *_bare_fns(rs, real)], real, repeats), real, False)
            out[f"{_REAL}{profile}"] = [row]
            print(f"{_REAL}{profile}", {key: round(v, 3) for key, v in row.items()}, flush=True)
    return out


def goal_row(n_articles: int = 150, repeats: int = 3) -> dict[str, float]:
    """The goals' row: calibrated, 10,000 synthetic rules plus the shipped ones (``aps``: articles per second on
    one core, ``vs_bare_norm``: x the bare pass with normalisation), for another benchmark to report beside its
    own numbers (issue 16: bench_poll's side-by-side run)."""
    return run([10000], n_articles, repeats, ["calibrated"])["calibrated"][-1]


_REAL = "real articles, "
#: The extraction benchmark's human-written article bodies (docs/benchmarks.md, "Evaluation data").
_TRUTH = Path(os.environ.get("MONITOR_EVAL_DIR") or PROJECT.parent / "shared" / "eval") / "extraction-benchmark"


def _real_articles() -> list[Document]:
    """The 181 real article bodies of the extraction benchmark (none when the evaluation data is absent)."""
    path = _TRUTH / "ground-truth.json"
    if not path.exists():
        return []
    truth = json.loads(path.read_text(encoding="utf-8"))
    return [Document(text=item["articleBody"], url=item.get("url", "")) for _, item in sorted(truth.items())]


def _table(rows: list[dict[str, float]], relative: bool = True) -> list[str]:
    base = rows[0]["per_ms"] if relative else float("nan")
    lines = [
        f"| rules (+ {len(SHIPPED)} shipped) | compile | peak memory (compile) | ms/article | articles/s "
        "| matches/article | candidates/article "
        "| x time at 100 rules | naive ms/article | faster than naive | x bare AC pass | x bare AC pass + normalisation |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {int(r['rules']):,} | {r['compile_s']:.2f} s | {r['peak_mb']:.0f} MB | {r['per_ms']:.2f} | "
            f"{r['aps']:.0f} | {r['matches']:.2f} | {r['candidates']:.1f} | {_num(r['per_ms'] / base, '.2f')} | "
            f"{_num(r['naive_ms'], '.1f')} | {_num(r['vs_naive'], '.0f')}{'x' * (r['vs_naive'] == r['vs_naive'])} | {r['vs_bare']:.1f} | "
            f"{r['vs_bare_norm']:.2f} |"
        )
    return lines


def _num(value: float, spec: str) -> str:
    return "-" if value != value else format(value, spec)  # NaN: not measured


#: Goals at 10,000 synthetic rules plus the shipped ones (issue 16): articles per second on one core, and time per
#: article at most this many times one bare automaton pass with normalisation over the same texts.
GOAL_ARTICLES_PER_S = 1000
GOAL_VS_BARE = 3.0


def _verdict(rows: list[dict[str, float]]) -> str:
    big = rows[-1]
    if big["rules"] < 10000:
        return ""
    ok = lambda good: "met" if good else "**not met**"  # noqa: E731
    naive = (
        ""
        if big["vs_naive"] != big["vs_naive"]
        # NaN: not measured
        else (f"; >= 50x faster than naive: {big['vs_naive']:.0f}x, {ok(big['vs_naive'] >= 50)}")
    )
    return (
        f">= {GOAL_ARTICLES_PER_S:,} articles/s: {big['aps']:,.0f}, {ok(big['aps'] >= GOAL_ARTICLES_PER_S)}; "
        f"within {GOAL_VS_BARE:.0f}x of the bare pass: {big['vs_bare_norm']:.2f}x with normalisation "
        f"({big['vs_bare']:.1f}x without), {ok(big['vs_bare_norm'] <= GOAL_VS_BARE)}{naive}; compile < 10 s and "
        f"< 300 MB: {big['compile_s']:.1f} s, {big['peak_mb']:.0f} MB, "
        f"{ok(big['compile_s'] < 10 and big['peak_mb'] < 300)}."
    )


def to_markdown(results: dict[str, list[dict[str, float]]], n_articles: int, repeats: int) -> str:
    lines = [
        "## Rule matching",
        "",
        f"`python benchmarks/bench_rules.py` (seed {SEED}, {n_articles} synthetic articles of 3,000-8,000 characters, "
        f"median of {repeats} passes, one process, CPU time of the matching thread (`time.thread_time`: articles "
        "per second on one core, however loaded the machine; earlier rounds timed wall-clock); the rule sets and their bare automaton passes take turns pass by "
        "pass, so that they see the same machine load). Every rule set is the shipped rules (`rules/*.yaml`, "
        f"{len(SHIPPED)} rules whose sets hold 1,323 keys) plus N synthetic rules of seven query shapes (terms, "
        "phrases, wildcards, AND/OR/NOT/NEAR, fields, sets) whose words come from Zipf ranks >= "
        f"{RULE_RANKS_FROM:,} of a 30,000-word vocabulary (articles use all ranks). The last row of each profile "
        "is repeated on the 181 real article bodies of the extraction benchmark (`../shared/eval`), which the "
        "synthetic rules do not match: what normalisation and the automaton cost on real text.",
        "",
        "Three rule profiles, same vocabulary, articles and shapes. *calibrated*: every rule that matches any of "
        "300 separately drawn articles is tightened to `(query) AND context-word`, as an analyst tightens a rule "
        "that alerts on one article in a few hundred, so that an article matches a handful of rules at most. "
        "*strict*: the same with 3,000 articles (the first 300 are calibrated's), as for rules that may alert a "
        "few times a day in a deployment that reads thousands of articles a day: at 10,000 rules an article then "
        "matches a fraction of a rule, where calibrated's 2.6 matches per article would be 2.6 alerts for every "
        "article read. *high match rate*: the rules as drawn, where the single-word "
        "branches (`w*`, `(w OR w)`) of two shapes match 0.3-5% of articles each (a 30,000-word vocabulary has no "
        "rarer words), giving tens of matches per article at 10,000 rules.",
        "",
    ]
    titles = {
        "calibrated": "Calibrated match rate (rules tightened until none matches 300 articles)",
        "strict": "Strict match rate (rules tightened until none matches 3,000 articles)",
        "high": "High match rate (uncalibrated)",
    }
    for profile, rows in results.items():
        if profile.startswith(_REAL):
            continue
        lines += [f"### {titles[profile]}", ""] + _table(rows) + [""]
        real = results.get(f"{_REAL}{profile}")
        if real:
            lines += ["The largest rule set on the real articles:", ""] + _table(real, relative=False) + [""]
        verdict = _verdict(rows)
        if verdict:
            lines += [f"Goals at 10,000 synthetic rules plus the shipped ones: {verdict}", ""]
    lines += [
        "*candidates*: rules evaluated because one of their anchor keys and a key of every other group they need "
        "occurred (docs/rules.md, Performance). *Naive*: each rule evaluated alone, "
        "one compiled `re` per term over the lower-cased text (NEAR simplified to AND, which flatters it). "
        "*Bare AC pass*: one pass of the matcher's automaton (daachorse) with its keys over the already normalised "
        "fields; "
        "*+ normalisation* includes normalising each field once with the matcher's own `normalise` (NFKC, case "
        "folding, tokenising), the least the matcher must do. The matcher's time is that, plus collecting the "
        "fired keys, selecting candidates, evaluating them and building hits and snippets for the matches.",
        "",
        f"Run {time.strftime('%Y-%m-%d')}, Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other jobs: times vary by up to 2x between runs; run it several "
        "times and compare medians.",
        "",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--articles", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=5, help="passes over the articles; the median is reported")
    parser.add_argument(
        "--profiles", nargs="+", choices=["calibrated", "strict", "high"], default=["calibrated", "strict", "high"]
    )
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    results = run(args.sizes, args.articles, args.repeats, args.profiles)
    section = to_markdown(results, args.articles, args.repeats)
    print(section)
    if args.write:
        write_section("Rule matching", section)


if __name__ == "__main__":
    main()
