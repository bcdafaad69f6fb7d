"""discord.py implementation of the :class:`bot.services.sessions.port.SessionDiscord` port.

Everything here works before the gateway is ready (REST only, through partial messageables and
the HTTP client), because scheduled jobs whose time passed while the bot was down run during
start-up, before the guild cache is filled.

Who reads decides the language: the Discord event, the announcement, the opening, the go-round,
the closing and the moderators' notices are in the server's language; reminders and notices by DM
in the language the member last used with the bot in that server.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC
from typing import Any

import discord

from bot.errors import MissingBotPermissions
from bot.i18n import Msg, Speaker
from bot.services.member_time import MemberTimeService
from bot.services.server_settings import ServerSettings
from bot.services.sessions.models import DmResult, GoRoundView, ReminderView, SessionView
from bot.ui.language import member_speaker, server_speaker
from bot.ui.replies import NO_PINGS
from bot.ui.sending import retry_if_transient, scheduled_send
from cogs.sessions.views import (
    Notice,
    announcement_card,
    closing_card,
    goround_card,
    opening_card,
    reminder_card,
)

log = logging.getLogger(__name__)

DMS_CLOSED = 50007
UNKNOWN_EVENT = 10070
ENTITY_TYPES = {"stage": 1, "voice": 2, "text": 3}
STATUSES = {"scheduled": 1, "active": 2, "completed": 3, "canceled": 4}
GUILD_ONLY = 2
PAGE = 100


def _iso(moment: Any) -> str:
    return str(moment.astimezone(UTC).isoformat())


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class DiscordSessionPort:
    def __init__(self, client: discord.Client, settings: ServerSettings, member_time: MemberTimeService) -> None:
        self.client = client
        self.settings = settings
        self.member_time = member_time

    # -- who reads ------------------------------------------------------------------------

    async def _server(self, guild_id: int) -> Speaker:
        """Posts for the circle: the server's language."""
        return await server_speaker(self.settings, guild_id, self.client.get_guild(guild_id))

    async def _member(self, guild_id: int, user_id: int) -> Speaker:
        """A DM sent later: the language the member last used with the bot in this server."""
        return await member_speaker(self.member_time, guild_id, user_id, self.client.get_guild(guild_id))

    # -- permissions --------------------------------------------------------------------

    def _me(self, guild_id: int) -> tuple[discord.Guild, discord.Member] | None:
        guild = self.client.get_guild(guild_id)
        if guild is None or guild.me is None:
            return None
        return guild, guild.me

    async def require_event_permissions(self, guild_id: int, channel_id: int, channel_kind: str) -> None:
        found = self._me(guild_id)
        if found is None:
            return
        guild, me = found
        channel = guild.get_channel(channel_id)
        perms = channel.permissions_for(me) if channel is not None else me.guild_permissions
        if not (perms.create_events or perms.manage_events):
            where = f"#{channel.name}" if channel is not None and channel_kind != "text" else None
            raise MissingBotPermissions(["Create Events"], where)
        if channel is not None and channel_kind != "text" and not perms.view_channel:
            raise MissingBotPermissions(["View Channels"], f"#{channel.name}")

    async def require_post(self, guild_id: int, channel_id: int) -> None:
        found = self._me(guild_id)
        if found is None:
            return
        guild, me = found
        channel = guild.get_channel(channel_id)
        if channel is None:
            return
        perms = channel.permissions_for(me)
        missing = [
            name
            for name, ok in (("View Channels", perms.view_channel), ("Send Messages", perms.send_messages))
            if not ok
        ]
        if missing:
            raise MissingBotPermissions(missing, f"#{channel.name}")

    # -- events -------------------------------------------------------------------------

    def _event_payload(self, view: SessionView, t: Speaker) -> dict[str, Any]:
        description = view.description
        description = (description + "\n\n" if description else "") + t(
            "A {circle} circle session. RSVP with Going on its announcement, or press Interested here.",
            circle=view.circle_name,
        )
        payload: dict[str, Any] = {
            "name": view.title[:100],
            "description": description[:1000],
            "privacy_level": GUILD_ONLY,
            "scheduled_start_time": _iso(view.starts_at),
            "scheduled_end_time": _iso(view.ends_at),
            "entity_type": ENTITY_TYPES[view.channel_kind],
        }
        if view.channel_kind == "text":
            name = view.channel_name or t("circle channel")
            payload["channel_id"] = None
            payload["entity_metadata"] = {"location": f"#{name}"[:100]}
        else:
            payload["channel_id"] = str(view.channel_id)
            payload["entity_metadata"] = None
        return payload

    async def create_event(self, view: SessionView) -> int:
        t = await self._server(view.guild_id)
        payload = self._event_payload(view, t)
        if payload.get("channel_id") is None:
            payload.pop("channel_id")
        if payload.get("entity_metadata") is None:
            payload.pop("entity_metadata")
        try:
            data = await self.client.http.create_guild_scheduled_event(
                view.guild_id, reason=t("peer-circles: a circle session"), **payload
            )
        except discord.Forbidden:
            raise MissingBotPermissions(["Create Events"]) from None
        return int(data["id"])

    async def update_event(self, view: SessionView) -> bool:
        if view.event_id is None:
            return False
        t = await self._server(view.guild_id)
        try:
            await self.client.http.edit_scheduled_event(
                view.guild_id, view.event_id, reason=t("peer-circles: session changed"), **self._event_payload(view, t)
            )
        except discord.NotFound:
            return False
        except discord.Forbidden:
            raise MissingBotPermissions(["Manage Events"]) from None
        return True

    async def set_event_status(self, guild_id: int, event_id: int, status: str) -> bool:
        try:
            await self.client.http.edit_scheduled_event(guild_id, event_id, status=STATUSES[status])
        except discord.NotFound:
            return False
        return True

    async def delete_event(self, guild_id: int, event_id: int) -> None:
        t = await self._server(guild_id)
        try:
            await self.client.http.delete_scheduled_event(
                guild_id, event_id, reason=t("peer-circles: session called off")
            )
        except discord.NotFound:
            return

    async def interested(self, guild_id: int, event_id: int) -> list[int] | None:
        found: list[int] = []
        after: int | None = None
        try:
            while True:
                page = await self.client.http.get_scheduled_event_users(
                    guild_id, event_id, limit=PAGE, with_member=False, after=after
                )
                ids = [int(entry["user"]["id"]) for entry in page]
                found.extend(ids)
                if len(ids) < PAGE:
                    return found
                after = max(ids)
        except discord.NotFound:
            return None
        except discord.HTTPException:
            log.warning("could not read interested users event=%s", event_id)
            return None

    # -- posts ----------------------------------------------------------------------------

    def _channel(self, channel_id: int) -> discord.PartialMessageable:
        return self.client.get_partial_messageable(channel_id)

    async def _send(self, channel_id: int, view: discord.ui.LayoutView, key: str) -> int | None:
        """Post in a channel; from a job, once per occurrence and ``key`` (bot.ui.sending)."""
        channel = self._channel(channel_id)
        try:
            posted = await scheduled_send(
                key, lambda nonce: channel.send(view=view, allowed_mentions=NO_PINGS, nonce=nonce)
            )
        except discord.NotFound:
            return None
        except discord.Forbidden as exc:
            raise MissingBotPermissions(["View Channels", "Send Messages"]) from exc
        return posted.message_id

    async def _edit(self, channel_id: int, message_id: int, view: discord.ui.LayoutView) -> None:
        try:
            await self._channel(channel_id).get_partial_message(message_id).edit(view=view, allowed_mentions=NO_PINGS)
        except discord.NotFound:
            log.info("a session post was deleted by hand message_channel=%s", channel_id)

    async def post_announcement(self, channel_id: int, view: SessionView) -> int | None:
        t = await self._server(view.guild_id)
        return await self._send(channel_id, announcement_card(view, t), f"announcement:{view.occurrence_id}")

    async def update_announcement(self, channel_id: int, message_id: int, view: SessionView) -> None:
        await self._edit(channel_id, message_id, announcement_card(view, await self._server(view.guild_id)))

    async def post_opening(self, channel_id: int, view: SessionView, ground_rules: str) -> int | None:
        t = await self._server(view.guild_id)
        return await self._send(channel_id, opening_card(view, ground_rules, t), f"opening:{view.occurrence_id}")

    async def close_opening(self, channel_id: int, message_id: int, view: SessionView, ground_rules: str) -> None:
        t = await self._server(view.guild_id)
        await self._edit(channel_id, message_id, opening_card(view, ground_rules, t, closed=True))

    async def post_goround(self, channel_id: int, view: SessionView, goround: GoRoundView) -> int | None:
        t = await self._server(view.guild_id)
        return await self._send(channel_id, goround_card(view, goround, t), f"goround:{view.occurrence_id}")

    async def update_goround(self, channel_id: int, message_id: int, view: SessionView, goround: GoRoundView) -> None:
        await self._edit(channel_id, message_id, goround_card(view, goround, await self._server(view.guild_id)))

    async def post_closing(self, channel_id: int, view: SessionView) -> int | None:
        t = await self._server(view.guild_id)
        return await self._send(channel_id, closing_card(view, t), f"closing:{view.occurrence_id}")

    async def post_text(self, guild_id: int, channel_id: int, text: Msg) -> None:
        channel = self._channel(channel_id)
        said = (await self._server(guild_id)).render(text)
        try:
            # Once per channel and message (the English text names it, whatever the language).
            await scheduled_send(
                f"text:{channel_id}:{_digest(str(text))}",
                lambda nonce: channel.send(said[:2000], allowed_mentions=NO_PINGS, nonce=nonce),
            )
        except discord.HTTPException:
            log.warning("could not post a session notice channel=%s", channel_id)

    # -- direct messages ------------------------------------------------------------------

    async def _dm(self, user_id: int, view: discord.ui.LayoutView, key: str) -> DmResult:
        """A DM; from a job, once per occurrence and ``key``. A passing failure there raises
        RetryLater (so a 503 isn't taken for closed DMs); other errors are FAILED as before."""
        try:
            with retry_if_transient():
                channel = await self.client.create_dm(discord.Object(user_id))
            sent = await scheduled_send(
                key, lambda nonce: channel.send(view=view, allowed_mentions=NO_PINGS, nonce=nonce)
            )
        except discord.Forbidden as exc:
            if exc.code == DMS_CLOSED:
                return DmResult.CLOSED
            return DmResult.FAILED
        except discord.HTTPException:
            return DmResult.FAILED
        return DmResult.SENT_BEFORE if sent.status == "sent_before" else DmResult.SENT

    async def send_reminder(self, user_id: int, reminder: ReminderView) -> DmResult:
        t = await self._member(reminder.session.guild_id, user_id)
        return await self._dm(user_id, reminder_card(reminder, t), f"reminder:{user_id}")

    async def send_notice(self, guild_id: int, user_id: int, text: Msg) -> DmResult:
        t = await self._member(guild_id, user_id)
        # Once per person and message: the English text names it, whatever the language.
        return await self._dm(user_id, Notice(t.render(text)), f"notice:{user_id}:{_digest(str(text))}")
