"""The furniture detector's vocabulary (``monitor.furniture``): the headings, inline prefixes, promos, share bars
and comment marks that say a block is page furniture, in English, Indonesian, Malay, Thai, Chinese, Vietnamese,
French and Khmer. Data only; docs/fetching.md lists what is recognised.

Headings are matched against a whole short block, case-folded, with ``HEADING_TRIM`` applied; the other patterns
against the first few hundred characters of a short block, after a cheap substring test (``PROMO_WORDS``,
``COMMENT_WORDS``) that spares most paragraphs the regex.
"""

from __future__ import annotations

import re

__all__ = [
    "COMMENT_LINES", "COMMENT_META", "COMMENT_WORDS", "END_HEADING", "END_HEADINGS", "HEADING_TRIM", "LIST_HEADING", "LIST_HEADINGS", "PREFIX", "PROMO", "PROMO_WORDS", "SHARE_BAR", "SHARE_WORD",
]

# Headings that open furniture, matched against a whole short block (case-folded, trailing punctuation dropped).
LIST_HEADINGS = (
    r"(the )?most (read|popular|viewed|shared|commented|watched|emailed)( \w+){0,4}", r"[\w' ]{0,30}newsletters?",
    r"trending( now| stories| news| articles| topics| today)?", r"popular( now| stories| news| posts)?",
    r"popular (on|in|at) [\w .'’-]{1,30}", r"more (from|on|in|about|stories|news|articles|to read)( [\w .'’-]{1,30})?",
    r"related( articles?| stories| news| posts?| content| coverage| topics| reading| links| videos?)?",
    r"read (also|more|next)", r"also read", r"see also", r"don'?t miss", r"editor'?s picks?", r"top stories",
    r"you (may|might) (also )?(like|enjoy|be interested in)( this| these)?",
    r"recommended( for you| stories| reading)?",
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
END_HEADINGS = (
    r"(\d+ )?(comments?|responses?|replies)( \(\d+\))?", r"(leave|post|add|write) (a|your) (comment|reply)",
    r"(join|show) (the )?(discussion|comments?|conversation)", r"about the authors?", r"about the writer",
    r"komentar", r"\d* ?komen(tar)?", r"tulis komentar", r"ความคิดเห็น", r"แสดงความคิดเห็น", r"评论", r"发表评论",
    r"网友评论", r"bình luận", r"ý kiến bạn đọc", r"commentaires?", r"(laisser|ajouter) un commentaire",
    r"réagir", r"à propos de l'auteur", r"មតិ", r"មតិយោបល់", r"\w+[ -](to|2)[ -]earn( \w+)?",
)
LIST_HEADING = re.compile(r"(?:%s)" % "|".join(LIST_HEADINGS))
END_HEADING = re.compile(r"(?:%s)" % "|".join(END_HEADINGS))
HEADING_TRIM = re.compile(r"^[\W_]+|[\s:：៖.…>»|\-–—!]+$")

#: "Read also: <headline>" lines. After a colon any of these; without one only the unambiguous ones.
PREFIX = re.compile(
    r"^\W{0,3}(?:(?:read (?:also|more|next)|also read|see also|related|more|also|don'?t miss|recommended|watch|"
    r"baca juga|baca selengkapnya|berita terkait|simak juga|lihat juga|artikel berkaitan|baca lagi|"
    r"อ่านเพิ่มเติม|อ่านต่อ|ข่าวที่เกี่ยวข้อง|相关阅读|相关|推荐阅读|延伸阅读|xem thêm|đọc thêm|tin liên quan|"
    r"(?:à |a )?lire aussi|voir aussi|lire la suite|អានបន្ថែម|អត្ថបទទាក់ទង)\s*[:：៖»>|–—-]|"
    r"(?:baca juga|read also|also read|อ่านเพิ่มเติม|อ่านต่อ|相关阅读|推荐阅读|延伸阅读|xem thêm|đọc thêm|"
    r"(?:à |a )?lire aussi|អានបន្ថែម|don'?t miss)\s)",
    re.I,
)
#: Promos, credits, legal lines, share bars, reading times: furniture whole when the block is short.
PROMO = re.compile(
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
SHARE_WORD = (r"(?:share|tweet|e-?mail|print|facebook|twitter|x|whatsapp|linkedin|pinterest|reddit|telegram|"
               r"line|copy link|comments?|save|bagikan|kongsi|partager|chia sẻ|แชร์|分享|ចែករំលែក)")
SHARE_BAR = re.compile(rf"^(?:{SHARE_WORD}[\s|,/·•:]*){{2,}}$|^share(?: on)? {SHARE_WORD}$", re.I)
#: Reader comments: a time stamp ("3 days ago"), "Reply", likes.
COMMENT_META = re.compile(
    r"\b\d+\s*(?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\s+ago\b|^\d+ likes?$|"
    r"^avatar of\b|"
    r"\d+\s*(?:menit|jam|hari|minggu|bulan) (?:yang )?lalu|\d+\s*(?:phút|giờ|ngày) trước|"
    r"il y a \d+\s*(?:minutes?|heures?|jours?)|\d+\s*(?:分钟|小时|天)前|\d+\s*(?:นาที|ชั่วโมง|วัน)ที่แล้ว",
    re.I,
)

#: Words one of the patterns above needs: a cheap test before the regex (which costs ~100 µs a paragraph).
PROMO_WORDS = (
    "subscrib", "sign up", "sign-up", "signing up", "newsletter", "inbox", " app", "follow", "share", "click",
    "contributed", "reporting by", "writing by", "editing by", "edited by", "compiled by", "translated by", "write to",
    "email to", "e-mail to", "updated", "appeared first", "min read", "minute read", "min-read", "reading time",
    "temps de lecture", "waktu baca", "เวลาอ่าน", "langganan", "ikuti", "abonnez", "inscrivez", "suivez", "订阅",
    "关注我们", "下载", "đăng ký nhận", "theo dõi chúng tôi", "ติดตาม", "ជាវ", "តាមដាន",
)
COMMENT_WORDS = ("ago", "avatar", "likes", "lalu", "trước", "il y a", "前", "ที่แล้ว")
#: A comment's action links, as a whole line.
COMMENT_LINES = frozenset({"reply", "report", "like", "likes", "balas", "trả lời", "répondre", "ตอบกลับ", "回复"})
