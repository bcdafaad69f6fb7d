"""/setup: the server's peer-circles settings (admins).

Wired in ``bot/client.py`` (``setup_hook``), which passes exactly the services this feature uses.
"""

from __future__ import annotations

from discord.ext import commands

from bot.services.crisis import CrisisResources
from bot.services.setup_service import SetupService
from cogs.setup.cog import SetupCog


async def setup(bot: commands.Bot, *, setup_service: SetupService, crisis: CrisisResources) -> SetupCog:
    cog = SetupCog(bot, setup_service, crisis)
    await bot.add_cog(cog)
    return cog
