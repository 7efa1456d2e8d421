"""``monitor rules backtest``: gained, lost and kept against the stored matches, as text and JSON, with one-line
errors; it reads the store and sends nothing (a channel with pending alerts stays untouched)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select
from typer.testing import CliRunner

from monitor.cli import app
from monitor.clock import now_utc
from monitor.store import Store
from tests.support.chat import ChatServer
from tests.support.corpus import GAINED, KEPT, LOST, Corpus


def config_for(tmp_path: Path, chat_url: str = "json://127.0.0.1:9/hook") -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "monitor.db"}"
[rules]
paths = ["{tmp_path / "rules"}"]
[[feeds]]
name = "daily"
url = "https://news.example/feed.xml"
tags = ["asia"]
[channels.chat]
urls = ["{chat_url}"]
[[routes]]
channels = ["chat"]
""",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def deployment(tmp_path: Path) -> tuple[Path, Corpus]:
    config = config_for(tmp_path)
    store = Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    corpus = Corpus.build(store, tmp_path, now=now_utc(), channel="chat")
    store.close()
    return config, corpus


def invoke(config: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--config", str(config), *args], env={"COLUMNS": "200"}, input=stdin)
    return result.exit_code, result.stdout, result.stderr


def _rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    store = Store.open(url)
    engine = store._live_engine()
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        rows = {
            name: sorted((tuple(r._mapping.items()) for r in conn.execute(select(t))), key=repr)
            for name, t in meta.tables.items()
        }
    store.close()
    return rows


def test_backtest_of_a_rule_reads_the_store_and_sends_nothing(tmp_path: Path, chat_server: ChatServer) -> None:
    config = config_for(tmp_path, chat_server.url())
    store = Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    Corpus.build(store, tmp_path, now=now_utc(), channel="chat")
    store.close()
    before = _rows(f"sqlite:///{tmp_path / 'monitor.db'}")
    assert [dict(row)["status"] for row in before["deliveries"]] == ["pending"] * 3  # alerts wait in the outbox

    code, out, err = invoke(config, "rules", "backtest", "--rule", "scam-raid", "--since", "30d")
    assert code == 0, err
    words = " ".join(out.split())  # as read, whatever width the console wrapped it to
    assert "over 5 articles stored in the last 30 days" in words
    assert "rule 'scam-raid' matched 2 of them. Gained 1, lost 1, kept 1." in words
    assert f"GAINED {GAINED[0]}" in words and f"LOST {LOST[0]}" in words and f"KEPT {KEPT[0]}" in words

    code, out, _ = invoke(config, "rules", "backtest", "--rule", "scam-raid", "--format", "json")
    [result] = map(json.loads, out.splitlines())
    assert code == 0 and (result["gained"], result["lost"], result["kept"], result["scanned"]) == (1, 1, 1, 5)
    assert [(i["status"], i["article"]["title"]) for i in result["items"]] == [
        ("gained", GAINED[0]),
        ("lost", LOST[0]),
        ("kept", KEPT[0]),
    ]
    gained = result["items"][0]
    assert [gained["snippet"][s:e] for s, e in gained["snippet_hits"]] == ["arrested", "scam compound"]

    assert _rows(f"sqlite:///{tmp_path / 'monitor.db'}") == before  # nothing written, no delivery attempted
    assert chat_server.messages() == []


def test_a_query_a_file_and_stdin(deployment: tuple[Path, Corpus], tmp_path: Path) -> None:
    config, _ = deployment
    code, out, _ = invoke(config, "rules", "backtest", "--query", "casino*", "--since", "2w")
    assert code == 0 and "It would match 1 article (no rule id to compare with)." in " ".join(out.split())
    edited = tmp_path / "edited.yaml"
    edited.write_text("id: scam-raid\ntitle: T\nquery: 'raid* AND Poipet'\n", encoding="utf-8")
    code, out, _ = invoke(config, "rules", "backtest", "--file", str(edited), "--format", "json")
    assert code == 0 and json.loads(out)["kept"] == 1 and json.loads(out)["lost"] == 1
    code, out, _ = invoke(config, "rules", "backtest", "--file", "-", "--format", "json", stdin=edited.read_text())
    assert code == 0 and json.loads(out)["compared_with"] == "scam-raid"
    code, out, _ = invoke(config, "rules", "backtest", "--query", "nothing-like-this")
    assert code == 1 and "It would match 0 articles" in " ".join(out.split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--query", "raid AND"], "query, column 6: 'AND' needs a term on its right"),
        (["--rule", "scam-rade"], "no rule with id 'scam-rade' (did you mean 'scam-raid'?)"),
        (["--query", "a", "--file", "x.yaml"], "give --query or --file, not both"),
        ([], "give the rule to try: --rule ID, --query QUERY or --file FILE"),
        (["--file", "missing.yaml"], "missing.yaml: cannot read the file: No such file or directory"),
        (["--rule", "scam-raid", "--since", "soon"], "'soon' is not a duration (30d, 2w, 12h)"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(deployment: tuple[Path, Corpus], args: list[str], message: str) -> None:
    code, out, err = invoke(deployment[0], "rules", "backtest", *args)
    assert code == 2 and message in " ".join(err.split()) and "Traceback" not in err + out


def test_errors_in_a_file_name_the_file_and_line(deployment: tuple[Path, Corpus], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: x\n    title: X\n    qeury: a\n", encoding="utf-8")
    code, _, err = invoke(deployment[0], "rules", "backtest", "--file", str(bad))
    assert code == 2 and f"{bad}:4:5: unknown key 'qeury' in rule 'x' (did you mean 'query'?)" in err
