"""Browsing matches (the dashboard's and the API's reads) on real SQLite and PostgreSQL: filters, pages, search,
stories, one match in full."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import text

from monitor import dedup
from monitor.store import InvalidCursorError, MatchFilter, NewArticle, NewMatch, PlannedDelivery, Store
from monitor.store.base import create_store_engine
from monitor.store.browse import MAX_PAGE
from monitor.store.schema import alembic_config

T0 = datetime(2026, 11, 3, 8, 0, 0, tzinfo=UTC)
WIRE = (
    "Police in Sihanoukville raided a building used by an online scam ring on Tuesday and "
    "detained more than two hundred foreign workers, officials from the national committee "
    "said. The workers told investigators they had been lured by fake job offers and forced "
    "to defraud people abroad through investment and romance schemes."
)


def _article(n: int, title: str, body: str, *, feed: str = "wire", lang: str = "en", url: str = "") -> NewArticle:
    url = url or f"https://{feed}.example/{n}"
    return NewArticle(
        feed_id=None,
        feed_name=feed,
        url=url,
        canonical_url=dedup.canonical_url(url),
        title=title,
        text=body,
        author=None,
        published=T0 - timedelta(hours=1),
        lang=lang,
        content_hash=dedup.content_hash(f"{title}\n{body}"),
        story_keys=dedup.story_keys(body),
        extracted=True,
    )


def _match(rule: str, severity: str = "high", tags: tuple[str, ...] = ("scam",), body: str = "") -> NewMatch:
    word = body.split()[0] if body else "x"
    return NewMatch(rule, "v1", severity, tags, (("text", 0, len(word), word),), body[:80])


def _plan(rule: str, *channels: str):  # type: ignore[no-untyped-def]
    return lambda story, new: [PlannedDelivery(rule, c) for c in channels]


def _add(store: Store, n: int, rule: str = "scam-raid", **kw: object) -> int:
    """Store article n (matched at T0 + n minutes) with one match of ``rule``; returns the match id."""
    severity = str(kw.pop("severity", "high"))
    tags = tuple(kw.pop("tags", ("scam",)))  # type: ignore[call-overload]
    title = str(kw.pop("title", f"Story {n}"))
    body = str(kw.pop("body", f"Unique body number {n} about nothing in particular at all, said officials today."))
    result = store.add_article_with_matches(
        _article(n, title, body, **kw),  # type: ignore[arg-type]
        [_match(rule, severity, tags, body)],
        _plan(rule, "mail"),
        now=T0 + timedelta(minutes=n),
    )
    return result.match_ids[0]


def _ids(store: Store, where: MatchFilter | None = None, **kw: object) -> list[int]:
    return [m.id for m in store.browse_matches(where, **kw).items]  # type: ignore[arg-type]


def test_pages_walk_every_match_newest_first_once(store: Store) -> None:
    ids = [_add(store, n) for n in range(7)]
    seen: list[int] = []
    cursor = None
    for _ in range(5):
        page = store.browse_matches(limit=3, cursor=cursor)
        seen += [m.id for m in page.items]
        cursor = page.next
        if cursor is None:
            break
    assert seen == ids[::-1]
    assert len(store.browse_matches(limit=7).items) == 7 and store.browse_matches(limit=7).next is None


def test_a_match_stored_while_reading_does_not_shift_the_next_page(store: Store) -> None:
    ids = [_add(store, n) for n in range(4)]
    first = store.browse_matches(limit=2)
    _add(store, 10)  # newer than all: it belongs before page one, not inside page two
    second = store.browse_matches(limit=2, cursor=first.next)
    assert [m.id for m in second.items] == [ids[1], ids[0]]


def test_each_filter_narrows_the_list(store: Store) -> None:
    a = _add(store, 1, "scam-raid", severity="high", tags=("scam", "asia"), feed="kt", lang="km")
    b = _add(store, 2, "scam-loan", severity="low", tags=("fraud",), feed="wire", lang="en")
    c = _add(store, 3, "flood-alert", severity="high", tags=("weather",), feed="wire", lang="en")
    assert _ids(store, MatchFilter(rule="scam-raid")) == [a]
    assert _ids(store, MatchFilter(rule="scam-*")) == [b, a]
    assert _ids(store, MatchFilter(rule="scam_raid")) == []  # _ is a character, not a wildcard
    assert _ids(store, MatchFilter(severity="high")) == [c, a]
    assert _ids(store, MatchFilter(tag="asia")) == [a]
    assert _ids(store, MatchFilter(tag="as")) == []  # a whole tag, not part of one
    assert _ids(store, MatchFilter(feed="wire")) == [c, b]
    assert _ids(store, MatchFilter(lang="KM")) == [a]
    assert _ids(store, MatchFilter(since=T0 + timedelta(minutes=2))) == [c, b]
    assert _ids(store, MatchFilter(until=T0 + timedelta(minutes=2))) == [a]
    assert _ids(store, MatchFilter(rule="scam-*", severity="low", feed="wire", tag="fraud")) == [b]


def test_search_finds_words_phrases_and_prefixes_in_title_and_text(store: Store) -> None:
    a = _add(store, 1, title="Flooding in Phnom Penh", body="Heavy monsoon rain closed the riverside road on Monday.")
    b = _add(store, 2, title="Markets", body="The central bank raised its rate; the riverside market stayed open.")
    assert _ids(store, MatchFilter(q="phnom")) == [a]  # title, any case
    assert _ids(store, MatchFilter(q="RIVERSIDE")) == [b, a]
    assert _ids(store, MatchFilter(q="riverside monsoon")) == [a]  # every word
    assert _ids(store, MatchFilter(q='"riverside market"')) == [b]  # a phrase
    assert _ids(store, MatchFilter(q='"market riverside"')) == []
    assert _ids(store, MatchFilter(q="monso*")) == [a]  # a prefix
    assert _ids(store, MatchFilter(q="monso")) == []  # a word is whole
    assert _ids(store, MatchFilter(q="riverside", rule="nothing")) == []


@pytest.mark.parametrize("query", ['"', "AND OR NOT", "(", "*", "bank)", "rate;", "NEAR(a b)", "a:b", "' OR 1=1 --"])
def test_search_syntax_in_the_box_is_only_words(store: Store, query: str) -> None:
    _add(store, 1, body="The central bank raised its rate on Monday, a b test.")
    store.browse_matches(MatchFilter(q=query))  # never a database error


def test_search_with_no_word_finds_nothing(store: Store) -> None:
    _add(store, 1)
    assert store.browse_matches(MatchFilter(q="-- !! ?")).items == ()
    assert len(store.browse_matches(MatchFilter(q="   ")).items) == 1  # an empty box is no search


@pytest.mark.parametrize(
    ("body", "query"),
    [
        ("ตำรวจบุกค้นอาคารแก๊งคอลเซ็นเตอร์ในกรุงเทพมหานครเมื่อวันอังคาร", "คอลเซ็นเตอร์"),  # Thai: no spaces
        ("ប៉ូលិសបានវាយឆ្មក់អគារឆបោកតាមអនឡាញនៅក្រុងព្រះសីហនុ", "ព្រះសីហនុ"),  # Khmer
        ("警方周二突击搜查了西哈努克城的一栋电信诈骗大楼", "诈骗"),  # Chinese, two characters
        ("警察は火曜日に詐欺グループの拠点を捜索した", "詐欺グループ"),  # Japanese
    ],
)
def test_scripts_without_spaces_are_found_inside_their_words(store: Store, body: str, query: str) -> None:
    found = _add(store, 1, body=body)
    _add(store, 2, body="Nothing to see here, a plain English text about the weather today.")
    assert _ids(store, MatchFilter(q=query)) == [found]
    assert _ids(store, MatchFilter(q=query[::-1])) == []  # the characters in order, not anywhere


def test_stories_count_other_outlets(store: Store) -> None:
    first = _add(store, 1, title="Raid", body=WIRE, feed="kt", url="https://kt.example/raid")
    _add(store, 2, title="Raid", body=WIRE, feed="cna", url="https://cna.example/raid", rule="other")
    _add(store, 3, title="Raid!", body=WIRE + " More.", feed="cna", url="https://cna.example/raid-2", rule="other")
    alone = _add(store, 4)
    page = store.browse_matches()
    by_id = {m.id: m for m in page.items}
    outlets, others = page.others(by_id[first])
    assert outlets == 1
    assert [a.feed for a in others] == ["cna", "cna"]
    assert page.others(by_id[alone]) == (0, ())


def test_detail_has_every_match_of_the_article_and_the_story(store: Store) -> None:
    body = WIRE
    result = store.add_article_with_matches(
        _article(1, "Raid", body, feed="kt", url="https://kt.example/raid"),
        [_match("scam-raid", body=body), _match("khmer-news", "low", body=body)],
        _plan("scam-raid", "mail", "chat"),
        now=T0,
    )
    _add(store, 2, title="Raid", body=body, feed="cna", url="https://cna.example/raid", rule="scam-raid")
    first, second = result.match_ids
    detail = store.match_detail(second)
    assert detail is not None
    assert detail.match.id == second and detail.match.rule == "khmer-news"
    assert [m.rule for m in detail.matches] == ["khmer-news", "scam-raid"]
    assert detail.article.text == body and detail.article.feed_name == "kt"
    assert [a.feed for a in detail.story] == ["cna"]
    assert sorted((d.channel, d.rule, d.status) for d in detail.deliveries) == [
        ("chat", "scam-raid", "pending"),
        ("mail", "scam-raid", "pending"),
    ]
    assert store.match_detail(first + 1000) is None


@pytest.mark.parametrize("cursor", ["nope", "!!!", "12-", "-12", "1-2-3", "１２-3", ""])
def test_a_cursor_not_given_by_the_store_is_refused(store: Store, cursor: str) -> None:
    _add(store, 1)
    if not cursor:  # empty: the first page
        assert len(store.browse_matches(cursor=cursor).items) == 1
        return
    with pytest.raises(InvalidCursorError, match="cursor"):
        store.browse_matches(cursor=cursor)


@pytest.mark.parametrize("cursor", ["0-0", "99999999999999999999-99999999999999999999"])
def test_any_cursor_of_the_right_shape_is_a_position(store: Store, cursor: str) -> None:
    _add(store, 1)
    assert len(store.browse_matches(cursor=cursor).items) == (0 if cursor == "0-0" else 1)


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE + 1])
def test_page_size_is_bounded(store: Store, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        store.browse_matches(limit=limit)


def test_articles_stored_before_the_search_index_are_found(store_url: str) -> None:
    engine = create_store_engine(store_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0005")
            conn.execute(text("INSERT INTO stories (id, created_at, title) VALUES (1, :now, 't')"), {"now": T0})
            conn.execute(
                text(
                    "INSERT INTO articles (id, canonical_url, url, content_hash, title, text, feed_name, story_id, "
                    "fetched_at, extracted, owned, furniture) VALUES (1, 'https://kt.example/a', "
                    "'https://kt.example/a', 'h', 'Old news', 'ข่าวเก่าจากกรุงเทพ about the harbour', 'kt', 1, "
                    ":now, true, true, '')"
                ),
                {"now": T0},
            )
            conn.execute(
                text(
                    "INSERT INTO matches (article_id, rule_id, rule_version, severity, tags, hits, snippet, "
                    "story_id, matched_at) VALUES (1, 'r', 'v1', 'high', '[]', '[]', '', 1, :now)"
                ),
                {"now": T0},
            )
    finally:
        engine.dispose()
    with Store.open(store_url) as db:
        assert len(db.browse_matches(MatchFilter(q="harbour")).items) == 1
        assert len(db.browse_matches(MatchFilter(q="กรุงเทพ")).items) == 1


def test_an_article_edited_or_deleted_leaves_the_index(store: Store) -> None:
    match_id = _add(store, 1, body="The harbour closed for the storm on Monday, the port authority said today.")
    detail = store.match_detail(match_id)
    assert detail is not None
    with store._write("test edit") as conn:
        conn.execute(text("UPDATE articles SET text = 'The airport closed.' WHERE id = :id"), {"id": detail.article.id})
    assert _ids(store, MatchFilter(q="harbour")) == []
    assert _ids(store, MatchFilter(q="airport")) == [match_id]
    with store._write("test delete") as conn:
        conn.execute(text("DELETE FROM articles WHERE id = :id"), {"id": detail.article.id})
    assert _ids(store, MatchFilter(q="airport")) == []


def test_a_reprint_row_shows_the_alerts_its_story_sent(store: Store) -> None:
    first = _add(store, 1, title="Raid", body=WIRE, feed="kt", url="https://kt.example/raid")
    reprint = _add(store, 2, title="Raid", body=WIRE, feed="cna", url="https://cna.example/raid")
    page = store.browse_matches()
    by_id = {m.id: m for m in page.items}
    assert by_id[reprint].deliveries == ()  # the channel got the story once, through the first article's match
    assert [(d.channel, d.status) for d in page.deliveries(by_id[reprint])] == [("mail", "pending")]
    assert page.deliveries(by_id[first]) == by_id[first].deliveries


@pytest.mark.parametrize("value", ["a\x00b", "\ud800", "\x1b[31m"])
def test_control_characters_in_filters_find_nothing_and_fail_nothing(store: Store, value: str) -> None:
    _add(store, 1)
    for where in (MatchFilter(q=value), MatchFilter(rule=value), MatchFilter(feed=value), MatchFilter(tag=value)):
        assert store.browse_matches(where).items == ()
