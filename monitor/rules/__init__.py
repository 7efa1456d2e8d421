"""The rule language of monitor: load rule files, match documents (``docs/rule-language.md``).

The pipeline uses only this API::

    ruleset = load_rules([Path("rules")], known_feeds=..., known_channels=...)   # raises RuleSetError
    for match in ruleset.match(Document(title=..., text=..., url=..., feed=...)):
        match.rule.id, match.rule.version, match.hits, match.snippet
    # the list is a Matches: .timed_out names the rules whose regex ran out of the article's time budget

Modules: ``text`` (normalisation), ``syntax`` (the query parser), ``load`` (YAML files), ``match`` (the
compiled matcher). Everything else in the package is private.
"""

from __future__ import annotations

from monitor.rules.load import ExampleFailure, folder_rule_files, load_rules, run_examples
from monitor.rules.match import Explanation, Matches, RuleSet
from monitor.rules.model import SEVERITIES, Document, Example, Hit, Match, Rule

__all__ = [
    "Document",
    "Example",
    "ExampleFailure",
    "Explanation",
    "Hit",
    "Match",
    "Matches",
    "Rule",
    "RuleSet",
    "SEVERITIES",
    "folder_rule_files",
    "load_rules",
    "run_examples",
]
