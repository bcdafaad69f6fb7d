"""What every part of check-ins shares: its stores, clock and Discord port (one :class:`CheckinDeps`),
and on :class:`CheckinCore`, the base of each part, who may do what and finding the circle.

Logs carry event kinds and opaque ids, never who checked in or what they wrote.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.i18n import Msg, msg
from bot.scheduler import Scheduler
from bot.services.access import AccessService, Actor
from bot.services.checkins.port import CheckinDelivery
from bot.services.circles import find_circle
from bot.services.member_time import MemberTimeService
from bot.storage.checkins import CheckinRepository
from bot.storage.circles import Circle, CircleRepository
from bot.storage.guilds import GuildSettingsRepository


@dataclass(slots=True)
class CheckinDeps:
    """One per service, shared by its parts: attaching the port here attaches it for all of them."""

    repo: CheckinRepository
    circles: CircleRepository
    access: AccessService
    member_time: MemberTimeService
    guild_settings: GuildSettingsRepository
    scheduler: Scheduler
    clock: Clock
    delivery: CheckinDelivery | None = None


class CheckinCore:
    def __init__(self, deps: CheckinDeps) -> None:
        self.deps = deps
        self.repo = deps.repo
        self.circles = deps.circles
        self.access = deps.access
        self.member_time = deps.member_time
        self.guild_settings = deps.guild_settings
        self.scheduler = deps.scheduler
        self.clock = deps.clock

    @property
    def delivery(self) -> CheckinDelivery | None:
        """The cog's Discord port: None until the cog attaches it."""
        return self.deps.delivery

    # -- who may do what ------------------------------------------------------------------------

    async def is_facilitator(self, circle: Circle, actor: Actor) -> bool:
        return await self.access.can_facilitate(circle, actor)

    async def require_facilitator(self, circle: Circle, actor: Actor, what: Msg) -> None:
        """``what`` is what they tried, to end the sentence: ``msg("see the circle's pulse")``."""
        await self.access.require_facilitator(circle, actor, what)

    @staticmethod
    def in_circle(circle: Circle, actor: Actor) -> bool:
        return circle.member_role_id is not None and circle.member_role_id in actor.role_ids

    def check_can_check_in(self, circle: Circle, actor: Actor) -> Circle:
        if not circle.active:
            raise InvalidInput(
                msg(
                    "The {circle} circle is archived, so it isn't taking check-ins. Nothing was stored; "
                    "your earlier check-ins are still in /checkin history.",
                    circle=circle.name,
                )
            )
        if circle.member_role_id is None:
            raise InvalidInput(
                msg(
                    "The {circle} circle needs a quick repair (its role is missing) before anyone can check in. "
                    "Nothing was stored. A server admin or coordinator can run /circle repair.",
                    circle=circle.name,
                )
            )
        if not self.in_circle(circle, actor):
            raise NotAllowed(
                msg(
                    "You're not in the {circle} circle, so you can't check in there. Nothing was stored. "
                    "You can join with /circle join circle:{circle}.",
                    circle=circle.name,
                )
            )
        return circle

    # -- finding the circle ---------------------------------------------------------------------

    async def member_circles(self, guild_id: int, actor: Actor) -> list[Circle]:
        """Active circles this person is in (they hold the member role)."""
        return [c for c in await self.circles.in_guild(guild_id) if self.in_circle(c, actor)]

    async def facilitated_circles(self, guild_id: int, actor: Actor) -> list[Circle]:
        return [c for c in await self.circles.in_guild(guild_id) if await self.is_facilitator(c, actor)]

    async def get_circle(self, circle_id: int) -> Circle:
        circle = await self.circles.get(circle_id)
        if circle is None:
            raise NotFound(msg("That circle no longer exists, so there's nowhere to check in. Nothing was stored."))
        return circle

    async def find_circle(self, guild_id: int, name: str) -> Circle:
        return await find_circle(self.circles, guild_id, name)

    async def resolve_circle(
        self, guild_id: int, actor: Actor, *, name: str | None = None, channel_id: int | None = None
    ) -> Circle:
        """The circle to check in to: the one named, else this channel's, else the member's only one."""
        if name:
            return self.check_can_check_in(await self.find_circle(guild_id, name), actor)
        if channel_id is not None:
            here = await self.circles.by_channel(channel_id)
            if here is not None and here.guild_id == guild_id:
                return self.check_can_check_in(here, actor)
        mine = await self.member_circles(guild_id, actor)
        if not mine:
            raise NotAllowed(
                msg(
                    "You're not in a circle here yet, so there's nowhere to check in. Nothing was stored. "
                    "See the circles with /circle list and join one with /circle join."
                )
            )
        if len(mine) > 1:
            names = ", ".join(c.name for c in mine)
            raise InvalidInput(
                msg("You're in more than one circle ({names}). Pick one with the circle option.", names=names)
            )
        return mine[0]

    async def resolve_facilitated(
        self, guild_id: int, actor: Actor, *, name: str | None, channel_id: int | None, what: Msg
    ) -> Circle:
        if name:
            circle = await self.find_circle(guild_id, name)
        else:
            here = await self.circles.by_channel(channel_id) if channel_id is not None else None
            if here is not None and here.guild_id == guild_id:
                circle = here
            else:
                mine = await self.facilitated_circles(guild_id, actor)
                if len(mine) != 1:
                    raise InvalidInput(msg("Which circle? Pick one with the circle option."))
                circle = mine[0]
        await self.require_facilitator(circle, actor, what)
        return circle

    async def _zone_name(self, guild_id: int, user_id: int) -> str:
        return (await self.member_time.zone_name(guild_id, user_id))[0]

    async def server_zone(self, guild_id: int) -> str:
        return (await self.guild_settings.get(guild_id)).timezone
