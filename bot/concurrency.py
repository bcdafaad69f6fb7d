"""Small asyncio helpers shared by services and cogs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class KeyedLock(Generic[K]):
    """One FIFO lock per key, created on first use and dropped when nobody holds or waits for it.

    Holders of the same key run one at a time, in the order they asked (asyncio.Lock is FIFO);
    different keys never wait for each other. Memory stays proportional to the keys in use.
    """

    def __init__(self) -> None:
        self._locks: dict[K, asyncio.Lock] = {}
        self._users: dict[K, int] = {}

    @asynccontextmanager
    async def hold(self, key: K) -> AsyncIterator[None]:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)


class RateBudget:
    """At most ``rate`` acquisitions per second, in bursts of up to ``burst`` (a token bucket).

    For a limit that is per bot while the bot runs as several processes (Discord's global rate
    limit): each process keeps to its share. Callers wait their turn in order (FIFO). ``now`` and
    ``sleep`` are injectable so tests compute the waits without waiting.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        now: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate)
        self._now = now or time.monotonic
        self._sleep = sleep or asyncio.sleep
        self._tokens = self.burst
        self._stamp = self._now()
        self._turn = asyncio.Lock()

    def _refill(self) -> None:
        now = self._now()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> None:
        async with self._turn:
            self._refill()
            if self._tokens < 1:
                await self._sleep((1 - self._tokens) / self.rate)
                self._refill()
            self._tokens -= 1
