"""discord.py implementation of the :class:`bot.services.guild_ops.GuildOps` port."""

from __future__ import annotations

import discord

from bot.errors import MissingBotPermissions
from bot.services.guild_ops import ChannelAccess

ATTRIBUTES = {
    "Manage Roles": "manage_roles",
    "Manage Channels": "manage_channels",
    "Create Events": "create_events",
    "Manage Events": "manage_events",
    "Send Messages": "send_messages",
    "Send Messages in Threads": "send_messages_in_threads",
    "Create Public Threads": "create_public_threads",
    "Create Private Threads": "create_private_threads",
    "Manage Threads": "manage_threads",
    "Embed Links": "embed_links",
    "Attach Files": "attach_files",
    "View Channels": "view_channel",
    "Read Message History": "read_message_history",
}

# What the bot itself needs inside a circle's channel.
BOT_IN_CHANNEL = discord.PermissionOverwrite(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    manage_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
)


class DiscordGuildOps:
    def __init__(self, guild: discord.Guild) -> None:
        self.guild = guild
        self.guild_id = guild.id
        # Roles made through this object, in case the gateway's GUILD_ROLE_CREATE hasn't arrived yet.
        self._made: dict[int, discord.Role] = {}

    def _role(self, role_id: int) -> discord.Role | None:
        return self.guild.get_role(role_id) or self._made.get(role_id)

    @property
    def _me(self) -> discord.Member:
        me = self.guild.me
        if me is None:  # pragma: no cover - discord.py always caches the bot's own member
            raise MissingBotPermissions(["View Channels"])
        return me

    async def require(self, permissions: list[str], channel_id: int | None = None) -> None:
        channel = self.guild.get_channel(channel_id) if channel_id else None
        perms = channel.permissions_for(self._me) if channel is not None else self._me.guild_permissions
        missing = [name for name in permissions if not getattr(perms, ATTRIBUTES[name])]
        if missing:
            raise MissingBotPermissions(missing, f"#{channel.name}" if channel is not None else None)

    async def _forbidden(self, needed: list[str], where: str | None = None) -> MissingBotPermissions:
        return MissingBotPermissions(needed, where)

    async def create_role(self, name: str, reason: str) -> int:
        try:
            role = await self.guild.create_role(name=name, mentionable=False, hoist=False, reason=reason)
        except discord.Forbidden:
            raise await self._forbidden(["Manage Roles"]) from None
        self._made[role.id] = role
        return role.id

    async def delete_role(self, role_id: int, reason: str) -> None:
        role = self._role(role_id)
        if role is None:
            return
        try:
            await role.delete(reason=reason)
        except discord.NotFound:
            return
        except discord.Forbidden:
            raise await self._forbidden(["Manage Roles"]) from None

    async def role_exists(self, role_id: int) -> bool:
        return self._role(role_id) is not None

    async def can_assign(self, role_id: int) -> bool:
        role = self._role(role_id)
        return role is not None and not role.managed and self._me.top_role > role

    def _overwrites(
        self, access: ChannelAccess
    ) -> dict[discord.Role | discord.Member | discord.Object, discord.PermissionOverwrite]:
        write = not access.read_only
        overwrites: dict[discord.Role | discord.Member | discord.Object, discord.PermissionOverwrite] = {
            self._me: BOT_IN_CHANNEL
        }
        denied: dict[str, bool | None] = {}
        if access.private:
            denied["view_channel"] = False
        if access.read_only:
            denied.update(send_messages=False, send_messages_in_threads=False, create_public_threads=False)
        everyone = discord.PermissionOverwrite(**denied)
        if not everyone.is_empty():
            overwrites[self.guild.default_role] = everyone
        for role_id in (access.member_role_id, access.facilitator_role_id):
            role = self._role(role_id) if role_id is not None else None
            if role is None:
                continue
            overwrites[role] = discord.PermissionOverwrite(
                view_channel=True,
                read_message_history=True,
                send_messages=write,
                send_messages_in_threads=write,
            )
        return overwrites

    async def create_channel(self, name: str, topic: str, access: ChannelAccess, reason: str) -> int:
        try:
            overwrites = self._overwrites(access)
            if topic:
                channel = await self.guild.create_text_channel(name, topic=topic, overwrites=overwrites, reason=reason)
            else:
                channel = await self.guild.create_text_channel(name, overwrites=overwrites, reason=reason)
        except discord.Forbidden:
            raise await self._forbidden(["Manage Channels", "Manage Roles"]) from None
        return channel.id

    async def channel_exists(self, channel_id: int) -> bool:
        return self.guild.get_channel(channel_id) is not None

    async def delete_channel(self, channel_id: int, reason: str) -> None:
        channel = self.guild.get_channel(channel_id)
        if channel is None:
            return
        try:
            await channel.delete(reason=reason)
        except discord.NotFound:
            return
        except discord.Forbidden:
            raise await self._forbidden(["Manage Channels"]) from None

    async def set_channel_access(self, channel_id: int, access: ChannelAccess, reason: str) -> None:
        channel = self.guild.get_channel(channel_id)
        if channel is None:
            return
        try:
            await channel.edit(overwrites=self._overwrites(access), reason=reason)
        except discord.Forbidden:
            raise await self._forbidden(["Manage Roles", "Manage Channels"], f"#{channel.name}") from None

    async def add_member_role(self, user_id: int, role_id: int, reason: str) -> None:
        try:
            await self.guild._state.http.add_role(self.guild.id, user_id, role_id, reason=reason)
        except discord.Forbidden:
            raise await self._forbidden(["Manage Roles"]) from None

    async def remove_member_role(self, user_id: int, role_id: int, reason: str) -> None:
        try:
            await self.guild._state.http.remove_role(self.guild.id, user_id, role_id, reason=reason)
        except discord.NotFound:
            return
        except discord.Forbidden:
            raise await self._forbidden(["Manage Roles"]) from None

    async def member_has_role(self, user_id: int, role_id: int) -> bool:
        try:
            member = await self.guild.fetch_member(user_id)
        except discord.NotFound:
            return False
        return any(role.id == role_id for role in member.roles)
