"""/listener and /rota: volunteer listeners and their shifts.

Wired in ``bot/client.py`` (``setup_hook``), which passes exactly the services this feature uses.
"""

from __future__ import annotations

from discord.ext import commands

from bot.services.access import AccessService
from bot.services.member_time import MemberTimeService
from bot.services.pending_requests import PendingRequestSweep
from bot.services.rota.service import RotaService
from bot.services.server_settings import ServerSettings
from bot.services.support.service import SupportService
from cogs.listeners.cog import ListenersCog


async def setup(
    bot: commands.Bot,
    *,
    rota: RotaService,
    guild_settings: ServerSettings,
    access: AccessService,
    support: SupportService,
    pending: PendingRequestSweep,
    member_time: MemberTimeService,
) -> ListenersCog:
    cog = ListenersCog(bot, rota, guild_settings, access, support, pending, member_time)
    await bot.add_cog(cog)
    return cog
