"""``monitor feeds list``: the ``blocked`` column is explained under the table and is in the JSON (as
``blocked_requests``, the keys of docs/design.md extended, never renamed)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from monitor.cli import app
from tests.support.newssite import NewsSite

DESIGN_KEYS = {
    "name",
    "url",
    "tags",
    "enabled",
    "last_polled",
    "last_success",
    "last_status",
    "last_error",
    "consecutive_failures",
    "next_poll",
    "articles",
}  # docs/design.md, Contract details


def invoke(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--config", str(config), *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_a_blocked_request_is_counted_shown_and_explained(tmp_path: Path, news_site: NewsSite, project: Path) -> None:
    config = tmp_path / "config.toml"  # a loopback feed without allow_private: the guard refuses it
    config.write_text(
        f'[database]\nurl = "sqlite:///monitor.db"\n[rules]\npaths = ["{project / "rules"}"]\n'
        f'[[feeds]]\nname = "intranet"\nurl = "{news_site.feed_url("intranet")}"\n',
        encoding="utf-8",
    )
    code, _, err = invoke(config, "poll", "--no-deliver")
    assert code == 1, err  # every feed it polled failed
    assert not news_site.requests

    code, out, _ = invoke(config, "feeds", "list", "--format", "json")
    [feed] = map(json.loads, out.splitlines())
    assert code == 0 and DESIGN_KEYS <= set(feed)
    assert feed["blocked_requests"] == 1 and feed["last_error"].startswith("blocked: loopback address 127.0.0.1")

    code, out, _ = invoke(config, "feeds", "list", "--format", "csv")
    assert code == 0 and "blocked_requests" in out.splitlines()[0]

    code, out, _ = invoke(config, "feeds", "list")
    row = next(line for line in out.splitlines() if "intranet" in line)
    assert code == 0 and [cell.strip() for cell in row.split("│")][1:7] == ["intranet", "error", "0", "1", "0", "1"]
    assert out.splitlines()[-1] == (
        "blocked: requests of this feed the address guard refused (its URL, a redirect or an article link pointing "
        "at a loopback, private or link-local address): see allow_private in docs/config.md."
    )
