"""Scheduled jobs whose source of truth is the database.

Every job is a row in ``scheduled_jobs``. :meth:`Scheduler.start` rebuilds timers from the rows:
a job still in the future gets an APScheduler timer; one whose time passed while the bot was down
fires now if it is within its grace window, and is otherwise recorded as ``missed``. A job is
claimed (``pending`` → ``running``) in one UPDATE before its handler runs, so two runs never
overlap.

Delivery guarantees (the messages jobs send: see :mod:`bot.sends`)
    * **Passing failures are retried within the window.** A handler raises
      :class:`~bot.sends.RetryLater` when Discord answered 429 or 5xx, or the connection dropped
      or timed out: the job goes back to ``pending`` with its next try in ``retry_at``, after an
      exponential backoff with jitter (never before a 429's ``retry_after``, and soon enough that
      Discord still dedupes a message that may already be there). When the next try would fall
      past the window (after one last try as it closes), the job is recorded as ``missed``, with
      the reason. Handlers that never raise it (a delayed share's post) fail as before.
    * **A restart re-runs a cut-off job.** A job found ``running`` at start (the process stopped
      mid-run) runs again when still within its window; past it, it is recorded as
      ``interrupted``. Every message a job sends carries a nonce derived from the occurrence (job
      id + scheduled time) and is recorded before it is tried, so a re-run never sends a second
      copy: Discord returns the message it already accepted, and a message that may have gone
      through outside Discord's dedupe window is recorded as ``maybe_sent``, never sent again.
    * Other exceptions are bugs or refusals: the job is recorded as ``failed``, not retried.

With a :class:`~bot.clock.FakeClock`, pass ``use_timers=False`` and call :meth:`run_due` after
moving the clock: the same claim-and-fire path runs (retries included), without wall-clock timers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.clock import Clock, from_iso, from_iso_or_none, to_iso
from bot.sends import RetryLater, SendLedger
from bot.shards import ShardPlan
from bot.storage.coordination import JOBS_CHANNEL, Coordination, LocalCoordination
from bot.storage.database import Database, Row

log = logging.getLogger(__name__)

DEFAULT_GRACE = timedelta(minutes=10)
# Timers are armed only for jobs due within this horizon, and the horizon is refilled regularly:
# arming one APScheduler job per pending row (tens of thousands on a large server) costs seconds of
# start-up and a lot of memory, for timers that won't fire for days.
ARM_HORIZON = timedelta(hours=6)
REFILL_EVERY = timedelta(minutes=30)
# Retries after a passing failure: 2 s, 4 s, 8 s ... up to 5 minutes, each between half and all of that.
RETRY_BASE = timedelta(seconds=2)
RETRY_CAP = timedelta(minutes=5)
# A retry of a job whose message may already be at Discord comes this long before the dedupe window
# closes, so a timer firing a little late still finds it open.
RESEND_MARGIN = timedelta(seconds=10)
# Several processes: how often each takes the lead if it is free and looks for due jobs of its own
# that a lost notification didn't announce.
SWEEP_EVERY = timedelta(seconds=30)


def retry_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """The wait before try ``attempts + 1``: exponential (``attempts`` ≥ 1), capped, with jitter."""
    ceiling = min(RETRY_CAP, RETRY_BASE * 2 ** max(0, attempts - 1))
    return ceiling * (rng or random).uniform(0.5, 1.0)


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    kind: str
    run_at: datetime
    grace: timedelta
    payload: dict[str, Any]
    status: str = "pending"
    attempts: int = 0  # tries that failed for a passing reason, or were cut off by a restart
    retry_at: datetime | None = None  # when the next try is due (None: at run_at)
    note: str | None = None
    guild_id: int | None = None  # the server it belongs to: it fires in the process that owns it

    @classmethod
    def from_row(cls, row: Row) -> Job:
        return cls(
            id=row["id"],
            kind=row["kind"],
            run_at=from_iso(row["run_at"]),
            grace=timedelta(seconds=row["grace_seconds"]),
            payload=json.loads(row["payload"]),
            status=row["status"],
            attempts=int(row["attempts"]),
            retry_at=from_iso_or_none(row["retry_at"]),
            note=row["note"],
            guild_id=None if row["guild_id"] is None else int(row["guild_id"]),
        )

    @property
    def due_at(self) -> datetime:
        return self.retry_at or self.run_at

    @property
    def closes_at(self) -> datetime:
        """The end of its window: later than this it is missed."""
        return self.run_at + self.grace


@dataclass(slots=True)
class StartReport:
    rebuilt: list[str] = field(default_factory=list)
    fired_late: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)  # cut off by the last stop, run again (within the window)
    interrupted: list[str] = field(default_factory=list)  # cut off by the last stop, past the window
    waiting: int = 0  # pending further ahead than the timer horizon; armed as their time nears


JobHandler = Callable[[Job], Awaitable[None]]


class JobScope:
    """The jobs this process fires: those of the servers on its shards, and those of no server
    when it holds the leader lock (:mod:`bot.storage.coordination`). One process: every job."""

    def __init__(self, shards: ShardPlan | None = None, leading: Callable[[], bool] | None = None) -> None:
        self.shards = shards or ShardPlan()
        self.leading = leading or (lambda: True)

    def owns(self, guild_id: int | None) -> bool:
        return self.leading() if guild_id is None else self.shards.owns(guild_id)

    def where(self) -> tuple[str, list[int]]:
        """`` AND (…)`` keeping this process's jobs, and its parameters ("" when it fires every job)."""
        leading = self.leading()
        if self.shards.whole and leading:
            return "", []
        clause, params = self.shards.where("guild_id")
        own = f"(guild_id IS NOT NULL AND {clause})" if clause else "guild_id IS NOT NULL"
        if leading:
            own = f"({own} OR guild_id IS NULL)"
        return f" AND {own}", params


class JobRepository:
    def __init__(self, db: Database, scope: JobScope | None = None) -> None:
        self.db = db
        self.scope = scope or JobScope()

    async def upsert(self, job: Job, created_at: datetime) -> None:
        await self.db.execute(
            "INSERT INTO scheduled_jobs (id, kind, run_at, grace_seconds, payload, status, created_at, guild_id) "
            "VALUES (?, ?, ?, ?, ?, 'pending', ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, run_at = excluded.run_at, "
            "grace_seconds = excluded.grace_seconds, payload = excluded.payload, status = 'pending', "
            "finished_at = NULL, note = NULL, attempts = 0, retry_at = NULL, guild_id = excluded.guild_id",
            (
                job.id,
                job.kind,
                to_iso(job.run_at),
                int(job.grace.total_seconds()),
                json.dumps(job.payload, sort_keys=True),
                to_iso(created_at),
                job.guild_id,
            ),
        )

    async def get(self, job_id: str) -> Job | None:
        row = await self.db.fetchone("SELECT * FROM scheduled_jobs WHERE id = ?", (job_id,))
        return Job.from_row(row) if row else None

    async def pending(self) -> list[Job]:
        rows = await self.db.fetchall("SELECT * FROM scheduled_jobs WHERE status = 'pending' ORDER BY run_at")
        return [Job.from_row(r) for r in rows]

    async def pending_ids(self, *, prefix: str = "", kind: str | None = None) -> list[str]:
        """Ids of pending jobs (no payloads parsed): every one, or only those whose id starts
        with ``prefix`` and/or of one ``kind``.

        Ask only for the ids you check: on a large deployment every pending job is tens of
        thousands of rows, and loading them all at start costs megabytes of memory.
        """
        sql = "SELECT id FROM scheduled_jobs WHERE status = 'pending'"
        params: list[str | int] = []
        if prefix and ord(prefix[-1]) < 0xD7FF:
            # A range on the primary key (BINARY collation: UTF-8 byte order is code point order).
            sql += " AND id >= ? AND id < ?"
            params += [prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)]
        elif prefix:
            sql += " AND substr(id, 1, ?) = ?"
            params += [len(prefix), prefix]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        rows = await self.db.fetchall(sql, params)
        return [str(r["id"]) for r in rows]

    async def pending_of_kind(self, kind: str) -> list[Job]:
        rows = await self.db.fetchall(
            "SELECT * FROM scheduled_jobs WHERE status = 'pending' AND kind = ? ORDER BY run_at", (kind,)
        )
        return [Job.from_row(r) for r in rows]

    # The five reads below are this process's jobs only (its scope): the ones it arms and fires.

    async def between(self, after: datetime, until: datetime) -> list[Job]:
        """Pending jobs with ``after < run_at <= until``."""
        mine, params = self.scope.where()
        rows = await self.db.fetchall(
            f"SELECT * FROM scheduled_jobs WHERE status = 'pending' AND run_at > ? AND run_at <= ?{mine} ORDER BY run_at",
            [to_iso(after), to_iso(until), *params],
        )
        return [Job.from_row(r) for r in rows]

    async def count_after(self, after: datetime) -> int:
        mine, params = self.scope.where()
        row = await self.db.fetchone(
            f"SELECT COUNT(*) AS n FROM scheduled_jobs WHERE status = 'pending' AND run_at > ?{mine}",
            [to_iso(after), *params],
        )
        return int(row["n"]) if row else 0

    async def due(self, now: datetime) -> list[Job]:
        """Pending jobs whose time (or next try) has come."""
        mine, params = self.scope.where()
        rows = await self.db.fetchall(
            "SELECT * FROM scheduled_jobs WHERE status = 'pending' AND run_at <= ? "
            f"AND (retry_at IS NULL OR retry_at <= ?){mine} ORDER BY run_at, id",
            [to_iso(now), to_iso(now), *params],
        )
        return [Job.from_row(r) for r in rows]

    async def retrying_between(self, after: datetime, until: datetime) -> list[Job]:
        """Pending jobs waiting for a retry with ``after < retry_at <= until``."""
        mine, params = self.scope.where()
        rows = await self.db.fetchall(
            f"SELECT * FROM scheduled_jobs WHERE retry_at > ? AND retry_at <= ? AND status = 'pending'{mine} "
            "ORDER BY retry_at",
            [to_iso(after), to_iso(until), *params],
        )
        return [Job.from_row(r) for r in rows]

    async def running(self, *, unowned_only: bool = False) -> list[Job]:
        """Jobs a stopped process left running (``unowned_only``: of no server, for a new leader)."""
        mine, params = self.scope.where()
        if unowned_only:
            mine, params = " AND guild_id IS NULL", []
        rows = await self.db.fetchall(
            f"SELECT * FROM scheduled_jobs WHERE status = 'running'{mine} ORDER BY run_at, id", params
        )
        return [Job.from_row(r) for r in rows]

    async def retry(self, job_id: str, when: datetime, attempts: int, note: str) -> bool:
        """A running job tries again at ``when`` (it is pending again until then)."""
        changed = await self.db.execute(
            "UPDATE scheduled_jobs SET status = 'pending', retry_at = ?, attempts = ?, note = ? "
            "WHERE id = ? AND status = 'running'",
            (to_iso(when), attempts, note, job_id),
        )
        return changed == 1

    async def claim(self, job_id: str) -> bool:
        changed = await self.db.execute(
            "UPDATE scheduled_jobs SET status = 'running' WHERE id = ? AND status = 'pending'", (job_id,)
        )
        return changed == 1

    async def finish(
        self, job_id: str, status: str, when: datetime, note: str | None = None, *, attempts: int | None = None
    ) -> None:
        await self.db.execute(
            "UPDATE scheduled_jobs SET status = ?, finished_at = ?, note = ?, attempts = COALESCE(?, attempts) "
            "WHERE id = ? AND status = 'running'",  # a run another process took over isn't overwritten
            (status, to_iso(when), note, attempts, job_id),
        )

    async def mark_missed(self, job_id: str, when: datetime, note: str) -> bool:
        changed = await self.db.execute(
            "UPDATE scheduled_jobs SET status = 'missed', finished_at = ?, note = ? "
            "WHERE id = ? AND status = 'pending'",
            (to_iso(when), note, job_id),
        )
        return changed == 1

    async def interrupted(self, job_id: str, when: datetime, note: str) -> None:
        await self.db.execute(
            "UPDATE scheduled_jobs SET status = 'interrupted', finished_at = ?, note = ? "
            "WHERE id = ? AND status = 'running'",
            (to_iso(when), note, job_id),
        )

    async def cancel(self, job_id: str, when: datetime) -> bool:
        changed = await self.db.execute(
            "UPDATE scheduled_jobs SET status = 'cancelled', finished_at = ? WHERE id = ? AND status = 'pending'",
            (to_iso(when), job_id),
        )
        return changed == 1

    async def cancel_prefix(self, prefix: str, when: datetime) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT id FROM scheduled_jobs WHERE status = 'pending' AND id LIKE ? ESCAPE '\\'",
            (prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
        )
        for row in rows:
            await self.cancel(row["id"], when)
        return [r["id"] for r in rows]


class Scheduler:
    def __init__(
        self,
        jobs: JobRepository,
        clock: Clock,
        *,
        use_timers: bool = True,
        sends: SendLedger | None = None,
        rng: random.Random | None = None,
        coordination: Coordination | None = None,
    ) -> None:
        self.jobs = jobs
        self.scope = jobs.scope
        # Other processes sharing the database (PostgreSQL): who leads, and how to wake an owner.
        self.coordination = coordination or LocalCoordination(self.scope.shards)
        self.clock = clock
        self.use_timers = use_timers
        self.sends = sends or SendLedger(jobs.db, clock)
        self.rng = rng or random.Random()
        self._handlers: dict[str, JobHandler] = {}
        self._aps: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._started = False

    def register(self, kind: str, handler: JobHandler) -> None:
        if kind in self._handlers:
            raise ValueError(f"A handler for job kind {kind!r} is already registered")
        self._handlers[kind] = handler

    @property
    def started(self) -> bool:
        return self._started

    async def schedule(
        self,
        kind: str,
        run_at: datetime,
        payload: dict[str, Any] | None = None,
        *,
        guild_id: int | None,
        job_id: str | None = None,
        grace: timedelta = DEFAULT_GRACE,
    ) -> str:
        """Store a job (replacing a pending one with the same id) and arm its timer.

        ``guild_id`` is the server the job belongs to (``None``: no server): it fires in the
        process that owns that server. A job for another process's server wakes that process."""
        if run_at.tzinfo is None:
            raise ValueError("run_at must be timezone-aware")
        if kind not in self._handlers:
            raise ValueError(f"No handler is registered for job kind {kind!r}")
        job = Job(job_id or uuid.uuid4().hex, kind, run_at, grace, payload or {}, guild_id=guild_id)
        await self.jobs.upsert(job, self.clock.now())
        if not self.scope.owns(guild_id):
            self._disarm(job.id)
            await self.coordination.notify(JOBS_CHANNEL, job.id)
        elif self._started and run_at <= self.clock.now() + ARM_HORIZON:
            self._arm(job)
        elif self._started:
            self._disarm(job.id)  # rescheduled further ahead: the refill arms it later
        return job.id

    async def cancel(self, job_id: str) -> bool:
        self._disarm(job_id)
        return await self.jobs.cancel(job_id, self.clock.now())

    async def cancel_prefix(self, prefix: str) -> list[str]:
        cancelled = await self.jobs.cancel_prefix(prefix, self.clock.now())
        for job_id in cancelled:
            self._disarm(job_id)
        return cancelled

    async def start(self) -> StartReport:
        """Rebuild timers from the database and settle jobs whose time passed while down."""
        report = StartReport()
        now = self.clock.now()
        # The last process for these servers stopped while these ran (with several processes:
        # only this process's servers, whose shard locks it now holds; see bot.storage.coordination).
        await self._recover(await self.jobs.running(), now, report)
        if self.coordination.shared:
            self.coordination.listen(JOBS_CHANNEL, self._job_changed)
        if self.use_timers:
            self._aps = AsyncIOScheduler(timezone="UTC")
            self._aps.start()
            self._aps.add_job(self._refill, "interval", seconds=REFILL_EVERY.total_seconds(), id="scheduler:refill")
            if self.coordination.shared:
                self._aps.add_job(self.sweep, "interval", seconds=SWEEP_EVERY.total_seconds(), id="scheduler:sweep")
        self._started = True
        for job in await self.jobs.due(now):
            if now <= job.closes_at:
                report.fired_late.append(job.id)
                await self._fire(job.id)
            else:
                late_by = now - job.run_at
                await self._missed(job, now, f"the bot was down; {late_by} late, past its grace window")
                report.missed.append(job.id)
        for job in await self.jobs.between(now, now + ARM_HORIZON):
            self._arm(job)
            report.rebuilt.append(job.id)
        for job in await self.jobs.retrying_between(now, now + ARM_HORIZON):
            self._arm(job)
        report.waiting = await self.jobs.count_after(now + ARM_HORIZON)
        log.info(
            "scheduler started rebuilt=%d waiting=%d fired_late=%d missed=%d resumed=%d interrupted=%d",
            len(report.rebuilt),
            report.waiting,
            len(report.fired_late),
            len(report.missed),
            len(report.resumed),
            len(report.interrupted),
        )
        return report

    async def _recover(self, running: list[Job], now: datetime, report: StartReport) -> None:
        for job in running:
            if now <= job.closes_at:
                # Run again: a message it had already sent isn't sent twice (bot.sends).
                await self.jobs.retry(job.id, now, job.attempts + 1, "the bot stopped while this job ran; run again")
                report.resumed.append(job.id)
                log.info("job resumed after a restart kind=%s id=%s", job.kind, job.id)
                continue
            maybe = await self.sends.settle(job.id, job.run_at)
            await self.jobs.interrupted(
                job.id,
                now,
                "the bot stopped while this job ran and it is past its window; not run again" + self._maybe_note(maybe),
            )
            await self.sends.forget_places(job.id, job.run_at)
            report.interrupted.append(job.id)
            log.warning("job interrupted kind=%s id=%s maybe_sent=%d", job.kind, job.id, maybe)

    async def sweep(self) -> list[str]:
        """Several processes: take the lead if it is free, then fire what is due and arm what is
        near. What a notification would have done (another process scheduled one of this process's
        jobs) happens here at the latest, within SWEEP_EVERY."""
        if not self._started:
            return []
        task = asyncio.current_task()
        if task is not None:  # jobs it fires finish their bookkeeping before a shutdown goes on
            self._running.add(task)
        try:
            return await self._sweep()
        finally:
            if task is not None:
                self._running.discard(task)

    async def _sweep(self) -> list[str]:
        was_leading = self.coordination.leading
        if await self.coordination.lead() and not was_leading:
            # The last leader stopped: its jobs of no server that were running when it did are ours.
            report = StartReport()
            await self._recover(await self.jobs.running(unowned_only=True), self.clock.now(), report)
            log.info("took the lead resumed=%d interrupted=%d", len(report.resumed), len(report.interrupted))
        fired = await self.run_due()
        await self._refill()
        return fired

    def _job_changed(self, job_id: str) -> None:
        """A notification from another process: one of this process's jobs was scheduled there."""
        if self._started:
            task = asyncio.get_running_loop().create_task(self._rearm(job_id))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _rearm(self, job_id: str) -> None:
        job = await self.jobs.get(job_id)
        if job is None or job.status != "pending" or not self.scope.owns(job.guild_id):
            self._disarm(job_id)
            return
        if job.due_at <= self.clock.now() + ARM_HORIZON:
            self._arm(job)
            if self._aps is None and job.due_at <= self.clock.now():
                await self._fire(job.id)  # without timers (tests): fire what is due now

    async def _refill(self) -> None:
        """Arm timers for jobs that have come within the horizon since the last refill."""
        now = self.clock.now()
        horizon = now + ARM_HORIZON
        for job in [*await self.jobs.between(now, horizon), *await self.jobs.retrying_between(now, horizon)]:
            if self._aps is not None and self._aps.get_job(job.id) is None:
                self._arm(job)

    async def run_due(self) -> list[str]:
        """Fire every pending job whose time has come (the path a FakeClock drives)."""
        fired = []
        for job in await self.jobs.due(self.clock.now()):
            if await self._fire(job.id):
                fired.append(job.id)
        return fired

    async def shutdown(self) -> None:
        """Stop arming timers, let the jobs already running finish (their bookkeeping included:
        APScheduler's own shutdown would cancel them mid-write), then stop APScheduler."""
        self._started = False
        if self._aps is not None:
            self._aps.pause()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None

    def _arm(self, job: Job) -> None:
        if self._aps is None:
            return
        self._aps.add_job(
            self._timer_fired,
            DateTrigger(run_date=job.due_at),
            args=[job.id],
            id=job.id,
            replace_existing=True,
            misfire_grace_time=None,
        )

    def _disarm(self, job_id: str) -> None:
        if self._aps is not None and self._aps.get_job(job_id) is not None:
            self._aps.remove_job(job_id)

    async def _timer_fired(self, job_id: str) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await self._fire(job_id)
        finally:
            if task is not None:
                self._running.discard(task)

    async def _fire(self, job_id: str) -> bool:
        job = await self.jobs.get(job_id)
        if job is None or job.status != "pending" or not self.scope.owns(job.guild_id):
            return False
        now = self.clock.now()
        if job.retry_at is not None and job.retry_at > now:
            return False  # a timer from before a reschedule: the retry isn't due yet
        if job.retry_at is None and job.run_at > now:
            # A timer from before another process moved it later (this one's own reschedules re-arm).
            if self._started and job.run_at <= now + ARM_HORIZON:
                self._arm(job)
            return False
        if now > job.closes_at:
            await self._missed(job, now, f"fired {now - job.run_at} late, past its grace window")
            return False
        if not await self.jobs.claim(job_id):
            return False
        handler = self._handlers.get(job.kind)
        if handler is None:
            await self.jobs.finish(job_id, "failed", now, f"no handler for kind {job.kind}")
            log.error("job failed kind=%s id=%s reason=no-handler", job.kind, job.id)
            return False
        token = self.sends.enter(job.id, job.run_at, job.attempts)
        try:
            await handler(job)
        except RetryLater as exc:
            await self._retry_later(job, exc)
            return False
        except Exception:
            log.exception("job failed kind=%s id=%s", job.kind, job.id)
            await self.jobs.finish(job_id, "failed", self.clock.now(), "the handler raised; see the log")
            await self.sends.forget_places(job.id, job.run_at)
            return False
        finally:
            self.sends.leave(token)
        note = None
        if job.attempts:  # only a re-run can find a message that may have gone through already
            maybe = (await self.sends.counts(job.id, job.run_at)).get("maybe_sent", 0)
            note = self._maybe_note(maybe).removeprefix("; ") or None
        await self.jobs.finish(job_id, "done", self.clock.now(), note)
        await self.sends.forget_places(job.id, job.run_at)
        return True

    async def _retry_later(self, job: Job, exc: RetryLater) -> None:
        """A passing failure: try again with backoff within the job's window, or record it missed."""
        now = self.clock.now()
        attempts = job.attempts + 1
        when = now + retry_delay(attempts, self.rng)
        if exc.not_before is not None and exc.not_before > when:
            when = exc.not_before  # a 429 said when
        resend_by = await self.sends.resend_by(job.id, job.run_at)
        if resend_by is not None:
            # A message may already be at Discord: try while Discord would still dedupe it. (Once
            # that moment has passed, the next try records it as maybe sent instead of sending.)
            latest = resend_by - RESEND_MARGIN
            if now < latest < when and (exc.not_before is None or exc.not_before <= latest):
                when = latest
        if when > job.closes_at:
            if now < job.closes_at and (exc.not_before is None or exc.not_before <= job.closes_at):
                when = job.closes_at  # one last try as the window closes
            else:
                reason = f"gave up after {attempts} tries within its window: {exc.reason}"
                await self._missed(job, now, reason, running=True, attempts=attempts)
                return
        note = f"try {attempts} failed ({exc.reason}); next at {to_iso(when)}"
        if not await self.jobs.retry(job.id, when, attempts, note):
            return
        log.info("job will retry kind=%s id=%s attempts=%d error=%s", job.kind, job.id, attempts, exc.reason)
        if self._started and when <= now + ARM_HORIZON:
            self._arm(replace(job, status="pending", attempts=attempts, retry_at=when))

    async def _missed(
        self, job: Job, now: datetime, reason: str, *, running: bool = False, attempts: int | None = None
    ) -> None:
        """Past its window: recorded as missed with the reason (and any message that may have gone)."""
        if not running and job.attempts and job.note and job.note.startswith("try "):
            reason += f" (after {job.note.split('; next at')[0]})"
        if running or job.attempts:  # only a job that ran before can have a message in flight
            reason += self._maybe_note(await self.sends.settle(job.id, job.run_at))
        if running:
            await self.jobs.finish(job.id, "missed", now, reason, attempts=attempts)
            await self.sends.forget_places(job.id, job.run_at)
        else:
            await self.jobs.mark_missed(job.id, now, reason)
        log.warning("job missed kind=%s id=%s reason=%s", job.kind, job.id, reason)

    @staticmethod
    def _maybe_note(maybe: int) -> str:
        if not maybe:
            return ""
        return (
            f"; {maybe} message{'s' if maybe != 1 else ''} may have reached Discord outside its dedupe window: "
            "recorded as maybe sent, not sent again"
        )
