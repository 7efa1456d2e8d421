"""The furniture detector's vocabulary (``monitor.furniture``): the headings (lists, end-of-page sections, promos),
promo buttons, inline prefixes, editors' notes, promos, share bars and comment marks that say a block is furniture,
in English, Indonesian, Malay, Thai, Chinese, Vietnamese, French and Khmer. Data only; docs/fetching.md lists what
is recognised.

Headings are matched against a whole short block, case-folded, with ``HEADING_TRIM`` applied; the other patterns
against the first few hundred characters of a short block, after a cheap substring test (``PROMO_WORDS``,
``COMMENT_WORDS``) that spares most paragraphs the regex.
"""

from __future__ import annotations

import re

__all__ = [
    "BUTTON",
    "COMMENT_LINES",
    "COMMENT_META",
    "COMMENT_WORDS",
    "END_HEADING",
    "END_HEADINGS",
    "HEADING_PREFIX",
    "HEADING_TRIM",
    "LIST_HEADING",
    "LIST_HEADINGS",
    "NOTE",
    "PREFIX",
    "PROMO",
    "PROMO_HEADING",
    "PROMO_HEADINGS",
    "PROMO_WORDS",
    "SHARE_BAR",
    "SHARE_WORD",
]

# fmt: off
# The vocabulary stays in rows of words, as it is read and extended (the formatter would put one word a line).
# Headings that open furniture, matched against a whole short block (case-folded, trailing punctuation dropped).
LIST_HEADINGS = (
    r"(the )?most (read|popular|viewed|shared|commented|watched|emailed)( \w+){0,4}",
    r"trending( now| stories| news| articles| topics| today)?", r"popular( now| stories| news| posts)?",
    r"popular (on|in|at) [\w .'’-]{1,30}", r"more (from|on|in|about|stories|news|articles|to read)( [\w .'’-]{1,30})?",
    r"related( articles?| stories| news| posts?| content| coverage| topics| reading| links| videos?)?",
    r"read (also|more|next)", r"also read", r"see also", r"don'?t miss", r"editor'?s picks?", r"top stories",
    r"you (may|might) (also )?(like|enjoy|be interested in)( this| these)?",
    r"recommended( for you| stories| reading)?",
    r"(what|stories) to read next", r"further reading", r"explore further", r"latest( news| stories| articles)?",
    r"in other news", r"(more|other) news", r"more stories", r"tags?", r"topics?", r"filed under", r"live updates?",
    r"share( this)?( article| story| post| page)?", r"what'?s (hot|trending|new)", r"watch (next|more)",
    r"(sponsored|promoted|partner)( content| stories| links)?", r"around the web", r"from (our|the) partners",
    r"breaking( news)?", r"live( blog| coverage)?", r"just in", r"key (events|moments)",
    # the next story, a video or audio player's list
    r"(next|previous|prev) (article|story|post|read)", r"(related |more |latest )?videos?", r"watch",
    r"listen to (this|the) (article|story)( \W*\d+ ?min\w*)?", r"listen( now)?", r"(more )?podcasts?",
    # id / ms
    r"baca juga", r"berita terkait", r"artikel terkait", r"terpopuler", r"populer", r"berita terkini",
    r"berita lainnya", r"berita pilihan", r"artikel berkaitan", r"berita berkaitan", r"bacaan berkaitan",
    r"paling popular", r"paling banyak dibaca", r"terkini", r"bagikan", r"kongsi", r"label", r"topik terkait",
    r"artikel lainnya", r"berita populer", r"berita terbaru", r"rekomendasi( untuk anda)?", r"artikel lain",
    r"jangan lewatkan", r"pilihan editor", r"kata kunci", r"(berita|artikel) (selanjutnya|sebelumnya|berikutnya)",
    r"(artikel|berita )?seterusnya", r"(anda )?mungkin (anda )?(juga )?(berminat|suka|menyukai|tertarik)( \w+){0,2}", r"dengar(kan)? (artikel|berita) ini", r"video (terkait|berkaitan|pilihan|lainnya)",
    r"tonton (juga|video)( \w+)?",
    # th
    r"อ่านเพิ่มเติม", r"อ่านต่อ", r"ข่าวที่เกี่ยวข้อง", r"ข่าวล่าสุด", r"ข่าวยอดนิยม", r"ยอดนิยม", r"บทความที่เกี่ยวข้อง",
    r"เรื่องที่เกี่ยวข้อง", r"แท็ก", r"แชร์", r"ข่าวแนะนำ", r"เรื่องแนะนำ", r"ข่าวเด่น\S{0,12}", r"ข่าวอื่น\S{0,20}", r"(ข่าว|เรื่อง)(ยอดนิยม|ล่าสุด|ที่อ่านมากที่สุด)\S{0,12}",
    r"(ข่าว|เรื่อง|บทความ)ที่คุณอาจ(สนใจ|ชอบ)", r"ข่าวด่วน",
    r"อ่านข่าวที่เกี่ยวข้อง", r"บทความแนะนำ", r"(ข่าว|บทความ|เรื่อง)(ถัดไป|ก่อนหน้า)", r"ฟังข่าว(นี้)?", r"วิดีโอ(ที่เกี่ยวข้อง)?",
    r"คลิป(ข่าว)?(ที่เกี่ยวข้อง)?",
    # zh
    r"相关阅读", r"相关文章", r"相关新闻", r"相关报道", r"热门文章", r"热门新闻", r"热门推荐", r"热门", r"推荐阅读",
    r"延伸阅读", r"猜你喜欢", r"最新文章", r"最新新闻", r"更多新闻", r"标签", r"分享", r"热读", r"阅读排行",
    r"为你推荐", r"相关推荐", r"精彩推荐", r"更多阅读", r"热点新闻", r"排行榜", r"最新消息", r"编辑推荐", r"热门排行",
    r"[上下]一篇", r"(相关|热门|更多)?视频", r"收听本文", r"听新闻",
    # vi
    r"tin liên quan", r"đọc thêm", r"xem thêm", r"tin mới nhất", r"tin nổi bật", r"tin cùng chuyên mục",
    r"bài viết liên quan", r"đọc nhiều nhất", r"xem nhiều nhất", r"tin khác", r"chia sẻ", r"từ khóa",
    r"tin xem nhiều", r"tin đọc nhiều", r"có thể bạn quan tâm", r"tin nóng", r"tin mới", r"bài đọc nhiều",
    r"(tin )?cùng chuyên mục", r"chủ đề", r"bài (tiếp theo|trước)", r"tin (tiếp theo|trước)", r"nghe (bài viết|bài báo|tin)( này)?",
    r"(video|clip) (liên quan|nổi bật)", r"xem video",
    # fr
    r"(à|a) lire aussi", r"lire aussi", r"les plus lus", r"les plus (populaires|partagés|commentés)",
    r"sur le même (sujet|thème)", r"articles? similaires?", r"voir aussi", r"dans la même rubrique", r"partager",
    r"mots[- ]clés", r"à la une", r"(nos )?dernières (infos|actualités|nouvelles)", r"(à )?lire également",
    r"les plus (consultés|vus)", r"en continu", r"vous aimerez aussi", r"(à )?voir aussi", r"recommandé pour vous",
    r"article (suivant|précédent)", r"vidéos?", r"(nos )?recommandations", r"écouter (cet|l') article",
    # km
    r"អត្ថបទទាក់ទង", r"ព័ត៌មានទាក់ទង", r"អានបន្ថែម", r"អត្ថបទពេញនិយម", r"ពេញនិយម", r"ព័ត៌មានថ្មីៗ", r"ចែករំលែក",
    r"ព័ត៌មានពាក់ព័ន្ធ", r"អត្ថបទពាក់ព័ន្ធ", r"ព័ត៌មានពេញនិយម", r"អានបន្ត", r"អត្ថបទ(បន្ទាប់|មុន)", r"(អត្ថបទ|ព័ត៌មាន)?(ដែល)?(គេ)?អានច្រើន\S{0,12}", r"វីដេអូ\S{0,12}", r"ស្តាប់\S{0,20}",
)
# Headings that open furniture running to the end of the page when they come after the story: comments, bios.
END_HEADINGS = (
    r"(\d+ )?(comments?|responses?|replies)( \(\d+\))?", r"(leave|post|add|write) (a|your) (comment|reply)",
    r"(join|show) (the )?(discussion|comments?|conversation)", r"about the authors?", r"about the writer",
    r"komentar", r"\d* ?komen(tar)?", r"tulis komentar", r"ความคิดเห็น", r"แสดงความคิดเห็น", r"评论", r"发表评论",
    r"网友评论", r"bình luận", r"ý kiến bạn đọc", r"commentaires?", r"(laisser|ajouter) un commentaire",
    r"réagir", r"à propos de l'auteur", r"មតិ", r"មតិយោបល់", r"\w+[ -](to|2)[ -]earn( \w+)?",
    r"(readers?'?|your) (comments?|views|responses)", r"what (our )?readers (say|think)", r"(网友|读者)?(热评|评论|留言)",
    r"មតិ\S{0,12}", r"ý kiến( bạn đọc| độc giả)?", r"(tentang|mengenai) penulis", r"关于作者", r"作者简介", r"về tác giả", r"เกี่ยวกับผู้เขียน", r"អំពីអ្នកនិពន្ធ",
)
# Headings of a promo whose copy follows as a paragraph (newsletter, app, donation, subscriber-only teaser): the
# heading takes that paragraph and its button.
PROMO_HEADINGS = (
    r"[\w' ]{0,30}newsletters?", r"(get|download|install) (the|our) ([\w' ]{1,20} )?app",
    r"support (our|independent|local|quality) (journalism|reporting|newsroom|work)", r"support us",
    r"(become|join) (a |as a )?(member|supporter|subscriber)s?", r"subscribers?[- ](only|exclusive)",
    r"(exclusive|only) (for|to) (subscribers|members)", r"members?[- ]only", r"premium( content| article)?",
    r"sign up (for|to)( our)?( \w+){1,3}", r"subscribe to( our)?( \w+){1,3}", r"(\w+ )?(e-?mail|news) alerts?",
    r"((nhận|đăng ký) )?bản tin( \w+){0,3}", r"buletin( \w+){0,2}", r"(la |notre )?lettre d'information", r"จดหมายข่าว\S{0,20}",
    r"电子报|新闻简报|邮件订阅", r"ព្រឹត្តិបត្រ\S{0,20}",
    r"(dukung|sokong) (jurnalisme|kami|media)( \w+){0,2}", r"(berlangganan|langganan)( \w+){0,2}",
    r"(unduh|muat turun) aplikasi( \w+){0,2}", r"khusus (pelanggan|member|anggota)",
    r"สนับสนุน(สื่อ|ข่าว|เรา)\S{0,20}", r"สมัคร(รับ)?(ข่าวสาร|จดหมายข่าว|สมาชิก)\S{0,10}", r"ดาวน์โหลดแอป\S{0,20}",
    r"สำหรับสมาชิก\S{0,10}", r"支持(我们|独立新闻)\S{0,10}", r"订阅\S{0,10}", r"下载\S{0,4}(app|客户端)", r"会员专享",
    r"ủng hộ (báo chí|chúng tôi|tòa soạn)( \w+){0,2}", r"đăng ký (nhận )?(bản tin|tin)( \w+){0,2}",
    r"tải (ứng dụng|app)( \w+){0,2}", r"dành cho (hội viên|thành viên|bạn đọc vip)",
    r"soutenez (notre|le|un) (journalisme|rédaction)( \w+){0,2}", r"(faites|faire) un don", r"réservé aux abonnés",
    r"(téléchargez|télécharger) (l'|notre )application( \w+){0,2}", r"inscrivez-vous( \w+){0,3}", r"abonnez-vous( \w+){0,3}",
    r"ចុះឈ្មោះ\S{1,30}", r"ជាវ\S{1,20}", r"គាំទ្រ\S{0,30}", r"ទាញយកកម្មវិធី\S{0,20}", r"សម្រាប់អតិថិជន\S{0,10}",
)
LIST_HEADING = re.compile("(?:" + "|".join(LIST_HEADINGS) + ")")
END_HEADING = re.compile("(?:" + "|".join(END_HEADINGS) + ")")
PROMO_HEADING = re.compile("(?:" + "|".join(PROMO_HEADINGS) + ")")
#: A promo box's button, as a whole block: it closes the box (its title and copy come before it).
BUTTON = re.compile(
    r"(?:subscribe|sign up|donate|join|register|download|give|contribute)( now| today| here| us)?|sign me up|"
    r"count me in|subscribe me|"
    r"daftar( sekarang)?|(ber)?langganan( sekarang)?|derma|s'abonner|je m'abonne|faire un don|(je )?donne|"
    r"đăng ký( ngay)?|ủng hộ( ngay)?|tải về|สมัคร(เลย|สมาชิก|รับข่าวสาร)?|บริจาค|ดาวน์โหลด|立即订阅|订阅|捐助|捐款|下载|"
    r"ចុះឈ្មោះ|ជាវ|បរិច្ចាគ|ទាញយក"
)
#: "<furniture heading>: <headline>" ("Next article: …", "下一篇：…", "ព័ត៌មានពាក់ព័ន្ធ៖ …", "VIDÉO. …").
HEADING_PREFIX = re.compile(
    r"^\W{0,3}(?:(?:" + "|".join(LIST_HEADINGS) + r")\s*[:：៖|»>›→–—]|(?:vid[eé]o|视频)\s*[:：.])\s*\S", re.I)
#: Editors' notes and bios: a correction of an earlier report, the author's credentials, a subscriber-only teaser.
NOTE = re.compile(
    r"^\W{0,3}(?:corrections?|clarification|editor'?s note|rectificatifs?|erratum|précision|koreksi|ralat|"
    r"pembetulan|đính chính|更正|勘误|编者按|แก้ไข(?:ข้อมูล|ข่าว)?|หมายเหตุ(?:บรรณาธิการ)?|ការកែតម្រូវ|កំណែតម្រូវ)\s*[:：៖]|"
    r"^(?:an )?earlier version of this (?:article|story|report)|^this (?:article|story) has been (?:amended|corrected)|"
    r"^(?:the )?(?:author|writer) (?:is|was|covers|has (?:covered|reported|written))\b|"
    r"^(?:penulis|pengarang) (?:ialah|adalah|merupakan)\b|^作者(?:长期|是|为|系|曾)|^tác giả (?:là|từng)\b|"
    r"^l'auteur (?:est|couvre)\b|^ผู้เขียน(?:เป็น|คือ)|^អ្នកនិពន្ធ(?:ជា|គឺ)|"
    r"^\W{0,3}(?:subscribe|sign in|log in|register) to (?:read|continue|unlock|access)\b|"
    r"^(?:đăng ký|订阅|abonnez-vous|berlangganan|langganan|สมัครสมาชิก|ជាវ)\S{0,6} ?(?:để đọc|即可阅读|pour lire|untuk membaca|เพื่ออ่าน|ដើម្បីអាន)",
    re.I,
)
HEADING_TRIM = re.compile(r"^[\W_]+|[\s:：៖.…>»|\-–—!]+$")

#: "Read also: <headline>" lines. After a colon any of these; without one only the unambiguous ones.
PREFIX = re.compile(
    r"^\W{0,3}(?:(?:read (?:also|more|next)|also read|see also|related|more|also|don'?t miss|recommended|watch|up next|"
    r"baca juga|baca selengkapnya|berita terkait|simak juga|lihat juga|artikel berkaitan|baca lagi|"
    r"อ่านเพิ่มเติม|อ่านต่อ|ข่าวที่เกี่ยวข้อง|相关阅读|相关|推荐阅读|延伸阅读|xem thêm|đọc thêm|tin liên quan|"
    r"(?:à |a )?lire aussi|voir aussi|lire la suite|អានបន្ថែម|អត្ថបទទាក់ទង|tags?|topics?|tagged|filed under|label|"
    r"kata kunci|แท็ก|标签|từ khóa|thẻ|mots[- ]clés|ស្លាក|share(?: this)?(?: article| story)?|bagikan|partager)"
    r"\s*[:：៖»>|–—-]|"
    r"(?:baca juga|read also|also read|อ่านเพิ่มเติม|อ่านต่อ|相关阅读|推荐阅读|延伸阅读|xem thêm|đọc thêm|"
    r"(?:à |a )?lire aussi|អានបន្ថែម|don'?t miss)\s)",
    re.I,
)
#: Promos, credits, legal lines, share bars, reading times: furniture whole when the block is short.
PROMO = re.compile(
    # the imperative or a newsletter: "victims were told to sign up for a free account" is a story, not a promo
    r"^\W{0,3}(?:subscribe|sign[ -]up)\b.{0,80}\b(?:newsletters?|inbox|e-?mails?|free|today|now|here|updates|alerts)\b|"
    r"\b(?:subscrib\w*|sign(?:ing)?[ -]up)\b.{0,80}\b(?:newsletters?|inbox)\b|"
    r"\b(?:newsletters?|inbox)\b.{0,60}\b(?:subscrib\w*|sign(?:ing)?[ -]up)\b|"
    r"^\W{0,3}(?:download|get|install)\b.{0,40}\bapps?\b|"
    r"(?:^\W{0,3}follow|\bfollow (?:us|me|him|her|them))\b.{0,60}\bon (?:twitter|facebook|instagram|youtube|tiktok|"
    r"telegram|linkedin|x)\b|\bshare (?:it|this)\b.{0,30}\bfriends?\b|\bclick here\b|"
    r"\bcontributed (?:reporting|to this report)\b|"
    r"^(?:\(?(?:additional )?reporting|writing|editing|edited|compiled|translated) by\b|^(?:write|email) to\b|"
    r"^(?:this|the) (?:article|story) (?:was|has been) (?:updated|corrected)|^updated\b.{0,40}\d|"
    r"^the post\b.{1,300}\bappeared first on\b|"
    r"^\W{0,3}(?:please )?(?:donate|support (?:us|our|independent)|become a (?:member|supporter|patron)|"
    r"make a (?:donation|contribution))\b|"
    # the site speaking of itself: "support our journalism", "our free weekly newsletter", "for subscribers only"
    r"\b(?:support\w*|fund\w*|donat\w*|contribut\w*|subscri\w*)\b.{0,60}\bour (?:journalism|reporting|newsroom|journalists)\b|"
    r"\bour (?:free |daily |weekly |morning |evening |monthly )*newsletters?\b|\b(?:subscribers?|members?)[- ]only\b|"
    r"\bfor (?:subscribers|members) only\b|"
    r"\b(?:free|every (?:day|morning|weekday|week)|daily|weekly)\b.{0,160}\b(?:in|to) your inbox\b|"
    r"\b(?:in|to) your inbox\b.{0,40}\b(?:free|every|daily|weekly)\b|"
    r"\b\d+[ -]min(?:ute)?s?[ -]read\b|reading time|temps de lecture|waktu baca|เวลาอ่าน|"
    r"berlangganan|langganan (?:newsletter|gratis|sekarang)|ikuti (?:kami|kanal|berita)|abonnez-vous|"
    r"inscrivez-vous|suivez-nous|订阅|关注我们|下载.{0,10}(?:app|客户端)|đăng ký nhận|theo dõi chúng tôi|"
    r"ติดตาม(?:ข่าวสาร)?(?:เพิ่มเติม)?ได้ที่|ติดตามเรา|กดติดตาม|តាមដានយើង|ចុចជាវ",
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
    r"il y a \d+\s*(?:minutes?|heures?|jours?)|\d+\s*(?:分钟|小时|天)前|\d+\s*(?:นาที|ชั่วโมง|วัน)ที่แล้ว|"
    r"\d+\s*(?:នាទី|ម៉ោង|ថ្ងៃ)មុន|^(?:回复|reply to|balas|trả lời|répondre à) ?@",
    re.I,
)

#: Words one of the patterns above needs: a cheap test before the regex (which costs ~100 µs a paragraph).
PROMO_WORDS = (
    "subscrib", "donat", "support", "become a", "make a", "sign up", "sign-up", "signing up", "newsletter", "inbox",
    " app", "follow", "share", "click", "only", "fund", "contribut",
    "contributed", "reporting by", "writing by", "editing by", "edited by", "compiled by", "translated by", "write to",
    "email to", "e-mail to", "updated", "appeared first", "min read", "minute read", "min-read", "reading time",
    "temps de lecture", "waktu baca", "เวลาอ่าน", "langganan", "ikuti", "abonnez", "inscrivez", "suivez", "订阅",
    "关注我们", "下载", "đăng ký nhận", "theo dõi chúng tôi", "ติดตาม", "ជាវ", "តាមដាន",
)
COMMENT_WORDS = ("ago", "avatar", "likes", "lalu", "trước", "il y a", "前", "ที่แล้ว", "មុន", "@")
#: A comment's action links, as a whole line.
COMMENT_LINES = frozenset({"reply", "report", "like", "likes", "balas", "trả lời", "répondre", "ตอบกลับ", "回复"})
# fmt: on
