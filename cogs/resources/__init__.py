"""/resources: crisis lines, always one step away (also in DMs).

Wired in ``bot/client.py`` (``setup_hook``), which passes exactly the services this feature uses.
"""

from __future__ import annotations

from discord.ext import commands

from bot.services.crisis import CrisisResources
from bot.services.server_settings import ServerSettings
from cogs.resources.cog import ResourcesCog


async def setup(bot: commands.Bot, *, crisis: CrisisResources, guild_settings: ServerSettings) -> ResourcesCog:
    cog = ResourcesCog(crisis, guild_settings)
    await bot.add_cog(cog)
    return cog
