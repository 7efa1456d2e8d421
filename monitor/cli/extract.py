"""``monitor extract INPUT…``: HTML files or URLs -> the article the pipeline would extract, as text or JSON Lines.

URLs are fetched with the pipeline's fetcher (same limits and SSRF guard, settings from ``--config``); files are
read as bytes, so they decode exactly as a fetched page does. Exit status: 0 every input gave an article, 1 some
input gave nothing (and none failed), 2 an input could not be read, fetched or extracted.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import typer

from monitor.cli.common import TextOrJson, clean, config_path, print_error, print_jsonl
from monitor.errors import MonitorError
from monitor.extract import Extracted, charset_from_headers, decode_html, extract_html
from monitor.extractpool import ExtractorPool

__all__ = ["extract"]


#: (URL for the extractor, body as read or fetched, HTTP charset).
_Page = tuple[str, bytes, str | None]


def _is_url(value: str) -> bool:
    return value.lower().startswith(("http://", "https://"))


def _read_files(inputs: list[str], pages: dict[str, _Page], errors: dict[str, str]) -> None:
    for name in inputs:
        if _is_url(name):
            continue
        try:
            pages[name] = (name, Path(name).read_bytes(), None)
        except OSError as e:
            errors[name] = f"cannot read {name}: {e.strerror or e}"


async def _fetch_all(urls: list[str], config: Path | None, pages: dict[str, _Page], errors: dict[str, str]) -> None:
    from monitor.config import load_settings
    from monitor.fetch import Fetcher

    settings = load_settings(config)
    async with Fetcher(settings.fetch) as fetcher:
        for url in urls:
            try:
                result = await fetcher.fetch(url)
            except MonitorError as e:
                errors[url] = str(e)
                continue
            pages[url] = (result.final_url, result.body, charset_from_headers(result.headers))


def _extract_all(pages: dict[str, _Page]) -> dict[str, Extracted | MonitorError | None]:
    """One page is extracted here (no pool start-up to wait for); several in parallel, as the pipeline does."""
    if len(pages) == 1:
        [(name, (url, html, charset))] = pages.items()
        try:
            return {name: extract_html(html, url, charset=charset)}
        except MonitorError as e:
            return {name: e}
    processes = min(len(pages), os.cpu_count() or 1)
    with ExtractorPool(processes) as pool:
        # the batch API takes no charset: decoding first with it is exactly what extract_html would do
        batch = [(decode_html(html, charset) if charset else html, url) for url, html, charset in pages.values()]
        results = pool.map(batch)
    return dict(zip(pages, results, strict=True))


def _print_text(name: str, article: Extracted) -> None:
    date = article.date.isoformat(sep=" ", timespec="minutes") if article.date else "-"
    typer.echo(clean(f"== {name}"))  # a page's text is attacker text: no control sequence reaches the terminal
    typer.echo(clean(f"Title:  {article.title or '-'}"))
    typer.echo(clean(f"Author: {article.author or '-'}    Date: {date}    Language: {article.lang or '-'}"))
    typer.echo("")
    typer.echo(clean(article.text, lines=True))
    typer.echo("")


def extract(
    ctx: typer.Context,
    inputs: list[str] = typer.Argument(..., metavar="INPUT...", help="HTML files or http(s) URLs."),
    format: TextOrJson = typer.Option(TextOrJson.text, "--format", "-f", help="text, or json (JSON Lines)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="config.toml for fetch settings (URLs only)."),
) -> None:
    """Show the article text and metadata the pipeline extracts from HTML files or URLs."""
    pages: dict[str, _Page] = {}
    errors: dict[str, str] = {}
    _read_files(inputs, pages, errors)
    urls = [name for name in dict.fromkeys(inputs) if _is_url(name)]
    if urls:
        asyncio.run(_fetch_all(urls, config or config_path(ctx), pages, errors))
    results = _extract_all({name: pages[name] for name in dict.fromkeys(inputs) if name in pages})
    empty = False
    for name in dict.fromkeys(inputs):
        result = results.get(name)
        if name in errors or isinstance(result, MonitorError):
            print_error(f"{name}: {errors.get(name) or result}")
        elif result is None:
            empty = True
            typer.echo(clean(f"monitor: nothing extracted from {name}"), err=True)
        elif format is TextOrJson.json:
            print_jsonl([_as_json(name, result)])
        else:
            _print_text(name, result)
    if errors or any(isinstance(r, MonitorError) for r in results.values()):
        raise typer.Exit(2)
    if empty:
        raise typer.Exit(1)


def _as_json(name: str, article: Extracted) -> dict[str, object]:
    return {
        "input": name,
        "title": article.title,
        "text": article.text,
        "author": article.author,
        "date": article.date,
        "lang": article.lang,
    }
