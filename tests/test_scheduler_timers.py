"""The scheduler's timers: plain event-loop timers, re-armed, disarmed and checked against the clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock, SystemClock
from bot.scheduler import Job, JobRepository, Scheduler
from bot.storage.database import Database


class Recorder:
    def __init__(self) -> None:
        self.fired: list[str] = []
        self.event = asyncio.Event()

    async def __call__(self, job: Job) -> None:
        self.fired.append(job.id)
        self.event.set()


@pytest.fixture
async def sdb(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(tmp_path / "s.db")
    await db.open()
    await db.migrate()
    yield db
    await db.close()


async def test_rescheduling_replaces_the_timer_and_cancelling_disarms_it(sdb: Database) -> None:
    clock = FakeClock(SystemClock().now())
    scheduler = Scheduler(JobRepository(sdb), clock, use_timers=True)
    recorder = Recorder()
    scheduler.register("remind", recorder)
    await scheduler.start()
    job_id = await scheduler.schedule("remind", clock.now() + timedelta(hours=1), job_id="a")
    assert scheduler.is_armed(job_id)
    await scheduler.schedule("remind", clock.now() + timedelta(days=2), job_id="a")
    assert not scheduler.is_armed(job_id), "moved beyond the horizon: the refill arms it later"
    await scheduler.schedule("remind", clock.now() + timedelta(hours=2), job_id="a")
    assert scheduler.is_armed(job_id)
    await scheduler.cancel(job_id)
    assert not scheduler.is_armed(job_id)
    await scheduler.schedule("remind", clock.now() + timedelta(hours=2), job_id="b")
    await scheduler.shutdown()
    assert not scheduler.is_armed("b"), "shutdown disarms every timer"
    assert recorder.fired == []


async def test_a_timer_that_fires_early_by_the_wall_clock_waits_for_the_rest(sdb: Database) -> None:
    clock = FakeClock(SystemClock().now())
    scheduler = Scheduler(JobRepository(sdb), clock, use_timers=True)
    recorder = Recorder()
    scheduler.register("remind", recorder)
    await scheduler.start()
    run_at = clock.now() + timedelta(hours=1)
    job_id = await scheduler.schedule("remind", run_at, job_id="early")
    scheduler._timer_due(job_id, run_at)  # the loop's timer went off, but the wall clock says not yet
    assert scheduler.is_armed(job_id) and recorder.fired == []
    clock.advance(timedelta(hours=1))
    scheduler._timer_due(job_id, run_at)
    await asyncio.wait_for(recorder.event.wait(), timeout=5)
    assert recorder.fired == [job_id] and not scheduler.is_armed(job_id)
    await scheduler.shutdown()
