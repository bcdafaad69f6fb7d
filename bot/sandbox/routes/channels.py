"""Channels and messages: a channel read, edited or deleted, its permission overwrites, its
messages (with Discord's ``enforce_nonce``), and threads with their members."""

from __future__ import annotations

from typing import Any

from bot.sandbox.errors import DiscordHTTPError, unknown
from bot.sandbox.gateway import INTENT_DIRECT_MESSAGES, INTENT_GUILD_MESSAGES, INTENT_GUILDS
from bot.sandbox.models import DM, PRIVATE_THREAD, PUBLIC_THREAD, Channel, Overwrite
from bot.sandbox.routing import Request, Routes
from bot.sandbox.state import SandboxState, parse_overwrites

routes = Routes()


@routes("GET", "/channels/{channel_id}")
async def get_channel(state: SandboxState, req: Request) -> Any:
    return state.channel(req.params["channel_id"]).to_dict()


@routes("PATCH", "/channels/{channel_id}")
async def edit_channel(state: SandboxState, req: Request) -> Any:
    channel = state.channel(req.params["channel_id"])
    body = req.json or {}
    if channel.is_thread:
        if channel.owner_id != state.bot_user.id:
            state.require(channel, "MANAGE_THREADS")
        channel.archived = bool(body.get("archived", channel.archived))
        channel.locked = bool(body.get("locked", channel.locked))
    else:
        state.require(channel, "MANAGE_CHANNELS")
        if "permission_overwrites" in body:
            guild = state.guild_of(channel)
            assert guild is not None
            state.check_overwrites(guild, body["permission_overwrites"])
            channel.overwrites = parse_overwrites(body["permission_overwrites"])
        channel.topic = body.get("topic", channel.topic)
    channel.name = body.get("name", channel.name)
    await state.dispatch(
        "THREAD_UPDATE" if channel.is_thread else "CHANNEL_UPDATE", channel.to_dict(), intent=INTENT_GUILDS
    )
    return channel.to_dict()


@routes("DELETE", "/channels/{channel_id}")
async def delete_channel(state: SandboxState, req: Request) -> Any:
    channel = state.channel(req.params["channel_id"])
    state.require(channel, "MANAGE_THREADS" if channel.is_thread else "MANAGE_CHANNELS")
    return await state.remove_channel(channel)


@routes("PUT", "/channels/{channel_id}/permissions/{overwrite_id}")
async def put_overwrite(state: SandboxState, req: Request) -> Any:
    channel = state.channel(req.params["channel_id"])
    state.require(channel, "MANAGE_ROLES")
    body = req.json or {}
    oid = int(req.params["overwrite_id"])
    channel.overwrites[oid] = Overwrite(
        oid, int(body.get("type", 0)), int(body.get("allow") or 0), int(body.get("deny") or 0)
    )
    await state.dispatch("CHANNEL_UPDATE", channel.to_dict(), intent=INTENT_GUILDS)
    return None


# -- messages -------------------------------------------------------------------------


@routes("GET", "/channels/{channel_id}/messages")
async def history(state: SandboxState, req: Request) -> Any:
    channel = state.channel(req.params["channel_id"])
    state.require(channel, "VIEW_CHANNEL", "READ_MESSAGE_HISTORY")
    limit = int(req.query.get("limit", 50))
    return [m.to_dict() for m in reversed(state.channel_messages(channel.id))][:limit]


@routes("GET", "/channels/{channel_id}/messages/{message_id}")
async def get_message(state: SandboxState, req: Request) -> Any:
    channel = state.channel(req.params["channel_id"])
    state.require(channel, "VIEW_CHANNEL", "READ_MESSAGE_HISTORY")
    return state.message(channel, req.params["message_id"]).to_dict()


@routes("POST", "/channels/{channel_id}/messages")
async def create_message(state: SandboxState, req: Request) -> Any:
    channel = state.channel(req.params["channel_id"])
    if channel.type == DM:
        recipient = channel.recipients[0]
        if not recipient.dms_open:
            raise DiscordHTTPError(403, 50007, "Cannot send messages to this user")
    else:
        state.require(channel, "VIEW_CHANNEL", "SEND_MESSAGES_IN_THREADS" if channel.is_thread else "SEND_MESSAGES")
        if channel.is_thread and channel.archived and channel.locked:
            raise DiscordHTTPError(400, 50083, "Thread is archived")
        if channel.is_thread:
            channel.archived = False
    body = req.json or {}
    if (body.get("attachments") or req.files) and channel.guild_id:
        state.require(channel, "ATTACH_FILES")
    nonce = str(body["nonce"]) if body.get("nonce") is not None else None
    if nonce is not None and body.get("enforce_nonce"):
        # Discord's enforce_nonce: the same author's same nonce within a few minutes returns
        # the message already created (even in another channel); if that message was
        # deleted since, Discord answers Unknown Message rather than create it again.
        known = state.nonces.get((state.bot_user.id, nonce))
        if known is not None and state.nonce_clock() - known[1] <= state.nonce_window:
            earlier = state.messages[known[0]]
            if earlier.deleted:
                raise unknown("Message", 10008)
            return earlier.to_dict()
    message = state.make_message(channel, state.bot_user, body, req.files)
    message.nonce = nonce
    if nonce is not None and body.get("enforce_nonce"):
        state.nonces[(state.bot_user.id, nonce)] = (message.id, state.nonce_clock())
    await state.dispatch(
        "MESSAGE_CREATE",
        message.to_dict(),
        intent=INTENT_DIRECT_MESSAGES if channel.type == DM else INTENT_GUILD_MESSAGES,
    )
    return message.to_dict()


@routes("PATCH", "/channels/{channel_id}/messages/{message_id}")
async def edit_message(state: SandboxState, req: Request) -> Any:
    channel = state.channel(req.params["channel_id"])
    message = state.message(channel, req.params["message_id"])
    if message.author.id != state.bot_user.id:
        raise DiscordHTTPError(403, 50005, "Cannot edit a message authored by another user")
    state.edit_message(message, req.json or {}, req.files)
    return message.to_dict()


@routes("DELETE", "/channels/{channel_id}/messages/{message_id}")
async def delete_message(state: SandboxState, req: Request) -> Any:
    channel = state.channel(req.params["channel_id"])
    message = state.message(channel, req.params["message_id"])
    if message.author.id != state.bot_user.id:
        state.require(channel, "MANAGE_MESSAGES")
    message.deleted = True
    await state.dispatch(
        "MESSAGE_DELETE",
        {"id": str(message.id), "channel_id": str(channel.id)}
        | ({"guild_id": str(channel.guild_id)} if channel.guild_id else {}),
        intent=INTENT_DIRECT_MESSAGES if channel.type == DM else INTENT_GUILD_MESSAGES,
    )
    return None


# -- threads --------------------------------------------------------------------------


@routes("POST", "/channels/{channel_id}/messages/{message_id}/threads")
async def thread_from_message(state: SandboxState, req: Request) -> Any:
    channel = state.channel(req.params["channel_id"])
    state.require(channel, "VIEW_CHANNEL", "CREATE_PUBLIC_THREADS")
    message = state.message(channel, req.params["message_id"])
    if message.thread_id:
        raise DiscordHTTPError(400, 160004, "A thread has already been created for this message")
    thread = _new_thread(state, channel, PUBLIC_THREAD, (req.json or {}).get("name", "thread"))
    guild = state.guild_of(channel)
    assert guild is not None
    state.channels.pop(thread.id, None)
    guild.channels.pop(thread.id, None)
    thread.id = message.id  # Discord reuses the message id for a thread started from it
    state.channels[thread.id] = thread
    guild.channels[thread.id] = thread
    message.thread_id = thread.id
    await state.dispatch("THREAD_CREATE", thread.to_dict() | {"newly_created": True}, intent=INTENT_GUILDS)
    return thread.to_dict()


@routes("POST", "/channels/{channel_id}/threads")
async def thread_create(state: SandboxState, req: Request) -> Any:
    channel = state.channel(req.params["channel_id"])
    body = req.json or {}
    kind = int(body.get("type", PRIVATE_THREAD))
    state.require(
        channel, "VIEW_CHANNEL", "CREATE_PRIVATE_THREADS" if kind == PRIVATE_THREAD else "CREATE_PUBLIC_THREADS"
    )
    thread = _new_thread(state, channel, kind, body.get("name", "thread"))
    thread.invitable = bool(body.get("invitable", True))
    await state.dispatch("THREAD_CREATE", thread.to_dict() | {"newly_created": True}, intent=INTENT_GUILDS)
    return thread.to_dict()


@routes("PUT", "/channels/{channel_id}/thread-members/{user_id}")
async def thread_add(state: SandboxState, req: Request) -> Any:
    thread = state.channel(req.params["channel_id"])
    if not thread.is_thread:
        raise DiscordHTTPError(400, 50024, "Cannot execute action on this channel type")
    if thread.archived:
        raise DiscordHTTPError(400, 50083, "Thread is archived")
    user_id = state.bot_user.id if req.params["user_id"] == "@me" else int(req.params["user_id"])
    thread.thread_member_ids.add(user_id)
    return None


@routes("DELETE", "/channels/{channel_id}/thread-members/{user_id}")
async def thread_remove(state: SandboxState, req: Request) -> Any:
    thread = state.channel(req.params["channel_id"])
    user_id = state.bot_user.id if req.params["user_id"] == "@me" else int(req.params["user_id"])
    thread.thread_member_ids.discard(user_id)
    return None


def _new_thread(state: SandboxState, parent: Channel, kind: int, name: str) -> Channel:
    guild = state.guild_of(parent)
    assert guild is not None
    thread = Channel(state.ids.next(), kind, name=name[:100], guild_id=guild.id, parent_id=parent.id)
    thread.owner_id = state.bot_user.id
    thread.thread_member_ids.add(state.bot_user.id)
    guild.channels[thread.id] = thread
    state.channels[thread.id] = thread
    return thread
