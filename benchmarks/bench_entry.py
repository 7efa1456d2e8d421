"""Per-entry CPU work of a poll: story keys, language, content hash, entry keys, matching and snippets, per entry.

What the pipeline computes for every new entry besides fetching and storing it (``pipeline._process``'s
``analyse``), timed on real text: the entries of the real news feeds as a poll without full text matches them
(``choose_article`` of the feed's title, summary and content), the article bodies of the extraction benchmark (a
poll with full text), and the labelled corpus of the shipped rules (short and long articles that match them, so
hits, witnesses and snippets are built). Each step is timed over all entries in turn with the others, ``--repeats``
passes, median; "before" columns run the code this round replaced (py3langid's own walk on 5,000 characters,
datasketch's MinHash one text at a time) in the same passes.

Usage: ``python benchmarks/bench_entry.py [--repeats 3] [--write]``; ``--write`` replaces the "## Per-entry work"
section of docs/benchmarks.md. Needs ``../shared/eval`` (docs/benchmarks.md, "Evaluation data") for the first two
corpora; without it only the labelled corpus is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import struct
import sys
import time
from collections.abc import Callable
from hashlib import blake2b
from pathlib import Path

import numpy as np
import yaml
from datasketch import MinHash

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.docs_section import write_section  # noqa: E402
from monitor import dedup, lang  # noqa: E402
from monitor.feeds import parse_feed  # noqa: E402
from monitor.furniture import choose_article  # noqa: E402
from monitor.rules import Document, RuleSet, load_rules  # noqa: E402
from monitor.rules.snippet import make_snippet  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
EVAL = Path(os.environ.get("MONITOR_EVAL_DIR") or PROJECT.parent / "shared" / "eval")
#: Entries per feed when story keys are computed in bulk (a first poll's feed holds 10-50 new entries).
PER_FEED = 20
_Entry = tuple[str, str, str, str]  # title, text, url, guid


def feed_entries(limit: int | None = None) -> list[_Entry]:
    """The entries of the real news feeds, as a poll without full text sees them (the first ``limit``)."""
    out: list[_Entry] = []
    for path in sorted((EVAL / "feeds" / "real" / "news").glob("*.xml")):
        if limit is not None and len(out) >= limit:
            break
        try:
            parsed = parse_feed(path.read_bytes(), "https://example.com/feed", {})
        except Exception:  # noqa: BLE001, S112 - a feed the parser refuses has no entries
            continue
        for e in parsed.entries:
            chosen = choose_article(None, e.title, e.summary, e.content)
            out.append((chosen.title, chosen.text, e.url, e.guid))
    return out


def articles() -> list[_Entry]:
    """The human-written article bodies of the extraction benchmark, as a poll with full text matches them."""
    path = EVAL / "extraction-benchmark" / "ground-truth.json"
    if not path.exists():
        return []
    truth = json.loads(path.read_text(encoding="utf-8"))
    return [("", item["articleBody"], item.get("url", ""), key) for key, item in sorted(truth.items())]


def labelled() -> list[_Entry]:
    """The labelled corpus of the shipped rules (tests/data/labelled): they match about two rules per document."""
    out: list[_Entry] = []
    for name in ("corpus", "holdout", "long"):
        docs = yaml.safe_load((PROJECT / "tests" / "data" / "labelled" / f"{name}.yaml").read_text(encoding="utf-8"))
        out += [(d.get("title", ""), d.get("text", ""), "", d["id"]) for d in docs["documents"]]
    return out


def datasketch_story_keys(text: str) -> tuple[int, ...]:
    """Story keys as the code before this round computed them (datasketch's MinHash, one text at a time)."""
    words = dedup._WORD.findall(dedup.normalize_text(text))  # noqa: SLF001
    if len(words) < dedup.STORY_MIN_WORDS:
        return ()
    shingles = {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}
    minhash = MinHash(num_perm=120, seed=20240601, permutations=dedup._permutations(), scheme="affine32")  # noqa: SLF001
    minhash.update_batch([s.encode("utf-8") for s in sorted(shingles)])
    values = np.asarray(minhash.hashvalues, dtype=np.uint64)
    return tuple(
        struct.unpack(
            ">q",
            blake2b(struct.pack(">I", b) + values[b * 5 : b * 5 + 5].astype(">u8").tobytes(), digest_size=8).digest(),
        )[0]
        for b in range(24)
    )


def _py3langid_5000() -> Callable[[str], str | None]:
    """Language as the code before this round detected it: py3langid's own walk on the first 5,000 characters."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def detect(text: str) -> str | None:
        sample = text[:5000]
        if len(lang._WORD_CHAR.findall(sample)) < lang._MIN_WORD_CHARS:  # noqa: SLF001
            return None
        code, confidence = ident.classify(sample)
        return str(code) if confidence >= lang._MIN_CONFIDENCE and len(code) == 2 else None  # noqa: SLF001

    return detect


def _steps(rules: RuleSet, entries: list[_Entry]) -> dict[str, Callable[[], object]]:
    """Each step as one pass over all the entries."""
    joined = [f"{t}\n{x}" for t, x, _, _ in entries]
    texts = [x for _, x, _, _ in entries]
    docs = [Document(title=t, text=x, url=u) for t, x, u, _ in entries]
    matched = [(d, m) for d in docs for m in rules.match(d)]
    spans = [
        ([(h.field, h.start, h.end) for h in m.hits], [(h.field, h.start, h.end) for h in m.decisive])
        for _, m in matched
    ]
    old_detect = _py3langid_5000()

    def detect_all() -> None:
        lang._classify.cache_clear()  # noqa: SLF001 - each pass detects afresh
        for text in joined:
            lang.detect_language(text)

    return {
        "entry keys": lambda: [(dedup.entry_keys(g, u), dedup.site(u)) for _, _, u, g in entries],
        "content hash": lambda: [dedup.content_hash(t) for t in joined],
        "story keys": lambda: [dedup.story_keys(t) for t in texts],
        "story keys, bulk": lambda: [
            dedup.story_keys_many(texts[i : i + PER_FEED]) for i in range(0, len(texts), PER_FEED)
        ],
        "story keys, before": lambda: [datasketch_story_keys(t) for t in texts],
        "language": detect_all,
        "language, before": lambda: [old_detect(t) for t in joined],
        "matching (shipped rules)": lambda: [rules.match(d) for d in docs],
        "of which snippets": lambda: [make_snippet(d, h, dec) for (d, _), (h, dec) in zip(matched, spans, strict=True)],
    }


def measure(rules: RuleSet, entries: list[_Entry], repeats: int) -> dict[str, float]:
    """µs per entry of each step (median of ``repeats`` passes taken in turn), and the corpus's shape."""
    steps = _steps(rules, entries)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.thread_time()  # CPU time: the work, not the other jobs sharing the machine
            step()
            times[name].append((time.thread_time() - start) / len(entries) * 1e6)
    out = {name: statistics.median(t) for name, t in times.items()}
    out["entries"] = len(entries)
    out["median chars"] = statistics.median(len(x) for _, x, _, _ in entries)
    out["matches/entry"] = sum(len(rules.match(Document(title=t, text=x))) for t, x, _, _ in entries) / len(entries)
    return out


_NOW = ("entry keys", "content hash", "story keys", "language", "matching (shipped rules)")
_BEFORE = {"story keys": "story keys, before", "language": "language, before"}


def run(repeats: int, limit: int | None = None) -> dict[str, dict[str, float]]:
    rules = load_rules([PROJECT / "rules"], run_rule_examples=False)
    corpora = {
        "feed entries (no full text)": feed_entries(),
        "articles (full text)": articles(),
        "labelled": labelled(),
    }
    lang.detect_language("warm the model up: load it before anything is timed")
    dedup.entry_keys("warm", "https://www.example.co.uk/x?utm_source=y")  # courlan loads its lists on first use
    dedup.site("https://www.example.co.uk/x")
    results: dict[str, dict[str, float]] = {}
    for name, entries in corpora.items():
        if entries:
            results[name] = measure(rules, entries[:limit], repeats)
            print(name, {k: round(v, 1) for k, v in results[name].items()}, flush=True)
    return results


def to_markdown(results: dict[str, dict[str, float]], repeats: int) -> str:
    lines = [
        "## Per-entry work",
        "",
        f"`python benchmarks/bench_entry.py` (median of {repeats} passes, the steps taking turns; µs of CPU time "
        "(`time.thread_time`) per entry). "
        "The CPU work a poll does for each new entry besides fetching, extracting and storing it, on real text: "
        "the 1,593 entries of the real news feeds as a poll without full text matches them, the 181 article bodies "
        "of the extraction benchmark (a poll with full text) and the 654 documents of the shipped rules' labelled "
        "corpus (which match them: hits, witnesses and snippets are built). *before*: the code this round "
        "replaced, in the same passes (datasketch's MinHash one text at a time; py3langid's own walk over the first "
        f"5,000 characters). *bulk*: `story_keys_many` over {PER_FEED} entries at a time, as for a feed's new entries.",
        "",
        "| corpus | entries | median chars | " + " | ".join(_NOW) + " | total | story keys: before, bulk "
        "| language: before | snippets (of matching) | matches/entry |",
        "|---" + "|---:" * (len(_NOW) + 7) + "|",
    ]
    for name, r in results.items():
        total = sum(r[k] for k in _NOW)
        lines.append(
            f"| {name} | {r['entries']:.0f} | {r['median chars']:.0f} | "
            + " | ".join(f"{r[k]:.0f}" for k in _NOW)
            + f" | {total:.0f} | {r['story keys, before']:.0f}, {r['story keys, bulk']:.0f} | "
            f"{r['language, before']:.0f} | {r['of which snippets']:.0f} | {r['matches/entry']:.2f} |"
        )
    lines += [
        "",
        f"Run {time.strftime('%Y-%m-%d')}, Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} cores shared with other jobs.",
        "",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=3, help="passes over the entries; the median is reported")
    parser.add_argument("--limit", type=int, default=None, help="entries per corpus (all by default)")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    results = run(args.repeats, args.limit)
    section = to_markdown(results, args.repeats)
    print(section)
    if args.write:
        write_section("Per-entry work", section)


if __name__ == "__main__":
    main()
