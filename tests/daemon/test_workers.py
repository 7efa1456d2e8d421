"""Several ``monitor run`` workers on one PostgreSQL, as real processes (issue 17): copies of one story reaching
three workers at once found one story and alert once per channel; a PostgreSQL restarted during a poll (a throwaway
server of the test's own) is survived: the workers reconnect by themselves and nothing is lost."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon.test_daemon import Output, wait_for
from tests.daemon.test_hostile_daemon import RULES, Site, alerts, start, stored_rows
from tests.store.test_store import _distinct_text
from tests.support.chat import ChatServer
from tests.support.hostile import HostileServer
from tests.support.newssite import NewsSite
from tests.support.pgserver import ThrowawayPostgres, throwaway_postgres  # noqa: F401
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.slow

BODY = (
    "Police raided a scam compound on the outskirts of Bavet before dawn on Tuesday and detained more than three "
    "hundred people from nine countries, the provincial police chief said. Officers found rows of desks with phones "
    "and scripts for romance and investment fraud, and a ledger of payments to recruiters in four countries. "
    "Most of the workers said they had answered advertisements for jobs in customer service and had their passports "
    "taken on arrival. The compound's managers fled across the border, according to the police."
)
TITLE = "Police raid scam compound in Bavet, detain 300"


def write_config(tmp_path: Path, db_url: str, feeds: list[tuple[str, str]], *channels: tuple[str, str]) -> Path:
    """A worker's config: a 1 s tick and interval, full text, 4 feeds polled at once per worker (so a backlog
    spreads over the workers with today's claims), the given channels routed every match."""
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "r.yaml").write_text(RULES, encoding="utf-8")
    config = tmp_path / "config.toml"
    blocks = [
        f'[database]\nurl = "{db_url}"\n',
        '[scheduler]\ntick = "1s"\npoll_interval = "1s"\n',
        '[fetch]\ntimeout = "10s"\nconcurrency = 4\nextract_processes = 1\n',
        "[notify]\nmax_per_hour = 1000\n",  # 40 stories alert within the hour
        *(f'[channels.{name}]\nurls = ["{url}"]\n' for name, url in channels),
        f"[[routes]]\nchannels = [{', '.join(repr(name).replace(chr(39), chr(34)) for name, _ in channels)}]\n",
        *(
            f'[[feeds]]\nname = "{name}"\nurl = "{url}"\nallow_private = true\nallow_private_links = true\n'
            for name, url in feeds
        ),
    ]
    config.write_text("\n".join(blocks), encoding="utf-8")
    return config


class Workers:
    """``count`` ``monitor run`` processes of one config, their output drained as it comes."""

    def __init__(self, site: Site, count: int) -> None:
        self.processes = [start(site) for _ in range(count)]
        self.logs = [Output(process) for process in self.processes]

    def polled(self, pattern: str) -> list[set[str]]:
        """For each worker, the feeds it logged a poll of whose line matches ``pattern``."""
        found = re.compile(r"feed polled feed=(\S+) (.*)")
        return [
            {m.group(1) for m in map(found.search, log.text().splitlines()) if m and re.search(pattern, m.group(0))}
            for log in self.logs
        ]

    def alive(self) -> bool:
        return all(process.poll() is None for process in self.processes)

    def stop(self) -> list[str]:
        """SIGTERM each; each must exit 0 within a generous time (a loaded machine). Their whole output."""
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=60) for process in self.processes]
        outputs = [log.closed(timeout=30) for log in self.logs]
        assert codes == [0] * len(codes), [output[-3000:] for output in outputs]
        return outputs

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def workers_of() -> Iterator[list[Workers]]:
    started: list[Workers] = []
    yield started
    for workers in started:
        workers.kill()


@pytest.fixture
def closing() -> Iterator[list[NewsSite]]:
    """Extra news sites a test starts, closed after it."""
    sites: list[NewsSite] = []
    yield sites
    for site in sites:
        site.close()


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # its own schema (tests/support/dbfixtures.py)
@pytest.mark.postgres
def test_twenty_copies_of_one_story_reaching_three_workers_at_once_found_one_story_and_alert_once(
    tmp_path: Path,
    store_url: str,
    news_site: NewsSite,
    hostile_server: HostileServer,  # noqa: F811
    smtp_server: SmtpServer,
    chat_server: ChatServer,
    workers_of: list[Workers],
    closing: list[NewsSite],
) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("several workers share PostgreSQL only")
    # One worker polls a host at a time (docs/storage.md), so the copies come from three loopback hosts.
    sites = [news_site, NewsSite("127.0.0.2"), NewsSite("127.0.0.3")]
    closing.extend(sites[1:])
    names = [f"copy{i:02d}" for i in range(20)]
    config = write_config(
        tmp_path,
        store_url,
        [(name, sites[i % 3].feed_url(name)) for i, name in enumerate(names)],
        ("mail", smtp_server.url()),
        ("chat", chat_server.url("alerts")),
    )
    site = Site(news_site, hostile_server, config, store_url)
    workers = Workers(site, 3)
    workers_of.append(workers)
    # Every worker polling (the feeds are empty so far): then the story appears in all 20 feeds at once.
    assert wait_for(lambda: all(workers.polled("status=ok")), 120), [log.text()[-2000:] for log in workers.logs]
    for news in sites:
        news.page_delay = 0.5  # each copy's page takes a while, so the copies are written while others are
    for i, name in enumerate(names):
        sites[i % 3].add(name, TITLE, BODY, slug=f"{name}-bavet")
    count = "SELECT count(*), count(DISTINCT story_id) FROM articles"
    assert wait_for(lambda: stored_rows(store_url, count)[0][0] >= 20, 180), stored_rows(store_url, count)
    assert wait_for(lambda: alerts(smtp_server, chat_server, "Bavet") == (1, 1), 60), alerts(
        smtp_server, chat_server, "Bavet"
    )
    time.sleep(3)  # more ticks and delivery runs: still one of each
    assert stored_rows(store_url, count) == [(20, 1)]
    assert alerts(smtp_server, chat_server, "Bavet") == (1, 1)
    assert stored_rows(store_url, "SELECT channel, count(*) FROM deliveries GROUP BY channel ORDER BY 1") == [
        ("chat", 1),
        ("mail", 1),
    ]
    # the copies reached the three workers: each stored some of them
    stored_by = workers.polled("new=1")
    assert sorted(len(s) for s in stored_by)[0] >= 1 and sum(map(len, stored_by)) == 20, stored_by
    outputs = workers.stop()
    assert not [o for o in outputs if "Traceback" in o], [o[-3000:] for o in outputs if "Traceback" in o]


def test_workers_reconnect_after_postgresql_restarts_during_a_poll_and_lose_nothing(
    tmp_path: Path,
    throwaway_postgres: ThrowawayPostgres,  # noqa: F811
    news_site: NewsSite,
    hostile_server: HostileServer,  # noqa: F811
    chat_server: ChatServer,
    workers_of: list[Workers],
) -> None:
    """Two workers poll 4 feeds of 10 slow pages each; PostgreSQL stops (``pg_ctl stop -m fast``: every
    connection dropped) once the first articles are stored, and starts again 3 s later. The writes that fail leave their entries unseen and
    their feed's validators dropped, so the next poll stores them: every article and match once, every story
    alerted, the workers still running."""
    names = [f"feed{i}" for i in range(4)]
    for n, name in enumerate(names):
        for i in range(10):
            news_site.add(name, f"Raid {n}-{i} on scam compound", _distinct_text(100 * n + i))  # 40 stories
    news_site.page_delay = 1.0  # a poll lasts several seconds: the restart lands in the middle of it
    url = throwaway_postgres.url
    config = write_config(
        tmp_path, url, [(name, news_site.feed_url(name)) for name in names], ("chat", chat_server.url("alerts"))
    )
    workers = Workers(Site(news_site, hostile_server, config, url), 2)
    workers_of.append(workers)
    count = "SELECT count(*) FROM articles"
    assert wait_for(lambda: throwaway_postgres.answers(count) >= 1, 120), [log.text()[-2000:] for log in workers.logs]
    throwaway_postgres.restart(down=3.0)  # pages keep arriving meanwhile: their writes fail
    assert wait_for(lambda: throwaway_postgres.answers(count) >= 40, 180), (
        throwaway_postgres.answers(count),
        [log.text()[-3000:] for log in workers.logs],
    )
    logs = "".join(log.text() for log in workers.logs)
    assert "not stored, retried next poll" in logs or "store batch not written" in logs, [
        line for line in logs.splitlines() if "WARNING" in line or "ERROR" in line
    ]
    alerted = wait_for(lambda: all(alerts_for(chat_server, n, i) for n in range(4) for i in range(10)), 120)
    assert alerted, (
        [(n, i) for n in range(4) for i in range(10) if not alerts_for(chat_server, n, i)],
        throwaway_postgres.rows(
            "SELECT status, claimed_by, claimed_until, attempts, count(*) FROM deliveries GROUP BY 1, 2, 3, 4"
        ),
    )
    assert workers.alive()
    rows = throwaway_postgres.rows(
        "SELECT count(*), count(DISTINCT canonical_url), count(DISTINCT story_id) FROM articles"
    )
    assert rows == [(40, 40, 40)]
    assert throwaway_postgres.rows("SELECT count(*), count(DISTINCT article_id) FROM matches") == [(40, 40)]
    assert throwaway_postgres.rows("SELECT count(*) FROM deliveries") == [(40,)]
    workers.stop()


def alerts_for(chat: ChatServer, feed: int, item: int) -> bool:
    return alerts_in(chat, f"Raid {feed}-{item} on") >= 1


def alerts_in(chat: ChatServer, word: str) -> int:
    return sum(word in str(post) for post in chat.messages("alerts"))
