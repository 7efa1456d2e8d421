"""The compiled-rules cache: a loaded rule set kept on disk, so that starting ``monitor`` does not compile the same
rule files again (the shipped rules take about 0.5 s to load and compile, 0.05 s to read back: docs/benchmarks.md).

Where: ``$MONITOR_CACHE_DIR`` when set (set but empty: no cache), else ``$XDG_CACHE_HOME/monitor``, else
``~/.cache/monitor``; entries live in its ``rules/`` folder, one file per key.

Key: a hash of everything the loaded set depends on: the cache format, monitor's version, the Python version, the
source of the ``monitor.rules`` package and of its compiled dependencies, each rule file's path and content, and the
config's feed and channel names (rules naming others get a warning). Any change is a new key, so an entry is never
stale: it is simply no longer read, and the oldest entries beyond ``KEEP`` are removed when one is written.

Trust: an entry is a pickle, and unpickling runs code, so an entry is read only when (1) the folder, the entry and
the folder's secret belong to this user and nobody else can write them (no symbolic links), and (2) the entry's
HMAC-SHA256, made with that secret (32 random bytes, readable by this user alone), checks out. A corrupt, truncated,
foreign (another user's or another machine's) or planted file fails one of these and is ignored: the rules are
compiled as if there were no cache. Only rule sets that loaded without errors are cached; a problem with the cache
itself is logged at debug level and never stops a start.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import pickle
import secrets
import stat
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from monitor.rules.load import folder_rule_files, load_rules
from monitor.rules.match import RuleSet

__all__ = ["KEEP", "cache_folder", "load_rules_cached"]

_log = logging.getLogger(__name__)

#: Entries kept in the folder (a few rule-set versions: a daemon and ``monitor serve`` on different configs).
KEEP = 8
_FORMAT = b"monitor-rules-cache 1\n"
_SECRET = "secret"
_SUFFIX = ".pickle"
_PACKAGE = Path(__file__).resolve().parent


def cache_folder() -> Path | None:
    """The folder of cached rule sets (not created here), or None when caching is off (``MONITOR_CACHE_DIR=""``)."""
    configured = os.environ.get("MONITOR_CACHE_DIR")
    if configured is not None:
        return Path(configured) / "rules" if configured else None
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "monitor" / "rules"


def load_rules_cached(
    paths: Sequence[Path],
    *,
    known_feeds: Iterable[str] | None = None,
    known_channels: Iterable[str] | None = None,
) -> RuleSet:
    """``load_rules(paths, known_feeds=..., known_channels=...)`` (examples run), read from the cache when these
    rule files were loaded by this code before.

    Raises:
        RuleSetError: as ``load_rules`` (errors are never cached: a broken file is read and reported every time).
    """
    feeds = None if known_feeds is None else sorted(known_feeds)
    channels = None if known_channels is None else sorted(known_channels)
    folder = _usable_folder()
    key = _key(paths, feeds, channels) if folder is not None else ""
    secret = _secret(folder) if folder is not None else None
    if folder is not None and secret is not None:
        entry = folder / f"{key}{_SUFFIX}"
        cached = _read(entry, key, secret)
        if cached is not None:
            _touch(entry)  # recently used: kept when older entries are pruned
            return cached
    ruleset = load_rules(paths, known_feeds=feeds, known_channels=channels)
    if folder is not None and secret is not None:
        _write(folder, key, secret, ruleset)
    return ruleset


def _key(paths: Sequence[Path], feeds: list[str] | None, channels: list[str] | None) -> str:
    digest = hashlib.sha256(_FORMAT)
    digest.update(_code_fingerprint())
    for name, values in (("feeds", feeds), ("channels", channels)):
        digest.update(f"\0{name}\0{values!r}".encode())
    for path in paths:
        path = Path(path)
        files = folder_rule_files(path) if path.is_dir() else [path]
        digest.update(f"\0path\0{path}\0{len(files)}".encode())
        for file in files:
            try:
                content = file.read_bytes()
            except OSError as e:  # load_rules reports it; the key only has to differ
                content = f"unreadable: {e}".encode()
            digest.update(f"\0file\0{file}\0{len(content)}\0".encode())
            digest.update(content)
    return digest.hexdigest()


def _code_fingerprint() -> bytes:
    """What the pickled objects' meaning depends on: this package's source, monitor's and Python's versions, and the
    compiled modules whose objects the set holds (the automaton, ``regex`` patterns), by their files' size and time."""
    import daachorse
    import regex

    from monitor import __version__

    digest = hashlib.sha256(f"{__version__}\0{sys.version}\0{sys.implementation.cache_tag}".encode())
    for source in sorted(_PACKAGE.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    for module in (daachorse, regex):
        folder = Path(module.__file__ or "").parent
        for file in sorted(folder.iterdir()):
            if file.suffix in (".so", ".pyd", ".py"):
                info = file.stat()
                digest.update(f"\0{file}\0{info.st_size}\0{info.st_mtime_ns}".encode())
    return digest.digest()


def _owned(info: os.stat_result, *, private: bool) -> bool:
    """Owned by this user; nobody else may write it (``private``: nor read it)."""
    others = 0o077 if private else 0o022
    return info.st_uid == os.geteuid() and not info.st_mode & others


def _usable_folder() -> Path | None:
    """The cache folder, created private if missing; None when it is off, or not this user's alone to write."""
    folder = cache_folder()
    if folder is None or not hasattr(os, "geteuid"):
        return None
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.lstat()
    except OSError as e:
        _log.debug("rules cache off folder=%s error=%r", folder, str(e))
        return None
    if not stat.S_ISDIR(info.st_mode) or not _owned(info, private=False):
        _log.debug("rules cache off folder=%s reason=not this user's alone", folder)
        return None
    return folder


def _secret(folder: Path) -> bytes | None:
    """The folder's HMAC secret, made on first use; None when it is not this user's alone."""
    path = folder / _SECRET
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    except OSError as e:
        _log.debug("rules cache off error=%r", str(e))
        return None
    else:
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
    data = _read_private(path, private=True)
    return data if data is not None and len(data) == 32 else None


def _read_private(path: Path, *, private: bool) -> bytes | None:
    """The file's bytes if it is a regular file of this user's that nobody else can write (checked on the open
    file, so it cannot be swapped between the check and the read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or not _owned(info, private=private):
            _log.debug("rules cache entry ignored path=%s reason=not this user's alone", path)
            return None
        return f.read()


def _mac(secret: bytes, key: str, payload: bytes) -> bytes:
    return hmac.digest(secret, key.encode() + b"\0" + payload, "sha256")


def _read(path: Path, key: str, secret: bytes) -> RuleSet | None:
    data = _read_private(path, private=False)
    if data is None:
        return None
    head, mac, payload = data[: len(_FORMAT)], data[len(_FORMAT) : len(_FORMAT) + 32], data[len(_FORMAT) + 32 :]
    if head != _FORMAT or not hmac.compare_digest(mac, _mac(secret, key, payload)):
        _log.debug("rules cache entry ignored path=%s reason=bad signature", path)
        return None
    try:
        ruleset = pickle.loads(payload)  # noqa: S301 - signed by this user's secret above: written by us
    except Exception as e:  # written by an older build whose classes have since changed shape
        _log.debug("rules cache entry ignored path=%s error=%r", path, str(e))
        return None
    return ruleset if isinstance(ruleset, RuleSet) else None


def _write(folder: Path, key: str, secret: bytes, ruleset: RuleSet) -> None:
    try:
        payload = pickle.dumps(ruleset, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as e:  # something in the set cannot be pickled: no cache, nothing else changes
        _log.debug("rules cache not written error=%r", str(e))
        return
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(_FORMAT + _mac(secret, key, payload) + payload)
            os.replace(tmp, folder / f"{key}{_SUFFIX}")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _prune(folder)
    except OSError as e:
        _log.debug("rules cache not written folder=%s error=%r", folder, str(e))


def _touch(entry: Path) -> None:
    try:
        os.utime(entry)
    except OSError:
        pass


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob(f"*{_SUFFIX}"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in entries[KEEP:]:
        old.unlink(missing_ok=True)
