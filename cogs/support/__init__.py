"""/support: one-on-one support with a volunteer listener, relayed through the bot.

Wired in ``bot/client.py`` (``setup_hook``), which passes exactly the services this feature uses.
"""

from __future__ import annotations

from discord.ext import commands

from bot.services.access import AccessService
from bot.services.crisis import CrisisResources
from bot.services.member_time import MemberTimeService
from bot.services.outbox import OutboxService
from bot.services.pending_requests import PendingRequestSweep
from bot.services.server_settings import ServerSettings
from bot.services.support.service import SupportService
from cogs.support.cog import SupportCog


async def setup(
    bot: commands.Bot,
    *,
    support: SupportService,
    outbox: OutboxService,
    crisis: CrisisResources,
    guild_settings: ServerSettings,
    access: AccessService,
    pending: PendingRequestSweep,
    member_time: MemberTimeService,
) -> SupportCog:
    cog = SupportCog(bot, support, outbox, crisis, guild_settings, access, pending, member_time)
    await bot.add_cog(cog)
    return cog
