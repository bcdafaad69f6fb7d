"""A server's settings as the Discord side reads them (time zone, country, moderation channel...).

Cogs read settings through this, never through the repository; changes go through
:class:`bot.services.setup_service.SetupService`, which checks who may make them and audits them.
"""

from __future__ import annotations

from bot.storage.guilds import GuildSettings, GuildSettingsRepository

__all__ = ["ServerSettings"]


class ServerSettings:
    def __init__(self, repo: GuildSettingsRepository) -> None:
        self._repo = repo

    async def get(self, guild_id: int) -> GuildSettings:
        """The server's settings, or the defaults for a server that never changed any."""
        return await self._repo.get(guild_id)

    async def remember_locales(self, locales: dict[int, str]) -> None:
        """Discord's locale of the servers this process sees (several processes: see the repository)."""
        await self._repo.remember_locales(locales)
