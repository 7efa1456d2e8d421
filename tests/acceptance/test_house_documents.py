"""Red team on ``monitor.documents`` (issue 12): hostile JSON Lines through ``monitor match`` and ``rules explain``.

A bad line is one error naming ``file:line`` (exit 2), never a traceback, and ``--format json`` stays JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.starter import SHIPPED_RULES

RAID = '"title": "Police raid scam compound in Poipet", "text": "Police raided a scam compound in Poipet, Cambodia."'


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("[" * 100_000, "invalid JSON"),  # nested past the parser's recursion limit
        ("{\"id\": " + "9" * 5000 + ", " + RAID + "}", "invalid JSON"),  # past Python's digits limit for an int
        ("{\"id\": NaN, " + RAID + "}", "'id' must be a finite number"),
        ("{\"id\": 1e400, " + RAID + "}", "'id' must be a finite number"),
        ("{\"id\": -Infinity, " + RAID + "}", "'id' must be a finite number"),
    ],
    ids=["deep-nesting", "huge-integer", "nan-id", "overflowing-id", "infinite-id"],
)
def test_a_hostile_jsonl_line_is_one_error_naming_its_line(tmp_path: Path, line: str, says: str) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text("{" + RAID + "}\n" + line + "\n", encoding="utf-8")
    for args in (["match", "--rules", str(SHIPPED_RULES), "--format", "json", str(path)],
                 ["rules", "explain", "--rules", str(SHIPPED_RULES), "kh-scam-crackdown", str(path)]):
        code, out, err = _run(*args)
        if args[0] == "match":  # the first document was matched and printed before the bad line
            assert code == 2, (out, err)
            assert f"{path}:2: {says}" in err and "Traceback" not in err
            for row in out.splitlines():
                json.loads(row, parse_constant=lambda name: pytest.fail(f"not JSON: {name}"))
        else:  # explain reads the first document only
            assert code == 0, (out, err)
