"""Where a poll's work runs when it is not waiting on the network: never on the event loop's thread.

Inputs: a function and its arguments. Outputs: its result, awaited. ``in_thread``: CPU work (entry keys, matching,
story keys, language) in the CPU threads, not the default executor, so a huge feed never queues the DNS lookups and
delivery runs that use that one. ``stored``: store writes, through the session's ``StoreWriter`` (batched with
the other polls' writes, one transaction per batch, each call a savepoint of it), else in the store thread, one
at a time and each its own transaction. ``language_ready``: the language model loaded once, before the first
detection. ``responsive_loop``: a shorter GIL switch interval, so the loop's lag stays low while threads work.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from monitor.lang import detect_language
from monitor.store.writer import StoreWriter

__all__ = ["SWITCH_INTERVAL", "in_thread", "language_ready", "responsive_loop", "stored"]

# Two CPU threads: under the GIL more add no throughput, only more threads the loop must queue behind for it.
_CPU = ThreadPoolExecutor(max_workers=2, thread_name_prefix="monitor-cpu")
_STORE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitor-store")
_T = TypeVar("_T")
#: Seconds a thread holds the GIL while another waits for it (CPython's default is 0.005). The event loop waits
#: about this long once per other busy thread (CPU, store writer, feed parses) each time it wants to run.
SWITCH_INTERVAL = 0.001
_LANGUAGE_READY = threading.Event()
_LANGUAGE_LOCK = threading.Lock()


async def in_thread(function: Callable[..., _T], *args: Any) -> _T:
    """``function(*args)`` in a CPU thread."""
    return await asyncio.get_running_loop().run_in_executor(_CPU, functools.partial(function, *args))


async def stored(writer: StoreWriter | None, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """``function(*args, **kwargs)``, a store write, off the event loop: through ``writer`` when there is one."""
    call = functools.partial(function, *args, **kwargs)
    if writer is not None:
        return await writer.call(call)
    return await asyncio.get_running_loop().run_in_executor(_STORE, call)


def language_ready() -> None:
    """Load the language model once: CPU threads detecting at the same time would each load it (~1 s each)."""
    if not _LANGUAGE_READY.is_set():
        with _LANGUAGE_LOCK:
            if not _LANGUAGE_READY.is_set():
                detect_language("warm up the language model before the first article")
                _LANGUAGE_READY.set()


def responsive_loop() -> None:
    """Make busy threads hand the GIL to the event loop sooner (``SWITCH_INTERVAL``): polls keep the loop's lag
    low while entries are matched, parsed and stored in threads. Process-wide; never lengthens the interval."""
    if sys.getswitchinterval() > SWITCH_INTERVAL:
        sys.setswitchinterval(SWITCH_INTERVAL)
