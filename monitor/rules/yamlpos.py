"""YAML with positions: compose a rule file into nodes and turn nodes into typed values or RuleErrors.

We compose (not load) so every value keeps its ``file:line:column``; duplicate mapping keys, which PyYAML
silently accepts, are reported here.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

import yaml

from monitor.errors import RuleError

__all__ = [
    "Loc", "compose_file", "did_you_mean", "is_null", "key_error", "merged_pairs", "node_error", "offset_position",
    "type_name",
]

_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"


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


def node_error(loc: Loc, node: yaml.Node, message: str) -> RuleError:
    return loc.error(node, message)


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


def merged_pairs(loc: Loc, node: yaml.MappingNode, errors: list[RuleError]) -> list[tuple[yaml.Node, yaml.Node]]:
    """A mapping's key/value pairs with YAML merge keys applied (``<<: *defaults``): its own keys win, then the
    merged mappings' in order. Composing keeps ``<<`` as a key; PyYAML applies it only when constructing."""
    own = [(k, v) for k, v in node.value if k.tag != _MERGE_TAG]
    seen = {k.value for k, _ in own if isinstance(k, yaml.ScalarNode)}
    out = list(own)
    for key, value in node.value:
        if key.tag != _MERGE_TAG:
            continue
        sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
        for source in sources:
            if not isinstance(source, yaml.MappingNode) or source is node:
                errors.append(loc.error(source, f"'<<' merges a mapping or a list of mappings, not {type_name(source)}"))
                continue
            for k, v in merged_pairs(loc, source, errors):
                if not (isinstance(k, yaml.ScalarNode) and k.value in seen):
                    out.append((k, v))
                    seen.add(k.value)
    return out


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
    try:
        # utf-8-sig: PyYAML skips a BOM but its index counts it, which shifts columns computed from the source
        source = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        errors.append(RuleError(f"not UTF-8 text: {e.reason}", path=path, line=1, column=1))
        return None
    except OSError as e:
        errors.append(RuleError(f"cannot read the file: {e.strerror}", path=path, line=1, column=1))
        return None
    loc = Loc(path, source)
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = " ".join(filter(None, [e.context, e.problem]))
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        errors.append(loc.at(line, col, f"invalid YAML: {problem}"))
        return None
    except yaml.reader.ReaderError as e:  # not a MarkedYAMLError: it has only an offset into the source
        errors.append(loc.at(*_position(source, e.position), f"invalid YAML: {_reader_problem(e)}"))
        return None
    except yaml.YAMLError as e:
        errors.append(loc.at(1, 1, f"invalid YAML: {e}"))
        return None
    _duplicates(loc, root, errors)
    return loc, root


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


def _is_str(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _STR_TAG
