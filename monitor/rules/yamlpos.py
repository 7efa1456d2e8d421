"""YAML with positions: compose a rule file into nodes and turn nodes into typed values or RuleErrors.

We compose (not load) so every value keeps its ``file:line:column``; duplicate mapping keys, which PyYAML
silently accepts, are reported here. Nothing is ever constructed (no Python objects from tags), and a file is
bounded before and while it is composed (:data:`MAX_FILE_BYTES`, :data:`MAX_DEPTH`, :data:`MAX_ALIAS_GROWTH`), so a hostile file fails fast with one error instead of hanging ``rules check`` or a reload.
"""

from __future__ import annotations

import codecs
import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from monitor.errors import RuleError
from monitor.rules.yamlhint import yaml_problem

__all__ = [
    "Loc",
    "MAX_ALIAS_GROWTH",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "compose_file",
    "did_you_mean",
    "is_null",
    "key_error",
    "merged_pairs",
    "offset_position",
    "type_name",
]

_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"

#: A rule file larger than this is refused unread (the shipped files are under 70 KB; PyYAML composes ~0.6 MB/s).
MAX_FILE_BYTES = 1024 * 1024
#: Lists and mappings nested deeper than this are refused (a rule needs 4; PyYAML's composer recurses).
MAX_DEPTH = 64
#: How much aliases may add to a value beyond the file's own size, counting one per value and one per character
#: of a scalar: ``<<: [*a, *a, ...]`` nested a few times ("billion laughs") multiplies a few lines into billions.
MAX_ALIAS_GROWTH = 1_000_000
#: The explicit tags a rule file may carry: plain YAML values only (``!!python/object`` and the like are refused).
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map", "merge", "timestamp")
)


class _Refused(yaml.YAMLError):
    """Valid YAML that a rule file may not hold (too deep, too large once aliases expand, a cycle, a tag)."""

    def __init__(self, message: str, at: Any) -> None:  # at: the event or node refused (its start_mark)
        super().__init__(message)
        self.message = message
        self.line, self.column = at.start_mark.line + 1, at.start_mark.column + 1


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe composer, bounded: depth, alias expansion and tags are checked as the
    events arrive, so a hostile file stops at its first excess (with the position) instead of after it."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.weight_limit = 2 * len(stream) + MAX_ALIAS_GROWTH  # plain YAML weighs at most ~2 per character
        self._weights: dict[int, int] = {}  # id(node) -> its size with aliases expanded
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            return super().compose_node(parent, index)
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and tag not in _PLAIN_TAGS:
            shown = str(tag).replace("tag:yaml.org,2002:", "!!")
            raise _Refused(
                f"unsupported YAML tag '{shown}': a rule file holds only plain strings, numbers, lists and mappings",
                event,
            )
        if self._depth >= MAX_DEPTH:
            raise _Refused(f"lists and mappings nested more than {MAX_DEPTH} deep", event)
        self._depth += 1
        node = super().compose_node(parent, index)
        self._depth -= 1
        assert node is not None  # None only at the end of the stream, never for an event's value
        self._weigh(node)
        return node

    def _weigh(self, node: yaml.Node) -> None:
        """Record ``node``'s expanded size. Its children are weighed already, but for an alias to a value that
        contains it (``&x [a, *x]``): such a cycle counts 1, since the checks after composing report it."""
        w = self._weights
        if isinstance(node, yaml.ScalarNode):
            weight = 1 + len(node.value)
        elif isinstance(node, yaml.SequenceNode):
            weight = 1 + sum(w.get(id(c), 1) for c in node.value)
        else:
            weight = 1 + sum(w.get(id(k), 1) + w.get(id(v), 1) for k, v in node.value)
        if weight > self.weight_limit:
            raise _Refused(
                f"YAML aliases expand this value to more than {self.weight_limit:,} values and "
                "characters (nested aliases or merge keys, as in a 'billion laughs' file)",
                node,
            )
        w[id(node)] = weight


class Loc:
    """Makes RuleErrors that point into one file."""

    def __init__(self, path: Path, source: str) -> None:
        self.path = path
        self.source = source

    def error(self, node: yaml.Node | yaml.Mark, message: str) -> RuleError:
        mark = node.start_mark if isinstance(node, yaml.Node) else node
        return RuleError(message, path=self.path, line=mark.line + 1, column=mark.column + 1)

    def at(self, line: int, column: int, message: str) -> RuleError:
        return RuleError(message, path=self.path, line=line, column=column)


def type_name(node: yaml.Node) -> str:
    """How a wrong-typed value is named in messages: 'null', 'a number', 'a list', 'a mapping'."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    tag = node.tag.rsplit(":", 1)[-1]
    return {"null": "null", "bool": "a boolean", "int": "a number", "float": "a number"}.get(tag, "a string")


def key_error(loc: Loc, key: yaml.Node, what: str) -> RuleError:
    """The error for a mapping key that is a list or a mapping (`? [a, b]`), never a name."""
    return loc.error(key, f"{what}: a key must be a string, not {type_name(key)}")


_MERGE_TAG = "tag:yaml.org,2002:merge"


_Pairs = list[tuple[yaml.Node, yaml.Node]]


def merged_pairs(loc: Loc, node: yaml.MappingNode, errors: list[RuleError]) -> _Pairs:
    """A mapping's key/value pairs with YAML merge keys applied (``<<: *defaults``): its own keys win, then the
    merged mappings' in order. Composing keeps ``<<`` as a key; PyYAML applies it only when constructing.

    Each mapping is expanded once, however often nested merges name it. A ``<<`` that merges a mapping it is
    inside of (a cycle), or merges nested past :data:`MAX_DEPTH`, is an error at that ``<<``."""
    done: dict[int, _Pairs] = {}
    active: list[yaml.Node] = []  # the mappings being expanded, outermost first

    def expand(mapping: yaml.MappingNode) -> _Pairs:
        if id(mapping) in done:
            return done[id(mapping)]
        out = [(k, v) for k, v in mapping.value if k.tag != _MERGE_TAG]
        seen = {k.value for k, _ in out if isinstance(k, yaml.ScalarNode)}
        active.append(mapping)
        for key, value in mapping.value:
            if key.tag != _MERGE_TAG:
                continue
            for source in value.value if isinstance(value, yaml.SequenceNode) else [value]:
                if not isinstance(source, yaml.MappingNode):
                    errors.append(
                        loc.error(source, f"'<<' merges a mapping or a list of mappings, not {type_name(source)}")
                    )
                    continue
                if any(source is m for m in active):
                    errors.append(loc.error(key, "'<<' merges a mapping that contains this one (a cycle)"))
                    continue
                if len(active) >= MAX_DEPTH:
                    errors.append(loc.error(key, f"'<<' merges nested more than {MAX_DEPTH} deep"))
                    continue
                for k, v in expand(source):
                    if not (isinstance(k, yaml.ScalarNode) and k.value in seen):
                        out.append((k, v))
                        seen.add(k.value)
        active.pop()
        done[id(mapping)] = out
        return out

    return expand(node)


def did_you_mean(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _duplicates(loc: Loc, node: yaml.Node | None, errors: list[RuleError], done: set[int] | None = None) -> None:
    # An alias can make a node its own descendant (`a: &x [b, *x]`): visit each node once.
    done = set() if done is None else done
    if node is None or id(node) in done:
        return
    done.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    errors.append(loc.error(key, f"duplicate key '{key.value}' in the same mapping"))
                seen.add(key.value)
            _duplicates(loc, value, errors, done)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _duplicates(loc, item, errors, done)


def compose_file(path: Path, errors: list[RuleError]) -> tuple[Loc, yaml.Node | None] | None:
    """Read and compose one rule file; None (with an error appended) when it cannot be read."""
    source = _read(path, errors)
    if source is None:
        return None
    loc = Loc(path, source)
    try:
        root = yaml.compose(source, Loader=_BoundedLoader)
    except _Refused as e:
        errors.append(loc.at(e.line, e.column, e.message))
        return None
    except yaml.MarkedYAMLError as e:
        errors.append(loc.at(*yaml_problem(e, source)))
        return None
    except yaml.reader.ReaderError as e:  # not a MarkedYAMLError: it has only an offset into the source
        errors.append(loc.at(*_position(source, e.position), f"invalid YAML: {_reader_problem(e)}"))
        return None
    except yaml.YAMLError as e:
        errors.append(loc.at(1, 1, f"invalid YAML: {e}"))
        return None
    _duplicates(loc, root, errors)
    return loc, root


def _read(path: Path, errors: list[RuleError]) -> str | None:
    """The file's text, or None (with an error appended): unreadable, larger than :data:`MAX_FILE_BYTES` (not read
    past the limit) or not UTF-8 (placed at the first bad byte)."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        errors.append(RuleError(f"cannot read the file: {e.strerror}", path=path, line=1, column=1))
        return None
    if len(data) > MAX_FILE_BYTES:
        errors.append(
            RuleError(
                f"the file is larger than {MAX_FILE_BYTES // 1024 // 1024} MiB, the limit for a rule file: split it",
                path=path,
                line=1,
                column=1,
            )
        )
        return None
    # Without the BOM: PyYAML skips one but its index counts it, which shifts columns computed from the source.
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line_start = data.rfind(b"\n", 0, e.start) + 1
        column = len(data[line_start : e.start].decode("utf-8", "replace")) + 1
        errors.append(
            RuleError(f"not UTF-8 text: {e.reason}", path=path, line=data.count(b"\n", 0, e.start) + 1, column=column)
        )
        return None


def _position(source: str, index: int) -> tuple[int, int]:
    """(line, column) of character ``index`` of the source, both from 1."""
    return source.count("\n", 0, index) + 1, index - source.rfind("\n", 0, index)


def _reader_problem(e: yaml.reader.ReaderError) -> str:
    # We compose a str, so ``character`` is a code point (bytes only when PyYAML decodes the file itself).
    return f"unacceptable character #x{e.character:04x} ({e.reason})"


def offset_position(loc: Loc, node: yaml.ScalarNode, offset: int) -> tuple[int, int]:
    """(line, column) in the file of character ``offset`` of a scalar's value (a query or an entry).

    Walks the value and the source text side by side, skipping quotes, escapes, indentation and folded
    line breaks, so it works for plain, quoted and block scalars alike.
    """
    src, value = loc.source, node.value
    i = node.start_mark.index
    end = node.end_mark.index
    if node.style in ('"', "'"):
        i += 1
    elif node.style in ("|", ">"):
        nl = src.find("\n", i)
        i = nl + 1 if nl >= 0 else i
    v = 0
    while v < offset and i < end:
        if node.style == '"' and src[i] == "\\":
            i, v = _skip_escape(src, i, end), v + (src[i + 1] not in "\r\n")
        elif value[v] == src[i]:
            v += 1
            i += 1
        elif value[v] in " \n" and src[i] in " \t\r\n":
            while i < end and src[i] in " \t\r\n":
                i += 1
            v += 1
        else:
            i += 1
    while v < len(value) and i < end and src[i] != value[v]:
        i += 1  # indentation or a quote before the character itself
    line = src.count("\n", 0, i)
    col = i - (src.rfind("\n", 0, i) + 1)
    return line + 1, col + 1


#: Source length of the double-quoted escapes that are longer than a backslash and one character.
_ESCAPE_LEN = {"x": 4, "u": 6, "U": 10}


def _skip_escape(src: str, i: int, end: int) -> int:
    """Index after the escape at ``src[i]`` (a backslash in a double-quoted scalar): one value character, or
    none for an escaped line break, which also swallows the next line's indentation."""
    if src[i + 1] not in "\r\n":
        return i + _ESCAPE_LEN.get(src[i + 1], 2)
    i += 1
    while i < end and src[i] in " \t\r\n":
        i += 1
    return i


def is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG
