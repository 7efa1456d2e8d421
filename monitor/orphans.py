"""Child processes that die with their parent: after a ``kill -9`` of ``monitor run`` none is left running.

Python's multiprocessing ties a worker to its parent only by pipes: a worker busy in C code (an extraction deep in
lxml) does not notice its parent is gone. On Linux the kernel does: ``PR_SET_PDEATHSIG`` sends the child SIGKILL
when its parent exits. ``start_worker`` wraps a pool initializer with it (``ExtractorPool``); elsewhere it does
nothing, and the pool's own watch on its owner's pid (``monitor.extract``) still ends an idle worker.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["die_with_parent", "start_worker"]

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> bool:
    """Have the kernel kill this process when its parent exits (Linux); True when that is now so."""
    if sys.platform != "linux":
        return False
    import ctypes

    try:
        return int(ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)) == 0
    except (OSError, AttributeError):  # no prctl in this C library
        return False


def start_worker(initializer: Callable[..., Any], *args: Any) -> None:
    """A worker process's initializer: ``die_with_parent``, then ``initializer(*args)``."""
    die_with_parent()
    initializer(*args)
