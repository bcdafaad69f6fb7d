"""The time zone to use for a person: their own, else the server's."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.services.timezones import validate_timezone
from bot.storage.guilds import GuildSettingsRepository
from bot.storage.member_settings import MemberSettingsRepository


class MemberTimeService:
    def __init__(self, members: MemberSettingsRepository, guilds: GuildSettingsRepository, clock: Clock) -> None:
        self.members = members
        self.guilds = guilds
        self.clock = clock

    async def zone_name(self, guild_id: int, user_id: int) -> tuple[str, bool]:
        """(zone name, whether it is the person's own choice)."""
        own = await self.members.timezone(guild_id, user_id)
        if own:
            return own, True
        return (await self.guilds.get(guild_id)).timezone, False

    async def zone(self, guild_id: int, user_id: int) -> ZoneInfo:
        return ZoneInfo((await self.zone_name(guild_id, user_id))[0])

    async def set(self, guild_id: int, user_id: int, name: str) -> str:
        zone = validate_timezone(name)
        await self.members.set_timezone(guild_id, user_id, zone, self.clock.now())
        return zone

    async def clear(self, guild_id: int, user_id: int) -> None:
        await self.members.set_timezone(guild_id, user_id, None, self.clock.now())
