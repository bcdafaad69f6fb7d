"""/privacy: what the bot keeps about you, who can see it, and export or delete it.

Also keeps the record of which servers the bot is in, so a server's data is purged after the bot
is removed from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.privacy.cog import PrivacyCog

if TYPE_CHECKING:
    from bot.client import PeerCirclesBot


async def setup(bot: PeerCirclesBot) -> None:
    await bot.add_cog(PrivacyCog(bot, bot.services.privacy_service, bot.services.maintenance))
