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
import yaml
from rich.console import Console
from rich.markup import escape
from rich.text import Text
from rich.tree import Tree

from monitor.errors import MonitorError, RuleSetError
from monitor.rules import Document, Explanation, Match, RuleSet, load_rules, run_examples

__all__ = ["check", "explain", "match", "rules_app", "test"]

rules_app = typer.Typer(
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
    help="Check, test and explain rule files.",
)
_out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
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


def _fail(message: str) -> typer.Exit:
    typer.echo(f"monitor: error: {' '.join(message.split())}", err=True)
    return typer.Exit(2)


def _config(ctx: typer.Context) -> object | None:
    try:
        from monitor.config import load_settings
    except ImportError:  # pragma: no cover - config is written by another stage
        return None
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    path = obj.get("config")
    return load_settings(Path(path) if path else None)


def _load(ctx: typer.Context, paths: list[Path] | None, *, examples: bool = True) -> RuleSet:
    settings = _config(ctx)
    if not paths:
        paths = list(getattr(getattr(settings, "rules", None), "paths", ()) or [Path("rules")])
    feeds = getattr(settings, "feeds", ()) or ()
    channels = getattr(settings, "channels", {}) or {}
    known_feeds = [n for f in feeds for n in (f.name, *f.tags)] if feeds else None
    return load_rules(
        paths, known_feeds=known_feeds, known_channels=list(channels) if channels else None,
        run_rule_examples=examples,
    )


def _print_errors(e: RuleSetError) -> typer.Exit:
    for err in e.errors:
        _out.print(escape(str(err)))
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
        _out.print(escape(f"warning: {w}"))
    _out.print(f"{len(ruleset.rules)} rules OK")


def _explain_tree(node: Explanation, tree: Tree | None = None) -> Tree:
    mark = "[green]✓ true[/]" if node.value else "[red]✗ false[/]"
    words = ", ".join(sorted({repr(h.text) for h in node.hits}))
    label = f"{mark}  {escape(node.query)}" + (f"  [dim]{escape(words)}[/]" if words else "")
    text = Text.from_markup(label, overflow="fold")
    branch = Tree(text) if tree is None else tree.add(text)
    for child in node.children:
        _explain_tree(child, branch)
    return branch


def _seed_failures(ruleset: RuleSet, path: Path) -> list[tuple[str, str, Document | None, bool]]:
    """(rule id, seed name, document, should match) for each seed expectation that fails."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise _InputError(f"{path}: cannot read the seed expectations: {e}") from e
    failures = []
    for name, want in (data.get("seeds") or {}).items():
        seed = path.parent / name
        doc = _read_txt(seed) if seed.is_file() else None
        for key, should in (("match", True), ("no_match", False)):
            for rule_id in (want or {}).get(key) or ():
                if doc is None or ruleset.get(rule_id) is None:
                    failures.append((rule_id, name, doc, should))
                elif (ruleset.match_rule(rule_id, doc) is not None) != should:
                    failures.append((rule_id, name, doc, should))
    return failures


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
        seed_failures = _seed_failures(ruleset, seeds) if seeds.is_file() else []
    except RuleSetError as e:
        raise _print_errors(e) from None
    except MonitorError as e:
        raise _fail(str(e)) from None
    for f in failures:
        _out.print(f"[red]FAIL[/] {escape(str(f))}")
        _out.print(_explain_tree(ruleset.explain(f.rule.id, f.example.doc)))
    for rule_id, name, doc, should in seed_failures:
        want = "should match" if should else "should not match"
        if doc is None or ruleset.get(rule_id) is None:
            what = "no such seed file" if doc is None else "no such rule"
            _out.print(f"[red]FAIL[/] seed {escape(name)}: rule '{escape(rule_id)}' {want}, but {what}")
            continue
        _out.print(f"[red]FAIL[/] seed {escape(name)}: rule '{escape(rule_id)}' {want}")
        _out.print(_explain_tree(ruleset.explain(rule_id, doc)))
    total = sum(len(r.examples) for r in ruleset.rules)
    failed = len(failures) + len(seed_failures)
    _out.print(f"{total} examples, {failed} failures" + ("" if seeds.is_file() else f" ({seeds} not found)"))
    if failed:
        raise typer.Exit(1)


@rules_app.command("explain")
def explain(
    ctx: typer.Context,
    rule_id: str = typer.Argument(..., help="The rule to explain."),
    input: str = typer.Argument(..., help="A .txt, .html or .jsonl file, '-' or a URL (first document)."),
    rules: list[Path] = typer.Option(None, "--rules", help="Rule files or folders."),
) -> None:
    """Show the rule's query as a tree, each node true or false, with the words that made it so."""
    try:
        ruleset = _load(ctx, rules, examples=False)
        if ruleset.get(rule_id) is None:
            raise _InputError(f"no rule with id '{rule_id}'")
        first = next(iter(_read_inputs(ctx, [input])), None)
        if first is None:
            raise _InputError(f"no document in {input}")
    except RuleSetError as e:
        raise _print_errors(e) from None
    except MonitorError as e:
        raise _fail(str(e)) from None
    result = ruleset.explain(rule_id, first.doc)
    m = ruleset.match_rule(rule_id, first.doc)
    _out.print(_explain_tree(result))
    verdict = "matches" if m is not None else "does not match"
    _out.print(f"rule '{escape(rule_id)}' {verdict} {escape(first.id)}")


def match(
    ctx: typer.Context,
    inputs: list[str] = typer.Argument(..., help="Documents: .txt, .html, .jsonl files, '-' (JSONL) or URLs."),
    rules: list[Path] = typer.Option(None, "--rules", help="Rule files or folders (default: [rules] paths)."),
    format: _Format = typer.Option(_Format.text, "--format", help="text or json (JSON Lines)."),
) -> None:
    """Run the rules over documents and print the matches; exit 0 some match, 1 none, 2 error."""
    found = 0
    try:
        ruleset = _load(ctx, rules)
        for item in _read_inputs(ctx, inputs):
            for m in ruleset.match(item.doc):
                found += 1
                _print_match(item, m, format)
    except RuleSetError as e:
        for err in e.errors:
            typer.echo(str(err), err=True)
        raise _fail(f"{len(e.errors)} errors in the rules") from None
    except MonitorError as e:
        raise _fail(str(e)) from None
    raise typer.Exit(0 if found else 1)


def _print_match(item: _Input, m: Match, format: _Format) -> None:
    if format is _Format.json:
        hits = [{"field": h.field, "start": h.start, "end": h.end, "text": h.text} for h in m.hits]
        doc_id = item.id if item.json_id is None else item.json_id
        row = {"doc": doc_id, "rule": m.rule.id, "severity": m.rule.severity, "hits": hits, "snippet": m.snippet}
        typer.echo(json.dumps(row, ensure_ascii=False))
        return
    _out.print(f"[bold]{escape(item.id)}[/]: {escape(m.rule.id)} {escape(f'[{m.rule.severity}]')} {escape(m.rule.title)}")
    _out.print("  " + escape(m.marked_snippet()))


def _read_txt(path: Path) -> Document:
    text = path.read_text(encoding="utf-8", errors="replace")
    title = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return Document(title=title, text=text)


def _read_inputs(ctx: typer.Context, inputs: list[str]) -> Iterator[_Input]:
    for name in inputs:
        if name == "-":
            yield from _jsonl(sys.stdin.read().splitlines(), "-")
        elif name.startswith(("http://", "https://")):
            yield _Input(name, _fetch(ctx, name))
        else:
            path = Path(name)
            if not path.is_file():
                raise _InputError(f"{name}: no such file")
            suffix = path.suffix.lower()
            if suffix == ".txt":
                yield _Input(name, _read_txt(path))
            elif suffix in (".html", ".htm"):
                yield _Input(name, _html(path.read_bytes(), ""))
            elif suffix == ".jsonl":
                yield from _jsonl(path.read_text(encoding="utf-8").splitlines(), name)
            else:
                raise _InputError(f"{name}: unsupported input; use a .txt, .html or .jsonl file, '-' or a URL")


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
        tags = obj.get("feed_tags") or ()
        doc = Document(
            title=str(obj.get("title") or ""), text=str(obj.get("text") or ""), url=str(obj.get("url") or ""),
            author=str(obj.get("author") or ""), lang=obj.get("lang") or None, feed=str(obj.get("feed") or ""),
            feed_tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (str(tags),),
        )
        doc_id = obj.get("id", f"{source}:{n}")
        yield _Input(str(doc_id), doc, doc_id)


def _html(body: bytes, url: str) -> Document:
    try:
        from monitor.extract import extract_html
    except ImportError:  # pragma: no cover - the extract stage is written by another engineer
        import trafilatura

        data = trafilatura.bare_extraction(body, url=url or None, with_metadata=True, as_dict=True)
        found_dict: dict[str, object] = data if isinstance(data, dict) else {}
        return Document(title=str(found_dict.get("title") or ""), text=str(found_dict.get("text") or ""), url=url)
    found = extract_html(body, url)
    if found is None:
        return Document(url=url)
    return Document(title=found.title, text=found.text, author=found.author, url=url, lang=found.lang)


def _fetch(ctx: typer.Context, url: str) -> Document:
    try:
        from monitor.fetch import Fetcher
    except ImportError:  # pragma: no cover
        raise _InputError("URL input needs the fetch stage") from None
    settings = _config(ctx)
    if settings is None:  # pragma: no cover
        raise _InputError("URL input needs the fetch stage")

    async def get() -> bytes:
        async with Fetcher(settings.fetch) as fetcher:  # type: ignore[attr-defined]
            result = await fetcher.fetch(url)
            return bytes(result.body)

    return _html(asyncio.run(get()), url)
