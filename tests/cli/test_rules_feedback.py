"""``monitor rules feedback``: judged matches listed, and exported as ``examples`` that the rule file takes, so
``monitor rules test`` keeps every judged case (the round trip, pasted as the export's comment says)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.judgements import examples_yaml
from monitor.rules import load_rules
from monitor.store import JudgedMatch, Judgement, Store
from tests.cli.test_rules_backtest import config_for, invoke
from tests.support.corpus import KEPT, LOST, NOW, OLD, Corpus


def _deployment(tmp_path: Path) -> tuple[Path, Corpus]:
    config = config_for(tmp_path)
    store = Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    return config, Corpus.build(store, tmp_path)


def _paste_under_rule(rule_file: Path, rule_id: str, exported: str) -> None:
    """Put the export under the rule, indented as its other keys (4 spaces in this file), after its last key."""
    lines = rule_file.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"  - id: {rule_id}")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("  - ")), len(lines))
    block = ["    " + line if line else line for line in exported.splitlines()]
    rule_file.write_text("\n".join(lines[:end] + block + lines[end:]) + "\n", encoding="utf-8")


def test_judged_matches_become_examples_that_rules_test_keeps(tmp_path: Path) -> None:
    config, corpus = _deployment(tmp_path)
    m = corpus.monitor()
    assert m.feedback(corpus.matches["kept"], True, by="ana") is not None
    assert m.feedback(corpus.matches["lost"], True, by="ana") is not None
    assert m.feedback(corpus.matches["lost"], False, by="bo") is not None  # the latest judgement wins
    corpus.store.close()

    code, out, _ = invoke(config, "rules", "feedback", "--rule", "scam-raid")
    out = " ".join(out.split())  # as read, whatever width the console wrapped it to
    assert code == 0
    assert f"match {corpus.matches['kept']}: relevant by ana" in out and KEPT[0] in out
    assert f"match {corpus.matches['lost']}: not relevant by bo" in out
    code, out, _ = invoke(config, "rules", "feedback", "--rule", "scam-raid", "--format", "json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["match"], r["relevant"], r["judged_by"]) for r in rows] == [
        (corpus.matches["kept"], True, "ana"),
        (corpus.matches["lost"], False, "bo"),
    ]

    code, exported, _ = invoke(config, "rules", "feedback", "--rule", "scam-raid", "--format", "yaml")
    assert code == 0
    examples = yaml.safe_load(exported)["examples"]
    assert [e["title"] for e in examples["match"]] == [KEPT[0]] and [e["title"] for e in examples["no_match"]] == [
        LOST[0]
    ]
    assert examples["match"][0] == {
        "title": KEPT[0],
        "text": KEPT[1],
        "url": "https://news.example/kept.html",
        "lang": "en",
        "feed": "daily",
        "feed_tags": ["asia"],
    }
    rule_file = tmp_path / "rules" / "news.yaml"
    _paste_under_rule(rule_file, "scam-raid", exported)
    code, out, err = invoke(config, "rules", "test", str(rule_file))
    assert code == 0, out + err
    assert "2 examples, 0 failures" in " ".join(out.split())

    # An analyst says a match the rule still makes is not relevant: from then on `rules test` fails on it.
    store = Store.open(corpus.settings.database.url.replace("sqlite://", f"sqlite:///{tmp_path / 'monitor.db'}"))
    store.set_feedback(corpus.matches["old"], False, "ana")
    store.close()
    rule_file.write_text(Corpus.rules_text(), encoding="utf-8")
    code, exported, _ = invoke(config, "rules", "feedback", "--rule", "scam-raid", "--format", "yaml")
    _paste_under_rule(rule_file, "scam-raid", exported)
    code, out, _ = invoke(config, "rules", "test", str(rule_file))
    out = " ".join(out.split())
    assert code == 1 and "3 examples, 1 failure" in out
    assert f"no_match example 2 of rule 'scam-raid' should not match but does: {OLD[0]!r}" in out


def test_no_judgements_and_unknown_rules(tmp_path: Path) -> None:
    config, corpus = _deployment(tmp_path)
    corpus.store.close()
    code, out, err = invoke(config, "rules", "feedback", "--rule", "casino", "--format", "yaml")
    assert code == 1 and out == "" and "no judged matches of rule 'casino' yet" in err
    code, _, err = invoke(config, "rules", "feedback", "--rule", "nope")
    assert code == 2 and "no rule named 'nope'" in err


_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=80)


@settings(max_examples=150, deadline=None)
@given(title=_TEXT, text=_TEXT, judge=_TEXT)
def test_any_stored_text_reads_back_exactly(tmp_path_factory: object, title: str, text: str, judge: str) -> None:
    """Whatever an article holds (line breaks, trailing spaces, quotes, YAML-looking words, control characters)
    and whoever judged it, the exported example loads back as exactly that title and text."""
    if not (title or text):
        return
    judged = JudgedMatch(Judgement(7, True, judge, NOW), "r", 1, title, text, "", None, None, "", ())
    exported = examples_yaml("r", [judged])
    body = "\n".join("    " + line for line in exported.splitlines())
    folder = tmp_path_factory.mktemp("rt")  # type: ignore[attr-defined]
    (folder / "r.yaml").write_text(f"rules:\n  - id: r\n    title: R\n    query: zzzz\n{body}\n", encoding="utf-8")
    [rule] = load_rules([folder], run_rule_examples=False).rules
    [example] = rule.examples
    assert (example.doc.title, example.doc.text, example.should_match) == (title, text, True)
