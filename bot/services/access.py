"""Who may manage circles, sessions and rotas: server admins and the coordinator role."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.errors import NotAllowed
from bot.storage.guilds import GuildSettingsRepository


@dataclass(frozen=True, slots=True)
class Actor:
    """The person acting, as far as permissions go."""

    user_id: int
    is_admin: bool  # Manage Server or Administrator
    role_ids: frozenset[int]

    @classmethod
    def of(cls, user_id: int, is_admin: bool, role_ids: Iterable[int]) -> Actor:
        return cls(user_id, is_admin, frozenset(role_ids))


class AccessService:
    def __init__(self, settings: GuildSettingsRepository) -> None:
        self.settings = settings

    async def is_coordinator(self, guild_id: int, actor: Actor) -> bool:
        if actor.is_admin:
            return True
        role = (await self.settings.get(guild_id)).coordinator_role_id
        return role is not None and role in actor.role_ids

    async def require_coordinator(self, guild_id: int, actor: Actor, what: str = "manage circles") -> None:
        if not await self.is_coordinator(guild_id, actor):
            raise NotAllowed(
                f"Only server admins (Manage Server) and the coordinator role can {what}. "
                "If you think you should be able to, ask a server admin."
            )

    @staticmethod
    def require_admin(actor: Actor, what: str = "change the server's peer-circles settings") -> None:
        if not actor.is_admin:
            raise NotAllowed(f"Only server admins (Manage Server) can {what}.")
