"""/listener and /rota: volunteer listeners, their shifts, the rota board, and coordinators' settings.

Thin: the rules live in ``bot/services/rota/``. The board is one message in the listeners'
channel, edited in place; its buttons are DynamicItems, so they keep working after a restart.

Words: a reply, card or autocomplete list one person sees is in their Discord language
(``reader``); the board, audit lines and the coordinators' review card are in the server's
(``server_speaker``); DMs sent later go through the port (:mod:`cogs.listeners.discord_port`).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import InvalidInput, NotFound
from bot.i18n import Speaker, msg
from bot.services.access import AccessService
from bot.services.help import Audience
from bot.services.member_time import MemberTimeService
from bot.services.pending_requests import PendingRequestSweep
from bot.services.rota.models import CHANGE_ROTA, Coverage, describe_slot
from bot.services.rota.service import RotaService
from bot.services.server_settings import ServerSettings
from bot.services.support.service import SupportService
from bot.storage.database import typed_id
from bot.timekeeping.markup import stamp
from bot.timekeeping.shifts import occurrence_key, occurrence_on, occurrence_text
from bot.timekeeping.words import WEEKDAY_NAMES
from bot.ui.audit import post_audit, post_server_audit
from bot.ui.controls import Controls, button, row
from bot.ui.language import reader, server_speaker
from bot.ui.people import actor_from, guild_of
from bot.ui.replies import NO_PINGS, reply
from cogs.listeners.discord_port import DiscordRota
from cogs.listeners.render import (
    GUIDELINES,
    ROTA_COLOUR,
    TD,
    board_sections,
    board_view,
    card,
    mention,
    mine_sections,
    one_decimal,
    report_sections,
    settings_text,
)
from cogs.listeners.views import DYNAMIC_ITEMS, select

log = logging.getLogger(__name__)

LISTENER = {"audience": Audience.LISTENER}
FACILITATE = {"audience": Audience.FACILITATOR}
MEMBER = {"audience": Audience.MEMBER}
WEEKDAYS = [app_commands.Choice(name=name, value=index) for index, name in enumerate(WEEKDAY_NAMES)]
RELAY_MODES = [
    app_commands.Choice(name="Direct messages with the bot", value="dm"),
    app_commands.Choice(name="Private threads in the listeners' channel", value="thread"),
]


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
        member_time: MemberTimeService,
    ) -> None:
        self.bot = bot
        self.service = service
        self.settings = settings
        self.access = access
        self.support = support
        self.pending = pending
        self.port = DiscordRota(bot, service, settings, member_time)

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
        t = reader(interaction)

        async def agree(i: discord.Interaction[Any]) -> None:
            t = reader(i)
            await i.response.defer()
            outcome = await self.service.join(guild.id, owner)
            if outcome.approved:
                await self.pending.sweep(guild.id)
                text = t(
                    "🎉 **Thank you: you're a listener now.** Take shifts on the rota board or with /rota take, or go "
                    "on call with /listener available. /listener limits sets how much you take on."
                )
            else:
                text = t(
                    "Thank you. A coordinator will look at your application; I'll tell you by DM when it's decided."
                )
            await i.edit_original_response(view=Controls(owner, TD(text), card="listener:join"))

        async def not_now(i: discord.Interaction[Any]) -> None:
            t = reader(i)
            await self._show(
                i,
                Controls(
                    owner,
                    TD(t("Okay. Nothing was kept. /listener join is here whenever you're ready.")),
                    card="listener:join",
                ),
            )

        await self._show(
            interaction,
            Controls(
                owner,
                discord.ui.Container(TD(t(GUIDELINES)), accent_colour=ROTA_COLOUR),
                TD(
                    t(
                        "-# Kept about you: when you agreed, your shifts, limits and hours (for the rota). "
                        "/privacy shows it."
                    )
                ),
                row(
                    button(t.p("button", "I agree"), agree, discord.ButtonStyle.success),
                    button(t.p("button", "Not now"), not_now),
                ),
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
        t = reader(interaction)

        async def confirm(i: discord.Interaction[Any]) -> None:
            await i.response.defer()
            dropped = await self.service.leave(guild.id, owner)
            t = reader(i)
            text = t.n(
                "Thank you for everything you gave as a listener. {n} future shift was dropped. "
                "/listener join if you ever want to come back.",
                "Thank you for everything you gave as a listener. {n} future shifts were dropped. "
                "/listener join if you ever want to come back.",
                dropped,
            )
            await i.edit_original_response(view=Controls(owner, TD(text), card="listener:leave"))

        async def keep(i: discord.Interaction[Any]) -> None:
            t = reader(i)
            await self._show(i, Controls(owner, TD(t("Okay, nothing changed.")), card="listener:leave"))

        await self._show(
            interaction,
            Controls(
                owner,
                TD(t("**Stop being a listener?** Your future shifts are dropped and the coordinators see the gaps.")),
                row(
                    button(t.p("button", "Stop listening"), confirm, discord.ButtonStyle.danger),
                    button(t.p("button", "Keep going"), keep),
                ),
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
        t = reader(interaction)
        await interaction.followup.send(
            t(
                "You're on call until {time}. Requests will come to you by DM. /listener unavailable ends it sooner.",
                time=stamp(until, "t"),
            ),
            ephemeral=True,
        )

    @listener_group.command(name="unavailable", description="Stop being on call.", extras=LISTENER)
    async def unavailable(self, interaction: discord.Interaction[Any]) -> None:
        guild = guild_of(interaction)
        was = await self.service.set_unavailable(guild.id, interaction.user.id)
        t = reader(interaction)
        text = (
            t("You're off call. Thank you.")
            if was
            else t("You weren't on call. Rota shifts still bring requests during them.")
        )
        await reply(interaction, text)

    @listener_group.command(
        name="break", description="Pause new requests for the rest of your shift (again to resume).", extras=LISTENER
    )
    async def take_break(self, interaction: discord.Interaction[Any]) -> None:
        guild = guild_of(interaction)
        until = await self.service.toggle_break(guild.id, interaction.user.id)
        t = reader(interaction)
        if until is None:
            text = t("Welcome back: new requests can come to you again.")
        else:
            text = t(
                "You're on a break: no new requests until {time}, the end of your shift. Conversations "
                "you're in carry on. Run /listener break again to come back sooner.",
                time=stamp(until, "t"),
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
        t = reader(interaction)
        reminder = (
            t("{minutes} min before", minutes=listener.reminder_minutes)
            if listener.reminder_minutes is not None
            else t("server default")
        )
        await self._show(
            interaction,
            card(
                t(
                    "## Your limits\n"
                    "- Conversations at once: {conversations}\n"
                    "- Hours a week: {hours} ({planned} h planned this week)\n"
                    "- Shift reminder: {reminder}\n"
                    "- Debrief offer after heavy conversations: {debrief}\n"
                    "-# Change any of them with the options of /listener limits.",
                    conversations=listener.max_concurrent,
                    hours=listener.max_weekly_hours or t("no limit"),
                    planned=one_decimal(mine.planned_this_week, t),
                    reminder=reminder,
                    debrief=t("on") if listener.debrief_opt_in else t("off"),
                )
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
        await reply(interaction, view=card(settings_text(settings, mod, reader(interaction))))
        await post_server_audit(self.settings, guild, actor.user_id, lines)

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
        await self.access.require_coordinator(guild.id, actor, CHANGE_ROTA)
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
        t = reader(interaction)
        added = "; ".join(describe_slot(slot, t) for slot in slots)
        text = (
            t("Added: {shifts}.", shifts=added)
            if len(slots) == 1
            else t.n("Added {n} shifts: {shifts}.", "Added {n} shifts: {shifts}.", len(slots), shifts=added)
        )
        if not board:
            text += " " + t("Post the rota board with /rota board so listeners can take shifts.")
        await interaction.followup.send(text, ephemeral=True)
        server = await server_speaker(self.settings, guild.id, guild)
        lines = [
            # Translators: an audit line after the coordinator's name ("@Ana added a listener shift: ...").
            msg("added a listener shift: {shift}", shift=describe_slot(slot, server))
            for slot in slots
        ]
        await post_audit(guild, (await self.settings.get(guild.id)).mod_channel_id, actor.user_id, lines, t=server)

    async def slot_names(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        needle = current.casefold()
        t = reader(interaction)
        named = [(describe_slot(s, t), s) for s in await self.service.slots(interaction.guild_id)]
        return [
            app_commands.Choice(name=name[:100], value=str(s.id)) for name, s in named if needle in name.casefold()
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
            raise InvalidInput(msg("Please pick the shift from the list Discord offers."))
        await interaction.response.defer(ephemeral=True, thinking=True)
        slot = await self.service.remove_slot(guild.id, actor, slot_id)
        t = reader(interaction)
        await interaction.followup.send(
            t("Removed: {shift}. Listeners who had taken it were told.", shift=describe_slot(slot, t)), ephemeral=True
        )
        server = await server_speaker(self.settings, guild.id, guild)
        # Translators: an audit line after the coordinator's name ("@Ana removed a listener shift: ...").
        line = msg("removed a listener shift: {shift}", shift=describe_slot(slot, server))
        await post_audit(guild, (await self.settings.get(guild.id)).mod_channel_id, actor.user_id, [line], t=server)

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
                msg("Which channel? Add channel:#listeners, or set one with /rota settings listeners_channel.")
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        target = guild.get_channel(target_id)
        if not isinstance(target, discord.TextChannel):
            raise NotFound(msg("I can't find that channel any more."))
        if settings.board_channel_id and settings.board_message_id:
            old = guild.get_channel(settings.board_channel_id)
            if isinstance(old, discord.TextChannel):
                try:
                    await old.get_partial_message(settings.board_message_id).delete()
                except discord.HTTPException:
                    log.info("old rota board already gone guild=%s", guild.id)
        server = await server_speaker(self.settings, guild.id, guild)
        message = await target.send(
            view=board_view(await self.service.board(guild.id), server), allowed_mentions=NO_PINGS
        )
        await self.service.remember_board(guild.id, target.id, message.id)
        t = reader(interaction)
        await interaction.followup.send(
            t("The rota board is in {channel}; it updates itself.", channel=target.mention),
            ephemeral=True,
        )

    @rota.command(name="report", description="Coverage and hours per listener for a period.", extras=FACILITATE)
    @app_commands.describe(days="How many days back from now (default 28)")
    async def report(self, interaction: discord.Interaction[Any], days: app_commands.Range[int, 1, 366] = 28) -> None:
        guild = guild_of(interaction)
        end = self.service.clock.now()
        start = end - timedelta(days=days)
        conversations, feedback = await self.support.report_data(guild.id, start, end)
        result = await self.service.report(guild.id, actor_from(interaction), start, end, conversations, feedback)
        await reply(interaction, view=card(*report_sections(result, reader(interaction))))

    # -- /rota: listeners ---------------------------------------------------------------

    async def _zone(self, guild_id: int) -> str:
        return (await self.settings.get(guild_id)).timezone

    async def open_shifts(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        zone = await self._zone(interaction.guild_id)
        t = reader(interaction)
        choices = []
        for c in await self.service.open_for(interaction.guild_id, interaction.user.id):
            name = _open_shift(c, zone, t)
            if current.casefold() in name.casefold():
                choices.append(app_commands.Choice(name=name[:100], value=c.occurrence.key))
        return choices[:25]

    async def _my_choices(
        self, guild_id: int, user_id: int, current: str, t: Speaker
    ) -> list[app_commands.Choice[str]]:
        zone = await self._zone(guild_id)
        choices = []
        for assignment, slot in await self.service.mine_upcoming(guild_id, user_id):
            if slot is None:
                continue
            occurrence = occurrence_on(slot, date.fromisoformat(assignment.occurrence))
            if occurrence is None:
                continue
            name = occurrence_text(occurrence, zone, t) + (f" · {slot.label}" if slot.label else "")
            if current.casefold() in name.casefold():
                choices.append(
                    app_commands.Choice(name=name[:100], value=occurrence_key(slot.id, occurrence.local_date))
                )
        return choices[:25]

    async def my_shifts(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        return await self._my_choices(interaction.guild_id, interaction.user.id, current, reader(interaction))

    async def their_shifts(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        other = getattr(interaction.namespace, "listener", None)
        if interaction.guild_id is None or other is None:
            return []
        return await self._my_choices(interaction.guild_id, other.id, current, reader(interaction))

    @rota.command(name="view", description="The next two weeks of shifts and who is on them.", extras=LISTENER)
    async def view(self, interaction: discord.Interaction[Any]) -> None:
        guild = guild_of(interaction)
        days = await self.service.board(guild.id)
        sections = board_sections(days, reader(interaction), highlight=interaction.user.id, budget=3800)
        await reply(interaction, view=card(*sections))

    @rota.command(name="take", description="Take a shift.", extras=LISTENER)
    @app_commands.describe(shift="A shift that still needs someone")
    @app_commands.autocomplete(shift=open_shifts)
    async def take(self, interaction: discord.Interaction[Any], shift: str) -> None:
        guild = guild_of(interaction)
        await self.service.require_listener(guild.id, interaction.user.id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        assignment, _ = await self.service.take(guild.id, interaction.user.id, shift)
        t = reader(interaction)
        await interaction.followup.send(
            t(
                "You're on the shift {start}–{end}. I'll remind you before it starts.",
                start=stamp(assignment.starts_at, "F"),
                end=stamp(assignment.ends_at, "t"),
            ),
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
        t = reader(interaction)
        await interaction.followup.send(
            t(
                "Dropped the shift {start}. Thank you for saying so in good time.",
                start=stamp(assignment.starts_at, "F"),
            ),
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
        t = reader(interaction)
        await interaction.followup.send(
            t(
                "I've asked {listener}. The shift stays yours until they accept; I'll tell you.",
                listener=listener.mention,
            ),
            ephemeral=True,
        )

    @rota.command(name="mine", description="Your shifts, hours this week, limits and status.", extras=LISTENER)
    async def mine(self, interaction: discord.Interaction[Any]) -> None:
        guild = guild_of(interaction)
        mine = await self.service.mine(guild.id, interaction.user.id)
        await reply(interaction, view=card(*mine_sections(mine, reader(interaction))))

    # -- buttons ------------------------------------------------------------------------

    async def on_board(self, interaction: discord.Interaction[Any], action: str) -> None:
        guild = guild_of(interaction)
        owner = interaction.user.id
        zone = await self._zone(guild.id)
        t = reader(interaction)  # a press on the board: the answer is private, in the presser's language
        if action == "mine":
            await self._show(interaction, card(*mine_sections(await self.service.mine(guild.id, owner), t)))
            return
        await self.service.require_listener(guild.id, owner)
        if action == "take":
            rows = await self.service.open_for(guild.id, owner)
            if not rows:
                await self._show(
                    interaction,
                    Controls(
                        owner, TD(t("Every shift in the next two weeks is covered. Thank you!")), card="rota:choose"
                    ),
                )
                return
            options = [(_open_shift(c, zone, t), c.occurrence.key) for c in rows]

            async def taken(i: discord.Interaction[Any], key: str) -> None:
                await i.response.defer()
                assignment, _ = await self.service.take(guild.id, owner, key)
                t = reader(i)
                text = t(
                    "You're on the shift {start}–{end}. Thank you!",
                    start=stamp(assignment.starts_at, "F"),
                    end=stamp(assignment.ends_at, "t"),
                )
                await i.edit_original_response(view=Controls(owner, TD(text), card="rota:choose"))

            await self._show(
                interaction,
                Controls(
                    owner,
                    TD(t("Which shift would you like to take? (Times in the server's zone.)")),
                    row(select(t("Choose a shift"), options, taken)),
                    card="rota:choose",
                ),
            )
            return
        mine = await self._my_choices(guild.id, owner, "", t)
        if not mine:
            await self._show(
                interaction, Controls(owner, TD(t("You have no upcoming shifts to drop.")), card="rota:choose")
            )
            return

        async def dropped(i: discord.Interaction[Any], key: str) -> None:
            await i.response.defer()
            assignment, _ = await self.service.drop(guild.id, owner, key)
            t = reader(i)
            text = t("Dropped the shift {start}.", start=stamp(assignment.starts_at, "F"))
            await i.edit_original_response(view=Controls(owner, TD(text), card="rota:choose"))

        await self._show(
            interaction,
            Controls(
                owner,
                TD(t("Which of your shifts would you like to drop?")),
                row(select(t("Choose a shift"), [(c.name, c.value) for c in mine], dropped)),
                card="rota:choose",
            ),
        )

    async def on_review(self, interaction: discord.Interaction[Any], action: str, public_id: str) -> None:
        await self.service.require_reviewer(public_id, actor_from(interaction))
        await interaction.response.defer()
        listener = await self.service.review(public_id, actor_from(interaction), action == "approve")
        if action == "approve":
            await self.pending.sweep(listener.guild_id)
        # The review card is in the moderation channel: it stays in the server's language.
        t = await server_speaker(self.settings, listener.guild_id, interaction.guild)
        fields = {"coordinator": mention(interaction.user.id), "listener": mention(listener.user_id)}
        text = (
            t("📝 {coordinator} approved {listener} as a listener.", **fields)
            if action == "approve"
            else t("📝 {coordinator} didn't approve {listener} as a listener.", **fields)
        )
        await interaction.edit_original_response(view=card(text))

    async def on_swap(self, interaction: discord.Interaction[Any], action: str, public_id: str) -> None:
        await interaction.response.defer()
        swap = await self.service.answer_swap(public_id, interaction.user.id, action == "accept")
        t = reader(interaction)  # the swap offer in their DMs, answered by them
        text = (
            t("✅ Swap accepted: the shift is yours now. Thank you!")
            if action == "accept"
            else t("You declined the swap; the shift stays with {listener}.", listener=mention(swap.from_user_id))
        )
        await interaction.edit_original_response(view=card(text))


def _open_shift(c: Coverage, zone: str, t: Speaker) -> str:
    """A shift that still needs someone, in a list to choose from: "Tue 24 Mar 19:00–21:00 · 0/2 · Evening"."""
    return f"{occurrence_text(c.occurrence, zone, t)} · {c.filled}/{c.needed}" + (
        f" · {c.slot.label}" if c.slot.label else ""
    )
