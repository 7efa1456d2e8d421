"""Extraction: a fetched article page (bytes, URL) -> Extracted (text, title, author, date, language, site name).

trafilatura does the work; this module decodes the bytes the way a browser would, bounds pathological pages, maps
trafilatura's and lxml's failures to ``ExtractError``, splits off page furniture (``monitor.furniture``: the text is
the story's body, the furniture is kept apart), and runs extraction in a process pool with a time limit per page
(``ExtractorPool``). ``choose_article`` (re-exported from ``monitor.furniture``) is the pipeline's fallback to the
feed's own text. Only this module touches trafilatura.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import multiprocessing
import os
import re
import signal
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from types import FrameType, TracebackType
from typing import Any

import trafilatura
import trafilatura.settings
import trafilatura.utils
import trafilatura.xml

from monitor.clean import LIMITS, bound_tags, charset_codec, clean_date, clean_text
from monitor.errors import ExtractError
from monitor.furniture import Chosen, choose_article, choose_text, split_tree
from monitor.lang import detect_language
from monitor.orphans import start_worker

__all__ = [
    "Chosen", "Extracted", "ExtractorPool", "charset_from_headers", "choose_article", "choose_text", "decode_html",
    "extract_html",
]

_log = logging.getLogger(__name__)

#: Compressed bodies (a saved ``.html.gz``) are inflated up to this size, as trafilatura does with bytes.
_MAX_INFLATED_BYTES = 20_000_000
#: Characters of markup we extract from; the rest of a larger page is dropped (lxml closes what the cut leaves
#: open). Real articles sit well inside it: the benchmark's largest page is 1 MB.
_MAX_HTML_CHARS = 5_000_000
#: A cheap proxy for the element count. trafilatura costs ~0.35 ms per element of link-heavy markup (20,000
#: link blocks: ~9 s); the benchmark's busiest real page has 3,229 ``<``. Above this we refuse before parsing.
_MAX_TAGS = 100_000
#: Where to look for ``<meta charset>`` / ``<?xml encoding?>`` (HTML says 1024 bytes; real pages put it later).
_PRESCAN_BYTES = 4096
#: A declared encoding is kept despite a few undecodable bytes (browsers show U+FFFD for them) up to this share.
_MAX_REPLACED_SHARE = 0.001

#: trafilatura's ``MIN_EXTRACTED_SIZE`` (250 characters; below it, it falls back to the page's whole text, furniture
#: and all) scaled to Chinese, Japanese, Thai and Khmer, which write a word in one to three characters.
_SPACELESS_CONFIG = trafilatura.settings.use_config()
_SPACELESS_CONFIG.set("DEFAULT", "MIN_EXTRACTED_SIZE", "80")
_SPACELESS = re.compile(r"[\u0e00-\u0e7f\u1780-\u17ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_DECLARED_CHARSET = re.compile(rb"""<(?:meta\s[^>]*?charset|\?xml\s[^>]*?encoding)\s*=\s*["']?\s*([-\w.:]+)""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([-\w.:]+)""", re.I)
#: WHATWG Encoding Standard: labels browsers decode with a superset (Python codec names after ``codecs.lookup``).
_WHATWG_SUPERSETS = {
    "ascii": "cp1252", "iso8859-1": "cp1252", "iso8859-9": "cp1254", "iso8859-11": "cp874", "tis-620": "cp874",
    "gb2312": "gb18030", "gbk": "gb18030", "shift_jis": "cp932", "euc_kr": "cp949", "big5": "big5hkscs",
}
#: Encodings whose bytes can look like ASCII/UTF-8: only a declaration tells them apart.
_DECLARED_ONLY = ("iso2022", "hz", "utf-7", "utf-16", "utf-32")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


@dataclass(frozen=True)
class Extracted:
    """What a page yields. Strings are ``""`` when the page does not say; ``date`` is naive UTC. ``text`` is the
    story's body; ``furniture`` the page furniture extraction kept (related lists, comments, promos), never matched."""

    title: str
    text: str
    author: str
    date: datetime | None
    lang: str | None
    sitename: str
    furniture: str = ""


def charset_from_headers(headers: Mapping[str, str]) -> str | None:
    """The ``charset`` parameter of a response's ``Content-Type`` (lower-case header keys), if any."""
    found = _HEADER_CHARSET.search(headers.get("content-type", ""))
    return found.group(1) if found else None


def _codec(label: str | bytes | None) -> str | None:
    """Python codec for an encoding label, widened the way browsers widen it; None if unknown or no charset."""
    name = charset_codec(label)
    return None if name is None else _WHATWG_SUPERSETS.get(name, name)


def _decode_leniently(data: bytes, codec: str) -> str | None:
    """``data`` in ``codec``, tolerating a few bad bytes; None when the codec clearly does not fit."""
    text = data.decode(codec, errors="replace")
    if text.count("\ufffd") > _MAX_REPLACED_SHARE * len(text):
        return None
    return text


def decode_html(data: bytes, charset: str | None = None) -> str:
    """Decode a page's bytes: BOM, then a stateful encoding only a declaration reveals, then valid UTF-8, then
    the HTTP ``charset``, then ``<meta charset>``, then detection (trafilatura's own), then UTF-8 with U+FFFD.

    Valid UTF-8 wins over a declared legacy charset because servers often send ``charset=ISO-8859-1`` by default
    for UTF-8 pages, while non-ASCII text in a legacy encoding is practically never valid UTF-8 by accident;
    this is also what trafilatura does with bytes, so no page it reads right is read differently here.
    """
    for bom, bom_codec in _BOMS:
        if data.startswith(bom):
            return data.decode(bom_codec, errors="replace")
    head = data[:_PRESCAN_BYTES]
    meta = _DECLARED_CHARSET.search(head)
    header_codec, meta_codec = _codec(charset), _codec(meta.group(1) if meta else None)
    if meta_codec is not None and meta_codec.startswith(("utf-16", "utf-32")):
        meta_codec = "utf-8"  # a UTF-16 page could not be prescanned as ASCII: the declaration is wrong
    for codec in (header_codec, meta_codec):
        if codec is None or not codec.startswith(_DECLARED_ONLY):
            continue
        if codec.startswith(("utf-16", "utf-32")) and b"\x00" not in head:
            continue  # UTF-16 markup is full of NUL bytes; without them the label is a server default gone wrong
        if (decoded := _decode_leniently(data, codec)) is not None:
            return decoded
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for codec in (header_codec, meta_codec):
        if codec is not None and (decoded := _decode_leniently(data, codec)) is not None:
            return decoded
    for guess in trafilatura.utils.detect_encoding(data):
        try:
            return data.decode(guess)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", errors="replace")


def _markup(html: bytes | str, charset: str | None, url: str) -> str:
    if isinstance(html, bytes):
        try:
            html = trafilatura.utils.handle_compressed_file(html, _MAX_INFLATED_BYTES)
        except ValueError as e:  # a decompression bomb
            raise ExtractError(f"page inflates past {_MAX_INFLATED_BYTES} bytes", url=url) from e
        html = decode_html(html, charset)
    if len(html) > _MAX_HTML_CHARS:
        _log.info("page truncated url=%s chars=%d", url, len(html))
        html = html[:_MAX_HTML_CHARS]
    html = bound_tags(html)  # libxml2 is quadratic in one tag's attributes
    tags = html.count("<")
    if tags > _MAX_TAGS:
        raise ExtractError(f"page too complex to extract: {tags} tags (limit {_MAX_TAGS})", url=url)
    return html


def _date_params() -> dict[str, Any]:
    # trafilatura's defaults plus a time zone in the output, so that we can convert to UTC.
    return {
        "original_date": True,
        "extensive_search": True,
        "max_date": datetime.now().astimezone().strftime("%Y-%m-%d"),
        "outputformat": "%Y-%m-%dT%H:%M:%S%z",
    }


def _parse_date(value: str | None) -> datetime | None:
    """trafilatura's date as naive UTC, None when absent or out of range (``clean_date``)."""
    if not value:
        return None
    try:
        return clean_date(datetime.fromisoformat(value[:64]))
    except ValueError:
        return None


def extract_html(html: bytes | str, url: str, *, charset: str | None = None) -> Extracted | None:
    """Extract the article from one page, in this process (``ExtractorPool`` for a time limit).

    Args:
        html: the page as fetched (bytes, decoded here) or already decoded text.
        url: the page's final URL (for relative links and metadata; never fetched).
        charset: the ``charset`` of the HTTP ``Content-Type``, if any (``charset_from_headers``).

    Returns:
        The article, or None when the page holds no usable text.

    Raises:
        ExtractError: the page is too complex, or trafilatura/lxml failed on it.
    """
    markup = _markup(html, charset, url)
    try:
        doc = _bare(markup, url)
        text = getattr(doc, "text", None) or ""
        if len(text) < 750 and len(_SPACELESS.findall(text)) * 2 > len(text):  # short, in a script without spaces:
            retry = _bare(markup, url, _SPACELESS_CONFIG)  # under the size floor trafilatura took the page's text
            doc = retry if len(getattr(retry, "text", None) or "") * 2 >= len(text) else doc
    except RecursionError as e:
        raise ExtractError("page nested too deeply to extract", url=url) from e
    except Exception as e:  # noqa: BLE001 - hostile markup must never stop the pipeline; the error is mapped
        raise ExtractError(f"extraction failed: {type(e).__name__}: {e}", url=url) from e
    if doc is None or isinstance(doc, dict) or not doc.text:
        return None
    title = _field(doc.title, "title")
    body, furniture = split_tree(doc.body, title, _render, doc.text) if doc.body is not None else (doc.text, "")
    if not (text := _field(body, "text")):
        return None
    return Extracted(
        title=title,
        text=text,
        furniture=_field(furniture, "text"),
        author=_field(doc.author, "author"),
        date=_parse_date(doc.date),
        lang=_field(doc.language, "lang") or detect_language(text),
        sitename=_field(doc.sitename, "sitename"),
    )


def _bare(markup: str, url: str, config: Any = None) -> Any:
    return trafilatura.bare_extraction(  # deduplicate=True shares a cache across pages: syndicated copies vanish
        markup, url=url, with_metadata=True, include_comments=False, deduplicate=False,
        date_extraction_params=_date_params(), config=config or trafilatura.settings.DEFAULT_CONFIG)


def _field(value: object, name: str) -> str:
    """A page's field as safe text (``monitor.clean``): no lone surrogate or control character, bounded."""
    return clean_text(value, LIMITS[name]).strip()


def _render(tree: Any) -> str:
    return trafilatura.xml.xmltotxt(tree, False)


#: Attempts per page when a worker process dies under it (the retry runs on a fresh pool).
_ATTEMPTS = 2
#: Slack on top of the parent's hard limit (queueing behind one page, scheduling noise).
_HARD_GRACE = 10.0
#: More slack until a fresh pool has returned its first page: starting workers (imports, language model) took
#: 3 s idle and 11 s on a loaded 2-core machine, and must not count as a hung page.
_STARTUP_GRACE = 120.0


class _SoftTimeout(BaseException):
    """Raised in a worker by SIGALRM: a BaseException, so trafilatura's ``except Exception`` cannot swallow it."""


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise _SoftTimeout


def _warm_up(owner: int) -> None:
    # Worker initializer: load the language model before the first page's clock starts.
    threading.Thread(target=_exit_without, args=(owner,), name="owner-watch", daemon=True).start()
    detect_language("warm up the language model in this worker process")


def _exit_without(owner: int) -> None:
    """Exit once the process that owns the pool is gone: after a ``kill -9`` of the daemon its worker would wait
    on its queue forever (with its language model, ~160 MB, and the daemon's stdout held open). A pid check,
    since multiprocessing's parent sentinel is at EOF from the start under forkserver."""
    while True:
        time.sleep(1.0)
        try:
            os.kill(owner, 0)
        except OSError:  # gone (or the pid now belongs to another user's process)
            os._exit(0)


def _work(html: bytes | str, url: str, charset: str | None, timeout: float) -> tuple[Extracted | None, str | None]:
    """Worker side: (article, None) or (None, error message); messages pickle, exceptions may not."""
    armed = hasattr(signal, "setitimer")
    if armed:
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return extract_html(html, url, charset=charset), None
    except _SoftTimeout:
        return None, f"extraction timed out after {timeout:g} s"
    except Exception as e:  # an ExtractError, or a library bug on one hostile page: that page fails alone
        return None, str(e) if isinstance(e, ExtractError) else f"extraction failed: {type(e).__name__}: {str(e)[:200]}"
    finally:
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0)


def _kill_workers(executor: ProcessPoolExecutor) -> None:
    # ProcessPoolExecutor has no public way to stop a busy worker before Python 3.14 (kill_workers).
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        process.kill()


class ExtractorPool:
    """``extract_html`` in worker processes, with a time limit per page.

    A page over ``timeout`` seconds raises ``ExtractError`` (the worker stops it and carries on). A worker that
    dies, or hangs where the limit cannot reach (inside C code, past ``2 * timeout + 10`` s), is killed with its
    pool; a fresh pool takes the next page and the other pages in flight are retried once.
    Workers start with ``forkserver`` (``spawn`` where missing): safe alongside threads in this process.
    """

    def __init__(self, processes: int | None = None, timeout: float = 30.0) -> None:
        self._processes = processes or os.cpu_count() or 1
        self._timeout = timeout
        self._hard_timeout = 2 * timeout + _HARD_GRACE
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._started = False  # the current executor has returned a page: its workers are up
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._closed = False

    def __enter__(self) -> ExtractorPool:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers (waits for pages in progress, each bounded by ``timeout``)."""
        with self._lock:
            self._closed, executor, self._executor = True, self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    async def extract(self, html: bytes | str, url: str, *, charset: str | None = None) -> Extracted | None:
        """``extract_html`` in a worker. Raises ``ExtractError`` on a timeout, a crash or a failed extraction."""
        async with self._slot():
            for _ in range(_ATTEMPTS):
                executor = self._current(url)
                limit = self._hard_timeout + (0.0 if self._started else _STARTUP_GRACE)
                try:
                    future = asyncio.get_running_loop().run_in_executor(
                        executor, _work, html, url, charset, self._timeout
                    )
                    article, error = await asyncio.wait_for(future, limit)
                except TimeoutError:
                    self._discard(executor, kill=True)
                    raise ExtractError(f"extraction hung past {limit:g} s", url=url) from None
                except _SoftTimeout:  # the alarm went off just as the page finished
                    article, error = None, f"extraction timed out after {self._timeout:g} s"
                except RuntimeError:  # BrokenProcessPool, or a pool another page just discarded
                    self._discard(executor, kill=False)
                    continue
                self._started = self._started or executor is self._executor
                if error is not None:
                    raise ExtractError(error, url=url)
                return article
        _log.warning("extraction worker crashed url=%s", url)
        raise ExtractError("extraction worker crashed", url=url)

    def map(self, pages: Iterable[tuple[bytes | str, str]]) -> list[Extracted | ExtractError | None]:
        """Extract a batch in parallel, in order; a failed page gives its ``ExtractError`` in its place.

        Not for use inside a running event loop (use ``extract`` there)."""

        async def run_all() -> list[Extracted | BaseException | None]:
            jobs = [self.extract(html, url) for html, url in pages]
            return await asyncio.gather(*jobs, return_exceptions=True)

        results: list[Extracted | ExtractError | None] = []
        for result in asyncio.run(run_all()):
            if isinstance(result, BaseException) and not isinstance(result, ExtractError):
                raise result  # a bug, not a page problem
            results.append(result)
        return results

    def _slot(self) -> asyncio.Semaphore:
        # At most two pages per worker in flight, so the hard limit (from submission) covers one queued page.
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(2 * self._processes))
        return self._slots[1]

    def _current(self, url: str) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise ExtractError("extractor pool is closed", url=url)
            if self._executor is None:
                methods = multiprocessing.get_all_start_methods()
                context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
                self._executor = ProcessPoolExecutor(self._processes, mp_context=context, initializer=start_worker,
                                                     initargs=(_warm_up, os.getpid()))  # dies with its parent
                self._started = False
            return self._executor

    def _discard(self, executor: ProcessPoolExecutor, *, kill: bool) -> None:
        """Drop a broken or hung pool; the next page starts a fresh one."""
        with self._lock:
            if self._executor is executor:
                self._executor = None
        if kill:
            _log.warning("extraction pool killed reason=hung")
            _kill_workers(executor)
        executor.shutdown(wait=False, cancel_futures=True)
