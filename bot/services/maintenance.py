"""The daily retention job, and purging servers the bot was removed from.

Once a day (03:30 UTC) the job asks every personal-data source to delete what has passed its
retention period, then deletes everything kept for each server the bot left more than
``purge_after_days`` ago (30 by default). Re-adding the bot before then cancels the purge. It also
forgets the record of scheduled messages sent more than a week ago (:mod:`bot.sends`).
The job schedules the next day's run itself; :meth:`MaintenanceService.ensure_scheduled` at
start makes sure one is always pending.

Logs carry counts and server ids only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from bot.clock import Clock
from bot.privacy import PersonalDataRegistry
from bot.scheduler import Job, Scheduler
from bot.sends import KEEP_RECORDS
from bot.storage.bot_state import BotStateRepository
from bot.storage.guilds_lifecycle import GuildLifecycleRepository

log = logging.getLogger(__name__)

JOB_KIND = "maintenance.daily"
RUN_AT = time(3, 30, tzinfo=UTC)
# Retention is not time-critical: if the bot was down at 03:30, run when it is back the same day.
GRACE = timedelta(hours=12)


def job_id_for(run_at: datetime) -> str:
    return f"maintenance:daily:{run_at.astimezone(UTC).date().isoformat()}"


def next_run_after(moment: datetime) -> datetime:
    """The first 03:30 UTC strictly after ``moment``."""
    moment = moment.astimezone(UTC)
    candidate = datetime.combine(moment.date(), RUN_AT)
    return candidate if candidate > moment else candidate + timedelta(days=1)


@dataclass(slots=True)
class MaintenanceReport:
    expired: dict[str, int] = field(default_factory=dict)
    purged_guilds: list[int] = field(default_factory=list)
    failed_guilds: list[int] = field(default_factory=list)
    send_records: int = 0  # records of scheduled messages forgotten (their jobs long settled)

    @property
    def expired_total(self) -> int:
        return sum(self.expired.values())


class MaintenanceFailed(Exception):
    """Some servers could not be purged; they are retried on the next run. Not shown to users."""


class MaintenanceService:
    def __init__(
        self,
        registry: PersonalDataRegistry,
        guilds: GuildLifecycleRepository,
        scheduler: Scheduler,
        clock: Clock,
        *,
        circle_ids: Callable[[int], Awaitable[list[int]]] | None = None,
        bot_state: BotStateRepository | None = None,
    ) -> None:
        self.bot_state = bot_state
        self._lifecycle = asyncio.Lock()
        self.registry = registry
        self.guilds = guilds
        self.scheduler = scheduler
        self.clock = clock
        # Given a server, the circle ids whose scheduled jobs (``circle:{id}:...``) a purge cancels.
        self.circle_ids = circle_ids

    # -- the daily job ------------------------------------------------------------------

    async def ensure_scheduled(self) -> str:
        """Make sure a daily run is pending (call at start; idempotent). Returns its job id.

        A pending run whose grace window already passed (the bot was down) doesn't count: the
        scheduler records it as missed, so a fresh one is scheduled.
        """
        now = self.clock.now()
        for job in await self.scheduler.jobs.pending_of_kind(JOB_KIND):
            if now - job.run_at <= job.grace:
                return job.id
        return await self._schedule_next(now)

    async def run_daily(self, job: Job) -> None:
        """The scheduler's handler for ``maintenance.daily``."""
        try:
            report = await self.run()
        finally:
            await self._schedule_next(max(self.clock.now(), job.run_at))
        if report.failed_guilds:
            raise MaintenanceFailed(f"{len(report.failed_guilds)} server purge(s) failed; retried next run")

    async def run(self) -> MaintenanceReport:
        """Delete expired personal data, then purge servers whose grace period has passed."""
        now = self.clock.now()
        report = MaintenanceReport()
        report.expired = await self.registry.purge_expired(now)
        for guild_id in await self.guilds.due_for_purge(now):
            try:
                if self.circle_ids is not None:
                    for circle_id in await self.circle_ids(guild_id):
                        await self.scheduler.cancel_prefix(f"circle:{circle_id}:")
                counts = await self.registry.delete_guild(guild_id)
                await self.guilds.delete(guild_id)
            except Exception:
                log.exception("server purge failed guild=%s; retried next run", guild_id)
                report.failed_guilds.append(guild_id)
                continue
            report.purged_guilds.append(guild_id)
            log.info("server purged guild=%s rows=%d", guild_id, sum(counts.values()))
        report.send_records = await self.scheduler.sends.purge(now - KEEP_RECORDS)
        await self.guilds.db.checkpoint_after_delete()  # once, after everything the run deleted
        log.info(
            "daily maintenance expired_rows=%d purged_servers=%d failed_servers=%d send_records=%d",
            report.expired_total,
            len(report.purged_guilds),
            len(report.failed_guilds),
            report.send_records,
        )
        return report

    async def _schedule_next(self, after: datetime) -> str:
        run_at = next_run_after(after)
        return await self.scheduler.schedule(JOB_KIND, run_at, guild_id=None, job_id=job_id_for(run_at), grace=GRACE)

    # -- the bot joining and leaving servers --------------------------------------------

    # Joins, removals and the reconcile at connect take turns: a reconcile reads which servers
    # the bot is in and then writes, and a removal arriving in between must not be undone by it.

    async def guild_present(self, guild_id: int) -> None:
        """The bot is in this server (joined, or back after an outage or restart)."""
        async with self._lifecycle:
            if await self.guilds.mark_present(guild_id, self.clock.now()):
                log.info("bot re-added to a server; purge cancelled guild=%s", guild_id)

    async def guild_removed(self, guild_id: int) -> None:
        """The bot was removed from this server: its data is purged after the grace period."""
        async with self._lifecycle:
            await self._mark_removed(guild_id)

    async def _mark_removed(self, guild_id: int) -> None:
        await self.guilds.mark_removed(guild_id, self.clock.now())
        log.info("bot removed from a server; purge pending guild=%s", guild_id)

    async def reconcile_for(
        self, application_id: int | None, present: Iterable[int] | Callable[[], Iterable[int]]
    ) -> list[int] | None:
        """:meth:`reconcile`, but only for the Discord application that made this database.

        Pointing another bot account at the database must not mark every server as removed (and
        purge them 30 days later): then nothing is reconciled and ``None`` is returned.
        """
        if self.bot_state is not None:
            known, current = await self.bot_state.get("application_id"), str(application_id)
            if known is None:
                await self.bot_state.set("application_id", current)
            elif known != current:
                log.warning("the database was made by another Discord application; not reconciling servers")
                return None
        return await self.reconcile(present)

    async def reconcile(self, present: Iterable[int] | Callable[[], Iterable[int]]) -> list[int]:
        """At connect: mark present every server the bot is in, and removed every recorded
        server it is no longer in (it was removed while the bot was offline). Returns the latter.

        ``present`` may be a function: it is then called once the other lifecycle events have had
        their turn, so a removal that arrived meanwhile is seen."""
        async with self._lifecycle:
            present_ids = set(present() if callable(present) else present)
            for guild_id in await self.guilds.mark_present_many(present_ids, self.clock.now()):
                log.info("bot re-added to a server; purge cancelled guild=%s", guild_id)
            # Only the servers on this process's shards: with several processes, the others'
            # servers are absent from this process's list without the bot having been removed.
            owns = self.scheduler.scope.shards.owns
            gone = [g for g in await self.guilds.present_guild_ids() if g not in present_ids and owns(g)]
            for guild_id in gone:
                await self._mark_removed(guild_id)
            return gone
