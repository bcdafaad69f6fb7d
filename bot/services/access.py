"""Who may manage circles, sessions and rotas: server admins and the coordinator role."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.errors import NotAllowed
from bot.i18n import N_, Msg, msg
from bot.storage.circles import Circle
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


# What a person tried to do, after "Only server admins ... can": a phrase for the message below.
MANAGE_CIRCLES = N_("manage circles")
CHANGE_SETTINGS = N_("change the server's peer-circles settings")


class AccessService:
    def __init__(self, settings: GuildSettingsRepository) -> None:
        self.settings = settings

    async def is_coordinator(self, guild_id: int, actor: Actor) -> bool:
        if actor.is_admin:
            return True
        role = (await self.settings.get(guild_id)).coordinator_role_id
        return role is not None and role in actor.role_ids

    async def require_coordinator(self, guild_id: int, actor: Actor, what: str | Msg = MANAGE_CIRCLES) -> None:
        """``what`` is what they tried, after "can": ``N_("change the rota")`` or a ``msg(...)``."""
        if not await self.is_coordinator(guild_id, actor):
            raise NotAllowed(
                msg(
                    "Only server admins (Manage Server) and the coordinator role can {what}. "
                    "If you think you should be able to, ask a server admin.",
                    what=_said(what),
                )
            )

    async def can_facilitate(self, circle: Circle, actor: Actor) -> bool:
        """A facilitator of this circle: its facilitator role, or a server admin or coordinator."""
        if circle.facilitator_role_id is not None and circle.facilitator_role_id in actor.role_ids:
            return True
        return await self.is_coordinator(circle.guild_id, actor)

    async def require_facilitator(self, circle: Circle, actor: Actor, what: Msg) -> None:
        """``what`` completes "... can {what}", e.g. ``msg("skip its sessions")``."""
        if not await self.can_facilitate(circle, actor):
            raise NotAllowed(
                msg(
                    "Only the {circle} circle's facilitators, coordinators and server admins can {what}. "
                    "If you think you should be able to, ask a coordinator.",
                    circle=circle.name,
                    what=what,
                )
            )

    @staticmethod
    def require_admin(actor: Actor, what: str | Msg = CHANGE_SETTINGS) -> None:
        if not actor.is_admin:
            raise NotAllowed(msg("Only server admins (Manage Server) can {what}.", what=_said(what)))


def _said(what: str | Msg) -> Msg:
    """An English phrase (marked with ``N_`` where it is written) is looked up in the reader's language."""
    return what if isinstance(what, Msg) else msg(what)
