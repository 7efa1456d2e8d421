"""``monitor rules check|test|explain|new`` and ``monitor match`` (docs/rule-language.md section 5).

Inputs: rule paths (default: ``[rules] paths`` of config.toml, else ``./rules``) and documents (``.txt``,
``.html``, ``.jsonl``, ``-`` for JSONL on stdin, ``http(s)://`` URLs). Outputs: diagnostics, explanations
and matches as text (rich) or JSON Lines. Exit status: 0 ok / some match, 1 failures / no match, 2 errors.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape as escape_markup
from rich.text import Text
from rich.tree import Tree

from monitor.cli.common import _SEVERITY_STYLE as SEVERITY_STYLE  # the colours of `monitor matches`
from monitor.cli.common import TextOrJson, clean, print_error, print_jsonl, settings_from
from monitor.config import Settings
from monitor.documents import DocumentError, InputDocument, read_documents
from monitor.errors import MonitorError, RuleSetError
from monitor.rules import Explanation, Match, RuleSet, load_rules, run_examples
from monitor.rules.skeleton import write_skeleton
from monitor.rules.yamlpos import did_you_mean
from monitor.seeds import SeedFailure, seed_failures
from monitor.workbench import why_not

__all__ = ["check", "explain", "match", "new", "rules_app", "test", "unknown_rule"]

rules_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Check, test and explain rule files; start one with `rules new`.",
)
# emoji=False: text from rule files and documents prints as written (`:fire:` is not an emoji code here)
_out = Console(highlight=False, soft_wrap=True, emoji=False, width=None if sys.stdout.isatty() else 200)
_EXPECTATIONS = Path("seeds") / "expectations.yaml"
_RULE_PATHS_HELP = "Rule files or folders; repeatable: --rules a.yaml --rules b/ (default: [rules] paths)."
#: ``rules explain`` shows this many false entries of a set (all with ``--all``): a set may hold thousands.
_FALSE_ENTRIES = 3


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _escape(value: object) -> str:
    """Text from rule files and documents as markup that prints it literally, control sequences removed."""
    return escape_markup(clean(value))


def _error(message: str) -> None:
    print_error(message, one_line=True)


def _fail(message: str) -> typer.Exit:
    _error(message)
    return typer.Exit(2)


def _load(ctx: typer.Context, paths: list[Path] | None, *, examples: bool = True) -> RuleSet:
    settings = settings_from(ctx)
    if not paths and settings.path is None and not any(p.exists() for p in settings.rules.paths):
        where = ", ".join(str(p) for p in settings.rules.paths)
        raise MonitorError(
            f"no rules to load: there is no config.toml in {Path.cwd()}, so the built-in defaults are in use, and "
            f"they look for rules in {where}, which does not exist. To start: `monitor init` (writes config.toml "
            "and rules/ here), then `monitor rules new ID` for a rule of your own; or name rule files: "
            "`monitor rules check PATH`, `monitor match --rules PATH INPUT`"
        )
    # Without feeds or channels in the config, rules naming them are not warned about (rule files are shared).
    known_feeds = [n for f in settings.feeds for n in (f.name, *f.tags)] or None
    return load_rules(
        list(paths or settings.rules.paths or [Path("rules")]),
        known_feeds=known_feeds,
        known_channels=list(settings.channels) or None,
        run_rule_examples=examples,
    )


def _print_errors(e: RuleSetError) -> typer.Exit:
    for err in e.errors:
        _out.print(_escape(str(err)))
    _out.print(f"{_plural(len(e.errors), 'error')}: the rule set is rejected")
    return typer.Exit(2)


@rules_app.command("check")
def check(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(None, help="Rule files or folders (default: [rules] paths)."),
) -> None:
    """Load and validate rules (examples included); exit 0 clean, 2 on errors."""
    try:
        ruleset = _load(ctx, paths)
    except RuleSetError as e:
        raise _print_errors(e) from None
    except MonitorError as e:
        raise _fail(str(e)) from None
    _print_warnings(ruleset)
    _out.print(f"{_plural(len(ruleset.rules), 'rule')} OK")


def _print_warnings(ruleset: RuleSet) -> None:
    for w in ruleset.warnings:
        _out.print(_escape(f"warning: {w}"))


def _explain_tree(node: Explanation, tree: Tree | None = None, *, show_all: bool = True) -> Tree:
    mark = "[green]✓ true[/]" if node.value else "[red]✗ false[/]"
    words = ", ".join(sorted({repr(h.text) for h in node.hits}))
    label = f"{mark}  {_escape(node.query)}" + (f"  [dim]{_escape(words)}[/]" if words else "")
    text = Text.from_markup(label, overflow="fold")
    branch = Tree(text) if tree is None else tree.add(text)
    children = node.children
    hidden = 0
    if not show_all and node.query.startswith("@"):  # a set's entries: the true ones and a few false ones
        false = [c for c in children if not c.value]
        shown = {id(c) for c in false[:_FALSE_ENTRIES]}
        children = tuple(c for c in children if c.value or id(c) in shown)
        hidden = len(false) - len(shown)
    for child in children:
        _explain_tree(child, branch, show_all=show_all)
    if hidden:
        branch.add(Text(f"… {hidden} more false entr{'y' if hidden == 1 else 'ies'} (--all shows them)", "dim"))
    return branch


@rules_app.command("test")
def test(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(None, help="Rule files or folders (default: [rules] paths)."),
    seeds: Path = typer.Option(_EXPECTATIONS, "--seeds", help="Seed expectations file (skipped if absent)."),
) -> None:
    """Run every rule's examples and the seed corpus expectations; exit 0 pass, 1 failures, 2 rule errors."""
    try:
        ruleset = _load(ctx, paths, examples=False)
        failures = run_examples(ruleset)
        failed_seeds: list[SeedFailure] = []
        skipped = 0
        if seeds.is_file():
            failed_seeds, skipped = seed_failures(ruleset, seeds, loaded_only=bool(paths))
    except RuleSetError as e:
        raise _print_errors(e) from None
    except MonitorError as e:
        raise _fail(str(e)) from None
    _print_warnings(ruleset)
    for f in failures:
        _out.print(f"[red]FAIL[/] {_escape(str(f))}")
        _out.print(_explain_tree(ruleset.explain(f.rule.id, f.example.doc), show_all=False))
    for rule_id, name, doc, should in failed_seeds:
        want = "should match" if should else "should not match"
        if doc is None or ruleset.get(rule_id) is None:
            what = "no such seed file" if doc is None else "no such rule"
            _out.print(f"[red]FAIL[/] seed {_escape(name)}: rule '{_escape(rule_id)}' {want}, but {what}")
            continue
        _out.print(f"[red]FAIL[/] seed {_escape(name)}: rule '{_escape(rule_id)}' {want}")
        _out.print(_explain_tree(ruleset.explain(rule_id, doc), show_all=False))
    total = sum(len(r.examples) for r in ruleset.rules)
    failed = len(failures) + len(failed_seeds)
    note = f" ({seeds} not found)" if not seeds.is_file() else ""
    if skipped:
        note += f" ({skipped} seed expectations skipped: their rules are not in the given paths)"
    _out.print(f"{_plural(total, 'example')}, {_plural(failed, 'failure')}{_escape(note)}")
    if failed:
        raise typer.Exit(1)


@rules_app.command("explain")
def explain(
    ctx: typer.Context,
    rule_id: str = typer.Argument(..., help="The rule to explain."),
    input: str = typer.Argument(..., help="A .txt, .html or .jsonl file, '-' or a URL (first document)."),
    rules: list[Path] = typer.Option(None, "--rules", help=_RULE_PATHS_HELP),
    show_all: bool = typer.Option(
        False, "--all", help=f"Show every entry of every set (default: the true ones and {_FALSE_ENTRIES} false ones)."
    ),
) -> None:
    """Say whether the rule matches, with the passages that made it true, then the query as a tree, each node true
    or false, with the words that made it so. Exit 0 when the rule matches, 1 when it does not, 2 on errors."""
    try:
        ruleset = _load(ctx, rules, examples=False)
        ruleset.rule(rule_id)  # an unknown id is reported before the document is read
        first = next(iter(read_documents(input, settings_from(ctx).fetch)), None)
        if first is None:
            raise DocumentError(f"no document in {input}")
    except RuleSetError as e:
        raise _print_errors(e) from None
    except MonitorError as e:
        raise _fail(str(e)) from None
    result = ruleset.explain(rule_id, first.doc)
    m = ruleset.match_rule(rule_id, first.doc)
    # The verdict and the decisive passages (what an alert would show) first, then the whole tree.
    verdict = "matches" if m is not None else "does not match"
    rule = ruleset.get(rule_id)
    disabled = " (the rule is disabled: the pipeline never runs it)" if rule is not None and not rule.enabled else ""
    _out.print(f"rule '{_escape(rule_id)}' {verdict} {_escape(first.id)}{disabled}")
    why = why_not(result, rule) if m is None and rule is not None else None
    if why:
        _out.print(f"  {_escape(why)}")
    if m is not None:
        _out.print("  " + _escape(m.marked_snippet()))
        words = ", ".join(f"{h.field} {h.start}-{h.end} {h.text!r}" for h in m.decisive)
        if words:
            _out.print(f"  [dim]decisive hits: {_escape(words)}[/]")
    _out.print(_explain_tree(result, show_all=show_all))
    if m is None:
        raise typer.Exit(1)


@rules_app.command("new")
def new(
    ctx: typer.Context,
    rule_id: str = typer.Argument(..., help="The new rule's id: lower-case letters, digits, '.', '_', '-'."),
    file: Path = typer.Option(
        None,
        "--file",
        help="The file to write (default: rules/ID.yaml in the first [rules] paths folder); never overwritten.",
    ),
) -> None:
    """Write a commented rule file to start from (a set, a query, severity, tags, examples), valid as written."""
    settings = settings_from(ctx)
    folder = next((p for p in settings.rules.paths if not p.is_file()), Path("rules"))
    path = _shown(file or folder / f"{rule_id}.yaml")
    existing = [p for p in settings.rules.paths if p.exists()]
    try:
        taken = load_rules(existing, run_rule_examples=False).get(rule_id) if existing else None
    except MonitorError:
        taken = None  # the rule files have errors: `rules check` reports them; the new file is still written
    if taken is not None:
        raise _fail(f"rule '{rule_id}' already exists at {taken.path}:{taken.line}")
    try:
        write_skeleton(rule_id, path)
    except MonitorError as e:
        raise _fail(str(e)) from None
    loaded = any(_inside(path, p) for p in settings.rules.paths)
    _out.print(_escape(f"wrote {path}: replace its placeholder words with yours"))
    _out.print(_escape(f"Next: monitor rules test{'' if loaded else f' {path}'}  (runs its examples)"))


def unknown_rule(settings: Settings, rule: str, stored_ids: Callable[[], list[str]]) -> str | None:
    """For ``matches --rule``: the error when ``rule`` names no rule, neither a stored match's nor a loaded one (a
    glob such as ``kh-*`` names none), with the closest id; None when it names one."""
    if any(c in rule for c in "*?"):
        return None
    known = set(stored_ids())
    try:
        known.update(r.id for r in load_rules(list(settings.rules.paths), run_rule_examples=False).rules)
    except MonitorError:
        pass  # rule files with errors: the stored ids still say which rules exist
    return None if rule in known else f"no rule named {rule!r}{did_you_mean(rule, sorted(known))}"


def _shown(path: Path) -> Path:
    """``path`` relative to the current folder when it is inside it (as a user would type it)."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def _inside(path: Path, root: Path) -> bool:
    path, root = path.resolve(), root.resolve()
    return path == root or root in path.parents


def match(
    ctx: typer.Context,
    inputs: list[str] = typer.Argument(..., help="Documents: .txt, .html, .jsonl files, '-' (JSONL) or URLs."),
    rules: list[Path] = typer.Option(None, "--rules", help=_RULE_PATHS_HELP),
    format: TextOrJson = typer.Option(TextOrJson.text, "--format", help="text or json (JSON Lines)."),
) -> None:
    """Run the rules over documents and print the matches; exit 0 some match, 1 none, 2 error."""
    try:
        ruleset = _load(ctx, rules)
    except RuleSetError as e:
        for err in e.errors:
            typer.echo(clean(err), err=True)
        raise _fail(f"{_plural(len(e.errors), 'error')} in the rules") from None
    except MonitorError as e:
        raise _fail(str(e)) from None
    found, failed = 0, False
    for name in inputs:
        try:
            for item in read_documents(name, settings_from(ctx).fetch):
                for m in ruleset.match(item.doc):
                    found += 1
                    _print_match(item, m, format)
        except MonitorError as e:  # as grep: report the input that failed, go on with the others, exit 2 at the end
            _error(str(e))
            failed = True
    raise typer.Exit(2 if failed else 0 if found else 1)


def _print_match(item: InputDocument, m: Match, format: TextOrJson) -> None:
    if format is TextOrJson.json:
        hits = [{"field": h.field, "start": h.start, "end": h.end, "text": h.text} for h in m.hits]
        doc_id = item.id if item.json_id is None else item.json_id
        decisive = [{"field": h.field, "start": h.start, "end": h.end, "text": h.text} for h in m.decisive]
        row = {
            "doc": doc_id,
            "rule": m.rule.id,
            "severity": m.rule.severity,
            "hits": hits,
            "snippet": m.snippet,
            "snippet_hits": [list(span) for span in m.snippet_hits],
            "decisive": decisive,
        }
        print_jsonl([row])
        return
    if not _out.is_terminal:  # scripts read this: ** marks the hits, as always
        _out.print(
            f"[bold]{_escape(item.id)}[/]: {_escape(m.rule.id)} {_escape(f'[{m.rule.severity}]')} {_escape(m.rule.title)}"
        )
        _out.print("  " + _escape(m.marked_snippet()))
        return
    # On a terminal, colour as `monitor matches` does: severity by level, the hits in bold yellow.
    severity = (f"[{clean(m.rule.severity)}]", SEVERITY_STYLE.get(m.rule.severity, ""))
    _out.print(Text.assemble((clean(item.id), "bold"), ": ", clean(m.rule.id), " ", severity, " ", clean(m.rule.title)))
    snippet = Text("  ")
    pos = 0
    for start, end in sorted(m.snippet_hits):
        if start >= pos:
            snippet.append(clean(m.snippet[pos:start])).append(clean(m.snippet[start:end]), "bold yellow")
            pos = end
    _out.print(snippet.append(clean(m.snippet[pos:])))


def _tuning_commands() -> None:
    """``rules backtest`` and ``rules feedback`` (their module loads with the group)."""
    from monitor.cli import tuning

    rules_app.command("backtest")(tuning.backtest)
    rules_app.command("feedback")(tuning.feedback)


_tuning_commands()
