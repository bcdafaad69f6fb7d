"""/checkin: private mood check-ins, history charts, reminders by DM; circle pulse and prompts for facilitators.

Wired in ``bot/client.py`` (``setup_hook``), which passes exactly the services this feature uses.
"""

from __future__ import annotations

from discord.ext import commands

from bot.services.checkins.service import CheckinService
from bot.services.crisis import CrisisResources
from bot.services.member_time import MemberTimeService
from bot.services.server_settings import ServerSettings
from bot.services.support.service import SupportService
from bot.ui.dispatch import ExpiredCards
from bot.ui.ports import AskListener
from cogs.checkins.cog import CheckinsCog


async def setup(
    bot: commands.Bot,
    *,
    checkins: CheckinService,
    crisis: CrisisResources,
    guild_settings: ServerSettings,
    support: SupportService,
    ask_listener: AskListener,
    expired: ExpiredCards,
    member_time: MemberTimeService,
) -> CheckinsCog:
    cog = CheckinsCog(bot, checkins, crisis, guild_settings, support, ask_listener, expired, member_time)
    await bot.add_cog(cog)
    return cog
