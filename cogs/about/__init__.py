"""/about: what the bot is for, what it stores and for how long.

Wired in ``bot/client.py`` (``setup_hook``), which passes exactly the services this feature uses.
"""

from __future__ import annotations

from discord.ext import commands

from bot.services.about import AboutService
from cogs.about.cog import AboutCog


async def setup(bot: commands.Bot, *, about: AboutService) -> AboutCog:
    cog = AboutCog(about)
    await bot.add_cog(cog)
    return cog
