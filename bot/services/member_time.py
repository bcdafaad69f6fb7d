"""The time zone and the language to use for a person: their own, else the server's."""

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
        self._languages: dict[tuple[int, int], str] = {}

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

    # -- language ---------------------------------------------------------------------------

    async def language(self, guild_id: int, user_id: int) -> str | None:
        """The language this person last used with the bot in this server (for DMs sent later),
        else the server's chosen language, else Discord's server locale as last seen, else None
        (the caller falls back to the server locale)."""
        own = await self.members.language(guild_id, user_id)
        if own:
            return own
        self._languages.pop((guild_id, user_id), None)  # deleted (e.g. /privacy): write it again next time
        server = await self.guilds.get(guild_id)
        return server.language or server.discord_locale

    async def remember_language(self, guild_id: int, user_id: int, language: str) -> None:
        """Called on each interaction in a server; writes only when the language changed."""
        key = (guild_id, user_id)
        if self._languages.get(key) == language:
            return
        if len(self._languages) > 50_000:
            self._languages.clear()
        if await self.members.language(guild_id, user_id) != language:
            await self.members.set_language(guild_id, user_id, language, self.clock.now())
        self._languages[key] = language

    def forget_languages(self) -> None:
        """After a /privacy delete (in any process): the cache of what was written holds no trace
        of the person. All of it goes: the notification that asks names nobody."""
        self._languages.clear()
