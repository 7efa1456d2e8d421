"""Where a dotted key is written in a TOML file: tomllib keeps no positions, and errors need ``file:line``."""

from __future__ import annotations

import re
import tomllib

__all__ = ["key_lines", "line_of", "toml_error_position"]


def line_of(dotted: str, lines: dict[str, int]) -> int:
    """The line of the longest recorded prefix of ``dotted`` (a table header or key assignment); 1 if none."""
    while dotted:
        if dotted in lines:
            return lines[dotted]
        dotted = re.sub(r"(\.[^.\[]+|\[\d+\])$", "", dotted) if re.search(r"(\.[^.\[]+|\[\d+\])$", dotted) else ""
    return 1


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_\"'-]+)\s*=")


def key_lines(source: str) -> dict[str, int]:
    """Map dotted keys (``feeds[2].interval``, ``fetch.timeout``) to the line that writes them.

    tomllib keeps no positions; this scan of headers and ``key =`` lines is enough for error messages."""
    lines: dict[str, int] = {}
    counts: dict[str, int] = {}
    table = ""
    for number, text in enumerate(source.splitlines(), start=1):
        header = _HEADER.match(text)
        if header:
            name = ".".join(p.strip().strip("\"'") for p in header.group(2).split("."))
            if header.group(1) == "[[":
                counts[name] = counts.get(name, -1) + 1
                name = f"{name}[{counts[name]}]"
            table = name
            lines.setdefault(table, number)
            continue
        assign = _ASSIGN.match(text)
        if assign:
            key = assign.group(1).strip("\"'")
            lines.setdefault(f"{table}.{key}" if table else key, number)
    return lines


def toml_error_position(error: tomllib.TOMLDecodeError) -> str:
    found = re.search(r"at line (\d+), column (\d+)", str(error))
    return f"{found.group(1)}:{found.group(2)}" if found else "1"
