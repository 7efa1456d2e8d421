"""Alert rendering: Jinja2 sandboxed templates for immediate alerts, digests and throttle summaries.

Inputs: ``StoryAlert`` values (a story's rules, its article, snippet and hits) and a channel format
(text | markdown | html). Output: ``Message(title, body, format)`` ready for apprise.

Article text is hostile (docs/design.md "Feed and page text is never trusted"). Every value a template prints is
escaped for its format without the template asking: HTML by Jinja's autoescape, markdown by a ``finalize`` hook that
backslash-escapes control characters and links, and every format neutralises chat mentions (``@channel``,
``@**all**``, ``<!here>``, ``<@&role>`` …) with a zero-width space. Only values marked safe by our own filters (the
highlighted snippet) pass as they are. User templates in ``notify.templates`` override the shipped ones by file
name. A title is bounded (``TITLE_MAX`` characters, ``SUBJECT_BYTES`` encoded) and never fails on a date.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import regex
from markupsafe import Markup, escape

from monitor.errors import NotifyError

if TYPE_CHECKING:  # Jinja2 is imported by the first Renderer: a poll that sends nothing never loads it (~50 ms)
    from jinja2 import ChoiceLoader
    from jinja2.sandbox import SandboxedEnvironment

__all__ = [
    "ALSO_REPORTED_MAX",
    "AlertArticle",
    "AlertRule",
    "DigestGroup",
    "Format",
    "Message",
    "Renderer",
    "SUBJECT_BYTES",
    "StoryAlert",
    "TITLE_MAX",
    "clip",
    "highlight",
    "markdown_escape",
    "neutralise_mentions",
    "render_snippet",
    "subject_size",
]

Format = Literal["text", "markdown", "html"]
_FORMATS: tuple[Format, ...] = ("text", "markdown", "html")
_SHIPPED = Path(__file__).resolve().parent.parent / "templates"
_ZWSP = "\u200b"
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")  # embeddings, overrides and isolates
#: Characters of a message title (an email subject, a chat message's title).
TITLE_MAX = 150
#: Encoded bytes of a title: apprise's email plugin neither folds the ``Subject:`` line nor bounds it, and
#: RFC 5322 allows 998 bytes a line (servers answer "500 Line too long"); 9 for "Subject: ", 12 for the
#: encoded word's ``=?utf-8?q?…?=``, the rest spare. About 100 Khmer or 75 emoji characters.
SUBJECT_BYTES = 900
#: Outlets listed under "also reported by"; the rest are counted ("and 12 more").
ALSO_REPORTED_MAX = 5
# Mention syntax, matched on a folded shadow of the text (NFKC, casefold, invisible characters dropped), so
# ``＠ＥＶＥＲＹＯＮＥ``, ``@every\u200done`` and ``@Here`` are caught like ``@everyone``:
# any ``@word`` not inside a word (a person, @room, @everyone_x), a keyword even inside one (x@here),
# Zulip's ``@**all**``/``@_*group*``, and Slack/Discord's ``<!here>``, ``<@id>``, ``<@&role>``, ``<#channel>``.
_MENTION = regex.compile(
    r"(?<![\w.+-])@(?=_?[\w*])|@(?=_?\**(?:everyone|here|channel|all|room|stream|topic))"
    r"|<(?=[@!#])"
)
_INVISIBLE = regex.compile(r"[\p{Cf}\p{Mn}\u115f\u1160\u3164\uffa0\u034f]")
_URL_MAX = 2048
_HITS_MAX = 100
_UNENCODABLE = re.compile(r"[\ud800-\udfff]")
_TRIGGERS = re.compile(r"[@<\uff20\ufe6b\uff1c\ufe64]")
_MD_ALWAYS = re.compile(r"([\\`*_\[\]<>|~&])")
#: Scripts written without spaces: the rule language matches their words grapheme by grapheme (docs/rules.md).
_NO_SPACE_CHARS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
_NO_SPACE = regex.compile(f"[{_NO_SPACE_CHARS}]")
_MD_LINE_START = re.compile(r"(?m)^(\s*)([#+\-=]|\d+(?=[.)]))")


@dataclass(frozen=True)
class AlertRule:
    """A rule as an alert shows it."""

    id: str
    title: str
    severity: str
    description: str = ""


@dataclass(frozen=True)
class AlertArticle:
    """An article as an alert shows it (``url`` is only linked when it is http or https)."""

    title: str
    url: str
    feed: str
    published: datetime | None = None


@dataclass(frozen=True)
class StoryAlert:
    """One story for one channel: its rules (highest severity first), the article, snippet and hits."""

    story_id: int
    rules: tuple[AlertRule, ...]
    article: AlertArticle
    snippet: str = ""
    hit_texts: tuple[str, ...] = ()
    also_reported: tuple[AlertArticle, ...] = ()
    also_more: int = 0  # outlets that also reported the story but are not listed (ALSO_REPORTED_MAX)

    @property
    def severity(self) -> str:
        """The highest severity among the rules."""
        return self.rules[0].severity if self.rules else "info"


@dataclass(frozen=True)
class DigestGroup:
    """One rule's stories in a digest, newest first."""

    rule: AlertRule
    stories: tuple[StoryAlert, ...]
    total: int = 0


@dataclass(frozen=True)
class Message:
    """A rendered notification: ``title`` is plain text (the email subject), ``body`` is in ``format``."""

    title: str
    body: str
    format: Format
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def neutralise_mentions(text: str) -> str:
    """Break every chat mention in ``text`` with a zero-width space after its ``@`` or ``<``.

    Covers ``@channel``/``@everyone``/``@here``/``@all``/``@room`` (also glued to a word, ``@everyone_x``), any
    ``@name``, Zulip ``@**all**``, Slack ``<!here>`` and Discord ``<@&role>``/``<@id>``/``<#channel>``, in any
    case, full-width or with invisible characters inside. Idempotent. Linear in ``len(text)``.
    """
    if not _TRIGGERS.search(text):
        return text
    shadow: list[str] = []
    origin: list[int] = []  # index in ``text`` of each shadow character
    for i, char in enumerate(text):
        if _INVISIBLE.match(char) and not (char == _ZWSP and i and text[i - 1] in "@<\uff20\ufe6b\uff1c\ufe64"):
            continue  # kept after a trigger: that mention is already broken
        folded = unicodedata.normalize("NFKC", char).casefold() if ord(char) > 127 else char.lower()
        shadow.extend(folded)
        origin.extend([i] * len(folded))
    cuts = sorted({origin[m.start()] for m in _MENTION.finditer("".join(shadow))})
    pieces: list[str] = []
    start = 0
    for cut in cuts:
        if text[cut + 1 : cut + 2] != _ZWSP:
            pieces.extend((text[start : cut + 1], _ZWSP))
            start = cut + 1
    return "".join(pieces) + text[start:]


def clip(text: str, limit: int, weigh: Callable[[str], int] = len) -> str:
    """``text`` cut to a ``weigh`` of at most ``limit`` (characters by default) with "…", at a word or else a
    grapheme boundary (never after a virama or Khmer coeng, which join the next letter). Linear in the kept part."""
    if weigh(text) <= limit:
        return text
    budget = limit - weigh("…")
    end = used = 0
    for grapheme in regex.finditer(r"\X", text):
        used += weigh(grapheme.group())
        if used > budget:
            break
        if unicodedata.combining(text[grapheme.end() - 1]) != 9:
            end = grapheme.end()
    space = text.rfind(" ", 0, end + 1)
    if space > end * 0.8:  # a word boundary not far back reads better than a cut word
        end = space
    return text[:end].rstrip() + "…"


def subject_size(text: str) -> int:
    """Bytes ``text`` takes in a ``Subject:`` line when quoted-printable encoded (RFC 2047), as apprise does.

    An upper bound: letters, digits and spaces take one byte, every other byte of its UTF-8 three (``=F0``).
    """
    return sum(
        1 if char.isascii() and (char.isalnum() or char == " ") else 3 * len(char.encode("utf-8", "replace"))
        for char in text
    )


def markdown_escape(text: str) -> str:
    """Escape ``text`` so markdown shows it literally: no emphasis, links, HTML, headings or lists."""
    text = _MD_ALWAYS.sub(r"\\\1", text)
    text = _MD_LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)
    return text.replace("://", "\\://").replace("www.", "www\\.")


def render_snippet(snippet: str, hits: Sequence[object], fmt: Format = "text") -> str:
    """``snippet`` with its hits marked for ``fmt`` (hits: ``MatchHit``-like objects with ``.text``, or strings)."""
    texts = [hit if isinstance(hit, str) else str(getattr(hit, "text", "")) for hit in hits]
    return str(highlight(snippet, texts, fmt))


def highlight(snippet: str, hit_texts: Sequence[str], fmt: Format) -> Markup:
    """Mark every occurrence of the hits' matched text in ``snippet`` (<mark> in HTML, ``**…**`` otherwise).

    The snippet is plain text from a hostile page: it is escaped for ``fmt`` around the marks, and its mentions
    are broken before it is split, so a mark cannot join ``@`` to ``**everyone**`` (a Zulip mention).
    """
    snippet = _defused(snippet)
    spans = _hit_spans(snippet, hit_texts)
    pieces: list[str] = []
    cursor = 0
    for start, end in spans:
        pieces.append(_escape_for(snippet[cursor:start], fmt))
        word = _escape_for(snippet[start:end], fmt)
        pieces.append(f"<mark>{word}</mark>" if fmt == "html" else f"**{word}**")
        cursor = end
    pieces.append(_escape_for(snippet[cursor:], fmt))
    return Markup("".join(pieces))


class Renderer:
    """Renders alerts with the shipped templates, overridden by files in ``templates`` (if given).

    Args:
        templates: the ``notify.templates`` folder; a file there replaces the shipped file of the same name
            (``alert.html.j2``, ``digest.markdown.j2``, ``summary.text.j2``, ``alert.title.j2`` …).
        tz: the zone dates are shown in (``scheduler.timezone``).
    """

    def __init__(self, templates: Path | None = None, tz: str = "UTC") -> None:
        from jinja2 import ChoiceLoader, FileSystemLoader

        folders = [str(templates)] if templates else []
        loader = ChoiceLoader([FileSystemLoader([*folders, str(_SHIPPED)])])
        zone = ZoneInfo(tz)
        self._envs = {fmt: _environment(loader, fmt, zone) for fmt in _FORMATS}

    def alert(self, alert: StoryAlert, fmt: Format) -> Message:
        """One immediate alert for one story."""
        return self._render("alert", fmt, alert=alert)

    def digest(self, groups: Sequence[DigestGroup], fmt: Format, *, stories: int, omitted: int = 0) -> Message:
        """A digest: ``groups`` by rule, newest story first; ``omitted`` items over ``digest_max_items``."""
        return self._render("digest", fmt, groups=list(groups), stories=stories, omitted=omitted)

    def summary(self, alerts: Sequence[StoryAlert], fmt: Format, *, limit: int) -> Message:
        """The throttle summary: the alerts that did not fit in ``limit`` messages per hour."""
        return self._render("summary", fmt, alerts=list(alerts), limit=limit)

    def _render(self, kind: str, fmt: Format, **context: Any) -> Message:
        from jinja2 import TemplateError

        try:
            title_env = self._envs["markdown" if fmt == "markdown" else "text"]
            title = title_env.get_template(f"{kind}.title.j2").render(**context)
            body = self._envs[fmt].get_template(f"{kind}.{fmt}.j2").render(**context)
        except TemplateError as e:
            raise NotifyError(f"template {kind}.{fmt}.j2 failed: {type(e).__name__}: {e}") from e
        title = clip(clip(" ".join(_clean(title).split()), TITLE_MAX), SUBJECT_BYTES, subject_size)
        return Message(title=title, body=_clean(body).strip() + "\n", format=fmt)


def _clean(text: str) -> str:
    """``text`` without NUL and lone surrogates (no encoder takes them; a user template may still print them)."""
    return _UNENCODABLE.sub("\ufffd", text).replace("\x00", "")


def _environment(loader: ChoiceLoader, fmt: Format, zone: ZoneInfo) -> SandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        loader=loader,
        autoescape=fmt == "html",
        undefined=StrictUndefined,
        finalize=_finalizer(fmt),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["hl"] = lambda alert: highlight(alert.snippet, alert.hit_texts, fmt)
    env.filters["localtime"] = lambda when: _localtime(when, zone)
    env.filters["link"] = (
        (lambda url: Markup(_safe_link(url).replace("(", "%28").replace(")", "%29")))
        if fmt == "markdown"
        else _safe_link
    )
    return env


def _finalizer(fmt: Format) -> Callable[[Any], Any]:
    def finalize(value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, Markup):
            return value
        text = _defused(str(value))
        return markdown_escape(text) if fmt == "markdown" else text

    return finalize


def _defused(text: str) -> str:
    """Hostile text made safe to show: chat mentions broken, bidi overrides and isolates removed (a title or snippet
    that reverses itself on screen could pass one story off as another)."""
    return neutralise_mentions(_BIDI.sub("", text))


def _escape_for(text: str, fmt: Format) -> str:
    text = _defused(text)
    if fmt == "html":
        return str(escape(text))
    return markdown_escape(text) if fmt == "markdown" else text


def _hit_spans(snippet: str, hit_texts: Sequence[str]) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) spans of the hit texts in ``snippet``, case-insensitive, whole words.

    A wildcard may hit 100,000 distinct words of a hostile article: only the texts found in the snippet, and at most
    ``_HITS_MAX`` of them, are searched for (each search is a regex over the snippet).
    """
    folded = snippet.casefold()
    # A snippet's whitespace runs are collapsed to one space: so are a hit's (a phrase across a line break).
    found = [t for t in dict.fromkeys(" ".join(t.split()) for t in hit_texts) if t and t.casefold() in folded]
    spans: list[tuple[int, int]] = []
    for text in sorted(found[:_HITS_MAX], key=len, reverse=True):
        # Whole words, except where a script written without spaces (Thai, Khmer, Chinese …) meets the hit: the
        # matcher finds words there grapheme by grapheme, so a hit inside such a run is a hit.
        before = "" if _NO_SPACE.match(text) else rf"(?<![^\W{_NO_SPACE_CHARS}])"
        after = "" if _NO_SPACE.match(text[-1]) else rf"(?![^\W{_NO_SPACE_CHARS}])"
        pattern = regex.compile(before + regex.escape(text) + after, regex.IGNORECASE | regex.V0)
        for m in pattern.finditer(snippet):
            if all(m.end() <= s or m.start() >= e for s, e in spans):
                spans.append((m.start(), m.end()))
    return sorted(spans)


def _localtime(when: datetime | None, zone: ZoneInfo) -> str:
    """``when`` in ``zone``; a date so near year 1 or 9999 that the zone's offset overflows is shown in UTC."""
    if when is None:
        return "date unknown"
    aware = when.replace(tzinfo=UTC) if when.tzinfo is None else when
    try:
        local = aware.astimezone(zone)
        name = local.isoformat()[-6:]  # its offset, +06:30, as every human-facing time shows it (cli.common)
    except (OverflowError, ValueError):  # the zone's offset would leave years 1..9999: show it as it came
        local = aware
        name = "UTC" if aware.utcoffset() == timedelta(0) else aware.strftime("%z")
    # Formatted by hand: strftime pads years below 1000 differently per platform.
    return f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d} {name}".rstrip()


def _safe_link(url: str) -> str:
    """The URL if it is http(s) and at most 2,048 characters, else empty: a hostile feed must not plant
    ``javascript:`` links nor fill a message with one URL."""
    if len(url or "") > _URL_MAX or not re.match(r"(?i)^https?://[^\s<>\"']+$", url or ""):
        return ""
    # "@" after the host is "%40" (the same URL), so the mention guard need not break a link like /@name; that
    # includes a query or fragment right after the host (``https://host?@everyone``). A user info part is dropped:
    # it holds credentials or, in markdown where links are not escaped, a mention (``https://x@everyone.org``).
    scheme, _, rest = url.partition("://")
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    host = rest[:end].rpartition("@")[2]
    return f"{scheme}://{host}{rest[end:].replace('@', '%40')}" if host else ""
