"""The rule loader: rule files (YAML) -> a validated, compiled :class:`~monitor.rules.match.RuleSet`.

All or nothing: every error in every file is collected (each naming ``file:line:column``) and raised
together as :class:`~monitor.errors.RuleSetError`; a rule set with errors is never half-loaded.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from monitor.errors import RuleError, RuleSetError
from monitor.rules import evaluate
from monitor.rules.evaluate import RegexBudget
from monitor.rules.lint import lookalikes
from monitor.rules.match import RuleSet
from monitor.rules.model import Example, Rule
from monitor.rules.nodes import Node, Regex, SetRef, Term, iter_nodes
from monitor.rules.schema import RawRule, read_rule
from monitor.rules.syntax import parse_query, parse_set_entry
from monitor.rules.yamlpos import Loc, compose_file, did_you_mean, is_null, key_error, offset_position, type_name

__all__ = ["ExampleFailure", "MAX_SET_NESTING", "folder_rule_files", "load_rules", "run_examples"]

_TOP_KEYS = ("sets", "rules")
_SET_NAME_RE = re.compile(r"[a-z0-9_]+")
#: Sets including sets deeper than this are an error: flattening them recurses once per level.
MAX_SET_NESTING = 32


@dataclass(frozen=True, slots=True)
class ExampleFailure:
    """A rule example that does not behave: the rule should (not) match the example and does (not)."""

    rule: Rule
    example: Example
    #: The rule's regex ran out of the time budget on the example (so it did not match).
    timed_out: bool = False

    @property
    def message(self) -> str:
        want = "should match but does not" if self.example.should_match else "should not match but does"
        text = " ".join((self.example.doc.title or self.example.doc.text).split())[:60]
        why = " (its regex ran out of time)" if self.timed_out else ""
        return f"{self.example.label} of rule '{self.rule.id}' {want}{why}: {text!r}"

    def __str__(self) -> str:
        return f"{self.rule.path or '?'}:{self.example.line}:{self.example.column}: {self.message}"


class _Resolver:
    """Looks a set up by name for the parser: its flattened terms, () for a set that is defined but broken (its
    error is reported once, where it is defined), None for an undefined one; ``names`` for "did you mean"."""

    def __init__(self, resolved: dict[str, tuple[Term, ...]], names: Sequence[str]) -> None:
        self.resolved = resolved
        self.names = names

    def __call__(self, name: str) -> tuple[Term, ...] | None:
        if name in self.resolved:
            return self.resolved[name]
        return () if name in self.names else None


@dataclass
class _Set:
    name: str
    loc: Loc
    node: yaml.Node  # the set's name key
    entries: list[tuple[Term | SetRef, yaml.Node]]


def folder_rule_files(folder: Path) -> list[Path]:
    """The ``*.yaml``/``*.yml`` files under a folder (any case: ``KH.YAML`` too), sorted; hidden files and folders
    (``.git``) are skipped."""

    def wanted(f: Path) -> bool:
        hidden = any(name.startswith(".") for name in f.relative_to(folder).parts)
        return f.suffix.lower() in (".yaml", ".yml") and not hidden and f.is_file()

    return sorted(filter(wanted, folder.rglob("*")))


def _files(paths: Sequence[Path], errors: list[RuleError], warnings: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = folder_rule_files(p)
            if not found:  # "0 rules OK" alone hides a wrong folder
                warnings.append(f"{p}:1:1: no rule files (*.yaml, *.yml) in this folder")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            errors.append(RuleError("no such rule file or folder", path=p, line=1, column=1))
    return out


def _read_sets(loc: Loc, node: yaml.Node, sets: dict[str, _Set], errors: list[RuleError]) -> None:
    if not isinstance(node, yaml.MappingNode):
        errors.append(loc.error(node, f"'sets' must be a mapping of set names to lists, not {type_name(node)}"))
        return
    for k, v in node.value:
        if not isinstance(k, yaml.ScalarNode):
            errors.append(key_error(loc, k, "invalid set name"))
            continue
        name = str(k.value)
        if not _SET_NAME_RE.fullmatch(name):
            errors.append(loc.error(k, f"invalid set name '{name}': use lower-case letters, digits and '_'"))
            continue
        if name in sets:
            first = sets[name]
            errors.append(
                loc.error(k, f"set '{name}' is already defined at {first.loc.path}:{first.node.start_mark.line + 1}")
            )
            continue
        if not isinstance(v, yaml.SequenceNode):
            errors.append(loc.error(v, f"set '{name}' must be a list of terms, not {type_name(v)}"))
            continue
        entries: list[tuple[Term | SetRef, yaml.Node]] = []
        for item in v.value:
            if not isinstance(item, yaml.ScalarNode) or is_null(item):
                errors.append(loc.error(item, f"each entry of set '{name}' must be a string, not {type_name(item)}"))
                continue
            try:
                entries.append((parse_set_entry(str(item.value)), item))
            except RuleError as e:
                line, col = offset_position(loc, item, e.column - 1)
                errors.append(loc.at(line, col, f"in set '{name}': {e.message}"))
        sets[name] = _Set(name, loc, k, entries)


def _resolve_sets(sets: dict[str, _Set], errors: list[RuleError]) -> dict[str, tuple[Term, ...]]:
    """Flatten every set (following ``@other`` entries); report undefined includes, cycles and includes nested
    past :data:`MAX_SET_NESTING`. Each set is flattened once, failed or not (sets including a broken one twice,
    nested, would otherwise be walked an exponential number of times)."""
    done: dict[str, tuple[Term, ...] | None] = {}
    reported: set[str] = set()

    def visit(name: str, stack: list[str]) -> tuple[Term, ...] | None:
        if name in done:
            return done[name]
        if len(stack) >= MAX_SET_NESTING:
            if "" not in reported:  # once: every set of a long chain is that deep from some other
                s = sets[stack[-1]]
                errors.append(
                    s.loc.error(
                        s.node,
                        f"set '{stack[-1]}' includes sets nested more than "
                        f"{MAX_SET_NESTING} deep (@{stack[0]} -> ... -> @{name})",
                    )
                )
                reported.add("")
            return None
        if name in stack:
            cycle = stack[stack.index(name) :]
            if not reported & set(cycle):
                first = min(cycle, key=list(sets).index)  # the first set of the cycle in file order
                s = sets[first]
                path = " -> ".join(cycle[cycle.index(first) :] + cycle[: cycle.index(first)] + [first])
                errors.append(s.loc.error(s.node, f"set '{first}' includes itself: @{path.replace(' -> ', ' -> @')}"))
                reported.update(cycle)
            return None
        terms: list[Term] = []
        ok = True
        for entry, item in sets[name].entries:
            if isinstance(entry, Term):
                terms.append(entry)
            elif entry.name not in sets:
                hint = did_you_mean(entry.name, list(sets))
                errors.append(sets[name].loc.error(item, f"undefined set '@{entry.name}' in set '{name}'{hint}"))
                ok = False
            else:
                sub = visit(entry.name, stack + [name])
                ok = ok and sub is not None
                terms.extend(sub or ())
        result = done[name] = tuple(dict.fromkeys(terms)) if ok else None
        return result

    for name in sets:
        visit(name, [])
    return {name: terms for name, terms in done.items() if terms is not None}


def _version(
    rule_id: str, node: Node, lang: Iterable[str], feeds: Iterable[str], rendered: dict[int, str] | None = None
) -> str:
    """A hash of the rule's normalised definition: canonical query, set contents, lang and feeds.

    ``rendered`` caches each set's text by the identity of its terms (shared by every rule that uses the set):
    without it, a set of thousands of terms used by thousands of rules costs their product."""
    rendered = {} if rendered is None else rendered
    # render(spaced=True), not str(): the text hashed before terms of no-space scripts were shown as written.
    parts = [rule_id, node.render(spaced=True)]
    for ref in sorted(
        {n.name: n for n in iter_nodes(node, entries=False) if isinstance(n, SetRef)}.values(), key=lambda r: r.name
    ):
        text = rendered.get(id(ref.terms))
        if text is None:
            text = rendered[id(ref.terms)] = "|".join(t.render(spaced=True) for t in ref.terms)
        parts.append(f"@{ref.name}={text}")
    parts.append("lang=" + ",".join(sorted(lang)))
    parts.append("feeds=" + ",".join(sorted(f.casefold() for f in feeds)))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _build_rule(
    loc: Loc,
    raw: RawRule,
    resolver: _Resolver,
    errors: list[RuleError],
    rendered: dict[int, str],
    warnings: list[str],
) -> Rule | None:
    query = raw.values.get("query")
    node: Node | None = None
    if isinstance(query, str):
        qnode = raw.nodes["query"]
        assert isinstance(qnode, yaml.ScalarNode)
        try:
            node = parse_query(query, resolver, set_names=resolver.names)
        except RuleError as e:
            for err in getattr(e, "errors", None) or [e]:
                line, col = offset_position(loc, qnode, err.column - 1)
                errors.append(loc.at(line, col, f"query of {raw.name}: {err.message}"))
        else:
            for column, message in lookalikes(query):
                line, col = offset_position(loc, qnode, column - 1)
                warnings.append(f"{loc.path}:{line}:{col}: query of {raw.name}: {message}")
    if node is None or not all(k in raw.values for k in ("id", "title")):
        return None
    v = raw.values

    def strs(key: str) -> tuple[str, ...]:
        value = v.get(key, ())
        return tuple(str(x) for x in value) if isinstance(value, tuple) else ()

    lang, feeds = strs("lang"), strs("feeds")
    return Rule(
        id=str(v["id"]),
        title=str(v["title"]),
        query=str(query),
        description=str(v.get("description", "")),
        severity=str(v.get("severity", "medium")),
        tags=strs("tags"),
        lang=lang,
        feeds=feeds,
        enabled=bool(v.get("enabled", True)),
        notify=strs("notify") if "notify" in v else None,
        version=_version(str(v["id"]), node, lang, feeds, rendered),
        path=loc.path,
        line=raw.node.start_mark.line + 1,
        node=node,
        examples=tuple(raw.examples),
    )


def run_examples(ruleset: RuleSet) -> list[ExampleFailure]:
    """Every example of every rule (enabled or not) that does not behave. Their regexes share one time budget
    (:data:`~monitor.rules.evaluate.EXAMPLES_REGEX_TIMEOUT`), so loading stays quick whatever the file holds."""
    failures: list[ExampleFailure] = []
    budget = RegexBudget(evaluate.EXAMPLES_REGEX_TIMEOUT)
    for rule in ruleset.rules:
        for ex in rule.examples:
            timed_out: list[str] = []
            if (ruleset.match_rule(rule.id, ex.doc, timed_out, budget) is not None) != ex.should_match:
                failures.append(ExampleFailure(rule, ex, bool(timed_out)))
    return failures


def _warnings(ruleset: RuleSet, known_feeds: Iterable[str] | None, known_channels: Iterable[str] | None) -> list[str]:
    out: list[str] = []
    for rule in ruleset.scan_rules:
        how = "a regex scan" if any(isinstance(n, Regex) for n in iter_nodes(rule.node, entries=False)) else "a scan"  # type: ignore[arg-type]
        out.append(
            f"{rule.path}:{rule.line}:1: rule '{rule.id}' can only be matched by {how} of every article "
            "(add a required word so the matcher can index it)"
        )
    feeds = None if known_feeds is None else {f.casefold() for f in known_feeds}
    channels = None if known_channels is None else set(known_channels)
    for rule in ruleset.rules:
        for f in rule.feeds if feeds is not None else ():
            if f.casefold() not in feeds:  # type: ignore[operator]
                out.append(
                    f"{rule.path}:{rule.line}:1: rule '{rule.id}' names feed '{f}', which the config does not have"
                )
        for c in rule.notify or () if channels is not None else ():
            if c not in channels:  # type: ignore[operator]
                out.append(
                    f"{rule.path}:{rule.line}:1: rule '{rule.id}' names channel '{c}', which the config does not have"
                )
    return out


def load_rules(
    paths: Sequence[Path],
    *,
    known_feeds: Iterable[str] | None = None,
    known_channels: Iterable[str] | None = None,
    run_rule_examples: bool = True,
    detect_language: Callable[[str], str | None] | None = None,
) -> RuleSet:
    """Load, validate and compile every rule file under ``paths`` (files or folders of ``*.yaml``/``*.yml``).

    Args:
        known_feeds: feed names and tags from the config; rules naming others get a warning.
        known_channels: channel names from the config; ``notify:`` naming others gets a warning.
        run_rule_examples: run every rule's examples; a failing example is an error.

    Raises:
        RuleSetError: every error found, each ``file:line:column: message``.
    """
    errors: list[RuleError] = []
    docs: list[tuple[Loc, yaml.Node]] = []
    lint: list[str] = []
    for path in _files(paths, errors, lint):
        composed = compose_file(path, errors)
        if composed is not None and composed[1] is not None:
            docs.append((composed[0], composed[1]))
    sets: dict[str, _Set] = {}
    rule_nodes: list[tuple[Loc, yaml.Node]] = []
    for loc, root in docs:
        if not isinstance(root, yaml.MappingNode):
            errors.append(
                loc.error(root, f"a rule file must be a mapping with 'sets' and 'rules', not {type_name(root)}")
            )
            continue
        for k, v in root.value:
            if not isinstance(k, yaml.ScalarNode):
                errors.append(key_error(loc, k, "unknown top-level key"))
                continue
            key = str(k.value)
            if key == "sets":
                _read_sets(loc, v, sets, errors)
            elif key == "rules":
                if isinstance(v, yaml.SequenceNode):
                    rule_nodes.extend((loc, item) for item in v.value)
                else:
                    errors.append(loc.error(v, f"'rules' must be a list of rules, not {type_name(v)}"))
            else:
                errors.append(
                    loc.error(
                        k,
                        f"unknown top-level key '{key}'{did_you_mean(key, _TOP_KEYS)}; a rule file has only 'sets' and 'rules'",
                    )
                )
    resolver = _Resolver(_resolve_sets(sets, errors), tuple(sets))
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    rendered: dict[int, str] = {}  # the sets' texts for rule versions, by the identity of the resolved terms
    for loc, node in rule_nodes:
        raw = read_rule(loc, node, errors)
        if raw is None:
            continue
        rule = _build_rule(loc, raw, resolver, errors, rendered, lint)
        rid = raw.values.get("id")
        if isinstance(rid, str) and rid in seen:
            errors.append(loc.error(raw.nodes["id"], f"duplicate rule id '{rid}' (first defined at {seen[rid]})"))
            continue
        if isinstance(rid, str):
            seen[rid] = f"{loc.path}:{node.start_mark.line + 1}"
        if rule is not None:
            rules.append(rule)
    ruleset = RuleSet(rules, detect_language=detect_language)
    if run_rule_examples:
        for failure in run_examples(ruleset):
            ex = failure.example
            errors.append(RuleError(failure.message, path=failure.rule.path, line=ex.line, column=ex.column))
    if errors:
        order = {str(loc.path): i for i, (loc, _) in enumerate(docs)}
        errors.sort(key=lambda e: (order.get(str(e.path), -1), e.line, e.column))
        raise RuleSetError(errors)
    empty = [  # valid, but a query branch naming such a set can never match: most likely a mistake
        f"{s.loc.path}:{s.node.start_mark.line + 1}:{s.node.start_mark.column + 1}: set '{s.name}' is empty"
        for s in sets.values()
        if not s.entries
    ]
    ruleset.warnings = (*empty, *lint, *_warnings(ruleset, known_feeds, known_channels))
    return ruleset
