"""KeyedLock: one FIFO lock per key, dropped when unused."""

from __future__ import annotations

import asyncio
import contextlib

from bot.concurrency import KeyedLock


async def test_holders_of_one_key_run_one_at_a_time_in_arrival_order() -> None:
    locks: KeyedLock[int] = KeyedLock()
    order: list[int] = []
    inside = 0
    most = 0

    async def work(n: int) -> None:
        nonlocal inside, most
        async with locks.hold(7):
            inside += 1
            most = max(most, inside)
            for _ in range(n % 3 + 1):  # uneven pauses: later tasks would overtake without the lock
                await asyncio.sleep(0)
            order.append(n)
            inside -= 1

    await asyncio.gather(*(work(n) for n in range(10)))
    assert order == list(range(10))
    assert most == 1
    assert len(locks) == 0, "the lock is dropped once nobody holds or waits for it"


async def test_different_keys_do_not_wait_for_each_other() -> None:
    locks: KeyedLock[str] = KeyedLock()
    release = asyncio.Event()
    entered = asyncio.Event()

    async def slow() -> None:
        async with locks.hold("a"):
            await release.wait()

    async def quick() -> None:
        async with locks.hold("b"):
            entered.set()

    task = asyncio.create_task(slow())
    await asyncio.wait_for(quick(), 1)
    assert entered.is_set() and len(locks) == 1
    release.set()
    await task
    assert len(locks) == 0


async def test_a_failing_holder_releases_the_key() -> None:
    locks: KeyedLock[int] = KeyedLock()

    async def boom() -> None:
        async with locks.hold(1):
            raise ValueError("x")

    with contextlib.suppress(ValueError):
        await boom()
    async with locks.hold(1):
        pass
    assert len(locks) == 0
