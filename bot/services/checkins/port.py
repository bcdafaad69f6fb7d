"""What the check-in service needs from Discord: :class:`CheckinDelivery`, implemented by the cog."""

from __future__ import annotations

from typing import Protocol

from bot.services.checkins.models import DeliveryResult
from bot.storage.checkins import Reminder
from bot.storage.circles import Circle


class CheckinDelivery(Protocol):
    """What the check-in service needs from Discord (implemented by the cog)."""

    async def member_role_ids(self, guild_id: int, user_id: int) -> frozenset[int] | None:
        """The member's role ids, or None if they are not in the server."""
        ...

    async def send_reminder(self, reminder: Reminder, circle: Circle) -> DeliveryResult:
        """DM the reminder with its buttons."""
        ...

    async def post_prompt(self, circle: Circle, previous_message_id: int | None) -> int | None:
        """Post the circle's check-in prompt (replacing the previous one); its message id, or None."""
        ...
