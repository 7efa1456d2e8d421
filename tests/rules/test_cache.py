"""The compiled-rules cache: a second start reads the rules back instead of compiling them, and gets the same
matches; an edited rule file is compiled again; a corrupt, foreign or planted cache file is never trusted."""

from __future__ import annotations

import os
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.demo import demo_articles
from monitor.errors import RuleSetError
from monitor.rules import Document, RuleSet, load_rules
from monitor.rules import cache as rules_cache
from monitor.rules.cache import KEEP, cache_folder, load_rules_cached

SHIPPED = Path(__file__).parents[2] / "rules"
#: A small rule set with every kind of node the matcher compiles (sets, NEAR, fields, wildcards, a regex, NOT, a
#: language filter) and examples: quick to compile, so the tests can compile it many times.
SMALL = """\
sets:
  places: [Poipet, Sihanoukville, "Phnom Penh", Bavet]
rules:
  - id: raid
    title: Raid on a scam compound
    query: (@places NEAR/20 (raid* OR "scam compound")) AND NOT title:sport
    severity: high
    examples:
      match:
        - text: Police raided a scam compound in Poipet on Monday.
      no_match:
        - text: A quiet week in Poipet.
  - id: casino
    title: Casino licences
    query: casino AND /licen[cs]e[sd]?/ AND title:(casino OR gambling)
    lang: [en]
  - id: arrests
    title: Arrests
    query: arrest* NEAR/5 (foreigners OR workers)
    feeds: [wire]
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MONITOR_CACHE_DIR", str(tmp_path / "cache"))
    folder = cache_folder()
    assert folder == tmp_path / "cache" / "rules"
    return folder


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "small.yaml").write_text(SMALL, encoding="utf-8")
    return folder


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    folder = tmp_path / "shipped"
    shutil.copytree(SHIPPED, folder)
    return folder


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the rule sets actually compiled through the cache."""
    calls: list[int] = []

    def counting(*args: Any, **kwargs: Any) -> RuleSet:
        calls.append(1)
        return load_rules(*args, **kwargs)

    monkeypatch.setattr(rules_cache, "load_rules", counting)
    yield calls


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.pickle"))


def _matches(ruleset: RuleSet) -> list[tuple[str, str, tuple[tuple[str, int, int], ...], str]]:
    found = []
    for article in demo_articles():  # the seed corpus
        doc = Document(title=article.title, text=article.body, url=f"https://example.org/{article.slug}", feed="wire")
        for m in ruleset.match(doc):
            found.append((article.slug, m.rule.id, tuple((h.field, h.start, h.end) for h in m.hits), m.snippet))
    return found


def test_a_second_start_reads_the_rules_back_and_matches_the_same(
    cache: Path, shipped: Path, compiles: list[int]
) -> None:
    first = load_rules_cached([shipped], known_feeds=["wire"], known_channels=["chat"])
    second = load_rules_cached([shipped], known_feeds=["wire"], known_channels=["chat"])
    assert len(compiles) == 1  # the second came from the cache
    assert second is not first and len(_entries(cache)) == 1
    assert [(r.id, r.version, r.path, r.line) for r in second.rules] == [
        (r.id, r.version, r.path, r.line) for r in first.rules
    ]
    assert second.warnings == first.warnings
    assert _matches(second) == _matches(first) != []


def test_an_edited_rule_file_is_compiled_again(cache: Path, rules: Path, compiles: list[int]) -> None:
    before = load_rules_cached([rules])
    path = rules / "small.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("severity: high", "severity: low", 1), encoding="utf-8")
    after = load_rules_cached([rules])
    assert len(compiles) == 2 and len(_entries(cache)) == 2
    assert [r.severity for r in after.rules] != [r.severity for r in before.rules]
    (rules / "extra.yaml").write_text(
        "rules:\n  - id: extra\n    title: Extra\n    query: casino\n", encoding="utf-8"
    )  # a new file in the folder
    assert "extra" in {r.id for r in load_rules_cached([rules]).rules}
    assert len(compiles) == 3


def test_other_config_names_are_another_entry(cache: Path, rules: Path, compiles: list[int]) -> None:
    """Warnings name feeds and channels the config lacks: they are part of what is cached."""
    (rules / "extra.yaml").write_text(
        "rules:\n  - id: extra\n    title: Extra\n    query: casino\n    feeds: [wire]\n", encoding="utf-8"
    )
    assert not any("'wire'" in w for w in load_rules_cached([rules], known_feeds=["wire"]).warnings)
    assert any("'wire'" in w for w in load_rules_cached([rules], known_feeds=["other"]).warnings)
    assert len(compiles) == 2


def test_a_broken_rule_file_is_never_cached(cache: Path, rules: Path, compiles: list[int]) -> None:
    (rules / "broken.yaml").write_text("rules:\n  - id: broken\n    title: B\n    query: (casino\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(RuleSetError, match="broken.yaml"):
            load_rules_cached([rules])
    assert len(compiles) == 2 and _entries(cache) == []


@pytest.mark.parametrize("damage", ["truncated", "flipped", "empty", "other secret"])
def test_a_corrupt_or_foreign_entry_is_ignored(cache: Path, rules: Path, compiles: list[int], damage: str) -> None:
    expected = [(r.id, r.version) for r in load_rules_cached([rules]).rules]
    (entry,) = _entries(cache)
    data = entry.read_bytes()
    if damage == "truncated":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":
        entry.write_bytes(data[:-100] + bytes([data[-100] ^ 1]) + data[-99:])
    elif damage == "empty":
        entry.write_bytes(b"")
    else:  # signed with another secret: a file copied from another machine or user
        (cache / "secret").write_bytes(os.urandom(32))
    assert [(r.id, r.version) for r in load_rules_cached([rules]).rules] == expected
    assert len(compiles) == 2  # compiled again, and the entry rewritten
    load_rules_cached([rules])
    assert len(compiles) == 2


class _Planted:
    """A pickle that runs code when it is loaded: it would create ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def _plant(cache: Path, marker: Path, *, sign: bool) -> None:
    """Replace the one entry with a pickle that creates ``marker``; ``sign``: with a valid signature (an attacker
    who could read the secret)."""
    (entry,) = _entries(cache)
    key = entry.name.removesuffix(".pickle")
    payload = pickle.dumps(_Planted(marker))
    mac = rules_cache._mac((cache / "secret").read_bytes(), key, payload) if sign else os.urandom(32)
    entry.write_bytes(rules_cache._FORMAT + mac + payload)


def test_a_planted_pickle_is_not_loaded(cache: Path, rules: Path, tmp_path: Path) -> None:
    load_rules_cached([rules])
    marker = tmp_path / "pwned"
    _plant(cache, marker, sign=False)
    assert load_rules_cached([rules]).rules
    assert not marker.exists()


@pytest.mark.parametrize("what", ["folder", "entry", "secret"])
def test_nothing_is_read_from_a_place_others_can_write(cache: Path, rules: Path, tmp_path: Path, what: str) -> None:
    load_rules_cached([rules])
    marker = tmp_path / "pwned"
    _plant(cache, marker, sign=True)  # even with a valid signature
    target = {"folder": cache, "entry": _entries(cache)[0], "secret": cache / "secret"}[what]
    target.chmod(0o777 if what == "folder" else 0o666)
    assert load_rules_cached([rules]).rules
    assert not marker.exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown to another user needs root")
def test_an_entry_of_another_user_is_not_read(cache: Path, rules: Path, tmp_path: Path) -> None:
    load_rules_cached([rules])
    marker = tmp_path / "pwned"
    _plant(cache, marker, sign=True)
    os.chown(_entries(cache)[0], 65534, 65534)  # nobody
    assert load_rules_cached([rules]).rules
    assert not marker.exists()


def test_a_symlinked_folder_is_not_used(tmp_path: Path, rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "rules").symlink_to(elsewhere)
    monkeypatch.setenv("MONITOR_CACHE_DIR", str(tmp_path / "cache"))
    assert load_rules_cached([rules]).rules
    assert list(elsewhere.iterdir()) == []


def test_an_empty_setting_turns_the_cache_off(tmp_path: Path, rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder() is None
    assert load_rules_cached([rules]).rules
    assert not (tmp_path / "xdg").exists()


def test_a_cache_that_cannot_be_written_changes_nothing(
    tmp_path: Path, rules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("MONITOR_CACHE_DIR", str(tmp_path / "file"))
    assert [r.id for r in load_rules_cached([rules]).rules] == ["raid", "casino", "arrests"]


def test_the_default_place_is_the_users_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MONITOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_folder() == tmp_path / "monitor" / "rules"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_folder() == tmp_path / "home" / ".cache" / "monitor" / "rules"


def test_old_entries_are_pruned(cache: Path, rules: Path) -> None:
    for i in range(KEEP + 3):
        load_rules_cached([rules], known_feeds=[f"feed-{i}"])
    assert len(_entries(cache)) == KEEP
    assert (cache / "secret").stat().st_mode & 0o777 == 0o600
    assert cache.stat().st_mode & 0o777 == 0o700
