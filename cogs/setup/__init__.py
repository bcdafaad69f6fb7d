"""/setup: the server's peer-circles settings (admins)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.setup.cog import SetupCog

if TYPE_CHECKING:
    from bot.client import PeerCirclesBot


async def setup(bot: PeerCirclesBot) -> None:
    await bot.add_cog(SetupCog(bot.services.setup, bot.services.crisis))
