"""``monitor rules new``: a commented rule file to start from, valid as written (``rules check`` passes it).

The skeleton shows every part a first rule needs: a set, a query using it with AND and NOT, severity, tags and
examples that ``rules check`` runs. Its words are placeholders to replace; its set is named after the rule, so
two skeletons never define the same set (set names are global across files).
"""

from __future__ import annotations

import re
from pathlib import Path

from monitor.errors import RuleError

__all__ = ["skeleton", "write_skeleton"]

_ID_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
_MAX_ID = 100

_TEMPLATE = """\
# Rule file written by `monitor rules new {id}`. Replace the placeholder words, then run
# `monitor rules test` (the examples below are run by it and by `monitor rules check`).
# The rule language: docs/rule-language.md; a guide with examples: docs/rules.md.

sets:
  # A set is a named list of terms, used in a query as @name (any entry matches).
  # An entry is a word (Poipet), a word start (raid* = raid, raids, raided) or a phrase ("scam centre").
  # Matching ignores case and accents. Set names are shared by all rule files: keep them unique.
  {set}: [placeholder*, "sample phrase"]

rules:
  - id: {id}
    title: {title}            # shown in alerts
    description: What this rule watches for, in a sentence.
    # Operators are upper case: AND (or a space), OR, NOT (or -word), NEAR/5 (at most 5 words apart),
    # ( ) to group, title:word to look only in the title. Lower-case and/or/not/near are plain words.
    query: '@{set} AND NOT draft'
    severity: medium          # info, low, medium, high or critical
    tags: [new]               # notification routes in config.toml pick rules by tag
    examples:                 # the first line of an example is its title, all of it its text
      match:
        - "A placeholder headline\\nThe text holds a sample phrase the rule looks for."
      no_match:
        - "A sample phrase in a draft\\nNOT draft excludes this one."
        - "An unrelated story\\nNone of the set's words is here."
"""


def skeleton(rule_id: str) -> str:
    """The rule file for a new rule ``rule_id``.

    Raises:
        RuleError: ``rule_id`` is not a valid rule id.
    """
    if len(rule_id) > _MAX_ID or not _ID_RE.fullmatch(rule_id):
        raise RuleError(
            f"invalid rule id {rule_id[:_MAX_ID]!r}: use lower-case letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (kh-scam-raids)"
        )
    title = rule_id.replace("-", " ").replace("_", " ").replace(".", " ").capitalize()
    return _TEMPLATE.format(id=rule_id, title=title, set=re.sub(r"[.-]", "_", rule_id) + "_terms")


def write_skeleton(rule_id: str, path: Path) -> None:
    """Write the skeleton of ``rule_id`` to ``path`` (its folder made if needed), never over an existing file.

    Raises:
        RuleError: an invalid id, or ``path`` exists or cannot be written.
    """
    text = skeleton(rule_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as f:  # "x": fails if the file exists, even if made meanwhile
            f.write(text)
    except FileExistsError:
        raise RuleError(f"{path} exists: not overwritten (name another file with --file)") from None
    except OSError as e:
        raise RuleError(f"cannot write {path}: {e.strerror}") from None
