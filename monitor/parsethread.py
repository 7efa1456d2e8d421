"""Feed parsing off the event loop, in a thread of its own that nothing waits for.

Inputs: a feed's id and its fetched body. Output: the ``ParsedFeed``, or ``FeedParseError``. feedparser cannot be
interrupted, and a hostile body can keep it busy long past the feed's time budget (60,000 attributes on one element
took 50 s in the standard library's SAX code; that step and the others found are bounded in ``feedbytes``, this is
the guard for the next one). When
``scheduler.feed_timeout`` cuts the poll, its parse goes on: in a thread of its own it holds no shared worker (the
other feeds' parsing and matching go on), as a daemon thread it does not keep ``monitor poll`` from exiting, and a
feed never has two parses running (its next poll fails at once instead).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Hashable, Mapping

from monitor.errors import FeedParseError
from monitor.feeds import ParsedFeed, parse_feed

__all__ = ["parse_in_thread"]

_running: set[Hashable] = set()  # the feeds whose parse is still running (a cancelled poll cannot stop it)
_lock = threading.Lock()


async def parse_in_thread(key: Hashable, body: bytes, url: str, headers: Mapping[str, str]) -> ParsedFeed:
    """``parse_feed`` in a daemon thread; raises ``FeedParseError`` at once if ``key``'s last parse still runs."""
    with _lock:
        if key in _running:
            raise FeedParseError("the parse of this feed's previous poll is still running", url=url)
        _running.add(key)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[ParsedFeed] = loop.create_future()

    def settle(result: ParsedFeed | None, error: BaseException | None) -> None:
        if not done.done():  # the poll may have been cancelled meanwhile
            done.set_exception(error) if error is not None else done.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        result, error = None, None
        try:
            result = parse_feed(body, url, headers)
        except BaseException as e:  # noqa: BLE001 - handed to the awaiting poll, which has the feed's boundary
            error = e
        finally:
            with _lock:
                _running.discard(key)
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop has closed: nobody is waiting any more
            pass

    try:
        threading.Thread(target=run, name=f"parse {url[:80]}", daemon=True).start()
    except BaseException:  # "can't start new thread": the feed must not stay marked as parsing forever
        with _lock:
            _running.discard(key)
        raise
    return await done
