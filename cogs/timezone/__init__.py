"""/timezone: a member's own time zone, used for every time the bot shows them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.timezone.cog import TimezoneCog

if TYPE_CHECKING:
    from bot.client import PeerCirclesBot


async def setup(bot: PeerCirclesBot) -> None:
    await bot.add_cog(TimezoneCog(bot.services.member_time))
