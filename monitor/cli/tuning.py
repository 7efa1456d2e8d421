"""``monitor rules backtest`` and ``monitor rules feedback``: tuning a rule against what was stored and judged.

``backtest`` runs a rule in force (``--rule``), a query (``--query``, in place of ``--rule``'s when both are given) or
a rule file's rule (``--file``; ``--rule`` picks one of several) over the articles stored in the last ``--since``
and compares the result with the stored matches of its id: gained, lost, kept. It reads only: nothing is saved,
alerted or written. ``feedback`` lists a rule's judged matches, or (``--format yaml``) writes them as the rule's
``examples``. Exit status: 0 something found, 1 nothing, 2 errors.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.text import Text

from monitor.api import Monitor
from monitor.backtest import Backtest, BacktestItem
from monitor.cli.common import (
    TextOrJson,
    clean,
    console,
    link,
    local_time,
    plain,
    plural,
    print_error,
    print_jsonl,
    settings_from,
)
from monitor.config import parse_duration
from monitor.errors import MonitorError, RuleSetError
from monitor.judgements import examples_yaml
from monitor.store import JudgedMatch

__all__ = ["FeedbackFormat", "backtest", "feedback"]

_LABEL = {"gained": ("GAINED", "bold green"), "lost": ("LOST", "bold red"), "kept": ("KEPT", "dim")}


class FeedbackFormat(StrEnum):
    """``rules feedback`` output: a table, JSON Lines, or the rule's examples as YAML."""

    text = "text"
    json = "json"
    yaml = "yaml"


def _fail(message: str) -> typer.Exit:
    print_error(message, one_line=True)
    return typer.Exit(2)


def _days(since: str) -> float:
    try:
        seconds = parse_duration(since)
    except ValueError:
        raise typer.BadParameter(f"{since!r} is not a duration (30d, 2w, 12h)", param_hint="--since") from None
    if seconds <= 0:
        raise typer.BadParameter("the window must be longer than 0", param_hint="--since")
    return seconds / 86400


def backtest(
    ctx: typer.Context,
    rule: str = typer.Option(None, "--rule", help="A rule in force; with --query or --file: the rule it edits."),
    query: str = typer.Option(None, "--query", help="A query to try (may name the sets of the rule files)."),
    file: Path = typer.Option(None, "--file", help="A rule file (or '-' for stdin) holding the rule to try."),
    since: str = typer.Option("30d", "--since", help="The window: articles stored this long ago or later."),
    limit: int = typer.Option(None, "--limit", min=0, help="List at most this many articles of each kind."),
    format: TextOrJson = typer.Option(TextOrJson.text, "--format", help="text, or json (one object)."),
) -> None:
    """What a rule would have matched among the stored articles, compared with its stored matches (gained, lost,
    kept); nothing is saved or sent. Exit 0 when it matches something, 1 when nothing, 2 on errors."""
    if query is not None and file is not None:
        raise _fail("give --query or --file, not both")
    if rule is None and query is None and file is None:
        raise _fail("give the rule to try: --rule ID, --query QUERY or --file FILE")
    days = _days(since)
    text = None
    if file is not None:
        try:
            text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise _fail(f"{file}: cannot read the file: {getattr(e, 'strerror', None) or e}") from None
    try:
        with Monitor(settings_from(ctx)) as m:
            result = m.backtest(rule=rule, query=query, text=text, days=days, limit=limit, source=str(file))
    except RuleSetError as e:
        for err in e.errors[:-1]:
            print_error(err, one_line=True)
        raise _fail(str(e.errors[-1])) from None
    except (MonitorError, ValueError) as e:
        raise _fail(str(e)) from None
    if format is TextOrJson.json:
        print_jsonl([result.as_json()])
    else:
        _print_backtest(result)
    raise typer.Exit(0 if result.matched else 1)


def _print_backtest(result: Backtest) -> None:
    rule = result.draft.rule
    for warning in result.draft.warnings:
        console.print(plain(f"warning: {warning}", "yellow"))
    days = (result.until - result.since).total_seconds() / 86400
    console.print(
        Text.assemble(
            ("Backtest of ", "bold"),
            (clean(f"rule '{rule.id}'"), "bold"),
            f" over {plural(result.scanned, 'article')} stored in the last {days:g} days "
            f"(since {local_time(result.since)}), {result.seconds:.2f} s",
        )
    )
    console.print(plain(f"query: {rule.query}", "dim"))
    counts = result.counts
    if result.compared_with is None:
        console.print(f"It would match {plural(result.matched, 'article')} (no rule id to compare with).")
    else:
        console.print(
            clean(
                f"It would match {plural(result.matched, 'article')}; rule '{result.compared_with}' matched "
                f"{result.baseline} of them. Gained {counts['gained']}, lost {counts['lost']}, kept {counts['kept']}."
            )
        )
    for status, tally in result.judged.items():
        console.print(f"Judged among the {status}: {tally['relevant']} relevant, {tally['not_relevant']} not relevant.")
    if result.timed_out:
        console.print(f"The rule's regex ran out of time on {plural(result.timed_out, 'article')} (not matched).")
    shown = len(result.items)
    if shown < sum(counts.values()):
        console.print(plain(f"(listing {shown} of them: --limit)", "dim"))
    for item in result.items:
        _print_item(item, labelled=result.compared_with is not None)


def _print_item(item: BacktestItem, *, labelled: bool) -> None:
    label, style = _LABEL[item.status]
    judged = ""
    if item.judgement is not None:
        judged = f"  (match {item.match_id}, judged {'relevant' if item.judgement.relevant else 'not relevant'})"
    head = Text("\n")
    if labelled:
        head.append(f"{label:<7}", style)
    console.print(head.append(clean(item.article.title), "bold").append(judged, "dim"))
    art = item.article
    when = local_time(art.published) if art.published else "date unknown"
    console.print(Text(f"  {clean(art.feed)} · {when} · {link(art.url)}", "dim"))
    snippet, pos = Text("  "), 0
    for start, end in item.snippet_hits:
        if start >= pos:
            snippet.append(clean(item.snippet[pos:start])).append(clean(item.snippet[start:end]), "bold yellow")
            pos = end
    console.print(snippet.append(clean(item.snippet[pos:])))


def feedback(
    ctx: typer.Context,
    rule: str = typer.Option(..., "--rule", help="The rule whose judged matches to show."),
    format: FeedbackFormat = typer.Option(
        FeedbackFormat.text, "--format", help="text, json (JSON Lines), or yaml: the rule's examples."
    ),
) -> None:
    """A rule's judged matches (relevant or not, by whom, when); --format yaml writes them as the rule's `examples`
    so `rules test` keeps every judged case. Exit 0 when there are some, 1 when none, 2 on errors."""
    try:
        with Monitor(settings_from(ctx)) as m:
            judged = m.judged(rule)
            known = bool(judged) or rule in m.store.rule_ids() or _in_force(m, rule)
    except MonitorError as e:
        raise _fail(str(e)) from None
    if not known:
        raise _fail(f"no rule named {rule!r} (neither in the rule files nor in the stored matches)")
    if not judged:
        print_error(f"no judged matches of rule {rule!r} yet: mark matches relevant or not in the web app")
        raise typer.Exit(1)
    if format is FeedbackFormat.yaml:
        typer.echo(examples_yaml(rule, judged), nl=False)
    elif format is FeedbackFormat.json:
        print_jsonl(_judged_json(j) for j in judged)
    else:
        for j in judged:
            verdict = ("relevant", "green") if j.judgement.relevant else ("not relevant", "red")
            who = f" by {clean(j.judgement.judged_by)}" if j.judgement.judged_by else ""
            console.print(
                Text.assemble(
                    f"match {j.judgement.match_id}: ",
                    verdict,
                    f"{who}, {local_time(j.judgement.judged_at)}  ",
                    (clean(j.title), "bold"),
                )
            )


def _in_force(m: Monitor, rule: str) -> bool:
    try:
        return m.rules.get(rule) is not None
    except MonitorError:
        return False  # rule files with errors: the stored ids alone say which rules exist


def _judged_json(j: JudgedMatch) -> dict[str, object]:
    return {
        "match": j.judgement.match_id,
        "rule": j.rule_id,
        "relevant": j.judgement.relevant,
        "judged_by": j.judgement.judged_by,
        "judged_at": j.judgement.judged_at,
        "article": {"id": j.article_id, "title": j.title, "url": link(j.url), "feed": j.feed},
    }
