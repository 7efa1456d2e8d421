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
import re
import struct
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
from courlan import extract_domain, normalize_url
from datasketch import MinHash

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
_SCHEME = "affine32"  # pinned: a datasketch default change would silently change every key
_TRACKING_PARAM = re.compile(r"(?i)^(utm_.*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid)$")
_WORD = re.compile(r"\w+")
_SURROGATE = re.compile("[\ud800-\udfff]")


def canonical_url(url: str) -> str:
    """Return the dedup key of an article URL; never raises.

    courlan normalises scheme, host case, default ports, path escapes and drops known
    trackers; we also drop ``utm_*``/``fbclid`` and the fragment. courlan's ``strict``
    mode is *not* used: it keeps only a short list of query parameters, so
    ``view.php?newsid=1`` and ``view.php?newsid=2`` would become one article and the
    second would be lost as a "duplicate".
    """
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
    words = _WORD.findall(normalize_text(text))
    if len(words) < STORY_MIN_WORDS:
        return ()
    shingles = {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}
    minhash = MinHash(num_perm=STORY_BANDS * STORY_ROWS, seed=_SEED, permutations=_permutations(), scheme=_SCHEME)
    minhash.update_batch([s.encode("utf-8") for s in sorted(shingles)])
    values = np.asarray(minhash.hashvalues, dtype=np.uint64)
    return tuple(_band_key(band, values[band * STORY_ROWS : (band + 1) * STORY_ROWS]) for band in range(STORY_BANDS))


def _band_key(band: int, rows: np.ndarray) -> int:
    # The band number is hashed in so equal rows in different bands are different keys.
    digest = hashlib.blake2b(struct.pack(">I", band) + rows.astype(">u8").tobytes(), digest_size=8).digest()
    value: int = struct.unpack(">q", digest)[0]  # signed: fits a BIGINT column
    return value


@functools.lru_cache(maxsize=1)
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    # Generating 120 permutations costs more than hashing a short article: do it once.
    template = MinHash(num_perm=STORY_BANDS * STORY_ROWS, seed=_SEED, scheme=_SCHEME)
    first, second = template.permutations
    return first, second
