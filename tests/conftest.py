"""Shared fixtures: a clean environment per test, the store fixtures, the project's paths."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
# Third-party evaluation data (docs/benchmarks.md, "Evaluation data"): beside the checkout as shared/eval, or where
# MONITOR_EVAL_DIR points. Tests that read it skip without it, saying how to get it.
EVAL = Path(os.environ.get("MONITOR_EVAL_DIR") or PROJECT.parent / "shared" / "eval")


def needs_eval(path: Path) -> pytest.MarkDecorator:
    """Skip unless ``path`` (inside ``EVAL``) exists, with a reason that says how to get the data."""
    return pytest.mark.skipif(not path.exists(), reason=(
        f"third-party evaluation data not found at {path}: get it as docs/benchmarks.md "
        "('Evaluation data') says, or set MONITOR_EVAL_DIR"))
# Read before the autouse fixture clears MONITOR_* for each test.
TEST_DATABASE_URL = os.environ.get("MONITOR_TEST_DATABASE_URL", "")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No MONITOR_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("MONITOR_"):
            monkeypatch.delenv(name)
    yield


@pytest.fixture
def project() -> Path:
    return PROJECT


# The fixtures of the support modules, registered once for every test (a test names them as parameters).
from tests.support.chat import chat_server  # noqa: E402, F401
from tests.support.dbfixtures import store, store_url  # noqa: E402, F401
from tests.support.hostile import hostile_server  # noqa: E402, F401
from tests.support.newssite import news_site  # noqa: E402, F401
from tests.support.smtp import smtp_server  # noqa: E402, F401
