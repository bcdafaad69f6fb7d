"""/listener and /rota: volunteer listeners, their shifts, the rota board, and coordinators' settings.

Thin: the rules live in ``bot/services/rota/``. The board is one message in the listeners'
channel, edited in place; its buttons are DynamicItems, so they keep working after a restart.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import InvalidInput, NotFound
from bot.services.access import AccessService
from bot.services.help import Audience
from bot.services.pending_requests import PendingRequestSweep
from bot.services.rota.models import BoardDay, Mine, Report, RotaNotice, describe_slot
from bot.services.rota.service import RotaService
from bot.services.server_settings import ServerSettings
from bot.services.support.service import SupportService
from bot.storage.database import typed_id
from bot.storage.listeners import SupportSettings
from bot.timekeeping.markup import stamp
from bot.timekeeping.shifts import occurrence_key, occurrence_on, occurrence_text
from bot.timekeeping.words import WEEKDAY_NAMES
from bot.ui.audit import post_audit
from bot.ui.controls import Controls, button, row
from bot.ui.people import actor_from, guild_of
from bot.ui.replies import NO_PINGS, reply
from bot.ui.sending import retry_if_transient, scheduled_send
from cogs.listeners.views import DYNAMIC_ITEMS, BoardButton, ReviewButton, SwapButton, select

log = logging.getLogger(__name__)
TD = discord.ui.TextDisplay
LISTENER = {"audience": Audience.LISTENER}
FACILITATE = {"audience": Audience.FACILITATOR}
MEMBER = {"audience": Audience.MEMBER}
ROTA_COLOUR = discord.Colour.from_rgb(120, 134, 199)
TEXT_BUDGET = 3800

GUIDELINES = (
    "## Listener guidelines\n"
    "As a volunteer listener you offer someone a calm, confidential space, one to one, through the bot.\n"
    "1. **Listen.** Let them lead, and reflect back what you hear. You don't have to fix anything.\n"
    "2. **Don't diagnose or prescribe.** Speak from your own experience if it helps; no medical, legal or "
    "financial advice.\n"
    "3. **No personal contact details.** Don't ask for or share phone numbers, social accounts or real names: "
    "keep talking through the bot. Neither of you sees the other's account unless the member chooses to share theirs.\n"
    "4. **Keep it confidential**, except to keep someone safe: then talk to a coordinator.\n"
    "5. **Know when and how to escalate.** If someone may be in danger, I'll show you the steps and the crisis lines "
    "to share, and alert the coordinators. If a conversation needs someone else, hand it off.\n"
    "6. **Look after yourself.** Set your limits (/listener limits), take a break (/listener break), say when a "
    "conversation was heavy, and ask for a debrief whenever you need one."
)
WEEKDAYS = [app_commands.Choice(name=name, value=index) for index, name in enumerate(WEEKDAY_NAMES)]
RELAY_MODES = [
    app_commands.Choice(name="Direct messages with the bot", value="dm"),
    app_commands.Choice(name="Private threads in the listeners' channel", value="thread"),
]


def _clip(lines: list[str], budget: int) -> str:
    out: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        if used + len(line) + 1 > budget:
            out.append(f"…and {len(lines) - index} more: /rota view shows them all.")
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def board_sections(days: list[BoardDay], *, highlight: int | None = None, budget: int = TEXT_BUDGET) -> list[str]:
    sections = [
        "## Listener rota: the next two weeks\n-# Times show in your own time zone. Each shift shows filled / needed."
    ]
    if not days:
        return [*sections, "No shifts on the rota yet. Coordinators add them with /rota add."]
    used = len(sections[0])
    for day in days:
        lines = [f"**{day.day.strftime('%A')} {day.day.day} {day.day.strftime('%B')}**"]
        for c in day.rows:
            mark = "✅" if c.full else ("⚠️" if c.filled == 0 else "➖")
            who = ", ".join(f"<@{u}>" for u in c.listeners) or "nobody yet"
            you = " · **you**" if highlight is not None and highlight in c.listeners else ""
            label = f" · {c.slot.label}" if c.slot.label else ""
            lines.append(
                f"- {stamp(c.occurrence.starts_at, 't')}–{stamp(c.occurrence.ends_at, 't')} {mark} "
                f"{c.filled}/{c.needed} · {who}{you}{label}"
            )
        text = "\n".join(lines)
        if used + len(text) > budget:
            sections.append("…more shifts follow: /rota view shows them all.")
            break
        used += len(text)
        sections.append(text)
    return sections


def board_view(days: list[BoardDay]) -> discord.ui.LayoutView:
    view = discord.ui.LayoutView(timeout=None)
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=ROTA_COLOUR)
    for index, section in enumerate(board_sections(days)):
        if index:
            container.add_item(discord.ui.Separator(visible=index == 1))
        container.add_item(TD(section))
    container.add_item(row(BoardButton("take"), BoardButton("drop"), BoardButton("mine")))
    view.add_item(container)
    return view


def card(*sections: str, buttons: list[discord.ui.Item[Any]] | None = None) -> discord.ui.LayoutView:
    view = discord.ui.LayoutView(timeout=None)
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=ROTA_COLOUR)
    for index, section in enumerate(sections):
        if index:
            container.add_item(discord.ui.Separator())
        container.add_item(TD(section))
    if buttons:
        container.add_item(row(*buttons))
    view.add_item(container)
    return view


def settings_text(settings: SupportSettings, mod_channel: int | None) -> str:
    def channel(value: int | None) -> str:
        return f"<#{value}>" if value else "not set"

    return "\n".join(
        [
            "## Listener and support settings",
            f"- Listener role: {f'<@&{settings.listener_role_id}>' if settings.listener_role_id else 'not set'}",
            f"- Listeners' channel (rota board, private threads): {channel(settings.listeners_channel_id)}",
            f"- New listeners: {'approved automatically' if settings.auto_approve else 'approved by a coordinator'}",
            "- Relay: "
            + (
                "private threads in the listeners' channel"
                if settings.relay_mode == "thread"
                else "direct messages with the bot"
            ),
            f"- Offer timeout before asking more people: {settings.offer_timeout_seconds // 60} min",
            f"- Idle conversations close after: {settings.idle_close_minutes} min",
            f"- Shift reminder: {settings.reminder_minutes} min before (listeners can change theirs)",
            f"- Break after a heavy conversation: {settings.cooldown_minutes} min",
            f"- Coordinator alerts go to: {channel(mod_channel)} (set with /setup)",
        ]
    )


def mine_sections(mine: Mine) -> list[str]:
    listener = mine.listener
    now_line = (
        f"You're on shift or on call until {stamp(mine.on_shift_until, 't')}."
        if mine.on_shift_until
        else "You're not on shift right now."
    )
    if mine.break_until is not None:
        now_line += f" On a break until {stamp(mine.break_until, 't')}."
    limit = f"{listener.max_weekly_hours} h" if listener.max_weekly_hours else "no limit"
    lines = [
        "## Your listening",
        now_line,
        f"- Open conversations: {mine.conversations} (at most {listener.max_concurrent} at once)",
        f"- This week: {mine.hours_this_week:.1f} h so far, {mine.planned_this_week:.1f} h planned ({limit})",
        f"- Reminders: {listener.reminder_minutes if listener.reminder_minutes is not None else 'the server default'}"
        + (" min before a shift" if listener.reminder_minutes is not None else ""),
    ]
    shifts = [
        f"- {stamp(a.starts_at, 'F')}–{stamp(a.ends_at, 't')}" + (f" · {slot.label}" if slot and slot.label else "")
        for a, slot in mine.shifts
    ]
    return ["\n".join(lines), "**Your next shifts**\n" + (_clip(shifts, 2500) if shifts else "None yet: /rota take.")]


def report_sections(report: Report) -> list[str]:
    avg = (
        f"{sum(report.feedback) / len(report.feedback):.1f}/5 from {len(report.feedback)}"
        if report.feedback
        else "none given"
    )
    head = (
        f"## Rota report: {stamp(report.start, 'D')} to {stamp(report.end, 'D')}\n"
        f"- Shifts: {report.occurrences} · fully covered {report.covered} ({report.coverage_percent}%) · "
        f"partly {report.partly} · uncovered {report.uncovered}\n"
        f"- Support requests: {report.requests} · answered {report.answered} · feedback {avg}"
    )
    rows = [
        f"- <@{r.user_id}>: {r.hours:.1f} h · {r.shifts} shift{'s' if r.shifts != 1 else ''} · "
        f"{r.conversations} conversation{'s' if r.conversations != 1 else ''}"
        + (f" ({r.heavy} heavy)" if r.heavy else "")
        for r in report.rows
    ]
    return [head, "**Hours per listener**\n" + (_clip(rows, 3000) if rows else "No hours in this period.")]


class DiscordRota:
    """The rota service's port: DMs to listeners, alerts to coordinators, the board, the role."""

    def __init__(self, bot: commands.Bot, service: RotaService, settings: ServerSettings) -> None:
        self.bot = bot
        self.service = service
        self.settings = settings

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


class ListenersCog(commands.Cog, name="ListenersCog"):
    listener_group = app_commands.Group(
        name="listener", description="Volunteer listeners: join, availability, limits.", guild_only=True
    )
    rota = app_commands.Group(
        name="rota", description="The listener rota: shifts, the board, reports.", guild_only=True
    )

    def __init__(
        self,
        bot: commands.Bot,
        service: RotaService,
        settings: ServerSettings,
        access: AccessService,
        support: SupportService,
        pending: PendingRequestSweep,
    ) -> None:
        self.bot = bot
        self.service = service
        self.settings = settings
        self.access = access
        self.support = support
        self.pending = pending
        self.port = DiscordRota(bot, service, settings)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    async def _show(interaction: discord.Interaction[Any], view: discord.ui.LayoutView) -> None:
        if interaction.response.is_done():
            await interaction.followup.send(view=view, ephemeral=True)
        elif interaction.message is not None and interaction.message.flags.ephemeral:
            await interaction.response.edit_message(view=view)
        else:
            await interaction.response.send_message(view=view, ephemeral=True)

    async def _route_queued(self, guild_id: int) -> None:
        try:
            await self.support.route_queued(guild_id)
        except Exception:
            log.exception("routing queued support requests failed guild=%s", guild_id)

    # -- /listener ----------------------------------------------------------------------

    @listener_group.command(
        name="join", description="Volunteer as a listener: read the guidelines and agree.", extras=MEMBER
    )
    async def join(self, interaction: discord.Interaction[Any]) -> None:
        guild = guild_of(interaction)
        await self.service.check_can_join(guild.id, interaction.user.id)
        owner = interaction.user.id

        async def agree(i: discord.Interaction[Any]) -> None:
            await i.response.defer()
            outcome = await self.service.join(guild.id, owner)
            if outcome.approved:
                await self.pending.sweep(guild.id)
                text = (
                    "🎉 **Thank you: you're a listener now.** Take shifts on the rota board or with /rota take, or go "
                    "on call with /listener available. /listener limits sets how much you take on."
                )
            else:
                text = "Thank you. A coordinator will look at your application; I'll tell you by DM when it's decided."
            await i.edit_original_response(view=Controls(owner, TD(text), card="listener:join"))

        async def not_now(i: discord.Interaction[Any]) -> None:
            await self._show(
                i,
                Controls(
                    owner,
                    TD("Okay. Nothing was kept. /listener join is here whenever you're ready."),
                    card="listener:join",
                ),
            )

        await self._show(
            interaction,
            Controls(
                owner,
                discord.ui.Container(TD(GUIDELINES), accent_colour=ROTA_COLOUR),
                TD(
                    "-# Kept about you: when you agreed, your shifts, limits and hours (for the rota). /privacy shows it."
                ),
                row(button("I agree", agree, discord.ButtonStyle.success), button("Not now", not_now)),
                card="listener:join",
            ),
        )

    @listener_group.command(
        name="leave", description="Stop being a listener (your future shifts are dropped).", extras=LISTENER
    )
    async def leave(self, interaction: discord.Interaction[Any]) -> None:
        guild = guild_of(interaction)
        await self.service.require_listener(guild.id, interaction.user.id)
        owner = interaction.user.id

        async def confirm(i: discord.Interaction[Any]) -> None:
            await i.response.defer()
            dropped = await self.service.leave(guild.id, owner)
            await i.edit_original_response(
                view=Controls(
                    owner,
                    TD(
                        f"Thank you for everything you gave as a listener. {dropped} future shift"
                        f"{'s were' if dropped != 1 else ' was'} dropped. /listener join if you ever want to come back."
                    ),
                    card="listener:leave",
                )
            )

        async def keep(i: discord.Interaction[Any]) -> None:
            await self._show(i, Controls(owner, TD("Okay, nothing changed."), card="listener:leave"))

        await self._show(
            interaction,
            Controls(
                owner,
                TD("**Stop being a listener?** Your future shifts are dropped and the coordinators see the gaps."),
                row(button("Stop listening", confirm, discord.ButtonStyle.danger), button("Keep going", keep)),
                card="listener:leave",
            ),
        )

    @listener_group.command(name="available", description="Go on call outside the rota for a while.", extras=LISTENER)
    @app_commands.describe(hours="For how long (default 2 hours, at most 12)")
    async def available(
        self, interaction: discord.Interaction[Any], hours: app_commands.Range[float, 0.25, 12.0] = 2.0
    ) -> None:
        guild = guild_of(interaction)
        await self.service.require_listener(guild.id, interaction.user.id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        until = await self.service.set_available(guild.id, interaction.user.id, float(hours))
        await self._route_queued(guild.id)
        await interaction.followup.send(
            f"You're on call until {stamp(until, 't')}. Requests will come to you by DM. /listener unavailable ends it sooner.",
            ephemeral=True,
        )

    @listener_group.command(name="unavailable", description="Stop being on call.", extras=LISTENER)
    async def unavailable(self, interaction: discord.Interaction[Any]) -> None:
        guild = guild_of(interaction)
        was = await self.service.set_unavailable(guild.id, interaction.user.id)
        text = (
            "You're off call. Thank you."
            if was
            else "You weren't on call. Rota shifts still bring requests during them."
        )
        await reply(interaction, text)

    @listener_group.command(
        name="break", description="Pause new requests for the rest of your shift (again to resume).", extras=LISTENER
    )
    async def take_break(self, interaction: discord.Interaction[Any]) -> None:
        guild = guild_of(interaction)
        until = await self.service.toggle_break(guild.id, interaction.user.id)
        if until is None:
            text = "Welcome back: new requests can come to you again."
        else:
            text = (
                f"You're on a break: no new requests until {stamp(until, 't')}, the end of your shift. Conversations "
                "you're in carry on. Run /listener break again to come back sooner."
            )
        await reply(interaction, text)

    @listener_group.command(
        name="limits", description="Your limits: conversations at once, hours a week, reminders.", extras=LISTENER
    )
    @app_commands.describe(
        max_conversations="Conversations at once (1 to 5; default 1)",
        max_hours_per_week="Hours a week at most (0 for no limit)",
        reminder_minutes="Remind me this many minutes before a shift (0 for none)",
        debrief="Offer me a debrief with a coordinator after heavy conversations",
    )
    async def limits(
        self,
        interaction: discord.Interaction[Any],
        max_conversations: app_commands.Range[int, 1, 5] | None = None,
        max_hours_per_week: app_commands.Range[int, 0, 80] | None = None,
        reminder_minutes: app_commands.Range[int, 0, 1440] | None = None,
        debrief: bool | None = None,
    ) -> None:
        guild = guild_of(interaction)
        await self.service.set_limits(
            guild.id,
            interaction.user.id,
            max_conversations=max_conversations,
            max_hours=max_hours_per_week,
            reminder_minutes=reminder_minutes,
            debrief=debrief,
        )
        mine = await self.service.mine(guild.id, interaction.user.id)
        listener = mine.listener
        await self._show(
            interaction,
            card(
                "## Your limits\n"
                f"- Conversations at once: {listener.max_concurrent}\n"
                f"- Hours a week: {listener.max_weekly_hours or 'no limit'} ({mine.planned_this_week:.1f} h planned this week)\n"
                f"- Shift reminder: {listener.reminder_minutes if listener.reminder_minutes is not None else 'server default'}"
                f"{' min before' if listener.reminder_minutes is not None else ''}\n"
                f"- Debrief offer after heavy conversations: {'on' if listener.debrief_opt_in else 'off'}\n"
                "-# Change any of them with the options of /listener limits."
            ),
        )

    # -- /rota: coordinators ------------------------------------------------------------

    @rota.command(
        name="settings",
        description="Listener role, listeners' channel, approval, relay mode and timings.",
        extras=FACILITATE,
    )
    @app_commands.describe(
        listener_role="The role listeners get (the bot gives it on approval)",
        listeners_channel="Where the rota board and private support threads go",
        auto_approve="Approve new listeners without a coordinator",
        relay="Where listeners talk with members",
        offer_timeout_minutes="How long an offer waits before more people are asked (1 to 60)",
        idle_close_minutes="Close a conversation after this long without messages (5 to 1440)",
        reminder_minutes="Default shift reminder, minutes before (0 for none)",
        cooldown_minutes="Break from new requests after a heavy conversation (0 for none)",
    )
    @app_commands.choices(relay=RELAY_MODES)
    async def settings_command(
        self,
        interaction: discord.Interaction[Any],
        listener_role: discord.Role | None = None,
        listeners_channel: discord.TextChannel | None = None,
        auto_approve: bool | None = None,
        relay: str | None = None,
        offer_timeout_minutes: app_commands.Range[int, 1, 60] | None = None,
        idle_close_minutes: app_commands.Range[int, 5, 1440] | None = None,
        reminder_minutes: app_commands.Range[int, 0, 1440] | None = None,
        cooldown_minutes: app_commands.Range[int, 0, 1440] | None = None,
    ) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        settings, lines = await self.service.update_settings(
            guild.id,
            actor,
            listener_role_id=listener_role.id if listener_role else None,
            listeners_channel_id=listeners_channel.id if listeners_channel else None,
            auto_approve=auto_approve,
            relay_mode=relay,
            offer_timeout_seconds=offer_timeout_minutes * 60 if offer_timeout_minutes else None,
            idle_close_minutes=idle_close_minutes,
            reminder_minutes=reminder_minutes,
            cooldown_minutes=cooldown_minutes,
        )
        mod = (await self.settings.get(guild.id)).mod_channel_id
        await reply(interaction, view=card(settings_text(settings, mod)))
        if lines:
            await post_audit(guild, mod, actor.user_id, lines)

    @rota.command(
        name="add", description="Add a weekly shift (pick a day) or a one-off (give a date).", extras=FACILITATE
    )
    @app_commands.describe(
        start="Local start time, like 19:00 or 7pm (the server's time zone)",
        hours="How long, in hours (0.5 to 12)",
        day="The day of the week, for a weekly shift",
        days="Or several days, one weekly shift each: like mon, wed or weekdays",
        date="A date like 2026-03-17, for a one-off shift",
        needed="How many listeners the shift needs (default 1)",
        label="A short label, like Evening or Weekend",
    )
    @app_commands.choices(day=WEEKDAYS)
    async def add(
        self,
        interaction: discord.Interaction[Any],
        start: str,
        hours: app_commands.Range[float, 0.5, 12.0],
        day: int | None = None,
        days: app_commands.Range[str, 1, 60] | None = None,
        date: str | None = None,
        needed: app_commands.Range[int, 1, 20] = 1,
        label: app_commands.Range[str, 0, 60] | None = None,
    ) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        await self.access.require_coordinator(guild.id, actor, "change the rota")
        await interaction.response.defer(ephemeral=True, thinking=True)
        slots = await self.service.add_slots(
            guild.id,
            actor,
            start=start,
            hours=float(hours),
            needed=needed,
            weekday=day,
            days=days,
            on_date=date,
            label=label,
        )
        board = (await self.service.settings(guild.id)).board_message_id
        hint = "" if board else " Post the rota board with /rota board so listeners can take shifts."
        added = "; ".join(describe_slot(slot) for slot in slots)
        shifts = "Added" if len(slots) == 1 else f"Added {len(slots)} shifts"
        await interaction.followup.send(f"{shifts}: {added}.{hint}", ephemeral=True)
        await post_audit(
            guild,
            (await self.settings.get(guild.id)).mod_channel_id,
            actor.user_id,
            [f"added a listener shift: {describe_slot(slot)}" for slot in slots],
        )

    async def slot_names(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        needle = current.casefold()
        return [
            app_commands.Choice(name=describe_slot(s)[:100], value=str(s.id))
            for s in await self.service.slots(interaction.guild_id)
            if needle in describe_slot(s).casefold()
        ][:25]

    @rota.command(
        name="remove", description="Remove a shift from the rota (its listeners are told).", extras=FACILITATE
    )
    @app_commands.describe(shift="The shift to remove")
    @app_commands.autocomplete(shift=slot_names)
    async def remove(self, interaction: discord.Interaction[Any], shift: str) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        slot_id = typed_id(shift)
        if slot_id is None:
            raise InvalidInput("Please pick the shift from the list Discord offers.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        slot = await self.service.remove_slot(guild.id, actor, slot_id)
        await interaction.followup.send(
            f"Removed: {describe_slot(slot)}. Listeners who had taken it were told.", ephemeral=True
        )
        await post_audit(
            guild,
            (await self.settings.get(guild.id)).mod_channel_id,
            actor.user_id,
            [f"removed a listener shift: {describe_slot(slot)}"],
        )

    @rota.command(
        name="board",
        description="Post the rota board (coverage, Take and Drop buttons) in a channel.",
        extras=FACILITATE,
    )
    @app_commands.describe(channel="Where to post it (default: the listeners' channel)")
    async def board(self, interaction: discord.Interaction[Any], channel: discord.TextChannel | None = None) -> None:
        guild = guild_of(interaction)
        settings = await self.service.set_board(guild.id, actor_from(interaction))
        target_id = channel.id if channel else settings.listeners_channel_id
        if target_id is None:
            raise InvalidInput(
                "Which channel? Add channel:#listeners, or set one with /rota settings listeners_channel."
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        target = guild.get_channel(target_id)
        if not isinstance(target, discord.TextChannel):
            raise NotFound("I can't find that channel any more.")
        if settings.board_channel_id and settings.board_message_id:
            old = guild.get_channel(settings.board_channel_id)
            if isinstance(old, discord.TextChannel):
                try:
                    await old.get_partial_message(settings.board_message_id).delete()
                except discord.HTTPException:
                    log.info("old rota board already gone guild=%s", guild.id)
        message = await target.send(view=board_view(await self.service.board(guild.id)), allowed_mentions=NO_PINGS)
        await self.service.remember_board(guild.id, target.id, message.id)
        await interaction.followup.send(f"The rota board is in {target.mention}; it updates itself.", ephemeral=True)

    @rota.command(name="report", description="Coverage and hours per listener for a period.", extras=FACILITATE)
    @app_commands.describe(days="How many days back from now (default 28)")
    async def report(self, interaction: discord.Interaction[Any], days: app_commands.Range[int, 1, 366] = 28) -> None:
        guild = guild_of(interaction)
        end = self.service.clock.now()
        start = end - timedelta(days=days)
        conversations, feedback = await self.support.report_data(guild.id, start, end)
        result = await self.service.report(guild.id, actor_from(interaction), start, end, conversations, feedback)
        await reply(interaction, view=card(*report_sections(result)))

    # -- /rota: listeners ---------------------------------------------------------------

    async def _zone(self, guild_id: int) -> str:
        return (await self.settings.get(guild_id)).timezone

    async def open_shifts(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        zone = await self._zone(interaction.guild_id)
        choices = []
        for c in await self.service.open_for(interaction.guild_id, interaction.user.id):
            name = f"{occurrence_text(c.occurrence, zone)} · {c.filled}/{c.needed}" + (
                f" · {c.slot.label}" if c.slot.label else ""
            )
            if current.casefold() in name.casefold():
                choices.append(app_commands.Choice(name=name[:100], value=c.occurrence.key))
        return choices[:25]

    async def _my_choices(self, guild_id: int, user_id: int, current: str) -> list[app_commands.Choice[str]]:
        zone = await self._zone(guild_id)
        choices = []
        for assignment, slot in await self.service.mine_upcoming(guild_id, user_id):
            if slot is None:
                continue
            occurrence = occurrence_on(slot, date.fromisoformat(assignment.occurrence))
            if occurrence is None:
                continue
            name = occurrence_text(occurrence, zone) + (f" · {slot.label}" if slot.label else "")
            if current.casefold() in name.casefold():
                choices.append(
                    app_commands.Choice(name=name[:100], value=occurrence_key(slot.id, occurrence.local_date))
                )
        return choices[:25]

    async def my_shifts(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        return await self._my_choices(interaction.guild_id, interaction.user.id, current)

    async def their_shifts(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        other = getattr(interaction.namespace, "listener", None)
        if interaction.guild_id is None or other is None:
            return []
        return await self._my_choices(interaction.guild_id, other.id, current)

    @rota.command(name="view", description="The next two weeks of shifts and who is on them.", extras=LISTENER)
    async def view(self, interaction: discord.Interaction[Any]) -> None:
        guild = guild_of(interaction)
        days = await self.service.board(guild.id)
        await reply(interaction, view=card(*board_sections(days, highlight=interaction.user.id, budget=3800)))

    @rota.command(name="take", description="Take a shift.", extras=LISTENER)
    @app_commands.describe(shift="A shift that still needs someone")
    @app_commands.autocomplete(shift=open_shifts)
    async def take(self, interaction: discord.Interaction[Any], shift: str) -> None:
        guild = guild_of(interaction)
        await self.service.require_listener(guild.id, interaction.user.id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        assignment, _ = await self.service.take(guild.id, interaction.user.id, shift)
        await interaction.followup.send(
            f"You're on the shift {stamp(assignment.starts_at, 'F')}–{stamp(assignment.ends_at, 't')}. I'll remind you before it starts.",
            ephemeral=True,
        )

    @rota.command(name="drop", description="Drop one of your shifts.", extras=LISTENER)
    @app_commands.describe(shift="One of your shifts")
    @app_commands.autocomplete(shift=my_shifts)
    async def drop(self, interaction: discord.Interaction[Any], shift: str) -> None:
        guild = guild_of(interaction)
        await self.service.require_listener(guild.id, interaction.user.id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        assignment, _ = await self.service.drop(guild.id, interaction.user.id, shift)
        await interaction.followup.send(
            f"Dropped the shift {stamp(assignment.starts_at, 'F')}. Thank you for saying so in good time.",
            ephemeral=True,
        )

    @rota.command(
        name="swap", description="Ask another listener to take one of your shifts (or exchange).", extras=LISTENER
    )
    @app_commands.describe(
        shift="One of your shifts",
        listener="The listener to ask",
        their_shift="One of theirs to take in exchange (optional)",
    )
    @app_commands.autocomplete(shift=my_shifts, their_shift=their_shifts)
    async def swap(
        self,
        interaction: discord.Interaction[Any],
        shift: str,
        listener: discord.Member,
        their_shift: str | None = None,
    ) -> None:
        guild = guild_of(interaction)
        await self.service.require_listener(guild.id, interaction.user.id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.service.request_swap(guild.id, interaction.user.id, shift, listener.id, their_shift)
        await interaction.followup.send(
            f"I've asked {listener.mention}. The shift stays yours until they accept; I'll tell you.", ephemeral=True
        )

    @rota.command(name="mine", description="Your shifts, hours this week, limits and status.", extras=LISTENER)
    async def mine(self, interaction: discord.Interaction[Any]) -> None:
        guild = guild_of(interaction)
        await reply(interaction, view=card(*mine_sections(await self.service.mine(guild.id, interaction.user.id))))

    # -- buttons ------------------------------------------------------------------------

    async def on_board(self, interaction: discord.Interaction[Any], action: str) -> None:
        guild = guild_of(interaction)
        owner = interaction.user.id
        zone = await self._zone(guild.id)
        if action == "mine":
            await self._show(interaction, card(*mine_sections(await self.service.mine(guild.id, owner))))
            return
        await self.service.require_listener(guild.id, owner)
        if action == "take":
            rows = await self.service.open_for(guild.id, owner)
            if not rows:
                await self._show(
                    interaction,
                    Controls(owner, TD("Every shift in the next two weeks is covered. Thank you!"), card="rota:choose"),
                )
                return
            options = [
                (
                    f"{occurrence_text(c.occurrence, zone)} · {c.filled}/{c.needed}"
                    + (f" · {c.slot.label}" if c.slot.label else ""),
                    c.occurrence.key,
                )
                for c in rows
            ]

            async def taken(i: discord.Interaction[Any], key: str) -> None:
                await i.response.defer()
                assignment, _ = await self.service.take(guild.id, owner, key)
                await i.edit_original_response(
                    view=Controls(
                        owner,
                        TD(
                            f"You're on the shift {stamp(assignment.starts_at, 'F')}–{stamp(assignment.ends_at, 't')}. Thank you!"
                        ),
                        card="rota:choose",
                    )
                )

            await self._show(
                interaction,
                Controls(
                    owner,
                    TD("Which shift would you like to take? (Times in the server's zone.)"),
                    row(select("Choose a shift", options, taken)),
                    card="rota:choose",
                ),
            )
            return
        mine = await self._my_choices(guild.id, owner, "")
        if not mine:
            await self._show(
                interaction, Controls(owner, TD("You have no upcoming shifts to drop."), card="rota:choose")
            )
            return

        async def dropped(i: discord.Interaction[Any], key: str) -> None:
            await i.response.defer()
            assignment, _ = await self.service.drop(guild.id, owner, key)
            await i.edit_original_response(
                view=Controls(owner, TD(f"Dropped the shift {stamp(assignment.starts_at, 'F')}."), card="rota:choose")
            )

        await self._show(
            interaction,
            Controls(
                owner,
                TD("Which of your shifts would you like to drop?"),
                row(select("Choose a shift", [(c.name, c.value) for c in mine], dropped)),
                card="rota:choose",
            ),
        )

    async def on_review(self, interaction: discord.Interaction[Any], action: str, public_id: str) -> None:
        await self.service.require_reviewer(public_id, actor_from(interaction))
        await interaction.response.defer()
        listener = await self.service.review(public_id, actor_from(interaction), action == "approve")
        if action == "approve":
            await self.pending.sweep(listener.guild_id)
        verb = "approved" if action == "approve" else "didn't approve"
        await interaction.edit_original_response(
            view=card(f"📝 <@{interaction.user.id}> {verb} <@{listener.user_id}> as a listener.")
        )

    async def on_swap(self, interaction: discord.Interaction[Any], action: str, public_id: str) -> None:
        await interaction.response.defer()
        swap = await self.service.answer_swap(public_id, interaction.user.id, action == "accept")
        text = (
            "✅ Swap accepted: the shift is yours now. Thank you!"
            if action == "accept"
            else f"You declined the swap; the shift stays with <@{swap.from_user_id}>."
        )
        await interaction.edit_original_response(view=card(text))
