"""The seed corpus expectations (``seeds/expectations.yaml``), type-checked, and the seeds that fail them.

``monitor rules test --seeds`` reports ``seed_failures``.

The file is ``seeds: {NAME: {match: [RULE_ID…], no_match: [RULE_ID…]}}``. It is composed like a rule file, so a
malformed one is a :class:`~monitor.errors.RuleError` at its ``file:line:column``, never a crash.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from monitor.documents import read_txt
from monitor.errors import RuleError
from monitor.rules import Document, RuleSet
from monitor.rules.yamlpos import Loc, compose_file, did_you_mean, is_null, key_error, type_name

__all__ = ["SeedFailure", "seed_expectations", "seed_failures"]


def seed_expectations(path: Path) -> list[tuple[str, str, bool]]:
    """(seed name, rule id, should match) for each expectation, in file order, ``match`` before ``no_match``.

    Raises:
        RuleError: the first thing wrong with the file.
    """
    errors: list[RuleError] = []
    out: list[tuple[str, str, bool]] = []
    composed = compose_file(path, errors)
    if composed is not None:
        loc, root = composed
        seeds = _mapping(loc, root, "the seed expectations", ("seeds",), errors).get("seeds")
        for name, want in _mapping(loc, seeds, "'seeds'", None, errors).items():
            lists = _mapping(loc, want, f"seed '{name}'", ("match", "no_match"), errors)
            for key in ("match", "no_match"):
                out.extend((name, rule_id, key == "match") for rule_id in _rule_ids(loc, lists.get(key), name, errors))
    if errors:
        raise errors[0]
    return out


def _mapping(
    loc: Loc, node: yaml.Node | None, what: str, keys: tuple[str, ...] | None, errors: list[RuleError]
) -> dict[str, yaml.Node]:
    """A mapping's values by key (null: empty); another type, a list as a key or a key not in ``keys`` is an error."""
    if node is None or is_null(node):
        return {}
    if not isinstance(node, yaml.MappingNode):
        errors.append(loc.error(node, f"{what} must be a mapping, not {type_name(node)}"))
        return {}
    out: dict[str, yaml.Node] = {}
    for k, v in node.value:
        if not isinstance(k, yaml.ScalarNode):
            errors.append(key_error(loc, k, f"unknown key in {what}"))
        elif keys is not None and k.value not in keys:
            errors.append(loc.error(k, f"unknown key '{k.value}' in {what}{did_you_mean(str(k.value), keys)}"))
        else:
            out[str(k.value)] = v
    return out


def _rule_ids(loc: Loc, node: yaml.Node | None, seed: str, errors: list[RuleError]) -> list[str]:
    if node is None or is_null(node):
        return []
    if not isinstance(node, yaml.SequenceNode):
        errors.append(loc.error(node, f"the rule ids of seed '{seed}' must be a list, not {type_name(node)}"))
        return []
    out: list[str] = []
    for item in node.value:
        if isinstance(item, yaml.ScalarNode) and not is_null(item):
            out.append(str(item.value))
        else:
            errors.append(loc.error(item, f"each rule id of seed '{seed}' must be a string, not {type_name(item)}"))
    return out


#: (rule id, seed name, document, should match) of an expectation that fails.
SeedFailure = tuple[str, str, Document | None, bool]


def seed_failures(ruleset: RuleSet, path: Path, *, loaded_only: bool) -> tuple[list[SeedFailure], int]:
    """(rule id, seed name, document, should match) for each seed expectation that fails, and how many were
    skipped: with ``loaded_only`` (rules of some files only), those of rules not loaded do not apply."""
    failures: list[SeedFailure] = []
    skipped = 0
    docs: dict[str, Document | None] = {}
    for name, rule_id, should in seed_expectations(path):
        if name not in docs:
            seed = path.parent / name
            docs[name] = read_txt(seed) if seed.is_file() else None
        doc = docs[name]
        if ruleset.get(rule_id) is None and doc is not None and loaded_only:
            skipped += 1
        elif doc is None or ruleset.get(rule_id) is None or (ruleset.match_rule(rule_id, doc) is not None) != should:
            failures.append((rule_id, name, doc, should))
    return failures, skipped
