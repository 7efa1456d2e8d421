"""Page furniture: split an article's blocks into the story body and the furniture around and inside it.

Furniture is what a news page carries besides the story: related / most-read / trending / "more from" lists,
"Read also: <headline>" lines, reader comments, newsletter and app promos, share bars, tag lists, credits and
author bios, "Read-to-Earn"-style widgets. Extraction leaves some of it in; matching must not see it (a football
report must not alert because its "Most read" list names scam raids in Poipet).

One detector serves both inputs: the blocks of trafilatura's element tree (``head``, ``p``, ``list``, ``quote``,
``table``; ``split_tree``, called by ``monitor.extract``) and plain text split into lines (a feed's own text,
``split_text``, which ``choose_article`` applies). Three passes over the blocks, each linear and bounded
(``MAX_BLOCKS``; a block's text is read up to ``_SCAN_CHARS``):

1. content: a block that *says* it is furniture: a furniture heading ("Most read", "Baca juga", "相关阅读", …), an
   inline "Read more: <headline>" line, a promo, a credit, a share bar, a comment's time stamp or "Reply";
2. the body: the longest run of prose blocks (long, or sentence-ending), runs cut at furniture headings, comments
   and long stretches of headline-like blocks;
3. shape: a furniture heading takes the headline-like blocks after it (a comments, bio or "-to-Earn" heading, or a
   comment's time stamp, after the body takes the rest of the page); after the body, the page's tail (no prose left)
   is furniture from its first furniture or headline-like block on; before the body, runs of three or more
   headline-like lines. Inside the body only content furniture goes: sub-headings, bulleted facts and quotes stay.

The page's headline repeated above the story (``title_blocks``) is dropped from the body: it is the title.
docs/fetching.md describes the rules, the languages and the known limits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, NamedTuple

from lxml import etree

if TYPE_CHECKING:
    from monitor.extract import Extracted

__all__ = [
    "Block", "Chosen", "MAX_BLOCKS", "choose_article", "choose_text", "furniture_blocks", "split_text", "split_tree",
    "title_blocks",
]

#: Blocks looked at; the rest of a (hostile) page is body as it stands. Real articles have a few hundred at most.
MAX_BLOCKS = 5_000
#: Characters of a block the patterns read (furniture lines are short; a long block is prose anyway).
_SCAN_CHARS = 400
#: A block of at least this many units is prose whatever its punctuation; below ``_MIN_SENTENCE`` it never is.
_PROSE_UNITS = 25
_MIN_SENTENCE = 8
#: Headline-like: a few units, no sentence-final punctuation.
_HEADLINE_UNITS = (3, 24)
#: Content furniture is short; a longer block that happens to mention "subscribe" is prose.
_SHORT_UNITS = 40
#: Headline-like blocks between two prose blocks that end a run of prose (sub-headings and fact lists do not).
_MAX_GAP = 8
#: Headline-like runs outside the body are furniture only while they are smaller than this share of the body.
_MAX_SHAPED_SHARE = 0.5

_SPACELESS = re.compile(r"[\u0e00-\u0e7f\u1780-\u17ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?。！？។៕…]['\"’”»)\]]*\s*$")
_INTRODUCES = re.compile(r"[:：]\s*$")

# Headings that open furniture, matched against a whole short block (case-folded, trailing punctuation dropped).
_LIST_HEADINGS = (
    r"(the )?most (read|popular|viewed|shared|commented|watched|emailed)( \w+){0,4}", r"[\w' ]{0,30}newsletters?",
    r"trending( now| stories| news| articles| topics| today)?", r"popular( now| stories| news| posts)?",
    r"popular (on|in|at) [\w .'’-]{1,30}", r"more (from|on|in|about|stories|news|articles|to read)( [\w .'’-]{1,30})?",
    r"related( articles?| stories| news| posts?| content| coverage| topics| reading| links| videos?)?",
    r"read (also|more|next)", r"also read", r"see also", r"don'?t miss", r"editor'?s picks?", r"top stories",
    r"you (may|might) (also )?(like|enjoy|be interested in)( this| these)?", r"recommended( for you| stories| reading)?",
    r"(what|stories) to read next", r"further reading", r"explore further", r"latest( news| stories| articles)?",
    r"in other news", r"(more|other) news", r"more stories", r"tags?", r"topics?", r"filed under", r"live updates?",
    r"share( this)?( article| story| post| page)?",
    # id / ms
    r"baca juga", r"berita terkait", r"artikel terkait", r"terpopuler", r"populer", r"berita terkini",
    r"berita lainnya", r"berita pilihan", r"artikel berkaitan", r"berita berkaitan", r"bacaan berkaitan",
    r"paling popular", r"paling banyak dibaca", r"terkini", r"bagikan", r"kongsi", r"label",
    # th
    r"อ่านเพิ่มเติม", r"อ่านต่อ", r"ข่าวที่เกี่ยวข้อง", r"ข่าวล่าสุด", r"ข่าวยอดนิยม", r"ยอดนิยม", r"บทความที่เกี่ยวข้อง",
    r"เรื่องที่เกี่ยวข้อง", r"แท็ก", r"แชร์",
    # zh
    r"相关阅读", r"相关文章", r"相关新闻", r"相关报道", r"热门文章", r"热门新闻", r"热门推荐", r"热门", r"推荐阅读",
    r"延伸阅读", r"猜你喜欢", r"最新文章", r"最新新闻", r"更多新闻", r"标签", r"分享", r"热读", r"阅读排行",
    # vi
    r"tin liên quan", r"đọc thêm", r"xem thêm", r"tin mới nhất", r"tin nổi bật", r"tin cùng chuyên mục",
    r"bài viết liên quan", r"đọc nhiều nhất", r"xem nhiều nhất", r"tin khác", r"chia sẻ", r"từ khóa",
    # fr
    r"(à|a) lire aussi", r"lire aussi", r"les plus lus", r"les plus (populaires|partagés|commentés)",
    r"sur le même (sujet|thème)", r"articles? similaires?", r"voir aussi", r"dans la même rubrique", r"partager",
    r"mots[- ]clés", r"à la une", r"(nos )?dernières (infos|actualités|nouvelles)",
    # km
    r"អត្ថបទទាក់ទង", r"ព័ត៌មានទាក់ទង", r"អានបន្ថែម", r"អត្ថបទពេញនិយម", r"ពេញនិយម", r"ព័ត៌មានថ្មីៗ", r"ចែករំលែក",
)
# Headings that open furniture running to the end of the page when they come after the story: comments, bios.
_END_HEADINGS = (
    r"(\d+ )?(comments?|responses?|replies)( \(\d+\))?", r"(leave|post|add|write) (a|your) (comment|reply)",
    r"(join|show) (the )?(discussion|comments?|conversation)", r"about the authors?", r"about the writer",
    r"komentar", r"\d* ?komen(tar)?", r"tulis komentar", r"ความคิดเห็น", r"แสดงความคิดเห็น", r"评论", r"发表评论",
    r"网友评论", r"bình luận", r"ý kiến bạn đọc", r"commentaires?", r"(laisser|ajouter) un commentaire",
    r"réagir", r"à propos de l'auteur", r"មតិ", r"មតិយោបល់", r"\w+[ -](to|2)[ -]earn( \w+)?",
)
_LIST_HEADING = re.compile(r"(?:%s)" % "|".join(_LIST_HEADINGS))
_END_HEADING = re.compile(r"(?:%s)" % "|".join(_END_HEADINGS))
_HEADING_TRIM = re.compile(r"^[\W_]+|[\s:：៖.…>»|\-–—!]+$")

#: "Read also: <headline>" lines. After a colon any of these; without one only the unambiguous ones.
_PREFIX = re.compile(
    r"^\W{0,3}(?:(?:read (?:also|more|next)|also read|see also|related|more|also|don'?t miss|recommended|watch|"
    r"baca juga|baca selengkapnya|berita terkait|simak juga|lihat juga|artikel berkaitan|baca lagi|"
    r"อ่านเพิ่มเติม|อ่านต่อ|ข่าวที่เกี่ยวข้อง|相关阅读|相关|推荐阅读|延伸阅读|xem thêm|đọc thêm|tin liên quan|"
    r"(?:à |a )?lire aussi|voir aussi|lire la suite|អានបន្ថែម|អត្ថបទទាក់ទង)\s*[:：៖»>|–—-]|"
    r"(?:baca juga|read also|also read|อ่านเพิ่มเติม|อ่านต่อ|相关阅读|推荐阅读|延伸阅读|xem thêm|đọc thêm|"
    r"(?:à |a )?lire aussi|អានបន្ថែម|don'?t miss)\s)",
    re.I,
)
#: Promos, credits, legal lines, share bars, reading times: furniture whole when the block is short.
_PROMO = re.compile(
    r"\b(?:subscrib\w*|sign(?:ing)?[ -]up|newsletters?)\b.{0,80}\b(?:newsletters?|inbox|e-?mails?|free|today|now|"
    r"here|updates|alerts)\b|"
    r"\b(?:newsletters?|inbox)\b.{0,60}\b(?:subscrib\w*|sign(?:ing)?[ -]up)\b|"
    r"\b(?:download|get|install)\b.{0,40}\bapps?\b|\bfollow\b.{0,60}\bon (?:twitter|facebook|instagram|youtube|"
    r"tiktok|telegram|linkedin|x)\b|\bshare (?:it|this)\b.{0,30}\bfriends?\b|\bclick here\b|"
    r"\bcontributed (?:reporting|to this report)\b|"
    r"^(?:\(?(?:additional )?reporting|writing|editing|edited|compiled|translated) by\b|^(?:write|email) to\b|"
    r"^(?:this|the) (?:article|story) (?:was|has been) (?:updated|corrected)|^updated\b.{0,40}\d|"
    r"^the post\b.{1,300}\bappeared first on\b|"
    r"\b\d+[ -]min(?:ute)?s?[ -]read\b|reading time|temps de lecture|waktu baca|เวลาอ่าน|"
    r"berlangganan|langganan|ikuti (?:kami|kanal|berita)|abonnez-vous|inscrivez-vous|suivez-nous|"
    r"订阅|关注我们|下载.{0,10}(?:app|客户端)|đăng ký nhận|theo dõi chúng tôi|ติดตาม.{0,20}(?:ได้ที่|ทาง)|"
    r"กดติดตาม|ជាវ|តាមដាន",
    re.I,
)
_SHARE_WORD = (r"(?:share|tweet|e-?mail|print|facebook|twitter|x|whatsapp|linkedin|pinterest|reddit|telegram|"
               r"line|copy link|comments?|save|bagikan|kongsi|partager|chia sẻ|แชร์|分享|ចែករំលែក)")
_SHARE_BAR = re.compile(rf"^(?:{_SHARE_WORD}[\s|,/·•:]*){{2,}}$|^share(?: on)? {_SHARE_WORD}$", re.I)
#: Reader comments: a time stamp ("3 days ago"), "Reply", likes.
_COMMENT_META = re.compile(
    r"\b\d+\s*(?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\s+ago\b|^\d+ likes?$|"
    r"^avatar of\b|"
    r"\d+\s*(?:menit|jam|hari|minggu|bulan) (?:yang )?lalu|\d+\s*(?:phút|giờ|ngày) trước|"
    r"il y a \d+\s*(?:minutes?|heures?|jours?)|\d+\s*(?:分钟|小时|天)前|\d+\s*(?:นาที|ชั่วโมง|วัน)ที่แล้ว",
    re.I,
)

#: Words one of the patterns above needs: a cheap test before the regex (which costs ~100 µs a paragraph).
_PROMO_WORDS = (
    "subscrib", "sign up", "sign-up", "signing up", "newsletter", "inbox", " app", "follow", "share", "click",
    "contributed", "reporting by", "writing by", "editing by", "edited by", "compiled by", "translated by", "write to",
    "email to", "e-mail to", "updated", "appeared first", "min read", "minute read", "min-read", "reading time",
    "temps de lecture", "waktu baca", "เวลาอ่าน", "langganan", "ikuti", "abonnez", "inscrivez", "suivez", "订阅",
    "关注我们", "下载", "đăng ký nhận", "theo dõi chúng tôi", "ติดตาม", "ជាវ", "តាមដាន",
)
_COMMENT_WORDS = ("ago", "avatar", "likes", "lalu", "trước", "il y a", "前", "ที่แล้ว")
#: A comment's action links, as a whole line.
_COMMENT_LINES = frozenset({"reply", "report", "like", "likes", "balas", "trả lời", "répondre", "ตอบกลับ", "回复"})


class Block(NamedTuple):
    """One block of an article: its kind (``head``, ``p``, ``list``, ``quote``, ``table``, … or ``line`` for plain
    text) and its text (a list's items one per line)."""

    kind: str
    text: str


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


def _headline(text: str) -> bool:
    """A short line without sentence-final punctuation: a headline, a link, a name."""
    text = text.strip().lstrip("-•*·>▪ ")
    low, high = _HEADLINE_UNITS
    tail = text[-8:]
    return low <= _units(text[:_SCAN_CHARS]) <= high and not (_SENTENCE_END.search(tail) or _INTRODUCES.search(tail))


def _headlines(block: Block) -> bool:
    """The block is a headline, or a list whose items are (a list of two or more)."""
    lines = [line for line in islice(block.text.splitlines(), MAX_BLOCKS) if line.strip()]
    if block.kind == "list":
        return len(lines) >= 2 and all(_headline(line) for line in lines)
    return len(lines) == 1 and _headline(lines[0])


def _heading(text: str) -> str | None:
    """``"list"`` or ``"end"`` when the block is a furniture heading (``end``: its section runs to the end of the
    page when it follows the story), else None."""
    if len(text) > 60 or "\n" in text.strip():
        return None
    key = _HEADING_TRIM.sub("", text.strip().casefold())
    if _END_HEADING.fullmatch(key):
        return "end"
    return "list" if _LIST_HEADING.fullmatch(key) else None


def _content_kind(block: Block) -> str | None:
    """What a block says it is: ``list``/``end`` (a heading), ``comment`` (a comment's time stamp or "Reply"),
    ``line`` (furniture by itself), or None."""
    text = block.text.strip()
    if (kind := _heading(text)) is not None:
        return kind
    head = text[:_SCAN_CHARS]
    if _units(head) > _SHORT_UNITS or block.kind == "list":  # a list is furniture by its heading or its shape
        return None
    low = head.casefold()
    if low in _COMMENT_LINES or any(word in low for word in _COMMENT_WORDS) and _COMMENT_META.search(head):
        return "comment"
    if _PREFIX.match(head) and _units(head) <= 30 or _SHARE_BAR.match(head):
        return "line"
    return "line" if any(word in low for word in _PROMO_WORDS) and _PROMO.search(head) else None


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


def _after_heading(blocks: Sequence[Block], at: int, kind: str, body_end: int) -> range:
    """The blocks a furniture heading at ``at`` takes: to the end (comments, bios after the body), else the
    headline-like blocks and lists that follow it."""
    if kind != "list" and at > body_end:  # the commenter's name comes before a comment's time stamp
        return range(max(body_end + 1, at - (kind == "comment")), len(blocks))
    if kind == "comment":
        return range(at, at + 1)
    end = at + 1
    while end < len(blocks) and not _is_prose(blocks[end]):
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
            size += not tiny
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
    reach = 0  # a heading inside what an earlier one took adds nothing: each block is walked once
    for i, kind in sorted(marked.items()):
        if kind != "line" and i >= reach:
            taken = _after_heading(blocks, i, kind, last)
            found.update(taken)
            reach = taken.stop
    body_size = sum(len(blocks[i].text) for i in range(first, last + 1))
    tail = range(_tail(blocks, last, found), len(blocks))
    if shaped := _headline_runs(blocks, tail, 1) | (found & set(tail)):
        shaped = set(range(min(shaped), len(blocks)))  # from the first furniture on, the tail is all furniture
    for shaped in (shaped, _headline_runs(blocks, range(0, first), 3, heads=False)):
        if sum(len(blocks[i].text) for i in shaped - found) <= body_size * _MAX_SHAPED_SHARE:
            found |= shaped  # more headline-like text than story: a listing page, not furniture around a story
    return found


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


def _flat(element: etree._Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _tree_block(element: etree._Element) -> Block:
    if element.tag == "list":
        return Block("list", "\n".join(_flat(item) for item in islice(element.iter("item"), MAX_BLOCKS)))
    return Block(str(element.tag), _flat(element))


def split_tree(body: etree._Element, title: str, render: Callable[[etree._Element], str]) -> tuple[str, str]:
    """(body, furniture) of trafilatura's element tree (its ``body``: ``head``, ``p``, ``list``, … children);
    ``render`` turns a tree into text (trafilatura's own, so the body reads exactly as its text output)."""
    children = list(islice(body, MAX_BLOCKS))
    blocks = [_tree_block(child) for child in children]
    cut = furniture_blocks(blocks)
    for i in title_blocks(blocks, title) - cut:
        body.remove(children[i])
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


def choose_article(
    extracted: Extracted | None, feed_title: str, feed_summary: str, feed_content: str
) -> Chosen:
    """The title and text to match and store for an entry: the page's article, else the feed's own text.

    The title is the feed's (it is what the publisher chose to announce; page titles often carry the site name),
    else the page's. The text is the longest body of the extracted article, the feed's full content and its
    summary (the feed's text loses its furniture first, ``split_text``): a page that could not be fetched or yielded
    nothing falls back to the feed, and so does a page that yields less than the feed itself carries (a paywall
    teaser, a cookie notice).
    """
    page_title = extracted.title if extracted is not None else ""
    title = (feed_title or "").strip() or page_title
    page = (extracted.text, extracted.furniture) if extracted is not None else ("", "")
    feed = (split_text((text or "").strip(), title) for text in (feed_content, feed_summary))
    text, furniture = max((page, *feed), key=lambda pair: len(pair[0]))
    return Chosen(title, text, furniture, from_page=bool(page[0]) and (text, furniture) == page)


def choose_text(
    extracted: Extracted | None, feed_title: str, feed_summary: str, feed_content: str
) -> tuple[str, str]:
    """``choose_article``'s (title, text)."""
    chosen = choose_article(extracted, feed_title, feed_summary, feed_content)
    return chosen.title, chosen.text
