"""Adding feeds in bulk and with care: ``feeds import`` and ``feeds export`` (OPML), and the check behind ``feeds add``.

``check_url`` fetches a URL before it is added: a feed is added, a web page's feeds are found (``monitor.discover``),
anything else is refused with the reason. ``refuse_known`` keeps one feed per name and per URL, config.toml's
included. The commands are registered on the ``feeds`` group by ``monitor.cli.feeds``.
"""

from __future__ import annotations

import asyncio
import sys
from enum import Enum
from pathlib import Path

import typer

from monitor.cli.common import console, err_console, link, monitor_from, plain
from monitor.config import FeedSettings, Settings
from monitor.discover import COMMON_PATHS, Discovery, FeedLink, discover
from monitor.errors import (
    BlockedAddressError,
    FeedExistsError,
    FeedParseError,
    FetchError,
    FetchStatusError,
    MonitorError,
)
from monitor.fetch import Fetcher
from monitor.opml import MAX_BYTES, OpmlFeed, read_opml, write_opml
from monitor.store import FeedRecord
from monitor.store.feeds import feed_url_key

__all__ = ["ExportFormat", "check_url", "export_feeds", "import_feeds", "refuse_known"]


def refuse_known(feeds: list[FeedRecord], feed: FeedSettings) -> None:
    """A feed of this name or URL (stored or in config.toml) is not added twice: the error names it."""
    key = feed_url_key(feed.url)
    for known in feeds:
        if known.name == feed.name:
            raise FeedExistsError(
                f"a feed named {feed.name!r} already exists: choose another name with --name", name=known.name
            )
        if key in (feed_url_key(known.url), feed_url_key(known.config_url or "")):
            raise FeedExistsError(f"feed {known.name!r} already has this URL", name=known.name)


def check_url(settings: Settings, feed: FeedSettings, allow_private: bool) -> FeedLink | None:
    """The feed to add: ``feed``'s URL when it is a feed (or cannot be reached now: a warning says so), the one feed
    of a web page; None when the page has several (they are listed).

    Raises:
        MonitorError: a blocked address, a client error, a body that is no feed, a page without feeds.
    """
    try:
        found, single = asyncio.run(_discover(settings, feed.url, allow_private))
    except BlockedAddressError as e:
        hint = ": add --allow-private to add a feed on your own network" if "allow_private" in str(e) else ""
        raise MonitorError(f"blocked: {e.reason or e}{hint}") from None
    except FetchStatusError as e:
        if 400 <= e.status < 500 and e.status != 429:
            raise MonitorError(
                f"the server answered HTTP {e.status}: check the URL (--no-check adds it anyway)"
            ) from None
        _warn_unchecked(feed.url, e)
        return FeedLink(feed.url)
    except FetchError as e:
        _warn_unchecked(feed.url, e)
        return FeedLink(feed.url)
    except FeedParseError as e:
        raise MonitorError(f"this is not a feed ({e}); --no-check adds it anyway") from None
    if found.is_feed:
        return FeedLink(feed.url, found.title)
    if single is not None:
        console.print(plain(f"This is a web page; its feed is {link(single.url)}"))
        return single
    if not found.feeds:
        raise MonitorError(
            'this is a web page and it names no feed (no <link rel="alternate"> to one, nothing at '
            f"{', '.join(COMMON_PATHS)}): look for the site's RSS or Atom link"
        )
    console.print(plain("This is a web page; its feeds are:"))
    for each in found.feeds:
        console.print(plain(f"  {link(each.url)}" + (f"  {each.title}" if each.title else "")))
    console.print(plain("Add one with `monitor feeds add URL`."))
    return None


async def _discover(settings: Settings, url: str, allow_private: bool) -> tuple[Discovery, FeedLink | None]:
    """What ``url`` is, and the feed to add when it is a web page offering exactly one that reads as a feed."""
    async with Fetcher(settings.fetch) as fetcher:
        found = await discover(fetcher, url, allow_private=allow_private)
        if found.is_feed or len(found.feeds) != 1:
            return found, None
        try:
            linked = await discover(fetcher, found.feeds[0].url, allow_private=allow_private)
        except (FetchError, FeedParseError) as e:
            raise MonitorError(f"this is a web page; its feed link does not answer with a feed: {e}") from None
        if not linked.is_feed:
            raise MonitorError("this is a web page; its feed link leads to another web page") from None
        return found, FeedLink(found.feeds[0].url, linked.title)


def _warn_unchecked(url: str, error: Exception) -> None:
    err_console.print(
        plain(
            f"warning: could not check {link(url)} ({error}); adding it anyway: "
            "`monitor feeds list` shows its health after the next poll",
            "yellow",
        )
    )


def import_feeds(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="An OPML file, as feed readers export (use - for standard input)."),
) -> None:
    """Add the feeds of an OPML file (as feed readers export them).

    Names come from each outline's title (or text), tags from its folders and categories. A feed whose URL is
    already there is skipped and reported; one whose name is taken gets a number."""
    opml = read_opml(_read_bounded(file), source=str(file))
    skipped = list(opml.skipped)
    with monitor_from(ctx) as monitor:
        known = monitor.feeds()  # config.toml's feeds included, before their first poll
        owners = {feed_url_key(url): f.name for f in known for url in (f.config_url, f.url) if url}
        names = {f.name for f in known}
        numbers: dict[str, int] = {}
        batch = []
        for feed in opml.feeds:
            key = feed_url_key(feed.url)
            if key in owners:
                skipped.append(f"{feed.name!r}: feed {owners[key]!r} already has this URL")
                continue
            name = _free_name(feed.name, names, numbers)
            owners[key] = name
            batch.append(FeedSettings(url=feed.url, name=name, tags=feed.tags))
        results = monitor.store.add_feeds(batch)
    skipped += [f"{f.name!r}: {r}" for f, r in zip(batch, results, strict=True) if isinstance(r, FeedExistsError)]
    added = len(results) - sum(isinstance(r, FeedExistsError) for r in results)
    console.print(plain(f"Imported {_count(added, 'feed')} from {file}; skipped {len(skipped)}."))
    for line in skipped[:_MAX_REPORTED]:
        console.print(plain(f"  skipped {line}", "yellow"))
    if len(skipped) > _MAX_REPORTED:
        console.print(plain(f"  … and {len(skipped) - _MAX_REPORTED} more", "yellow"))


class ExportFormat(str, Enum):  # noqa: UP042 - as common.Format
    """Formats of ``feeds export``."""

    opml = "opml"


def export_feeds(
    ctx: typer.Context,
    format: ExportFormat = typer.Option(ExportFormat.opml, "--format", "-f"),
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file (default: standard output)."),
) -> None:
    """Write the enabled feeds as OPML 2.0, for a feed reader or `feeds import`.

    The feeds of config.toml and those added here; URLs are written whole, credentials included."""
    with monitor_from(ctx) as monitor:
        feeds = [OpmlFeed(f.url, f.name, f.tags) for f in monitor.feeds() if f.enabled]
    text = write_opml(feeds)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as e:
        raise MonitorError(f"{output}: cannot write: {e.strerror or e}") from None
    console.print(plain(f"Exported {_count(len(feeds), 'feed')} to {output}"))


_MAX_REPORTED = 50  # skipped outlines listed one a line; the rest counted


def _read_bounded(file: Path) -> bytes:
    """The file's bytes, one more than ``MAX_BYTES`` at most (``read_opml`` refuses that)."""
    try:
        if str(file) == "-":
            return sys.stdin.buffer.read(MAX_BYTES + 1)
        with file.open("rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except OSError as e:
        raise MonitorError(f"{file}: cannot read: {e.strerror or e}") from None


def _free_name(name: str, taken: set[str], numbers: dict[str, int]) -> str:
    """``name``, else ``name (2)``, ``name (3)``…: the first not taken, which it becomes. ``numbers`` remembers
    where each name's count stopped, so a file of one name repeated costs linear time."""
    candidate, number = name, numbers.get(name, 1)
    while candidate in taken:
        number += 1
        candidate = f"{name} ({number})"
    numbers[name] = number
    taken.add(candidate)
    return candidate


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
