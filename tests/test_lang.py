"""Language detection: the vectorised automaton walk gives py3langid's own answer, on a bounded prefix."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import yaml

from monitor import lang
from monitor.feeds import parse_feed
from monitor.furniture import choose_article
from tests.conftest import EVAL, PROJECT, needs_eval

LABELLED = PROJECT / "tests" / "data" / "labelled"
NEWS = EVAL / "feeds" / "real" / "news"
TRUTH = EVAL / "extraction-benchmark" / "ground-truth.json"


def labelled_texts() -> list[str]:
    """Title and text of every labelled document (English, Khmer, Thai, Chinese, Indonesian, Vietnamese, French)."""
    out = []
    for name in ("corpus", "holdout", "long"):
        docs = yaml.safe_load((LABELLED / f"{name}.yaml").read_text(encoding="utf-8"))["documents"]
        out += [f"{d.get('title', '')}\n{d.get('text', '')}" for d in docs]
    return out


@functools.cache
def eval_texts() -> tuple[str, ...]:
    """Title and text of every entry of the real news feeds, as a poll without full text matches them, and every
    article body of the extraction benchmark."""
    out: list[str] = []
    for path in sorted(NEWS.glob("*.xml")):
        try:
            parsed = parse_feed(path.read_bytes(), "https://example.com/feed", {})
        except Exception:  # noqa: BLE001 - a feed the parser refuses has no entries to detect
            continue
        for e in parsed.entries:
            chosen = choose_article(None, e.title, e.summary, e.content)
            out.append(f"{chosen.title}\n{chosen.text}")
    truth = json.loads(TRUTH.read_text(encoding="utf-8"))
    out += [f"\n{item['articleBody']}" for _, item in sorted(truth.items())]
    return tuple(out)


@pytest.fixture(scope="module")
def reference() -> object:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _same_as_py3langid(reference: object, texts: list[str]) -> None:
    fast = lang._identifier()  # noqa: SLF001 - the fast walk against the library's own
    for text in texts:
        for sample in (text[: lang._MAX_CHARS], text[:5000]):  # noqa: SLF001
            assert fast.classify(sample) == reference.classify(sample), sample[:80]  # type: ignore[attr-defined]


def test_the_fast_walk_gives_py3langids_language_and_confidence(reference: object) -> None:
    texts = labelled_texts() + ["", "a", "Ωμέγα", "\u0000\udcff broken", "ÉCRIT EN MAJUSCULES " * 20]
    _same_as_py3langid(reference, texts)


def test_a_model_whose_table_is_not_all_negative_is_scored_by_py3langid(
    reference: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = np.array([[-1.5, -0.0], [-2.0, 0.5]], dtype=np.float16)
    assert lang._negative_normal_halves(table) is None  # noqa: SLF001 - a zero or a positive: no bit widening
    assert lang._negative_normal_halves(-np.abs(table) - 1) is not None  # noqa: SLF001
    monkeypatch.setattr(lang._identifier(), "_halves", None)  # noqa: SLF001
    _same_as_py3langid(reference, labelled_texts()[:50])


@pytest.mark.slow
@needs_eval(TRUTH)
@needs_eval(NEWS)
def test_the_fast_walk_gives_py3langids_answer_on_real_feeds_and_articles(reference: object) -> None:
    _same_as_py3langid(reference, list(eval_texts()))


@pytest.mark.slow
@needs_eval(TRUTH)
@needs_eval(NEWS)
def test_the_bounded_prefix_detects_what_5000_characters_did(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = list(eval_texts()) + labelled_texts()
    assert sum(len(t) > lang._MAX_CHARS for t in texts) > 300  # noqa: SLF001 - enough long texts to say so
    now = [lang.detect_language(t) for t in texts]
    monkeypatch.setattr(lang, "_MAX_CHARS", 5000)
    lang._classify.cache_clear()  # noqa: SLF001
    assert [lang.detect_language(t) for t in texts] == now


def test_the_walk_depth_is_the_models() -> None:
    # The vectorised walk restarts the automaton _DEPTH - 1 bytes back: right only if no state is deeper than that.
    ident = lang._identifier()  # noqa: SLF001
    nxt, rows = ident._next, ident._rows  # noqa: SLF001
    seen = np.zeros(len(rows), dtype=bool)
    seen[0] = True
    frontier, depth = np.array([0]), 0
    while len(frontier):
        found = [np.unique(nxt[rows[part][:, None] + np.arange(256)]) for part in np.array_split(frontier, 64)]
        reached = np.unique(np.concatenate(found))
        frontier = reached[~seen[reached]]
        seen[frontier] = True
        depth += bool(len(frontier))
    assert seen.all()
    assert depth == lang._DEPTH  # noqa: SLF001


def test_the_same_text_is_classified_once(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "Police raided an online scam compound in Poipet and arrested 270 people on Tuesday."
    calls: list[str] = []
    real = lang._identifier().classify  # noqa: SLF001
    monkeypatch.setattr(lang._identifier(), "classify", lambda s: calls.append(s) or real(s))  # noqa: SLF001
    lang._classify.cache_clear()  # noqa: SLF001
    assert lang.detect_language(text) == lang.detect_language(f"{text}") == "en"
    assert len(calls) == 1
