"""Asking the scheduler for only the pending job ids you check."""

from __future__ import annotations

import asyncio
from datetime import timedelta

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
def sdb(db: Database) -> Database:
    return db


async def test_pending_ids_by_prefix_and_kind(sdb: Database) -> None:
    clock = FakeClock(SystemClock().now())
    scheduler = Scheduler(JobRepository(sdb), clock, use_timers=False)
    for kind in ("support.idle", "checkin.prompt"):
        scheduler.register(kind, Recorder())
    later = clock.now() + timedelta(days=1)
    for job_id, kind in (
        ("support:ab:idle", "support.idle"),
        ("support:cd:idle", "support.idle"),
        ("supporu:x", "support.idle"),
        ("support", "support.idle"),
        ("circle:1:checkin:prompt:", "checkin.prompt"),
        ("circle:12:checkin:prompt:", "checkin.prompt"),
    ):
        await scheduler.schedule(kind, later, job_id=job_id, guild_id=None)
    await scheduler.cancel("support:cd:idle")
    jobs = scheduler.jobs
    assert sorted(await jobs.pending_ids(prefix="support:")) == ["support:ab:idle"]
    assert sorted(await jobs.pending_ids(kind="checkin.prompt")) == [
        "circle:12:checkin:prompt:",
        "circle:1:checkin:prompt:",
    ]
    assert await jobs.pending_ids(prefix="circle:1:") == ["circle:1:checkin:prompt:"]
    assert await jobs.pending_ids(prefix="circle:", kind="support.idle") == []
    assert await jobs.pending_ids(prefix="support:\U0010ffff") == []
    assert len(await jobs.pending_ids()) == 5
