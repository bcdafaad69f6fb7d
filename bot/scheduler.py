"""Scheduled jobs whose source of truth is the database.

Every job is a row in ``scheduled_jobs``. :meth:`Scheduler.start` rebuilds timers from the rows:
a job still in the future gets an APScheduler timer; one whose time passed while the bot was down
fires now if it is within its grace window, and is otherwise recorded as ``missed``. A job is
claimed (``pending`` → ``running``) in one UPDATE before its handler runs, so it never fires
twice; a job found ``running`` at start (the process died mid-run) is recorded as
``interrupted`` rather than run again.

With a :class:`~bot.clock.FakeClock`, pass ``use_timers=False`` and call :meth:`run_due` after
moving the clock: the same claim-and-fire path runs, without wall-clock timers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.clock import Clock, from_iso, to_iso
from bot.storage.database import Database, Row

log = logging.getLogger(__name__)

DEFAULT_GRACE = timedelta(minutes=10)
# Timers are armed only for jobs due within this horizon, and the horizon is refilled regularly:
# arming one APScheduler job per pending row (tens of thousands on a large server) costs seconds of
# start-up and a lot of memory, for timers that won't fire for days.
ARM_HORIZON = timedelta(hours=6)
REFILL_EVERY = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    kind: str
    run_at: datetime
    grace: timedelta
    payload: dict[str, Any]
    status: str = "pending"

    @classmethod
    def from_row(cls, row: Row) -> Job:
        return cls(
            id=row["id"],
            kind=row["kind"],
            run_at=from_iso(row["run_at"]),
            grace=timedelta(seconds=row["grace_seconds"]),
            payload=json.loads(row["payload"]),
            status=row["status"],
        )


@dataclass(slots=True)
class StartReport:
    rebuilt: list[str] = field(default_factory=list)
    fired_late: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)
    waiting: int = 0  # pending further ahead than the timer horizon; armed as their time nears


JobHandler = Callable[[Job], Awaitable[None]]


class JobRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def upsert(self, job: Job, created_at: datetime) -> None:
        await self.db.execute(
            "INSERT INTO scheduled_jobs (id, kind, run_at, grace_seconds, payload, status, created_at) "
            "VALUES (?, ?, ?, ?, ?, 'pending', ?) "
            "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, run_at = excluded.run_at, "
            "grace_seconds = excluded.grace_seconds, payload = excluded.payload, status = 'pending', "
            "finished_at = NULL, note = NULL",
            (
                job.id,
                job.kind,
                to_iso(job.run_at),
                int(job.grace.total_seconds()),
                json.dumps(job.payload, sort_keys=True),
                to_iso(created_at),
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

    async def between(self, after: datetime, until: datetime) -> list[Job]:
        """Pending jobs with ``after < run_at <= until``."""
        rows = await self.db.fetchall(
            "SELECT * FROM scheduled_jobs WHERE status = 'pending' AND run_at > ? AND run_at <= ? ORDER BY run_at",
            (to_iso(after), to_iso(until)),
        )
        return [Job.from_row(r) for r in rows]

    async def count_after(self, after: datetime) -> int:
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS n FROM scheduled_jobs WHERE status = 'pending' AND run_at > ?", (to_iso(after),)
        )
        return int(row["n"]) if row else 0

    async def due(self, now: datetime) -> list[Job]:
        rows = await self.db.fetchall(
            "SELECT * FROM scheduled_jobs WHERE status = 'pending' AND run_at <= ? ORDER BY run_at, id",
            (to_iso(now),),
        )
        return [Job.from_row(r) for r in rows]

    async def claim(self, job_id: str) -> bool:
        changed = await self.db.execute(
            "UPDATE scheduled_jobs SET status = 'running' WHERE id = ? AND status = 'pending'", (job_id,)
        )
        return changed == 1

    async def finish(self, job_id: str, status: str, when: datetime, note: str | None = None) -> None:
        await self.db.execute(
            "UPDATE scheduled_jobs SET status = ?, finished_at = ?, note = ? WHERE id = ?",
            (status, to_iso(when), note, job_id),
        )

    async def mark_missed(self, job_id: str, when: datetime, note: str) -> bool:
        changed = await self.db.execute(
            "UPDATE scheduled_jobs SET status = 'missed', finished_at = ?, note = ? "
            "WHERE id = ? AND status = 'pending'",
            (to_iso(when), note, job_id),
        )
        return changed == 1

    async def interrupt_running(self, when: datetime) -> list[str]:
        rows = await self.db.fetchall("SELECT id FROM scheduled_jobs WHERE status = 'running'")
        await self.db.execute(
            "UPDATE scheduled_jobs SET status = 'interrupted', finished_at = ?, "
            "note = 'the bot stopped while this job ran; not run again' WHERE status = 'running'",
            (to_iso(when),),
        )
        return [r["id"] for r in rows]

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
    def __init__(self, jobs: JobRepository, clock: Clock, *, use_timers: bool = True) -> None:
        self.jobs = jobs
        self.clock = clock
        self.use_timers = use_timers
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
        job_id: str | None = None,
        grace: timedelta = DEFAULT_GRACE,
    ) -> str:
        """Store a job (replacing a pending one with the same id) and arm its timer."""
        if run_at.tzinfo is None:
            raise ValueError("run_at must be timezone-aware")
        if kind not in self._handlers:
            raise ValueError(f"No handler is registered for job kind {kind!r}")
        job = Job(job_id or uuid.uuid4().hex, kind, run_at, grace, payload or {})
        await self.jobs.upsert(job, self.clock.now())
        if self._started and run_at <= self.clock.now() + ARM_HORIZON:
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
        report.interrupted = await self.jobs.interrupt_running(now)
        if self.use_timers:
            self._aps = AsyncIOScheduler(timezone="UTC")
            self._aps.start()
            self._aps.add_job(self._refill, "interval", seconds=REFILL_EVERY.total_seconds(), id="scheduler:refill")
        self._started = True
        for job in await self.jobs.due(now):
            if now - job.run_at <= job.grace:
                report.fired_late.append(job.id)
                await self._fire(job.id)
            else:
                late_by = now - job.run_at
                await self.jobs.mark_missed(job.id, now, f"the bot was down; {late_by} late, past its grace window")
                report.missed.append(job.id)
                log.warning("job missed kind=%s id=%s late_by=%s", job.kind, job.id, late_by)
        for job in await self.jobs.between(now, now + ARM_HORIZON):
            self._arm(job)
            report.rebuilt.append(job.id)
        report.waiting = await self.jobs.count_after(now + ARM_HORIZON)
        log.info(
            "scheduler started rebuilt=%d waiting=%d fired_late=%d missed=%d interrupted=%d",
            len(report.rebuilt),
            report.waiting,
            len(report.fired_late),
            len(report.missed),
            len(report.interrupted),
        )
        return report

    async def _refill(self) -> None:
        """Arm timers for jobs that have come within the horizon since the last refill."""
        now = self.clock.now()
        for job in await self.jobs.between(now, now + ARM_HORIZON):
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
        self._started = False
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    def _arm(self, job: Job) -> None:
        if self._aps is None:
            return
        self._aps.add_job(
            self._timer_fired,
            DateTrigger(run_date=job.run_at),
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
        if job is None or job.status != "pending":
            return False
        now = self.clock.now()
        if now - job.run_at > job.grace:
            await self.jobs.mark_missed(job_id, now, f"fired {now - job.run_at} late, past its grace window")
            log.warning("job missed kind=%s id=%s", job.kind, job.id)
            return False
        if not await self.jobs.claim(job_id):
            return False
        handler = self._handlers.get(job.kind)
        if handler is None:
            await self.jobs.finish(job_id, "failed", now, f"no handler for kind {job.kind}")
            log.error("job failed kind=%s id=%s reason=no-handler", job.kind, job.id)
            return False
        try:
            await handler(job)
        except Exception:
            log.exception("job failed kind=%s id=%s", job.kind, job.id)
            await self.jobs.finish(job_id, "failed", self.clock.now(), "the handler raised; see the log")
            return False
        await self.jobs.finish(job_id, "done", self.clock.now())
        return True
