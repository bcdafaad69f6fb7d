"""/circle: create and look after circles (coordinators); join, leave and browse them (members)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.circles.cog import CirclesCog

if TYPE_CHECKING:
    from bot.client import PeerCirclesBot


async def setup(bot: PeerCirclesBot) -> None:
    await bot.add_cog(CirclesCog(bot.services.circles, bot.services.guild_settings))
