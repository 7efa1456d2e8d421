"""Several ``monitor run`` workers on one PostgreSQL (issue 17, leases): real processes, a loopback feed farm on
several addresses, a real chat sink. What a user relies on when one box is not enough: every feed polled once per
interval and no article or alert twice; the per-host limit held by the whole fleet; a worker killed with
``kill -9`` loses its feeds to the others within the lease; a worker stopped (``SIGSTOP``) past its lease writes
nothing over the poll of the worker that took its feeds when it wakes."""

from __future__ import annotations

import json
import random
import re
import signal
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.store import Store
from tests.daemon.test_daemon import wait_for
from tests.pipeline.test_feed_isolation import rss
from tests.support.chat import ChatServer
from tests.support.workers import FeedFarm, Workers, pg_url, rows  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

RULES = "rules:\n  - id: raids\n    title: Raids\n    query: 'raid* AND \"scam compound*\"'\n    severity: high\n"
_WORDS = (
    "ministry officials province workers court report government week village market company minister labour "
    "rights economy tourism farmers rice rubber exports festival weather school road bridge hospital election "
    "budget students teachers prices fuel harvest river season council museum railway port airline bank"
).split()


def _config(tmp_path: Path, db_url: str, farm: FeedFarm, feeds: int, chat: ChatServer | None, **scheduler: str) -> Path:
    Store.open(db_url).close()  # migrated before the workers start, so the test can read it at once
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(RULES, encoding="utf-8")
    channel = (
        f'[notify]\nmax_per_hour = 1000\n[channels.chat]\nurls = ["{chat.url("alerts")}"]\n[[routes]]\nchannels = ["chat"]\n'
        if chat
        else ""
    )
    settings = "".join(f'{key} = "{value}"\n' for key, value in scheduler.items())
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{db_url}"\n[scheduler]\n{settings}'
        '[fetch]\ntimeout = "20s"\nfull_text = false\nconcurrency = 32\nper_host = 2\nextract_processes = 1\n'
        + channel
        + "".join(f'[[feeds]]\nname = "f{n}"\nurl = "{farm.url(n)}"\nallow_private = true\n' for n in range(feeds)),
        encoding="utf-8",
    )
    return config


def _fill(farm: FeedFarm, feeds: int, on_topic_every: int = 0) -> list[str]:
    """One entry per feed, each its own text; every ``on_topic_every``-th one about a raid (its tag returned)."""
    rng = random.Random(17)
    tags = []
    for n in range(feeds):
        words = " ".join(rng.choices(_WORDS, k=60))
        title = f"Notes {n}"
        if on_topic_every and n % on_topic_every == 0:
            tag = f"Zone{n}q"
            tags.append(tag)
            title = f"Police raid scam compound in {tag}"
            words = f"Officers raided a scam compound in {tag} on Monday. {words}"
        item = {"title": title, "link": f"http://news.invalid/{n}.html", "guid": f"g{n}", "description": words}
        farm.bodies[f"/feeds/{n}.xml"] = rss(item).encode()
    return tags


def _claims(db_url: str, worker: str) -> list[int]:
    return [
        int(str(r[0]))
        for r in rows(
            db_url,
            "SELECT id FROM feeds WHERE claimed_by LIKE :w AND claimed_until > timezone('UTC', clock_timestamp())",
            w=worker + "%",
        )
    ]


def _feed_numbers(db_url: str, ids: list[int]) -> list[int]:
    names = rows(db_url, "SELECT name FROM feeds WHERE id = ANY(:ids)", ids=ids)
    return sorted(int(str(name[0])[1:]) for name in names)


def _poll_starts(logs: list[str]) -> dict[int, list[float]]:
    """When each feed's polls started, from the workers' ``feed polled`` lines (their end less their seconds)."""
    starts: dict[int, list[float]] = {}
    line = re.compile(r"^(\S+ \S+) INFO monitor\.pipeline: feed polled feed=f(\d+) .* seconds=([\d.]+)", re.M)
    for log in logs:
        for stamp, feed, seconds in line.findall(log):
            ended = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC).timestamp()  # only gaps count
            starts.setdefault(int(feed), []).append(ended - float(seconds))
    return {feed: sorted(times) for feed, times in starts.items()}


def _busy(db_url: str, workers: Workers, farm: FeedFarm) -> int | None:
    """A worker with claimed feeds whose requests are in flight (the farm holds them back), or None."""
    for index in range(len(workers.processes)):
        held = _feed_numbers(db_url, _claims(db_url, workers.name(index)))
        if held and all(farm.polls(n) for n in held):
            return index
    return None


@pytest.mark.timeout(900)  # two polls of each feed 30 s apart, and three workers starting, on a loaded 2-core machine
def test_three_workers_poll_a_thousand_feeds_once_per_interval_and_alert_once(
    tmp_path: Path,
    pg_url: str,  # noqa: F811
    chat_server: ChatServer,
) -> None:
    feeds, interval = 1000, 30.0
    farm = FeedFarm(hosts=6, delay=0.02)
    tags = _fill(farm, feeds, on_topic_every=25)
    config = _config(tmp_path, pg_url, farm, feeds, chat_server, tick="1s", poll_interval="30s", claim_lease="30s")
    try:
        with Workers(config) as workers:
            workers.start(3)
            done = wait_for(
                lambda: all(len(farm.polls(n)) >= 2 for n in range(feeds)) or workers.exited(), 3 * interval + 120
            )
            assert not workers.exited(), [workers.output(i)[-2000:] for i in range(3)]
            alerted = wait_for(lambda: len(chat_server.messages("alerts")) >= len(tags), 60)
            polls = {n: farm.polls(n) for n in range(feeds)}
            codes = workers.stop()
            logs = [workers.output(i) for i in range(3)]
    finally:
        farm.close()
    assert done, sorted(len(p) for p in polls.values())[:20]
    assert codes == [0, 0, 0], [log[-2000:] for log in logs]
    assert not [log for log in logs if "Traceback" in log]
    # once per interval: a feed's next poll starts an interval after its last one started (``next_poll``), never
    # sooner, whichever worker polls it (a double poll would start within seconds)
    starts = _poll_starts(logs)
    gaps = [b - a for times in starts.values() for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= interval - 0.5, sorted(gaps)[:10]
    late = sorted(gap - interval for gap in gaps)
    refused = sum(len(re.findall("feed state refused", log)) for log in logs)
    print(
        f"\npolls {sum(map(len, starts.values()))}; start after the due time: median {statistics.median(late):.1f} s, "
        f"p95 {late[int(0.95 * len(late))]:.1f} s, max {late[-1]:.1f} s; state writes refused {refused}"
    )
    # polled on time: the typical poll within a few ticks of its due time (the first backlog makes the tail late)
    assert statistics.median(late) <= 5.0, late[len(late) // 2 :][:20]
    # the whole fleet kept each host's [fetch] per_host
    assert max(farm.max_in_flight.values()) <= 2, farm.max_in_flight
    # the backlog and the polls after it were shared
    per_worker = [len(re.findall(r"feed polled feed=f\d+ ", log)) for log in logs]
    print(f"polls per worker {per_worker}; most in flight per host {dict(farm.max_in_flight)}")
    assert min(per_worker) >= 0.1 * sum(per_worker), per_worker
    # nothing stored or sent twice, nothing lost
    assert rows(pg_url, "SELECT count(*), count(DISTINCT feed_id) FROM articles") == [(feeds, feeds)]
    assert rows(pg_url, "SELECT count(*) FROM matches") == [(len(tags),)]
    assert rows(pg_url, "SELECT count(*) FROM deliveries WHERE status = 'sent'") == [(len(tags),)]
    assert alerted
    posts = [json.dumps(p) for p in chat_server.messages("alerts")]
    assert [sum(tag in post for post in posts) for tag in tags] == [1] * len(tags)
    assert rows(pg_url, "SELECT count(*) FROM workers") == [(0,)]  # each retired as it stopped


def test_a_worker_killed_mid_poll_loses_its_feeds_to_the_others_within_the_lease(
    tmp_path: Path,
    pg_url: str,  # noqa: F811
) -> None:
    feeds, lease = 12, 6.0
    farm = FeedFarm(hosts=2, delay=3.0)  # each feed response takes 3 s: a poll is in flight when the kill lands
    _fill(farm, feeds)
    config = _config(tmp_path, pg_url, farm, feeds, None, tick="1s", poll_interval="10m", claim_lease="6s")
    try:
        with Workers(config) as workers:
            workers.start(2)
            assert wait_for(lambda: _busy(pg_url, workers, farm) is not None, 60), workers.output(0)[-3000:]
            victim = _busy(pg_url, workers, farm)
            assert victim is not None
            taken = _feed_numbers(pg_url, _claims(pg_url, workers.name(victim)))
            before = {n: len(farm.polls(n)) for n in taken}
            workers.kill(victim)
            killed_at = time.monotonic()
            assert wait_for(lambda: all(len(farm.polls(n)) > before[n] for n in taken), lease + 40), (
                before,
                {n: len(farm.polls(n)) for n in taken},
                workers.output(1 - victim)[-3000:],
            )
            takeover = max(farm.polls(n)[before[n]] for n in taken) - killed_at
            assert wait_for(
                lambda: rows(pg_url, "SELECT count(*) FROM feeds WHERE last_status = 'ok'") == [(feeds,)], 60
            )
            codes = workers.stop()
    finally:
        farm.close()
    print(
        f"\nkill -9 of a worker holding {len(taken)} feeds: all taken over {takeover:.1f} s after (lease {lease:g} s)"
    )
    assert takeover <= lease + 3.0 + 5.0  # the lease, a few ticks, and a margin for a loaded machine
    assert codes[1 - victim] == 0
    # each feed polled once by the survivor (the victim's cut polls are the only extra requests)
    assert all(len(farm.polls(n)) == 1 + (n in taken) for n in range(feeds)), {
        n: len(farm.polls(n)) for n in range(feeds)
    }


def test_a_worker_stopped_past_its_lease_writes_nothing_when_it_wakes(
    tmp_path: Path,
    pg_url: str,  # noqa: F811
) -> None:
    feeds = 8
    farm = FeedFarm(hosts=2, delay=3.0)
    _fill(farm, feeds)
    farm.fresh_etags.update(farm.bodies)  # each answer its own ETag: "1" for the first poll, "2" for the next
    config = _config(tmp_path, pg_url, farm, feeds, None, tick="1s", poll_interval="10m", claim_lease="4s")
    try:
        with Workers(config) as workers:
            workers.start(2)
            assert wait_for(lambda: _busy(pg_url, workers, farm) is not None, 60), workers.output(0)[-3000:]
            sleeper = _busy(pg_url, workers, farm)
            assert sleeper is not None
            held = _feed_numbers(pg_url, _claims(pg_url, workers.name(sleeper)))
            workers.signal(sleeper, signal.SIGSTOP)
            # the other worker takes the sleeper's feeds once their lease lapses, and records its own poll
            assert wait_for(
                lambda: (
                    len(
                        rows(
                            pg_url,
                            "SELECT 1 FROM feeds WHERE name = ANY(:n) AND etag = '\"2\"'",
                            n=[f"f{n}" for n in held],
                        )
                    )
                    == len(held)
                ),
                120,  # the lease, or the server's idle_in_transaction timeout if it froze inside a transaction
            ), (rows(pg_url, "SELECT name, etag, claimed_by FROM feeds"), workers.output(1 - sleeper)[-3000:])
            workers.signal(sleeper, signal.SIGCONT)
            # awake, its cut polls are stopped (their claims lost) or their state writes refused
            assert wait_for(
                lambda: re.search(r"feed claims lost|feed state refused", workers.output(sleeper)) is not None, 30
            ), workers.output(sleeper)[-3000:]
            time.sleep(2)  # a moment for any late write to land, if one could
            etags = dict(rows(pg_url, "SELECT name, etag FROM feeds"))
            codes = workers.stop()
    finally:
        farm.close()
    assert {name: etags[name] for name in (f"f{n}" for n in held)} == {f"f{n}": '"2"' for n in held}
    assert codes == [0, 0], workers.output(sleeper)[-3000:]
