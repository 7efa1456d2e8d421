"""The extraction pool: ``extract_html`` in worker processes, with a time limit per page.

A page that hangs trafilatura (a soft ``SIGALRM`` in the worker, then a hard limit in the parent) or kills its worker
fails alone: the pool is replaced and the page retried once on a fresh one. Workers are warmed up (trafilatura's
import) before the first page, and die with their parent (``monitor.orphans``).

Memory: a worker holds only what extraction needs (about 50 MB, docs/benchmarks.md "Memory"). The language of a page
that does not state it is detected here, in the parent, which holds the language model (about 75 MB) for feed
entries anyway: one copy, not one per worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from types import FrameType, TracebackType

from monitor.errors import ExtractError
from monitor.extract import Extracted, extract_html, warm_up
from monitor.lang import detect_language
from monitor.orphans import start_worker

__all__ = ["ExtractorPool"]

_log = logging.getLogger(__name__)

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
    # Worker initializer: import trafilatura before the first page's clock starts.
    threading.Thread(target=_exit_without, args=(owner,), name="owner-watch", daemon=True).start()
    warm_up()


def _exit_without(owner: int) -> None:
    """Exit once the process that owns the pool is gone: after a ``kill -9`` of the daemon its worker would wait
    on its queue forever (with its memory and the daemon's stdout held open). A pid check,
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
        return extract_html(html, url, charset=charset, language=False), None  # the parent detects it
    except _SoftTimeout:
        return None, f"extraction timed out after {timeout:g} s"
    except Exception as e:  # an ExtractError, or a library bug on one hostile page: that page fails alone
        return None, str(e) if isinstance(e, ExtractError) else f"extraction failed: {type(e).__name__}: {str(e)[:200]}"
    finally:
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0)


class _Language:
    """``detect_language`` with the model loaded once: ``monitor.lang`` loads it on first use without a lock, and
    six threads starting at once loaded six copies (measured: a 473 MB peak for one 73 MB model)."""

    lock = threading.Lock()
    loaded = False

    @classmethod
    def detect(cls, text: str) -> str | None:
        if not cls.loaded:
            with cls.lock:
                detect_language("load the language model once, in one thread")
                cls.loaded = True
        return detect_language(text)


async def _with_language(article: Extracted | None, thread: ThreadPoolExecutor) -> Extracted | None:
    """The article with its language detected here when the page did not state it (as ``extract_html`` would),
    in the pool's one language thread: the model's few milliseconds stay off the event loop, and one thread (the
    work holds the GIL anyway) keeps the allocator from growing an arena per thread."""
    if article is None or article.lang is not None:
        return article
    lang = await asyncio.get_running_loop().run_in_executor(thread, _Language.detect, article.text)
    return article if lang is None else dataclasses.replace(article, lang=lang)


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
        self._language = ThreadPoolExecutor(1, thread_name_prefix="extract-language")
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
        self._language.shutdown(wait=True)

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
                return await _with_language(article, self._language)
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
                self._executor = ProcessPoolExecutor(
                    self._processes, mp_context=context, initializer=start_worker, initargs=(_warm_up, os.getpid())
                )  # dies with its parent
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
