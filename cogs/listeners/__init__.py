"""/listener and /rota: volunteer listeners and their shifts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from cogs.listeners.cog import ListenersCog

if TYPE_CHECKING:
    from bot.client import PeerCirclesBot


async def setup(bot: PeerCirclesBot) -> None:
    services = cast(Any, bot.services)
    await bot.add_cog(ListenersCog(bot, services.rota, services.guild_settings, services.access))
