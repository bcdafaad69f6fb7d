"""/support: one-on-one support with a volunteer listener, relayed through the bot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from cogs.support.cog import SupportCog

if TYPE_CHECKING:
    from bot.client import PeerCirclesBot


async def setup(bot: PeerCirclesBot) -> None:
    services = cast(Any, bot.services)
    cog = SupportCog(
        bot,
        services.support,
        services.outbox,
        services.crisis,
        services.guild_settings,
        services.access,
    )
    await bot.add_cog(cog)
