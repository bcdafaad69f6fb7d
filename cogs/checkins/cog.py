from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.i18n import N_, Msg, Speaker, msg
from bot.services.access import Actor
from bot.services.checkins.models import (
    LISTENER_AFTER_RANGE,
    MAX_TAGS,
    MOODS,
    PULSE_MIN_PEOPLE,
    DeliveryResult,
    History,
    Period,
    Pulse,
)
from bot.services.checkins.service import CheckinService
from bot.services.circles import name_key
from bot.services.crisis import CrisisResources
from bot.services.help import Audience
from bot.services.member_time import MemberTimeService
from bot.services.mood_chart import day_month, describe_history, one_decimal, render_mood_chart
from bot.services.server_settings import ServerSettings
from bot.services.support.service import SupportService
from bot.storage.checkins import Prompt, Reminder
from bot.storage.circles import Circle
from bot.timekeeping.parsing import parse_time, parse_weekdays
from bot.timekeeping.words import WEEKDAY_NAMES, clock_time, describe_days
from bot.ui.confirm import ConfirmView
from bot.ui.dispatch import ExpiredCards
from bot.ui.language import member_speaker, reader, server_speaker
from bot.ui.limits import FittedLayoutView
from bot.ui.people import actor_from, guild_of
from bot.ui.ports import AskListener
from bot.ui.replies import NO_PINGS, reply
from bot.ui.safety import crisis_sections
from bot.ui.sending import retry_if_transient, scheduled_send
from cogs.checkins.views import (
    CALM,
    DYNAMIC_ITEMS,
    DetailsModal,
    EditModal,
    MoodButton,
    ReminderAction,
    card,
    checkin_card,
    checkin_summary,
    local_time,
    mood_card,
    mood_label,
    note_flagged_top,
    percent,
    prompt_post,
    reminder_dm,
    tag_label,
    tag_list,
    when_text,
)

log = logging.getLogger(__name__)

DMS_CLOSED = 50007
MEMBER = {"audience": Audience.MEMBER}
FACILITATE = {"audience": Audience.FACILITATOR}
OPEN_DMS = N_(
    "To open them: click the server's name at the top of the channel list → **Privacy Settings** → turn on "
    "**Direct Messages**."
)


class DiscordCheckinDelivery:
    """The service's way out to Discord: DMs, prompt posts and a member's roles (REST only, so it
    also works while the bot is still connecting). A reminder DM is written in the language the
    member last used with the bot; a prompt in the circle's channel in the server's language."""

    def __init__(self, bot: commands.Bot, settings: ServerSettings, member_time: MemberTimeService) -> None:
        self.bot = bot
        self.settings = settings
        self.member_time = member_time

    async def _guild(self, guild_id: int) -> discord.Guild:
        return self.bot.get_guild(guild_id) or await self.bot.fetch_guild(guild_id)

    async def member_role_ids(self, guild_id: int, user_id: int) -> frozenset[int] | None:
        try:
            with retry_if_transient():  # a 503 here is "try again", not "not a member"
                guild = await self._guild(guild_id)
                member = await guild.fetch_member(user_id)
        except (discord.NotFound, discord.Forbidden):
            return None
        return frozenset(role.id for role in member.roles)

    async def send_reminder(self, reminder: Reminder, circle: Circle) -> DeliveryResult:
        """The reminder DM, once per reminder occurrence (bot.sends): a retry or a re-run after a
        restart sends the same nonce, so Discord keeps one."""
        guild = self.bot.get_guild(circle.guild_id)
        t = await member_speaker(self.member_time, circle.guild_id, reminder.user_id, guild)
        server = discord.utils.escape_markdown(guild.name) if guild else t("your server")
        try:
            with retry_if_transient():
                user = self.bot.get_user(reminder.user_id) or await self.bot.fetch_user(reminder.user_id)
                channel = user.dm_channel or await user.create_dm()
            await scheduled_send(
                "reminder",
                lambda nonce: channel.send(
                    view=reminder_dm(circle, server, reminder.id, t), allowed_mentions=NO_PINGS, nonce=nonce
                ),
            )
        except discord.Forbidden as exc:
            if exc.code == DMS_CLOSED:
                return DeliveryResult.DMS_CLOSED
            raise
        return DeliveryResult.SENT

    async def post_prompt(self, circle: Circle, previous_message_id: int | None) -> int | None:
        if circle.channel_id is None:
            return None
        t = await server_speaker(self.settings, circle.guild_id, self.bot.get_guild(circle.guild_id))
        channel = self.bot.get_partial_messageable(circle.channel_id, guild_id=circle.guild_id)
        try:
            posted = await scheduled_send(
                "prompt",
                lambda nonce: channel.send(view=prompt_post(circle, t), allowed_mentions=NO_PINGS, nonce=nonce),
            )
        except (discord.Forbidden, discord.NotFound):
            log.warning("could not post a check-in prompt circle=%s", circle.id)
            return None
        # Keep the channel calm: only the latest prompt stays (a re-run may find it already recorded).
        if previous_message_id is not None and previous_message_id != posted.message_id:
            with contextlib.suppress(discord.HTTPException):
                await channel.get_partial_message(previous_message_id).delete()
        return posted.message_id


def _channel_id(interaction: discord.Interaction[Any]) -> int | None:
    channel = interaction.channel
    if isinstance(channel, discord.Thread):
        return channel.parent_id
    return interaction.channel_id


def _avg(value: float | None, t: Speaker) -> str:
    return "–" if value is None else one_decimal(value, t)


def _stored_time(local: str, t: Speaker) -> str:
    """A stored wall-clock time ("08:30") as the reader's language writes it."""
    return clock_time(parse_time(local), t)


def history_text(history: History, t: Speaker) -> str:
    if history.circle_name:
        title = t.n(
            "## Your check-ins in {circle}, last {n} day",
            "## Your check-ins in {circle}, last {n} days",
            history.days,
            circle=history.circle_name,
        )
    else:
        title = t.n("## Your check-ins, last {n} day", "## Your check-ins, last {n} days", history.days)
    lines = [
        title,
        t.n(
            "- Checked in on **{checked} of {n} day** ({checkins})",
            "- Checked in on **{checked} of {n} days** ({checkins})",
            history.days,
            checked=history.days_checked_in,
            checkins=t.n("{n} check-in", "{n} check-ins", history.checkins),
        ),
        t(
            "- Average mood **{average}** out of 5; last 7 days **{last_week}**",
            average=_avg(history.average, t),
            last_week=_avg(history.last_week, t),
        ),
    ]
    if history.streak >= 2:
        lines.append(t.n("- **{n} day in a row** up to today", "- **{n} days in a row** up to today", history.streak))
    elif history.streak == 1:
        lines.append(t("- Days in a row: 1"))
    else:
        lines.append(t("- Days in a row: 0. That's okay: check in whenever it helps, there's no score to keep."))
    lines.append(t("-# Days are in your time zone ({zone}). Only you can see this.", zone=history.zone))
    return "\n".join(lines)


def history_view(history: History, alt: str, filename: str, t: Speaker) -> discord.ui.LayoutView:
    view = FittedLayoutView(timeout=None)
    container: discord.ui.Container[discord.ui.LayoutView] = discord.ui.Container(accent_colour=CALM)
    container.add_item(discord.ui.TextDisplay(history_text(history, t)))
    container.add_item(discord.ui.MediaGallery(discord.MediaGalleryItem(f"attachment://{filename}", description=alt)))
    container.add_item(discord.ui.TextDisplay(t("-# The chart in words: {alt}", alt=alt)))
    view.add_item(container)
    return view


def pulse_average(pulse: Pulse, t: Speaker) -> str:
    average = _avg(pulse.average, t)
    if pulse.previous_average is None or pulse.average is None:
        return t("Average **{average}** out of 5.", average=average)
    delta = pulse.average - pulse.previous_average
    fields = {"average": average, "previous": _avg(pulse.previous_average, t)}
    if delta >= 0.05:
        return t.n(
            "Average **{average}** out of 5, up from {previous} in the {n} day before.",
            "Average **{average}** out of 5, up from {previous} in the {n} days before.",
            pulse.period.days,
            **fields,
        )
    if delta <= -0.05:
        return t.n(
            "Average **{average}** out of 5, down from {previous} in the {n} day before.",
            "Average **{average}** out of 5, down from {previous} in the {n} days before.",
            pulse.period.days,
            **fields,
        )
    return t.n(
        "Average **{average}** out of 5, about the same as {previous} in the {n} day before.",
        "Average **{average}** out of 5, about the same as {previous} in the {n} days before.",
        pulse.period.days,
        **fields,
    )


def pulse_sections(pulse: Pulse, t: Speaker) -> list[str]:
    """The circle's pulse, for the facilitator who asked (privately, in their language)."""
    period = t.render(pulse.period.label)
    title = t("## {circle}: check-in pulse for {period}", circle=pulse.circle.name, period=period)
    about = t(
        "-# Built only from check-ins members chose to share, each member counting once a day. Individual "
        "check-ins, names, notes and rarely used tags are never shown."
    )
    if not pulse.enough:
        return [
            title,
            t.n(
                "There isn't enough shared data to show the pulse without risking that someone could be "
                "identified. It needs at least {n} different member who chose to share their check-ins in "
                "{period}, and fewer did. Try a longer period, or again later.",
                "There isn't enough shared data to show the pulse without risking that someone could be "
                "identified. It needs at least {n} different members who chose to share their check-ins in "
                "{period}, and fewer did. Try a longer period, or again later.",
                PULSE_MIN_PEOPLE,
                period=period,
            ),
            about,
        ]
    rows = []
    for m in reversed(MOODS):
        share = pulse.percentages.get(m.value, 0)
        rows.append(f"{m.emoji} {mood_label(m, t)}: **{percent(share, t)}** {'█' * round(share / 10)}")
    felt = t.n("**How people felt** ({n} member shared)", "**How people felt** ({n} members shared)", pulse.people)
    sections = [title, felt + "\n" + "\n".join(rows) + "\n" + pulse_average(pulse, t)]
    if pulse.weeks:
        weeks = [
            t("- 7 days to {day}: **{average}**", day=day_month(w.end, t), average=_avg(w.average, t))
            if w.average is not None
            else t("- 7 days to {day}: not enough people shared to show", day=day_month(w.end, t))
            for w in pulse.weeks
        ]
        sections.append(t("**Week by week**") + "\n" + "\n".join(weeks))
    if pulse.tags:
        sections.append(
            t.n(
                "**Tags chosen by at least {n} member**: {tags}",
                "**Tags chosen by at least {n} members**: {tags}",
                PULSE_MIN_PEOPLE,
                tags=", ".join(f"{tag_label(tag, t)} ({count})" for tag, count in pulse.tags),
            )
        )
    sections.append(about)
    return sections


def reminder_rule(reminder: Reminder, zone: str, circle: Circle | None, t: Speaker) -> str:
    """ "every day at 08:30, your time (Europe/London), for the Grief circle"."""
    fields = {"days": describe_days(reminder.weekdays, t), "time": _stored_time(reminder.local_time, t), "zone": zone}
    if circle is None:
        return t("{days} at {time}, your time ({zone})", **fields)
    return t("{days} at {time}, your time ({zone}), for the {circle} circle", circle=circle.name, **fields)


def reminder_sections(
    reminder: Reminder | None, zone: str, circle: Circle | None, listener_after: int | None, t: Speaker
) -> list[str]:
    """The member's reminders and listener offer, for them (privately, in their language)."""
    if reminder is None:
        status = t(
            "**Off.** Turn them on with `/checkin reminders time:08:30` (your time), optionally with `days:weekdays`."
        )
    else:
        rule = reminder_rule(reminder, zone, circle, t)
        if reminder.active:
            status = t("**On:** {rule}, by direct message.", rule=rule)
            if reminder.next_at:
                status += " " + t("Next: {when}.", when=when_text(reminder.next_at, zone, t))
        else:
            reason = reminder.paused_reason or ""
            if reason == "dms_closed":
                why = t(
                    "I couldn't send you a direct message (your DMs from this server are closed). {open_dms} "
                    "Then set a time again to switch them back on.",
                    open_dms=t(OPEN_DMS),
                )
            elif reason == "not_in_circle":
                why = t("you're no longer in that circle. Set them for another circle.")
            elif reason == "circle_closed":
                why = t("that circle was archived. Set them for another circle.")
            else:
                why = ""
            status = t("**Paused** ({rule}): {why}", rule=rule, why=why)
    offer = (
        t.n(
            "**Offer me a listener:** when I check in at 1 or 2 on {n} day in a row.",
            "**Offer me a listener:** when I check in at 1 or 2 on {n} days in a row.",
            listener_after,
        )
        if listener_after
        else t("**Offer me a listener:** off. Add `offer_listener` to be offered one after low days in a row.")
    )
    return [
        t("## Your check-in reminders") + "\n" + status,
        offer,
        t(
            "-# Change them: `/checkin reminders time:19:00 days:weekdays` · turn off: `/checkin reminders stop:True` · "
            "your time zone: /timezone set. Only you can see this."
        ),
    ]


def prompt_text(circle: Circle, prompt: Prompt | None, zone: str, t: Speaker) -> str:
    """The circle's prompt schedule, for the facilitator (privately, in their language)."""
    if prompt is None:
        return t(
            "The **{circle}** circle has no check-in prompt. Schedule one with "
            "`/checkin prompt schedule:Daily time:19:00`.",
            circle=circle.name,
        )
    # Translators: a weekly prompt's day, as in "… gets a check-in prompt in #grief every Monday at 19:00".
    day = t("every {weekday}", weekday=t.weekday(prompt.weekday)) if prompt.weekday is not None else t("every day")
    where = f"<#{circle.channel_id}>" if circle.channel_id else t("the circle's channel (missing: run /circle repair)")
    sentences = [
        t(
            "The **{circle}** circle gets a check-in prompt in {where} {day} at {time} "
            "({zone}, the server's time zone).",
            circle=circle.name,
            where=where,
            day=day,
            time=_stored_time(prompt.local_time, t),
            zone=zone,
        )
    ]
    if prompt.next_at:
        sentences.append(t("Next: {when}.", when=when_text(prompt.next_at, zone, t)))
    sentences.append(t("Only the latest prompt stays in the channel."))
    return " ".join(sentences)


class CheckinsCog(commands.Cog, name="Checkins"):
    checkin = app_commands.Group(
        name="checkin", description="Private mood check-ins: one tap, yours alone.", guild_only=True
    )

    def __init__(
        self,
        bot: commands.Bot,
        service: CheckinService,
        crisis: CrisisResources,
        settings: ServerSettings,
        support: SupportService,
        ask_listener: AskListener,
        expired: ExpiredCards,
        member_time: MemberTimeService,
    ) -> None:
        self.bot = bot
        self.service = service
        self.crisis = crisis
        self.settings = settings
        self.support = support
        self.ask_listener = ask_listener
        self.expired = expired
        self.delivery = DiscordCheckinDelivery(bot, settings, member_time)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)
        # A mood tap on a card already redrawn (a double click): the tap is keyed by its message, so
        # recording it again returns the same check-in; answer with it instead of "expired".
        self.expired.do_anyway(MoodButton.__discord_ui_compiled_template__, self.mood_tapped_anyway)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    # -- helpers ----------------------------------------------------------------------------

    async def _actor(self, interaction: discord.Interaction[Any], guild_id: int) -> Actor:
        """Who is pressing, with their roles in the circle's server (looked up when pressed in a DM)."""
        if isinstance(interaction.user, discord.Member) and interaction.guild_id == guild_id:
            return actor_from(interaction)
        roles = await self.delivery.member_role_ids(guild_id, interaction.user.id)
        return Actor.of(interaction.user.id, False, roles or ())

    async def _crisis_top(self, guild_id: int, t: Speaker) -> list[str]:
        return note_flagged_top(await crisis_sections(self.crisis, self.settings, guild_id, t=t), t)

    @staticmethod
    def _notice(notice: Msg | None, t: Speaker) -> str | None:
        return t.render(notice) if notice is not None else None

    # -- persistent buttons (see views.CheckinHandlers) -------------------------------------

    async def open_checkin(
        self, interaction: discord.Interaction[Any], circle_id: int, *, in_place: bool = False
    ) -> None:
        circle = await self.service.get_circle(circle_id)
        actor = await self._actor(interaction, circle.guild_id)
        self.service.check_can_check_in(circle, actor)
        notice = await self.service.pop_notice(circle.guild_id, actor.user_id)
        t = reader(interaction)
        view = mood_card(circle, notice=self._notice(notice, t), t=t)
        if in_place:
            await interaction.response.edit_message(view=view)
        else:
            await reply(interaction, view=view)

    async def mood_tapped(self, interaction: discord.Interaction[Any], circle_id: int, value: int) -> None:
        # Two statements before the answer: the circle with the member's context, and the insert
        # (which returns the row). The card says "Checked in" only once the check-in is stored.
        circle, context = await self.service.tap_context(circle_id, interaction.user.id)
        actor = await self._actor(interaction, circle.guild_id)
        # The message tapped is the idempotency key: a double click stores one check-in.
        key = f"message:{interaction.message.id}" if interaction.message else f"interaction:{interaction.id}"
        state = await self.service.record(circle, actor, value, source_key=key, context=context)
        await interaction.response.edit_message(view=checkin_card(state, t=reader(interaction)))

    async def mood_tapped_anyway(self, interaction: discord.Interaction[Any], match: re.Match[str]) -> None:
        await self.mood_tapped(interaction, int(match["circle"]), int(match["mood"]))

    async def checkin_action(self, interaction: discord.Interaction[Any], action: str, checkin_id: int) -> None:
        user_id = interaction.user.id
        t = reader(interaction)
        if action in ("details", "redetails"):
            state = await self.service.state(checkin_id, user_id)
            tags = await self.service.tags_for(state.circle)

            async def submitted(done: discord.Interaction[Any], note: str, chosen: list[str]) -> None:
                result = await self.service.add_details(checkin_id, user_id, note, chosen)
                t = reader(done)
                flagged = result.assessment.flagged
                top = await self._crisis_top(result.state.circle.guild_id, t) if flagged else None
                await done.response.edit_message(view=checkin_card(result.state, top=top, t=t))

            await interaction.response.send_modal(DetailsModal(state.checkin, tags, submitted, t))
        elif action in ("share", "unshare"):
            state = await self.service.set_share(checkin_id, user_id, action == "share")
            await interaction.response.edit_message(view=checkin_card(state, t=t))
        elif action == "listener":
            state = await self.service.state(checkin_id, user_id)
            guild_id = state.circle.guild_id
            if await self.support.has_listeners(guild_id):
                # Listeners are set up here: ask one now, through the confidential relay.
                await self.ask_listener(interaction, guild_id, source="checkin")
                return
            result = await self.service.request_listener(checkin_id, user_id)
            await interaction.response.edit_message(view=checkin_card(result.state, t=t))

    async def cancel_request(self, interaction: discord.Interaction[Any], request_id: int) -> None:
        request = await self.service.cancel_listener(request_id, interaction.user.id)
        t = reader(interaction)
        done = t("Okay, I cancelled your request for a listener. You can ask again any time.")
        state = None
        if request.checkin_id is not None:
            with contextlib.suppress(NotFound):  # the check-in itself may have been deleted since
                state = await self.service.state(request.checkin_id, interaction.user.id)
        await interaction.response.edit_message(view=checkin_card(state, notice=done, t=t) if state else card(done))

    async def reminder_action(self, interaction: discord.Interaction[Any], action: str, reminder_id: int) -> None:
        """A button on a reminder DM: the person pressing it reads the answer in their language."""
        user_id = interaction.user.id
        t = reader(interaction)
        if action == "open":
            reminder = await self.service.reminder_by_id(reminder_id)
            if reminder is None or reminder.user_id != user_id:
                raise InvalidInput(
                    msg("Those reminders were switched off. You can still check in with /checkin now in the server.")
                )
            await self.open_checkin(interaction, reminder.circle_id, in_place=True)
        elif action == "snooze":
            when, zone = await self.service.snooze(reminder_id, user_id)
            await interaction.response.edit_message(
                view=card(
                    t(
                        "😴 Okay, I'll remind you again at **{when}** ({zone}).",
                        when=when_text(when, zone, t),
                        zone=zone,
                    ),
                    buttons=[ReminderAction("open", reminder_id, t), ReminderAction("stop", reminder_id, t)],
                )
            )
        elif action == "stop":
            await self.service.stop_reminder_by_id(reminder_id, user_id)
            await interaction.response.edit_message(
                view=card(
                    t(
                        "Check-in reminders are off, and I deleted their settings. Turn them on again any time with "
                        "/checkin reminders in the server."
                    )
                )
            )

    # -- autocomplete -----------------------------------------------------------------------

    async def my_circles(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild is None:
            return []
        needle = name_key(current)
        mine = await self.service.member_circles(interaction.guild.id, actor_from(interaction))
        return [app_commands.Choice(name=c.name, value=c.name) for c in mine if needle in c.name_key][:25]

    async def led_circles(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild is None:
            return []
        needle = name_key(current)
        led = await self.service.facilitated_circles(interaction.guild.id, actor_from(interaction))
        return [app_commands.Choice(name=c.name, value=c.name) for c in led if needle in c.name_key][:25]

    # -- members ----------------------------------------------------------------------------

    @checkin.command(name="now", description="How are you right now? One tap, private unless you share.", extras=MEMBER)
    @app_commands.describe(circle="Which circle (default: this channel's circle, or your only one)")
    @app_commands.autocomplete(circle=my_circles)
    async def now(self, interaction: discord.Interaction[Any], circle: str | None = None) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        found, notice = await self.service.circle_to_open(
            guild.id, actor, name=circle, channel_id=_channel_id(interaction)
        )
        t = reader(interaction)
        await reply(interaction, view=mood_card(found, notice=self._notice(notice, t), t=t))

    @checkin.command(name="history", description="Your own check-ins as a chart, with averages.", extras=MEMBER)
    @app_commands.describe(days="How far back", circle="Only one circle (default: all of yours here)")
    @app_commands.choices(
        days=[app_commands.Choice(name="Last 30 days", value=30), app_commands.Choice(name="Last 90 days", value=90)]
    )
    @app_commands.autocomplete(circle=my_circles)
    async def history(self, interaction: discord.Interaction[Any], days: int = 30, circle: str | None = None) -> None:
        guild = guild_of(interaction)
        user_id = interaction.user.id
        t = reader(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        only = await self.service.find_circle(guild.id, circle) if circle else None
        history = await self.service.history(guild.id, user_id, days, only)
        notice = self._notice(await self.service.pop_notice(guild.id, user_id), t)
        if history.checkins == 0:
            await reply(
                interaction,
                view=card(
                    *([notice] if notice else []),
                    t.n(
                        "You have no check-ins in the last {n} day yet, so there's no chart to draw. "
                        "/checkin now takes five seconds, and only you see it.",
                        "You have no check-ins in the last {n} days yet, so there's no chart to draw. "
                        "/checkin now takes five seconds, and only you see it.",
                        days,
                    ),
                ),
            )
            return
        title = (
            t.n("Your mood, last {n} day ({circle})", "Your mood, last {n} days ({circle})", days, circle=only.name)
            if only
            else t.n("Your mood, last {n} day", "Your mood, last {n} days", days)
        )
        png = await asyncio.to_thread(render_mood_chart, history.daily, history.start, history.end, title=title, t=t)
        alt = describe_history(history, t=t)
        # The file's name stays English: it is a name, not a sentence.
        filename = f"mood-history-{days}-days.png"
        view = history_view(history, alt, filename, t)
        if notice:
            view.add_item(discord.ui.Container(discord.ui.TextDisplay(notice)))
        await reply(interaction, view=view, file=discord.File(io.BytesIO(png), filename=filename, description=alt))

    @checkin.command(name="edit", description="Change your latest check-in.", extras=MEMBER)
    async def edit(self, interaction: discord.Interaction[Any]) -> None:
        guild = guild_of(interaction)
        user_id = interaction.user.id
        latest = await self.service.latest(guild.id, user_id)
        circle = await self.service.get_circle(latest.circle_id)
        tags = await self.service.tags_for(circle)

        async def submitted(
            done: discord.Interaction[Any], value: int, note: str, chosen: list[str], share: bool
        ) -> None:
            result = await self.service.edit(latest.id, user_id, value=value, note=note, tags=chosen, share=share)
            t = reader(done)
            top = await self._crisis_top(guild.id, t) if result.assessment.flagged else None
            heading = t(
                "✏️ **Saved your changes:** {mood}, from {time} (your time) in {circle}.",
                mood=checkin_summary(result.state.checkin, t),
                time=local_time(result.state.checkin, t),
                circle=circle.name,
            )
            await reply(done, view=checkin_card(result.state, heading=heading, top=top, t=t))

        await interaction.response.send_modal(EditModal(latest, tags, submitted, reader(interaction)))

    @checkin.command(name="delete", description="Delete your latest check-in.", extras=MEMBER)
    async def delete(self, interaction: discord.Interaction[Any]) -> None:
        guild = guild_of(interaction)
        user_id = interaction.user.id
        latest = await self.service.latest(guild.id, user_id)
        t = reader(interaction)
        notice = self._notice(await self.service.pop_notice(guild.id, user_id), t)

        async def confirmed(pressed: discord.Interaction[Any]) -> None:
            await self.service.delete(latest.id, user_id)
            t = reader(pressed)
            await pressed.response.edit_message(
                content=t("Deleted. That check-in, its note and its tags are gone for good."), view=None
            )

        text = t(
            "Delete your latest check-in ({mood} on {day} at {time})? Its note and tags go with it. "
            "This can't be undone.",
            mood=checkin_summary(latest, t),
            day=day_month(latest.local_date, t),
            time=local_time(latest, t),
        )
        await reply(
            interaction,
            f"{notice}\n\n{text}" if notice else text,
            view=ConfirmView(
                user_id,
                confirmed,
                card="checkin:delete",
                confirm_label=t("Delete check-in"),
                cancel_label=t("Keep it"),
                cancelled_text=t("Okay, I kept it."),
            ),
        )

    @checkin.command(name="reminders", description="See or change your check-in reminders (by DM).", extras=MEMBER)
    @app_commands.describe(
        time="Your local time, like 08:30, 19:00 or 7pm",
        days="Which days: every day, weekdays, weekends, or like mon, wed, fri",
        circle="Which circle the reminder is for (default: your only one)",
        offer_listener="Offer me a listener when I check in at 1 or 2 this many days in a row",
        stop="Turn reminders off",
    )
    @app_commands.choices(
        offer_listener=[app_commands.Choice(name="Off", value=0)]
        + [app_commands.Choice(name=f"After {n} days in a row", value=n) for n in range(LISTENER_AFTER_RANGE[0], 8)]
    )
    @app_commands.autocomplete(circle=my_circles)
    async def reminders(
        self,
        interaction: discord.Interaction[Any],
        time: app_commands.Range[str, 1, 10] | None = None,
        days: app_commands.Range[str, 1, 60] | None = None,
        circle: str | None = None,
        offer_listener: int | None = None,
        stop: bool = False,
    ) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        user_id = actor.user_id
        t = reader(interaction)
        # Check everything before changing anything.
        if time is not None:
            parse_time(time)
        if days is not None:
            parse_weekdays(days)
        setting_reminder = not stop and (time is not None or days is not None or circle is not None)
        target: Circle | None = None
        if setting_reminder:
            existing = await self.service.reminder(guild.id, user_id)
            if circle is None and existing is not None:
                # Keep the reminder's circle while the member can still check in there.
                with contextlib.suppress(InvalidInput, NotAllowed, NotFound):
                    target = self.service.check_can_check_in(await self.service.get_circle(existing.circle_id), actor)
            if target is None:
                target = await self.service.resolve_circle(
                    guild.id, actor, name=circle, channel_id=_channel_id(interaction)
                )
        done: list[str] = []
        if offer_listener is not None:
            value = await self.service.set_listener_after(guild.id, user_id, offer_listener)
            done.append(
                t.n(
                    "I'll offer you a listener after {n} day in a row at 1 or 2.",
                    "I'll offer you a listener after {n} days in a row at 1 or 2.",
                    value,
                )
                if value
                else t("Listener offers are off.")
            )
        if stop:
            stopped = await self.service.stop_reminder(guild.id, user_id)
            done.append(
                t("Reminders are off, and I deleted their settings.")
                if stopped
                else t("Your reminders were already off.")
            )
        elif setting_reminder and target is not None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            reminder = await self.service.set_reminder(guild.id, actor, target, time, days)
            zone = await self.service.zone_name(guild.id, user_id)
            rule = t(
                "{days} at {time} ({zone})",
                days=describe_days(reminder.weekdays, t),
                time=_stored_time(reminder.local_time, t),
                zone=zone,
            )
            try:
                # Sent now, in answer to this command: in the language the member is using now.
                await interaction.user.send(
                    view=card(
                        t(
                            "**Check-in reminders are on** for the {circle} circle in {server}: {rule}. They'll "
                            "arrive here, with a button to check in.",
                            circle=target.name,
                            server=discord.utils.escape_markdown(guild.name),
                            rule=rule,
                        ),
                        buttons=[ReminderAction("stop", reminder.id, t)],
                    ),
                    allowed_mentions=NO_PINGS,
                )
            except discord.Forbidden as exc:
                if exc.code != DMS_CLOSED:
                    raise
                await self.service.stop_reminder(guild.id, user_id)
                await reply(
                    interaction,
                    view=card(
                        t(
                            "I couldn't send you a direct message: your DMs from this server are closed, and "
                            "reminders come by DM. So I haven't switched them on. {open_dms} Then run this again.",
                            open_dms=t(OPEN_DMS),
                        ),
                        *done,
                    ),
                )
                return
            done.append(t("Reminders are on: {rule}. I sent you a DM so you know where they'll arrive.", rule=rule))
        notice = self._notice(await self.service.pop_notice(guild.id, user_id), t)
        current = await self.service.reminder(guild.id, user_id)
        zone = await self.service.zone_name(guild.id, user_id)
        circle_of = await self.service.circle(current.circle_id) if current else None
        settings = await self.service.settings(guild.id, user_id)
        sections = reminder_sections(current, zone, circle_of, settings.listener_after_days, t)
        if done:
            sections.insert(0, "✅ " + " ".join(done))
        if notice:
            sections.insert(0, notice)
        await reply(interaction, view=card(*sections))

    # -- facilitators -----------------------------------------------------------------------

    @checkin.command(
        name="pulse", description="A circle's shared moods, as totals only (facilitators).", extras=FACILITATE
    )
    @app_commands.describe(circle="Which circle (default: this channel's)", period="How far back")
    @app_commands.choices(
        period=[
            app_commands.Choice(name="Past week", value="week"),
            app_commands.Choice(name="Past month", value="month"),
        ]
    )
    @app_commands.autocomplete(circle=led_circles)
    async def pulse(
        self, interaction: discord.Interaction[Any], circle: str | None = None, period: str = "week"
    ) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        found = await self.service.resolve_facilitated(
            guild.id, actor, name=circle, channel_id=_channel_id(interaction), what=msg("see the circle's pulse")
        )
        result = await self.service.pulse(found, actor, Period(period))
        await reply(interaction, view=card(*pulse_sections(result, reader(interaction))))

    @checkin.command(
        name="prompt", description="Schedule a check-in prompt in a circle's channel (facilitators).", extras=FACILITATE
    )
    @app_commands.describe(
        circle="Which circle (default: this channel's)",
        schedule="Daily, weekly, or off (leave out to see the current prompt)",
        time="Local time in the server's time zone, like 19:00 or 7pm",
        day="For a weekly prompt: which day",
    )
    @app_commands.choices(
        schedule=[
            app_commands.Choice(name="Daily", value="daily"),
            app_commands.Choice(name="Weekly", value="weekly"),
            app_commands.Choice(name="Off", value="off"),
        ]
    )
    @app_commands.choices(
        day=[app_commands.Choice(name=name, value=index) for index, name in enumerate(WEEKDAY_NAMES)],
    )
    @app_commands.autocomplete(circle=led_circles)
    async def prompt(
        self,
        interaction: discord.Interaction[Any],
        circle: str | None = None,
        schedule: str | None = None,
        time: app_commands.Range[str, 1, 10] | None = None,
        day: int | None = None,
    ) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        found = await self.service.resolve_facilitated(
            guild.id, actor, name=circle, channel_id=_channel_id(interaction), what=msg("schedule check-in prompts")
        )
        t = reader(interaction)
        zone = await self.service.server_zone(guild.id)
        if schedule == "off":
            stopped = await self.service.stop_prompt(found, actor)
            text = (
                t("Stopped the check-in prompt for **{circle}**.", circle=found.name)
                if stopped
                else t("**{circle}** had no check-in prompt, so nothing changed.", circle=found.name)
            )
            await reply(interaction, view=card(text))
            return
        if schedule is not None:
            prompt = await self.service.set_prompt(found, actor, schedule, time, day)
            await reply(interaction, view=card(t("✅ Saved.") + " " + prompt_text(found, prompt, zone, t)))
            return
        if time is not None or day is not None:
            raise InvalidInput(msg("Add schedule:Daily or schedule:Weekly to set the prompt's time or day."))
        await reply(interaction, view=card(prompt_text(found, await self.service.prompt(found), zone, t)))

    @checkin.command(name="tags", description="See or change the tags members can add to check-ins.", extras=FACILITATE)
    @app_commands.describe(
        circle="Which circle (default: this channel's)",
        tags="The tags, separated by commas, like: sleep, stress, family",
        reset="Go back to the default tags",
    )
    @app_commands.autocomplete(circle=led_circles)
    async def tags(
        self,
        interaction: discord.Interaction[Any],
        circle: str | None = None,
        tags: app_commands.Range[str, 1, 600] | None = None,
        reset: bool = False,
    ) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        found = await self.service.resolve_facilitated(
            guild.id,
            actor,
            name=circle,
            channel_id=_channel_id(interaction),
            what=msg("change the circle's check-in tags"),
        )
        t = reader(interaction)
        if tags is not None or reset:
            current = await self.service.set_circle_tags(found, actor, None if reset else tags)
            text = t(
                "✅ Saved. Members of **{circle}** can pick up to {most} of: {tags}.",
                circle=found.name,
                most=MAX_TAGS,
                tags=tag_list(current, t),
            )
        else:
            current = await self.service.tags_for(found)
            text = (
                t(
                    "Members of **{circle}** can pick up to {most} of these tags on a check-in: {tags}.",
                    circle=found.name,
                    most=MAX_TAGS,
                    tags=tag_list(current, t),
                )
                + "\n"
                + t.n(
                    "-# Change them with `/checkin tags tags:sleep, stress, family`, or `reset:True` for the "
                    "defaults. The pulse shows a tag only when at least {n} member chose it.",
                    "-# Change them with `/checkin tags tags:sleep, stress, family`, or `reset:True` for the "
                    "defaults. The pulse shows a tag only when at least {n} members chose it.",
                    PULSE_MIN_PEOPLE,
                )
            )
        await reply(interaction, view=card(text))
