"""Hot reload of rule files: the current rule set, reloaded when a file changes; a bad edit keeps the last good set.

Used by ``monitor.api.Monitor`` (and so by the daemon, which calls ``refresh`` every tick, off the event loop).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.errors import MonitorError
from monitor.rules.cache import load_rules_cached
from monitor.rules.load import folder_rule_files
from monitor.rules.match import RuleSet

if TYPE_CHECKING:
    from monitor.config import Settings

__all__ = ["RuleWatcher"]

_log = logging.getLogger(__name__)


class RuleWatcher:
    """Holds the current rule set and reloads it when a rule file changes; a bad edit keeps the last good set."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._fingerprint = self._scan()
        self._rules = self._load()  # errors at start are fatal: the caller exits 2
        self.last_error: str | None = None

    def current(self) -> RuleSet:
        return self._rules

    def refresh(self) -> bool:
        """Reload if any rule file was added, removed or changed. Returns True when a new set is in force."""
        fingerprint = self._scan()
        if fingerprint == self._fingerprint:
            return False
        self._fingerprint = fingerprint
        try:
            self._rules = self._load()
        except MonitorError as e:
            self.last_error = str(e)
            for error in getattr(e, "errors", None) or [e]:
                _log.error("rules not reloaded, keeping the last good set error=%r", str(error))
            return False
        self.last_error = None
        _log.info("rules reloaded rules=%d", len(self._rules.rules))
        for warning in self._rules.warnings:  # the daemon logs those of the first load at its start
            _log.warning("rule warning: %s", warning)
        return True

    def _load(self) -> RuleSet:
        settings = self._settings
        return load_rules_cached(  # compiled once per version of the rule files (monitor.rules.cache)
            list(settings.rules.paths),
            known_feeds=[f.name for f in settings.feeds] + [t for f in settings.feeds for t in f.tags],
            known_channels=list(settings.channels),
        )

    def _files(self) -> Iterator[Path]:
        for root in self._settings.rules.paths:
            if root.is_file():
                yield root
            elif root.is_dir():
                yield from folder_rule_files(root)  # the files load_rules reads, so hidden ones are not watched

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        out = []
        for path in self._files():
            try:
                stat = path.stat()
            except OSError:
                continue
            out.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(out)
