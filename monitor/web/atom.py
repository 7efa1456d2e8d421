"""Atom 1.0 feeds of matches, for feed readers: ``/atom/matches.xml`` and ``/atom/rules/{rule_id}.xml``.

Each holds the newest 50 matches (of every rule, or of one), one entry per match: a stable id
(``tag:monitor,2026:match:<id>``: the same match is the same entry on every read), the rule and the article's title,
the article's link (http(s) only, credentials redacted), the snippet as text (escaped by the XML writer, never markup)
and the match's time. Readers that cannot send an ``Authorization`` header pass ``?token=`` (``AtomReader``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from xml.etree import ElementTree as ET

from fastapi import APIRouter, HTTPException, Path, Request
from starlette.responses import Response

from monitor import __version__
from monitor.api import Monitor
from monitor.clock import iso_utc
from monitor.errors import MonitorError
from monitor.matchview import safe_href
from monitor.store import MatchFilter, MatchRecord
from monitor.web.auth import AtomReader
from monitor.web.matches import Problem

__all__ = [
    "ATOM_ENTRIES",
    "atom_matches",
    "atom_rule",
    "entry_id",
    "router",
]

router = APIRouter(tags=["atom"])

#: Entries per feed: the newest matches.
ATOM_ENTRIES = 50
_ATOM = "http://www.w3.org/2005/Atom"
_MEDIA_TYPE = "application/atom+xml; charset=utf-8"
_TAG = "tag:monitor,2026:"
_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"application/atom+xml": {}}, "description": "An Atom 1.0 feed."},
}
_RuleId = Annotated[str, Path(min_length=1, max_length=200)]


def entry_id(match: MatchRecord) -> str:
    """The Atom id of a match's entry: stable across reads, restarts and page sizes."""
    return f"{_TAG}match:{match.id}"


@router.get(
    "/atom/matches.xml", response_class=Response, responses=_RESPONSES, summary="Atom feed of the newest matches"
)
def atom_matches(request: Request, _: AtomReader) -> Response:
    """The newest 50 matches of every rule."""
    monitor: Monitor = request.app.state.monitor
    found = monitor.browse_matches(limit=ATOM_ENTRIES).items
    return _feed(request, f"{_TAG}matches", "monitor: matches", found)


@router.get(
    "/atom/rules/{rule_id}.xml",
    response_class=Response,
    responses={
        **_RESPONSES,
        404: {"model": Problem, "description": "No rule has this id (loaded or with stored matches)."},
        422: {"model": Problem, "description": "The rule id is not one (empty or too long)."},
    },
    summary="Atom feed of one rule's newest matches",
)
def atom_rule(request: Request, _: AtomReader, rule_id: _RuleId) -> Response:
    """The newest 50 matches of one rule (an empty feed for a loaded rule that has matched nothing yet)."""
    monitor: Monitor = request.app.state.monitor
    if any(c in rule_id for c in "*?"):  # one rule's feed: a glob is no rule id
        raise HTTPException(404, f"no rule with id {rule_id!r}")
    items = monitor.browse_matches(MatchFilter(rule=rule_id), limit=ATOM_ENTRIES).items
    if not items and not _rule_known(monitor, rule_id):
        raise HTTPException(404, f"no rule with id {rule_id!r}")
    title = _rule_title(monitor, rule_id)
    return _feed(request, f"{_TAG}rule:{rule_id}", f"monitor: {title}", items)


def _rule_known(monitor: Monitor, rule_id: str) -> bool:
    try:
        return monitor.rules.get(rule_id) is not None
    except MonitorError:  # rule files broken at the first load: only stored matches can say
        return False


def _rule_title(monitor: Monitor, rule_id: str) -> str:
    try:
        rule = monitor.rules.get(rule_id)
    except MonitorError:
        rule = None
    return rule.title if rule is not None and rule.title else rule_id


def _text(parent: ET.Element, tag: str, value: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{_ATOM}}}{tag}", attrs)
    element.text = _xml_safe(value)
    return element


def _xml_safe(value: str) -> str:
    """``value`` without the characters XML 1.0 cannot hold (control characters; a feed may carry them)."""
    return "".join(
        ch
        for ch in value
        if ch in "\t\n\r" or (" " <= ch <= "\ud7ff") or ("\ue000" <= ch <= "\ufffd") or ch >= "\U00010000"
    )


def _feed(request: Request, feed_id: str, title: str, matches: tuple[MatchRecord, ...]) -> Response:
    ET.register_namespace("", _ATOM)
    feed = ET.Element(f"{{{_ATOM}}}feed")
    _text(feed, "id", feed_id)
    _text(feed, "title", title)
    newest: datetime | None = max((m.matched_at for m in matches), default=None)
    _text(feed, "updated", iso_utc(newest or request.app.state.monitor.clock()))
    _text(feed, "generator", "monitor", version=__version__)
    self_href = _xml_safe(str(request.url.remove_query_params("token")))  # the token never goes into the feed
    ET.SubElement(feed, f"{{{_ATOM}}}link", {"rel": "self", "href": self_href})
    ET.SubElement(feed, f"{{{_ATOM}}}link", {"rel": "alternate", "type": "text/html", "href": str(request.base_url)})
    author = ET.SubElement(feed, f"{{{_ATOM}}}author")
    _text(author, "name", "monitor")
    for match in matches:
        _entry(request, feed, match)
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type=_MEDIA_TYPE)


def _entry(request: Request, feed: ET.Element, match: MatchRecord) -> None:
    article = match.article
    entry = ET.SubElement(feed, f"{{{_ATOM}}}entry")
    _text(entry, "id", entry_id(match))
    _text(entry, "title", f"[{match.severity}] {match.rule}: {article.title or '(no title)'}", type="text")
    _text(entry, "updated", iso_utc(match.matched_at))
    if article.published is not None:
        _text(entry, "published", iso_utc(article.published))
    author = ET.SubElement(entry, f"{{{_ATOM}}}author")
    _text(author, "name", article.feed or "monitor")
    href = safe_href(article.url)
    if href:
        ET.SubElement(entry, f"{{{_ATOM}}}link", {"rel": "alternate", "href": _xml_safe(href)})
    detail = str(request.base_url).rstrip("/") + f"/matches/{match.id}"
    ET.SubElement(entry, f"{{{_ATOM}}}link", {"rel": "related", "type": "text/html", "href": detail})
    _text(entry, "summary", match.snippet, type="text")
    ET.SubElement(entry, f"{{{_ATOM}}}category", {"term": match.severity, "label": "severity"})
    for tag in match.tags:
        ET.SubElement(entry, f"{{{_ATOM}}}category", {"term": _xml_safe(tag)})
