"""The rota's scheduler jobs: a listener's reminder, the start and end of each shift taken, the
coverage check 48 hours before a slot's next shift, the daily board refresh, the end of on-call time.
Each is keyed ``rota:{guild}:...``, rebuilt at start, and idempotent."""

from __future__ import annotations

import logging
from datetime import date, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.scheduler import Job
from bot.services.rota.core import RotaCore
from bot.services.rota.models import (
    COVERAGE_JOB,
    DAILY_JOB,
    ONCALL_END_JOB,
    REMINDER_JOB,
    SHIFT_END_JOB,
    SHIFT_START_JOB,
    UNCOVERED_NOTICE,
    RotaNotice,
    job_prefix,
)
from bot.storage.listeners import Assignment, Slot
from bot.timekeeping.shifts import occurrence_on, occurrences
from bot.timekeeping.wallclock import to_utc

log = logging.getLogger(__name__)


class Jobs(RotaCore):
    # -- scheduling -------------------------------------------------------------------------

    async def _reminder_minutes(self, assignment: Assignment) -> int:
        listener = await self.repo.listener(assignment.guild_id, assignment.user_id)
        if listener is not None and listener.reminder_minutes is not None:
            return listener.reminder_minutes
        return (await self.repo.settings(assignment.guild_id)).reminder_minutes

    async def schedule_reminder(self, assignment: Assignment) -> None:
        job_id = job_prefix(assignment.guild_id, assignment.id) + "reminder"
        minutes = await self._reminder_minutes(assignment)
        at = assignment.starts_at - timedelta(minutes=minutes)
        if minutes <= 0 or at <= self.clock.now():
            await self.scheduler.cancel(job_id)
            return
        await self.scheduler.schedule(
            REMINDER_JOB,
            at,
            {"assignment": assignment.id},
            guild_id=assignment.guild_id,
            job_id=job_id,
            grace=timedelta(minutes=max(5, minutes // 2)),
        )

    async def schedule_shift_jobs(self, assignment: Assignment) -> None:
        prefix = job_prefix(assignment.guild_id, assignment.id)
        now = self.clock.now()
        await self.schedule_reminder(assignment)
        if assignment.starts_at > now:
            await self.scheduler.schedule(
                SHIFT_START_JOB,
                assignment.starts_at,
                {"assignment": assignment.id},
                guild_id=assignment.guild_id,
                job_id=prefix + "start",
                grace=timedelta(minutes=30),
            )
        await self.scheduler.schedule(
            SHIFT_END_JOB,
            assignment.ends_at,
            {"assignment": assignment.id},
            guild_id=assignment.guild_id,
            job_id=prefix + "end",
            grace=timedelta(hours=2),
        )

    async def schedule_coverage_check(self, slot: Slot) -> None:
        """A job 48 hours before the slot's next occurrence whose 48-hour mark is still ahead."""
        now = self.clock.now()
        for occurrence in occurrences(slot, now + UNCOVERED_NOTICE, now + UNCOVERED_NOTICE + timedelta(days=8)):
            check_at = occurrence.starts_at - UNCOVERED_NOTICE
            if check_at <= now:
                continue
            job_id = f"rota:{slot.guild_id}:slot:{slot.id}:coverage:{occurrence.local_date.isoformat()}"
            if await self.scheduler.jobs.get(job_id) is None:
                await self.scheduler.schedule(
                    COVERAGE_JOB,
                    check_at,
                    {"slot": slot.id, "occurrence": occurrence.local_date.isoformat()},
                    guild_id=slot.guild_id,
                    job_id=job_id,
                    grace=timedelta(hours=12),
                )
            return

    async def ensure_guild_jobs(self, guild_id: int) -> None:
        """The daily board refresh and each slot's next coverage check (idempotent)."""
        for slot in await self.repo.slots(guild_id):
            await self.schedule_coverage_check(slot)
        zone = await self._zone(guild_id)
        today = self.clock.now().astimezone(ZoneInfo(zone)).date()
        at, _ = to_utc(today + timedelta(days=1), time(0, 5), zone)
        job_id = f"rota:{guild_id}:daily:{(today + timedelta(days=1)).isoformat()}"
        if await self.scheduler.jobs.get(job_id) is None:
            await self.scheduler.schedule(
                DAILY_JOB, at, {"guild_id": guild_id}, guild_id=guild_id, job_id=job_id, grace=timedelta(hours=20)
            )

    async def ensure_scheduled(self) -> None:
        """At start: every server's daily job and coverage checks, and the jobs of every future
        shift (a shift taken just before a crash may have missed them). Idempotent."""
        owns = self.scheduler.scope.shards.owns  # several processes: each ensures its own servers'
        for guild_id in await self.repo.guilds_with_settings():
            if owns(guild_id):
                await self.ensure_guild_jobs(guild_id)
        now = self.clock.now()
        for assignment in await self.repo.future_assignments(now):
            if not owns(assignment.guild_id):
                continue
            prefix = job_prefix(assignment.guild_id, assignment.id)
            if await self.scheduler.jobs.get(prefix + "end") is None:
                await self.schedule_shift_jobs(assignment)

    # -- handlers ---------------------------------------------------------------------------

    async def _assignment_of(self, job: Job) -> Assignment | None:
        return await self.repo.assignment_by_id(int(job.payload.get("assignment", 0)))

    async def on_reminder(self, job: Job) -> None:
        assignment = await self._assignment_of(job)
        if assignment is None or self.port is None:
            return
        await self.port.tell_listener(
            assignment.user_id,
            RotaNotice(
                "reminder", assignment.guild_id, {"starts_at": assignment.starts_at, "ends_at": assignment.ends_at}
            ),
        )

    async def on_shift_start(self, job: Job) -> None:
        assignment = await self._assignment_of(job)
        if assignment is None or self.port is None:
            return
        await self.port.tell_listener(
            assignment.user_id,
            RotaNotice(
                "shift_started", assignment.guild_id, {"starts_at": assignment.starts_at, "ends_at": assignment.ends_at}
            ),
        )

    async def on_shift_end(self, job: Job) -> None:
        assignment = await self._assignment_of(job)
        if assignment is None:
            return
        listener = await self.repo.listener(assignment.guild_id, assignment.user_id)
        if listener is not None and listener.break_until is not None and listener.break_until <= assignment.ends_at:
            await self.repo.update_listener(listener.id, self.clock.now(), break_until=None)
        if self.port is not None:
            await self.port.tell_listener(
                assignment.user_id,
                RotaNotice(
                    "shift_ended",
                    assignment.guild_id,
                    {
                        "hours": round(assignment.hours, 2),
                        "week_hours": round(await self.hours_this_week(assignment.guild_id, assignment.user_id), 1),
                    },
                ),
            )

    async def on_coverage(self, job: Job) -> None:
        slot = await self.repo.slot(int(job.payload.get("slot", 0)))
        if slot is None or slot.status != "active":
            return
        occurrence = occurrence_on(slot, date.fromisoformat(str(job.payload.get("occurrence"))))
        if occurrence is not None:
            filled = len(
                [
                    a
                    for a in await self.repo.assignments_between(
                        slot.guild_id, occurrence.starts_at, occurrence.ends_at
                    )
                    if a.slot_id == slot.id and a.occurrence == occurrence.local_date.isoformat()
                ]
            )
            if filled < slot.needed and self.port is not None:
                await self.port.tell_coordinators(
                    slot.guild_id,
                    RotaNotice(
                        "uncovered",
                        slot.guild_id,
                        {
                            "starts_at": occurrence.starts_at,
                            "ends_at": occurrence.ends_at,
                            "filled": filled,
                            "needed": slot.needed,
                            "slot": slot,
                        },
                    ),
                )
                log.info("rota uncovered alert guild=%s slot=%s", slot.guild_id, slot.id)
        await self.schedule_coverage_check(slot)

    async def on_daily(self, job: Job) -> None:
        guild_id = int(job.payload.get("guild_id", 0))
        if not await self.repo.has_settings(guild_id):
            return
        await self.ensure_guild_jobs(guild_id)
        await self._refresh(guild_id)

    async def on_oncall_end(self, job: Job) -> None:
        listener = await self.repo.listener_by_public_id(str(job.payload.get("listener")))
        if listener is None:
            return
        now = self.clock.now()
        if listener.available_until is not None and listener.available_until <= now:
            # Tell first: after a passing failure the job runs again and finds them still on call.
            if self.port is not None:
                await self.port.tell_listener(listener.user_id, RotaNotice("oncall_ended", listener.guild_id))
            await self.repo.update_listener(listener.id, now, available_until=None, break_until=None)

    def handlers(self) -> dict[str, Any]:
        """Scheduler job kinds and their handlers (registered once at wiring)."""
        return {
            REMINDER_JOB: self.on_reminder,
            SHIFT_START_JOB: self.on_shift_start,
            SHIFT_END_JOB: self.on_shift_end,
            COVERAGE_JOB: self.on_coverage,
            DAILY_JOB: self.on_daily,
            ONCALL_END_JOB: self.on_oncall_end,
        }
