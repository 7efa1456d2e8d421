"""Page furniture: split an article's blocks into the story body and the furniture around and inside it.

Furniture is what a news page carries besides the story: related / most-read / trending / "more from" lists,
"Read also: <headline>" lines, reader comments, newsletter and app promos, share bars, tag lists, credits and
author bios, "Read-to-Earn"-style widgets. Extraction leaves some of it in; matching must not see it (a football
report must not alert because its "Most read" list names scam raids in Poipet).

One detector serves both inputs: the blocks of trafilatura's element tree (``head``, ``p``, ``list``, ``quote``,
``table``, and the blocks inside containers and layout tables, each ``<br>`` line its own: ``monitor.furniture_tree``;
``split_tree``, called by ``monitor.extract``) and plain text split into lines (a feed's own text, ``split_text``,
which ``choose_article`` applies). Three passes over the blocks, each linear and bounded (``MAX_BLOCKS``; a block's
text is read up to ``_SCAN_CHARS``):

1. content: a block that *says* it is furniture: a furniture heading ("Most read", "Baca juga", "相关阅读", …), a
   promo heading ("Support our journalism") or button ("Subscribe"), an inline "Read more: <headline>" or "Next
   article: <headline>" line, an editor's note ("Correction: …") or bio, a promo, a credit, a share bar, a comment's
   time stamp or "Reply";
2. the body: the longest run of prose blocks (long, or sentence-ending), runs cut at furniture headings, comments
   and long stretches of headline-like blocks;
3. shape: a furniture heading takes the headline-like blocks after it (a comments, bio or "-to-Earn" heading, or a
   comment's time stamp, after the body takes the rest of the page; a promo heading its copy, a button the box
   before it); after the body, the page's tail (no prose left) is furniture from its first furniture or
   headline-like block on (but a Thai story's unpunctuated last sentence); before the body, runs of three or more
   headline-like lines. Inside the body only content furniture goes: sub-headings, bulleted facts and quotes stay.

The page's headline repeated above the story (``title_blocks``) is dropped from the body: it is the title.
docs/fetching.md describes the rules, the languages and the known limits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import TYPE_CHECKING, NamedTuple

from lxml import etree

from monitor.furniture_tree import MAX_BLOCKS, flat, leaves, split_lines
from monitor.furniture_words import (
    BUTTON,
    COMMENT_LINES,
    COMMENT_META,
    COMMENT_WORDS,
    END_HEADING,
    HEADING_PREFIX,
    HEADING_TRIM,
    LIST_HEADING,
    NOTE,
    PREFIX,
    PROMO,
    PROMO_HEADING,
    PROMO_WORDS,
    SHARE_BAR,
)

if TYPE_CHECKING:
    from monitor.extract import Extracted

__all__ = [
    "Block",
    "Chosen",
    "MAX_BLOCKS",
    "choose_article",
    "choose_text",
    "furniture_blocks",
    "split_text",
    "split_tree",
    "title_blocks",
]

#: Characters of a block the patterns read (furniture lines are short; a long block is prose anyway).
_SCAN_CHARS = 400
#: A block of at least this many units is prose whatever its punctuation; below ``_MIN_SENTENCE`` it never is.
_PROSE_UNITS = 25
_MIN_SENTENCE = 8
#: Headline-like: a few units, no sentence-final punctuation.
_HEADLINE_UNITS = (3, 24)
#: Content furniture is short; a longer block that happens to mention "subscribe" is prose.
_SHORT_UNITS = 40
#: An editor's note, a bio or a promo's copy is a paragraph, at most this long.
_NOTE_UNITS = 80
#: A promo box's title is a name ("Morning Edition"), shorter than a headline.
_BOX_TITLE_UNITS = 6
#: Headline-like blocks between two prose blocks that end a run of prose (sub-headings and fact lists do not).
_MAX_GAP = 8
#: Headline-like runs outside the body are furniture only while they are smaller than this share of the body.
_MAX_SHAPED_SHARE = 0.5

_SPACELESS = re.compile(r"[\u0e00-\u0e7f\u1780-\u17ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?。！？។៕…]['\"’”»)\]]*\s*$")
_INTRODUCES = re.compile(r"[:：]\s*$")
_MARK = re.compile(r"[:：៖|»>›→–—]|vid[eé]o|视频", re.I)  # what a "<heading>: <headline>" line needs
#: Scripts that end a sentence without punctuation: a story's last line in them reads like a headline.
_UNPUNCTUATED = re.compile(r"[\u0e00-\u0eff]{4}")


class Block(NamedTuple):
    """One block of an article: its kind (``head``, ``p``, ``list``, ``quote``, ``table``, … or ``line`` for plain
    text) and its text (a list's items one per line)."""

    kind: str
    text: str


@lru_cache(maxsize=4096)  # each block's text is counted by several rules
def _units(text: str) -> int:
    """Words, counting a run of Thai, Khmer or CJK characters as one unit per three characters."""
    spaceless = len(_SPACELESS.findall(text))
    if spaceless:  # their combining vowels are no \w: counted as characters, not as words
        text = _SPACELESS.sub(" ", text)
    return len(_WORD.findall(text)) + spaceless // 3


def _is_prose(block: Block) -> bool:
    if block.kind in ("head", "list"):
        return False
    units = _units(block.text[:_SCAN_CHARS])
    return units >= _PROSE_UNITS or (units >= _MIN_SENTENCE and _SENTENCE_END.search(block.text[-12:]) is not None)


def _headline(text: str, high: int = _HEADLINE_UNITS[1]) -> bool:
    """A short line without sentence-final punctuation: a headline, a link, a name. Under a list heading a line may
    be longer (``high``): a Thai or Khmer headline counts as many units as a paragraph of English."""
    text = text.strip().lstrip("-•*·>▪ ")
    low = _HEADLINE_UNITS[0]
    tail = text[-8:]
    return low <= _units(text[:_SCAN_CHARS]) <= high and not (_SENTENCE_END.search(tail) or _INTRODUCES.search(tail))


def _headlines(block: Block) -> bool:
    """The block is a headline, or a list whose items are (a list of two or more)."""
    if block.kind == "table":  # a data table (a layout table's cells are blocks of their own)
        return False
    lines = [line for line in islice(block.text.splitlines(), MAX_BLOCKS) if line.strip()]
    if block.kind == "list":
        return len(lines) >= 2 and all(_headline(line) for line in lines)
    return len(lines) == 1 and _headline(lines[0])


def _heading(text: str) -> str | None:
    """``"list"``, ``"end"`` or ``"promo"`` when the block is a furniture heading (``end``: its section runs to the
    end of the page when it follows the story; ``promo``: its copy follows as one paragraph), else None."""
    if len(text) > 60 or "\n" in text.strip():
        return None
    key = HEADING_TRIM.sub("", text.strip().casefold())
    if BUTTON.fullmatch(key):
        return "button"
    if END_HEADING.fullmatch(key):
        return "end"
    if PROMO_HEADING.fullmatch(key):
        return "promo"
    return "list" if LIST_HEADING.fullmatch(key) else None


def _content_kind(block: Block) -> str | None:
    """What a block says it is: ``list``/``end``/``promo``/``button`` (a heading), ``comment`` (a comment's time
    stamp or "Reply"), ``line`` (furniture by itself: a prefixed headline, a note, a promo), or None."""
    text = block.text.strip()
    if (kind := _heading(text)) is not None:
        return "promo" if kind == "button" and block.kind == "head" else kind  # a heading opens its box
    head = text[:_SCAN_CHARS]
    units = _units(head)
    if block.kind == "list" or units > _NOTE_UNITS:  # a list is furniture by its heading or its shape
        return None
    if NOTE.match(head):
        return "line"
    if units > _SHORT_UNITS:
        return None
    if _MARK.search(head, 0, 80) and HEADING_PREFIX.match(head) and not _SENTENCE_END.search(text[-12:]):
        return "line"  # "Next article: <headline>": a headline, not a sentence
    low = head.casefold()
    if low in COMMENT_LINES or any(word in low for word in COMMENT_WORDS) and COMMENT_META.search(head):
        return "comment"
    if PREFIX.match(head) and _units(head) <= 30 or SHARE_BAR.match(head):
        return "line"
    return "line" if any(word in low for word in PROMO_WORDS) and PROMO.search(head) else None


def _body_span(blocks: Sequence[Block], marked: dict[int, str]) -> tuple[int, int]:
    """(first, last) index of the longest run of prose blocks; runs end at content furniture or a long gap."""
    best, best_size = (0, -1), 0
    start, size, last, gap = -1, 0, -1, 0
    for i, block in enumerate(blocks):
        if i in marked and marked[i] != "line" or gap > _MAX_GAP:
            start, size, gap = -1, 0, 0
        if i in marked or not _is_prose(block):
            gap += block.kind != "head" and _headlines(block)  # sub-headings and fact lists keep a story going
            continue
        start, size, last, gap = (i if start < 0 else start), size + len(block.text), i, 0
        if size > best_size:
            best, best_size = (start, last), size
    return best


def _after_heading(blocks: Sequence[Block], at: int, kind: str, body: tuple[int, int], prose_after: int) -> range:
    """The blocks a furniture heading at ``at`` takes: a button, its box's title and copy before it; a promo
    heading, its copy and button after it; to the end (comments, bios after the ``body`` of that size, unless as
    much prose as half the body follows: then the story goes on after a widget), else the headline-like blocks and
    lists that follow it."""
    body_end, body_size = body
    if kind == "button":  # a promo box: its title and its copy, then this button
        copy, title = (blocks[at - 1], blocks[at - 2]) if at >= 2 else (Block("head", ""), Block("p", ""))
        boxed = copy.kind not in ("head", "list") and _units(copy.text[:_SCAN_CHARS]) <= _SHORT_UNITS
        titled = not _is_prose(title) and 0 < _units(title.text[:_SCAN_CHARS]) <= _BOX_TITLE_UNITS
        return range(at - 2 if boxed and titled and not _SENTENCE_END.search(title.text[-8:]) else at, at + 1)
    if kind == "promo":  # the promo's copy, then its button
        end = (
            at
            + 1
            + (
                at + 1 < len(blocks)
                and blocks[at + 1].kind != "head"
                and _units(blocks[at + 1].text[:_SCAN_CHARS]) <= _NOTE_UNITS
            )
        )
        while (
            end < min(at + 4, len(blocks))
            and not _is_prose(blocks[end])
            and blocks[end].kind != "head"
            and _units(blocks[end].text[:_SCAN_CHARS]) <= 4
        ):
            end += 1
        return range(at, end)
    if kind != "list" and at > body_end and prose_after <= body_size * _MAX_SHAPED_SHARE:
        return range(max(body_end + 1, at - (kind == "comment")), len(blocks))  # a commenter's name, then the stamp
    if kind == "comment":
        return range(at, at + 1)
    end = at + 1
    while end < len(blocks) and (not _is_prose(blocks[end]) or _headline(blocks[end].text, _SHORT_UNITS)):
        if end > at + 1 and (blocks[end].kind == "head" or _heading(blocks[end].text)):
            break  # a sub-heading after the list (the story goes on), or the next furniture heading
        end += 1
    return range(at, end)


def _headline_runs(blocks: Sequence[Block], indices: range, min_run: int, heads: bool = True) -> set[int]:
    """Indices in runs of at least ``min_run`` headline-like blocks; ``heads=False``: headings are left out.
    A block of less than two units ("...", "Date", a bullet) joins a run without counting."""
    found: set[int] = set()
    run: list[int] = []
    size = 0
    for i in [*indices, -1]:
        if i >= 0 and not heads and blocks[i].kind == "head":
            continue  # before the story, a page's headings are its title, kicker and standfirst
        if i >= 0 and (tiny := _tiny(blocks[i].text)) or i >= 0 and _headlines(blocks[i]):
            run.append(i)
            size += 0 if tiny else blocks[i].text.count("\n") + 1  # a list counts its items
            continue
        if size >= min_run:
            found.update(run)
        run, size = [], 0
    return found


def _tiny(text: str) -> bool:
    return _units(text[:_SCAN_CHARS]) < 2 and _SENTENCE_END.search(text[-12:]) is None


def furniture_blocks(blocks: Sequence[Block]) -> set[int]:
    """Indices of the furniture among ``blocks`` (only the first ``MAX_BLOCKS`` are judged)."""
    blocks = blocks[:MAX_BLOCKS]
    marked = {i: kind for i, block in enumerate(blocks) if (kind := _content_kind(block)) is not None}
    first, last = _body_span(blocks, marked)
    found = set(marked)
    body_size = sum(len(blocks[i].text) for i in range(first, last + 1))
    prose_after = [0] * (len(blocks) + 1)  # prose characters from each block on
    for i in range(len(blocks) - 1, -1, -1):
        prose_after[i] = prose_after[i + 1] + (len(blocks[i].text) if _is_prose(blocks[i]) else 0)
    reach = 0  # a heading inside what an earlier one took adds nothing: each block is walked once
    for i, kind in sorted(marked.items()):
        if kind != "line" and i >= reach:
            taken = _after_heading(blocks, i, kind, (last, body_size), prose_after[i])
            found.update(taken)
            reach = taken.stop
    tail = range(_tail(blocks, last, found), len(blocks))
    if shaped := _headline_runs(blocks, tail, 1) - _last_sentence(blocks, tail.start, found) | (found & set(tail)):
        shaped = set(range(min(shaped), len(blocks)))  # from the first furniture on, the tail is all furniture
    for run in (shaped, _headline_runs(blocks, range(0, first), 3, heads=False)):
        if sum(len(blocks[i].text) for i in run - found if _headlines(blocks[i])) <= body_size * _MAX_SHAPED_SHARE:
            found |= run  # more headline-like text than story: a listing page, not furniture around a story
    return found


def _last_sentence(blocks: Sequence[Block], at: int, found: set[int]) -> set[int]:
    """The story's closing sentence at ``at``, the start of the page's tail, as a script without sentence-final
    punctuation (Thai, Lao) writes it: a headline-like line after prose is no headline when nothing but furniture
    follows it."""
    if not 0 < at < len(blocks) or at in found or at - 1 in found or not _is_prose(blocks[at - 1]):
        return set()
    if blocks[at].kind in ("head", "list") or not _UNPUNCTUATED.search(blocks[at].text):
        return set()
    if _units(blocks[at].text[:_SCAN_CHARS]) < _MIN_SENTENCE:
        return set()
    after = next((i for i in range(at + 1, len(blocks)) if not _tiny(blocks[i].text)), None)  # a rule "----" aside
    return {at} if after is None or after in found or not _headlines(blocks[after]) else set()  # not a headline run


def title_blocks(blocks: Sequence[Block], title: str) -> set[int]:
    """Indices of the page's headline repeated above the story: it is the article's title, stored as such."""
    return {i for i in range(min(3, len(blocks))) if title and _same(blocks[i].text, title)}


def _tail(blocks: Sequence[Block], last: int, found: set[int]) -> int:
    """Where the page's tail starts: after the body, the blocks from which on nothing reads as story (prose, or
    a list of more than headlines: a recipe's steps after its ingredients)."""
    start = len(blocks)
    while start > last + 1:
        block = blocks[start - 1]
        if start - 1 not in found and (_is_prose(block) or block.kind == "list" and not _headlines(block)):
            break
        start -= 1
    return start


def _same(text: str, title: str) -> bool:
    """The block repeats the title (the page's headline above the story)."""
    return _WORD.findall(text.casefold()) == _WORD.findall(title.casefold())


def split_text(text: str, title: str = "") -> tuple[str, str]:
    """(body, furniture) of plain text, one block a line; both keep their lines in order."""
    lines = text.splitlines()
    blocks = [Block("line", line) for line in lines[:MAX_BLOCKS] if line.strip()]
    where = [i for i, line in enumerate(lines[:MAX_BLOCKS]) if line.strip()]
    cut = {where[i] for i in furniture_blocks(blocks)}
    dropped = cut | {where[i] for i in title_blocks(blocks, title)}
    if not dropped:
        return text, ""
    body = "\n".join(line for i, line in enumerate(lines) if i not in dropped)
    return body.strip("\n"), "\n".join(lines[i] for i in sorted(cut))


def _tree_block(element: etree._Element) -> Block:
    if element.tag == "list":
        return Block("list", "\n".join(flat(item) for item in islice(element.iter("item"), MAX_BLOCKS)))
    return Block(str(element.tag), flat(element))


def split_tree(
    body: etree._Element, title: str, render: Callable[[etree._Element], str], text: str | None = None
) -> tuple[str, str]:
    """(body, furniture) of trafilatura's element tree (its ``body``: ``head``, ``p``, ``list``, … children);
    ``render`` turns a tree into text (trafilatura's own, so the body reads exactly as its text output); ``text``,
    the tree already rendered, is returned as it is when nothing is cut."""
    split_lines(body)
    children = leaves(body)
    blocks = [_tree_block(child) for child in children]
    cut = furniture_blocks(blocks)
    dropped = title_blocks(blocks, title) - cut
    if not cut and not dropped and text is not None:
        return text, ""
    for i in dropped:
        if (parent := children[i].getparent()) is not None:
            parent.remove(children[i])
    if not cut:
        return render(body), ""
    furniture = etree.Element(body.tag)
    for i in sorted(cut):
        furniture.append(children[i])  # moves it out of the body
    return render(body), render(furniture)


@dataclass(frozen=True)
class Chosen:
    """The text to match and store for an entry: ``text`` is the story's body, ``furniture`` what was split off."""

    title: str
    text: str
    furniture: str
    from_page: bool


def choose_article(extracted: Extracted | None, feed_title: str, feed_summary: str, feed_content: str) -> Chosen:
    """The title and text to match and store for an entry: the page's article, else the feed's own text.

    The title is the feed's (it is what the publisher chose to announce; page titles often carry the site name),
    else the page's. The text is the longest body of the extracted article, the feed's full content and its
    summary (the feed's text loses its furniture first, ``split_text``): a page that could not be fetched or yielded
    nothing falls back to the feed, and so does a page that yields less than the feed itself carries (a paywall
    teaser, a cookie notice).
    """
    title = (feed_title or "").strip() or (extracted.title if extracted is not None else "")
    page = (extracted.text, extracted.furniture) if extracted is not None else ("", "")
    raw = [(text or "").strip() for text in (feed_content, feed_summary)]
    if page[0] and len(page[0]) >= max(map(len, raw)):  # a feed text's body is never longer than the text itself
        return Chosen(title, page[0], page[1], from_page=True)
    feed = (split_text(text, title) for text in raw)
    text, furniture = max((page, *feed), key=lambda pair: len(pair[0]))
    return Chosen(title, text, furniture, from_page=bool(page[0]) and (text, furniture) == page)


def choose_text(extracted: Extracted | None, feed_title: str, feed_summary: str, feed_content: str) -> tuple[str, str]:
    """``choose_article``'s (title, text)."""
    chosen = choose_article(extracted, feed_title, feed_summary, feed_content)
    return chosen.title, chosen.text
