"""monitor.furniture: page furniture split off the story, from trafilatura's element tree (``extract_html``) and from
plain text (``split_text``, a feed's own text via ``choose_article``); what must stay body; hostile shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.extract import Extracted, choose_article, extract_html
from monitor.furniture import MAX_BLOCKS, split_text

_SEED_004 = Path(__file__).resolve().parents[1] / "seeds" / "004_46fac9c3ab20f065.txt"

STORY = [
    "Farmers in Chanthaburi began the durian harvest two weeks early this year, after a dry and unusually warm "
    "spring pushed the fruit to ripen before the usual season in the eastern provinces.",
    "Growers said prices at the wholesale market opened at about 150 baht a kilogram, lower than last year, "
    "because exporters are waiting for new inspection rules at the border crossings with China.",
    "The provincial agriculture office expects a crop of about 600,000 tonnes, most of it bound for Chinese "
    "buyers, and has warned growers not to cut fruit before it is ripe to keep the quality high.",
    "Cooperatives have hired extra pickers from neighbouring districts, and packing houses along the main road "
    "now run through the night to keep up with the lorries leaving for the ports each morning.",
]
BAIT = [
    "Police raid scam compound in Poipet, 270 detained",
    "Scam centre bosses flee as raids widen along the border",
    "Trafficking victims freed from online fraud compound",
]


def _page(body: str, title: str = "Durian harvest starts early in Chanthaburi") -> bytes:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head><body><main><article>"
            f"<h1>{title}</h1>{body}</article></main></body></html>").encode()


def _paragraphs(paragraphs: list[str] = STORY) -> str:
    return "".join(f"<p>{p}</p>" for p in paragraphs)


def _extract(body: str) -> Extracted:
    article = extract_html(_page(body), "https://news.example/2026/durian")
    assert article is not None
    return article


def _assert_split(body: str, furniture: str, bait: list[str] = BAIT) -> None:
    for paragraph in STORY:
        assert paragraph in body
    for line in bait:
        assert line not in body and line in furniture


# --- structure: trafilatura's elements, headings in the region's languages -----------------------------------

HEADINGS = {
    "en-most-read": "Most read", "en-trending": "Trending now", "en-more-from": "More from Asia",
    "en-related": "Related stories", "en-you-may-like": "You may also like", "en-recommended": "Recommended",
    "id": "Berita terkait", "id-popular": "Terpopuler", "ms": "Artikel berkaitan", "th": "ข่าวที่เกี่ยวข้อง",
    "th-read-more": "อ่านเพิ่มเติม", "zh": "相关阅读", "zh-hot": "热门文章", "vi": "Tin liên quan", "vi-more": "Xem thêm",
    "fr": "À lire aussi", "fr-most-read": "Les plus lus", "km": "អត្ថបទទាក់ទង",
}


@pytest.mark.parametrize("heading", HEADINGS.values(), ids=HEADINGS.keys())
def test_a_headed_list_after_the_story_is_furniture(heading: str) -> None:
    items = "".join(f"<li>{line}</li>" for line in BAIT)  # linked lists trafilatura drops itself
    article = _extract(_paragraphs() + f"<h2>{heading}</h2><ul>{items}</ul>")
    _assert_split(article.text, article.furniture)
    assert heading in article.furniture


def test_headlines_without_a_heading_after_the_story_are_furniture() -> None:
    article = _extract(_paragraphs() + "".join(f"<p>{b}</p>" for b in BAIT))
    _assert_split(article.text, article.furniture)
    # a single one too (trafilatura drops the other linked ones here)
    article = _extract(_paragraphs() + "".join(f"<p><a href='/n/{i}'>{b}</a></p>" for i, b in enumerate(BAIT)))
    assert not any(b in article.text for b in BAIT) and BAIT[0] in article.furniture


def test_an_inline_read_also_line_inside_the_story_is_cut_out() -> None:
    inline = [f"<p>Read also: {BAIT[0]}</p>", f"<p>Baca juga: {BAIT[1]}</p>", f"<p>Lire aussi : {BAIT[2]}</p>"]
    body = "".join(f"<p>{p}</p>{line}" for p, line in zip(STORY, [*inline, ""], strict=True))
    article = _extract(body)
    _assert_split(article.text, article.furniture)


def test_comments_after_a_comments_heading_are_furniture() -> None:
    comments = ("<h3>3 Comments</h3><p>somchai_88</p><p>This is just like the scam compound raids in Poipet last "
                "year, nobody learns anything and the bosses always get away with it.</p><p>2 days ago</p><p>Reply</p>")
    article = _extract(_paragraphs() + comments)
    _assert_split(article.text, article.furniture, ["scam compound raids in Poipet"])


def test_promos_and_credits_are_furniture() -> None:
    promos = ["Subscribe to our newsletter for the latest on scam centres in Cambodia, free every morning.",
              "Download the app to follow the Poipet raids live.",
              "Additional reporting by Sok Chea in Poipet."]
    article = _extract(_paragraphs(STORY[:2]) + f"<p>{promos[0]}</p>" + _paragraphs(STORY[2:]) +
                       "".join(f"<p>{p}</p>" for p in promos[1:]))
    _assert_split(article.text, article.furniture, promos)


def test_the_title_repeated_above_the_story_is_not_body() -> None:
    article = _extract(_paragraphs())
    assert article.title == "Durian harvest starts early in Chanthaburi"
    assert not article.text.startswith(article.title) and article.text.startswith(STORY[0])
    assert article.title not in article.furniture  # it is the title, not furniture


# --- what stays body ----------------------------------------------------------------------------------------


def test_facts_sub_headings_quotes_and_a_short_last_paragraph_stay() -> None:
    facts = ["Harvest began on 2 March, two weeks early.", "Wholesale price: 150 baht a kilogram.",
             "Expected crop: 600,000 tonnes."]
    body = (_paragraphs(STORY[:2]) + "<h2>What the growers expect</h2><ul>" + "".join(f"<li>{f}</li>" for f in facts)
            + "</ul><blockquote>We have never started this early, said one grower.</blockquote>"
            + _paragraphs(STORY[2:]) + "<p>Exports start next week.</p>")
    article = _extract(body)
    for kept in [*STORY, *facts, "What the growers expect", "We have never started this early",
                 "Exports start next week."]:
        assert kept in article.text
    assert article.furniture == ""


def test_a_recipe_card_after_the_story_stays() -> None:
    card = ("<h2>Durian sticky rice</h2><h3>Ingredients</h3><ul><li>2 cups glutinous rice</li><li>1 cup coconut "
            "milk</li><li>200 g durian flesh</li></ul><h3>Method</h3><ol><li>Soak the rice overnight and steam it "
            "for 25 minutes.</li><li>Warm the coconut milk with sugar and salt, then pour it over the rice.</li></ol>")
    article = _extract(_paragraphs() + card)
    assert "200 g durian flesh" in article.text and "Soak the rice overnight" in article.text


# --- shape: plain text (a feed's own text) --------------------------------------------------------------------


def test_text_with_a_headline_run_before_and_after_the_story() -> None:
    trending = ["Trending: Ministry denies border closure rumours", "Prices of rice climb for a third week",
                "Phnom Penh marathon draws record field"]
    text = "\n".join([*trending, *STORY, *BAIT])
    body, furniture = split_text(text)
    _assert_split(body, furniture, [*BAIT, *trending])


def test_text_comments_without_a_heading_are_furniture() -> None:
    comments = ["Dara K.", "3 hours ago", "Same story as the scam compound in Poipet, the police knew everything.",
                "Reply", "mekong_watcher", "5 hours ago", "Nobody mentions the trafficking victims again."]
    body, furniture = split_text("\n".join([*STORY, *comments]))
    _assert_split(body, furniture, ["scam compound in Poipet", "trafficking victims", "Dara K."])


@pytest.mark.parametrize(("lang", "lines"), [
    ("id", ["Baca juga: Polisi gerebek markas penipuan online di Poipet"]),
    ("vi", ["Đọc thêm: Cảnh sát đột kích trung tâm lừa đảo ở Poipet"]),
    ("th", ["อ่านเพิ่มเติม ตำรวจบุกค้นแก๊งคอลเซ็นเตอร์ที่ปอยเปต"]),
    ("zh", ["相关阅读：警方突袭波贝诈骗园区"]),
    ("km", ["អានបន្ថែម៖ ប៉ូលិសវាយឆ្មក់មជ្ឈមណ្ឌលបោកប្រាស់នៅប៉ោយប៉ែត"]),
    ("fr", ["Lire aussi : Descente de police dans un centre d'arnaque à Poipet"]),
])
def test_text_inline_read_also_in_the_regions_languages(lang: str, lines: list[str]) -> None:
    body, furniture = split_text("\n".join([*STORY[:2], *lines, *STORY[2:]]))
    _assert_split(body, furniture, lines)


def test_thai_story_stays_and_its_related_list_goes() -> None:
    story = ["ชาวสวนทุเรียนในจังหวัดจันทบุรีเริ่มเก็บเกี่ยวผลผลิตเร็วกว่าปกติสองสัปดาห์ เนื่องจากอากาศร้อนและแห้งแล้งในช่วงต้นปี"
             "ทำให้ผลทุเรียนสุกก่อนฤดูกาล ขณะที่ราคาขายส่งในตลาดกลางเปิดที่ประมาณกิโลกรัมละหนึ่งร้อยห้าสิบบาท",
             "สำนักงานเกษตรจังหวัดคาดว่าผลผลิตปีนี้จะมีประมาณหกแสนตัน ส่วนใหญ่ส่งออกไปยังประเทศจีน "
             "และได้เตือนเกษตรกรไม่ให้ตัดทุเรียนอ่อนเพื่อรักษาคุณภาพและชื่อเสียงของทุเรียนไทย"]
    related = ["ข่าวที่เกี่ยวข้อง", "ตำรวจบุกค้นแก๊งคอลเซ็นเตอร์ที่ปอยเปต", "ช่วยเหยื่อค้ามนุษย์จากศูนย์หลอกลวง"]
    body, furniture = split_text("\n".join([*story, *related]))
    assert all(p in body for p in story) and all(r in furniture and r not in body for r in related)


def test_feed_text_loses_its_furniture_too() -> None:
    content = "\n".join([*STORY, "Related posts", *BAIT, "The post Durian harvest starts early appeared first on "
                         "Mekong Farm News."])
    chosen = choose_article(None, "Durian harvest starts early", "", content)
    _assert_split(chosen.text, chosen.furniture)
    assert "appeared first on" in chosen.furniture and not chosen.from_page


def test_seed_004_read_to_earn_block_and_comments_are_furniture() -> None:
    text = _SEED_004.read_text(encoding="utf-8")
    body, furniture = split_text(text)
    assert "Further arrests were made in Poipet" in body and "Cambodia claims these actions" in body
    for furniture_line in ("Read-to-Earn opportunity", "Total Twei Earned", "6 Comments", "Avatar of Habibi",
                           "Is this crackdown genuine, or a distraction?", "Add your comment"):
        assert furniture_line in furniture and furniture_line not in body


def test_text_without_furniture_is_unchanged() -> None:
    text = "\n".join(STORY)
    assert split_text(text) == (text, "")


# --- hostile shapes -----------------------------------------------------------------------------------------


def test_a_hundred_thousand_short_lines_are_bounded() -> None:
    text = "\n".join([*STORY, *(f"headline number {i} about nothing" for i in range(100_000))])
    body, furniture = split_text(text)
    assert STORY[0] in body
    assert furniture.count("\n") < MAX_BLOCKS  # only the first MAX_BLOCKS lines are judged; the rest stays body
    assert "headline number 99999" in body


@pytest.mark.parametrize("line", ["Related", "3 days ago", "Read more: a headline", "Comments"])
def test_a_hundred_thousand_furniture_lines_are_bounded(line: str) -> None:
    # each heading walks what follows it: without a bound on that walk this shape is quadratic (minutes)
    body, furniture = split_text("\n".join([*STORY, *[line] * 100_000]))
    assert STORY[-1] in body and furniture.startswith(line)


def test_a_related_list_then_comments_in_text() -> None:
    comment = "The scam compound raids in Poipet were all over the news, this is the same story every year."
    body, furniture = split_text("\n".join([*STORY, "Related", *BAIT[:2], "3 Comments", "reader88", comment, "Reply"]))
    _assert_split(body, furniture, [*BAIT[:2], comment])


def test_deeply_nested_lists_do_not_crash() -> None:
    nested = "<ul><li>" * 5_000 + "Police raid scam compound in Poipet" + "</li></ul>" * 5_000
    article = extract_html(_page(_paragraphs() + nested), "https://news.example/nested")
    assert article is not None and STORY[0] in article.text


# --- the CLI: `monitor match FILE.html` matches the body only; .txt stays the whole file -----------------------


def test_monitor_match_html_matches_the_body_only(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text("rules:\n  - id: scam-raid\n    title: Raid\n    query: 'raid* AND \"scam compound\"'\n"
                                  "    severity: high\n", encoding="utf-8")
    items = "".join(f"<li>{line}</li>" for line in BAIT)
    page = tmp_path / "durian.html"
    page.write_bytes(_page(_paragraphs() + f"<h2>Most read</h2><ul>{items}</ul>"))
    text = tmp_path / "durian.txt"
    text.write_text("\n".join([*STORY, *BAIT]), encoding="utf-8")
    run = CliRunner().invoke
    assert run(app, ["match", "--rules", str(rules), str(page)]).exit_code == 1  # no match: bait in furniture
    assert run(app, ["match", "--rules", str(rules), str(text)]).exit_code == 0  # a .txt is matched as given
