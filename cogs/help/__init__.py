"""/help: the commands available to this person, grouped by the role they play.

Wired in ``bot/client.py`` (``setup_hook``), which passes exactly the services this feature uses.
"""

from __future__ import annotations

from discord.ext import commands

from bot.services.access import AccessService
from bot.services.circles import CircleService
from bot.services.rota.service import RotaService
from cogs.help.cog import HelpCog


async def setup(bot: commands.Bot, *, access: AccessService, rota: RotaService, circles: CircleService) -> HelpCog:
    cog = HelpCog(bot, access, rota, circles)
    await bot.add_cog(cog)
    return cog
