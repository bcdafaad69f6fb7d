"""The scheduler: the database is the source of truth; nothing lost, nothing fired twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.clock import FakeClock, SystemClock, utc
from bot.scheduler import Job, JobRepository, Scheduler
from bot.storage.database import Database
from tests.backends import Place

START = utc(2026, 3, 1, 9, 0)


class Recorder:
    def __init__(self) -> None:
        self.fired: list[tuple[str, dict[str, object]]] = []
        self.event = asyncio.Event()

    async def __call__(self, job: Job) -> None:
        self.fired.append((job.id, job.payload))
        self.event.set()


def make(db: Database, clock: FakeClock, recorder: Recorder, *, timers: bool = False) -> Scheduler:
    scheduler = Scheduler(JobRepository(db), clock, use_timers=timers)
    scheduler.register("remind", recorder)
    return scheduler


async def status(db: Database, job_id: str) -> str:
    row = await db.fetchone("SELECT status FROM scheduled_jobs WHERE id = ?", (job_id,))
    assert row is not None
    return str(row["status"])


async def test_job_is_rebuilt_after_a_restart_and_fires_once(place: Place) -> None:
    clock = FakeClock(START)
    db = await place.open()
    first = Recorder()
    scheduler = make(db, clock, first)
    await scheduler.start()
    job_id = await scheduler.schedule("remind", START + timedelta(hours=1), {"n": 1}, guild_id=None)
    await scheduler.shutdown()
    await db.close()  # the process stops

    db = await place.open()
    second = Recorder()
    scheduler = make(db, clock, second)
    report = await scheduler.start()
    assert report.rebuilt == [job_id]
    assert await scheduler.run_due() == []  # not yet
    clock.advance(timedelta(hours=1))
    assert await scheduler.run_due() == [job_id]
    assert await scheduler.run_due() == []  # never twice
    assert second.fired == [(job_id, {"n": 1})]
    assert first.fired == []
    assert await status(db, job_id) == "done"
    await scheduler.shutdown()
    await db.close()


async def test_job_due_while_down_fires_late_within_grace(place: Place) -> None:
    clock = FakeClock(START)
    db = await place.open()
    recorder = Recorder()
    scheduler = make(db, clock, recorder)
    job_id = await scheduler.schedule(
        "remind", START + timedelta(minutes=5), grace=timedelta(minutes=10), guild_id=None
    )
    clock.advance(timedelta(minutes=12))  # down from 9:00 to 9:12; due 9:05, grace until 9:15
    report = await scheduler.start()
    assert report.fired_late == [job_id]
    assert [f[0] for f in recorder.fired] == [job_id]
    assert await status(db, job_id) == "done"
    await scheduler.shutdown()
    await db.close()


async def test_job_due_while_down_past_grace_is_recorded_as_missed(place: Place) -> None:
    clock = FakeClock(START)
    db = await place.open()
    recorder = Recorder()
    scheduler = make(db, clock, recorder)
    job_id = await scheduler.schedule(
        "remind", START + timedelta(minutes=5), grace=timedelta(minutes=10), guild_id=None
    )
    clock.advance(timedelta(minutes=16))
    report = await scheduler.start()
    assert report.missed == [job_id]
    assert recorder.fired == []
    assert await status(db, job_id) == "missed"
    row = await db.fetchone("SELECT note FROM scheduled_jobs WHERE id = ?", (job_id,))
    assert row is not None and "past its grace window" in row["note"]
    await scheduler.shutdown()
    await db.close()


async def test_a_job_cut_off_mid_run_runs_again_at_start_within_its_window(place: Place) -> None:
    clock = FakeClock(START)
    db = await place.open()
    scheduler = make(db, clock, Recorder())
    job_id = await scheduler.schedule("remind", START, grace=timedelta(minutes=10), guild_id=None)
    assert await scheduler.jobs.claim(job_id)  # the process died after claiming it
    clock.advance(timedelta(minutes=4))
    again = Recorder()
    report = await make(db, clock, again).start()
    assert report.resumed == [job_id] and report.interrupted == []
    assert [f[0] for f in again.fired] == [job_id], "run again, once"
    assert await status(db, job_id) == "done"
    await db.close()


async def test_a_job_cut_off_mid_run_past_its_window_is_recorded_not_rerun(place: Place) -> None:
    clock = FakeClock(START)
    db = await place.open()
    scheduler = make(db, clock, Recorder())
    job_id = await scheduler.schedule("remind", START, grace=timedelta(minutes=10), guild_id=None)
    assert await scheduler.jobs.claim(job_id)
    clock.advance(timedelta(minutes=11))
    again = Recorder()
    report = await make(db, clock, again).start()
    assert report.interrupted == [job_id] and report.resumed == []
    assert again.fired == []
    assert await status(db, job_id) == "interrupted"
    await db.close()


async def test_cancel_and_reschedule(place: Place) -> None:
    clock = FakeClock(START)
    db = await place.open()
    recorder = Recorder()
    scheduler = make(db, clock, recorder)
    await scheduler.start()
    a = await scheduler.schedule("remind", START + timedelta(minutes=1), job_id="reminder:1:a", guild_id=None)
    await scheduler.schedule("remind", START + timedelta(minutes=1), job_id="reminder:1:b", guild_id=None)
    await scheduler.schedule("remind", START + timedelta(minutes=1), job_id="reminder:2:a", guild_id=None)
    assert await scheduler.cancel(a)
    assert not await scheduler.cancel(a)
    assert await scheduler.cancel_prefix("reminder:1:") == ["reminder:1:b"]
    # Rescheduling with the same id replaces the pending job instead of adding one.
    await scheduler.schedule("remind", START + timedelta(minutes=3), {"v": 2}, job_id="reminder:2:a", guild_id=None)
    clock.advance(timedelta(minutes=5))
    assert await scheduler.run_due() == ["reminder:2:a"]
    assert recorder.fired == [("reminder:2:a", {"v": 2})]
    await scheduler.shutdown()
    await db.close()


async def test_a_failing_handler_is_recorded_and_not_retried(place: Place) -> None:
    clock = FakeClock(START)
    db = await place.open()
    scheduler = Scheduler(JobRepository(db), clock, use_timers=False)

    async def broken(job: Job) -> None:
        raise RuntimeError("handler bug")

    scheduler.register("broken", broken)
    job_id = await scheduler.schedule("broken", START, guild_id=None)
    assert await scheduler.run_due() == []
    assert await status(db, job_id) == "failed"
    await db.close()


async def test_unknown_kind_and_naive_times_are_refused(place: Place) -> None:
    db = await place.open()
    scheduler = make(db, FakeClock(START), Recorder())
    with pytest.raises(ValueError, match="No handler"):
        await scheduler.schedule("nope", START, guild_id=None)
    with pytest.raises(ValueError, match="timezone-aware"):
        await scheduler.schedule("remind", START.replace(tzinfo=None), guild_id=None)
    await db.close()


async def test_real_timers_fire_through_apscheduler(place: Place) -> None:
    """With the system clock, APScheduler's timer fires the job; the test awaits the handler."""
    db = await place.open()
    recorder = Recorder()
    scheduler = Scheduler(JobRepository(db), SystemClock(), use_timers=True)
    scheduler.register("remind", recorder)
    await scheduler.start()
    job_id = await scheduler.schedule("remind", SystemClock().now() + timedelta(milliseconds=200), guild_id=None)
    await asyncio.wait_for(recorder.event.wait(), timeout=5)
    await scheduler.shutdown()
    assert recorder.fired == [(job_id, {})]
    assert await status(db, job_id) == "done"
    await db.close()


async def test_timers_are_armed_only_within_the_horizon_and_refilled(place: Place) -> None:
    from bot.scheduler import ARM_HORIZON

    now = SystemClock().now()  # APScheduler's timers run on real time
    clock = FakeClock(now)
    db = await place.open()
    recorder = Recorder()
    scheduler = Scheduler(JobRepository(db), clock, use_timers=True)
    scheduler.register("remind", recorder)
    near = await scheduler.schedule("remind", now + timedelta(hours=1), job_id="near", guild_id=None)
    far = await scheduler.schedule("remind", now + ARM_HORIZON + timedelta(hours=1), job_id="far", guild_id=None)
    report = await scheduler.start()
    assert report.rebuilt == [near] and report.waiting == 1
    assert scheduler._aps is not None
    assert scheduler._aps.get_job(near) is not None and scheduler._aps.get_job(far) is None
    clock.advance(timedelta(hours=2))
    await scheduler._refill()
    assert scheduler._aps.get_job(far) is not None, "armed once its time came within the horizon"
    await scheduler.shutdown()
    await db.close()
