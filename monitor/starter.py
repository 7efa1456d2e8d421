"""What ships inside the package, and ``monitor init``: a starter deployment written from it.

The seed corpus, the shipped rules and the default ``config.toml`` travel as package data (``monitor/data``), so
that ``monitor demo`` and ``monitor init`` work from a wheel installed anywhere, not only from a checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

from monitor.errors import ConfigError

__all__ = ["SHIPPED_CONFIG", "SHIPPED_RULES", "SHIPPED_SEEDS", "init_deployment"]

_DATA = Path(__file__).resolve().parent / "data"
#: The shipped rule files (``rules/`` of the repository).
SHIPPED_RULES = _DATA / "rules"
#: The seed corpus and its expectations (``seeds/`` of the repository).
SHIPPED_SEEDS = _DATA / "seeds"
#: The default configuration (``config.toml`` of the repository).
SHIPPED_CONFIG = _DATA / "config.toml"

_EDIT_FIRST = """\
# Written by `monitor init`. Edit these first:
#   1. [[feeds]] below: the feeds you follow. `monitor poll` fetches them once; `monitor feeds list` shows their
#      health. A feed on your own network needs `allow_private = true` on its entry.
#   2. [channels.*] and [[routes]]: where alerts go. Set MONITOR_EMAIL_URL / MONITOR_CHAT_URL (apprise URLs) in the
#      environment, then try a channel with `monitor notify test chat`.
#   3. rules/: the shipped rules (Cambodia's crackdowns on scam centres and illegal gambling). Copy one, edit its
#      query for your topic, then `monitor rules check` and `monitor rules test`.
# Then run `monitor run` (or the systemd unit in docs/deploying.md) to keep watching.
#
"""


def init_deployment(folder: Path, *, force: bool = False) -> list[Path]:
    """Write a starter ``config.toml`` and ``rules/`` (copies of the shipped ones) into ``folder``.

    Returns:
        The files written.

    Raises:
        ConfigError: a file to write exists (and ``force`` is not set), or is a symbolic link (even with ``force``:
            writing through it would change another path), or the folder cannot be written.
    """
    config = folder / "config.toml"
    rules = [(p, folder / "rules" / p.name) for p in sorted(SHIPPED_RULES.glob("*.yaml"))]
    targets = [config, *(target for _, target in rules)]
    linked = [t for t in (config, folder / "rules", *targets[1:]) if t.is_symlink()]
    if linked:
        raise ConfigError(f"{linked[0]} is a symbolic link; nothing was written (init writes real files only)")
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        raise ConfigError(f"{existing[0]} exists; nothing was written (use --force to overwrite)")
    try:
        (folder / "rules").mkdir(parents=True, exist_ok=True)
        _write(config, (_EDIT_FIRST + SHIPPED_CONFIG.read_text(encoding="utf-8")).encode())
        for source, target in rules:
            _write(target, source.read_bytes())
    except OSError as e:
        raise ConfigError(f"{folder}: cannot write the starter files: {e.strerror or e}") from e
    return targets


def _write(path: Path, data: bytes) -> None:
    """Write ``path``, never through a symbolic link (one made after the check above fails with ELOOP)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
