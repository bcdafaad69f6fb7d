"""The sandbox's view of Discord: users, guilds, roles, channels, members, messages, events.

Objects serialise to the same JSON shapes Discord sends (``to_dict``), so the unmodified
discord.py client parses them as it would Discord's. Permission math follows Discord's rules
(base role permissions, then @everyone/role/member overwrites; administrators bypass).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1420070400000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
P = {
    "CREATE_INSTANT_INVITE": 1 << 0,
    "KICK_MEMBERS": 1 << 1,
    "BAN_MEMBERS": 1 << 2,
    "ADMINISTRATOR": 1 << 3,
    "MANAGE_CHANNELS": 1 << 4,
    "MANAGE_GUILD": 1 << 5,
    "ADD_REACTIONS": 1 << 6,
    "VIEW_CHANNEL": 1 << 10,
    "SEND_MESSAGES": 1 << 11,
    "MANAGE_MESSAGES": 1 << 13,
    "EMBED_LINKS": 1 << 14,
    "ATTACH_FILES": 1 << 15,
    "READ_MESSAGE_HISTORY": 1 << 16,
    "MENTION_EVERYONE": 1 << 17,
    "CONNECT": 1 << 20,
    "SPEAK": 1 << 21,
    "MANAGE_ROLES": 1 << 28,
    "MANAGE_WEBHOOKS": 1 << 29,
    "MANAGE_EVENTS": 1 << 33,
    "MANAGE_THREADS": 1 << 34,
    "CREATE_PUBLIC_THREADS": 1 << 35,
    "CREATE_PRIVATE_THREADS": 1 << 36,
    "SEND_MESSAGES_IN_THREADS": 1 << 38,
    "MODERATE_MEMBERS": 1 << 40,
    "CREATE_EVENTS": 1 << 44,
}
ALL_PERMISSIONS = (1 << 51) - 1
DEFAULT_EVERYONE = (
    P["VIEW_CHANNEL"]
    | P["SEND_MESSAGES"]
    | P["READ_MESSAGE_HISTORY"]
    | P["ADD_REACTIONS"]
    | P["EMBED_LINKS"]
    | P["ATTACH_FILES"]
    | P["SEND_MESSAGES_IN_THREADS"]
    | P["CREATE_PUBLIC_THREADS"]
    | P["CONNECT"]
    | P["SPEAK"]
)

GUILD_TEXT, DM, GUILD_VOICE, GUILD_CATEGORY, PUBLIC_THREAD, PRIVATE_THREAD, GUILD_STAGE_VOICE = 0, 1, 2, 4, 11, 12, 13
THREAD_TYPES = (PUBLIC_THREAD, PRIVATE_THREAD, 10)

FLAG_EPHEMERAL = 1 << 6
FLAG_COMPONENTS_V2 = 1 << 15


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class Snowflakes:
    """Discord-shaped ids that increase with time."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)


@dataclass
class User:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    dms_open: bool = True
    locale: str = "en-GB"  # the language their Discord client is set to (sent with each interaction)

    @property
    def display_name(self) -> str:
        return self.global_name or self.username

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    managed: bool = False
    bot_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "color": self.color,
            "colors": {"primary_color": self.color, "secondary_color": None, "tertiary_color": None},
            "hoist": self.hoist,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.bot_id:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class Overwrite:
    id: int
    type: int  # 0 role, 1 member
    allow: int = 0
    deny: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": str(self.id), "type": self.type, "allow": str(self.allow), "deny": str(self.deny)}


@dataclass
class Channel:
    id: int
    type: int
    name: str | None = None
    guild_id: int | None = None
    parent_id: int | None = None
    position: int = 0
    topic: str | None = None
    overwrites: dict[int, Overwrite] = field(default_factory=dict)
    recipients: list[User] = field(default_factory=list)
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    thread_member_ids: set[int] = field(default_factory=set)
    invitable: bool = True
    last_message_id: int | None = None

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": str(self.id), "type": self.type, "flags": 0}
        if self.type == DM:
            data["recipients"] = [u.to_dict() for u in self.recipients]
            data["last_message_id"] = str(self.last_message_id) if self.last_message_id else None
            return data
        data.update(
            {
                "guild_id": str(self.guild_id),
                "name": self.name,
                "position": self.position,
                "parent_id": str(self.parent_id) if self.parent_id else None,
                "permission_overwrites": [o.to_dict() for o in self.overwrites.values()],
                "nsfw": False,
            }
        )
        if self.type == GUILD_TEXT:
            data.update({"topic": self.topic, "rate_limit_per_user": 0, "last_message_id": None})
        if self.type in (GUILD_VOICE, GUILD_STAGE_VOICE):
            data.update({"bitrate": 64000, "user_limit": 0, "rtc_region": None})
        if self.is_thread:
            data.pop("permission_overwrites")
            data.update(
                {
                    "owner_id": str(self.owner_id) if self.owner_id else None,
                    "member_count": len(self.thread_member_ids),
                    "message_count": 0,
                    "total_message_sent": 0,
                    "rate_limit_per_user": 0,
                    "thread_metadata": {
                        "archived": self.archived,
                        "auto_archive_duration": 10080,
                        "archive_timestamp": iso(datetime.now(UTC)),
                        "locked": self.locked,
                        "invitable": self.invitable,
                    },
                }
            )
        return data


@dataclass
class Member:
    guild_id: int
    user: User
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user.to_dict(),
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "joined_at": iso(self.joined_at),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
        }


@dataclass
class Attachment:
    id: int
    filename: str
    data: bytes
    content_type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "url": f"https://cdn.sandbox.invalid/attachments/{self.id}/{self.filename}",
            "proxy_url": f"https://media.sandbox.invalid/attachments/{self.id}/{self.filename}",
            "content_type": self.content_type,
        }


@dataclass
class ScheduledEvent:
    id: int
    guild_id: int
    creator_id: int
    name: str
    scheduled_start_time: str
    scheduled_end_time: str | None
    entity_type: int
    privacy_level: int = 2
    status: int = 1
    description: str | None = None
    channel_id: int | None = None
    location: str | None = None
    interested: set[int] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "guild_id": str(self.guild_id),
            "channel_id": str(self.channel_id) if self.channel_id else None,
            "creator_id": str(self.creator_id),
            "name": self.name,
            "description": self.description,
            "scheduled_start_time": self.scheduled_start_time,
            "scheduled_end_time": self.scheduled_end_time,
            "privacy_level": self.privacy_level,
            "status": self.status,
            "entity_type": self.entity_type,
            "entity_id": None,
            "entity_metadata": {"location": self.location} if self.location else None,
            "user_count": len(self.interested),
            "image": None,
            "recurrence_rule": None,
        }


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    events: dict[int, ScheduledEvent] = field(default_factory=dict)
    preferred_locale: str = "en-US"  # the server's language in Discord (a Community setting)

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "roles": [r.to_dict() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": ["COMMUNITY"],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "preferred_locale": self.preferred_locale,
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
        }

    def gateway_payload(self, bot_user_id: int) -> dict[str, Any]:
        data = self.to_dict()
        bot_member = self.members.get(bot_user_id)
        data.update(
            {
                "joined_at": iso(bot_member.joined_at if bot_member else datetime.now(UTC)),
                "large": False,
                "unavailable": False,
                "member_count": len(self.members),
                "voice_states": [],
                # Without the privileged members intent Discord sends only the bot's own member.
                "members": [bot_member.to_dict()] if bot_member else [],
                "channels": [c.to_dict() for c in self.channels.values() if not c.is_thread],
                "threads": [c.to_dict() for c in self.channels.values() if c.is_thread and not c.archived],
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [e.to_dict() for e in self.events.values()],
                "soundboard_sounds": [],
            }
        )
        return data

    # -- permissions ----------------------------------------------------------------------

    def base_permissions(self, user_id: int) -> int:
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        member = self.members.get(user_id)
        if member is None:
            return 0
        perms = self.everyone.permissions
        for role_id in member.roles:
            role = self.roles.get(role_id)
            if role:
                perms |= role.permissions
        if perms & P["ADMINISTRATOR"]:
            return ALL_PERMISSIONS
        return perms

    def permissions_in(self, user_id: int, channel: Channel) -> int:
        perms = self.base_permissions(user_id)
        if perms == ALL_PERMISSIONS:
            return perms
        target = self.channels.get(channel.parent_id) if channel.is_thread and channel.parent_id else channel
        if target is None:
            return perms
        member = self.members.get(user_id)
        roles = set(member.roles) if member else set()
        everyone = target.overwrites.get(self.id)
        if everyone:
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for ow in target.overwrites.values():
            if ow.type == 0 and ow.id in roles:
                allow |= ow.allow
                deny |= ow.deny
        perms = (perms & ~deny) | allow
        own = target.overwrites.get(user_id)
        if own and own.type == 1:
            perms = (perms & ~own.deny) | own.allow
        if not perms & P["VIEW_CHANNEL"]:
            return 0
        if (
            channel.type == PRIVATE_THREAD
            and user_id not in channel.thread_member_ids
            and not perms & P["MANAGE_THREADS"]
        ):
            return 0
        return perms

    def top_role_position(self, user_id: int) -> int:
        member = self.members.get(user_id)
        if member is None:
            return 0
        return max((self.roles[r].position for r in member.roles if r in self.roles), default=0)


def has(perms: int, name: str) -> bool:
    return bool(perms & P[name])


def walk_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every component in a tree (action rows, containers, sections, labels), depth first."""
    found: list[dict[str, Any]] = []
    for comp in components or []:
        found.append(comp)
        found.extend(walk_components(comp.get("components", [])))
        if isinstance(comp.get("accessory"), dict):
            found.extend(walk_components([comp["accessory"]]))
        if isinstance(comp.get("component"), dict):
            found.extend(walk_components([comp["component"]]))
    return found


def component_text(components: list[dict[str, Any]]) -> list[str]:
    """Readable text of Components V2 displays and labels."""
    parts: list[str] = []
    for comp in walk_components(components):
        if comp.get("type") == 10 and comp.get("content"):
            parts.append(str(comp["content"]))
        if comp.get("type") == 18 and comp.get("label"):
            parts.append(str(comp["label"]))
    return parts


@dataclass
class Message:
    id: int
    channel_id: int
    guild_id: int | None
    author: User
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    attachments: list[Attachment] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    edited_at: datetime | None = None
    deleted: bool = False
    ephemeral_to: int | None = None
    interaction_id: int | None = None
    interaction_user: User | None = None
    interaction_name: str | None = None
    allowed_mentions: dict[str, Any] | None = None
    thread_id: int | None = None
    webhook_id: int | None = None
    nonce: str | None = None  # as sent with the create (Discord echoes it in the create's answer)
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def text(self) -> str:
        """Everything a person reads in this message, as plain text."""
        parts = [self.content] if self.content else []
        for embed in self.embeds:
            for key in ("title", "description"):
                if embed.get(key):
                    parts.append(str(embed[key]))
            for fld in embed.get("fields", []):
                parts.append(f"{fld.get('name', '')}: {fld.get('value', '')}")
            if embed.get("footer", {}).get("text"):
                parts.append(str(embed["footer"]["text"]))
            if embed.get("author", {}).get("name"):
                parts.append(str(embed["author"]["name"]))
        parts.extend(component_text(self.components))
        return "\n".join(parts)

    @property
    def all_components(self) -> list[dict[str, Any]]:
        return walk_components(self.components)

    @property
    def buttons(self) -> list[str]:
        return [c.get("label") or c.get("custom_id") or "" for c in self.all_components if c.get("type") == 2]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "author": self.author.to_dict(),
            "content": self.content,
            "timestamp": iso(self.created_at),
            "edited_timestamp": iso(self.edited_at) if self.edited_at else None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [a.to_dict() for a in self.attachments],
            "embeds": self.embeds,
            "pinned": False,
            "type": 20 if self.interaction_id else 0,
            "flags": self.flags,
            "components": self.components,
        }
        if self.guild_id:
            data["guild_id"] = str(self.guild_id)
        if self.webhook_id:
            data["webhook_id"] = str(self.webhook_id)
        if self.interaction_id and self.interaction_user:
            data["interaction_metadata"] = {
                "id": str(self.interaction_id),
                "type": 2,
                "user": self.interaction_user.to_dict(),
                "authorizing_integration_owners": {"0": str(self.guild_id)} if self.guild_id else {"1": "0"},
            }
        if self.thread_id:
            data["thread"] = {"id": str(self.thread_id)}
        if self.nonce is not None:
            data["nonce"] = self.nonce
        return data
