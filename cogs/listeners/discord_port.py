"""discord.py implementation of the rota service's port: DMs to listeners, alerts to coordinators,
the board message, the listener role."""

from __future__ import annotations

import logging
from typing import Any, cast

import discord
from discord.ext import commands

from bot.services.member_time import MemberTimeService
from bot.services.rota.models import RotaNotice
from bot.services.rota.service import RotaService
from bot.services.server_settings import ServerSettings
from bot.timekeeping.markup import stamp
from bot.ui.replies import NO_PINGS
from bot.ui.sending import retry_if_transient, scheduled_send
from cogs.listeners.render import board_view, card
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

    def render(self, notice: RotaNotice) -> discord.ui.LayoutView:
        p = notice.params
        kind = notice.kind
        if kind == "reminder":
            return card(
                f"⏰ Your listener shift starts {stamp(p['starts_at'], 'R')} ({stamp(p['starts_at'], 't')}–"
                f"{stamp(p['ends_at'], 't')}). Requests will come to you here. /listener break pauses them if you need to."
            )
        if kind == "shift_started":
            return card(
                f"🟢 Your listener shift has started and runs until {stamp(p['ends_at'], 't')}. I'll DM you when "
                "someone asks for support. Thank you for being here."
            )
        if kind == "shift_ended":
            return card(
                f"Your shift has ended ({p['hours']:g} h; {p['week_hours']:g} h this week so far). Thank you. "
                "Take a moment for yourself before you move on."
            )
        if kind == "slot_removed":
            return card(
                f"The shift on {stamp(p['starts_at'], 'F')} was removed from the rota, so you're no longer on it."
            )
        if kind == "swap_request":
            theirs = p.get("theirs")
            swap = (
                f", in exchange for yours on {stamp(theirs['starts_at'], 'F')}–{stamp(theirs['ends_at'], 't')}"
                if theirs
                else ""
            )
            return card(
                f"🔁 <@{p['from_user_id']}> asks if you'd take their listener shift on {stamp(p['starts_at'], 'F')}–"
                f"{stamp(p['ends_at'], 't')}{swap}.",
                buttons=[SwapButton("accept", p["swap"]), SwapButton("decline", p["swap"])],
            )
        if kind == "swap_accepted":
            return card(
                f"✅ <@{p['to_user_id']}> accepted your swap: the shift on {stamp(p['starts_at'], 'F')} is theirs now."
            )
        if kind == "swap_declined":
            return card("Your swap request was declined, so the shift stays yours. /rota drop if you can't make it.")
        if kind == "approved":
            return card(
                "🎉 **You're a listener now.** Take shifts on the rota board or with /rota take, or go on call any "
                "time with /listener available. /listener limits sets how much you take on."
            )
        if kind == "declined":
            return card(
                "A coordinator didn't approve your listener application this time. You're welcome to talk with them."
            )
        if kind == "oncall_ended":
            return card("Your on-call time has ended. Thank you.")
        if kind == "review":
            return card(
                f"📝 <@{p['user_id']}> agreed to the listener guidelines and would like to be a listener.",
                buttons=[ReviewButton("approve", p["listener"]), ReviewButton("decline", p["listener"])],
            )
        if kind in ("uncovered", "dropped_uncovered"):
            first = (
                "⚠️ **A listener shift in 48 hours isn't covered yet:**"
                if kind == "uncovered"
                else "⚠️ **A listener dropped a shift that starts soon, and it's now short:**"
            )
            return card(
                f"{first} {stamp(p['starts_at'], 'F')}–{stamp(p['ends_at'], 't')} · {p['filled']}/{p['needed']} "
                f"({p['slot']}). Listeners can take it on the rota board or with /rota take."
            )
        return card("(a rota update)")

    async def tell_listener(self, user_id: int, notice: RotaNotice) -> int | None:
        """A DM to a listener. From a scheduled job (shift reminders, a shift starting or ending,
        on-call ending): once per occurrence, retried on a passing failure (bot.ui.sending)."""
        try:
            with retry_if_transient():
                user = self.bot.get_user(user_id) or await self.bot.fetch_user(user_id)
                channel = user.dm_channel or await user.create_dm()
            sent = await scheduled_send(
                f"listener:{user_id}:{notice.kind}",
                lambda nonce: channel.send(view=self.render(notice), allowed_mentions=NO_PINGS, nonce=nonce),
            )
        except discord.HTTPException:
            log.info("rota notice not delivered kind=%s", notice.kind)
            return None
        return sent.message_id

    async def tell_coordinators(self, guild_id: int, notice: RotaNotice) -> int | None:
        channel_id = (await self.settings.get(guild_id)).mod_channel_id
        if channel_id is None:
            return None
        try:
            with retry_if_transient():
                channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
            sent = await scheduled_send(
                f"coordinators:{guild_id}:{notice.kind}",
                lambda nonce: cast(Any, channel).send(view=self.render(notice), allowed_mentions=NO_PINGS, nonce=nonce),
            )
        except discord.HTTPException:
            log.warning("rota alert not posted guild=%s kind=%s", guild_id, notice.kind)
            return None
        return sent.message_id

    async def refresh_board(self, guild_id: int) -> None:
        settings = await self.service.settings(guild_id)
        if settings.board_channel_id is None or settings.board_message_id is None:
            return
        view = board_view(await self.service.board(guild_id))
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
        try:
            member = await guild.fetch_member(user_id)
            role = discord.Object(role_id)
            if give:
                await member.add_roles(role, reason="peer-circles: listener approved")
            else:
                await member.remove_roles(role, reason="peer-circles: listener stepped down")
        except discord.HTTPException:
            log.warning("listener role not changed guild=%s", guild_id)
            return False
        return True
