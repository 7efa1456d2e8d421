"""Duplicate and story detection: article URL/text -> canonical URL, content hash, story keys.

Pure functions, no I/O, nothing imported from store, fetch or notify.

- ``canonical_url`` makes one key per article address (tracking parameters, fragments
  and letter case of the host removed), so the same article reached through two feeds
  is stored once.
- ``content_hash`` is equal for texts that differ only in case, Unicode form or spacing.
- ``site`` is a URL's registrable domain (``www.bbc.co.uk`` -> ``bbc.co.uk``): a feed owns the links on its
  own site, and only those claim their canonical URL (a hostile feed cannot pre-claim an outlet's article).
- ``storable_key`` bounds a key (GUID, URL) to what a unique index accepts, hashing a longer or unclean one.
- ``story_keys`` are MinHash LSH band keys over word shingles: a wire story reprinted with
  a new headline or a changed sentence shares at least one key with the original, two
  different articles on the same topic share none (docs/design.md "No floods").
"""

from __future__ import annotations

import functools
import hashlib
import operator
import re
import struct
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:  # numpy is imported by the functions that use it: 0.09 s of start-up, after a poll's first fetch
    import numpy as np

__all__ = [
    "MAX_KEY_BYTES",
    "SHINGLE_WORDS",
    "STORY_BANDS",
    "STORY_MIN_WORDS",
    "STORY_ROWS",
    "canonical_url",
    "content_hash",
    "entry_keys",
    "link_story_key",
    "normalize_text",
    "site",
    "storable_key",
    "story_keys",
    "story_keys_many",
]

#: Words per shingle. Three-word shingles keep two articles on one topic (same names,
#: same places) far apart while a reprint keeps most of its shingles.
SHINGLE_WORDS = 3
#: LSH banding: 24 bands of 5 rows (120 permutations). Two texts share a key with
#: probability 1 - (1 - J**5)**24: 0.99 at Jaccard 0.7, 0.80 at 0.55, 0.06 at 0.3, < 0.01
#: at 0.2 (two different articles on one topic measure 0.00-0.05 on the seed corpus).
STORY_BANDS = 24
STORY_ROWS = 5
#: Texts shorter than this (titles, one-line summaries) get no story keys: too few
#: shingles to tell a reprint from a coincidence.
STORY_MIN_WORDS = 40

#: Keys longer than this (UTF-8 bytes) are stored as their hash: PostgreSQL refuses a B-tree index entry over
#: about 2,700 bytes, so a 10 KB GUID or link would fail its entry at every poll.
MAX_KEY_BYTES = 1024

_SEED = 20240601  # fixed: keys must be equal across processes, runs and hosts
_TRACKING_PARAM = re.compile(r"(?i)^(utm_.*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid)$")
_WORD = re.compile(r"\w+")
_SURROGATE = re.compile("[\ud800-\udfff]")
#: Shingle hashes whose 120 permutations are computed at once (2 MB of uint32).
_CHUNK = 4096
_SHA1_WORDS = 5  # 32-bit words in a SHA-1 digest
_digest = operator.methodcaller("digest")
_utf8 = operator.methodcaller("encode", "utf-8")


def canonical_url(url: str) -> str:
    """Return the dedup key of an article URL; never raises.

    courlan normalises scheme, host case, default ports, path escapes and drops known
    trackers; we also drop ``utm_*``/``fbclid`` and the fragment. courlan's ``strict``
    mode is *not* used: it keeps only a short list of query parameters, so
    ``view.php?newsid=1`` and ``view.php?newsid=2`` would become one article and the
    second would be lost as a "duplicate".
    """
    from courlan import normalize_url  # on first use: courlan and urllib3 are 0.04 s of start-up

    stripped = url.strip()
    try:
        normal = normalize_url(stripped, strict=False)
        parts = urlsplit(normal)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING_PARAM.match(k)]
        return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path, urlencode(query), ""))
    except (ValueError, TypeError, UnicodeError):
        return stripped


def site(url: str) -> str:
    """The registrable domain of ``url``'s host (public suffix list), else the host itself (IPs, ``localhost``,
    ``.test``), else ``""``; never raises. The host is read by ``urlsplit`` (as ``canonical_url`` reads it, so a
    key and its owner agree) and IDNA-encoded, so ``bücher.de`` and ``xn--bcher-kva.de`` are one site."""
    from courlan import extract_domain  # on first use, as in canonical_url

    try:
        host = (urlsplit(url.strip()).hostname or "").rstrip(".")
        if host and not host.isascii():
            host = host.encode("idna").decode("ascii")
        return (extract_domain(f"http://{host}/") or host) if host else ""
    except (ValueError, TypeError, UnicodeError):
        return ""


def storable_key(key: str) -> str:
    """``key`` itself, or ``sha256:<hex>`` of it when it is longer than ``MAX_KEY_BYTES`` or holds a NUL or a
    lone surrogate (which PostgreSQL, or any UTF-8 encoder, refuses). Stable across runs, so a hashed entry key
    still marks its entry seen."""
    raw = key.encode("utf-8", "surrogatepass")
    if len(raw) <= MAX_KEY_BYTES and "\0" not in key and not _SURROGATE.search(key):
        return key
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def entry_keys(guid: str, url: str) -> tuple[str, ...]:
    """The keys an entry is known by in a feed: its GUID and its canonical link (``guid:…``, ``url:…``), storable."""
    keys = [f"guid:{guid}"] if guid else []
    if url:
        keys.append(f"url:{canonical_url(url)}")
    return tuple(storable_key(key) for key in keys)


def link_story_key(canonical: str) -> int:
    """A story key for an article's link: copies of one link (from feeds that do not own it) are one story."""
    digest = hashlib.blake2b(b"link:" + canonical.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    value: int = struct.unpack(">q", digest)[0]
    return value


def normalize_text(text: str) -> str:
    """NFKC, casefold and collapse whitespace: the form that ``content_hash`` hashes."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def content_hash(text: str) -> str:
    """Return the sha256 hex digest of ``normalize_text(text)``."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def story_keys(text: str) -> tuple[int, ...]:
    """Return the MinHash LSH band keys of ``text`` (signed 64-bit ints), or ``()``.

    Two texts share a key when their word-shingle Jaccard similarity is high (see
    ``STORY_BANDS``). Texts under ``STORY_MIN_WORDS`` words return ``()``.
    """
    return story_keys_many([text])[0]


def story_keys_many(texts: Sequence[str]) -> list[tuple[int, ...]]:
    """``story_keys`` of each text, computed together: one numpy pass over all their shingles (a feed's new
    entries at once cost less than one by one)."""
    out: list[tuple[int, ...]] = [()] * len(texts)
    hashes: list[np.ndarray] = []
    keyed: list[int] = []
    for i, text in enumerate(texts):
        words = _WORD.findall(normalize_text(text))
        if len(words) >= STORY_MIN_WORDS:
            hashes.append(_shingle_hashes(words))
            keyed.append(i)
    if not keyed:
        return out
    raw = _signatures(hashes).astype(">u8").tobytes()  # each row's values, big-endian, as _band_key hashes them
    size = STORY_ROWS * 8
    for n, i in enumerate(keyed):
        base = n * STORY_BANDS * size
        out[i] = tuple(
            _band_key(band, raw[base + band * size : base + (band + 1) * size]) for band in range(STORY_BANDS)
        )
    return out


def _shingle_hashes(words: list[str]) -> np.ndarray:
    """datasketch's ``sha1_hash32`` of each distinct shingle (the first 4 bytes of its SHA-1, little-endian), for
    all of them at once: the digests joined in C and read as one array."""
    import numpy as np

    shingles = set(
        map(" ".join, zip(*(words[k:] for k in range(SHINGLE_WORDS)), strict=False))
    )  # the shorter tails end it
    digests = b"".join(map(_digest, map(hashlib.sha1, map(_utf8, shingles))))
    return np.frombuffer(digests, dtype="<u4")[::_SHA1_WORDS].astype(np.uint32)


def _signatures(hashes: list[np.ndarray]) -> np.ndarray:
    """The MinHash values of each text's shingle hashes (a row per text, ``uint64`` as datasketch's ``hashvalues``
    are read): datasketch's "affine32" scheme, ``min(a * fmix32(h) + b mod 2**32)`` per permutation. Texts are
    taken together, up to ``_CHUNK`` shingles at a time (tests/test_dedup.py compares with datasketch)."""
    import numpy as np

    a, b = _permutations()
    rows = np.empty((len(hashes), len(a)), dtype=np.uint32)
    t = 0
    while t < len(hashes):
        end, total = t + 1, len(hashes[t])
        while end < len(hashes) and total + len(hashes[end]) <= _CHUNK:
            total += len(hashes[end])
            end += 1
        if end == t + 1:
            rows[t] = _min_hash(hashes[t], a, b)
        else:  # every text has a shingle: no segment is empty
            starts = np.cumsum([0] + [len(h) for h in hashes[t : end - 1]])
            values = _fmix32(np.concatenate(hashes[t:end]))[:, None] * a + b  # uint32: wraps, the "mod 2**32"
            rows[t:end] = np.minimum.reduceat(values, starts, axis=0)
        t = end
    return rows.astype(np.uint64)


def _min_hash(hashes: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One long text's MinHash values, ``_CHUNK`` shingles at a time (bounded memory)."""
    import numpy as np

    out = np.full(len(a), np.iinfo(np.uint32).max, dtype=np.uint32)
    values = _fmix32(hashes)
    for lo in range(0, len(values), _CHUNK):
        np.minimum(out, (values[lo : lo + _CHUNK, None] * a + b).min(axis=0), out=out)
    return out


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, as datasketch pre-mixes every input hash (uint32 arithmetic wraps)."""
    import numpy as np

    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    mixed: np.ndarray = h ^ (h >> np.uint32(16))
    return mixed


def _band_key(band: int, rows: bytes) -> int:
    # The band number is hashed in so equal rows in different bands are different keys.
    digest = hashlib.blake2b(_BAND_PREFIX[band] + rows, digest_size=8).digest()
    value: int = struct.unpack(">q", digest)[0]  # signed: fits a BIGINT column
    return value


_BAND_PREFIX = [struct.pack(">I", band) for band in range(STORY_BANDS)]


@functools.lru_cache(maxsize=1)
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """The 120 affine permutations ``h -> a * h + b mod 2**32`` (``a`` odd), drawn as datasketch 2.0 draws them
    for ``MinHash(num_perm=120, seed=_SEED, scheme="affine32")``: numpy's legacy ``RandomState``, whose stream
    numpy keeps stable across versions. The keys stored by earlier versions depend on these exact numbers
    (tests/test_dedup.py pins them and compares the keys with datasketch's). datasketch itself is not imported:
    its package imports scipy for LSH code monitor never used (0.45 s and 53 MB per process)."""
    import numpy as np

    generator = np.random.RandomState(_SEED)
    count = STORY_BANDS * STORY_ROWS
    a = generator.randint(0, 1 << 31, count, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, count, dtype=np.uint32)
    return a, b
