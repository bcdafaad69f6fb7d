"""The port through which domain services change things in a Discord server.

Services call these methods; ``bot/ui/guild_ops.py`` implements them with discord.py and turns a
missing permission into :class:`bot.errors.MissingBotPermissions`. Tests may use a fake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ChannelAccess:
    """Who may see and write in a circle's channel."""

    private: bool
    member_role_id: int | None
    facilitator_role_id: int | None
    read_only: bool = False


class GuildOps(Protocol):
    guild_id: int

    async def require(self, permissions: list[str], channel_id: int | None = None) -> None:
        """Raise MissingBotPermissions naming any of these (Discord names) the bot lacks."""
        ...

    async def create_role(self, name: str, reason: str) -> int: ...

    async def delete_role(self, role_id: int, reason: str) -> None: ...

    async def role_exists(self, role_id: int) -> bool: ...

    async def can_assign(self, role_id: int) -> bool:
        """Whether the bot's top role is above this role (Discord's role hierarchy)."""
        ...

    async def create_channel(self, name: str, topic: str, access: ChannelAccess, reason: str) -> int: ...

    async def channel_exists(self, channel_id: int) -> bool: ...

    async def delete_channel(self, channel_id: int, reason: str) -> None: ...

    async def set_channel_access(self, channel_id: int, access: ChannelAccess, reason: str) -> None: ...

    async def add_member_role(self, user_id: int, role_id: int, reason: str) -> None: ...

    async def remove_member_role(self, user_id: int, role_id: int, reason: str) -> None: ...

    async def member_has_role(self, user_id: int, role_id: int) -> bool: ...
