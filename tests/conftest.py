"""Shared fixtures: a clean environment per test, the store fixtures, the project's paths."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
# The third-party evaluation data lives beside the project (../shared/eval), in development and on CI alike.
EVAL = PROJECT.parent / "shared" / "eval"
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
