"""What every part of the sessions feature shares: its stores, clock and Discord port (one
:class:`SessionDeps`), and on :class:`SessionCore`, the base of each part, who may run a circle's
sessions, looking things up, the view of an occurrence, and the posts any part refreshes.

Logs carry event kinds, opaque ids and counts: never user ids, never text.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import date

from bot.clock import Clock
from bot.errors import NotFound
from bot.i18n import Msg, msg
from bot.scheduler import Job, Scheduler
from bot.services.access import AccessService, Actor
from bot.services.member_time import MemberTimeService
from bot.services.sessions.models import SessionView, parse_ref
from bot.services.sessions.port import SessionDiscord
from bot.storage.circles import Circle, CircleRepository
from bot.storage.guilds import GuildSettingsRepository
from bot.storage.sessions import Series, SessionRepository, StoredOccurrence

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SessionDeps:
    """One per service, shared by its parts: attaching the port here attaches it for all of them."""

    repo: SessionRepository
    circles: CircleRepository
    settings: GuildSettingsRepository
    access: AccessService
    member_time: MemberTimeService
    scheduler: Scheduler
    clock: Clock
    rng: random.Random
    discord: SessionDiscord | None = None


class SessionCore:
    def __init__(self, deps: SessionDeps) -> None:
        self.deps = deps
        self.repo = deps.repo
        self.circles = deps.circles
        self.settings = deps.settings
        self.access = deps.access
        self.member_time = deps.member_time
        self.scheduler = deps.scheduler
        self.clock = deps.clock
        self.rng = deps.rng

    @property
    def discord(self) -> SessionDiscord | None:
        """The cog's Discord port: None until the cog loads, and again after it unloads."""
        return self.deps.discord

    @property
    def port(self) -> SessionDiscord:
        if self.discord is None:
            raise RuntimeError("The sessions Discord port is not attached")
        return self.discord

    # -- rights -------------------------------------------------------------------------

    async def can_facilitate(self, circle: Circle, actor: Actor) -> bool:
        return await self.access.can_facilitate(circle, actor)

    async def require_facilitator(self, circle: Circle, actor: Actor, what: Msg | None = None) -> None:
        """``what`` completes "... can {what}", e.g. ``msg("skip its sessions")``."""
        await self.access.require_facilitator(circle, actor, what or msg("run its sessions"))

    async def require_facilitator_for(self, occurrence_id: int, actor: Actor, what: Msg) -> None:
        stored = await self.repo.occurrence(occurrence_id)
        circle = await self.circles.get(stored.circle_id) if stored else None
        if circle is None:
            raise NotFound(msg("That session no longer exists."))
        await self.require_facilitator(circle, actor, what)

    # -- looking things up ----------------------------------------------------------------

    async def circle(self, circle_id: int) -> Circle:
        circle = await self.circles.get(circle_id)
        if circle is None:
            raise NotFound(msg("That circle no longer exists."))
        return circle

    async def series(self, guild_id: int, series_id: int) -> Series:
        series = await self.repo.series(series_id)
        if series is None or series.guild_id != guild_id:
            raise NotFound(msg("I couldn't find that session. Pick one from the list Discord offers as you type."))
        return series

    async def resolve(self, guild_id: int, ref: str) -> tuple[Series, date | None]:
        series_id, day = parse_ref(ref)
        return await self.series(guild_id, series_id), day

    async def stored(self, occurrence_id: int) -> StoredOccurrence | None:
        return await self.repo.occurrence(occurrence_id)

    async def job_target(self, job: Job) -> tuple[StoredOccurrence, Series, Circle] | None:
        """A job's occurrence, series and circle; None if any of them is gone (the job no-ops)."""
        stored = await self.repo.occurrence(int(job.payload.get("occurrence_id", 0)))
        if stored is None:
            return None
        series = await self.repo.series(stored.series_id)
        circle = await self.circles.get(stored.circle_id)
        if series is None or circle is None:
            return None
        return stored, series, circle

    # -- views --------------------------------------------------------------------------

    async def view(
        self, occurrence: StoredOccurrence, series: Series | None = None, circle: Circle | None = None
    ) -> SessionView:
        series = series or await self.repo.series(occurrence.series_id)
        assert series is not None
        circle = circle or await self.circles.get(series.circle_id)
        going, waiting = await self.repo.count_rsvps(occurrence.id)
        return SessionView(
            occurrence_id=occurrence.id,
            series_id=series.id,
            guild_id=series.guild_id,
            circle_id=series.circle_id,
            circle_name=circle.name if circle else series.title,  # a deleted circle's rows go with it
            circle_channel_id=circle.channel_id if circle else None,
            title=series.title,
            description=series.description,
            starts_at=occurrence.starts_at,
            ends_at=occurrence.ends_at,
            timezone=series.timezone,
            rule=series.rule,
            channel_id=series.channel_id,
            channel_kind=series.channel_kind,
            channel_name=series.channel_name,
            capacity=series.capacity,
            going=going,
            waiting=waiting,
            status=occurrence.status,
            note=occurrence.note,
            event_id=occurrence.discord_event_id,
        )

    # -- announcements and notices ------------------------------------------------------

    async def refresh_announcement(self, stored: StoredOccurrence, view: SessionView | None = None) -> None:
        if self.discord is None or stored.announce_channel_id is None or stored.announce_message_id is None:
            return
        view = view or await self.view(stored)
        try:
            await self.discord.update_announcement(stored.announce_channel_id, stored.announce_message_id, view)
        except Exception:
            log.warning("could not update a session announcement occurrence=%s", stored.id)

    async def tell_mods(self, guild_id: int, text: Msg) -> None:
        channel_id = (await self.settings.get(guild_id)).mod_channel_id
        if channel_id is None or self.discord is None:
            log.info("session notice with no moderation channel guild=%s", guild_id)
            return
        try:
            await self.discord.post_text(guild_id, channel_id, text)
        except Exception:
            log.warning("could not post a session notice guild=%s", guild_id)
