"""``monitor rules check|test|explain`` and ``monitor match`` (RULES.md section 5).

Inputs: rule paths (default: ``[rules] paths`` of config.toml, else ``./rules``) and documents (``.txt``,
``.html``, ``.jsonl``, ``-`` for JSONL on stdin, ``http(s)://`` URLs). Outputs: diagnostics, explanations
and matches as text (rich) or JSON Lines. Exit status: 0 ok / some match, 1 failures / no match, 2 errors.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape as escape_markup
from rich.text import Text
from rich.tree import Tree

from monitor.cli.common import clean, print_jsonl
from monitor.cli.seeds import seed_expectations
from monitor.config import Settings, load_settings
from monitor.errors import MonitorError, RuleSetError
from monitor.rules import Document, Explanation, Match, RuleSet, load_rules, run_examples

__all__ = ["check", "explain", "match", "rules_app", "test"]

rules_app = typer.Typer(
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
    help="Check, test and explain rule files.",
)
# emoji=False: text from rule files and documents prints as written (`:fire:` is not an emoji code here)
_out = Console(highlight=False, soft_wrap=True, emoji=False, width=None if sys.stdout.isatty() else 200)
_EXPECTATIONS = Path("seeds") / "expectations.yaml"


class _Format(str, Enum):
    text = "text"
    json = "json"


class _InputError(MonitorError, ValueError):
    """A document input cannot be read (missing file, bad JSON, unsupported kind)."""


@dataclass(frozen=True)
class _Input:
    id: str
    doc: Document
    #: The JSONL ``id`` as given, for ``--format json`` (a number stays a number); None: ``id``.
    json_id: object = None


def _escape(value: object) -> str:
    """Text from rule files and documents as markup that prints it literally, control sequences removed."""
    return escape_markup(clean(value))


def _error(message: str) -> None:
    typer.echo(f"monitor: error: {' '.join(clean(message).split())}", err=True)


def _fail(message: str) -> typer.Exit:
    _error(message)
    return typer.Exit(2)


def _config(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    path = obj.get("config")
    return load_settings(Path(path) if path else None)


def _load(ctx: typer.Context, paths: list[Path] | None, *, examples: bool = True) -> RuleSet:
    settings = _config(ctx)
    # Without feeds or channels in the config, rules naming them are not warned about (rule files are shared).
    known_feeds = [n for f in settings.feeds for n in (f.name, *f.tags)] or None
    return load_rules(
        list(paths or settings.rules.paths or [Path("rules")]), known_feeds=known_feeds,
        known_channels=list(settings.channels) or None, run_rule_examples=examples,
    )


def _print_errors(e: RuleSetError) -> typer.Exit:
    for err in e.errors:
        _out.print(_escape(str(err)))
    _out.print(f"{len(e.errors)} error{'s' if len(e.errors) != 1 else ''}: the rule set is rejected")
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
    for w in ruleset.warnings:
        _out.print(_escape(f"warning: {w}"))
    _out.print(f"{len(ruleset.rules)} rules OK")


def _explain_tree(node: Explanation, tree: Tree | None = None) -> Tree:
    mark = "[green]✓ true[/]" if node.value else "[red]✗ false[/]"
    words = ", ".join(sorted({repr(h.text) for h in node.hits}))
    label = f"{mark}  {_escape(node.query)}" + (f"  [dim]{_escape(words)}[/]" if words else "")
    text = Text.from_markup(label, overflow="fold")
    branch = Tree(text) if tree is None else tree.add(text)
    for child in node.children:
        _explain_tree(child, branch)
    return branch


_SeedFailure = tuple[str, str, Document | None, bool]


def _seed_failures(ruleset: RuleSet, path: Path, *, loaded_only: bool) -> tuple[list[_SeedFailure], int]:
    """(rule id, seed name, document, should match) for each seed expectation that fails, and how many were
    skipped: with ``loaded_only`` (rules of some files only), those of rules not loaded do not apply."""
    failures: list[_SeedFailure] = []
    skipped = 0
    docs: dict[str, Document | None] = {}
    for name, rule_id, should in seed_expectations(path):
        if name not in docs:
            seed = path.parent / name
            docs[name] = _read_txt(seed) if seed.is_file() else None
        doc = docs[name]
        if ruleset.get(rule_id) is None and doc is not None and loaded_only:
            skipped += 1
        elif doc is None or ruleset.get(rule_id) is None or (ruleset.match_rule(rule_id, doc) is not None) != should:
            failures.append((rule_id, name, doc, should))
    return failures, skipped


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
        seed_failures: list[_SeedFailure] = []
        skipped = 0
        if seeds.is_file():
            seed_failures, skipped = _seed_failures(ruleset, seeds, loaded_only=bool(paths))
    except RuleSetError as e:
        raise _print_errors(e) from None
    except MonitorError as e:
        raise _fail(str(e)) from None
    for f in failures:
        _out.print(f"[red]FAIL[/] {_escape(str(f))}")
        _out.print(_explain_tree(ruleset.explain(f.rule.id, f.example.doc)))
    for rule_id, name, doc, should in seed_failures:
        want = "should match" if should else "should not match"
        if doc is None or ruleset.get(rule_id) is None:
            what = "no such seed file" if doc is None else "no such rule"
            _out.print(f"[red]FAIL[/] seed {_escape(name)}: rule '{_escape(rule_id)}' {want}, but {what}")
            continue
        _out.print(f"[red]FAIL[/] seed {_escape(name)}: rule '{_escape(rule_id)}' {want}")
        _out.print(_explain_tree(ruleset.explain(rule_id, doc)))
    total = sum(len(r.examples) for r in ruleset.rules)
    failed = len(failures) + len(seed_failures)
    note = f" ({seeds} not found)" if not seeds.is_file() else ""
    if skipped:
        note += f" ({skipped} seed expectations skipped: their rules are not in the given paths)"
    _out.print(f"{total} examples, {failed} failures{_escape(note)}")
    if failed:
        raise typer.Exit(1)


@rules_app.command("explain")
def explain(
    ctx: typer.Context,
    rule_id: str = typer.Argument(..., help="The rule to explain."),
    input: str = typer.Argument(..., help="A .txt, .html or .jsonl file, '-' or a URL (first document)."),
    rules: list[Path] = typer.Option(None, "--rules", help="Rule files or folders."),
) -> None:
    """Say whether the rule matches, with the passages that made it true, then the query as a tree, each node true
    or false, with the words that made it so."""
    try:
        ruleset = _load(ctx, rules, examples=False)
        if ruleset.get(rule_id) is None:
            raise _InputError(f"no rule with id '{rule_id}'")
        first = next(iter(_read_input(ctx, input)), None)
        if first is None:
            raise _InputError(f"no document in {input}")
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
    if m is not None:
        _out.print("  " + _escape(m.marked_snippet()))
        words = ", ".join(f"{h.field} {h.start}-{h.end} {h.text!r}" for h in m.decisive)
        if words:
            _out.print(f"  [dim]decisive hits: {_escape(words)}[/]")
    _out.print(_explain_tree(result))


def match(
    ctx: typer.Context,
    inputs: list[str] = typer.Argument(..., help="Documents: .txt, .html, .jsonl files, '-' (JSONL) or URLs."),
    rules: list[Path] = typer.Option(None, "--rules", help="Rule files or folders (default: [rules] paths)."),
    format: _Format = typer.Option(_Format.text, "--format", help="text or json (JSON Lines)."),
) -> None:
    """Run the rules over documents and print the matches; exit 0 some match, 1 none, 2 error."""
    try:
        ruleset = _load(ctx, rules)
    except RuleSetError as e:
        for err in e.errors:
            typer.echo(clean(err), err=True)
        raise _fail(f"{len(e.errors)} errors in the rules") from None
    except MonitorError as e:
        raise _fail(str(e)) from None
    found, failed = 0, False
    for name in inputs:
        try:
            for item in _read_input(ctx, name):
                for m in ruleset.match(item.doc):
                    found += 1
                    _print_match(item, m, format)
        except MonitorError as e:  # as grep: report the input that failed, go on with the others, exit 2 at the end
            _error(str(e))
            failed = True
    raise typer.Exit(2 if failed else 0 if found else 1)


def _print_match(item: _Input, m: Match, format: _Format) -> None:
    if format is _Format.json:
        hits = [{"field": h.field, "start": h.start, "end": h.end, "text": h.text} for h in m.hits]
        doc_id = item.id if item.json_id is None else item.json_id
        decisive = [{"field": h.field, "start": h.start, "end": h.end, "text": h.text} for h in m.decisive]
        row = {"doc": doc_id, "rule": m.rule.id, "severity": m.rule.severity, "hits": hits, "snippet": m.snippet,
               "snippet_hits": [list(span) for span in m.snippet_hits], "decisive": decisive}
        print_jsonl([row])
        return
    _out.print(f"[bold]{_escape(item.id)}[/]: {_escape(m.rule.id)} {_escape(f'[{m.rule.severity}]')} {_escape(m.rule.title)}")
    _out.print("  " + _escape(m.marked_snippet()))


def _read_txt(path: Path) -> Document:
    text = path.read_text(encoding="utf-8-sig", errors="replace")  # -sig: a BOM is no part of the title or offsets
    title = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return Document(title=title, text=text)


def _read_input(ctx: typer.Context, name: str) -> Iterator[_Input]:
    """The documents of one INPUT; an _InputError ends that input."""
    if name == "-":
        yield from _jsonl(_jsonl_lines(sys.stdin.buffer.read(), "-"), "-")
    elif name.startswith(("http://", "https://")):
        yield _Input(name, _fetch(ctx, name))
    else:
        path = Path(name)
        if not path.is_file():
            raise _InputError(f"{name}: no such file")
        suffix = path.suffix.lower()
        try:
            if suffix == ".txt":
                yield _Input(name, _read_txt(path))
            elif suffix in (".html", ".htm"):
                yield _Input(name, _html(path.read_bytes(), ""))
            elif suffix == ".jsonl":
                yield from _jsonl(_jsonl_lines(path.read_bytes(), name), name)
            else:
                raise _InputError(f"{name}: unsupported input; use a .txt, .html or .jsonl file, '-' or a URL")
        except OSError as e:
            raise _InputError(f"{name}: cannot read the file: {e.strerror or e}") from e


def _jsonl_lines(data: bytes, source: str) -> list[str]:
    """The lines of JSON Lines, split at line feeds only: JSON strings may hold U+2028, U+2029 and U+0085 raw,
    which ``str.splitlines()`` would break on."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:  # e.object is the data after a BOM, where e.start counts
        line = e.object.count(b"\n", 0, e.start) + 1
        raise _InputError(f"{source}:{line}: not UTF-8 text: {e.reason}") from None
    return [line.removesuffix("\r") for line in text.split("\n")]


def _jsonl(lines: list[str], source: str) -> Iterator[_Input]:
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise _InputError(f"{source}:{n}: invalid JSON: {e.msg}") from e
        if not isinstance(obj, dict):
            raise _InputError(f"{source}:{n}: a JSONL document must be an object")
        yield _jsonl_input(obj, f"{source}:{n}")


def _jsonl_input(obj: dict[str, object], where: str) -> _Input:
    """One JSONL document, its fields type-checked: a wrong type is an error, not a crash or a str() of it."""

    def text(key: str) -> str:
        value = obj.get(key)
        if value is None or isinstance(value, str):
            return value or ""
        raise _InputError(f"{where}: '{key}' must be a string, not {_json_type(value)}")

    tags = obj.get("feed_tags")
    if tags is not None and not isinstance(tags, list):
        raise _InputError(f"{where}: 'feed_tags' must be a list of strings, not {_json_type(tags)}")
    for tag in tags or ():
        if not isinstance(tag, str):
            raise _InputError(f"{where}: each item of 'feed_tags' must be a string, not {_json_type(tag)}")
    doc = Document(
        title=text("title"), text=text("text"), url=text("url"), author=text("author"), lang=text("lang") or None,
        feed=text("feed"), feed_tags=tuple(tags or ()),
    )
    doc_id = obj.get("id")
    if doc_id is None:  # absent or null: the line's position names the document
        doc_id = where
    elif isinstance(doc_id, bool) or not isinstance(doc_id, (str, int, float)):
        raise _InputError(f"{where}: 'id' must be a string or a number, not {_json_type(doc_id)}")
    return _Input(str(doc_id), doc, doc_id)


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "an object"
    return "null" if value is None else "a string"


def _html(body: bytes, url: str) -> Document:
    from monitor.extract import extract_html  # on use: trafilatura takes a second to import

    found = extract_html(body, url)
    if found is None:
        return Document(url=url)
    return Document(title=found.title, text=found.text, author=found.author, url=url, lang=found.lang)


def _fetch(ctx: typer.Context, url: str) -> Document:
    from monitor.fetch import Fetcher

    settings = _config(ctx)

    async def get() -> bytes:
        async with Fetcher(settings.fetch) as fetcher:
            result = await fetcher.fetch(url)
            return bytes(result.body)

    return _html(asyncio.run(get()), url)
