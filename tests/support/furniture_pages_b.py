"""Set B of the furniture set, written blind (tests/data/furniture/set-b/*.yaml) -> article pages and feeds.

Set B measures the furniture detector on pages it was not tuned on: other stories, other furniture (editor's picks,
"From our partners", sponsored and video blocks, photo captions, corrections, "Listen to this article", app and
donation asks, pagination...), other words in the eight languages and other site markup (a Ghost-like blog, a
Drupal-like site with ``views-row`` blocks, a Chinese portal with ``<ul class="list">``, a legacy site that is all
``<p>`` and ``<br>``, schema.org microdata with ``<aside>`` inside ``<article>``, a ``<table>`` layout). Unlike set A,
nothing is composed by rotation: every block is written out in ``furniture.yaml`` and ``pages.yaml`` pairs each
story with its block, placement and template, one row per page. ``docs/furniture.md`` describes the set.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.support.furniture_pages import DATA, Story

__all__ = [
    "DATA_B",
    "KINDS_B",
    "PLACES_B",
    "TEMPLATES_B",
    "BlockB",
    "PageB",
    "clean_misses",
    "pages_b",
    "render_b",
    "rss_b",
]

DATA_B = DATA / "set-b"
KINDS_B = (
    "editors-picks",
    "popular",
    "trending",
    "more-from",
    "see-also",
    "see-also-inline",
    "recommended",
    "sponsored",
    "video",
    "gallery",
    "caption",
    "next-article",
    "comments",
    "newsletter",
    "support",
    "app-promo",
    "listen",
    "correction",
    "tags",
    "ticker",
    "author-bio",
    "read-to-earn",
    "headless",
)
#: before: above the article; top: in the article, before the body; inline: between the first two paragraphs;
#: aside: an ``<aside>`` in the article between the second and third paragraphs; end: in the article after the body;
#: after: outside the article (sidebar, comments area, footer).
PLACES_B = ("before", "top", "inline", "aside", "end", "after")
TEMPLATES_B = ("ghost", "drupal", "cnportal", "pbr", "microdata", "table")
_SHAPES = (
    "links",
    "dated",
    "numbered",
    "cards",
    "plain",
    "video",
    "thumbs",  # lists
    "disqus",
    "facebook",
    "threaded",
    "bare",
)  # comments
_FIGURES = {"caption", "gallery"}
_PROMOS = {"newsletter", "support", "app-promo", "listen", "author-bio", "correction", "read-to-earn"}
_BASE_DATE = datetime(2026, 11, 27, 9, 15, tzinfo=UTC)


@dataclass(frozen=True)
class BlockB:
    """One furniture block as written: a heading ("" for none), then items (headlines, tags, captions),
    paragraphs (a promo, a note) and (author, words) comments; ``bait`` says it carries the topic."""

    id: str
    kind: str
    lang: str
    bait: bool
    heading: str = ""
    items: tuple[str, ...] = ()
    paras: tuple[str, ...] = ()
    comments: tuple[tuple[str, str], ...] = ()
    shape: str = "links"
    cta: str = ""  # a button's words

    def text(self) -> str:
        """The block's visible words, as a reader sees them."""
        return "\n".join(
            [self.heading, *self.items, *self.paras, *(f"{a}\n{t}" for a, t in self.comments), self.cta]
        ).strip()


@dataclass(frozen=True)
class PageB:
    """A labelled page of set B: its story, site template, furniture block and where the block sits."""

    story: Story
    template: str
    block: BlockB
    place: str

    @property
    def id(self) -> str:
        return f"{self.story.id}--{self.block.kind}-{self.place}-{self.template}"

    @property
    def on_topic(self) -> bool:
        return bool(self.story.match)

    @property
    def feed(self) -> str:
        return f"b-{self.template}"


def load_set(folder: Path, name: str) -> Any:
    """One YAML file of a set-B-shaped set (sets B and C share the format)."""
    return yaml.safe_load((folder / name).read_text(encoding="utf-8"))


def set_clean_misses(folder: Path) -> dict[str, frozenset[str]]:
    """Story id -> labels the shipped rules miss on the clean story itself (a rule gap, not furniture)."""
    stories = load_set(folder, "ontopic.yaml")["stories"]
    return {s["id"]: frozenset(s["clean_miss"]) for s in stories if s.get("clean_miss")}


def set_stories(folder: Path) -> dict[str, Story]:
    """Stories by id; an on-topic story's ``match`` is what its page must raise: its label less its clean misses."""
    out: dict[str, Story] = {}
    for name in ("offtopic.yaml", "ontopic.yaml"):
        for s in load_set(folder, name)["stories"]:
            body = tuple(" ".join(str(p).split()) for p in s["body"])
            words = body[0].split()
            teaser = " ".join(words[:14]) + " …" if len(words) > 14 else body[0][:48] + "…"
            label = frozenset(s.get("match") or ()) - frozenset(s.get("clean_miss") or ())
            out[s["id"]] = Story(s["id"], s["lang"], s["title"], s.get("summary") or teaser, body, label)
    return out


def set_blocks(folder: Path) -> dict[str, BlockB]:
    out: dict[str, BlockB] = {}
    for b in load_set(folder, "furniture.yaml")["blocks"]:
        out[b["id"]] = BlockB(
            b["id"],
            b["kind"],
            b["lang"],
            bool(b["bait"]),
            str(b.get("heading") or ""),
            tuple(map(str, b.get("items") or ())),
            tuple(map(str, b.get("paras") or ())),
            tuple((str(a), str(t)) for a, t in b.get("comments") or ()),
            str(b.get("shape") or "links"),
            str(b.get("cta") or ""),
        )
    return out


@cache
def clean_misses() -> dict[str, frozenset[str]]:
    """Set B's clean misses (``set_clean_misses``)."""
    return set_clean_misses(DATA_B)


@cache
def pages_b() -> tuple[PageB, ...]:
    """Every page of set B, in the order of ``pages.yaml``."""
    stories, blocks = set_stories(DATA_B), set_blocks(DATA_B)
    rows = load_set(DATA_B, "pages.yaml")["pages"]
    return tuple(PageB(stories[s], t, blocks[b], p) for s, b, p, t in rows)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _href(text: str) -> str:
    slug = "-".join("".join(c if c.isascii() and c.isalnum() else " " for c in text.lower()).split())[:50]
    return f"/story/{slug or sum(map(ord, text)) % 99991}"


def _ago(text: str, lang: str) -> str:
    n = 1 + len(text) % 9
    return {
        "zh": f"11-{10 + n}",
        "fr": f"il y a {n} h",
        "vi": f"{n} giờ trước",
        "id": f"{n} jam lalu",
        "ms": f"{n} jam lalu",
        "th": f"{n} ชั่วโมงที่แล้ว",
        "km": f"{n} ម៉ោងមុន",
    }.get(lang, f"{n}h ago")


def _item(block: BlockB, i: int, text: str) -> str:
    """One list item in the block's shape."""
    link = f'<a href="{_href(text)}">{_e(text)}</a>'
    shape = block.shape
    if shape == "dated":
        return f'{link} <span class="date">{_ago(text, block.lang)}</span>'
    if shape == "numbered":
        return f'<span class="rank">{i + 1}</span> {link}'
    if shape == "cards":
        return (
            f'<div class="card"><span class="kicker">{_e(block.heading or "News")}</span><h4>{_e(text)}</h4>'
            f'<a class="more" href="{_href(text)}">&rarr;</a></div>'
        )
    if shape == "plain":
        return _e(text)
    if shape == "video":
        return f'<span class="duration">{1 + len(text) % 4}:{(7 * len(text)) % 60:02d}</span> {link}'
    if shape == "thumbs":
        return f'<a href="{_href(text)}"><img src="/img/t{i}.jpg" alt=""></a> {link}'
    return link


# Per template: (block wrapper, heading, list open, list item, list close, paragraph).
_DIALECTS: dict[str, tuple[str, str, str, str, str, str]] = {
    "ghost": (
        '<section class="gh-{k}">{x}</section>',
        '<h3 class="gh-heading">{x}</h3>',
        '<div class="gh-feed">',
        '<article class="gh-card">{x}</article>',
        "</div>",
        "<p>{x}</p>",
    ),
    "drupal": (
        '<div class="block block-views block-{k}"><div class="view view-{k}">{x}</div></div>',
        '<h2 class="block-title">{x}</h2>',
        '<div class="view-content">',
        '<div class="views-row"><div class="views-field views-field-title"><span class="field-content">{x}'
        "</span></div></div>",
        "</div>",
        '<div class="field-content"><p>{x}</p></div>',
    ),
    "cnportal": (
        '<div class="box {k}">{x}</div>',
        '<div class="box-tit"><span>{x}</span><a class="more" href="#">更多&gt;&gt;</a></div>',
        '<ul class="list">',
        "<li>{x}</li>",
        "</ul>",
        "<p>{x}</p>",
    ),
    "pbr": ("<p>{x}</p>", "<b>{x}</b><br>", "", "{x}<br>", "", "{x}<br><br>"),
    "microdata": (
        '<aside class="{k}">{x}</aside>',
        "<h2>{x}</h2>",
        "<ol>",
        '<li itemscope itemtype="https://schema.org/NewsArticle"><span itemprop="headline">{x}</span></li>',
        "</ol>",
        "<p>{x}</p>",
    ),
    "table": (
        '<table class="blk" width="100%">{x}</table>',
        '<tr><td class="blk-h">{x}</td></tr>',
        "",
        '<tr><td class="blk-i">&middot; {x}</td></tr>',
        "",
        "<tr><td>{x}</td></tr>",
    ),
}


def _inner(block: BlockB, template: str) -> str:
    """The block's content in the template's dialect (without its wrapper)."""
    _, head, lst, item, end, para = _DIALECTS[template]
    parts = [head.format(x=_e(block.heading))] if block.heading else []
    if block.kind in _FIGURES:
        figures = (
            f'<img src="/img/p{i}.jpg" alt=""><br><i>{_e(t)}</i><br>'
            if template == "pbr"
            else f'<figure><img src="/img/p{i}.jpg" alt=""><figcaption>{_e(t)}</figcaption></figure>'
            for i, t in enumerate(block.items)
        )
        parts.append(para.format(x="".join(figures)) if template == "table" else "".join(figures))
    elif block.kind == "tags":
        parts.append(para.format(x=" ".join(f'<a rel="tag" href="{_href(t)}">{_e(t)}</a>' for t in block.items)))
    elif block.items:
        parts.append(lst + "".join(item.format(x=_item(block, i, t)) for i, t in enumerate(block.items)) + end)
    parts.extend(para.format(x=_e(p)) for p in block.paras)
    if block.cta:
        parts.append(para.format(x=f'<a class="button" href="#">{_e(block.cta)}</a>'))
    parts.append(_comments(block, template, para))
    return "".join(parts)


def _comments(block: BlockB, template: str, para: str) -> str:
    if not block.comments:
        return ""
    if template in ("pbr", "table") or block.shape == "bare":
        return "".join(para.format(x=f"<b>{_e(a)}</b> {_e(_ago(t, block.lang))}<br>{_e(t)}") for a, t in block.comments)
    if block.shape == "facebook":
        return (
            '<div class="fb-comments">'
            + "".join(
                f'<div class="_3-8y"><a href="#">{_e(a)}</a><div>{_e(t)}</div><div>Like · Reply · '
                f"{_ago(t, block.lang)}</div></div>"
                for a, t in block.comments
            )
            + "</div>"
        )
    if block.shape == "threaded":  # the second comment is a reply to the first
        first, *rest = block.comments
        reply = "".join(f'<li class="comment depth-2"><cite>{_e(a)}</cite><p>{_e(t)}</p></li>' for a, t in rest)
        return (
            f'<ol class="comment-list"><li class="comment depth-1"><cite>{_e(first[0])}</cite>'
            f'<p>{_e(first[1])}</p><a class="reply">Reply</a><ol class="children">{reply}</ol></li></ol>'
        )
    return (
        '<div id="disqus_thread"><ul class="post-list">'
        + "".join(
            f'<li class="post"><div class="post-byline"><span class="author">{_e(a)}</span> · '
            f'<span>{_ago(t, block.lang)}</span></div><div class="post-message"><p>{_e(t)}</p></div>'
            f'<footer><a href="#">Reply</a> · <a href="#">Share ›</a></footer></li>'
            for a, t in block.comments
        )
        + "</ul></div>"
    )


def _block_html(block: BlockB, template: str, place: str) -> str:
    """The block where it sits: a one-line "See also" note or a caption reads as part of the body."""
    if block.kind == "see-also-inline":
        line = block.items[0]
        note = f'<strong>{_e(block.heading)}</strong> <a href="{_href(line)}">{_e(line)}</a>'
        return f"<tr><td>{note}</td></tr>" if template == "table" else f"<p>{note}</p>"
    wrap = _DIALECTS[template][0]
    html_ = wrap.format(k=block.kind, x=_inner(block, template))
    if block.kind == "headless" and template != "table":  # no wrapper at all: lines right after the story
        html_ = "".join(f"<p>{_item(block, i, t)}</p>" for i, t in enumerate(block.items))
    if place == "aside" and not html_.startswith("<aside"):
        html_ = f'<aside class="inset">{html_}</aside>'
    return html_


def _body(page: PageB, para: str) -> str:
    """The story's paragraphs, with the block between them when it sits inline (after 1) or aside (after 2)."""
    paras = [para.format(x=_e(p)) for p in page.story.body]
    at = {"inline": 1, "aside": 2}.get(page.place)
    if at is not None:
        block = _block_html(page.block, page.template, page.place)
        if page.template == "table" and not block.startswith("<tr>"):
            block = f"<tr><td>{block}</td></tr>"
        paras.insert(min(at, len(paras)), block)
    return "".join(paras)


def render_b(page: PageB) -> str:
    """The page's HTML in its site's template."""
    s, t = page.story, page.template
    at = _BASE_DATE - timedelta(hours=pages_b().index(page))
    slot = {p: _block_html(page.block, t, p) if page.place == p else "" for p in ("before", "top", "end", "after")}
    head = (
        f'<!DOCTYPE html><html lang="{s.lang}"><head><meta charset="utf-8"><title>{_e(s.title)}</title>'
        f'<meta name="description" content="{_e(s.summary)}"><meta property="og:type" content="article">'
        f'<meta property="article:published_time" content="{at.isoformat()}+07:00"></head><body>'
    )
    when = f'<time datetime="{at.isoformat()}+07:00">{at:%Y-%m-%d %H:%M}</time>'
    return head + _TEMPLATES[t](page, slot, when) + "</body></html>"


def _ghost(page: PageB, slot: dict[str, str], when: str) -> str:
    s = page.story
    return (
        f'<div class="gh-site"><header class="gh-navigation"><a class="gh-logo" href="/">Mekong Notes</a>'
        f'<a href="/tag/news/">News</a> <a href="/membership/">Membership</a></header>{slot["before"]}'
        f'<main class="gh-main"><article class="gh-article post tag-news"><header class="gh-article-header">'
        f'<span class="gh-article-tag">News</span><h1 class="gh-article-title">{_e(s.title)}</h1>'
        f'<p class="gh-article-excerpt">{_e(s.summary)}</p><div class="gh-article-meta">{when}</div></header>'
        f'{slot["top"]}<section class="gh-content gh-canvas">{_body(page, "<p>{x}</p>")}</section>{slot["end"]}'
        f'</article>{slot["after"]}</main><footer class="gh-footer">Powered by Ghost</footer></div>'
    )


def _drupal(page: PageB, slot: dict[str, str], when: str) -> str:
    s = page.story
    body = _body(page, "<p>{x}</p>")
    return (
        f'<div class="dialog-off-canvas-main-canvas"><header role="banner"><nav class="breadcrumb"><ol>'
        f'<li><a href="/">Home</a></li><li><a href="/news">News</a></li></ol></nav></header>{slot["before"]}'
        f'<main role="main"><div class="region region-content"><article class="node node--type-article '
        f'node--view-mode-full"><h1 class="page-title"><span class="field field--name-title">{_e(s.title)}'
        f'</span></h1><div class="node__meta">{when}</div>{slot["top"]}<div class="node__content"><div '
        f'class="clearfix text-formatted field field--name-body field--type-text-with-summary">{body}</div>'
        f'{slot["end"]}</div></article></div><div class="region region-sidebar-second">{slot["after"]}</div>'
        f'</main><footer role="contentinfo">Drupal</footer></div>'
    )


def _cnportal(page: PageB, slot: dict[str, str], when: str) -> str:
    s = page.story
    return (
        f'<div class="header"><div class="nav"><a href="/">首页</a> <a href="/gn/">国内</a> <a href="/gj/">国际</a>'
        f'</div></div>{slot["before"]}<div class="main clearfix"><div class="l"><div class="con_box">'
        f'<h1>{_e(s.title)}</h1><div class="info">{when} 来源：本网</div>{slot["top"]}'
        f'<div class="TRS_Editor" id="content">{_body(page, "<p>{x}</p>")}</div>{slot["end"]}'
        f'<div class="editor">（责任编辑：王敏）</div></div></div><div class="r">{slot["after"]}</div></div>'
        f'<div class="footer">版权所有</div>'
    )


def _pbr(page: PageB, slot: dict[str, str], when: str) -> str:
    s = page.story
    return (
        f'<center><p><a href="/">HOME</a> | <a href="/news.html">NEWS</a></p></center>{slot["before"]}'
        f'<p><font size="5"><b>{_e(s.title)}</b></font><br>{when}</p>{slot["top"]}'
        f"{_body(page, '<p>{x}</p>')}{slot['end']}<p>------</p>{slot['after']}<p>Copyright 2026</p>"
    )


def _microdata(page: PageB, slot: dict[str, str], when: str) -> str:
    s = page.story
    return (
        f'<header class="site"><a href="/">The Observer</a></header>{slot["before"]}<main>'
        f'<article itemscope itemtype="https://schema.org/NewsArticle"><h1 itemprop="headline">{_e(s.title)}</h1>'
        f'<p itemprop="author" itemscope itemtype="https://schema.org/Person"><span itemprop="name">Staff</span>'
        f'</p><span itemprop="datePublished">{when}</span>{slot["top"]}'
        f'<div itemprop="articleBody">{_body(page, "<p>{x}</p>")}</div>{slot["end"]}</article>'
        f"{slot['after']}</main><footer>© The Observer</footer>"
    )


def _table(page: PageB, slot: dict[str, str], when: str) -> str:
    s = page.story
    return (
        f'<table width="960" align="center"><tr><td colspan="2"><a href="/">Home</a> | <a href="/n">News</a>'
        f'</td></tr><tr><td colspan="2">{slot["before"]}</td></tr><tr><td width="640" valign="top">'
        f'<table width="100%"><tr><td class="title"><b>{_e(s.title)}</b></td></tr><tr><td>{when}</td></tr>'
        f"<tr><td>{slot['top']}</td></tr>{_body(page, '<tr><td>{x}</td></tr>')}<tr><td>{slot['end']}</td></tr>"
        f'</table></td><td width="320" valign="top">{slot["after"]}</td></tr></table>'
    )


_TEMPLATES = {
    "ghost": _ghost,
    "drupal": _drupal,
    "cnportal": _cnportal,
    "pbr": _pbr,
    "microdata": _microdata,
    "table": _table,
}


def rss_b(feed: str, base: str, now: datetime) -> str:
    """An RSS feed of the feed's pages, newest first; each item carries the story's title and teaser only."""
    chosen = [p for p in pages_b() if p.feed == feed]
    items = "".join(
        f"<item><title>{_e(p.story.title)}</title><link>{base}/news/{p.id}.html</link>"
        f'<guid isPermaLink="true">{base}/news/{p.id}.html</guid>'
        f"<pubDate>{format_datetime(now - timedelta(minutes=3 + i))}</pubDate>"
        f"<description>{_e(p.story.summary)}</description></item>"
        for i, p in enumerate(chosen)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{feed}</title>'
        f"<link>{base}/</link><description>{feed}</description>{items}</channel></rss>"
    )
