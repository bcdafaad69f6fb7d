"""The port through which support reaches Discord directly (attached by the support cog; relayed
text goes through the outbox's transport instead). This package imports nothing from discord."""

from __future__ import annotations

from typing import Protocol

from bot.services.support.models import Alert, Notice, OfferCard
from bot.storage.support import Conversation


class SupportPort(Protocol):
    async def tell(self, user_id: int, notice: Notice) -> bool:
        """A direct DM (not through the outbox); False if it couldn't be delivered."""
        ...

    async def send_offer(self, listener_user_id: int, card: OfferCard) -> tuple[int, int] | None: ...

    async def close_offer(self, channel_id: int, message_id: int, outcome: str) -> None: ...

    async def alert_coordinators(self, alert: Alert) -> tuple[int, int] | None: ...

    async def update_alert(self, guild_id: int, channel_id: int, message_id: int, outcome: str) -> None: ...

    async def open_thread(self, conversation: Conversation, channel_id: int, listener_user_id: int) -> int | None: ...

    async def add_to_thread(self, thread_id: int, user_id: int) -> None: ...
