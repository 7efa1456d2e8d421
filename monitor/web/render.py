"""Rendering pages: one Jinja2 environment (autoescape on), the filters every page uses, the CSRF field.

Everything that came from a feed or a page reaches HTML through autoescape or ``marked`` (which escapes each piece
before it wraps hit spans in ``<mark>``); no template marks feed text ``|safe``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.responses import Response

from monitor.clock import iso_utc, local_time
from monitor.web.auth import csrf_token, is_read_only, user_of

__all__ = ["TEMPLATES", "csrf_field", "iso", "marked", "page", "when"]

_HERE = Path(__file__).parent
_env = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,  # a misspelt name fails the test that renders it, not silently blank
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES = Jinja2Templates(env=_env)


def when(request: Request, value: datetime | None, *, seconds: bool = False) -> str:
    """A stored time as people read it, in ``[scheduler] timezone``; "-" for none."""
    if value is None:
        return "-"
    return local_time(value, ZoneInfo(request.app.state.monitor.settings.scheduler.timezone), seconds=seconds)


def iso(value: datetime | None) -> str:
    """A stored time as ISO 8601 UTC (``<time datetime=…>``, JSON); "" for none."""
    return iso_utc(value) if value is not None else ""


def marked(text: str, spans: Iterable[tuple[int, int]]) -> Markup:
    """``text`` escaped, with each (start, end) span wrapped in ``<mark>``; overlapping spans are merged."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[str] = []
    at = 0
    for start, end in merged:
        out.append(str(escape(text[at:start])))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        at = end
    out.append(str(escape(text[at:])))
    return Markup("".join(out))


def csrf_field(request: Request) -> Markup:
    """The hidden CSRF input every POST form carries."""
    return Markup('<input type="hidden" name="csrf" value="{}">').format(csrf_token(request))


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    """The template ``name`` rendered for ``request`` with the context every page shares."""
    shared = {
        "csrf": csrf_token(request),
        "user": user_of(request),
        "read_only": is_read_only(request),
        "when": lambda value, seconds=False: when(request, value, seconds=seconds),
        "csrf_field": lambda: csrf_field(request),
    }
    return TEMPLATES.TemplateResponse(request, name, {**shared, **context}, status_code=status_code)


_env.filters["iso"] = iso
_env.globals["marked"] = marked
