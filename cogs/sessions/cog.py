from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import discord
from babel.numbers import format_decimal
from discord import app_commands
from discord.ext import commands

from bot.errors import InvalidInput, StorageError
from bot.i18n import Speaker, msg
from bot.safety import assess
from bot.services.circles import CircleService
from bot.services.crisis import CrisisResources
from bot.services.help import Audience
from bot.services.member_time import MemberTimeService
from bot.services.server_settings import ServerSettings
from bot.services.sessions.models import EventState, SessionDraft, SessionView, UpcomingView, channel_link
from bot.services.sessions.service import SessionService
from bot.services.timezones import search_timezones, validate_timezone
from bot.storage.circles import Circle
from bot.timekeeping.markup import stamp
from bot.timekeeping.recurrence import LAST, Occurrence, describe
from bot.timekeeping.words import local_phrase, offsets_text, short_date
from bot.ui.command_i18n import NAME_CONTEXT, NAME_PATTERN
from bot.ui.confirm import ConfirmView
from bot.ui.language import reader, server_speaker
from bot.ui.people import actor_from, guild_of
from bot.ui.replies import reply, text_card
from bot.ui.safety import CALM, crisis_sections
from cogs.sessions.discord_port import DiscordSessionPort
from cogs.sessions.views import (
    CloseConfirm,
    CommentOffer,
    FeedbackButton,
    SessionButton,
    StepOutView,
    when_line,
    where_line,
)

log = logging.getLogger(__name__)

FACILITATE = {"audience": Audience.FACILITATOR}
MEMBER = {"audience": Audience.MEMBER}
RECURRENCE = [
    app_commands.Choice(name="Once", value="once"),
    app_commands.Choice(name="Weekly (pick days with weekdays; every_weeks for every 2nd week...)", value="weekly"),
    app_commands.Choice(name="Monthly on the same weekday (e.g. the 2nd Tuesday)", value="monthly"),
]
MONTH_WEEKS = [
    app_commands.Choice(name="1st", value=1),
    app_commands.Choice(name="2nd", value=2),
    app_commands.Choice(name="3rd", value=3),
    app_commands.Choice(name="4th", value=4),
    app_commands.Choice(name="5th (skipped in months without one)", value=5),
    app_commands.Choice(name="Last", value=LAST),
]
SCOPES = [
    app_commands.Choice(name="Just this session", value="this"),
    app_commands.Choice(name="Every session in the series", value="series"),
]
ON_OFF = [app_commands.Choice(name="On", value="on"), app_commands.Choice(name="Off", value="off")]
WhereChannel = discord.VoiceChannel | discord.StageChannel | discord.TextChannel
EVENT_STATUS = {1: "scheduled", 2: "active", 3: "completed", 4: "canceled"}


def channel_kind(channel: Any) -> str:
    if isinstance(channel, discord.StageChannel) or getattr(channel, "type", None) == discord.ChannelType.stage_voice:
        return "stage"
    if isinstance(channel, discord.VoiceChannel) or getattr(channel, "type", None) == discord.ChannelType.voice:
        return "voice"
    return "text"


def upcoming_line(item: UpcomingView, t: Speaker) -> str:
    head = f"**{item.title}** · {item.circle_name}"
    if item.session and item.session.status == "open":
        head = t("{session} · **happening now**", session=head)
    when = f"{stamp(item.starts_at)} ({stamp(item.starts_at, 'R')}) · <#{item.channel_id}>"
    if item.rsvp == "going":
        when = t("{when} · **you're going**", when=when)
    elif item.rsvp == "waitlist":
        when = t("{when} · you're on the waitlist", when=when)
    return "\n".join([head, when, t("-# Your time: {time}", time=item.local_text(t))])


def occurrence_text(found: SessionView | Occurrence, title: str, t: Speaker) -> str:
    return t("**{title}** on {when}", title=title, when=stamp(found.starts_at))


def option_name(name: str, t: Speaker) -> str:
    """A slash command option's name as the reader's Discord shows it (see bot/ui/command_i18n.py)."""
    translated = t.p(NAME_CONTEXT, name)
    return translated if NAME_PATTERN.match(translated) and translated == translated.lower() else name


def where_and_reminders(channel_id: int, reminders: str, capacity: int | None, t: Speaker) -> str:
    """ "**Where:** #channel · **Reminders:** 24 hours, 15 minutes before · **Places:** 8"."""
    if capacity:
        return t(
            "**Where:** {channel} · **Reminders:** {reminders} · **Places:** {places}",
            channel=channel_link(channel_id),
            reminders=reminders,
            places=capacity,
        )
    return t("**Where:** {channel} · **Reminders:** {reminders}", channel=channel_link(channel_id), reminders=reminders)


class SessionsCog(commands.Cog):
    session = app_commands.Group(
        name="session", description="Circle meetings: schedule, join, remind.", guild_only=True
    )

    def __init__(
        self,
        bot: commands.Bot,
        service: SessionService,
        circles: CircleService,
        crisis: CrisisResources,
        guild_settings: ServerSettings,
        member_time: MemberTimeService,
    ) -> None:
        self.bot = bot
        self.service = service
        self.circles = circles
        self.crisis = crisis
        self.guild_settings = guild_settings
        self.port = DiscordSessionPort(bot, guild_settings, member_time)
        self._wrapped: dict[str, Any] = {}
        self._buttons = {
            "rsvp": self._rsvp,
            "unrsvp": self._unrsvp,
            "here": self._here,
            "goround": self._goround,
            "close": self._close,
            "pass": self._pass,
            "tstart": self._timer,
            "tpause": self._timer,
            "tnext": self._timer,
        }

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(SessionButton, FeedbackButton)
        self._hook_interest_events()
        if self.bot.is_ready():
            await self.catch_up()

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(SessionButton, FeedbackButton)
        self._unhook_interest_events()

    # -- buttons and forms (SessionHandlers, routed from views.py) -------------------------

    async def on_session_button(self, interaction: discord.Interaction[Any], action: str, occurrence_id: int) -> None:
        await self._buttons[action](interaction, action, occurrence_id)

    async def on_feedback(self, interaction: discord.Interaction[Any], occurrence_id: int, score: int) -> None:
        t = reader(interaction)
        feedback_id = await self.service.give_feedback(occurrence_id, interaction.user.id, score)
        if feedback_id is None:
            await reply(interaction, t("You've already answered for this session. Thank you."))
            return
        await reply(
            interaction,
            t(
                "Thank you: your answer ({score} of 5) is saved anonymously. If you like, add a private comment "
                "for the facilitators (they can't see who wrote it).",
                score=score,
            ),
            view=CommentOffer(feedback_id, t),
        )

    async def on_step_out(self, interaction: discord.Interaction[Any], occurrence_id: int) -> None:
        t = reader(interaction)
        await self.service.step_out(occurrence_id, interaction.user.id)
        await interaction.response.edit_message(
            content=t("Done: you're not in the go-round. You're still very welcome to listen."), view=None
        )

    async def on_comment(self, interaction: discord.Interaction[Any], feedback_id: int, text: str) -> None:
        t = reader(interaction)
        saved = await self.service.add_comment(feedback_id, text)
        thanks = (
            t("Thank you: your comment is saved without your name.")
            if saved
            else t("You've already added a comment for this answer. Thank you.")
        )
        if assess(text).flagged:
            sections = await crisis_sections(self.crisis, self.guild_settings, interaction.guild_id, t=t)
            sections.append(
                t(
                    "{thanks} Because it's anonymous, nobody can reach out to you about it, so if you need support "
                    "now, please use one of the lines above or talk to someone you trust.",
                    thanks=thanks,
                )
            )
            await reply(interaction, view=text_card(*sections, accent=CALM))
            return
        await reply(interaction, thanks)

    async def _rsvp(self, interaction: discord.Interaction[Any], action: str, occurrence_id: int) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)  # the announcement is updated too
        t = reader(interaction)
        result = await self.service.rsvp(occurrence_id, interaction.user.id)
        view = result.view
        when = f"{stamp(view.starts_at)} ({stamp(view.starts_at, 'R')})"
        if result.status == "waitlist":
            text = t(
                "**{title}** is full, so you're number {position} on the waitlist for {when}. "
                "I'll message you privately if a place opens up.",
                title=view.title,
                position=result.position,
                when=when,
            )
        elif result.already:
            text = t("You're already going to **{title}** on {when}. See you there.", title=view.title, when=when)
        else:
            text = t(
                "You're going to **{title}** on {when}. I'll remind you by DM before it starts.",
                title=view.title,
                when=when,
            )
        # The button is on the announcement, in the server's language.
        server = await server_speaker(self.guild_settings, view.guild_id, interaction.guild)
        changed_mind = t(
            "-# Changed your mind? Press **{button}**. Only you can see this.", button=server.p("button", "Not going")
        )
        await reply(interaction, text + "\n" + changed_mind)

    async def _unrsvp(self, interaction: discord.Interaction[Any], action: str, occurrence_id: int) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        t = reader(interaction)
        changed = await self.service.unrsvp(occurrence_id, interaction.user.id)
        text = (
            t("Okay, you're not going. Thank you for letting us know; you won't get reminders for this one.")
            if changed
            else t("You weren't on the list for this session, so there's nothing to change.")
        )
        await reply(interaction, text)

    async def _here(self, interaction: discord.Interaction[Any], action: str, occurrence_id: int) -> None:
        t = reader(interaction)
        new = await self.service.arrive(occurrence_id, interaction.user.id)
        text = (
            t(
                "Welcome, it's good to have you here. When the facilitator starts a go-round you'll be in the order, "
                "and you can pass at any time."
            )
            if new
            else t("You're already here. If you'd rather not be in the go-round, you can step out.")
        )
        await reply(interaction, text, view=StepOutView(occurrence_id, interaction.user.id, t))

    async def _goround(self, interaction: discord.Interaction[Any], action: str, occurrence_id: int) -> None:
        actor = actor_from(interaction)
        await self.service.require_facilitator_for(occurrence_id, actor, msg("lead its sessions"))
        await interaction.response.defer(ephemeral=True, thinking=True)
        goround = await self.service.start_goround(actor, occurrence_id)
        await reply(
            interaction,
            reader(interaction).n(
                "Started a go-round with {n} person, in a random order.",
                "Started a go-round with {n} people, in a random order.",
                len(goround.speakers),
            ),
        )

    async def _close(self, interaction: discord.Interaction[Any], action: str, occurrence_id: int) -> None:
        actor = actor_from(interaction)
        await self.service.require_facilitator_for(occurrence_id, actor, msg("close its sessions"))
        t = reader(interaction)

        async def confirmed(pressed: discord.Interaction[Any]) -> None:
            await pressed.response.defer()
            count = await self.service.close(actor, occurrence_id)
            await pressed.edit_original_response(
                content=reader(pressed).n(
                    "Closed. {n} person was here (only the number is kept).",
                    "Closed. {n} people were here (only the number is kept).",
                    count,
                ),
                view=None,
            )

        await reply(
            interaction,
            t(
                "Close the session for everyone? I'll post the closing words and the anonymous feedback, and keep "
                "only the number of people who were here."
            ),
            view=CloseConfirm(actor.user_id, confirmed, t),
        )

    async def _pass(self, interaction: discord.Interaction[Any], action: str, occurrence_id: int) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        t = reader(interaction)
        passed = await self.service.pass_turn(occurrence_id, interaction.user.id)
        text = (
            t("Okay, you've passed this round. That's always fine.")
            if passed
            else t("You're not in this go-round's order (only people who pressed I'm here before it started are).")
        )
        await reply(interaction, text)

    async def _timer(self, interaction: discord.Interaction[Any], action: str, occurrence_id: int) -> None:
        actor = actor_from(interaction)
        await self.service.require_facilitator_for(occurrence_id, actor, msg("lead its sessions"))
        await interaction.response.defer(ephemeral=True, thinking=True)
        t = reader(interaction)
        if action == "tnext":
            await self.service.next_speaker(actor, occurrence_id)
            await reply(interaction, t("Moved on to the next speaker."))
            return
        await self.service.timer(actor, occurrence_id, "start" if action == "tstart" else "pause")
        await reply(interaction, t("Timer started.") if action == "tstart" else t("Timer paused."))

    # -- Discord's "Interested" ------------------------------------------------------------
    #
    # discord.py only dispatches on_scheduled_event_user_add/remove when the user is in its cache,
    # which (with no members intent, as here) it never is. So the raw gateway events are read
    # here as well, and a full re-read of each event's "Interested" list runs before reminders.

    def _hook_interest_events(self) -> None:
        parsers: dict[str, Any] | None = getattr(getattr(self.bot, "_connection", None), "parsers", None)
        if parsers is None:
            return
        for name, added in (("GUILD_SCHEDULED_EVENT_USER_ADD", True), ("GUILD_SCHEDULED_EVENT_USER_REMOVE", False)):
            original = parsers.get(name)
            if original is None or name in self._wrapped:
                continue
            self._wrapped[name] = original

            def wrapper(data: Any, _original: Any = original, _added: bool = added) -> None:
                _original(data)
                try:
                    payload = (int(data["guild_id"]), int(data["guild_scheduled_event_id"]), int(data["user_id"]))
                except (KeyError, TypeError, ValueError):
                    return
                self.bot.dispatch("session_interest", *payload, _added)

            parsers[name] = wrapper

    def _unhook_interest_events(self) -> None:
        parsers: dict[str, Any] | None = getattr(getattr(self.bot, "_connection", None), "parsers", None)
        if parsers is None:
            return
        for name, original in self._wrapped.items():
            parsers[name] = original
        self._wrapped.clear()

    @commands.Cog.listener()
    async def on_session_interest(self, guild_id: int, event_id: int, user_id: int, added: bool) -> None:
        await self.service.interest_changed(guild_id, event_id, user_id, added)

    # -- hand edits in Discord -----------------------------------------------------------

    @commands.Cog.listener()
    async def on_scheduled_event_delete(self, event: discord.ScheduledEvent) -> None:
        await self.service.event_removed(event.guild_id, event.id)

    @commands.Cog.listener()
    async def on_scheduled_event_update(self, before: discord.ScheduledEvent, after: discord.ScheduledEvent) -> None:
        status = EVENT_STATUS.get(after.status.value, "scheduled")
        await self.service.event_changed(after.guild_id, after.id, status, after.start_time, after.end_time)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        await self.catch_up()

    async def catch_up(self) -> None:
        """Rebuild after a (re)connect: follow events changed while away, and roll every series forward."""
        if self.bot.is_closed():
            return
        events: dict[int, EventState] = {}
        guild_ids: set[int] = set()
        for guild in self.bot.guilds:
            guild_ids.add(guild.id)
            for event in guild.scheduled_events:
                events[event.id] = EventState(
                    guild.id, EVENT_STATUS.get(event.status.value, "scheduled"), event.start_time, event.end_time
                )
        try:
            await self.service.rebuild(events, guild_ids)
        except StorageError:
            log.debug("sessions rebuild skipped: the database is closed")

    # -- autocomplete -------------------------------------------------------------------

    async def circle_names(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild is None:
            return []
        found = await self.circles.search(interaction.guild.id, current)
        return [app_commands.Choice(name=c.name, value=c.name) for c in found]

    async def occurrence_refs(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild is None:
            return []
        found = await self.service.choices(
            interaction.guild.id, actor_from(interaction), current, t=reader(interaction)
        )
        return [app_commands.Choice(name=label, value=ref) for label, ref in found]

    async def series_refs(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild is None:
            return []
        found = await self.service.choices(
            interaction.guild.id, actor_from(interaction), current, series_only=True, t=reader(interaction)
        )
        return [app_commands.Choice(name=label, value=ref) for label, ref in found]

    async def zones(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=z, value=z) for z in search_timezones(current)]

    async def _zone_for(self, interaction: discord.Interaction[Any]) -> str:
        typed = getattr(interaction.namespace, "timezone", None)
        if typed:
            try:
                return validate_timezone(str(typed))
            except InvalidInput:
                pass
        guild_id = interaction.guild_id or 0
        return (await self.guild_settings.get(guild_id)).timezone

    async def dates(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        t = reader(interaction)
        zone = await self._zone_for(interaction)
        today = datetime.now(ZoneInfo(zone)).date()
        needle = current.strip().casefold()
        out: list[app_commands.Choice[str]] = []
        try:
            typed = date.fromisoformat(current.strip())
            out.append(app_commands.Choice(name=short_date(typed, t), value=typed.isoformat()))
        except ValueError:
            pass
        for offset in range(0, 60):
            day = today + timedelta(days=offset)
            label = short_date(day, t)
            if offset == 0:
                label = t("{date} (today)", date=label)
            elif offset == 1:
                label = t("{date} (tomorrow)", date=label)
            if not needle or needle in label.casefold() or day.isoformat().startswith(needle):
                out.append(app_commands.Choice(name=label, value=day.isoformat()))
            if len(out) >= 25:
                break
        return out

    async def times(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        from bot.timekeeping.parsing import parse_time

        out: list[app_commands.Choice[str]] = []
        if current.strip():
            try:
                typed = parse_time(current).strftime("%H:%M")
                out.append(app_commands.Choice(name=typed, value=typed))
            except InvalidInput:
                pass
        needle = current.strip()
        for minutes in range(6 * 60, 24 * 60, 30):
            label = f"{minutes // 60:02d}:{minutes % 60:02d}"
            if (not needle or label.startswith(needle) or label.lstrip("0").startswith(needle)) and all(
                c.value != label for c in out
            ):
                out.append(app_commands.Choice(name=label, value=label))
            if len(out) >= 25:
                break
        return out

    async def _find_circle(self, interaction: discord.Interaction[Any], name: str) -> Circle:
        return await self.circles.find(guild_of(interaction).id, name)

    # -- facilitators -------------------------------------------------------------------

    @session.command(name="schedule", description="Schedule a circle meeting (once or recurring).", extras=FACILITATE)
    @app_commands.describe(
        circle="The circle that meets",
        title="A short title, like Weekly check-in",
        first_date="The first date (local)",
        start_time="Local start time, like 19:00 or 7pm",
        duration="Length in minutes (default 60)",
        place="Where: a voice channel, a stage, or a text channel (default: the circle's channel)",
        recurrence="How often it repeats",
        weekdays="Weekly: which days, like “Mon, Thu” or “weekdays” (default: the first date's day)",
        every_weeks="Weekly: every how many weeks (default 1)",
        month_week="Monthly: which weekday of the month (default: as on the first date)",
        reminders="DM reminders before it starts, like “24h, 15m” (the default) or “none”",
        capacity="How many places (leave empty for no limit)",
        timezone="The time zone of the date and time (default: the server's)",
        description="One or two lines about the session",
        speaker_minutes="Minutes per speaker in the go-round timer (default 3)",
    )
    @app_commands.choices(recurrence=RECURRENCE)
    @app_commands.choices(month_week=MONTH_WEEKS)
    @app_commands.autocomplete(circle=circle_names, first_date=dates, start_time=times, timezone=zones)
    async def schedule(
        self,
        interaction: discord.Interaction[Any],
        circle: str,
        title: app_commands.Range[str, 1, 100],
        first_date: str,
        start_time: str,
        duration: app_commands.Range[int, 15, 480] = 60,
        place: WhereChannel | None = None,
        recurrence: str = "once",
        weekdays: str | None = None,
        every_weeks: app_commands.Range[int, 1, 12] = 1,
        month_week: int | None = None,
        reminders: str | None = None,
        capacity: app_commands.Range[int, 1, 1000] | None = None,
        timezone: str | None = None,
        description: app_commands.Range[str, 0, 800] = "",
        speaker_minutes: app_commands.Range[int, 1, 30] = 3,
    ) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        found = await self._find_circle(interaction, circle)
        channel_id = place.id if place is not None else found.channel_id
        channel_name = place.name if place is not None else ""
        if place is None and found.channel_id is not None:
            cached = guild.get_channel(found.channel_id)
            channel_name = cached.name if cached is not None else found.name
        draft = SessionDraft(
            circle_id=found.id,
            title=title,
            first_date=first_date,
            start_time=start_time,
            duration_minutes=duration,
            channel_id=channel_id or 0,
            channel_kind=channel_kind(place) if place is not None else "text",
            channel_name=channel_name,
            recurrence=recurrence,
            weekdays=weekdays,
            every_weeks=every_weeks,
            month_week=month_week,
            reminders=reminders,
            capacity=capacity,
            timezone=timezone,
            description=description,
            speaker_minutes=speaker_minutes,
        )
        await self.service.validate(guild.id, actor, draft)
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.service.schedule(actor, guild.id, draft)
        t = reader(interaction)
        series = result.series
        first = result.made[0] if result.made else None
        lines = [
            t("## Scheduled: {title}", title=series.title),
            f"**{found.name}** · {describe(series.rule, t)}",
            t(
                "**First session:** {when} ({relative}), {local}",
                when=stamp(result.first.starts_at),
                relative=stamp(result.first.starts_at, "R"),
                local=local_phrase(result.first.starts_at, series.timezone, t),
            ),
            where_and_reminders(series.channel_id, offsets_text(series.offsets, t), series.capacity, t),
        ]
        if result.first.shifted:
            lines.append(
                t(
                    "-# That local time doesn't exist on that day (the clocks go forward), so it's an hour later "
                    "on the clock that one time."
                )
            )
        channel = f"<#{found.channel_id}>"  # checked by the service: the circle has its channel
        made = (
            t.n(
                "I added it to Discord's Events list and posted the announcement in {channel}. "
                "Later sessions are added as each one ends.",
                "I added the next {n} to Discord's Events list and posted the announcement in {channel}. "
                "Later sessions are added as each one ends.",
                len(result.made),
                channel=channel,
            )
            if first and first.event_id
            else t("I posted the announcement in {channel}.", channel=channel)
        )
        await reply(interaction, view=text_card("\n".join(lines), made))

    @session.command(name="edit", description="Change one session, or every session in a series.", extras=FACILITATE)
    @app_commands.describe(
        session="The session (for the series, any of its dates)",
        scope="Just this session, or the whole series",
        new_date="This session only: move it to another date",
        new_time="A new local start time, like 19:30",
        duration="A new length in minutes",
        title="Series: a new title",
        description="Series: a new description",
        place="Series: a new voice, stage or text channel",
        reminders="Series: new reminders, like “24h, 1h” or “none”",
        capacity="Series: places (0 for no limit)",
        speaker_minutes="Series: minutes per speaker in the go-round",
    )
    @app_commands.choices(scope=SCOPES)
    @app_commands.autocomplete(session=occurrence_refs, new_date=dates, new_time=times)
    async def edit(
        self,
        interaction: discord.Interaction[Any],
        session: str,
        scope: str = "this",
        new_date: str | None = None,
        new_time: str | None = None,
        duration: app_commands.Range[int, 15, 480] | None = None,
        title: app_commands.Range[str, 1, 100] | None = None,
        description: app_commands.Range[str, 0, 800] | None = None,
        place: WhereChannel | None = None,
        reminders: str | None = None,
        capacity: app_commands.Range[int, 0, 1000] | None = None,
        speaker_minutes: app_commands.Range[int, 1, 30] | None = None,
    ) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        t = reader(interaction)
        series, _ = await self.service.resolve(guild.id, session)
        circle = await self.service.circle(series.circle_id)
        await self.service.require_facilitator(circle, actor, msg("change its sessions"))
        series_only = [
            n
            for n, v in (
                ("title", title),
                ("description", description),
                ("place", place),
                ("reminders", reminders),
                ("capacity", capacity),
                ("speaker_minutes", speaker_minutes),
            )
            if v is not None
        ]
        if scope == "this" and series_only:
            options = tuple(option_name(n, t) for n in series_only)  # listed the reader's way
            raise InvalidInput(
                msg("{options} apply to every session: choose scope “Every session in the series”.", options=options)
            )
        if scope == "series" and new_date is not None:
            raise InvalidInput(
                msg("Moving to another date works for one session at a time: choose scope “Just this session”.")
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        if scope == "this":
            moved = await self.service.edit_occurrence(
                actor, guild.id, session, new_date=new_date, new_time=new_time, duration_minutes=duration
            )
            await reply(
                interaction,
                t(
                    "Changed: {session} ({relative}). The Discord event, the announcement and the reminders follow, "
                    "and anyone going was told privately.",
                    session=occurrence_text(moved, series.title, t),
                    relative=stamp(moved.starts_at, "R"),
                ),
            )
            return
        updated, said = await self.service.edit_series(
            actor,
            guild.id,
            session,
            title=title,
            description=description,
            start_time=new_time,
            duration_minutes=duration,
            channel=(place.id, channel_kind(place), place.name) if place is not None else None,
            reminders=reminders,
            capacity=capacity,
            speaker_minutes=speaker_minutes,
        )
        if not said:
            await reply(interaction, t("Nothing changed: add an option to /session edit to change something."))
            return
        await reply(
            interaction,
            t(
                "Saved for every session of **{title}**: {changes}. Upcoming Discord events and announcements "
                "were updated.",
                title=updated.title,
                changes="; ".join(t.render(m) for m in said),
            ),
        )

    @session.command(name="skip", description="Skip one session (the series goes on).", extras=FACILITATE)
    @app_commands.describe(session="The session to skip", note="An optional note for the people who were going")
    @app_commands.autocomplete(session=occurrence_refs)
    async def skip(
        self, interaction: discord.Interaction[Any], session: str, note: app_commands.Range[str, 0, 300] | None = None
    ) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        series, _ = await self.service.resolve(guild.id, session)
        await self.service.require_facilitator(
            await self.service.circle(series.circle_id), actor, msg("skip its sessions")
        )
        await interaction.response.defer(ephemeral=True, thinking=True)
        skipped = await self.service.skip(actor, guild.id, session, note)
        t = reader(interaction)
        await reply(
            interaction,
            t(
                "Skipped {session}. Its Discord event and reminders are gone, anyone going was told privately, "
                "and the rest of the series goes on.",
                session=occurrence_text(skipped, series.title, t),
            ),
        )

    @session.command(name="cancel", description="Cancel a whole series of sessions.", extras=FACILITATE)
    @app_commands.describe(session="The series to cancel")
    @app_commands.autocomplete(session=series_refs)
    async def cancel(self, interaction: discord.Interaction[Any], session: str) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        series, _ = await self.service.resolve(guild.id, session)
        await self.service.require_facilitator(
            await self.service.circle(series.circle_id), actor, msg("cancel its sessions")
        )
        t = reader(interaction)

        async def confirmed(pressed: discord.Interaction[Any]) -> None:
            await pressed.response.defer()
            cancelled, removed = await self.service.cancel(actor, guild.id, session)
            await pressed.edit_original_response(
                content=reader(pressed).n(
                    "Cancelled **{title}**. I removed {n} upcoming event from Discord's Events list and told anyone "
                    "going, privately.",
                    "Cancelled **{title}**. I removed {n} upcoming events from Discord's Events list and told anyone "
                    "going, privately.",
                    removed,
                    title=cancelled.title,
                ),
                view=None,
            )

        await reply(
            interaction,
            t(
                "Cancel every upcoming session of **{title}**? The Discord events are removed and people who said "
                "they're going are told privately. A session that's happening now isn't interrupted.",
                title=series.title,
            ),
            view=ConfirmView(
                actor.user_id,
                confirmed,
                card="session:cancel",
                confirm_label=t.p("button", "Cancel the series"),
                cancel_label=t.p("button", "Keep it"),
                t=t,
            ),
        )

    @session.command(name="report", description="Attendance and feedback for a circle's sessions.", extras=FACILITATE)
    @app_commands.describe(circle="The circle")
    @app_commands.autocomplete(circle=circle_names)
    async def report(self, interaction: discord.Interaction[Any], circle: str) -> None:
        guild = guild_of(interaction)
        t = reader(interaction)
        found = await self._find_circle(interaction, circle)
        rows = await self.service.report(actor_from(interaction), guild.id, found.id)
        if not rows:
            await reply(interaction, t("No **{circle}** sessions have closed yet.", circle=found.name))
            return
        lines = [t("## Sessions of {circle}", circle=found.name)]
        comments: list[str] = []
        for row in rows:
            people = t("not recorded") if row.attendance is None else t("{n} here", n=row.attendance)
            if row.average is None:
                feedback = t.n(
                    "feedback: {n} answered (shown from 5, to keep answers anonymous)",
                    "feedback: {n} answered (shown from 5, to keep answers anonymous)",
                    row.responses,
                )
            else:
                average = Decimal(f"{row.average:.1f}")  # rounded as before, written as the reader writes numbers
                feedback = t(
                    "feedback: **{average}** of 5 from {n}",
                    average=format_decimal(average, "0.0", locale=t.locale),
                    n=row.responses,
                )
            title = row.title if row.title is not None else t("Session")
            lines.append(f"- {stamp(row.starts_at, 'D')} · {title} · {people} · {feedback}")
            comments.extend(t("- “{comment}”", comment=c) for c in row.comments)
        sections = ["\n".join(lines)[:3800]]
        if comments:
            sections.append((t("**Comments** (anonymous, in no particular order)") + "\n" + "\n".join(comments))[:3800])
        sections.append(t("-# Only counts are kept: nobody's attendance or answers are linked to them."))
        await reply(interaction, view=text_card(*sections))

    # -- everyone -----------------------------------------------------------------------

    @session.command(name="list", description="Upcoming circle meetings, in your own time zone.", extras=MEMBER)
    @app_commands.describe(circle="Only this circle's sessions")
    @app_commands.autocomplete(circle=circle_names)
    async def list_sessions(self, interaction: discord.Interaction[Any], circle: str | None = None) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        t = reader(interaction)
        circle_id = (await self._find_circle(interaction, circle)).id if circle else None
        items = await self.service.upcoming(guild.id, actor, circle_id=circle_id)
        zone, own = await self.service.member_time.zone_name(guild.id, actor.user_id)
        zone_line = (
            t("-# “Your time” is in {zone}, your own time zone.", zone=zone)
            if own
            else t("-# “Your time” is in {zone}, the server's time zone. Set your own with /timezone set.", zone=zone)
        )
        if not items:
            await reply(
                interaction, t("No sessions are coming up yet. Facilitators can add one with /session schedule.")
            )
            return
        await reply(
            interaction,
            view=text_card(
                t("## Upcoming sessions") + "\n" + "\n\n".join(upcoming_line(i, t) for i in items), zone_line
            ),
        )

    @session.command(name="info", description="About one session: when, where, how to join.", extras=MEMBER)
    @app_commands.describe(session="The session")
    @app_commands.autocomplete(session=occurrence_refs)
    async def info(self, interaction: discord.Interaction[Any], session: str) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        t = reader(interaction)
        series, upcoming, circle = await self.service.info(guild.id, actor, session)
        reminders = offsets_text(series.offsets, t)
        head = [
            f"## {series.title}",
            f"**{circle.name}** · {describe(series.rule, t)}",
            t.n(
                "**Where:** {channel} · {n} minute",
                "**Where:** {channel} · {n} minutes",
                series.duration_minutes,
                channel=channel_link(series.channel_id),
            ),
            t("**Reminders:** {reminders} · **Places:** {places}", reminders=reminders, places=series.capacity)
            if series.capacity
            else t("**Reminders:** {reminders}", reminders=reminders),
        ]
        if series.description:
            head.append(series.description)
        if not series.active:
            head.append(
                t("This series has been cancelled.") if series.status == "cancelled" else t("This series has ended.")
            )
        sections = ["\n".join(head)]
        if upcoming:
            sections.append(t("**Coming up**") + "\n" + "\n\n".join(upcoming_line(i, t) for i in upcoming))
            first = upcoming[0].session
            if first is not None:
                sections.append(
                    "\n".join(
                        [when_line(first, t), where_line(first, t), t("-# Press Going on its announcement to RSVP.")]
                    )
                )
        await reply(interaction, view=text_card(*sections))

    @session.command(name="remind", description="Reminders by DM for every session of a circle.", extras=MEMBER)
    @app_commands.describe(circle="The circle", setting="On or off")
    @app_commands.choices(setting=ON_OFF)
    @app_commands.autocomplete(circle=circle_names)
    async def remind(self, interaction: discord.Interaction[Any], circle: str, setting: str) -> None:
        guild = guild_of(interaction)
        t = reader(interaction)
        found = await self._find_circle(interaction, circle)
        on = setting == "on"
        await self.service.set_reminders(guild.id, found.id, interaction.user.id, on)
        text = (
            t(
                "Done: I'll remind you by DM before every **{circle}** session, with the time in your own time "
                "zone. Turn it off any time with /session remind.",
                circle=found.name,
            )
            if on
            else t(
                "Done: no more reminders for every **{circle}** session. Sessions you press Going on still remind you.",
                circle=found.name,
            )
        )
        await reply(interaction, text)
