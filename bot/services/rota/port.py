"""The rota's Discord port, implemented by the listeners cog."""

from __future__ import annotations

import logging
from typing import Protocol

from bot.services.rota.models import RotaNotice

log = logging.getLogger(__name__)


class RotaPort(Protocol):
    async def tell_listener(self, user_id: int, notice: RotaNotice) -> int | None:
        """DM a listener; the message id, or None if it couldn't be delivered."""
        ...

    async def tell_coordinators(self, guild_id: int, notice: RotaNotice) -> int | None:
        """Post in the server's moderation channel; the message id, or None."""
        ...

    async def refresh_board(self, guild_id: int) -> None: ...

    async def set_listener_role(self, guild_id: int, user_id: int, role_id: int, give: bool) -> bool: ...
