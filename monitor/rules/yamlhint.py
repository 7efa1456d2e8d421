"""PyYAML's parser errors in words an analyst can act on: bad indentation, a ':' in a value, a tab, a quote or
bracket left open.

PyYAML says ``while parsing a block collection expected <block end>, but found '<block mapping start>'``; a rule
file's author needs to hear that a line is indented differently from its siblings. Problems not recognised keep
PyYAML's words; every message keeps the position PyYAML gives.
"""

from __future__ import annotations

import yaml

__all__ = ["yaml_problem"]


def yaml_problem(e: yaml.MarkedYAMLError, source: str) -> tuple[int, int, str]:
    """(line, column, message) for a composing error of ``source``, both positions from 1."""
    mark = e.problem_mark or e.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem, context = e.problem or "", e.context or ""
    lines = source.splitlines()
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    start = len(text) - len(text.lstrip(" ")) + 1  # the column of the line's first character
    opened = e.context_mark
    where = f"line {opened.line + 1}, column {opened.column + 1}" if opened else "above"
    if "cannot start any token" in problem and "\\t" in problem:
        return line, col, "invalid YAML: a tab character: indent with spaces only"
    if problem.startswith("expected <block end>"):
        if col > start:  # not at the line's start: `title: 'a' b`
            return line, col, "invalid YAML: more text after a quoted value: quote the whole value"
        return line, start, f"invalid YAML: bad indentation: {_indent_note(lines, line)}"
    if problem == "mapping values are not allowed here":
        if ": " in text[: col - 1] or text[: col - 1].rstrip().endswith(":"):
            return (
                line,
                col,
                ("invalid YAML: a second ': ' on this line: quote a value that holds ': ' (title: 'Raids: Cambodia')"),
            )
        return line, start, f"invalid YAML: bad indentation: {_indent_note(lines, line)}"
    if "could not find expected ':'" in problem:
        return (
            line,
            col,
            (
                f"invalid YAML: the text at {where} is neither 'key: value' nor a '- ' item: a ':' is "
                "missing after its key, or it is indented differently from its siblings"
            ),
        )
    if "quoted scalar" in context and "end of stream" in problem:
        return line, col, f"invalid YAML: the quote opened at {where} is never closed"
    if "flow sequence" in context or "flow mapping" in context:
        pair = "[]" if "sequence" in context else "{}"
        return (
            line,
            col,
            (f"invalid YAML: the '{pair[0]}' opened at {where} needs a ',' between items and a closing '{pair[1]}'"),
        )
    return line, col, "invalid YAML: " + " ".join(filter(None, [context, problem]))


def _indent_note(lines: list[str], line: int) -> str:
    """Compares the indentation of ``line`` with the nearest line above that holds something."""
    here = lines[line - 1] if 0 < line <= len(lines) else ""
    before = lines[max(line - 1000, 0) : max(line - 1, 0)]  # bounded: a file of blank lines above
    above = next((s for s in reversed(before) if s.strip() and not s.lstrip().startswith("#")), None)
    start = len(here) - len(here.lstrip(" ")) + 1
    note = f"this line starts at column {start}"
    if above is not None:
        note += f", the line above at column {len(above) - len(above.lstrip(' ')) + 1}"
    return note + "; the keys of one mapping, and the '-' items of one list, must start in the same column"
