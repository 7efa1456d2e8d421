"""monitor: a media-monitoring alert pipeline.

Polls news feeds, extracts each new article's text, matches boolean rules written in YAML, stores articles and
matches, and alerts by email or chat. See README.md and docs/.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

# httpx imports its command-line client with itself (click, pygments, rich's progress bars and syntax colouring:
# ~140 ms of CPU at every start of a command that fetches), and monitor never runs it: with the module marked
# absent, httpx skips it and its ``httpx.main`` only says that the CLI is not installed.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

if TYPE_CHECKING:
    from monitor.api import Monitor, open

__all__ = ["Monitor", "__version__", "open"]

__version__ = "0.2.0"


def __getattr__(name: str) -> Any:
    # The API is imported on first use, so that ``monitor --help`` and ``import monitor.rules`` stay light.
    if name in ("Monitor", "open"):
        from monitor import api

        return getattr(api, name)
    raise AttributeError(f"module 'monitor' has no attribute {name!r}")
