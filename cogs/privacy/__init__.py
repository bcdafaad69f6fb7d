"""/privacy: what the bot keeps about you, who can see it, and export or delete it.

Also keeps the record of which servers the bot is in, so a server's data is purged after the bot
is removed from it.

Wired in ``bot/client.py`` (``setup_hook``), which passes exactly the services this feature uses.
"""

from __future__ import annotations

from discord.ext import commands

from bot.services.maintenance import MaintenanceService
from bot.services.privacy_service import PrivacyService
from bot.ui.dispatch import ExpiredCards
from cogs.privacy.cog import PrivacyCog


async def setup(
    bot: commands.Bot,
    *,
    privacy: PrivacyService,
    maintenance: MaintenanceService,
    expired: ExpiredCards,
) -> PrivacyCog:
    cog = PrivacyCog(bot, privacy, maintenance, expired)
    await bot.add_cog(cog)
    return cog
