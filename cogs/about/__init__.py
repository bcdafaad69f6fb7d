"""/about: what the bot is for, what it stores and for how long."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.about.cog import AboutCog

if TYPE_CHECKING:
    from bot.client import PeerCirclesBot


async def setup(bot: PeerCirclesBot) -> None:
    await bot.add_cog(AboutCog(bot.services.about))
