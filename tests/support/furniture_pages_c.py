"""Set C of the furniture set, written blind as the final judge (tests/data/furniture/set-c/*.yaml) -> pages and feeds.

Set C was written while the detector was being tuned on sets A and B, by someone who never read the detector, the
extractor or sets A and B's data. New stories, new furniture wordings in the eight languages, new kinds (pull quotes
from other stories, ``<blockquote class="twitter-tweet">`` embeds, ``<details>`` timelines, donation asks) and markup
from CMS families not covered before: a Next.js-style site (``data-testid`` divs, JSON-LD), Blogger, a Medium-like
blog, a Vietnamese portal (``box-tinlienquan``), an Indonesian portal ("Baca Juga" in ``<strong>`` between
paragraphs), a Thai portal, a Chinese portal (``<div class="related">``), a Khmer WordPress site (Jetpack related
posts) and a French regional site ("À lire aussi"). ``pages.yaml`` pairs each story with its block, placement and
template, one row per page. ``docs/furniture.md`` describes the set.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache

from tests.support.furniture_pages import DATA
from tests.support.furniture_pages_b import BlockB, PageB, load_set, set_blocks, set_clean_misses, set_stories

__all__ = ["DATA_C", "KINDS_C", "PLACES_C", "TEMPLATES_C", "PageC", "clean_misses", "pages_c", "render_c", "rss_c"]

DATA_C = DATA / "set-c"
KINDS_C = (
    "related",
    "most-read",
    "trending",
    "more-from",
    "read-also",
    "read-also-inline",
    "comments",
    "newsletter",
    "subscription",
    "app-promo",
    "donation",
    "share",
    "tags",
    "ticker",
    "author-bio",
    "read-to-earn",
    "headless",
    "caption",
    "pull-quote",
    "correction",
    "next-article",
    "video",
    "embed",
    "details",
)
#: before: above the article; top: in the article, before the body; inline: after the first paragraph; aside: an
#: ``<aside>`` after the second paragraph; end: in the article after the body; after: outside the article.
PLACES_C = ("before", "top", "inline", "aside", "end", "after")
TEMPLATES_C = ("nextjs", "blogger", "medium", "vnportal", "idportal", "thportal", "zhportal", "kmsite", "frregional")
_BASE_DATE = datetime(2026, 12, 4, 8, 40, tzinfo=UTC)


class PageC(PageB):
    """A labelled page of set C: set B's shape, on set C's sites."""

    @property
    def feed(self) -> str:
        return f"c-{self.template}"


@cache
def clean_misses() -> dict[str, frozenset[str]]:
    """Set C's clean misses (``set_clean_misses``)."""
    return set_clean_misses(DATA_C)


@cache
def pages_c() -> tuple[PageC, ...]:
    """Every page of set C, in the order of ``pages.yaml``."""
    stories, blocks = set_stories(DATA_C), set_blocks(DATA_C)
    rows = load_set(DATA_C, "pages.yaml")["pages"]
    return tuple(PageC(stories[s], t, blocks[b], p) for s, b, p, t in rows)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _href(text: str) -> str:
    slug = "-".join("".join(c if c.isascii() and c.isalnum() else " " for c in text.lower()).split())[:50]
    return f"/{slug or sum(map(ord, text)) % 99991}.html"


def _ago(text: str, lang: str) -> str:
    n = 2 + len(text) % 7
    return {
        "zh": f"{n}小时前",
        "fr": f"Il y a {n} h",
        "vi": f"{n} giờ trước",
        "id": f"{n} jam yang lalu",
        "ms": f"{n} jam lalu",
        "th": f"{n} ชม.ที่แล้ว",
        "km": f"{n} ម៉ោងមុន",
    }.get(lang, f"{n} hours ago")


def _a(text: str) -> str:
    return f'<a href="{_href(text)}">{_e(text)}</a>'


# Per template: (block wrapper, heading, list open, list item, list close, promo paragraph, body paragraph).
_DIALECTS: dict[str, tuple[str, str, str, str, str, str, str]] = {
    "nextjs": (
        '<div data-testid="{k}-module" class="css-9kq2ad">{x}</div>',
        '<h2 data-testid="module-title">{x}</h2>',
        '<ul data-testid="module-list" class="css-1fq4">',
        '<li data-testid="module-item">{x}</li>',
        "</ul>",
        '<p class="css-promo">{x}</p>',
        '<p data-testid="paragraph" class="css-at9mc1">{x}</p>',
    ),
    "blogger": (
        '<div class="widget HTML {k}"><div class="widget-content">{x}</div></div>',
        '<h2 class="title">{x}</h2>',
        "<ul>",
        "<li>{x}</li>",
        "</ul>",
        "<div>{x}</div>",
        "<div>{x}</div><div><br /></div>",
    ),
    "medium": (
        '<div class="pw-{k} ab cb">{x}</div>',
        '<h2 class="pw-subheading">{x}</h2>',
        "<div>",
        '<div class="pw-card"><h2 class="pw-card-title">{x}</h2></div>',
        "</div>",
        '<p class="pw-promo">{x}</p>',
        '<p class="pw-post-body-paragraph kq kr" data-selectable-paragraph="">{x}</p>',
    ),
    "vnportal": (
        '<div class="box-{k} width_common">{x}</div>',
        '<h3 class="title-box">{x}</h3>',
        '<ul class="list-news">',
        '<li><h4 class="title-news">{x}</h4></li>',
        "</ul>",
        '<p class="description">{x}</p>',
        '<p class="Normal">{x}</p>',
    ),
    "idportal": (
        '<div class="box_{k}">{x}</div>',
        '<div class="box__title"><h2>{x}</h2></div>',
        '<div class="list-content">',
        '<article class="list-content__item"><h3 class="media__title">{x}</h3></article>',
        "</div>",
        "<p>{x}</p>",
        "<p>{x}</p>",
    ),
    "thportal": (
        '<div class="widget-{k}">{x}</div>',
        '<div class="hd"><span>{x}</span></div>',
        '<ul class="news-list">',
        '<li class="item"><div class="title">{x}</div></li>',
        "</ul>",
        "<p>{x}</p>",
        "<p>{x}</p>",
    ),
    "zhportal": (
        '<div class="{k}">{x}</div>',
        "<h3>{x}</h3>",
        "<ul>",
        "<li>{x}</li>",
        "</ul>",
        "<p>{x}</p>",
        '<p style="text-indent:2em">{x}</p>',
    ),
    "kmsite": (
        '<div id="jp-{k}" class="jp-relatedposts">{x}</div>',
        '<h3 class="jp-relatedposts-headline"><em>{x}</em></h3>',
        '<div class="jp-relatedposts-items">',
        '<div class="jp-relatedposts-post"><h4 class="jp-relatedposts-post-title">{x}</h4></div>',
        "</div>",
        "<p>{x}</p>",
        "<p>{x}</p>",
    ),
    "frregional": (
        '<div class="bloc-{k}">{x}</div>',
        '<p class="bloc-titre">{x}</p>',
        '<ul class="liste-articles">',
        "<li>{x}</li>",
        "</ul>",
        "<p>{x}</p>",
        '<p class="article-texte">{x}</p>',
    ),
}
_WRAP, _HEAD, _OPEN, _ITEM, _CLOSE, _PARA, _BODY = range(7)


def _items(block: BlockB, template: str) -> str:
    """A list in the block's shape: thumbnails and times in an ``<ol>``, a ``<nav>``, ranks, or the site's list."""
    lang, d = block.lang, _DIALECTS[template]
    if block.shape == "thumbs-dated":
        return (
            '<ol class="most-read">'
            + "".join(
                f'<li><img src="/img/m{i}.jpg" alt="" width="80">{_a(t)} <time>{_ago(t, lang)}</time></li>'
                for i, t in enumerate(block.items)
            )
            + "</ol>"
        )
    if block.shape in ("nav", "section"):
        return "<ul>" + "".join(f"<li>{_a(t)}</li>" for t in block.items) + "</ul>"
    if block.kind == "ticker":  # "09:41 headline": the time in its own element
        rows = (t.split(" ", 1) if t[:1].isdigit() else ["", t] for t in block.items)
        return '<ol class="ticker">' + "".join(f"<li><time>{_e(h)}</time> {_a(r)}</li>" for h, r in rows) + "</ol>"
    ranked = block.shape == "numbered"
    return (
        d[_OPEN]
        + "".join(
            d[_ITEM].format(x=(f'<span class="num">{i + 1}</span> ' if ranked else "") + _a(t))
            for i, t in enumerate(block.items)
        )
        + d[_CLOSE]
    )


def _comments(block: BlockB, template: str) -> str:
    """Reader comments in the site's own comment markup."""
    rows = block.comments
    if template == "blogger":
        return (
            f'<div class="comments" id="comments"><h4>{len(rows)} comments:</h4><div class="comment-thread"><ol>'
            + "".join(
                f'<li class="comment"><div class="comment-block"><div class="comment-header"><cite class="'
                f'user">{_e(a)}</cite> <span class="datetime">{_ago(t, block.lang)}</span></div><p class='
                f'"comment-content">{_e(t)}</p></div></li>'
                for a, t in rows
            )
            + "</ol></div></div>"
        )
    if template == "nextjs":
        return (
            '<div data-testid="comments">'
            + "".join(
                f'<div data-testid="comment"><span data-testid="comment-author">{_e(a)}</span><div data-testid="comment-'
                f'body">{_e(t)}</div></div>'
                for a, t in rows
            )
            + "</div>"
        )
    if template == "vnportal":
        return (
            '<div class="box-comment">'
            + "".join(
                f'<div class="comment_item"><p class="full_content"><span class="txt-name"><b>{_e(a)}</b></span> '
                f"{_e(t)}</p></div>"
                for a, t in rows
            )
            + "</div>"
        )
    if template == "kmsite":  # the Facebook comments plugin as rendered
        return (
            '<div class="fb-comments">'
            + "".join(
                f'<div class="UFIComment"><a class="UFICommentActorName">{_e(a)}</a> <span>{_e(t)}</span> '
                f"<span>ចូលចិត្ត · ឆ្លើយតប · {_ago(t, block.lang)}</span></div>"
                for a, t in rows
            )
            + "</div>"
        )
    return (
        '<div class="komentar">'
        + "".join(
            f'<div class="komentar__item"><div class="komentar__name">{_e(a)}</div><div class="komentar__time">'
            f"{_ago(t, block.lang)}</div><p>{_e(t)}</p></div>"
            for a, t in rows
        )
        + "</div>"
    )


def _special(block: BlockB, template: str) -> str | None:
    """Kinds with their own markup wherever they sit."""
    k, lang = block.kind, block.lang
    if k == "caption":
        return "".join(
            f'<figure class="image"><img src="/img/f{i}.jpg" alt=""><figcaption>{_e(t)}</figcaption></figure>'
            for i, t in enumerate(block.items)
        )
    if k == "pull-quote":
        return (
            f'<blockquote class="pull-quote"><p>{_e(block.paras[0])}</p><footer>{_a(block.items[0])}</footer>'
            "</blockquote>"
        )
    if k == "embed":
        return (
            f'<blockquote class="twitter-tweet" data-lang="{lang}"><p lang="{lang}" dir="ltr">{_e(block.paras[0])}'
            f'</p>&mdash; {_e(block.heading)} <a href="https://twitter.com/x/status/1">Dec 2026</a></blockquote>'
            '<script async src="https://platform.twitter.com/widgets.js" charset="utf-8"></script>'
        )
    if k == "details":
        return (
            f"<details><summary>{_e(block.heading)}</summary><ul>"
            + "".join(f"<li>{_e(t)}</li>" for t in block.items)
            + "</ul></details>"
        )
    if k == "headless":
        return "".join(f"<p>{_a(t)}</p>" for t in block.items)
    if k == "read-also-inline":
        line = block.items[0]
        if template == "idportal":  # detik-style: the whole line bold, the link inside
            return f'<p><strong>{_e(block.heading)} <a href="{_href(line)}">{_e(line)}</a></strong></p>'
        if template == "frregional":
            return f'<div class="lire-aussi"><span>{_e(block.heading)}</span> {_a(line)}</div>'
        return f"<p><strong>{_e(block.heading)}</strong> {_a(line)}</p>"
    if k == "read-also" and template == "vnportal":
        return (
            f'<div class="box-tinlienquan"><h3>{_e(block.heading)}</h3><ul class="list-news">'
            + "".join(f'<li><h4 class="title-news">{_a(t)}</h4></li>' for t in block.items)
            + "</ul></div>"
        )
    return None


def _inner(block: BlockB, template: str) -> str:
    """The block's content in the site's dialect (without its wrapper)."""
    d = _DIALECTS[template]
    if block.shape == "nav":
        return f'<nav aria-label="{_e(block.heading)}"><h2>{_e(block.heading)}</h2>{_items(block, template)}</nav>'
    parts = [d[_HEAD].format(x=_e(block.heading))] if block.heading else []
    if block.kind == "tags":
        parts.append(
            '<div class="tags">'
            + " ".join(f'<a rel="tag" href="{_href(t)}">{_e(t)}</a>' for t in block.items)
            + "</div>"
        )
    elif block.kind == "share":
        parts.append('<div class="share">' + "".join(f"<button>{_e(t)}</button>" for t in block.items) + "</div>")
    elif block.kind == "next-article":
        parts.append(f'<div class="next">{_a(block.items[0])}</div>')
    elif block.items:
        parts.append(_items(block, template))
    parts.extend(d[_PARA].format(x=_a(p) if block.kind == "share" else _e(p)) for p in block.paras)
    if block.cta:
        parts.append(f'<a class="btn" href="#">{_e(block.cta)}</a>')
    if block.comments:
        parts.append(_comments(block, template))
    return "".join(parts)


def _block_html(page: PageC) -> str:
    block, template = page.block, page.template
    out = _special(block, template)
    if out is None and block.shape == "section":  # a sectioning element of its own, not in the site's wrapper
        out = (
            f'<section class="{block.kind}" aria-labelledby="h-{block.id}"><h2 id="h-{block.id}">'
            f"{_e(block.heading)}</h2>{_items(block, template)}</section>"
        )
    if out is None:
        out = _DIALECTS[template][_WRAP].format(k=block.kind, x=_inner(block, template))
    return f'<aside class="inline-aside">{out}</aside>' if page.place == "aside" else out


def _body(page: PageC) -> str:
    paras = [_DIALECTS[page.template][_BODY].format(x=_e(p)) for p in page.story.body]
    at = {"inline": 1, "aside": 2}.get(page.place)
    if at is not None:
        paras.insert(min(at, len(paras)), _block_html(page))
    return "".join(paras)


def render_c(page: PageC) -> str:
    """The page's HTML in its site's template."""
    s, t = page.story, page.template
    at = _BASE_DATE - timedelta(hours=pages_c().index(page))
    stamp = f"{at.isoformat()}+07:00"
    slot = {p: _block_html(page) if page.place == p else "" for p in ("before", "top", "end", "after")}
    head = (
        f'<!DOCTYPE html><html lang="{s.lang}"><head><meta charset="utf-8"><title>{_e(s.title)}</title>'
        f'<meta name="description" content="{_e(s.summary)}"><meta property="og:title" content="{_e(s.title)}">'
        f'<meta property="og:type" content="article"><meta property="article:published_time" content="{stamp}">'
    )
    if t == "nextjs":
        ld = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": s.title,
            "datePublished": stamp,
            "description": s.summary,
            "author": [{"@type": "Person", "name": "Staff"}],
        }
        head += f'<script type="application/ld+json">{json.dumps(ld, ensure_ascii=False)}</script>'
    when = f'<time datetime="{stamp}">{at:%d/%m/%Y %H:%M}</time>'
    return f"{head}</head><body>{_SITES[t](page, slot, when)}</body></html>"


def _nextjs(p: PageC, slot: dict[str, str], when: str) -> str:
    return (
        f'<div id="__next"><header data-testid="masthead"><a href="/">The Mekong Post</a><nav data-testid="nav">'
        f'<a href="/world">World</a> <a href="/business">Business</a></nav></header>{slot["before"]}<main>'
        f'<article data-testid="article"><div data-testid="headline-block"><h1 data-testid="headline">'
        f'{_e(p.story.title)}</h1><div data-testid="byline">By Staff · {when}</div></div>{slot["top"]}'
        f'<div data-testid="article-body" class="css-1r7ky0e">{_body(p)}</div>{slot["end"]}</article>'
        f'{slot["after"]}</main><footer data-testid="footer">© The Mekong Post</footer></div><script id="__NEXT_'
        'DATA__" type="application/json">{"buildId":"a1b2c3","page":"/[section]/[slug]"}</script>'
    )


def _blogger(p: PageC, slot: dict[str, str], when: str) -> str:
    return (
        f'<div class="content-outer"><header><div class="header-inner"><h1 class="title"><a href="/">Mekong '
        f'Diary</a></h1></div></header>{slot["before"]}<div class="main-inner"><div class="column-center-inner">'
        f'<div class="blog-posts hfeed"><div class="date-outer"><h2 class="date-header"><span>{when}</span></h2>'
        f'<div class="post-outer"><div class="post hentry"><h3 class="post-title entry-title">{_e(p.story.title)}'
        f'</h3>{slot["top"]}<div class="post-body entry-content" id="post-body-7">{_body(p)}<div style="clear: '
        f'both;"></div></div>{slot["end"]}<div class="post-footer">Posted by Mekong Diary</div></div></div></div>'
        f'</div></div><div class="column-right-inner"><div class="sidebar section">{slot["after"]}</div></div>'
        "</div></div>"
    )


def _medium(p: PageC, slot: dict[str, str], when: str) -> str:
    return (
        f'<div id="root"><div class="a b c"><nav class="metabar"><a href="/">Medium</a></nav>{slot["before"]}'
        f'<article><div class="l"><section><div class="pw-post-body"><h1 class="pw-post-title" data-testid="'
        f'storyTitle">{_e(p.story.title)}</h1><div class="pw-author">Mekong Field Notes · 4 min read · {when}'
        f"</div>{slot['top']}{_body(p)}</div></section></div>{slot['end']}</article>{slot['after']}</div></div>"
    )


def _vnportal(p: PageC, slot: dict[str, str], when: str) -> str:
    return (
        f'<section class="section page-detail top-detail"><div class="container">{slot["before"]}<div class='
        f'"sidebar-1"><span class="date">{when}</span><h1 class="title-detail">{_e(p.story.title)}</h1>'
        f'{slot["top"]}<article class="fck_detail">{_body(p)}<p class="Normal" style="text-align:right;"><strong>'
        f'Minh Anh</strong></p></article>{slot["end"]}</div><div class="sidebar-2">{slot["after"]}</div></div>'
        "</section>"
    )


def _idportal(p: PageC, slot: dict[str, str], when: str) -> str:
    return (
        f'<div class="container">{slot["before"]}<article class="detail"><div class="detail__header"><h1 class='
        f'"detail__title">{_e(p.story.title)}</h1><div class="detail__author">Tim Redaksi</div><div class="'
        f'detail__date">{when}</div></div>{slot["top"]}<div class="detail__body itp_bodycontent_wrapper"><div '
        f'class="detail__body-text itp_bodycontent">{_body(p)}</div></div>{slot["end"]}</article><div class="'
        f'column-4">{slot["after"]}</div></div>'
    )


def _thportal(p: PageC, slot: dict[str, str], when: str) -> str:
    return (
        f'<div id="wrapper"><div class="header">หน้าแรก | ข่าว | กีฬา</div>{slot["before"]}<div class="content">'
        f'<div class="article-detail"><h1 class="article-title">{_e(p.story.title)}</h1><div class="meta">{when}'
        f'</div>{slot["top"]}<div class="detail-content" id="article-body">{_body(p)}</div>{slot["end"]}</div>'
        f'<div class="sidebar">{slot["after"]}</div></div></div>'
    )


def _zhportal(p: PageC, slot: dict[str, str], when: str) -> str:
    return (
        f'<div class="top-nav"><a href="/">首页</a> <a href="/world/">国际</a></div>{slot["before"]}<div class="'
        f'w1000 clearfix"><div class="fl"><div class="article" id="article"><h1>{_e(p.story.title)}</h1><div '
        f'class="source">{when} 来源：综合报道</div>{slot["top"]}<div class="article-content">{_body(p)}</div>'
        f'{slot["end"]}<p class="editor">编辑：李明</p></div></div><div class="fr">{slot["after"]}</div></div>'
    )


def _kmsite(p: PageC, slot: dict[str, str], when: str) -> str:
    return (
        f'<div id="page" class="site"><header id="masthead"><a href="/">ព័ត៌មានថ្មី</a></header>{slot["before"]}'
        f'<div id="content"><main id="main"><article class="post type-post status-publish format-standard">'
        f'<header class="entry-header"><h1 class="entry-title">{_e(p.story.title)}</h1><div class="entry-meta">'
        f'{when}</div></header>{slot["top"]}<div class="entry-content">{_body(p)}</div>{slot["end"]}</article>'
        f'</main><aside id="secondary" class="widget-area">{slot["after"]}</aside></div></div>'
    )


def _frregional(p: PageC, slot: dict[str, str], when: str) -> str:
    words = p.story.body[0].split()
    return (
        f'<div class="page"><header class="bandeau">Le Courrier de l\'Ouest régional</header>{slot["before"]}'
        f'<article class="article-detail"><p class="surtitre">Actualité</p><h1>{_e(p.story.title)}</h1><p class='
        f'"signature">Par la rédaction · {when}</p><p class="chapo">{_e(" ".join(words[:8]))}…</p>{slot["top"]}'
        f'<div class="article-body">{_body(p)}</div>{slot["end"]}</article><div class="colonne-droite">'
        f"{slot['after']}</div></div>"
    )


_SITES = {
    "nextjs": _nextjs,
    "blogger": _blogger,
    "medium": _medium,
    "vnportal": _vnportal,
    "idportal": _idportal,
    "thportal": _thportal,
    "zhportal": _zhportal,
    "kmsite": _kmsite,
    "frregional": _frregional,
}


def rss_c(feed: str, base: str, now: datetime) -> str:
    """An RSS feed of the feed's pages, newest first; each item carries the story's title and teaser only."""
    chosen = [p for p in pages_c() if p.feed == feed]
    items = "".join(
        f"<item><title>{_e(p.story.title)}</title><link>{base}/news/{p.id}.html</link>"
        f'<guid isPermaLink="true">{base}/news/{p.id}.html</guid>'
        f"<pubDate>{format_datetime(now - timedelta(minutes=2 + i))}</pubDate>"
        f"<description>{_e(p.story.summary)}</description></item>"
        for i, p in enumerate(chosen)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{feed}</title>'
        f"<link>{base}/</link><description>{feed}</description>{items}</channel></rss>"
    )
