"""Wiring: build every service from the settings. No discord imports here.

The bot calls :func:`build_services` in ``setup_hook``; cogs receive the services they need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.crypto import Keyring
from bot.privacy import PersonalDataRegistry
from bot.scheduler import JobRepository, JobScope, Scheduler
from bot.services.about import AboutService
from bot.services.access import AccessService
from bot.services.checkins.models import PROMPT_JOB as CHECKIN_PROMPT_JOB
from bot.services.checkins.models import REMINDER_JOB as CHECKIN_REMINDER_JOB
from bot.services.checkins.service import CheckinService
from bot.services.circles import CircleService
from bot.services.crisis import CrisisResources
from bot.services.maintenance import JOB_KIND as MAINTENANCE_JOB
from bot.services.maintenance import MaintenanceService
from bot.services.member_time import MemberTimeService
from bot.services.outbox import OutboxService
from bot.services.pending_requests import PendingRequestSweep
from bot.services.privacy_service import PrivacyService
from bot.services.pseudonyms import PseudonymService
from bot.services.rota.service import RotaService
from bot.services.server_settings import ServerSettings
from bot.services.sessions.service import SessionService
from bot.services.setup_service import SetupService
from bot.services.shares import ShareService
from bot.services.support.service import SupportService
from bot.storage.backends import database_for
from bot.storage.bot_state import BotStateRepository
from bot.storage.checkins import CheckinRepository, NoteCipher
from bot.storage.circles import CircleRepository
from bot.storage.coordination import CACHE_CHANNEL, Coordination, coordination_for
from bot.storage.database import Database
from bot.storage.guilds import GuildSettingsRepository
from bot.storage.guilds_lifecycle import GuildLifecycleRepository
from bot.storage.listeners import ListenerRepository
from bot.storage.member_settings import MemberSettingsRepository
from bot.storage.sessions import SessionRepository
from bot.storage.shares import ShareRepository
from bot.storage.support import SupportRepository


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    coordination: Coordination
    scheduler: Scheduler
    privacy: PersonalDataRegistry
    bot_state: BotStateRepository
    about: AboutService
    guild_settings: GuildSettingsRepository
    server_settings: ServerSettings
    access: AccessService
    crisis: CrisisResources
    setup: SetupService
    circles: CircleService
    privacy_service: PrivacyService
    maintenance: MaintenanceService
    member_time: MemberTimeService
    keyring: Keyring
    shares: ShareService
    rota: RotaService
    outbox: OutboxService
    support: SupportService
    pending_requests: PendingRequestSweep
    checkins: CheckinService
    sessions: SessionService

    async def close(self) -> None:
        await self.scheduler.shutdown()
        await self.coordination.close()
        await self.db.close()


async def build_services(settings: Settings, *, clock: Clock | None = None, use_timers: bool = True) -> Services:
    """Open and migrate the database, then construct every service with its repositories."""
    clock = clock or SystemClock()
    db = database_for(settings.database_url, settings.database_path)
    await db.open()
    try:
        await db.migrate()
    except Exception:
        await db.close()
        raise
    privacy = PersonalDataRegistry()
    # Several processes on one PostgreSQL: which servers' jobs and relays are this process's, and
    # how the processes wake each other (started by the client, which holds the shards).
    shards = settings.shards
    coordination = coordination_for(db, shards)
    scope = JobScope(shards, leading=lambda: coordination.leading)
    scheduler = Scheduler(JobRepository(db, scope), clock, use_timers=use_timers, coordination=coordination)
    guild_settings = GuildSettingsRepository(db, settings.default_timezone)
    guilds_lifecycle = GuildLifecycleRepository(db, settings.default_timezone)
    circle_repo = CircleRepository(db)
    privacy.register(circle_repo)

    async def circle_ids(guild_id: int) -> list[int]:
        return [c.id for c in await circle_repo.in_guild(guild_id, include_archived=True)]

    bot_state = BotStateRepository(db)
    maintenance = MaintenanceService(
        privacy, guilds_lifecycle, scheduler, clock, circle_ids=circle_ids, bot_state=bot_state
    )
    access = AccessService(guild_settings)
    crisis = CrisisResources()
    member_settings = MemberSettingsRepository(db)
    privacy.register(member_settings)
    keyring = Keyring(settings.secret_key)
    share_repo = ShareRepository(db, keyring.member_hash)
    privacy.register(share_repo)
    member_time = MemberTimeService(member_settings, guild_settings, clock)
    listener_repo = ListenerRepository(db)
    privacy.register(listener_repo)
    support_repo = SupportRepository(db, keyring.member_hash, clock)
    privacy.register(support_repo)
    rota = RotaService(
        listener_repo, guild_settings, access, scheduler, clock, active_counts=support_repo.active_counts
    )

    async def relay_failed(*args: Any) -> None:
        await support.delivery_failed(*args)  # the support service, built just below

    outbox = OutboxService(
        support_repo, keyring, clock, on_failed=relay_failed, shards=shards, coordination=coordination
    )
    support = SupportService(
        support_repo,
        listener_repo,
        rota,
        outbox,
        keyring,
        guild_settings,
        member_time,
        access,
        scheduler,
        clock,
    )
    checkin_repo = CheckinRepository(db, NoteCipher(settings.secret_key))
    privacy.register(checkin_repo)
    checkins = CheckinService(checkin_repo, circle_repo, access, member_time, guild_settings, scheduler, clock)
    session_repo = SessionRepository(db, settings.secret_key)
    privacy.register(session_repo)
    sessions = SessionService(session_repo, circle_repo, guild_settings, access, member_time, scheduler, clock)
    circle_service = CircleService(
        circle_repo, guild_settings, access, privacy, scheduler, clock, closing_hooks=[sessions.stop_circle]
    )
    shares = ShareService(
        share_repo,
        circle_repo,
        guild_settings,
        access,
        PseudonymService(keyring, share_repo, clock),
        keyring,
        scheduler,
        clock,
    )
    # In-memory caches, invalidated in every process sharing the database (bot.storage.coordination).
    # Circles and server settings are read from the database each time; the one cache of personal
    # data is which language was last written for a person (it saves a write per interaction).
    coordination.listen(CACHE_CHANNEL, lambda what: member_time.forget_languages() if what == "languages" else None)

    async def forget_cached() -> None:
        await coordination.notify(CACHE_CHANNEL, "languages")

    # Every scheduled job's handler, in one place (a job's kind names the feature it belongs to).
    # Jobs whose work is Discord's (an anonymous post going out after its delay) are registered by
    # the client's setup_hook, which owns the Discord side.
    scheduler.register(MAINTENANCE_JOB, maintenance.run_daily)
    scheduler.register(CHECKIN_REMINDER_JOB, checkins.run_reminder)
    scheduler.register(CHECKIN_PROMPT_JOB, checkins.run_prompt)
    for kind, handler in {**rota.handlers(), **support.handlers(), **sessions.job_handlers()}.items():
        scheduler.register(kind, handler)
    return Services(
        settings=settings,
        clock=clock,
        db=db,
        coordination=coordination,
        scheduler=scheduler,
        privacy=privacy,
        bot_state=bot_state,
        about=AboutService(privacy),
        guild_settings=guild_settings,
        server_settings=ServerSettings(guild_settings),
        access=access,
        crisis=crisis,
        setup=SetupService(guild_settings, access, crisis.name_of, clock),
        circles=circle_service,
        privacy_service=PrivacyService(privacy, clock, guilds=guilds_lifecycle, db=db, after_delete=forget_cached),
        maintenance=maintenance,
        member_time=member_time,
        checkins=checkins,
        sessions=sessions,
        keyring=keyring,
        shares=shares,
        rota=rota,
        outbox=outbox,
        support=support,
        pending_requests=PendingRequestSweep(checkins, support),
    )
