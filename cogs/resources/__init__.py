"""/resources: crisis lines, always one step away (also in DMs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.resources.cog import ResourcesCog

if TYPE_CHECKING:
    from bot.client import PeerCirclesBot


async def setup(bot: PeerCirclesBot) -> None:
    await bot.add_cog(ResourcesCog(bot.services.crisis, bot.services.guild_settings))
