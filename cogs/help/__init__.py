"""/help: the commands available to this person, grouped by the role they play."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.help.cog import HelpCog

if TYPE_CHECKING:
    from bot.client import PeerCirclesBot


async def setup(bot: PeerCirclesBot) -> None:
    services = bot.services
    await bot.add_cog(HelpCog(bot, services.access, services.rota, services.circles))
