"""The labelled furniture set: story and furniture data (tests/data/furniture/*.yaml) -> article pages and feeds.

Every page is one story in one site template with one labelled furniture block placed where real sites put it:
at the top of the article, in the middle of the body, inside the article after the body, or outside the article
(sidebar, comments area). Off-topic stories carry topic bait in their furniture (label: no alert); on-topic stories
carry off-topic furniture (label: at least the rules in their ``match`` list). Pages, placements and templates are
chosen by rotation, so the set is the same on every run. ``docs/furniture.md`` describes the set.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DATA", "KINDS", "PLACES", "Block", "Page", "Story", "pages", "render", "rss"]

DATA = Path(__file__).resolve().parents[1] / "data" / "furniture"
KINDS = (
    "related",
    "most-read",
    "trending",
    "more-from",
    "read-also",
    "read-also-inline",
    "comments",
    "newsletter",
    "subscription",
    "share",
    "tags",
    "ticker",
    "author-bio",
    "read-to-earn",
    "headless",
)
#: Where each kind sits on real sites: before (above the article, under the site's header), top (in the article,
#: before the body), inline (between body paragraphs), end (in the article, after the body), after (outside the
#: article element: sidebar, comments area).
PLACES: dict[str, tuple[str, ...]] = {
    "related": ("end", "after"),
    "most-read": ("after", "end"),
    "trending": ("top", "after", "before"),
    "more-from": ("end", "after"),
    "read-also": ("end", "inline"),
    "read-also-inline": ("inline",),
    "comments": ("after", "end"),
    "newsletter": ("inline", "end"),
    "subscription": ("inline", "end", "top"),
    "share": ("top", "end"),
    "tags": ("end", "after"),
    "ticker": ("before", "top", "after"),
    "author-bio": ("end", "after"),
    "read-to-earn": ("end", "after"),
    "headless": ("end",),
}
_LISTS = {"related", "most-read", "trending", "more-from", "read-also", "headless", "ticker"}
_TEMPLATES = {
    "km": ("portal", "newspaper", "plain"),
    "th": ("portal", "newspaper", "plain"),
    "zh": ("portal", "newspaper", "plain"),
}
_DEFAULT_TEMPLATES = ("wordpress", "newspaper", "plain", "amp")
_PAGES_PER_OFFTOPIC_STORY = 3
_BASE_DATE = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
_NAV = {
    "en": ("Home", "Cambodia", "Business", "Sport", "World", "Lifestyle", "Opinion", "Video"),
    "km": ("ទំព័រដើម", "ព័ត៌មានជាតិ", "សេដ្ឋកិច្ច", "កីឡា", "អន្តរជាតិ", "វីដេអូ"),
    "th": ("หน้าแรก", "ข่าว", "เศรษฐกิจ", "กีฬา", "ต่างประเทศ", "บันเทิง"),
    "zh": ("首页", "柬埔寨", "财经", "体育", "国际", "视频"),
    "id": ("Beranda", "Nasional", "Ekonomi", "Olahraga", "Internasional"),
    "vi": ("Trang chủ", "Thời sự", "Kinh doanh", "Thể thao", "Thế giới"),
    "ms": ("Utama", "Nasional", "Bisnes", "Sukan", "Dunia"),
    "fr": ("Accueil", "Cambodge", "Économie", "Sport", "Monde", "Culture"),
}
_CJK_SPACE = re.compile(r"(?<=[\u3000-\u9fff\uff00-\uffef]) (?=[\u3000-\u9fff\uff00-\uffef])")
_INLINE = {
    "en": "Read also:",
    "km": "អានបន្ថែម៖",
    "th": "อ่านเพิ่มเติม:",
    "zh": "延伸阅读：",
    "id": "Baca juga:",
    "vi": "Xem thêm:",
    "ms": "Baca juga:",
    "fr": "Lire aussi :",
}


@dataclass(frozen=True)
class Story:
    """A story: ``match`` is empty for an off-topic story (no rule may fire)."""

    id: str
    lang: str
    title: str
    summary: str
    body: tuple[str, ...]
    match: frozenset[str]


@dataclass(frozen=True)
class Block:
    """One furniture block: a heading ("" for none), then lines (headlines, tags, a promo) or (author, comment)s."""

    kind: str
    lang: str
    bait: bool
    heading: str
    lines: tuple[str, ...]
    comments: tuple[tuple[str, str], ...] = ()
    shape: int = 0  # lists: 0 links, 1 links with a date, 2 cards; comments: 0 classed markup, 1 bare divs

    def text(self) -> str:
        """The block's visible words, as a reader sees them."""
        return "\n".join([self.heading, *self.lines, *(f"{a}\n{t}" for a, t in self.comments)]).strip()


@dataclass(frozen=True)
class Page:
    """A labelled page: its story, site template, furniture block and where the block sits."""

    story: Story
    template: str
    block: Block
    place: str

    @property
    def id(self) -> str:
        return f"{self.story.id}--{self.block.kind}-{self.place}-{self.template}"

    @property
    def on_topic(self) -> bool:
        return bool(self.story.match)

    @property
    def feed(self) -> str:
        return f"site-{self.template}"


@cache
def _load(name: str) -> Any:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))


def _stories(name: str) -> list[Story]:
    out = []
    for s in _load(name)["stories"]:
        body = tuple(_CJK_SPACE.sub("", str(p)) for p in s["body"])  # YAML folds a line break into a space
        out.append(
            Story(
                s["id"],
                s["lang"],
                s["title"],
                s.get("summary") or _teaser(body[0]),
                body,
                frozenset(s.get("match") or ()),
            )
        )
    return out


def _teaser(paragraph: str) -> str:
    """A feed teaser: the story's opening words (twelve words, or 40 characters of a script without spaces)."""
    words = paragraph.split()
    return " ".join(words[:12]) + " …" if len(words) > 12 else paragraph[:40] + "…"


def _pick(options: dict[str, Any], lang: str) -> Any:
    return options.get(lang) or options["en"]


def _block(kind: str, lang: str, bait: bool, n: int, headed: bool, shape: int) -> Block:
    """The n-th block of a kind: parts rotate with n, so neighbouring pages carry different words."""
    data = _load("furniture.yaml")
    side = "bait" if bait else "filler"
    headings = _pick(data["headings"].get(kind, {"en": [""]}), lang)
    heading = str(headings[n % len(headings)]).replace("{n}", str(3 + n % 9)) if headed else ""
    heads = _pick(data["headlines"], lang)[side]
    rotated = [str(heads[(n + i) % len(heads)]) for i in range(len(heads))]
    if kind in _LISTS:  # bait lists mix in other headlines, as real ones do: bait, other, bait, other
        others = _pick(data["headlines"], lang)["filler"]
        lines = (
            [rotated[i // 2] if i % 2 == 0 else str(others[(n + i) % len(others)]) for i in range(4)]
            if bait
            else rotated[:4]
        )
        if kind == "ticker":
            lines = [f"{9 + i:02d}:{(17 * (n + i)) % 60:02d} {line}" for i, line in enumerate(lines)]
        return Block(kind, lang, bait, heading, tuple(lines), shape=shape % 3)
    if kind == "read-also-inline":
        return Block(kind, lang, bait, _INLINE.get(lang, _INLINE["en"]), (rotated[0],))
    if kind in ("comments", "read-to-earn"):
        pool, others = _pick(data["comments"], lang)[side], _pick(data["comments"], lang)["filler"]
        picked = [pool[n % len(pool)], others[n % len(others)], pool[(n + 1) % len(pool)]]  # bait, other, bait
        chosen = tuple(dict.fromkeys((str(a), str(t)) for a, t in (picked if bait else others)))
        widget = tuple(str(w) for w in data["read_to_earn"]) if kind == "read-to-earn" else ()
        return Block(kind, lang, bait, heading, widget, chosen, 1 if widget else shape % 2)  # the widget: bare
    if kind == "tags":
        return Block(kind, lang, bait, heading, tuple(_pick(data["tags"], lang)[side]))
    if kind == "share":
        words = _pick(data["share_words"], lang)
        return Block(kind, lang, bait, heading, (*words[:-1], f"{words[-1]} {rotated[0]}"))
    promo = _pick(data["promos"][kind], lang)
    return Block(kind, lang, bait, heading, (str(promo.get(side) or data["promos"][kind]["en"][side]),))


@cache
def pages() -> tuple[Page, ...]:
    """Every labelled page: three per off-topic story, one per on-topic story."""
    out: list[Page] = []
    seen: dict[tuple[str, bool], int] = {}  # pages of a kind so far, per label: placements and shapes rotate
    for i, story in enumerate(_stories("offtopic.yaml")):
        for j in range(_PAGES_PER_OFFTOPIC_STORY):
            out.append(_page(story, _PAGES_PER_OFFTOPIC_STORY * i + j, i + j, seen))
    for k, story in enumerate(_stories("ontopic.yaml")):
        out.append(_page(story, 4 * k + 1, k, seen))
    return tuple(out)


def _page(story: Story, n: int, turn: int, seen: dict[tuple[str, bool], int]) -> Page:
    kind = KINDS[n % len(KINDS)]
    bait = not story.match
    m = seen[kind, bait] = seen.get((kind, bait), -1) + 1
    templates = _TEMPLATES.get(story.lang, _DEFAULT_TEMPLATES)
    headed = kind != "headless" and (kind not in _LISTS or m % 3 != 2)  # a third of the lists have no heading
    block = _block(kind, story.lang, bait, n, headed, m + m // 3 if kind in _LISTS else m)
    return Page(story, templates[turn % len(templates)], block, PLACES[kind][m % len(PLACES[kind])])


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _href(text: str) -> str:
    return f"/news/{_slug(text)}.html"


def _slug(text: str) -> str:
    ascii_words = "".join(c if c.isascii() and c.isalnum() else "-" for c in text.lower()).strip("-")
    return "-".join(w for w in ascii_words.split("-") if w)[:60] or f"a{sum(map(ord, text)) % 99991}"


# Site styles: (wrapper tag, heading tag, list tag, item tag).
_STYLES: dict[str, tuple[str, str, str, str]] = {
    "wordpress": ("div", "h3", "ul", "li"),
    "newspaper": ("section", "h2", "ul", "li"),
    "plain": ("div", "div", "div", "div"),
    "amp": ("section", "h2", "ul", "li"),
    "portal": ("div", "h3", "ul", "li"),
}
_WP_CLASSES = {
    "related": "jp-relatedposts",
    "most-read": "widget widget_top-posts",
    "trending": "trending-posts",
    "more-from": "more-from-category",
    "read-also": "read-also",
    "comments": "comments-area",
    "newsletter": "mc4wp-form",
    "subscription": "paywall-promo",
    "share": "sharedaddy sd-sharing",
    "tags": "tags-links",
    "ticker": "news-ticker",
    "author-bio": "author-info",
    "read-to-earn": "rte-box",
}


def _block_html(block: Block, template: str) -> str:
    """The block in the site's markup; the plain site has no semantic tags or class names."""
    wrap, head, lst, item = _STYLES[template]
    tag = "div" if template == "plain" else "p"
    if block.kind == "read-also-inline":
        line = block.lines[0]
        return f'<{tag}><strong>{_e(block.heading)}</strong> <a href="{_href(line)}">{_e(line)}</a></{tag}>'
    if block.kind == "headless":
        return "".join(f"<{tag}>{_item(t, block.shape)}</{tag}>" for t in block.lines)
    cls = (
        _WP_CLASSES.get(block.kind, block.kind)
        if template in ("wordpress", "amp", "portal")
        else f"b{len(block.kind) * 7}"
        if template == "plain"
        else block.kind.replace("-", "_")
    )
    parts = [f'<{wrap} class="{cls}">']
    if block.heading:
        heading = f"<b>{_e(block.heading)}</b>" if template == "plain" else _e(block.heading)
        parts.append(f"<{head}>{heading}</{head}>")
    if block.kind in _LISTS and block.shape == 2:  # cards: the headline as text, a date, a "Read more" link
        card = (
            "<div><div>{t}</div><div>{ago}</div>"
            if template == "plain"
            else '<div class="card"><h4>{t}</h4><p>{ago}</p>'
        ) + '<a href="{href}">Read more</a></div>'
        parts.extend(card.format(t=_e(t), ago=_ago(t), href=_href(t)) for t in block.lines)
    elif block.kind in _LISTS or block.kind == "tags":
        shape = 0 if block.kind == "tags" else block.shape
        parts.append(f"<{lst}>" + "".join(f"<{item}>{_item(t, shape)}</{item}>" for t in block.lines) + f"</{lst}>")
    elif block.kind == "share":
        buttons = "".join(f'<a class="share-{_slug(w)}" href="#">{_e(w)}</a> ' for w in block.lines[:-1])
        parts.append(f'<div>{buttons}</div><{tag} class="next">{_e(block.lines[-1])}</{tag}>')
    else:
        parts.extend(f"<{tag}>{_e(t)}</{tag}>" for t in block.lines)
    parts.append(_comments_html(block, template, lst, item))
    return "".join(parts) + f"</{wrap}>"


def _comments_html(block: Block, template: str, lst: str, item: str) -> str:
    if not block.comments:
        return ""
    if block.shape == 1 or template == "plain":  # bare divs, as on seed 004's site: avatar, name, words
        return (
            "".join(
                f"<div><div>Avatar of {_e(a)}</div><div>{_e(a)}</div><div>{_e(t)}</div></div>"
                for a, t in block.comments
            )
            + "<div>Add your comment</div>"
        )
    return (
        f"<{lst}>"
        + "".join(
            f'<{item} class="comment"><div class="comment-author"><b>{_e(a)}</b> <time>2 hours ago</time></div>'
            f'<div class="comment-content"><p>{_e(t)}</p></div><a class="reply" href="#">Reply</a></{item}>'
            for a, t in block.comments
        )
        + f"</{lst}>"
    )


def _ago(text: str) -> str:
    return f"{1 + len(text) % 11} hours ago"


def _item(text: str, shape: int) -> str:
    """A headline in a list: a link (0), a link and its age (1), or plain text (2, headless runs only)."""
    if shape == 2:
        return _e(text)
    link = f'<a href="{_href(text)}">{_e(text)}</a>'
    return f'{link} <span class="time">{_ago(text)}</span>' if shape == 1 else link


def _body(page: Page, para: str) -> list[str]:
    """The story's paragraphs, with the block between the first two when it sits inline."""
    paras = [para.format(text=_e(p)) for p in page.story.body]
    if page.place == "inline":
        paras.insert(1, _block_html(page.block, page.template))
    return paras


def render(page: Page) -> str:
    """The page's HTML, in its site's template."""
    s, t = page.story, page.template
    at = _BASE_DATE - timedelta(hours=pages().index(page))
    slot = {p: _block_html(page.block, t) if page.place == p else "" for p in ("before", "top", "end", "after")}
    sections = _NAV.get(s.lang, _NAV["en"])
    nav = "".join(f'<li><a href="/{_slug(n)}/">{n}</a></li>' for n in sections)
    head = (
        f'<!DOCTYPE html><html lang="{s.lang}"{" amp" if t == "amp" else ""}><head><meta charset="utf-8">'
        f"<title>{_e(s.title)} | {page.feed}</title>"
        f'<meta property="og:title" content="{_e(s.title)}"><meta name="description" content="{_e(s.summary)}">'
        f'<meta property="article:published_time" content="{at.isoformat()}+07:00"></head><body>'
    )
    byline = f'<time datetime="{at.isoformat()}+07:00">{at:%d %B %Y %H:%M}</time>'
    foot = '<p>© 2026 All rights reserved.</p><a href="/about/">About us</a> <a href="/privacy/">Privacy</a>'
    if t == "wordpress":
        body = "".join(_body(page, "<p>{text}</p>"))
        return (
            f'{head}<header id="masthead" class="site-header"><nav class="main-navigation"><ul>{nav}</ul></nav>'
            f'</header>{slot["before"]}<div id="primary" class="content-area">'
            f'<main id="main" class="site-main">'
            f'<article class="post type-post hentry"><header class="entry-header"><h1 class="entry-title">'
            f'{_e(s.title)}</h1><div class="entry-meta">{byline}</div></header>{slot["top"]}'
            f'<div class="entry-content">{body}{slot["end"]}</div><footer class="entry-footer">'
            f'<span class="cat-links">Posted in News</span></footer></article>{slot["after"]}</main></div>'
            f'<aside id="secondary" class="widget-area"><section class="widget"><h2>Follow us</h2></section>'
            f'</aside><footer id="colophon" class="site-footer">{foot}</footer></body></html>'
        )
    if t == "newspaper":
        body = "".join(_body(page, "<p>{text}</p>"))
        return (
            f'{head}<header class="masthead"><a class="logo" href="/">The Daily</a><nav><ul>{nav}</ul></nav>'
            f'</header>{slot["before"]}<main><div class="layout"><article><h1>{_e(s.title)}</h1>'
            f'<p class="byline">By Staff '
            f'Reporter · {byline}</p>{slot["top"]}<div class="article-body" itemprop="articleBody">{body}</div>'
            f'{slot["end"]}</article><aside class="sidebar">{slot["after"]}<div class="ad">Advertisement</div>'
            f"</aside></div></main><footer>{foot}</footer></body></html>"
        )
    if t == "plain":
        body = "".join(_body(page, "<div>{text}</div>"))
        links = " | ".join(f'<a href="/{_slug(n)}/">{n}</a>' for n in sections)
        return (
            f'{head}<div id="w"><div class="t1">{links}</div>{slot["before"]}<div class="t2"><div class="t3">'
            f'<div class="t4"><b>{_e(s.title)}</b></div><div class="t5">{byline}</div>{slot["top"]}'
            f'<div class="t6">{body}{slot["end"]}</div></div>{slot["after"]}</div>'
            f'<div class="t9">{foot.replace("<p>", "<div>").replace("</p>", "</div>")}</div>'
            f"</div></body></html>"
        )
    if t == "amp":
        body = "".join(_body(page, "<p>{text}</p>"))
        return (
            f'{head}<header class="amp-header"><a href="/">News</a></header>{slot["before"]}'
            f'<main><article class="amp-article">'
            f'<h1 class="amp-title">{_e(s.title)}</h1><div class="amp-meta">{byline}</div>{slot["top"]}'
            f'<amp-img src="/img/{_slug(s.id)}.jpg" width="800" height="450" layout="responsive"></amp-img>'
            f'<div class="amp-article-content">{body}{slot["end"]}</div></article>{slot["after"]}</main>'
            f'<footer class="amp-footer">{foot}</footer></body></html>'
        )
    body = "".join(_body(page, '<p style="text-indent:2em">{text}</p>'))
    return (
        f'{head}<div class="top-bar"><ul>{nav}</ul></div>{slot["before"]}'
        f'<div class="main-wrap"><div class="left-col">'
        f'<div class="detail"><h1 class="detail-title">{_e(s.title)}</h1><div class="detail-info">{byline}</div>'
        f'{slot["top"]}<div class="article-content" id="content">{body}</div>{slot["end"]}</div></div>'
        f'<div class="right-col">{slot["after"]}</div></div><div class="footer">{foot}</div></body></html>'
    )


def rss(feed: str, base: str, now: datetime) -> str:
    """An RSS feed of the feed's pages, newest first; each item carries the story's title and teaser only."""
    chosen = [p for p in pages() if p.feed == feed]
    items = "".join(
        f"<item><title>{_e(p.story.title)}</title><link>{base}/news/{p.id}.html</link>"
        f'<guid isPermaLink="true">{base}/news/{p.id}.html</guid>'
        f"<pubDate>{format_datetime(now - timedelta(minutes=5 + i))}</pubDate>"
        f"<description>{_e(p.story.summary)}</description></item>"
        for i, p in enumerate(chosen)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{feed}</title>'
        f"<link>{base}/</link><description>{feed} news</description>{items}</channel></rss>"
    )
