"""discord.py implementation of the rota service's port: DMs to listeners, alerts to coordinators,
the board message, the listener role.

Who reads decides the language: a listener's DM (sent later, from a job or another person's
action) is in the language they last used with the bot in that server; alerts in the moderation
channel and the board are in the server's language."""

from __future__ import annotations

import logging
from typing import Any, cast

import discord
from discord.ext import commands

from bot.i18n import Speaker
from bot.services.member_time import MemberTimeService
from bot.services.rota.models import RotaNotice, describe_slot
from bot.services.rota.service import RotaService
from bot.services.server_settings import ServerSettings
from bot.timekeeping.markup import stamp
from bot.ui.language import member_speaker, server_speaker
from bot.ui.replies import NO_PINGS
from bot.ui.sending import retry_if_transient, scheduled_send
from cogs.listeners.render import board_view, card, mention
from cogs.listeners.views import ReviewButton, SwapButton

log = logging.getLogger(__name__)


class DiscordRota:
    """The rota service's port: DMs to listeners, alerts to coordinators, the board, the role."""

    def __init__(
        self, bot: commands.Bot, service: RotaService, settings: ServerSettings, member_time: MemberTimeService
    ) -> None:
        self.bot = bot
        self.service = service
        self.settings = settings
        self.member_time = member_time  # the language each listener last used, for DMs sent later

    def render(self, notice: RotaNotice, t: Speaker) -> discord.ui.LayoutView:
        """The notice as a card in ``t``'s language (its reader's: see :meth:`tell_listener` and
        :meth:`tell_coordinators`)."""
        params = notice.params
        kind = notice.kind
        if kind == "reminder":
            return card(
                t(
                    "⏰ Your listener shift starts {when} ({start}–{end}). Requests will come to you here. "
                    "/listener break pauses them if you need to.",
                    when=stamp(params["starts_at"], "R"),
                    start=stamp(params["starts_at"], "t"),
                    end=stamp(params["ends_at"], "t"),
                )
            )
        if kind == "shift_started":
            return card(
                t(
                    "🟢 Your listener shift has started and runs until {end}. I'll DM you when someone asks for "
                    "support. Thank you for being here.",
                    end=stamp(params["ends_at"], "t"),
                )
            )
        if kind == "shift_ended":
            return card(
                t(
                    "Your shift has ended ({hours} h; {week} h this week so far). Thank you. "
                    "Take a moment for yourself before you move on.",
                    hours=t.number(params["hours"]),
                    week=t.number(params["week_hours"]),
                )
            )
        if kind == "slot_removed":
            return card(
                t(
                    "The shift on {when} was removed from the rota, so you're no longer on it.",
                    when=stamp(params["starts_at"], "F"),
                )
            )
        if kind == "swap_request":
            theirs = params.get("theirs")
            if theirs:
                text = t(
                    "🔁 {listener} asks if you'd take their listener shift on {start}–{end}, in exchange for yours "
                    "on {their_start}–{their_end}.",
                    listener=mention(params["from_user_id"]),
                    start=stamp(params["starts_at"], "F"),
                    end=stamp(params["ends_at"], "t"),
                    their_start=stamp(theirs["starts_at"], "F"),
                    their_end=stamp(theirs["ends_at"], "t"),
                )
            else:
                text = t(
                    "🔁 {listener} asks if you'd take their listener shift on {start}–{end}.",
                    listener=mention(params["from_user_id"]),
                    start=stamp(params["starts_at"], "F"),
                    end=stamp(params["ends_at"], "t"),
                )
            return card(
                text, buttons=[SwapButton("accept", params["swap"], t=t), SwapButton("decline", params["swap"], t=t)]
            )
        if kind == "swap_accepted":
            return card(
                t(
                    "✅ {listener} accepted your swap: the shift on {when} is theirs now.",
                    listener=mention(params["to_user_id"]),
                    when=stamp(params["starts_at"], "F"),
                )
            )
        if kind == "swap_declined":
            return card(t("Your swap request was declined, so the shift stays yours. /rota drop if you can't make it."))
        if kind == "approved":
            return card(
                t(
                    "🎉 **You're a listener now.** Take shifts on the rota board or with /rota take, or go on call any "
                    "time with /listener available. /listener limits sets how much you take on."
                )
            )
        if kind == "declined":
            return card(
                t("A coordinator didn't approve your listener application this time. You're welcome to talk with them.")
            )
        if kind == "oncall_ended":
            return card(t("Your on-call time has ended. Thank you."))
        if kind == "review":
            return card(
                t(
                    "📝 {listener} agreed to the listener guidelines and would like to be a listener.",
                    listener=mention(params["user_id"]),
                ),
                buttons=[
                    ReviewButton("approve", params["listener"], t=t),
                    ReviewButton("decline", params["listener"], t=t),
                ],
            )
        if kind in ("uncovered", "dropped_uncovered"):
            fields = {
                "start": stamp(params["starts_at"], "F"),
                "end": stamp(params["ends_at"], "t"),
                "filled": params["filled"],
                "needed": params["needed"],
                "slot": describe_slot(params["slot"], t),
            }
            if kind == "uncovered":
                text = t(
                    "⚠️ **A listener shift in 48 hours isn't covered yet:** {start}–{end} · {filled}/{needed} "
                    "({slot}). Listeners can take it on the rota board or with /rota take.",
                    **fields,
                )
            else:
                text = t(
                    "⚠️ **A listener dropped a shift that starts soon, and it's now short:** {start}–{end} · "
                    "{filled}/{needed} ({slot}). Listeners can take it on the rota board or with /rota take.",
                    **fields,
                )
            return card(text)
        return card(t("(a rota update)"))

    async def tell_listener(self, user_id: int, notice: RotaNotice) -> int | None:
        """A DM to a listener, in the language they last used with the bot in that server. From a
        scheduled job (shift reminders, a shift starting or ending, on-call ending): once per
        occurrence, retried on a passing failure (bot.ui.sending)."""
        t = await member_speaker(self.member_time, notice.guild_id, user_id, self.bot.get_guild(notice.guild_id))
        try:
            with retry_if_transient():
                user = self.bot.get_user(user_id) or await self.bot.fetch_user(user_id)
                channel = user.dm_channel or await user.create_dm()
            view = self.render(notice, t)
            sent = await scheduled_send(
                f"listener:{user_id}:{notice.kind}",
                lambda nonce: channel.send(view=view, allowed_mentions=NO_PINGS, nonce=nonce),
            )
        except discord.HTTPException:
            log.info("rota notice not delivered kind=%s", notice.kind)
            return None
        return sent.message_id

    async def tell_coordinators(self, guild_id: int, notice: RotaNotice) -> int | None:
        """An alert in the moderation channel, in the server's language."""
        channel_id = (await self.settings.get(guild_id)).mod_channel_id
        if channel_id is None:
            return None
        try:
            with retry_if_transient():
                channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
            view = self.render(notice, await server_speaker(self.settings, guild_id, self.bot.get_guild(guild_id)))
            sent = await scheduled_send(
                f"coordinators:{guild_id}:{notice.kind}",
                lambda nonce: cast(Any, channel).send(view=view, allowed_mentions=NO_PINGS, nonce=nonce),
            )
        except discord.HTTPException:
            log.warning("rota alert not posted guild=%s kind=%s", guild_id, notice.kind)
            return None
        return sent.message_id

    async def refresh_board(self, guild_id: int) -> None:
        settings = await self.service.settings(guild_id)
        if settings.board_channel_id is None or settings.board_message_id is None:
            return
        guild = self.bot.get_guild(guild_id)
        view = board_view(await self.service.board(guild_id), await server_speaker(self.settings, guild_id, guild))
        try:
            channel = self.bot.get_channel(settings.board_channel_id) or await self.bot.fetch_channel(
                settings.board_channel_id
            )
            await (
                cast(Any, channel)
                .get_partial_message(settings.board_message_id)
                .edit(view=view, allowed_mentions=NO_PINGS)
            )
        except discord.NotFound:
            log.info("rota board message gone guild=%s", guild_id)
            await self.service.remember_board(guild_id, None, None)

    async def set_listener_role(self, guild_id: int, user_id: int, role_id: int, give: bool) -> bool:
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return False
        t = await server_speaker(self.settings, guild_id, guild)  # the reason shows in the server's audit log
        try:
            member = await guild.fetch_member(user_id)
            role = discord.Object(role_id)
            if give:
                await member.add_roles(role, reason=t("peer-circles: listener approved"))
            else:
                await member.remove_roles(role, reason=t("peer-circles: listener stepped down"))
        except discord.HTTPException:
            log.warning("listener role not changed guild=%s", guild_id)
            return False
        return True
