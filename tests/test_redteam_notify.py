"""Red team, issue 11 (notify, CLI, rules): attacks beyond tests/test_isolation_*.py, each through the real parts
(the ``Notifier`` with the aiosmtpd and chat sinks, the CLI on a real database, the rule loader and matcher).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from monitor.notify import Notifier
from monitor.store import Store
from tests.chat import ChatServer, chat_server
from tests.dbfixtures import store, store_url
from tests.notifykit import T0, add_story, make_settings, rule

__all__ = ["chat_server", "store", "store_url"]

RAID = rule("kh.raid", "critical", title="Scam compound raid")
_LIVE = re.compile(r"(?i)[@＠](?![\u200b])[\w*]|<(?!\u200b)[@!#]|＜(?!\u200b)")


def _text(n: int) -> str:
    return f"Report {n}: police raided a scam compound. " + " ".join(f"w{n}x{i}" for i in range(40))


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_a_mention_in_an_article_url_right_after_the_host_pings_nobody(store: Store, chat_server: ChatServer,
                                                                      fmt: str) -> None:
    # "/@name" was encoded, but a query or fragment straight after the host, or a user info part, was not; in
    # markdown a link is not escaped, so "@everyone" there reached the chat live.
    settings = make_settings({"chat": {"urls": [chat_server.url("chat")], "format": fmt}}, [{"channels": ["chat"]}])
    urls = ["https://a.example.org?q=@everyone", "https://b.example.org#@here",
            "https://x@everyone.example.org/story", "https://c.example.org?@**all**"]
    for n, url in enumerate(urls):
        add_story(store, settings, [RAID], url=url, title=f"Raid {n}", text=_text(n), now=T0 + timedelta(seconds=n))
    assert Notifier(settings, store, rules=[RAID]).send_due(T0 + timedelta(minutes=1)).sent == len(urls)
    posts = chat_server.messages("chat")
    assert len(posts) == len(urls)
    for post in posts:
        assert not _LIVE.search(post["message"].replace("&lt;", "<")), post["message"]
    bodies = "".join(post["message"] for post in posts)
    assert "a.example.org?q=%40everyone" in bodies and "everyone.example.org/story" in bodies
