"""Guilds, members and roles: a guild and its channels (created with permission overwrites),
its roles (under the bot's own in the hierarchy), and roles given to or taken from members."""

from __future__ import annotations

from typing import Any

from bot.sandbox.errors import missing_permissions, unknown
from bot.sandbox.gateway import INTENT_GUILD_MEMBERS, INTENT_GUILDS
from bot.sandbox.models import GUILD_TEXT, Guild, Member, Role
from bot.sandbox.routing import Request, Routes
from bot.sandbox.state import SandboxState, parse_overwrites

routes = Routes()


@routes("GET", "/guilds/{guild_id}")
async def get_guild(state: SandboxState, req: Request) -> Any:
    return state.guild(req.params["guild_id"]).to_dict()


@routes("GET", "/guilds/{guild_id}/channels")
async def guild_channels(state: SandboxState, req: Request) -> Any:
    guild = state.guild(req.params["guild_id"])
    return [c.to_dict() for c in guild.channels.values() if not c.is_thread]


@routes("POST", "/guilds/{guild_id}/channels")
async def create_channel(state: SandboxState, req: Request) -> Any:
    guild = state.guild(req.params["guild_id"])
    state.require_guild(guild, "MANAGE_CHANNELS")
    body = req.json or {}
    overwrites = body.get("permission_overwrites") or []
    state.check_overwrites(guild, overwrites)
    channel = state.add_channel(guild, str(body.get("name")), int(body.get("type") or GUILD_TEXT))
    channel.topic = body.get("topic")
    channel.parent_id = int(body["parent_id"]) if body.get("parent_id") else None
    channel.overwrites = parse_overwrites(overwrites)
    await state.dispatch("CHANNEL_CREATE", channel.to_dict(), intent=INTENT_GUILDS)
    return channel.to_dict()


# -- roles ----------------------------------------------------------------------------


@routes("GET", "/guilds/{guild_id}/roles")
async def roles(state: SandboxState, req: Request) -> Any:
    return [r.to_dict() for r in state.guild(req.params["guild_id"]).roles.values()]


@routes("POST", "/guilds/{guild_id}/roles")
async def create_role(state: SandboxState, req: Request) -> Any:
    guild = state.guild(req.params["guild_id"])
    state.require_guild(guild, "MANAGE_ROLES")
    body = req.json or {}
    perms = int(body.get("permissions") or 0)
    if perms & ~guild.base_permissions(state.bot_user.id):
        raise missing_permissions()
    role = state.add_role(guild, str(body.get("name") or "new role"), perms)
    role.mentionable = bool(body.get("mentionable", False))
    role.hoist = bool(body.get("hoist", False))
    await state.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.to_dict()}, intent=INTENT_GUILDS)
    return role.to_dict()


@routes("PATCH", "/guilds/{guild_id}/roles/{role_id}")
async def edit_role(state: SandboxState, req: Request) -> Any:
    guild = state.guild(req.params["guild_id"])
    role = _role(state, guild, req.params["role_id"])
    body = req.json or {}
    role.name = body.get("name", role.name)
    if "permissions" in body:
        role.permissions = int(body["permissions"] or 0)
    await state.dispatch("GUILD_ROLE_UPDATE", {"guild_id": str(guild.id), "role": role.to_dict()}, intent=INTENT_GUILDS)
    return role.to_dict()


@routes("DELETE", "/guilds/{guild_id}/roles/{role_id}")
async def delete_role(state: SandboxState, req: Request) -> Any:
    guild = state.guild(req.params["guild_id"])
    role = _role(state, guild, req.params["role_id"])
    await state.remove_role(guild, role)
    return None


# -- members --------------------------------------------------------------------------


@routes("GET", "/guilds/{guild_id}/members/{user_id}")
async def get_member(state: SandboxState, req: Request) -> Any:
    guild = state.guild(req.params["guild_id"])
    member = guild.members.get(int(req.params["user_id"]))
    if member is None:
        raise unknown("Member", 10007)
    return member.to_dict()


@routes("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
async def add_member_role(state: SandboxState, req: Request) -> Any:
    guild, member, role = _member_role(state, req)
    if role.id not in member.roles:
        member.roles.append(role.id)
        await _member_updated(state, guild, member)
    return None


@routes("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
async def remove_member_role(state: SandboxState, req: Request) -> Any:
    guild, member, role = _member_role(state, req)
    if role.id in member.roles:
        member.roles.remove(role.id)
        await _member_updated(state, guild, member)
    return None


def _role(state: SandboxState, guild: Guild, role_id: str) -> Role:
    """A role the bot may manage: below its own top role, and not an integration's."""
    role = guild.roles.get(int(role_id))
    if role is None:
        raise unknown("Role", 10011)
    state.require_guild(guild, "MANAGE_ROLES")
    if role.position >= guild.top_role_position(state.bot_user.id) or role.managed:
        raise missing_permissions()
    return role


def _member_role(state: SandboxState, req: Request) -> tuple[Guild, Member, Role]:
    guild = state.guild(req.params["guild_id"])
    member = guild.members.get(int(req.params["user_id"]))
    if member is None:
        raise unknown("Member", 10007)
    role = _role(state, guild, req.params["role_id"])
    return guild, member, role


async def _member_updated(state: SandboxState, guild: Guild, member: Member) -> None:
    await state.dispatch(
        "GUILD_MEMBER_UPDATE", member.to_dict() | {"guild_id": str(guild.id)}, intent=INTENT_GUILD_MEMBERS
    )
