"""monitor.extract: article text and metadata from fetched pages, encodings, limits, the process pool, the
feed fallback, and the ``monitor extract`` command."""

from __future__ import annotations

import asyncio
import gzip
import json
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from monitor.cli.extract import extract as extract_command
from monitor.errors import ExtractError
from monitor.extract import (
    Extracted,
    charset_from_headers,
    choose_text,
    decode_html,
    extract_html,
)
from monitor.extractpool import ExtractorPool
from tests.conftest import EVAL

BENCHMARK = EVAL / "extraction-benchmark"

_PARAGRAPHS = [
    "The city council voted on Tuesday to approve the new flood barrier along the eastern riverbank, ending "
    "a debate that has lasted almost three years and divided residents of the low-lying districts.",
    "Engineers say the barrier will protect about twelve thousand homes from the kind of storm surge that "
    "inundated the harbour quarter in the winter of 2021, when water reached the steps of the town hall.",
    "Opponents argued that the construction budget of 48 million euros would be better spent on relocating "
    "the most exposed households, but the motion passed with nineteen votes in favour and seven against.",
    "Work is expected to begin in the spring and to last two years, during which the riverside footpath "
    "will be closed in sections, the council's planning department said in a statement after the vote.",
]
_COMMENT = "Absolutely ridiculous waste of taxpayer money, my cousin says the contractor is a crony"
_RELATED = "Ten cheap holiday destinations you have never heard of"


def _article_page() -> str:
    paragraphs = "\n".join(f"<p>{p}</p>" for p in _PARAGRAPHS)
    nav = "".join(f'<li><a href="/section/{s}">{s.title()} news</a></li>' for s in ("politics", "sport", "culture"))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Council approves flood barrier | The Riverside Gazette</title>
<meta name="author" content="Maria Jensen">
<meta property="og:site_name" content="The Riverside Gazette">
<meta property="og:title" content="Council approves flood barrier after three-year debate">
<meta property="article:published_time" content="2024-03-05T22:30:00+02:00">
</head><body>
<header><nav><ul>{nav}</ul></nav><a href="/subscribe">Subscribe to our newsletter today</a></header>
<main><article>
<h1>Council approves flood barrier after three-year debate</h1>
<p class="byline">By Maria Jensen</p>
{paragraphs}
</article>
<aside class="related"><h2>Related stories</h2><ul>
<li><a href="/travel/1">{_RELATED}</a></li><li><a href="/travel/2">Why the housing market is cooling again</a></li>
</ul></aside>
<section id="comments" class="comments"><h2>Comments</h2>
<div class="comment"><p>{_COMMENT}</p></div>
<div class="comment"><p>Finally some common sense from the council, about time they listened to us.</p></div>
</section></main>
<footer><p>Copyright 2024 The Riverside Gazette. All rights reserved. Privacy policy. Cookie settings.</p></footer>
</body></html>"""


def _page(body: str, head: str = "") -> str:
    return f"<html><head>{head}<title>t</title></head><body><article>{body}</article></body></html>"


_RUSSIAN = [
    "Городской совет во вторник одобрил строительство нового защитного барьера вдоль восточного берега реки.",
    "По словам инженеров, барьер защитит около двенадцати тысяч домов от штормовых нагонов воды.",
    "Работы начнутся весной и продлятся два года, сообщили в отделе планирования после голосования.",
]
_JAPANESE = [
    "市議会は火曜日、川の東岸に沿った新しい洪水防止壁の建設を承認した。議論は三年近く続いていた。",
    "技術者によると、この防止壁は約一万二千戸の住宅を高潮から守ることができるという。",
    "工事は春に始まり二年間続く予定で、その間は川沿いの遊歩道が部分的に閉鎖される。",
]


# --- extraction --------------------------------------------------------------------------------------------


def test_article_text_without_navigation_related_links_or_comments() -> None:
    article = extract_html(_article_page().encode(), "https://gazette.example/2024/03/flood-barrier")
    assert article is not None
    for paragraph in _PARAGRAPHS:
        assert paragraph in article.text
    for boilerplate in (_COMMENT, _RELATED, "Politics news", "Subscribe to our newsletter", "Copyright 2024"):
        assert boilerplate not in article.text


def test_article_metadata() -> None:
    article = extract_html(_article_page().encode(), "https://gazette.example/2024/03/flood-barrier")
    assert article is not None
    assert article.title == "Council approves flood barrier after three-year debate"
    assert article.author == "Maria Jensen"
    assert article.sitename == "The Riverside Gazette"
    assert article.date == datetime(2024, 3, 5, 20, 30, tzinfo=UTC)  # 22:30+02:00 as naive UTC
    assert article.lang == "en"


@pytest.mark.parametrize(
    ("encoding", "label", "paragraphs", "lang"),
    [
        ("windows-1251", "windows-1251", _RUSSIAN, "ru"),
        ("shift_jis", "Shift_JIS", _JAPANESE, "ja"),
        ("koi8-r", "koi8-r", _RUSSIAN, "ru"),
    ],
    ids=["windows-1251", "shift_jis", "koi8-r"],
)
def test_legacy_encoding_declared_by_meta(encoding: str, label: str, paragraphs: list[str], lang: str) -> None:
    html = _page(
        "".join(f"<p>{p}</p>" for p in paragraphs),
        f'<meta http-equiv="Content-Type" content="text/html; charset={label}">',
    )
    article = extract_html(html.encode(encoding), "https://example.org/a")
    assert article is not None
    assert paragraphs[0] in article.text
    assert article.lang == lang


def test_http_charset_decodes_a_page_without_meta() -> None:
    html = _page("".join(f"<p>{p}</p>" for p in _RUSSIAN)).encode("windows-1251")
    headers = {"content-type": 'text/html; charset="windows-1251"'}
    article = extract_html(html, "https://example.org/a", charset=charset_from_headers(headers))
    assert article is not None and _RUSSIAN[1] in article.text


@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        (b"\xef\xbb\xbf<p>caf\xc3\xa9</p>", None, "<p>café</p>"),
        ("<p>café</p>".encode("utf-16"), None, "<p>café</p>"),
        # servers label UTF-8 pages ISO-8859-1 by default: valid UTF-8 wins, as in browsers' detectors
        ('<meta charset="iso-8859-1"><p>café</p>'.encode(), "iso-8859-1", '<meta charset="iso-8859-1"><p>café</p>'),
        # latin-1 is read as windows-1252 (WHATWG), so 0x80 is the euro sign
        (b'<meta charset="latin1"><p>5 \x80</p>', None, '<meta charset="latin1"><p>5 €</p>'),
        # ISO-2022-JP is 7-bit: only the declaration tells it from ASCII
        (
            '<meta charset="iso-2022-jp"><p>日本</p>'.encode("iso-2022-jp"),
            None,
            '<meta charset="iso-2022-jp"><p>日本</p>',
        ),
        # the HTTP charset beats the meta declaration
        (
            '<meta charset="koi8-r"><p>Привет</p>'.encode("cp1251"),
            "windows-1251",
            '<meta charset="koi8-r"><p>Привет</p>',
        ),
        # a UTF-16 label on bytes without NULs is wrong
        ("<p>café</p>".encode(), "utf-16", "<p>café</p>"),
        ("<p>café</p>".encode("utf-16-le"), "utf-16le", "<p>café</p>"),
        # short text: charset detection alone (what trafilatura does with bytes) reads this as another charset
        (
            '<meta charset="iso-8859-2"><p>Żółć gęślą jaźń</p>'.encode("iso-8859-2"),
            None,
            '<meta charset="iso-8859-2"><p>Żółć gęślą jaźń</p>',
        ),
    ],
    ids=[
        "utf8-bom",
        "utf16-bom",
        "utf8-mislabelled",
        "latin1-as-cp1252",
        "iso-2022-jp",
        "http-over-meta",
        "bad-utf16-label",
        "utf16le-no-bom",
        "short-latin2",
    ],
)
def test_decode_html(data: bytes, charset: str | None, expected: str) -> None:
    assert decode_html(data, charset) == expected


def test_undeclared_legacy_page_is_detected() -> None:
    text = " ".join(_RUSSIAN * 3)
    assert text in decode_html(_page(text).encode("windows-1251"))


@pytest.mark.parametrize(
    "html",
    [b"", b"\x00\x01\x02\xff\xfe garbage", "<html><body></body></html>", "<html><head><title>x</title></head></html>"],
    ids=["empty", "binary", "empty-body", "head-only"],
)
def test_page_without_text_gives_none(html: bytes | str) -> None:
    assert extract_html(html, "https://example.org/") is None


def test_gzip_body_is_inflated_like_trafilatura_does() -> None:
    article = extract_html(gzip.compress(_article_page().encode()), "https://gazette.example/a")
    assert article is not None and _PARAGRAPHS[0] in article.text


def test_page_with_too_many_tags_is_refused_before_parsing() -> None:
    html = "<html><body>" + "<div><a href='/x'>l</a></div>" * 60_000 + "</body></html>"
    started = time.monotonic()
    with pytest.raises(ExtractError, match="too complex") as caught:
        extract_html(html, "https://example.org/huge")
    assert caught.value.url == "https://example.org/huge"
    assert time.monotonic() - started < 2


def test_oversized_page_is_cut_and_still_gives_its_article() -> None:
    bloated = _article_page().replace("</footer>", "</footer><script>var x = '" + "x" * 6_000_000 + "';</script>")
    started = time.monotonic()
    article = extract_html(bloated.encode(), "https://gazette.example/a")
    assert article is not None and _PARAGRAPHS[3] in article.text
    assert time.monotonic() - started < 5


def test_deeply_nested_page_does_not_crash() -> None:
    html = "<html><body>" + "<div>" * 40_000 + "deep" + "</div>" * 40_000 + "</body></html>"
    result = extract_html(html, "https://example.org/deep")  # libxml2 caps the depth: no crash, no hang
    assert result is None or "deep" in result.text


# --- the feed fallback -------------------------------------------------------------------------------------


def _extracted(text: str, title: str = "Page title") -> Extracted:
    return Extracted(title=title, text=text, author="", date=None, lang="en", sitename="")


@pytest.mark.parametrize(
    ("extracted", "feed", "expected"),
    [
        (_extracted("full article " * 50), ("Feed title", "summary", ""), ("Feed title", "full article " * 50)),
        (None, ("Feed title", "the summary", "the full content"), ("Feed title", "the full content")),
        (None, ("Feed title", "the summary", ""), ("Feed title", "the summary")),
        (
            _extracted("Subscribe to read"),
            ("T", "A longer summary of the story", ""),
            ("T", "A longer summary of the story"),
        ),
        (_extracted("article text"), ("", "", ""), ("Page title", "article text")),
        (None, ("", "", ""), ("", "")),
    ],
    ids=["page", "no-page-content", "no-page-summary", "teaser-page", "no-feed-title", "nothing"],
)
def test_choose_text(extracted: Extracted | None, feed: tuple[str, str, str], expected: tuple[str, str]) -> None:
    assert choose_text(extracted, *feed) == expected


# --- the process pool --------------------------------------------------------------------------------------


def _benchmark_pages(count: int) -> list[tuple[bytes, str]]:
    if not BENCHMARK.exists():
        pytest.skip(f"third-party evaluation data not found at {BENCHMARK}: see docs/benchmarks.md (Evaluation data)")
    truth = json.loads((BENCHMARK / "ground-truth.json").read_text())
    ids = sorted(truth)[:count]
    return [(gzip.decompress((BENCHMARK / "html_gz" / f"{i}.html.gz").read_bytes()), truth[i]["url"]) for i in ids]


_SLOW_PAGE = ("<html><body>" + "<div><a href='/x'>l</a></div>" * 20_000 + "</body></html>").encode()


@pytest.fixture(scope="module")
def pool() -> Iterator[ExtractorPool]:
    with ExtractorPool(processes=2, timeout=2.0) as shared:
        yield shared


@pytest.mark.slow
def test_pool_gives_the_same_articles_as_in_process(pool: ExtractorPool) -> None:
    pages = _benchmark_pages(6)
    assert pool.map(pages) == [extract_html(html, url) for html, url in pages]


def test_the_pool_detects_an_unstated_language_as_in_process(pool: ExtractorPool) -> None:
    """Workers leave an unstated language to the pool's process (which holds the one language model): the
    articles are the same as ``extract_html`` gives in-process."""
    import monitor.extractpool as extractpool

    unstated = (_page("".join(f"<p>{p}</p>" for p in _RUSSIAN)).encode(), "https://example.org/ru")
    article, error = extractpool._work(*unstated, None, 5.0)
    assert error is None and article is not None and article.lang is None  # the worker did not detect it
    (expected,) = [extract_html(*unstated)]
    assert pool.map([unstated]) == [expected]
    assert expected is not None and expected.lang == "ru"


@pytest.mark.slow
def test_slow_page_times_out_while_the_other_worker_serves_the_batch(pool: ExtractorPool) -> None:
    pages = _benchmark_pages(4)

    async def run() -> tuple[list[float], float, BaseException | None]:
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def timed(html: bytes, url: str) -> float:
            await pool.extract(html, url)
            return loop.time() - started

        slow = asyncio.ensure_future(pool.extract(_SLOW_PAGE, "https://example.org/slow"))
        await asyncio.sleep(0.2)  # the slow page takes one worker first
        done = await asyncio.gather(*(timed(html, url) for html, url in pages))
        error = None
        try:
            await slow
        except ExtractError as e:
            error = e
        return done, loop.time() - started, error

    done, slow_finished, error = asyncio.run(run())
    assert isinstance(error, ExtractError) and "timed out" in str(error)
    assert error.url == "https://example.org/slow"
    assert max(done) < slow_finished  # served in parallel, not behind the slow page
    results = pool.map([*pages[:2], (_SLOW_PAGE, "https://example.org/slow"), *pages[2:]])
    assert isinstance(results[2], ExtractError)
    assert all(isinstance(r, Extracted) for r in results[:2] + results[3:])


@pytest.mark.slow
def test_pool_recovers_when_its_workers_die() -> None:
    html, url = _benchmark_pages(1)[0]
    others = {child.pid for child in multiprocessing.active_children()}
    with ExtractorPool(processes=2, timeout=10.0) as pool:
        assert pool.map([(html, url)]) != [None]
        for child in multiprocessing.active_children():
            if child.pid is not None and child.pid not in others:
                os.kill(child.pid, signal.SIGKILL)
        time.sleep(0.5)
        first, second = pool.map([(html, url), (html, url)])
    assert isinstance(first, Extracted) and first == second


def test_closed_pool_refuses_pages() -> None:
    pool = ExtractorPool(processes=1)
    pool.close()
    with pytest.raises(ExtractError, match="closed"):
        asyncio.run(pool.extract(b"<html></html>", "https://example.org/"))


# --- monitor extract ---------------------------------------------------------------------------------------


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """A root like monitor's, so that ``extract`` is a subcommand."""

    app.command("extract")(extract_command)
    return app


def test_cli_text(cli: typer.Typer, tmp_path: Path) -> None:
    page = tmp_path / "article.html"
    page.write_bytes(_article_page().encode())
    result = CliRunner().invoke(cli, ["extract", str(page)])
    assert result.exit_code == 0, result.output
    assert "Council approves flood barrier after three-year debate" in result.stdout
    assert "Maria Jensen" in result.stdout and _PARAGRAPHS[2] in result.stdout


@pytest.mark.slow  # two inputs start the process pool
def test_cli_json_lines(cli: typer.Typer, tmp_path: Path) -> None:
    page = tmp_path / "article.html"
    page.write_bytes(_article_page().encode())
    legacy = tmp_path / "legacy.html"
    legacy.write_bytes(
        _page("".join(f"<p>{p}</p>" for p in _RUSSIAN), '<meta charset="windows-1251">').encode("cp1251")
    )
    result = CliRunner().invoke(cli, ["extract", "--format", "json", str(page), str(legacy)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [set(line) for line in lines] == [{"input", "title", "text", "author", "date", "lang"}] * 2
    assert lines[0]["input"] == str(page) and lines[0]["date"] == "2024-03-05T20:30:00Z"
    assert lines[1]["lang"] == "ru" and _RUSSIAN[0] in lines[1]["text"]


def test_cli_nothing_extracted_exits_1(cli: typer.Typer, tmp_path: Path) -> None:
    page = tmp_path / "empty.html"
    page.write_text("<html><body></body></html>")
    result = CliRunner().invoke(cli, ["extract", str(page)])
    assert result.exit_code == 1
    assert result.stdout == "" and "nothing extracted" in result.stderr


def test_cli_unreadable_input_is_one_error_line(cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["extract", str(tmp_path / "missing.html")])
    assert result.exit_code == 2
    assert result.stderr.startswith("monitor: error: ") and len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.output


class _LegacyPage(BaseHTTPRequestHandler):
    """Serves a windows-1251 article that states its charset only in the HTTP header."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = _page("".join(f"<p>{p}</p>" for p in _RUSSIAN)).encode("cp1251")
        self.send_response(200 if self.path == "/article" else 404)
        self.send_header("Content-Type", "text/html; charset=windows-1251")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def legacy_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LegacyPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_cli_url_is_fetched_and_decoded_by_its_http_charset(cli: typer.Typer, tmp_path: Path, legacy_site: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[fetch]\nallow_private = true\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["extract", "--config", str(config), "--format", "json", f"{legacy_site}/article"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout)
    assert _RUSSIAN[2] in line["text"] and line["lang"] == "ru"
    missing = runner.invoke(cli, ["extract", "--config", str(config), f"{legacy_site}/gone"])
    assert missing.exit_code == 2 and "404" in missing.stderr and "Traceback" not in missing.output


def test_a_library_error_on_one_page_is_an_extract_error_of_that_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's boundary: whatever trafilatura or lxml raise on a hostile page comes back as that page's error
    (the pool raises only ExtractError, so `monitor extract` and the pipeline report the page and go on)."""
    import monitor.extractpool as extract

    def broken(html: bytes | str, url: str, *, charset: str | None = None, language: bool = True) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(extract, "extract_html", broken)
    article, error = extract._work(b"<html></html>", "http://news.test/a", None, 5.0)
    assert article is None and error == "extraction failed: RecursionError: maximum recursion depth exceeded"


def test_a_failure_in_the_furniture_walk_is_an_extract_error_of_that_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """``extract_html`` itself (what ``monitor match page.html`` calls, with no pool around it) maps whatever the
    furniture walk raises on a hostile tree to ``ExtractError``, as it does for trafilatura's own failures."""
    import monitor.extract as extract

    def broken(*args: object) -> tuple[str, str]:
        raise ValueError("lxml: invalid tree")

    monkeypatch.setattr(extract, "split_tree", broken)
    page = (
        "<html><body><article><p>" + "Police raided a scam compound in Poipet. " * 20 + "</p></article></body></html>"
    )
    with pytest.raises(ExtractError, match="extraction failed: ValueError: lxml: invalid tree"):
        extract.extract_html(page, "http://news.test/a")
