"""/timezone: a member's own time zone, used for every time the bot shows them.

Wired in ``bot/client.py`` (``setup_hook``), which passes exactly the services this feature uses.
"""

from __future__ import annotations

from discord.ext import commands

from bot.services.member_time import MemberTimeService
from cogs.timezone.cog import TimezoneCog


async def setup(bot: commands.Bot, *, member_time: MemberTimeService) -> TimezoneCog:
    cog = TimezoneCog(member_time)
    await bot.add_cog(cog)
    return cog
