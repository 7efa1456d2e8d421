"""Red team on ``monitor.documents`` (issue 12): hostile JSON Lines through ``monitor match`` and ``rules explain``.

A bad line is one error naming ``file:line`` (exit 2), never a traceback, and ``--format json`` stays JSON.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.demo import DemoArticle, article_page
from monitor.starter import SHIPPED_RULES

RAID = '"title": "Police raid scam compound in Poipet", "text": "Police raided a scam compound in Poipet, Cambodia."'


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("[" * 100_000, "invalid JSON"),  # nested past the parser's recursion limit
        ('{"id": ' + "9" * 5000 + ", " + RAID + "}", "invalid JSON"),  # past Python's digits limit for an int
        ('{"id": NaN, ' + RAID + "}", "'id' must be a finite number"),
        ('{"id": 1e400, ' + RAID + "}", "'id' must be a finite number"),
        ('{"id": -Infinity, ' + RAID + "}", "'id' must be a finite number"),
    ],
    ids=["deep-nesting", "huge-integer", "nan-id", "overflowing-id", "infinite-id"],
)
def test_a_hostile_jsonl_line_is_one_error_naming_its_line(tmp_path: Path, line: str, says: str) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text("{" + RAID + "}\n" + line + "\n", encoding="utf-8")
    for args in (
        ["match", "--rules", str(SHIPPED_RULES), "--format", "json", str(path)],
        ["rules", "explain", "--rules", str(SHIPPED_RULES), "kh-scam-crackdown", str(path)],
    ):
        code, out, err = _run(*args)
        if args[0] == "match":  # the first document was matched and printed before the bad line
            assert code == 2, (out, err)
            assert f"{path}:2: {says}" in err and "Traceback" not in err
            for row in out.splitlines():
                json.loads(row, parse_constant=lambda name: pytest.fail(f"not JSON: {name}"))
        else:  # explain reads the first document only
            assert code == 0, (out, err)


def test_an_html_input_is_matched_on_its_body_as_the_pipeline_matches_it(tmp_path: Path) -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    bait = [
        "Police raid scam compound in Poipet, 300 detained",
        "Scam centre bosses arrested in Bavet raid",
        "Cambodia deports 500 after online gambling crackdown in Sihanoukville",
    ]
    body = "\n".join(["Durian growers in Kampot expect a record harvest after good rains, officials said."] * 8)
    page = tmp_path / "durian.html"
    page.write_text(
        article_page(
            DemoArticle("d", "Kampot durian harvest sets record", body, when),
            [DemoArticle(f"s{i}", t, "x", when) for i, t in enumerate(bait)],
        ),
        encoding="utf-8",
    )
    assert "Poipet" in page.read_text(encoding="utf-8")  # in the related list: page furniture
    code, out, err = _run("match", "--rules", str(SHIPPED_RULES), str(page))
    assert code == 1, (out, err)  # no rule: the furniture is never matched
    page.write_text(
        page.read_text(encoding="utf-8").replace(
            "Durian growers in Kampot expect", "Police raided a scam compound in Poipet, Cambodia, as"
        )
    )
    code, out, err = _run("match", "--rules", str(SHIPPED_RULES), str(page))
    assert code == 0 and "kh-scam-crackdown" in out, (out, err)
