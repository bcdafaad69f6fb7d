"""Interactions and their webhooks: the callback that answers an interaction (within Discord's
3-second window), followups, and the interaction's messages read, edited or deleted by token."""

from __future__ import annotations

import time
from typing import Any

from bot.sandbox.errors import DiscordHTTPError, unknown
from bot.sandbox.gateway import INTENT_GUILD_MESSAGES
from bot.sandbox.models import FLAG_EPHEMERAL, Message
from bot.sandbox.routing import Request, Routes
from bot.sandbox.state import Interaction, SandboxState

TOKEN_LIFETIME_S = 15 * 60

routes = Routes()


@routes("POST", "/interactions/{interaction_id}/{interaction_token}/callback")
async def callback(state: SandboxState, req: Request) -> Any:
    interaction = state.interaction(req.params["interaction_id"], req.params["interaction_token"])
    if interaction.response_type is not None:
        raise DiscordHTTPError(400, 40060, "Interaction has already been acknowledged.")
    if time.monotonic() - interaction.created > state.interaction_timeout:
        interaction.late = True
        interaction.answered.set()
        raise unknown("interaction", 10062)
    body = req.json or {}
    kind = int(body.get("type", 0))
    data = body.get("data") or {}
    channel = state.channels[interaction.channel_id]
    message: Message | None = None
    if kind in (4, 5):
        if kind == 5:
            data = {"content": "", "flags": int(data.get("flags") or 0)}
            message = Message(state.ids.next(), channel.id, channel.guild_id, state.bot_user, flags=data["flags"])
            state.messages[message.id] = message
        else:
            message = state.make_message(channel, state.bot_user, data, req.files)
        message.interaction_id, message.interaction_user = interaction.id, interaction.user
        message.interaction_name = interaction.name
        if message.flags & FLAG_EPHEMERAL:
            message.ephemeral_to = interaction.user.id
        interaction.response_message = message
    elif kind in (6, 7):
        source = interaction.source_message
        if source is None:
            raise DiscordHTTPError(400, 40043, "This interaction type cannot update a message")
        if kind == 7:
            state.edit_message(source, data, req.files)
        interaction.versions_at_response = len(source.history)
        message = source
        interaction.response_message = source
    elif kind == 8:
        if interaction.type != 4:
            raise DiscordHTTPError(400, 50035, "Autocomplete results answer only autocomplete interactions")
        interaction.choices = list(data.get("choices") or [])
    elif kind == 9:
        if interaction.type == 5:
            raise DiscordHTTPError(400, 50035, "A modal submit cannot open another modal")
        interaction.modal = data
    else:
        raise DiscordHTTPError(400, 50035, f"Unsupported interaction callback type {kind}")
    interaction.response_type = kind
    interaction.responded.set()
    interaction.answered.set()
    if message is not None and not message.ephemeral_to and kind in (4,) and channel.guild_id:
        await state.dispatch("MESSAGE_CREATE", message.to_dict(), intent=INTENT_GUILD_MESSAGES)
    if req.query.get("with_response") in ("1", "true", "True"):
        return {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "response_message_id": str(message.id) if message else None,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(message and message.flags & FLAG_EPHEMERAL),
            },
            "resource": {"type": kind} | ({"message": message.to_dict()} if message else {}),
        }
    return None


@routes("POST", "/webhooks/{application_id}/{interaction_token}")
async def followup(state: SandboxState, req: Request) -> Any:
    interaction = state.interaction(None, req.params["interaction_token"])
    _check_token_alive(interaction)
    if interaction.response_type is None:
        raise DiscordHTTPError(400, 40060, "Interaction has not been acknowledged")
    channel = state.channels[interaction.channel_id]
    original = interaction.response_message
    if interaction.response_type == 5 and original is not None and not interaction.deferred_filled:
        # The first followup after a deferred reply replaces the "thinking" message and keeps
        # the ephemeral setting chosen when deferring.
        body = dict(req.json or {})
        body["flags"] = (int(body.get("flags") or 0) & ~FLAG_EPHEMERAL) | (original.flags & FLAG_EPHEMERAL)
        state.edit_message(original, body, req.files)
        original.edited_at = None
        interaction.deferred_filled = True
        return original.to_dict()
    message = state.make_message(channel, state.bot_user, req.json or {}, req.files)
    message.interaction_id, message.interaction_user = interaction.id, interaction.user
    message.webhook_id = state.application_id
    if message.flags & FLAG_EPHEMERAL:
        message.ephemeral_to = interaction.user.id
    interaction.followups.append(message)
    if not message.ephemeral_to and channel.guild_id:
        await state.dispatch("MESSAGE_CREATE", message.to_dict(), intent=INTENT_GUILD_MESSAGES)
    return message.to_dict()


@routes("GET", "/webhooks/{application_id}/{interaction_token}/messages/{message_id}")
async def get_webhook_message(state: SandboxState, req: Request) -> Any:
    return _webhook_message(state, req).to_dict()


@routes("PATCH", "/webhooks/{application_id}/{interaction_token}/messages/{message_id}")
async def edit_webhook_message(state: SandboxState, req: Request) -> Any:
    message = _webhook_message(state, req)
    state.edit_message(message, req.json or {}, req.files)
    interaction = state.interaction(None, req.params["interaction_token"])
    if message is interaction.response_message:
        interaction.deferred_filled = True
    return message.to_dict()


@routes("DELETE", "/webhooks/{application_id}/{interaction_token}/messages/{message_id}")
async def delete_webhook_message(state: SandboxState, req: Request) -> Any:
    message = _webhook_message(state, req)
    message.deleted = True
    return None


def _check_token_alive(interaction: Interaction) -> None:
    if time.monotonic() - interaction.created > TOKEN_LIFETIME_S:
        raise DiscordHTTPError(401, 50027, "Invalid Webhook Token")


def _webhook_message(state: SandboxState, req: Request) -> Message:
    interaction = state.interaction(None, req.params["interaction_token"])
    _check_token_alive(interaction)
    mid = req.params["message_id"]
    if mid == "@original":
        if interaction.response_message is None:
            raise unknown("Message", 10008)
        return interaction.response_message
    for message in interaction.followups + ([interaction.response_message] if interaction.response_message else []):
        if str(message.id) == mid:
            return message
    raise unknown("Message", 10008)
