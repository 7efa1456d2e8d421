"""A draft rule: a query, or a rule file's text, loaded as ``rules check`` would but never saved.

The backtest and the workbench try rules an analyst is still writing. A draft may name the sets of the rule files in
force (``@kh_places``) and may redefine some of them (its own win); its rule may have the id of a rule in force (an
edit of it). The text is loaded by the one loader (``load_rules``) from a private temporary folder that holds the
draft and, beside it, only the ``sets`` of the rule files in force, so its errors are the loader's errors (one
``name:line:column`` each, ``name`` standing for the pasted text) and nothing of a rule file is ever written.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from monitor.errors import RuleError, RuleSetError
from monitor.rules.load import folder_rule_files, load_rules, run_examples
from monitor.rules.match import RuleSet
from monitor.rules.model import Rule
from monitor.rules.syntax import parse_query
from monitor.rules.yamlpos import MAX_FILE_BYTES, compose_file

__all__ = ["Draft", "draft_from_query", "draft_from_rule", "draft_from_text", "rule_files", "rule_yaml"]

#: The keys of a rule that a query draft keeps from the rule it edits (the query is the draft's own).
_KEPT = ("description", "severity", "tags", "lang", "feeds")


@dataclass(frozen=True)
class Draft:
    """One rule to try, compiled on its own (enabled: a disabled rule is tried too), and what loading it warned
    about (look-alike operators, a scan-only query, examples of its own that do not behave)."""

    rule: Rule
    ruleset: RuleSet
    warnings: tuple[str, ...] = ()


def draft_from_rule(rule: Rule) -> Draft:
    """A rule in force, as a draft (enabled)."""
    enabled = replace(rule, enabled=True)
    return Draft(enabled, RuleSet([enabled]))


def rule_files(paths: Sequence[Path]) -> list[Path]:
    """The rule files under ``paths`` (files, and the ``*.yaml``/``*.yml`` of folders); missing ones skipped."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(folder_rule_files(p))
        elif p.is_file():
            out.append(p)
    return out


def draft_from_query(query: str, set_paths: Sequence[Path], *, base: Rule | None = None) -> Draft:
    """The query as a rule: ``base`` with this query (its id, title, severity, tags, lang and feeds kept), or a
    rule of its own named ``query``.

    Raises:
        RuleSetError: the query does not parse (each error ``query, column N: …``) or names an undefined set.
    """
    try:
        parse_query(query)  # syntax first: its columns point into the query as typed
    except RuleSetError as e:
        raise RuleSetError([RuleError(f"query, column {x.column}: {x.message}") for x in e.errors]) from None
    except RuleError as e:
        raise RuleSetError([RuleError(f"query, column {e.column}: {e.message}")]) from None
    rule: dict[str, object] = {"id": base.id if base else "query", "title": base.title if base else "query"}
    rule["query"] = query
    for key in _KEPT if base else ():
        value = getattr(base, key)
        if value:
            rule[key] = list(value) if isinstance(value, tuple) else value
    text = yaml.safe_dump({"rules": [rule]}, allow_unicode=True, sort_keys=False, width=10_000)
    try:
        return draft_from_text(text, set_paths, name="query")
    except RuleSetError as e:  # positions in a file the user never saw: the message alone
        raise RuleSetError([RuleError(x.message) for x in e.errors]) from None


def draft_from_text(
    text: str, set_paths: Sequence[Path], *, rule_id: str | None = None, name: str = "draft.yaml"
) -> Draft:
    """The rule defined by ``text``: a rule file (``sets`` and ``rules``), a list of rules, or one rule's mapping
    (``id``, ``title``, ``query``…). With several rules, ``rule_id`` picks one.

    Raises:
        RuleSetError: the text has errors (each ``name:line:column: …``), defines no rule, or several and
            ``rule_id`` names none of them.
    """
    with tempfile.TemporaryDirectory(prefix="monitor-draft-") as tmp:
        folder = Path(tmp)
        path = folder / "draft.yaml"
        wrapped, shift = _as_file(text)
        path.write_text(wrapped, encoding="utf-8")
        errors: list[RuleError] = []
        composed = compose_file(path, errors)
        if errors or composed is None:
            raise _renamed(errors, path, name, shift)
        own = _set_names(composed[1])
        for i, source in enumerate(rule_files(set_paths)):
            sets = _sets_only(source, own)
            if sets:
                (folder / f"sets-{i:04d}.yaml").write_text(sets, encoding="utf-8")
        try:
            loaded = load_rules([folder], run_rule_examples=False)
        except RuleSetError as e:
            raise _renamed(e.errors, path, name, shift) from None
        rule = _pick(loaded, rule_id, name)
        examples = run_examples(RuleSet([rule]))
        warnings = [w.replace(str(path), name) for w in loaded.warnings if str(path) in w]
        warnings += [f"{name}:{f.example.line - shift[0]}:{f.example.column - shift[1]}: {f.message}" for f in examples]
    enabled = replace(rule, enabled=True, path=None)
    return Draft(enabled, RuleSet([enabled]), tuple(warnings))


def rule_yaml(rule: Rule) -> str:
    """A rule's mapping as YAML (id, title, description, query, severity, tags, lang, feeds): what the workbench
    shows to edit. The query is the rule's own text; sets stay in their files."""
    out: dict[str, object] = {"id": rule.id, "title": rule.title}
    if rule.description:
        out["description"] = rule.description
    out["query"] = rule.query
    out["severity"] = rule.severity
    for key in ("tags", "lang", "feeds"):
        if getattr(rule, key):
            out[key] = list(getattr(rule, key))
    return yaml.safe_dump(out, allow_unicode=True, sort_keys=False, width=100)


def _as_file(text: str) -> tuple[str, tuple[int, int]]:
    """``text`` as a rule file, and how far its positions moved (lines, columns): one rule's mapping or a list of
    rules is put under ``rules:`` (one line down; a mapping is also indented two columns)."""
    try:
        # Composing shares aliased nodes (no expansion); the loader's bounded composer checks the result again.
        root = yaml.compose(text, Loader=yaml.BaseLoader) if len(text) <= MAX_FILE_BYTES else None
    except (yaml.YAMLError, RecursionError):
        return text, (0, 0)  # the loader reports it, with its position
    if isinstance(root, yaml.SequenceNode):
        return "rules:\n" + text, (1, 0)
    if isinstance(root, yaml.MappingNode) and not any(
        isinstance(k, yaml.ScalarNode) and k.value in ("rules", "sets") for k, _ in root.value
    ):
        lines = text.splitlines()
        body = "\n".join(("- " if n == 0 else "  ") + line for n, line in enumerate(lines))
        return "rules:\n" + body + "\n", (1, 2)
    return text, (0, 0)


def _set_names(root: yaml.Node | None) -> set[str]:
    if not isinstance(root, yaml.MappingNode):
        return set()
    for key, value in root.value:
        if getattr(key, "value", None) == "sets" and isinstance(value, yaml.MappingNode):
            return {str(k.value) for k, _ in value.value if isinstance(k, yaml.ScalarNode)}
    return set()


def _sets_only(path: Path, skip: set[str]) -> str:
    """The ``sets`` of a rule file without those named in ``skip``, as YAML written from the composed nodes (so
    every value keeps its exact text and type); "" when it has none or cannot be read (its own check says why)."""
    composed = compose_file(path, [])
    root = composed[1] if composed else None
    if not isinstance(root, yaml.MappingNode):
        return ""
    for key, value in root.value:
        if getattr(key, "value", None) == "sets" and isinstance(value, yaml.MappingNode):
            kept = [(k, v) for k, v in value.value if not (isinstance(k, yaml.ScalarNode) and k.value in skip)]
            if not kept:
                return ""
            str_tag = "tag:yaml.org,2002:str"
            node = yaml.MappingNode(
                "tag:yaml.org,2002:map", [(yaml.ScalarNode(str_tag, "sets"), yaml.MappingNode(value.tag, kept))]
            )
            return str(yaml.serialize(node, allow_unicode=True))
    return ""


def _pick(loaded: RuleSet, rule_id: str | None, name: str) -> Rule:
    ids = [r.id for r in loaded.rules]
    if rule_id is not None:
        rule = loaded.get(rule_id)
        if rule is None:
            raise RuleSetError([RuleError(f"{name} has no rule '{rule_id}' (it has: {', '.join(ids) or 'none'})")])
        return rule
    if len(ids) != 1:
        what = "no rule" if not ids else f"{len(ids)} rules ({', '.join(ids)}): name the one to try"
        raise RuleSetError([RuleError(f"{name} defines {what}")])
    return loaded.rules[0]


def _renamed(errors: Sequence[RuleError], path: Path, name: str, shift: tuple[int, int]) -> RuleSetError:
    """The loader's errors as the user wrote the text: ``name`` for the temporary file, lines moved back; errors in
    the sets of a rule file in force keep only their message (their positions are in a copy)."""
    out = []
    for e in errors or [RuleError("the text cannot be read as a rule file")]:
        if e.path == path:
            line, column = max(1, e.line - shift[0]), max(1, e.column - shift[1])
            out.append(RuleError(e.message, path=name, line=line, column=column))
        else:
            out.append(RuleError(f"in the sets of the rule files in force: {e.message}"))
    return RuleSetError(out)
