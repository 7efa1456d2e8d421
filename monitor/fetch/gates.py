"""Politeness per host: request slots and start delays, kept apart for feed documents and article pages.

Input: a host and a lane. Output: the ``HostGate`` that requests of that lane to that host wait at. Feeds and pages
have separate lanes, so pages that drip until their timeout never hold back a feed's own request to the same host.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["HostGate", "HostGates", "Lane"]

Lane = Literal["feed", "page"]  # a feed's own document, or an article page it links to

_MAX_GATES = 512  # gates kept before idle ones are dropped: links on endless new hosts must not grow memory


@dataclass
class HostGate:
    """At most ``per_host`` requests at once to one host, request starts ``delay`` seconds apart."""

    slots: asyncio.Semaphore
    delay: float
    next_start: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # hops holding or waiting for a slot: a gate without users and past its delay is forgotten

    def idle(self, now: float) -> bool:
        return not self.users and self.next_start <= now

    async def wait_turn(self) -> None:
        if self.delay <= 0:
            return
        async with self.lock:  # reserve a start time, so concurrent waiters queue rather than bunch up
            now = time.monotonic()
            start = max(now, self.next_start)
            self.next_start = start + self.delay
        await asyncio.sleep(start - now)


class HostGates:
    """The gates of one fetcher, one per (lane, host), created on first use."""

    def __init__(self, per_host: int, delay: float) -> None:
        self._per_host = per_host
        self._delay = delay
        self._gates: dict[tuple[Lane, str], HostGate] = {}

    def __len__(self) -> int:
        return len(self._gates)

    def get(self, host: str, lane: Lane) -> HostGate:
        gate = self._gates.get((lane, host))
        if gate is None:
            if len(self._gates) >= _MAX_GATES:
                now = time.monotonic()
                self._gates = {key: g for key, g in self._gates.items() if not g.idle(now)}
            gate = self._gates[(lane, host)] = HostGate(asyncio.Semaphore(self._per_host), self._delay)
        return gate
