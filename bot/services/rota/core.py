"""What every part of the rota shares: its stores, clock and Discord port (one :class:`RotaDeps`), and
on :class:`RotaCore`, the base of each part, the look-ups they all use: a server's zone and
settings, a listener, the window of shifts ahead, a listener's hours this week.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.errors import NotAllowed, NotFound
from bot.i18n import msg
from bot.scheduler import Scheduler
from bot.services.access import AccessService
from bot.services.rota.models import BOARD_DAYS, Coverage, coverage, parse_key
from bot.services.rota.port import RotaPort
from bot.storage.guilds import GuildSettingsRepository
from bot.storage.listeners import Listener, ListenerRepository, Slot, SupportSettings
from bot.timekeeping.parsing import MAX_DAYS_AHEAD
from bot.timekeeping.shifts import Occurrence, hours_in, occurrence_on
from bot.timekeeping.wallclock import week_bounds

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RotaDeps:
    """One per service, shared by its parts: attaching the port here attaches it for all of them."""

    repo: ListenerRepository
    guild_settings: GuildSettingsRepository
    access: AccessService
    scheduler: Scheduler
    clock: Clock
    # A server's open support conversations per listener (for /rota mine), given at wiring.
    active_counts: Callable[[int], Awaitable[dict[int, int]]] | None = None
    port: RotaPort | None = None


class RotaCore:
    def __init__(self, deps: RotaDeps) -> None:
        self.deps = deps
        self.repo = deps.repo
        self.guild_settings = deps.guild_settings
        self.access = deps.access
        self.scheduler = deps.scheduler
        self.clock = deps.clock

    @property
    def port(self) -> RotaPort | None:
        """The listeners cog's Discord port: None until the cog attaches it."""
        return self.deps.port

    @property
    def active_counts(self) -> Callable[[int], Awaitable[dict[int, int]]] | None:
        return self.deps.active_counts

    async def _zone(self, guild_id: int) -> str:
        return (await self.guild_settings.get(guild_id)).timezone

    async def _refresh(self, guild_id: int) -> None:
        if self.port is not None:
            try:
                await self.port.refresh_board(guild_id)
            except Exception:  # the board is a convenience: never fail the action for it
                log.exception("rota board refresh failed guild=%s", guild_id)

    async def settings(self, guild_id: int) -> SupportSettings:
        return await self.repo.settings(guild_id)

    async def listener(self, guild_id: int, user_id: int) -> Listener | None:
        return await self.repo.listener(guild_id, user_id)

    async def require_listener(self, guild_id: int, user_id: int) -> Listener:
        found = await self.repo.listener(guild_id, user_id)
        if found is None or found.status == "declined":
            raise NotAllowed(msg("That's for volunteer listeners. If you'd like to become one, run /listener join."))
        if found.status == "pending":
            raise NotAllowed(msg("Your listener application is waiting for a coordinator's approval. I'll DM you."))
        return found

    async def _give_role(self, guild_id: int, user_id: int, give: bool) -> bool:
        role = (await self.repo.settings(guild_id)).listener_role_id
        if role is None or self.port is None:
            return False
        return await self.port.set_listener_role(guild_id, user_id, role, give)

    async def shift_end_now(self, guild_id: int, user_id: int) -> datetime | None:
        """When the listener's current shift or on-call time ends (None if neither)."""
        now = self.clock.now()
        ends = [a.ends_at for a in await self.repo.covering(guild_id, now) if a.user_id == user_id]
        listener = await self.repo.listener(guild_id, user_id)
        if listener is not None and listener.available_until is not None and listener.available_until > now:
            ends.append(listener.available_until)
        return max(ends) if ends else None

    async def hours_this_week(self, guild_id: int, user_id: int, *, planned: bool = False) -> float:
        """Hours in the current local week: up to now (or, with ``planned``, the whole week)."""
        now = self.clock.now()
        start, end = week_bounds(now, await self._zone(guild_id))
        stop = end if planned else now
        shifts = [a for a in await self.repo.assignments_between(guild_id, start, stop) if a.user_id == user_id]
        oncall = await self.repo.oncall_between(guild_id, start, stop, user_id)
        return hours_in(shifts, oncall, start, stop).get(user_id, 0.0)

    async def window(self, guild_id: int, days: int = BOARD_DAYS) -> list[Coverage]:
        """Every occurrence from now for ``days``, with who is on it."""
        now = self.clock.now()
        end = now + timedelta(days=days)
        slots = await self.repo.slots(guild_id)
        assignments = await self.repo.assignments_between(guild_id, now, end)
        return [c for c in coverage(slots, assignments, now, end) if c.occurrence.ends_at > now]

    async def _slot_occurrence(self, guild_id: int, key: str) -> tuple[Slot, Occurrence]:
        slot_id, day = parse_key(key)
        if day > self.clock.now().date() + timedelta(days=MAX_DAYS_AHEAD):  # typed by hand: not on the rota
            raise NotFound(msg("That shift isn't on the rota that far ahead. /rota view shows the next two weeks."))
        slot = await self.repo.slot(slot_id)
        if slot is None or slot.guild_id != guild_id or slot.status != "active":
            raise NotFound(msg("That shift isn't on the rota any more."))
        occurrence = occurrence_on(slot, day)
        if occurrence is None:
            raise NotFound(msg("That shift doesn't happen on that day."))
        return slot, occurrence
