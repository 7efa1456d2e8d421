"""One rule mapping -> a :class:`~monitor.rules.model.Rule` (docs/rule-language.md section 1), or RuleErrors.

Type and key checks for every rule key and for ``examples``; the query itself is parsed by the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from monitor.errors import RuleError
from monitor.rules.model import SEVERITIES, Document, Example
from monitor.rules.yamlpos import Loc, did_you_mean, is_null, key_error, merged_pairs, type_name

__all__ = ["RULE_KEYS", "RawRule", "read_rule"]

RULE_KEYS = (
    "id",
    "title",
    "query",
    "description",
    "severity",
    "tags",
    "lang",
    "feeds",
    "enabled",
    "notify",
    "examples",
)
_REQUIRED = ("id", "title", "query")
_ID_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
_LANG_RE = re.compile(r"[a-z]{2}")
_EXAMPLE_KEYS = ("title", "text", "url", "lang", "feed", "author", "feed_tags")
_BOOL_TRUE = ("true", "yes", "on", "y")


@dataclass
class RawRule:
    """A rule mapping read and type-checked; the query is still text (with its node for positions)."""

    node: yaml.MappingNode
    values: dict[str, object] = field(default_factory=dict)
    nodes: dict[str, yaml.Node] = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)

    @property
    def name(self) -> str:
        rid = self.values.get("id")
        return f"rule '{rid}'" if isinstance(rid, str) else f"the rule at line {self.node.start_mark.line + 1}"


def _scalar(loc: Loc, node: yaml.Node, what: str, errors: list[RuleError]) -> str | None:
    if isinstance(node, yaml.ScalarNode) and not is_null(node) and not node.tag.endswith(":bool"):
        return str(node.value)
    errors.append(loc.error(node, f"{what} must be a string, not {type_name(node)}"))
    return None


def _str_list(loc: Loc, node: yaml.Node, what: str, errors: list[RuleError]) -> tuple[str, ...] | None:
    if not isinstance(node, yaml.SequenceNode):
        errors.append(loc.error(node, f"{what} must be a list of strings, not {type_name(node)}"))
        return None
    out: list[str] = []
    for item in node.value:
        # A bare `no` (Norwegian) or `on` is a YAML boolean: keep the text as written.
        if isinstance(item, yaml.ScalarNode) and not is_null(item):
            out.append(str(item.value))
        else:
            errors.append(loc.error(item, f"each item of {what} must be a string, not {type_name(item)}"))
    return tuple(out)


def _check(loc: Loc, raw: RawRule, key: str, node: yaml.Node, errors: list[RuleError]) -> None:
    where = f"'{key}' in {raw.name}"
    if key in ("id", "title", "query", "description", "severity"):
        value = _scalar(loc, node, where, errors)
        if value is None:
            return
        if key == "id" and not _ID_RE.fullmatch(value):
            errors.append(
                loc.error(node, f"invalid rule id '{value}': use lower-case letters, digits, '.', '_' and '-'")
            )
        elif key == "severity" and value not in SEVERITIES:
            errors.append(
                loc.error(node, f"unknown severity '{value}' in {raw.name}; use one of {', '.join(SEVERITIES)}")
            )
        elif key in ("title", "query") and not value.strip():
            errors.append(loc.error(node, f"{where} is empty"))
        else:
            raw.values[key] = value
    elif key in ("tags", "feeds", "notify", "lang"):
        items = _str_list(loc, node, where, errors)
        if items is None:
            return
        if key == "lang":
            items = tuple(x.lower() for x in items)
            for x, item_node in zip(items, node.value, strict=False):
                if not _LANG_RE.fullmatch(x):
                    errors.append(loc.error(item_node, f"'{x}' in {where} is not an ISO 639-1 code (two letters)"))
        raw.values[key] = items
    elif key == "enabled":
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":bool"):
            raw.values[key] = str(node.value).lower() in _BOOL_TRUE
        else:
            errors.append(loc.error(node, f"{where} must be true or false, not {type_name(node)}"))
    elif key == "examples":
        _examples(loc, raw, node, errors)


def read_rule(loc: Loc, node: yaml.Node, errors: list[RuleError]) -> RawRule | None:
    """Type-check one item of ``rules:``; errors are appended, None when it is not a mapping."""
    if not isinstance(node, yaml.MappingNode):
        errors.append(loc.error(node, f"each item of 'rules' must be a mapping, not {type_name(node)}"))
        return None
    raw = RawRule(node)
    all_pairs = merged_pairs(loc, node, errors)  # `<<: *defaults` shares keys between rules
    pairs = [(k, v) for k, v in all_pairs if isinstance(k, yaml.ScalarNode)]
    for k, v in pairs:  # the id first, so every message can name the rule
        if k.value == "id":
            _check(loc, raw, "id", v, errors)
    for key_node, _ in all_pairs:  # `? [a]` is a key too, but never a rule key
        if not isinstance(key_node, yaml.ScalarNode):
            errors.append(key_error(loc, key_node, f"unknown key in {raw.name}"))
    for k, v in pairs:
        key = str(k.value)
        raw.nodes.setdefault(key, v)
        if key not in RULE_KEYS:
            errors.append(loc.error(k, f"unknown key '{key}' in {raw.name}{did_you_mean(key, RULE_KEYS)}"))
        elif key != "id":
            _check(loc, raw, key, v, errors)
    for key in _REQUIRED:
        if key not in raw.nodes:
            errors.append(loc.error(node, f"missing key '{key}' in {raw.name}"))
    return raw


def _examples(loc: Loc, raw: RawRule, node: yaml.Node, errors: list[RuleError]) -> None:
    if not isinstance(node, yaml.MappingNode):
        errors.append(loc.error(node, f"'examples' in {raw.name} must be a mapping with 'match' and 'no_match'"))
        return
    for k, v in node.value:
        if not isinstance(k, yaml.ScalarNode):
            errors.append(key_error(loc, k, f"unknown key in the examples of {raw.name}"))
            continue
        key = str(k.value)
        if key not in ("match", "no_match"):
            hint = did_you_mean(key, ("match", "no_match"))
            errors.append(loc.error(k, f"unknown key '{key}' in the examples of {raw.name}{hint}"))
            continue
        if not isinstance(v, yaml.SequenceNode):
            errors.append(loc.error(v, f"'examples.{key}' in {raw.name} must be a list, not {type_name(v)}"))
            continue
        for n, item in enumerate(v.value, 1):
            doc = _example_doc(loc, raw, item, f"examples.{key}[{n}]", errors)
            if doc is not None:
                label = f"{key} example {n}"
                mark = item.start_mark
                raw.examples.append(Example(doc, key == "match", mark.line + 1, mark.column + 1, label))


def _example_doc(loc: Loc, raw: RawRule, item: yaml.Node, where: str, errors: list[RuleError]) -> Document | None:
    if isinstance(item, yaml.ScalarNode) and not is_null(item):
        text = str(item.value)
        return Document(title=text.strip().split("\n", 1)[0], text=text)
    if not isinstance(item, yaml.MappingNode):
        errors.append(loc.error(item, f"{where} in {raw.name} must be a string or a mapping, not {type_name(item)}"))
        return None
    fields: dict[str, object] = {}
    ok = True
    for k, v in item.value:
        key = str(k.value)
        if not isinstance(k, yaml.ScalarNode):
            errors.append(key_error(loc, k, f"unknown key in {where} of {raw.name}"))
            ok = False
        elif key not in _EXAMPLE_KEYS:
            errors.append(
                loc.error(k, f"unknown key '{key}' in {where} of {raw.name}{did_you_mean(key, _EXAMPLE_KEYS)}")
            )
            ok = False
        elif key == "feed_tags":
            tags = _str_list(loc, v, f"'{key}' in {where}", errors)
            ok = ok and tags is not None
            fields[key] = tags or ()
        elif key == "lang" and isinstance(v, yaml.ScalarNode) and not is_null(v):
            fields[key] = str(v.value)  # as written: a bare `no` is Norwegian, not a YAML boolean
        else:
            value = _scalar(loc, v, f"'{key}' in {where} of {raw.name}", errors)
            ok = ok and value is not None
            fields[key] = value or ""
    if ok and not (fields.get("title") or fields.get("text")):
        errors.append(loc.error(item, f"{where} in {raw.name} needs a 'title' or a 'text'"))
        return None
    if not ok:
        return None
    lang = fields.pop("lang", None) or None
    return Document(lang=str(lang) if lang else None, **fields)  # type: ignore[arg-type]
