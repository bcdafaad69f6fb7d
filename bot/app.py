"""Wiring: build every service from the settings. No discord imports here.

The bot calls :func:`build_services` in ``setup_hook``; cogs receive the services they need.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.privacy import PersonalDataRegistry
from bot.scheduler import JobRepository, Scheduler
from bot.services.about import AboutService
from bot.storage.bot_state import BotStateRepository
from bot.storage.database import Database


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    scheduler: Scheduler
    privacy: PersonalDataRegistry
    bot_state: BotStateRepository
    about: AboutService

    async def close(self) -> None:
        await self.scheduler.shutdown()
        await self.db.close()


async def build_services(settings: Settings, *, clock: Clock | None = None, use_timers: bool = True) -> Services:
    """Open and migrate the database, then construct every service with its repositories."""
    clock = clock or SystemClock()
    db = Database(settings.database_path)
    await db.open()
    try:
        await db.migrate()
    except Exception:
        await db.close()
        raise
    privacy = PersonalDataRegistry()
    return Services(
        settings=settings,
        clock=clock,
        db=db,
        scheduler=Scheduler(JobRepository(db), clock, use_timers=use_timers),
        privacy=privacy,
        bot_state=BotStateRepository(db),
        about=AboutService(privacy),
    )
