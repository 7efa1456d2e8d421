"""Analysts' feedback as a rule's ``examples``: each match judged relevant becomes a ``match`` example, each judged
not relevant a ``no_match`` one, with the article's fields as the matcher read them, so ``monitor rules test`` checks
every judged case from then on (docs/rule-language.md section 1, ``examples``).

Inputs: ``JudgedMatch`` values (``Store.judged_matches``). Outputs: YAML text, an ``examples:`` mapping to put under
the rule (or to merge with its examples); strings that span lines are written as literal blocks where YAML allows
it, else quoted with escapes, so the loader reads back exactly the stored text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from monitor.clock import iso_utc
from monitor.store import JudgedMatch

__all__ = ["example_of", "examples_yaml"]


# What YAML 1.1 accepts in a stream (PyYAML's reader refuses the rest, even inside a comment).
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_OTHER_BREAKS = re.compile("[\r\x85\u2028\u2029\ufeff]")


class _Dumper(yaml.SafeDumper):
    """Safe YAML; a string with line breaks as a literal block (PyYAML falls back to a quoted string when the
    text cannot be one exactly: trailing spaces, control characters)."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML writes NEL, LS, PS and BOM raw in plain and block scalars (allow_unicode), and reads them back as line
    # breaks: quoted, they are escaped and read back as written.
    style = '"' if _OTHER_BREAKS.search(value) else "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def example_of(judged: JudgedMatch) -> dict[str, Any]:
    """One example: the article's title, text, url, author, language, feed and feed tags (empty ones left out)."""
    out: dict[str, Any] = {"title": judged.title, "text": judged.text}
    for key, value in (("url", judged.url), ("author", judged.author), ("lang", judged.lang), ("feed", judged.feed)):
        if value:
            out[key] = value
    if judged.feed_tags:
        out["feed_tags"] = list(judged.feed_tags)
    if not (judged.title or judged.text):
        out["title"] = judged.url or "(empty article)"  # an example needs a title or a text
    return out


def examples_yaml(rule_id: str, judged: Sequence[JudgedMatch]) -> str:
    """The ``examples:`` of ``rule_id`` from its judged matches, each item after a comment naming the match, the
    verdict, who gave it and when."""
    good = [j for j in judged if j.judgement.relevant]
    bad = [j for j in judged if not j.judgement.relevant]
    lines = [
        f"# {len(judged)} judged match{'' if len(judged) == 1 else 'es'} of rule '{_one_line(rule_id)}' "
        f"({len(good)} relevant, {len(bad)} not relevant), from `monitor rules feedback`.",
        "# Put this under the rule in its file, indented as its other keys (or merge it with the examples it has):",
        "# `monitor rules test` then checks that the rule matches the relevant ones and not the others.",
        "examples:",
    ]
    for key, items in (("match", good), ("no_match", bad)):
        if not items:
            lines.append(f"  {key}: []")
            continue
        lines.append(f"  {key}:")
        for j in items:
            verdict = "relevant" if j.judgement.relevant else "not relevant"
            who = f" by {_one_line(j.judgement.judged_by)}" if j.judgement.judged_by else ""
            lines.append(f"    # match {j.judgement.match_id}: {verdict}{who}, {iso_utc(j.judgement.judged_at)}")
            item = yaml.dump([example_of(j)], Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)
            lines.extend("    " + line for line in item.splitlines())
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    """A value inside a YAML comment: on one line (a line break would end the comment and start YAML), without the
    characters YAML refuses anywhere in a file (control characters: the whole file would not load)."""
    return " ".join(_NOT_PRINTABLE.sub("", text).split())
