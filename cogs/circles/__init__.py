"""/circle: create and look after circles (coordinators); join, leave and browse them (members).

Wired in ``bot/client.py`` (``setup_hook``), which passes exactly the services this feature uses.
"""

from __future__ import annotations

from discord.ext import commands

from bot.services.circles import CircleService
from bot.services.server_settings import ServerSettings
from cogs.circles.cog import CirclesCog


async def setup(bot: commands.Bot, *, circles: CircleService, guild_settings: ServerSettings) -> CirclesCog:
    cog = CirclesCog(circles, guild_settings)
    await bot.add_cog(cog)
    return cog
