"""/share: anonymous sharing in circles.

Wired in ``bot/client.py`` (``setup_hook``), which passes exactly the services this feature uses.
"""

from __future__ import annotations

from discord.ext import commands

from bot.services.access import AccessService
from bot.services.crisis import CrisisResources
from bot.services.member_time import MemberTimeService
from bot.services.server_settings import ServerSettings
from bot.services.shares import ShareService
from bot.services.support.service import SupportService
from bot.ui.ports import AskListener
from cogs.shares.cog import SharesCog


async def setup(
    bot: commands.Bot,
    *,
    shares: ShareService,
    crisis: CrisisResources,
    guild_settings: ServerSettings,
    access: AccessService,
    support: SupportService,
    ask_listener: AskListener,
    member_time: MemberTimeService,
) -> SharesCog:
    cog = SharesCog(bot, shares, crisis, guild_settings, access, support, ask_listener, member_time)
    await bot.add_cog(cog)
    return cog
