"""Canonical URLs, content hashes and story keys, on realistic news texts."""

from __future__ import annotations

import hashlib
import json
import random
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor import dedup
from monitor.dedup import STORY_MIN_WORDS, canonical_url, content_hash, story_keys, story_keys_many
from tests.conftest import needs_eval
from tests.test_lang import NEWS, TRUTH, eval_texts, labelled_texts

SEEDS = sorted((Path(__file__).resolve().parent.parent / "seeds").glob("*.txt"))


def _seed(i: int) -> str:
    return SEEDS[i].read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "HTTPS://News.Example.COM:443/a/b?utm_source=x&utm_medium=rss&id=5#comments",
            "https://news.example.com/a/b?id=5",
        ),
        ("https://news.example.com/story?fbclid=abc", "https://news.example.com/story"),
        ("http://news.example.com:80/story", "http://news.example.com/story"),
        ("https://news.example.com/view.php?newsid=12&b=2&a=1", "https://news.example.com/view.php?a=1&b=2&newsid=12"),
        ("  https://news.example.com/x  ", "https://news.example.com/x"),
    ],
    ids=["trackers-port-case-fragment", "fbclid", "default-port", "keeps-article-params", "spaces"],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_keeps_distinct_articles_apart() -> None:
    # courlan's strict mode would drop newsid and merge these two articles into one.
    assert canonical_url("https://n.example/view.php?newsid=1") != canonical_url("https://n.example/view.php?newsid=2")


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_canonical_url_never_raises(url: str) -> None:
    assert isinstance(canonical_url(url), str)


def test_content_hash_ignores_case_spacing_and_unicode_form() -> None:
    text = "Cambodia’s NCCT  raided\n\na compound in Poipet."
    assert content_hash(text) == content_hash("CAMBODIA’S ncct raided a compound in Poipet. ")
    assert content_hash("ﬁne") == content_hash("fine")  # NFKC folds the ligature
    assert content_hash(text) != content_hash(text.replace("Poipet", "Bavet"))
    assert len(content_hash("")) == 64


def _reprint(text: str, changed_words: int, seed: int = 7) -> str:
    """A wire copy: a new headline, a new intro sentence, a few words changed."""
    lines = text.splitlines()
    words = "\n".join(lines[1:]).split(" ")
    rng = random.Random(seed)
    for _ in range(changed_words):
        words[rng.randrange(len(words))] = "reportedly"
    return "\n".join(
        [
            "Crackdown widens as authorities move on online scam hubs",
            "PHNOM PENH (Wire) - Officials gave new details on Monday.",
            " ".join(words),
        ]
    )


@pytest.mark.parametrize("index", range(len(SEEDS)))
def test_reprint_shares_a_story_key(index: int) -> None:
    original = set(story_keys(_seed(index)))
    assert original
    assert original & set(story_keys(_reprint(_seed(index), changed_words=6)))


def test_different_articles_on_one_topic_share_no_key() -> None:
    # The seeds are five different articles on Cambodia's scam and gambling crackdowns.
    keys = [set(story_keys(_seed(i))) for i in range(len(SEEDS))]
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            assert not keys[i] & keys[j], (SEEDS[i].name, SEEDS[j].name)


def test_short_texts_get_no_story_keys() -> None:
    assert story_keys("Cambodia raids scam compound in Poipet") == ()
    assert story_keys(" ".join(["word"] * (STORY_MIN_WORDS - 1))) == ()
    assert story_keys("") == ()


def test_story_keys_fit_bigint_and_are_stable_across_processes() -> None:
    keys = story_keys(_seed(0))
    assert len(keys) == 24
    assert all(-(2**63) <= k < 2**63 for k in keys)
    code = (
        "import sys; from monitor.dedup import story_keys; "
        "print(story_keys(open(sys.argv[1], encoding='utf-8').read()))"
    )
    other = subprocess.run([sys.executable, "-c", code, str(SEEDS[0])], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == str(keys)


#: The story keys of the first seed article, as every version since story keys exist stored them: a change of
#: shingles, hash, permutations or banding would split every stored story from its new copies.
SEED0_KEYS_HEAD = (-7618803945083056755, -3764436079871445753, -7015450907076074523)
#: sha256 of the 120 permutations' ``a`` then ``b`` (little-endian uint32): datasketch 2.0's draw for our seed.
PERMUTATIONS_SHA256 = "100e49bff51459f0ddbc5d252a78249c768c2052e554f743e4928550a69bf2e9"


def test_permutations_are_datasketchs_and_pinned() -> None:
    a, b = dedup._permutations()  # noqa: SLF001
    assert hashlib.sha256(a.astype("<u4").tobytes() + b.astype("<u4").tobytes()).hexdigest() == PERMUTATIONS_SHA256
    template = MinHash(num_perm=120, seed=20240601, scheme="affine32")
    assert (template.permutations[0] == a).all() and (template.permutations[1] == b).all()
    assert story_keys(_seed(0))[:3] == SEED0_KEYS_HEAD


def test_story_keys_import_neither_datasketch_nor_scipy() -> None:
    # datasketch's package imports scipy (0.45 s of start-up and 53 MB in every process) for LSH code never used.
    code = "import json, sys; from monitor.dedup import story_keys; story_keys('w ' * 50); print(json.dumps(list(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = [m for m in json.loads(done.stdout) if m.split(".")[0] in {"datasketch", "scipy"}]
    assert loaded == []


def datasketch_story_keys(text: str) -> tuple[int, ...]:
    """The story keys as datasketch's MinHash computes them (the code before the numpy one, kept as the oracle)."""
    words = dedup._WORD.findall(dedup.normalize_text(text))  # noqa: SLF001
    if len(words) < STORY_MIN_WORDS:
        return ()
    shingles = {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}
    minhash = MinHash(num_perm=120, seed=20240601, scheme="affine32")
    minhash.update_batch([s.encode("utf-8") for s in sorted(shingles)])
    values = np.asarray(minhash.hashvalues, dtype=np.uint64)
    keys = []
    for band in range(24):
        rows = values[band * 5 : (band + 1) * 5].astype(">u8").tobytes()
        digest = hashlib.blake2b(struct.pack(">I", band) + rows, digest_size=8).digest()
        keys.append(struct.unpack(">q", digest)[0])
    return tuple(keys)


def _check_against_datasketch(texts: list[str]) -> None:
    expected = [datasketch_story_keys(t) for t in texts]
    assert sum(map(bool, expected)) >= len(texts) // 4  # enough of them long enough to have keys
    assert [story_keys(t) for t in texts] == expected
    assert story_keys_many(texts) == expected  # in bulk: the same keys


def test_story_keys_are_datasketchs() -> None:
    texts = [_seed(i) for i in range(len(SEEDS))] + [_reprint(_seed(i), 6) for i in range(len(SEEDS))]
    texts += labelled_texts()
    texts += ["word " * 45, "ﬁ ﬂ " * 30, "a b " * 30, " ".join(map(str, range(20000))), "", "x"]
    _check_against_datasketch(texts)


@pytest.mark.slow
@needs_eval(TRUTH)
@needs_eval(NEWS)
def test_story_keys_are_datasketchs_on_real_feeds_and_articles() -> None:
    # Equal keys: the same articles group into the same stories as before, and as the keys stored by earlier versions.
    _check_against_datasketch(list(eval_texts()))


def test_story_keys_in_bulk_keep_each_text_apart() -> None:
    # Texts of every size taken together (several per chunk, one over a chunk) give each its own keys.
    texts = [" ".join(f"w{i}x{j}" for j in range(n)) for i, n in enumerate([50, 39, 4000, 45, 9000, 60, 0, 41])]
    assert story_keys_many(texts) == [datasketch_story_keys(t) for t in texts]
    assert story_keys_many([]) == []
