"""The world as Discord keeps it, behind the sandbox's REST routes and gateway.

The application and its bot user, guilds, channels, messages, commands and interactions; building
that world for a test; the lookups and permission checks the routes share; changes an admin makes
by hand in Discord (which the bot hears about on the gateway); and waiting for a change.

With ``shard_count=N`` the bot must connect N shards, as Discord tells a bot with many guilds to:
each shard's READY lists the guilds ``(guild_id >> 22) % N`` puts on it, and each guild's events
go to its shard only (:mod:`~bot.sandbox.gateway`). ``add_guild(shard=i)`` places a guild on a shard.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.sandbox.errors import DiscordHTTPError, SandboxError, missing_permissions, unknown
from bot.sandbox.gateway import (
    INTENT_GUILD_SCHEDULED_EVENTS,
    INTENT_GUILDS,
    Gateway,
    ShardKey,
    shard_of,
)
from bot.sandbox.models import (
    DEFAULT_EVERYONE,
    DM,
    FLAG_EPHEMERAL,
    GUILD_TEXT,
    Attachment,
    Channel,
    Guild,
    Member,
    Message,
    Overwrite,
    P,
    Role,
    ScheduledEvent,
    Snowflakes,
    User,
    has,
)

INTERACTION_TIMEOUT_S = 3.0
# Discord dedupes an enforced message nonce "in the past few minutes" (per author).
NONCE_WINDOW_S = 5 * 60


@dataclass
class Interaction:
    id: int
    token: str
    type: int
    user: User
    guild_id: int | None
    channel_id: int
    data: dict[str, Any]
    source_message: Message | None = None
    created: float = field(default_factory=time.monotonic)  # Discord's 3-second window starts here
    sent: float | None = None  # when the sandbox had sent the INTERACTION_CREATE (for measuring)
    response_type: int | None = None
    response_message: Message | None = None
    modal: dict[str, Any] | None = None
    choices: list[dict[str, Any]] | None = None
    followups: list[Message] = field(default_factory=list)
    deferred_filled: bool = False
    versions_at_response: int = 0
    responded: asyncio.Event = field(default_factory=asyncio.Event)
    late: bool = False
    answered: asyncio.Event = field(default_factory=asyncio.Event)  # responded, or tried too late
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # any request on its token

    @property
    def name(self) -> str:
        return str(self.data.get("name") or self.data.get("custom_id") or "")


class SandboxState:
    """One bot application, any number of guilds and people, and the bot's gateway (``shard_count``
    shards: Discord's recommended count, which every IDENTIFY must use when it is above 1)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, shard_count: int = 1) -> None:
        self.host = host
        self.port = port  # 0: any free port, chosen at the first start; a restart keeps it
        self.ids = Snowflakes()
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.commands: dict[int | None, dict[str, dict[str, Any]]] = {None: {}}
        self.command_syncs: list[tuple[int | None, int]] = []
        self.interactions: dict[int, Interaction] = {}
        self._interactions_by_token: dict[str, Interaction] = {}
        # enforce_nonce: (author, nonce) -> (message, when it was created by nonce_clock())
        self.nonces: dict[tuple[int, str], tuple[int, float]] = {}
        self.nonce_window = NONCE_WINDOW_S
        # The clock the nonce window is measured on (seconds). A test on a fake clock can point
        # this at it, so Discord's memory of a nonce ends when the bot's clock says it does.
        self.nonce_clock: Callable[[], float] = time.monotonic
        self.interaction_timeout = INTERACTION_TIMEOUT_S
        self._dm_channels: dict[int, Channel] = {}  # user id -> their DM channel (an index)
        self.changed = asyncio.Condition()
        self.bot_user = self._new_user("peer-circles", bot=True)
        self.application_id = self.bot_user.id
        self.bot_token = f"sandbox.{secrets.token_urlsafe(24)}"
        self.gateway = Gateway(lambda: self.bot_token, self._welcome, self.notify, shard_count=shard_count)

    @property
    def shard_count(self) -> int:
        return self.gateway.shard_count

    def shard_of(self, guild: Guild | int) -> int:
        """The shard that gets this guild's events: Discord's ``(guild_id >> 22) % shard_count``."""
        return shard_of(guild if isinstance(guild, int) else guild.id, self.shard_count)

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every state change)."""

        async def waiter() -> Any:
            async with self.changed:
                while True:
                    result = predicate()
                    if result:
                        return result
                    await self.changed.wait()

        try:
            return await asyncio.wait_for(waiter(), timeout)
        except TimeoutError:
            raise SandboxError(f"Timed out after {timeout:g}s waiting for {what}") from None

    async def dispatch(self, event: str, data: dict[str, Any], *, intent: int = 0) -> None:
        """Send a gateway event to the bot (if it asked for ``intent``): to the shard of the event's
        guild (its ``guild_id``, or the ``id`` of a GUILD_CREATE/UPDATE/DELETE), else to shard 0."""
        await self.gateway.dispatch(event, data, intent=intent)

    def _welcome(self, session_id: str, shard: ShardKey | None) -> Iterator[tuple[str, dict[str, Any]]]:
        guilds = [g for g in self.guilds.values() if shard is None or shard_of(g.id, shard[1]) == shard[0]]
        ready: dict[str, Any] = {
            "v": 10,
            "user": self.bot_user.to_dict() | {"verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session_id,
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        if shard is not None:
            ready["shard"] = list(shard)
        yield "READY", ready
        for guild in guilds:
            yield "GUILD_CREATE", guild.gateway_payload(self.bot_user.id)

    # -- world building -----------------------------------------------------------------

    def _new_user(self, username: str, *, bot: bool = False, global_name: str | None = None) -> User:
        user = User(self.ids.next(), username, global_name, bot=bot)
        self.users[user.id] = user
        return user

    def add_user(self, username: str, global_name: str | None = None) -> User:
        return self._new_user(username, global_name=global_name)

    def add_guild(
        self, name: str = "Sandbox Server", *, bot_permissions: int | None = None, shard: int | None = None
    ) -> Guild:
        """A server with the bot in it. ``shard``: give it an id that Discord's formula puts on that
        shard (default: wherever its id falls)."""
        owner = self._new_user(f"{name.lower().replace(' ', '-')}-owner")
        guild = Guild(self._guild_id(shard), name, owner.id)
        guild.roles[guild.id] = Role(guild.id, guild.id, "@everyone", permissions=DEFAULT_EVERYONE, position=0)
        bot_role = Role(self.ids.next(), guild.id, "peer-circles", managed=True, bot_id=self.bot_user.id, position=1)
        from bot.permissions import BOT_PERMISSIONS

        bot_role.permissions = BOT_PERMISSIONS if bot_permissions is None else bot_permissions
        guild.roles[bot_role.id] = bot_role
        guild.members[owner.id] = Member(guild.id, owner)
        guild.members[self.bot_user.id] = Member(guild.id, self.bot_user, roles=[bot_role.id])
        self.guilds[guild.id] = guild
        return guild

    def _guild_id(self, shard: int | None) -> int:
        guild_id = self.ids.next()
        if shard is None:
            return guild_id
        count = self.shard_count
        if not 0 <= shard < count:
            raise SandboxError(f"No shard {shard}: the sandbox has {count} shard(s)")
        # The shard is (id >> 22) % count, the id's timestamp: move it on by at most count - 1 ms.
        return guild_id + (((shard - (guild_id >> 22)) % count) << 22)

    def add_channel(self, guild: Guild, name: str, type: int = GUILD_TEXT, parent_id: int | None = None) -> Channel:
        channel = Channel(self.ids.next(), type, name=name, guild_id=guild.id, parent_id=parent_id)
        channel.position = len(guild.channels)
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        return channel

    def add_role(self, guild: Guild, name: str, permissions: int = 0) -> Role:
        position = max((r.position for r in guild.roles.values()), default=0)
        # New roles go under the bot's role (as when an admin creates them after inviting the bot).
        role = Role(self.ids.next(), guild.id, name, permissions=permissions, position=1)
        for other in guild.roles.values():
            if other.id != guild.id and other.position >= 1:
                other.position += 1
        del position
        guild.roles[role.id] = role
        return role

    def add_member(self, guild: Guild, user: User, roles: list[int] | None = None) -> Member:
        member = Member(guild.id, user, roles=list(roles or []))
        guild.members[user.id] = member
        return member

    def bot_role(self, guild: Guild) -> Role:
        return next(r for r in guild.roles.values() if r.bot_id == self.bot_user.id)

    def guild_of(self, channel: Channel) -> Guild | None:
        return self.guilds.get(channel.guild_id) if channel.guild_id else None

    def dm_channel(self, user: User) -> Channel:
        known = self._dm_channels.get(user.id)
        if known is not None and self.channels.get(known.id) is known:
            return known
        for channel in self.channels.values():
            if channel.type == DM and channel.recipients and channel.recipients[0].id == user.id:
                self._dm_channels[user.id] = channel
                return channel
        channel = Channel(self.ids.next(), DM, recipients=[user])
        self.channels[channel.id] = channel
        self._dm_channels[user.id] = channel
        return channel

    def channel_messages(self, channel_id: int, *, include_deleted: bool = False) -> list[Message]:
        return [
            m
            for m in self.messages.values()
            if m.channel_id == channel_id and (include_deleted or not m.deleted) and not m.ephemeral_to
        ]

    def find_command(self, name: str, guild_id: int | None) -> dict[str, Any] | None:
        for scope in ([guild_id] if guild_id else []) + [None]:
            cmd = self.commands.get(scope, {}).get(f"1:{name}")
            if cmd:
                return cmd
        return None

    # -- lookups and checks the routes share (Discord's 404s and 403s) ------------------

    def channel(self, channel_id: str) -> Channel:
        channel = self.channels.get(int(channel_id))
        if channel is None:
            raise unknown("Channel", 10003)
        return channel

    def guild(self, guild_id: str) -> Guild:
        guild = self.guilds.get(int(guild_id))
        if guild is None or self.bot_user.id not in guild.members:
            raise unknown("Guild", 10004)
        return guild

    def message(self, channel: Channel, message_id: str) -> Message:
        message = self.messages.get(int(message_id))
        if message is None or message.deleted or message.channel_id != channel.id or message.ephemeral_to:
            raise unknown("Message", 10008)
        return message

    def _bot_perms(self, channel: Channel) -> int:
        guild = self.guild_of(channel)
        if guild is None:
            return -1
        return guild.permissions_in(self.bot_user.id, channel)

    def require(self, channel: Channel, *names: str) -> None:
        """The bot has these permissions in ``channel`` (any, in a DM), or Discord answers 403."""
        perms = self._bot_perms(channel)
        if perms == -1:
            return
        for name in names:
            if not has(perms, name):
                raise missing_permissions()

    def require_guild(self, guild: Guild, name: str) -> None:
        if not has(guild.base_permissions(self.bot_user.id), name):
            raise missing_permissions()

    def check_overwrites(self, guild: Guild, overwrites: list[dict[str, Any]]) -> None:
        """The bot may set these permission overwrites (it can grant only what it has)."""
        mine = guild.base_permissions(self.bot_user.id)
        for ow in overwrites:
            bits = int(ow.get("allow") or 0) | int(ow.get("deny") or 0)
            if bits & ~mine:
                raise missing_permissions()
            if bits & P["MANAGE_ROLES"] and not has(mine, "ADMINISTRATOR"):
                raise missing_permissions()
        if overwrites and not has(mine, "MANAGE_ROLES"):
            raise missing_permissions()

    # -- interactions -------------------------------------------------------------------

    def add_interaction(self, interaction: Interaction) -> None:
        self.interactions[interaction.id] = interaction
        self._interactions_by_token[interaction.token] = interaction

    def interaction(self, interaction_id: str | None, token: str) -> Interaction:
        found = self._interactions_by_token.get(token)
        if found is None:  # added without add_interaction: look through them all
            found = next((i for i in self.interactions.values() if i.token == token), None)
        if found is not None and (interaction_id is None or str(found.id) == interaction_id):
            return found
        raise unknown("interaction", 10062)

    async def create_interaction(
        self, user: User, type: int, data: dict[str, Any], channel: Channel, *, source: Message | None = None
    ) -> Interaction:
        """Someone used a command, a component or a form: Discord sends the bot an
        INTERACTION_CREATE (and its 3-second window starts)."""
        shard = self.shard_of(channel.guild_id) if channel.guild_id else 0
        if not self.gateway.shard_ready[shard].is_set():  # with one shard: gateway.ready
            where = f" (shard {shard})" if self.shard_count > 1 else ""
            raise SandboxError(f"The bot is not connected to the sandbox yet{where}")
        interaction = Interaction(
            id=self.ids.next(),
            token=f"sandbox-interaction.{secrets.token_urlsafe(32)}",
            type=type,
            user=user,
            guild_id=channel.guild_id,
            channel_id=channel.id,
            data=data,
            source_message=source,
        )
        self.add_interaction(interaction)
        payload: dict[str, Any] = {
            "id": str(interaction.id),
            "application_id": str(self.application_id),
            "type": type,
            "data": data,
            "token": interaction.token,
            "version": 1,
            "channel_id": str(channel.id),
            "locale": user.locale,
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        guild = self.guilds.get(channel.guild_id) if channel.guild_id else None
        if guild is not None:
            member = guild.members.get(user.id)
            if member is None:
                raise SandboxError(f"{user.username} is not in the server")
            perms = guild.permissions_in(user.id, channel)
            payload.update(
                {
                    "guild_id": str(guild.id),
                    "guild": {"id": str(guild.id), "locale": guild.preferred_locale, "features": ["COMMUNITY"]},
                    "guild_locale": guild.preferred_locale,
                    "member": member.to_dict() | {"permissions": str(perms)},
                    "app_permissions": str(guild.permissions_in(self.bot_user.id, channel)),
                    "channel": channel.to_dict(),
                    "authorizing_integration_owners": {"0": str(guild.id)},
                    "context": 0,
                }
            )
        else:
            payload.update(
                {
                    "user": user.to_dict(),
                    "app_permissions": str(
                        P["VIEW_CHANNEL"] | P["SEND_MESSAGES"] | P["EMBED_LINKS"] | P["ATTACH_FILES"]
                    ),
                    "channel": channel.to_dict(),
                    "authorizing_integration_owners": {"0": "0"},
                    "context": 1,
                }
            )
        if source is not None:
            payload["message"] = source.to_dict()
        await self.dispatch("INTERACTION_CREATE", payload)
        interaction.sent = time.monotonic()
        return interaction

    def interaction_changed(self, params: dict[str, str]) -> None:
        """Wake whoever waits on this interaction's response (see Outcome.settled)."""
        token = params.get("interaction_token")
        found = self._interactions_by_token.get(token) if token else None
        if found is not None:
            found.changed.set()

    # -- messages -----------------------------------------------------------------------

    def make_message(self, channel: Channel, author: User, body: dict[str, Any], files: list[Attachment]) -> Message:
        kept = _keep_attachments(body, files)
        message = Message(
            id=self.ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            content=str(body.get("content") or ""),
            embeds=list(body.get("embeds") or []),
            components=list(body.get("components") or []),
            flags=int(body.get("flags") or 0),
            attachments=kept,
            allowed_mentions=body.get("allowed_mentions"),
        )
        if not (message.content or message.embeds or message.components or message.attachments):
            raise DiscordHTTPError(400, 50006, "Cannot send an empty message")
        self.messages[message.id] = message
        channel.last_message_id = message.id
        return message

    def edit_message(self, message: Message, body: dict[str, Any], files: list[Attachment]) -> None:
        message.history.append(message.to_dict())
        for key in ("content", "embeds", "components", "allowed_mentions"):
            if key in body:
                setattr(message, key, body[key] if body[key] is not None else ([] if key != "content" else ""))
        if "flags" in body and body["flags"] is not None:
            message.flags = (message.flags & FLAG_EPHEMERAL) | int(body["flags"])
        if "attachments" in body or files:
            message.attachments = _keep_attachments(body, files, message.attachments)
        message.edited_at = now()

    # -- changes made "by hand" in Discord (tests use these via actors) -----------------

    async def remove_channel(self, channel: Channel) -> dict[str, Any]:
        guild = self.guild_of(channel)
        if guild:
            guild.channels.pop(channel.id, None)
        self.channels.pop(channel.id, None)
        await self.dispatch(
            "THREAD_DELETE" if channel.is_thread else "CHANNEL_DELETE", channel.to_dict(), intent=INTENT_GUILDS
        )
        await self.notify()
        return channel.to_dict()

    async def remove_role(self, guild: Guild, role: Role) -> None:
        guild.roles.pop(role.id, None)
        for member in guild.members.values():
            if role.id in member.roles:
                member.roles.remove(role.id)
        await self.dispatch(
            "GUILD_ROLE_DELETE", {"guild_id": str(guild.id), "role_id": str(role.id)}, intent=INTENT_GUILDS
        )
        await self.notify()

    async def remove_event(self, event: ScheduledEvent) -> None:
        self.guilds[event.guild_id].events.pop(event.id, None)
        await self.dispatch("GUILD_SCHEDULED_EVENT_DELETE", event.to_dict(), intent=INTENT_GUILD_SCHEDULED_EVENTS)
        await self.notify()

    async def set_guild_locale(self, guild: Guild, locale: str) -> None:
        """An admin changes the server's language in Discord's Community settings."""
        guild.preferred_locale = locale
        await self.dispatch("GUILD_UPDATE", guild.to_dict(), intent=INTENT_GUILDS)
        await self.notify()

    async def remove_bot_from(self, guild: Guild) -> None:
        guild.members.pop(self.bot_user.id, None)
        await self.dispatch("GUILD_DELETE", {"id": str(guild.id)}, intent=INTENT_GUILDS)
        await self.notify()


def now() -> datetime:
    return datetime.now(UTC)


def parse_overwrites(raw: list[dict[str, Any]]) -> dict[int, Overwrite]:
    return {
        int(o["id"]): Overwrite(int(o["id"]), int(o.get("type", 0)), int(o.get("allow") or 0), int(o.get("deny") or 0))
        for o in raw
    }


def _keep_attachments(
    body: dict[str, Any], files: list[Attachment], existing: list[Attachment] | None = None
) -> list[Attachment]:
    kept = []
    wanted = body.get("attachments")
    by_index = {i: f for i, f in enumerate(files)}
    if wanted is None:
        return list(existing or []) + files
    for item in wanted:
        item_id = str(item.get("id"))
        if item_id.isdigit() and int(item_id) in by_index:
            kept.append(by_index[int(item_id)])
        elif existing:
            kept.extend(a for a in existing if str(a.id) == item_id)
    return kept
