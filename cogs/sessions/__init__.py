"""/session: circle meetings as native Discord events, with RSVPs, DM reminders and a facilitated flow.

Wired in ``bot/client.py`` (``setup_hook``), which passes exactly the services this feature uses.
"""

from __future__ import annotations

from discord.ext import commands

from bot.services.circles import CircleService
from bot.services.crisis import CrisisResources
from bot.services.member_time import MemberTimeService
from bot.services.server_settings import ServerSettings
from bot.services.sessions.service import SessionService
from cogs.sessions.cog import SessionsCog


async def setup(
    bot: commands.Bot,
    *,
    sessions: SessionService,
    circles: CircleService,
    crisis: CrisisResources,
    guild_settings: ServerSettings,
    member_time: MemberTimeService,
) -> SessionsCog:
    cog = SessionsCog(bot, sessions, circles, crisis, guild_settings, member_time)
    await bot.add_cog(cog)
    return cog
