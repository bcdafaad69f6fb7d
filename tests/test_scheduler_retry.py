"""Scheduled messages survive faults: passing failures are retried within the window, a job cut
off by a restart runs again, and each message reaches Discord once (occurrence nonces, the send
record). A fake Discord with enforce_nonce and scripted faults; a FakeClock; no sleeping.

The same guarantees end to end, through the sandbox and discord.py: tests/test_scheduled_sends.py.
"""

from __future__ import annotations

import asyncio
import random
import re
from datetime import datetime, timedelta
from functools import partial

import pytest

from bot.clock import FakeClock, SystemClock, utc
from bot.scheduler import Job, JobHandler, JobRepository, Scheduler, retry_delay
from bot.sends import (
    NONCE_WINDOW,
    RetryLater,
    TransientSendError,
    current_run,
    is_rerun,
    job_nonce,
    occurrence_nonce,
)
from bot.storage.database import Database
from tests.backends import Place

START = utc(2026, 3, 1, 9, 0)
GRACE = timedelta(hours=1)


class FakeDiscord:
    """Discord as the send record sees it: enforce_nonce dedupes a nonce for ``window`` after the
    message was created. ``faults`` are used one per try: "503" (nothing created), "429"
    (nothing created; retry_after 30 s), "500" (nothing created, but the bot can't know that),
    "lost" (created, but the answer never comes)."""

    def __init__(self, clock: FakeClock, window: timedelta = timedelta(minutes=3)) -> None:
        self.clock = clock
        self.window = window
        self.created: list[tuple[str, str]] = []  # (key, nonce) per message Discord made
        self.by_nonce: dict[str, tuple[int, datetime]] = {}
        self.faults: list[str] = []
        self.tries = 0
        self.tried_at: list[datetime] = []
        self.hold: asyncio.Event | None = None  # set: the next try waits here after creating
        self.reached = asyncio.Event()

    async def send(self, key: str, nonce: str) -> tuple[int, int]:
        self.tries += 1
        self.tried_at.append(self.clock.now())
        fault = self.faults.pop(0) if self.faults else None
        if fault == "429":
            raise TransientSendError("http-429", unsure=False, retry_after=30)
        if fault == "503":
            raise TransientSendError("http-503", unsure=False)
        if fault == "500":
            raise TransientSendError("http-500", unsure=True)
        known = self.by_nonce.get(nonce)
        if known is not None and self.clock.now() - known[1] <= self.window:
            message_id = known[0]
        else:
            message_id = 1000 + len(self.created)
            self.created.append((key, nonce))
            self.by_nonce[nonce] = (message_id, self.clock.now())
        if self.hold is not None:
            self.reached.set()
            await self.hold.wait()  # the process stops here: the answer never arrives
        if fault == "lost":
            raise TransientSendError("ServerDisconnectedError", unsure=True)
        return 77, message_id

    def keys(self) -> list[str]:
        return [key for key, _ in self.created]


def sender(discord: FakeDiscord, keys: tuple[str, ...] = ("reminder",)) -> JobHandler:
    """A job handler that sends one message per key, as the bot's ports do."""

    async def handler(job: Job) -> None:
        run = current_run()
        assert run is not None and run.job_id == job.id
        deferred: list[RetryLater] = []
        for key in keys:
            try:
                await run.ledger.send(run, key, partial(discord.send, key))
            except RetryLater as exc:
                deferred.append(exc)
        if deferred:
            raise RetryLater.combine(deferred)

    return handler


def make(db: Database, clock: FakeClock, handler: JobHandler, *, kind: str = "remind") -> Scheduler:
    scheduler = Scheduler(JobRepository(db), clock, use_timers=False, rng=random.Random(3))
    scheduler.register(kind, handler)
    return scheduler


async def job_row(db: Database, job_id: str) -> dict[str, object]:
    row = await db.fetchone("SELECT * FROM scheduled_jobs WHERE id = ?", (job_id,))
    assert row is not None
    return dict(row)


async def until_settled(scheduler: Scheduler, clock: FakeClock, job_id: str) -> str:
    """Move the clock to each next try and run it, until the job is no longer pending."""
    for _ in range(50):
        job = await scheduler.jobs.get(job_id)
        assert job is not None
        if job.status != "pending":
            return job.status
        clock.set(max(clock.now(), job.due_at))
        await scheduler.run_due()
    raise AssertionError("the job never settled")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def sdb(db: Database) -> Database:
    return db


# -- nonces -----------------------------------------------------------------------------------


def test_an_occurrence_always_gets_the_same_nonce_and_it_fits_discords_limit() -> None:
    nonce = occurrence_nonce("checkin:reminder:7:20260301T090000Z", START, "reminder")
    assert nonce == occurrence_nonce("checkin:reminder:7:20260301T090000Z", START, "reminder")
    assert len(nonce) == 25 and re.fullmatch(r"j[a-z2-7]{24}", nonce)
    assert not re.fullmatch(r"[0-9a-f]+", nonce), "never equal to a relay outbox nonce (hex)"
    others = {
        occurrence_nonce("checkin:reminder:8:20260301T090000Z", START, "reminder"),  # another job
        occurrence_nonce("checkin:reminder:7:20260301T090000Z", START + timedelta(days=1), "reminder"),
        occurrence_nonce("checkin:reminder:7:20260301T090000Z", START, "reminder:2"),  # another message
    }
    assert nonce not in others and len(others) == 3
    assert job_nonce("reminder") is None, "outside a job there is no occurrence nonce"


def test_retries_back_off_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(1)
    for attempts, ceiling in [(1, 2), (2, 4), (3, 8), (9, 300), (40, 300)]:
        delay = retry_delay(attempts, rng).total_seconds()
        assert ceiling / 2 <= delay <= ceiling


# -- passing failures ---------------------------------------------------------------------------


async def test_a_503_is_retried_with_backoff_and_delivers_once(sdb: Database, clock: FakeClock) -> None:
    discord = FakeDiscord(clock)
    discord.faults = ["503", "503"]
    scheduler = make(sdb, clock, sender(discord))
    job_id = await scheduler.schedule("remind", START, grace=GRACE, guild_id=None)
    assert await scheduler.run_due() == []
    job = await scheduler.jobs.get(job_id)
    assert job is not None and job.status == "pending" and job.attempts == 1
    assert job.retry_at is not None and START + timedelta(seconds=1) <= job.retry_at <= START + timedelta(seconds=2)
    assert job.note is not None and "http-503" in job.note
    assert await scheduler.run_due() == [], "not before its next try"
    assert await until_settled(scheduler, clock, job_id) == "done"
    assert discord.keys() == ["reminder"] and discord.tries == 3
    assert [r.status for r in await scheduler.sends.records(job_id)] == ["sent"]


async def test_a_429_is_retried_no_sooner_than_its_retry_after(sdb: Database, clock: FakeClock) -> None:
    discord = FakeDiscord(clock)
    discord.faults = ["429"]
    scheduler = make(sdb, clock, sender(discord))
    job_id = await scheduler.schedule("remind", START, grace=GRACE, guild_id=None)
    await scheduler.run_due()
    job = await scheduler.jobs.get(job_id)
    assert job is not None and job.retry_at == START + timedelta(seconds=30)
    clock.set(START + timedelta(seconds=29))
    assert await scheduler.run_due() == []
    clock.set(START + timedelta(seconds=30))
    assert await scheduler.run_due() == [job_id]
    assert discord.keys() == ["reminder"]


async def test_a_lost_answer_is_resent_with_the_same_nonce_and_discord_keeps_one(
    sdb: Database, clock: FakeClock
) -> None:
    discord = FakeDiscord(clock)
    discord.faults = ["lost"]  # Discord created it; the answer never came
    scheduler = make(sdb, clock, sender(discord))
    job_id = await scheduler.schedule("remind", START, grace=GRACE, guild_id=None)
    await scheduler.run_due()
    assert discord.keys() == ["reminder"]
    assert await until_settled(scheduler, clock, job_id) == "done"
    assert discord.keys() == ["reminder"] and discord.tries == 2, "the resend came back as the same message"
    [record] = await scheduler.sends.records(job_id)
    assert record.status == "sent" and record.message_id is None  # where it went: forgotten once done
    assert record.nonce == occurrence_nonce(job_id, START, "reminder")


async def test_retries_stay_inside_discords_dedupe_window_while_a_message_may_be_there(
    sdb: Database, clock: FakeClock
) -> None:
    discord = FakeDiscord(clock, window=timedelta(minutes=30))  # would create a second one later
    discord.faults = ["lost", *["500"] * 40]  # Discord has it; then every answer is a 500
    scheduler = make(sdb, clock, sender(discord))
    job_id = await scheduler.schedule("remind", START, grace=GRACE, guild_id=None)
    assert await until_settled(scheduler, clock, job_id) == "done"
    assert len(discord.tried_at) >= 7 and all(at - START < NONCE_WINDOW for at in discord.tried_at), (
        "every resend came while Discord would still dedupe it"
    )
    assert clock.now() - START > NONCE_WINDOW, "then one more turn, which only records it"
    assert [r.status for r in await scheduler.sends.records(job_id)] == ["maybe_sent"]
    assert discord.keys() == ["reminder"]


async def test_a_503_outage_is_retried_for_the_whole_window_then_recorded_missed(
    sdb: Database, clock: FakeClock
) -> None:
    discord = FakeDiscord(clock)
    discord.faults = ["503"] * 500  # refused each time: nothing was created, so no window to mind
    scheduler = make(sdb, clock, sender(discord))
    job_id = await scheduler.schedule("remind", START, grace=timedelta(minutes=30), guild_id=None)
    assert await until_settled(scheduler, clock, job_id) == "missed"
    assert discord.tried_at[-1] == START + timedelta(minutes=30), "the last try as its window closed"
    row = await job_row(sdb, job_id)
    assert "gave up after" in str(row["note"]) and "http-503" in str(row["note"])
    assert discord.created == []


async def test_a_failure_that_lasts_past_the_window_is_recorded_as_missed_with_the_reason(
    sdb: Database, clock: FakeClock
) -> None:
    discord = FakeDiscord(clock)
    discord.faults = ["429"] * 500  # a 429 is sure: nothing was created, so it never becomes "maybe"
    scheduler = make(sdb, clock, sender(discord))
    job_id = await scheduler.schedule("remind", START, grace=timedelta(minutes=10), guild_id=None)
    assert await until_settled(scheduler, clock, job_id) == "missed"
    row = await job_row(sdb, job_id)
    assert "gave up after" in str(row["note"]) and "http-429" in str(row["note"])
    assert clock.now() <= START + timedelta(minutes=10), "no try after the window"
    attempts = row["attempts"]
    assert isinstance(attempts, int) and discord.tries == attempts >= 10, "every 30 s (its retry_after) for ten minutes"
    assert discord.created == []


async def test_a_message_that_may_be_there_is_not_resent_after_discords_window(sdb: Database, clock: FakeClock) -> None:
    discord = FakeDiscord(clock, window=timedelta(minutes=30))  # Discord would create a second one
    discord.faults = ["lost", *["429"] * 100]  # then 429s every 30 s, past the 2 minutes relied on
    scheduler = make(sdb, clock, sender(discord))
    job_id = await scheduler.schedule("remind", START, grace=GRACE, guild_id=None)
    assert await until_settled(scheduler, clock, job_id) == "done"
    assert clock.now() - START > NONCE_WINDOW
    row = await job_row(sdb, job_id)
    assert "may have reached Discord" in str(row["note"]) and "maybe sent" in str(row["note"])
    assert [r.status for r in await scheduler.sends.records(job_id)] == ["maybe_sent"]
    assert discord.keys() == ["reminder"]


async def test_a_message_that_may_be_there_when_the_job_gives_up_is_recorded_maybe_sent(
    sdb: Database, clock: FakeClock
) -> None:
    discord = FakeDiscord(clock)
    discord.faults = ["lost", *["429"] * 100]
    scheduler = make(sdb, clock, sender(discord))
    job_id = await scheduler.schedule("remind", START, grace=timedelta(minutes=1), guild_id=None)
    assert await until_settled(scheduler, clock, job_id) == "missed"
    row = await job_row(sdb, job_id)
    assert "gave up after" in str(row["note"]) and "may have reached Discord" in str(row["note"])
    assert [r.status for r in await scheduler.sends.records(job_id)] == ["maybe_sent"]
    assert discord.keys() == ["reminder"]


async def test_a_message_delivered_before_a_retry_is_not_sent_again_even_after_discords_window(
    sdb: Database, clock: FakeClock
) -> None:
    discord = FakeDiscord(clock, window=timedelta(seconds=1))  # a short memory at Discord
    discord.faults = ["429"]  # alice's fails (sure), bob's goes through
    scheduler = make(sdb, clock, sender(discord, ("dm:alice", "dm:bob")))
    job_id = await scheduler.schedule("remind", START, grace=GRACE, guild_id=None)
    await scheduler.run_due()
    assert discord.keys() == ["dm:bob"]
    clock.advance(timedelta(minutes=5))
    assert await scheduler.run_due() == [job_id]
    assert discord.keys() == ["dm:bob", "dm:alice"], "bob's is recorded as sent: not sent again"


async def test_a_handler_without_passing_failures_fails_as_before(sdb: Database, clock: FakeClock) -> None:
    async def broken(job: Job) -> None:
        raise RuntimeError("a bug")

    scheduler = make(sdb, clock, broken)
    job_id = await scheduler.schedule("remind", START, guild_id=None)
    assert await scheduler.run_due() == []
    row = await job_row(sdb, job_id)
    assert row["status"] == "failed" and row["attempts"] == 0


# -- restarts -------------------------------------------------------------------------------------


async def cut_off_mid_send(db: Database, clock: FakeClock, discord: FakeDiscord) -> str:
    """Run a job until Discord has created its message, then stop the process there."""
    scheduler = make(db, clock, sender(discord))
    job_id = await scheduler.schedule("remind", START, grace=GRACE, guild_id=None)
    discord.hold = asyncio.Event()
    running = asyncio.create_task(scheduler.run_due())
    await asyncio.wait_for(discord.reached.wait(), 5)
    running.cancel()  # the process stops: nothing after this point happens
    with pytest.raises(asyncio.CancelledError):
        await running
    discord.hold = None
    assert (await job_row(db, job_id))["status"] == "running"
    return job_id


async def test_a_restart_after_discord_accepted_reruns_the_job_and_discord_keeps_one(
    sdb: Database, clock: FakeClock
) -> None:
    discord = FakeDiscord(clock)
    job_id = await cut_off_mid_send(sdb, clock, discord)
    clock.advance(timedelta(seconds=40))
    seen: list[bool] = []

    async def again(job: Job) -> None:
        seen.append(is_rerun())
        await sender(discord)(job)

    report = await make(sdb, clock, again).start()
    assert report.resumed == [job_id] and seen == [True]
    assert discord.keys() == ["reminder"], "the resend within the window returned the same message"
    assert (await job_row(sdb, job_id))["status"] == "done"
    assert [r.status for r in await Scheduler(JobRepository(sdb), clock).sends.records(job_id)] == ["sent"]


async def test_a_restart_after_discords_window_records_maybe_sent_and_never_guesses(
    sdb: Database, clock: FakeClock
) -> None:
    discord = FakeDiscord(clock)
    job_id = await cut_off_mid_send(sdb, clock, discord)
    clock.advance(NONCE_WINDOW + timedelta(seconds=1))  # still within the job's hour
    report = await make(sdb, clock, sender(discord)).start()
    assert report.resumed == [job_id]
    assert discord.keys() == ["reminder"] and discord.tries == 1, "not sent again"
    row = await job_row(sdb, job_id)
    assert row["status"] == "done" and "maybe sent" in str(row["note"])


async def test_a_restart_between_claim_and_send_sends_it_once(sdb: Database, clock: FakeClock) -> None:
    discord = FakeDiscord(clock)
    scheduler = make(sdb, clock, sender(discord))
    job_id = await scheduler.schedule("remind", START, grace=GRACE, guild_id=None)
    assert await scheduler.jobs.claim(job_id)  # claimed, then the process stopped
    clock.advance(timedelta(minutes=30))
    report = await make(sdb, clock, sender(discord)).start()
    assert report.resumed == [job_id]
    assert discord.keys() == ["reminder"]
    assert (await job_row(sdb, job_id))["status"] == "done"


async def test_a_retry_pending_at_a_restart_is_rebuilt(sdb: Database, clock: FakeClock) -> None:
    discord = FakeDiscord(clock)
    discord.faults = ["503"]
    scheduler = make(sdb, clock, sender(discord))
    job_id = await scheduler.schedule("remind", START, grace=GRACE, guild_id=None)
    await scheduler.run_due()
    job = await scheduler.jobs.get(job_id)
    assert job is not None and job.retry_at is not None
    later = make(sdb, clock, sender(discord))
    report = await later.start()
    assert report.fired_late == [] and report.missed == [], "the retry isn't due yet"
    clock.set(job.retry_at)
    assert await later.run_due() == [job_id]
    assert discord.keys() == ["reminder"]


async def test_rescheduling_a_retrying_job_starts_it_afresh(sdb: Database, clock: FakeClock) -> None:
    discord = FakeDiscord(clock)
    discord.faults = ["503"]
    scheduler = make(sdb, clock, sender(discord))
    job_id = await scheduler.schedule("remind", START, grace=GRACE, job_id="j", guild_id=None)
    await scheduler.run_due()
    await scheduler.schedule("remind", START + timedelta(hours=2), grace=GRACE, job_id="j", guild_id=None)
    job = await scheduler.jobs.get(job_id)
    assert job is not None and (job.attempts, job.retry_at) == (0, None)


async def test_retries_are_armed_on_real_timers(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.scheduler as scheduler_module

    monkeypatch.setattr(scheduler_module, "RETRY_BASE", timedelta(milliseconds=100))
    db = await place.open()
    clock = SystemClock()
    done = asyncio.Event()
    tries: list[int] = []

    async def flaky(job: Job) -> None:
        tries.append(job.attempts)
        if len(tries) < 3:
            raise RetryLater("http-503")
        done.set()

    scheduler = Scheduler(JobRepository(db), clock, use_timers=True)
    scheduler.register("remind", flaky)
    await scheduler.start()
    await scheduler.schedule("remind", clock.now() + timedelta(milliseconds=50), guild_id=None)
    await asyncio.wait_for(done.wait(), timeout=10)
    await scheduler.shutdown()
    assert tries == [0, 1, 2]
    await db.close()


async def test_the_daily_maintenance_forgets_send_records_after_a_week(sdb: Database, clock: FakeClock) -> None:
    from bot.privacy import PersonalDataRegistry
    from bot.services.maintenance import MaintenanceService
    from bot.storage.guilds_lifecycle import GuildLifecycleRepository

    discord = FakeDiscord(clock)
    scheduler = make(sdb, clock, sender(discord))
    old = await scheduler.schedule("remind", START, grace=GRACE, guild_id=None)
    await scheduler.run_due()
    clock.advance(timedelta(days=6))
    recent = await scheduler.schedule("remind", clock.now(), grace=GRACE, guild_id=None)
    await scheduler.run_due()
    clock.advance(timedelta(days=2))
    maintenance = MaintenanceService(PersonalDataRegistry(), GuildLifecycleRepository(sdb), scheduler, clock)
    report = await maintenance.run()
    assert report.send_records == 1
    assert await scheduler.sends.records(old) == [] and len(await scheduler.sends.records(recent)) == 1
