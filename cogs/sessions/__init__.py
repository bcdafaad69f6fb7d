"""/session: circle meetings as native Discord events, with RSVPs, DM reminders and a facilitated flow."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.services.sessions.service import SessionService
from cogs.sessions.cog import SessionsCog

if TYPE_CHECKING:
    from bot.client import PeerCirclesBot


async def setup(bot: PeerCirclesBot) -> None:
    service = getattr(bot.services, "sessions", None)
    if not isinstance(service, SessionService):
        raise RuntimeError("bot.services.sessions is not wired (see bot/app.py)")
    await bot.add_cog(SessionsCog(bot, service, bot.services.circles))
