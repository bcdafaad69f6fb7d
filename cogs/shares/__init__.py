"""/share: anonymous sharing in circles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.services.shares import POST_JOB
from cogs.shares.cog import SharesCog

if TYPE_CHECKING:
    from bot.client import PeerCirclesBot


async def setup(bot: PeerCirclesBot) -> None:
    services = bot.services
    cog = SharesCog(bot, services.shares, services.crisis, services.guild_settings, services.access)
    services.scheduler.register(POST_JOB, cog.post_due)
    await bot.add_cog(cog)
