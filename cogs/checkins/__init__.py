"""/checkin: private mood check-ins, history charts, reminders by DM; circle pulse and prompts for facilitators."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.services.checkins import CheckinService
from cogs.checkins.cog import CheckinsCog

if TYPE_CHECKING:
    from bot.client import PeerCirclesBot


async def setup(bot: PeerCirclesBot) -> None:
    services = bot.services
    service = getattr(services, "checkins", None)
    if not isinstance(service, CheckinService):
        raise RuntimeError("services.checkins is missing: bot/app.py builds it (see CheckinService)")
    await bot.add_cog(CheckinsCog(bot, service, services.crisis, services.guild_settings))
