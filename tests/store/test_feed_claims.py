"""Feed claims on PostgreSQL (issue 17): leases on the database's clock, a share of the due feeds per claim, one
worker per host, renewal, and fencing of a feed's state; SQLite keeps one daemon and no claims."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

import monitor
from monitor.clock import now_utc
from monitor.store import Store
from tests.support.newssite import NewsSite
from tests.support.workers import rows


@pytest.fixture
def pg(store: Store) -> Store:
    if store.dialect != "postgresql":
        pytest.skip("feed claims are PostgreSQL's (SQLite has one daemon)")
    return store


def _add(store: Store, count: int, hosts: int = 0) -> list[int]:
    """``count`` feeds, on ``hosts`` hosts (0: each on its own); their ids, oldest first."""
    return [store.add_feed(f"f{i}", f"https://h{i % hosts if hosts else i}.example/feed/{i}").id for i in range(count)]


def _until(condition: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_a_lapsed_claim_is_taken_over_and_the_stalled_workers_write_refused(pg: Store) -> None:
    [feed_id] = _add(pg, 1)
    now = now_utc()
    assert [f.id for f in pg.take_due_feeds(now, lease=0.5, worker="w1")] == [feed_id]
    assert pg.take_due_feeds(now, lease=60, worker="w2") == []  # w1 holds it
    assert _until(lambda: bool(pg.take_due_feeds(now_utc(), lease=60, worker="w2"))), "the lapsed claim never freed"
    feed = pg.get_feed("f0")
    assert feed is not None
    late = dataclasses.replace(feed.state, etag='"w1"', last_status="ok")
    assert pg.update_feed_state(feed_id, late, worker="w1") is False  # fenced: w1 lost the feed
    assert pg.renew_feed_claims([feed_id], lease=60, worker="w1") == set()
    assert pg.get_feed("f0").etag is None  # type: ignore[union-attr]
    assert pg.update_feed_state(feed_id, dataclasses.replace(late, etag='"w2"'), worker="w2") is True
    assert pg.get_feed("f0").etag == '"w2"'  # type: ignore[union-attr]
    # the write ended w2's claim: the feed is free for whoever finds it due next
    assert pg.claim_feeds([feed_id], lease=60, worker="w3") == {feed_id}


def test_a_lapsed_claim_is_refused_even_when_nobody_took_the_feed(pg: Store) -> None:
    [feed_id] = _add(pg, 1)
    assert len(pg.take_due_feeds(now_utc(), lease=0.3, worker="w1")) == 1
    time.sleep(0.5)  # past the lease: nothing to poll for, only the lease's end to wait out
    feed = pg.get_feed("f0")
    assert feed is not None
    assert pg.update_feed_state(feed_id, dataclasses.replace(feed.state, etag='"late"'), worker="w1") is False
    assert pg.get_feed("f0").etag is None  # type: ignore[union-attr]


def test_the_lease_is_on_the_database_clock_not_the_workers(pg: Store) -> None:
    """A worker whose clock runs an hour ahead still finds the feed claimed: only ``next_poll`` (when a feed is
    due) is on the workers' clocks, never who owns it."""
    _add(pg, 2)
    now = now_utc()
    assert len(pg.take_due_feeds(now, lease=300, worker="w1")) == 2
    assert pg.take_due_feeds(now + timedelta(hours=1), lease=300, worker="skewed") == []


def test_renewal_keeps_a_long_poll_s_claim(pg: Store) -> None:
    [feed_id] = _add(pg, 1)
    assert len(pg.take_due_feeds(now_utc(), lease=3, worker="w1")) == 1
    started = time.monotonic()
    while time.monotonic() - started < 5:  # longer than the lease, renewed well within it
        assert pg.renew_feed_claims([feed_id], lease=3, worker="w1") == {feed_id}
        assert pg.take_due_feeds(now_utc(), lease=60, worker="w2") == []
        time.sleep(0.3)
    pg.release_feeds([feed_id], "w1")  # e.g. its poll was cancelled at shutdown: free at once
    assert [f.id for f in pg.take_due_feeds(now_utc(), lease=60, worker="w2")] == [feed_id]


def test_a_claim_takes_a_share_of_the_due_feeds(pg: Store) -> None:
    """Three workers alive and 30 feeds due: the first to claim takes 10, not all 30."""
    _add(pg, 30)
    for other in ("w2", "w3"):  # alive: they renewed (their heartbeat) though they hold nothing yet
        pg.renew_feed_claims([], lease=60, worker=other)
    now = now_utc()
    assert len(pg.take_due_feeds(now, lease=60, worker="w1", limit=100)) == 10
    assert len(pg.take_due_feeds(now, lease=60, worker="w2", limit=100)) == 7  # 20 left, 3 alive
    assert len(pg.take_due_feeds(now, lease=60, worker="w3", limit=5)) == 5  # its free poll slots bound it too
    pg.retire_worker("w2")
    pg.retire_worker("w3")
    assert len(pg.take_due_feeds(now, lease=60, worker="w1", limit=100)) == 8  # alone again: everything left


def test_a_host_is_polled_by_one_worker_at_a_time(pg: Store) -> None:
    """Feeds on a host another worker holds a claim on are left to it: its ``[fetch] per_host`` is then the
    fleet's limit on that host."""
    ids = _add(pg, 6, hosts=2)  # h0: f0 f2 f4, h1: f1 f3 f5
    now = now_utc()
    first = pg.take_due_feeds(now, lease=60, worker="w1", limit=1)
    assert [f.id for f in first] == [ids[0]]
    second = pg.take_due_feeds(now, lease=60, worker="w2", limit=10)
    assert {f.id for f in second} == {ids[1], ids[3], ids[5]}  # h1 only
    pg.retire_worker("w2")  # alone, w1's share is every due feed; w2's claims still hold h1
    third = pg.take_due_feeds(now, lease=60, worker="w1", limit=10)
    assert {f.id for f in third} == {ids[2], ids[4]}  # w1 holds h0 already: it may take more of it
    assert pg.claim_feeds(ids, lease=60, worker="w3") == set()  # "poll now" of a held feed: not while held


def test_the_first_worker_to_tick_takes_its_share_of_the_hosts_not_all(pg: Store) -> None:
    """Six hosts of many feeds, three workers alive: each claim adds two hosts, so all three get work."""
    _add(pg, 60, hosts=6)
    for other in ("w2", "w3"):
        pg.renew_feed_claims([], lease=60, worker=other)
    hosts = {}
    for worker in ("w1", "w2", "w3"):
        taken = pg.take_due_feeds(now_utc(), lease=60, worker=worker, limit=16)
        hosts[worker] = {f.url.split("/")[2] for f in taken}
        assert taken, worker
    assert [len(h) for h in hosts.values()] == [2, 2, 2], hosts
    assert len(set().union(*hosts.values())) == 6


def test_concurrent_claims_take_disjoint_feeds(pg: Store) -> None:
    _add(pg, 120)
    got: dict[str, list[int]] = {}
    start = threading.Barrier(4)

    def claim(worker: str) -> None:
        start.wait()
        got[worker] = []
        for _ in range(20):
            got[worker] += [f.id for f in pg.take_due_feeds(now_utc(), lease=60, worker=worker, limit=8)]

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = [i for ids in got.values() for i in ids]
    assert len(taken) == len(set(taken)) == 120
    assert all(got.values()), {w: len(ids) for w, ids in got.items()}  # every worker got a share


def test_sqlite_has_no_claims(store: Store) -> None:
    """One daemon on SQLite: a feed whose poll a ``kill -9`` interrupted is due again for the restarted one at
    once, and its state writes always apply."""
    if store.dialect != "sqlite":
        pytest.skip("SQLite's behaviour")
    [feed_id] = _add(store, 1)
    assert len(store.take_due_feeds(now_utc(), lease=600, worker="w1")) == 1
    assert len(store.take_due_feeds(now_utc(), lease=600, worker="w2")) == 1
    assert store.claim_feeds([feed_id], lease=600, worker="w3") == {feed_id}
    feed = store.get_feed("f0")
    assert feed is not None
    assert store.update_feed_state(feed_id, dataclasses.replace(feed.state, etag='"x"'), worker="w1") is True


def test_monitor_poll_leaves_a_feed_another_worker_is_polling_alone(
    store_url: str, tmp_path: Path, news_site: NewsSite
) -> None:
    """``monitor poll`` (and "poll now") on a shared PostgreSQL claims what it polls: a feed a worker holds is
    skipped, saying why; once free it is polled, and its recorded state ends the claim."""
    if not store_url.startswith("postgresql"):
        pytest.skip("feed claims are PostgreSQL's")
    news_site.add("daily", "Police raid scam compound", "Officers raided a scam compound on Monday.")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{store_url}"\n[fetch]\nallow_private = true\nfull_text = false\n'
        f'[[feeds]]\nname = "daily"\nurl = "{news_site.feed_url("daily")}"\n',
        encoding="utf-8",
    )
    with monitor.open(config) as m:
        m.sync_feeds()
        [feed] = m.store.list_feeds()
        assert m.store.claim_feeds([feed.id], lease=60, worker="other") == {feed.id}
        assert [(r.status, r.error) for r in m.poll()] == [("skipped", "another worker is polling it")]
        assert not news_site.hits("/feeds/daily.xml")
        m.store.release_feeds([feed.id], "other")
        assert [r.status for r in m.poll()] == ["ok"]
        assert rows(store_url, "SELECT claimed_by, claimed_until FROM feeds") == [(None, None)]
