"""Scheduled group sessions: recurring circle meetings as native Discord events, RSVPs with a
waitlist, DM reminders, and the facilitated session itself (opening, go-round, timer, close,
anonymous feedback).

How it fits together
    * A **series** stores the recurrence rule (:mod:`bot.services.recurrence`). Occurrences are
      made ahead of time (:meth:`SessionService.ensure_window`): always the next one, plus any
      others starting within :data:`WINDOW` (at most :data:`MAX_AHEAD`). Each gets a row, a
      native Discord Guild Scheduled Event, an announcement with Going / Not going buttons, and
      scheduler jobs (reminders, start, end). The window rolls forward when an occurrence ends,
      is closed, skipped or cancelled, and at every start.
    * Jobs are ``circle:{circle_id}:session:{occurrence_id}:{what}`` so archiving a circle stops
      them; every handler no-ops if its occurrence, series or circle is gone.
    * Discord is reached through the :class:`SessionDiscord` port (implemented in
      ``cogs/sessions/discord_port.py``); this module imports nothing from discord.

Logs carry event kinds, opaque ids and counts: never user ids, never text.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol

from bot.clock import Clock
from bot.errors import Conflict, InvalidInput, MissingBotPermissions, NotAllowed, NotFound
from bot.scheduler import Job, JobHandler, Scheduler
from bot.sends import RetryLater
from bot.services.access import AccessService, Actor
from bot.services.member_time import MemberTimeService
from bot.services.recurrence import (
    LAST,
    Change,
    Kind,
    Occurrence,
    Rule,
    describe,
    is_last_of_month,
    local_phrase,
    occurrence_on,
    occurrences,
    parse_date,
    parse_offsets,
    parse_time,
    parse_weekdays,
    tz,
    week_of_month,
)
from bot.services.timezones import validate_timezone
from bot.storage.circles import Circle, CircleRepository
from bot.storage.database import typed_id
from bot.storage.guilds import GuildSettingsRepository
from bot.storage.sessions import FEEDBACK_WINDOW, Rsvp, Series, SessionRepository, StoredOccurrence

log = logging.getLogger(__name__)

# Job kinds (the lead registers these with the scheduler; see SessionService.job_handlers).
JOB_REMIND = "session.remind"
JOB_START = "session.start"
JOB_END = "session.end"
JOB_TIMER = "session.timer"

WINDOW = timedelta(days=7)
MAX_AHEAD = 3
LIST_AHEAD = timedelta(days=35)
AUTOCLOSE_AFTER = timedelta(minutes=30)  # an open session nobody closed closes this long after its end
END_GRACE = timedelta(days=2)
TIMER_GRACE = timedelta(minutes=5)
REMINDER_GRACE = timedelta(minutes=10)
DEFAULT_REMINDERS = "24h, 15m"
TITLE_LIMIT = 100  # Discord's limit for an event name
DESCRIPTION_LIMIT = 800  # Discord allows 1000; the bot adds a line
COMMENT_LIMIT = 1000
DURATION_RANGE = (15, 480)
CAPACITY_RANGE = (1, 1000)
SPEAKER_RANGE = (1, 30)
REPORT_MINIMUM = 5
HAND_EDIT_TOLERANCE = timedelta(seconds=59)
LIVE = ("scheduled", "open")


class DmResult(StrEnum):
    SENT = "sent"
    SENT_BEFORE = "sent_before"  # a scheduled DM an earlier run of the same job had sent
    CLOSED = "closed"  # the person doesn't accept DMs (Discord error 50007): skipped quietly
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SessionView:
    """What a renderer needs to show one occurrence."""

    occurrence_id: int
    series_id: int
    guild_id: int
    circle_id: int
    circle_name: str
    circle_channel_id: int | None
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    recurrence: str
    channel_id: int
    channel_kind: str
    channel_name: str
    capacity: int | None
    going: int
    waiting: int
    status: str
    note: str | None
    event_id: int | None

    @property
    def local_text(self) -> str:
        return local_phrase(self.starts_at, self.timezone)

    @property
    def full(self) -> bool:
        return self.capacity is not None and self.going >= self.capacity

    @property
    def post_channel_id(self) -> int | None:
        """Where the session itself happens in text: its own text channel, else the circle's."""
        return self.channel_id if self.channel_kind == "text" else self.circle_channel_id


@dataclass(frozen=True, slots=True)
class ReminderView:
    session: SessionView
    offset_minutes: int
    local_text: str  # in the member's own zone
    zone_is_own: bool
    ground_rules: str
    going: bool  # RSVPed (True) or opted in for all of the circle's sessions (False)


@dataclass(frozen=True, slots=True)
class GoRoundView:
    speakers: tuple[int, ...]  # who still speaks, in order (those who passed are not named)
    current: int | None  # index into speakers, None when the round is over
    timer_state: str
    timer_ends_at: datetime | None
    remaining: timedelta
    speaker_minutes: int
    closed: bool = False


@dataclass(frozen=True, slots=True)
class UpcomingView:
    session: SessionView | None  # None when not made yet (more than a week ahead)
    series_id: int
    original_date: date
    title: str
    circle_name: str
    starts_at: datetime
    ends_at: datetime
    channel_id: int
    local_text: str  # in the viewer's zone
    rsvp: str | None  # the viewer's: going / waitlist


@dataclass(frozen=True, slots=True)
class ReportRow:
    starts_at: datetime
    title: str
    attendance: int | None
    responses: int
    average: float | None  # None when fewer than REPORT_MINIMUM responded
    comments: tuple[str, ...]


@dataclass(slots=True)
class ScheduleResult:
    series: Series
    made: list[SessionView]
    first: Occurrence
    notices: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RsvpResult:
    status: str  # going / waitlist
    position: int | None  # place in the waitlist (1-based)
    already: bool
    view: SessionView


@dataclass(frozen=True, slots=True)
class EventState:
    """A Discord event as the bot sees it at connect time (for catching up on hand edits)."""

    guild_id: int
    status: str  # scheduled / active / completed / canceled
    starts_at: datetime
    ends_at: datetime | None


@dataclass(frozen=True, slots=True)
class SessionDraft:
    circle_id: int
    title: str
    first_date: str
    start_time: str
    duration_minutes: int
    channel_id: int
    channel_kind: str  # voice / stage / text
    channel_name: str = ""
    recurrence: str = "once"  # once / weekly / monthly
    weekdays: str | None = None
    every_weeks: int = 1
    month_week: int | None = None  # 1..5, or -1 (LAST)
    reminders: str | None = None
    capacity: int | None = None
    timezone: str | None = None
    description: str = ""
    speaker_minutes: int = 3


class SessionDiscord(Protocol):
    """The port through which sessions change things in Discord (see cogs/sessions/discord_port.py)."""

    async def require_event_permissions(self, guild_id: int, channel_id: int, channel_kind: str) -> None:
        """Raise MissingBotPermissions if the bot can't create events (for that channel)."""
        ...

    async def require_post(self, guild_id: int, channel_id: int) -> None:
        """Raise MissingBotPermissions if the bot can't post in that channel."""
        ...

    async def create_event(self, view: SessionView) -> int: ...

    async def update_event(self, view: SessionView) -> bool:
        """False if the event is gone."""
        ...

    async def set_event_status(self, guild_id: int, event_id: int, status: str) -> bool: ...

    async def delete_event(self, guild_id: int, event_id: int) -> None: ...

    async def interested(self, guild_id: int, event_id: int) -> list[int] | None:
        """Who pressed Discord's own "Interested"; None if that couldn't be read."""
        ...

    async def post_announcement(self, channel_id: int, view: SessionView) -> int | None: ...

    async def update_announcement(self, channel_id: int, message_id: int, view: SessionView) -> None: ...

    async def post_opening(self, channel_id: int, view: SessionView, ground_rules: str) -> int | None: ...

    async def close_opening(self, channel_id: int, message_id: int, view: SessionView, ground_rules: str) -> None: ...

    async def post_goround(self, channel_id: int, view: SessionView, goround: GoRoundView) -> int | None: ...

    async def update_goround(
        self, channel_id: int, message_id: int, view: SessionView, goround: GoRoundView
    ) -> None: ...

    async def post_closing(self, channel_id: int, view: SessionView) -> int | None: ...

    async def send_reminder(self, user_id: int, reminder: ReminderView) -> DmResult: ...

    async def send_notice(self, user_id: int, text: str) -> DmResult: ...

    async def post_text(self, channel_id: int, text: str) -> None: ...


def job_prefix(circle_id: int, occurrence_id: int) -> str:
    return f"circle:{circle_id}:session:{occurrence_id}:"


def parse_ref(ref: str) -> tuple[int, date | None]:
    """``"12"`` → series 12; ``"12:2026-03-03"`` → its occurrence on that local date."""
    head, _, day = ref.strip().partition(":")
    series_id = typed_id(head)
    if series_id is None:
        raise InvalidInput("Pick a session from the list Discord offers as you type.")
    if not day:
        return series_id, None
    try:
        return series_id, date.fromisoformat(day)
    except ValueError:
        raise InvalidInput("Pick a session from the list Discord offers as you type.") from None


def clean_text(raw: str | None, limit: int, what: str) -> str:
    text = (raw or "").strip()
    if len(text) > limit:
        raise InvalidInput(f"The {what} can be at most {limit} characters; yours has {len(text)}. Please shorten it.")
    return text


def _in_range(value: int, bounds: tuple[int, int], what: str) -> int:
    low, high = bounds
    if not low <= value <= high:
        raise InvalidInput(f"The {what} must be between {low} and {high}.")
    return value


class SessionService:
    def __init__(
        self,
        sessions: SessionRepository,
        circles: CircleRepository,
        settings: GuildSettingsRepository,
        access: AccessService,
        member_time: MemberTimeService,
        scheduler: Scheduler,
        clock: Clock,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.repo = sessions
        self.circles = circles
        self.settings = settings
        self.access = access
        self.member_time = member_time
        self.scheduler = scheduler
        self.clock = clock
        self.rng = rng or random.SystemRandom()
        self.discord: SessionDiscord | None = None

    def attach(self, port: SessionDiscord | None) -> None:
        """The cog attaches its Discord port when it loads (and detaches it when it unloads)."""
        self.discord = port

    def job_handlers(self) -> dict[str, JobHandler]:
        return {
            JOB_REMIND: self.run_reminder,
            JOB_START: self.run_start,
            JOB_END: self.run_end,
            JOB_TIMER: self.run_timer,
        }

    @property
    def port(self) -> SessionDiscord:
        if self.discord is None:
            raise RuntimeError("The sessions Discord port is not attached")
        return self.discord

    # -- rights -------------------------------------------------------------------------

    async def can_facilitate(self, circle: Circle, actor: Actor) -> bool:
        if circle.facilitator_role_id is not None and circle.facilitator_role_id in actor.role_ids:
            return True
        return await self.access.is_coordinator(circle.guild_id, actor)

    async def require_facilitator(self, circle: Circle, actor: Actor, what: str = "run its sessions") -> None:
        if not await self.can_facilitate(circle, actor):
            raise NotAllowed(
                f"Only the {circle.name} circle's facilitators, coordinators and server admins can {what}. "
                "If you think you should be able to, ask a coordinator."
            )

    async def require_facilitator_for(self, occurrence_id: int, actor: Actor, what: str) -> None:
        stored = await self.repo.occurrence(occurrence_id)
        circle = await self.circles.get(stored.circle_id) if stored else None
        if circle is None:
            raise NotFound("That session no longer exists.")
        await self.require_facilitator(circle, actor, what)

    async def _circle(self, circle_id: int) -> Circle:
        circle = await self.circles.get(circle_id)
        if circle is None:
            raise NotFound("That circle no longer exists.")
        return circle

    async def _series(self, guild_id: int, series_id: int) -> Series:
        series = await self.repo.series(series_id)
        if series is None or series.guild_id != guild_id:
            raise NotFound("I couldn't find that session. Pick one from the list Discord offers as you type.")
        return series

    # -- views --------------------------------------------------------------------------

    async def view(
        self, occurrence: StoredOccurrence, series: Series | None = None, circle: Circle | None = None
    ) -> SessionView:
        series = series or await self.repo.series(occurrence.series_id)
        assert series is not None
        circle = circle or await self.circles.get(series.circle_id)
        going, waiting = await self.repo.count_rsvps(occurrence.id)
        return SessionView(
            occurrence_id=occurrence.id,
            series_id=series.id,
            guild_id=series.guild_id,
            circle_id=series.circle_id,
            circle_name=circle.name if circle else "a circle",
            circle_channel_id=circle.channel_id if circle else None,
            title=series.title,
            description=series.description,
            starts_at=occurrence.starts_at,
            ends_at=occurrence.ends_at,
            timezone=series.timezone,
            recurrence=describe(series.rule),
            channel_id=series.channel_id,
            channel_kind=series.channel_kind,
            channel_name=series.channel_name,
            capacity=series.capacity,
            going=going,
            waiting=waiting,
            status=occurrence.status,
            note=occurrence.note,
            event_id=occurrence.discord_event_id,
        )

    async def view_of(self, occurrence_id: int) -> SessionView | None:
        occurrence = await self.repo.occurrence(occurrence_id)
        if occurrence is None:
            return None
        series = await self.repo.series(occurrence.series_id)
        if series is None:
            return None
        return await self.view(occurrence, series)

    # -- scheduling ---------------------------------------------------------------------

    async def build_rule(self, draft: SessionDraft, zone: str) -> Rule:
        first = parse_date(draft.first_date, today=self.clock.now().date())
        at = parse_time(draft.start_time)
        duration = timedelta(minutes=_in_range(draft.duration_minutes, DURATION_RANGE, "duration in minutes"))
        kind = draft.recurrence.strip().lower()
        if kind not in ("once", "weekly", "monthly"):
            raise InvalidInput("Choose how often: once, weekly, or monthly.")
        try:
            if kind == "weekly":
                days = parse_weekdays(draft.weekdays) if draft.weekdays else frozenset({first.weekday()})
                if not days:
                    days = frozenset({first.weekday()})
                interval = _in_range(draft.every_weeks, (1, 12), "number of weeks between sessions")
                return Rule(first, at, zone, duration, Kind.WEEKLY, days, interval)
            if kind == "monthly":
                nth = draft.month_week
                if nth is None:
                    nth = LAST if is_last_of_month(first) and week_of_month(first) == 5 else week_of_month(first)
                if nth not in (1, 2, 3, 4, 5, LAST):
                    raise InvalidInput("For monthly sessions, pick the 1st to 5th or the last weekday of the month.")
                return Rule(first, at, zone, duration, Kind.MONTHLY, month_week=nth, month_weekday=first.weekday())
            return Rule(first, at, zone, duration, Kind.ONCE)
        except ValueError as exc:
            raise InvalidInput(f"That schedule doesn't work: {exc}.") from None

    async def validate(self, guild_id: int, actor: Actor, draft: SessionDraft) -> tuple[Circle, Rule, Occurrence]:
        circle = await self._circle(draft.circle_id)
        if circle.guild_id != guild_id:
            raise NotFound("That circle isn't in this server.")
        await self.require_facilitator(circle, actor, "schedule its sessions")
        if not circle.active:
            raise InvalidInput(f"The {circle.name} circle is archived, so it can't have new sessions.")
        if circle.channel_id is None:
            raise InvalidInput(
                f"The {circle.name} circle's channel is missing. A coordinator can run /circle repair first."
            )
        if draft.channel_kind not in ("voice", "stage", "text"):
            raise InvalidInput("Pick a voice channel, a stage, or a text channel for the session.")
        title = clean_text(draft.title, TITLE_LIMIT, "title")
        if not title:
            raise InvalidInput("Give the session a short title, like “Weekly check-in”.")
        clean_text(draft.description, DESCRIPTION_LIMIT, "description")
        if draft.reminders is not None:
            parse_offsets(draft.reminders)
        if draft.capacity is not None:
            _in_range(draft.capacity, CAPACITY_RANGE, "number of places")
        _in_range(draft.speaker_minutes, SPEAKER_RANGE, "minutes per speaker")
        zone = validate_timezone(draft.timezone) if draft.timezone else (await self.settings.get(guild_id)).timezone
        rule = await self.build_rule(draft, zone)
        first = occurrences(rule, after=self.clock.now(), count=1)
        if not first:
            raise InvalidInput(
                "That time has already passed. Pick a date and time in the future "
                f"(times are in {zone}; add timezone: to use another)."
            )
        return circle, rule, first[0]

    async def schedule(self, actor: Actor, guild_id: int, draft: SessionDraft) -> ScheduleResult:
        circle, rule, first = await self.validate(guild_id, actor, draft)
        assert circle.channel_id is not None
        await self.port.require_event_permissions(guild_id, draft.channel_id, draft.channel_kind)
        await self.port.require_post(guild_id, circle.channel_id)
        if draft.channel_kind == "text" and draft.channel_id != circle.channel_id:
            await self.port.require_post(guild_id, draft.channel_id)
        offsets = parse_offsets(draft.reminders if draft.reminders is not None else DEFAULT_REMINDERS)
        series = await self.repo.insert_series(
            {
                "guild_id": guild_id,
                "circle_id": circle.id,
                "title": clean_text(draft.title, TITLE_LIMIT, "title"),
                "description": clean_text(draft.description, DESCRIPTION_LIMIT, "description"),
                "timezone": rule.zone,
                "start_date": rule.start_date.isoformat(),
                "start_time": rule.start_time.strftime("%H:%M"),
                "duration_minutes": int(rule.duration.total_seconds() // 60),
                "kind": rule.kind.value,
                "weekdays": ",".join(str(d) for d in sorted(rule.weekdays)),
                "interval_weeks": rule.interval,
                "month_week": rule.month_week,
                "month_weekday": rule.month_weekday,
                "channel_id": draft.channel_id,
                "channel_kind": draft.channel_kind,
                "channel_name": draft.channel_name[:100],
                "reminder_offsets": ",".join(str(m) for m in offsets),
                "capacity": draft.capacity,
                "speaker_minutes": draft.speaker_minutes,
                "created_at": self.clock.now(),
            }
        )
        try:
            made = await self.ensure_window(series, strict=True)
        except BaseException:
            await self._undo_series(series)
            raise
        log.info("session series scheduled series=%s circle=%s made=%d", series.id, circle.id, len(made))
        return ScheduleResult(series, made, first)

    async def _undo_series(self, series: Series) -> None:
        for occurrence in await self.repo.occurrences_of(series.id):
            await self.scheduler.cancel_prefix(job_prefix(series.circle_id, occurrence.id))
            if occurrence.discord_event_id is not None and self.discord is not None:
                try:
                    await self.discord.delete_event(series.guild_id, occurrence.discord_event_id)
                except Exception:
                    log.warning("could not remove a half-made event occurrence=%s", occurrence.id)
        await self.repo.delete_series(series.id)

    async def ensure_window(self, series: Series, *, strict: bool = False) -> list[SessionView]:
        """Make the occurrences that should exist by now (idempotent). Returns those it made."""
        series = await self.repo.series(series.id) or series
        if not series.active:
            return []
        circle = await self.circles.get(series.circle_id)
        if circle is None or not circle.active:
            return []
        now = self.clock.now()
        changes = await self.repo.changes(series.id)
        upcoming = occurrences(series.rule, after=now, count=MAX_AHEAD, changes=changes)
        wanted = [o for i, o in enumerate(upcoming) if i == 0 or o.starts_at <= now + WINDOW]
        made: list[SessionView] = []
        for occurrence in wanted:
            view = await self._materialize(series, circle, occurrence, strict=strict and not made)
            if view is not None:
                made.append(view)
        if not upcoming:
            live = await self.repo.occurrences_of(series.id, LIVE)
            if not live:
                await self.repo.update_series(series.id, status="ended")
                log.info("session series ended series=%s", series.id)
        return made

    async def _materialize(
        self, series: Series, circle: Circle, occurrence: Occurrence, *, strict: bool
    ) -> SessionView | None:
        stored = await self.repo.insert_occurrence(
            series, occurrence.original_date, occurrence.starts_at, occurrence.ends_at, self.clock.now()
        )
        if stored is None:
            return None
        view = await self.view(stored, series, circle)
        port = self.discord
        if port is None:
            log.warning("sessions port not attached; occurrence made without Discord occurrence=%s", stored.id)
        else:
            try:
                event_id = await port.create_event(view)
            except MissingBotPermissions:
                if strict:
                    raise
                await self._events_blocked(series, circle)
            except Exception:
                if strict:
                    raise
                log.exception("could not create a Discord event occurrence=%s", stored.id)
            else:
                stored = await self.repo.update_occurrence(
                    stored.id, discord_event_id=event_id, event_status="scheduled"
                )
                if series.events_blocked:
                    await self.repo.update_series(series.id, events_blocked=0)
            view = await self.view(stored, series, circle)
            if circle.channel_id is not None:
                try:
                    message_id = await port.post_announcement(circle.channel_id, view)
                except Exception:
                    if strict:
                        raise
                    log.exception("could not post a session announcement occurrence=%s", stored.id)
                    message_id = None
                if message_id is not None:
                    stored = await self.repo.update_occurrence(
                        stored.id, announce_channel_id=circle.channel_id, announce_message_id=message_id
                    )
        await self._schedule_jobs(series, stored)
        log.info("session occurrence made occurrence=%s series=%s", stored.id, series.id)
        return view

    async def _events_blocked(self, series: Series, circle: Circle) -> None:
        if series.events_blocked:
            return
        await self.repo.update_series(series.id, events_blocked=1)
        await self._tell_mods(
            series.guild_id,
            f"I couldn't add the next **{series.title}** session of the **{circle.name}** circle to Discord's "
            "Events list because I'm missing the **Create Events** permission. The session still happens, with its "
            "announcement and reminders; a server admin can give my role Create Events in Server Settings → Roles.",
        )

    async def _schedule_jobs(self, series: Series, occurrence: StoredOccurrence) -> None:
        now = self.clock.now()
        prefix = job_prefix(series.circle_id, occurrence.id)
        payload = {"occurrence_id": occurrence.id}
        for offset in series.offsets:
            run_at = occurrence.starts_at - timedelta(minutes=offset)
            if run_at > now:
                await self.scheduler.schedule(
                    JOB_REMIND,
                    run_at,
                    {**payload, "offset": offset},
                    job_id=f"{prefix}remind:{offset}",
                    grace=REMINDER_GRACE,
                )
        await self.scheduler.schedule(
            JOB_START, occurrence.starts_at, payload, job_id=f"{prefix}start", grace=series.duration
        )
        await self.scheduler.schedule(
            JOB_END, occurrence.ends_at + AUTOCLOSE_AFTER, payload, job_id=f"{prefix}end", grace=END_GRACE
        )

    async def _reschedule_jobs(self, series: Series, occurrence: StoredOccurrence) -> None:
        await self.scheduler.cancel_prefix(job_prefix(series.circle_id, occurrence.id))
        await self._schedule_jobs(series, occurrence)

    # -- reading ------------------------------------------------------------------------

    async def visible_to(self, circle: Circle, actor: Actor) -> bool:
        """Sessions of a private circle are listed for its members and facilitators only."""
        if not circle.is_private:
            return True
        if await self.circles.consented_at(circle.id, actor.user_id) is not None:
            return True
        return await self.can_facilitate(circle, actor)

    async def upcoming(
        self, guild_id: int, actor: Actor, *, circle_id: int | None = None, limit: int = 10
    ) -> list[UpcomingView]:
        now = self.clock.now()
        zone, _ = await self.member_time.zone_name(guild_id, actor.user_id)
        found: list[UpcomingView] = []
        for series in await self.repo.active_series(guild_id, circle_id):
            circle = await self.circles.get(series.circle_id)
            if circle is None or not circle.active or not await self.visible_to(circle, actor):
                continue
            changes = await self.repo.changes(series.id)
            for occurrence in occurrences(series.rule, after=now, until=now + LIST_AHEAD, count=4, changes=changes):
                stored = await self.repo.occurrence_on(series.id, occurrence.original_date)
                view = await self.view(stored, series, circle) if stored else None
                mine = await self.repo.rsvp(stored.id, actor.user_id) if stored else None
                found.append(
                    UpcomingView(
                        session=view,
                        series_id=series.id,
                        original_date=occurrence.original_date,
                        title=series.title,
                        circle_name=circle.name,
                        starts_at=view.starts_at if view else occurrence.starts_at,
                        ends_at=view.ends_at if view else occurrence.ends_at,
                        channel_id=series.channel_id,
                        local_text=local_phrase(view.starts_at if view else occurrence.starts_at, zone),
                        rsvp=mine.status if mine and mine.status != "declined" else None,
                    )
                )
            # An open session is "upcoming" too until it closes.
            for stored in await self.repo.occurrences_of(series.id, ("open",)):
                view = await self.view(stored, series, circle)
                found.append(
                    UpcomingView(
                        view,
                        series.id,
                        stored.day,
                        series.title,
                        circle.name,
                        stored.starts_at,
                        stored.ends_at,
                        series.channel_id,
                        local_phrase(stored.starts_at, zone),
                        None,
                    )
                )
        found.sort(key=lambda u: u.starts_at)
        return found[:limit]

    async def choices(
        self, guild_id: int, actor: Actor, query: str, *, series_only: bool = False
    ) -> list[tuple[str, str]]:
        """Autocomplete: (label, ref) for sessions this person can see, matching ``query``."""
        needle = query.strip().casefold()
        out: list[tuple[str, str]] = []
        for series in await self.repo.active_series(guild_id):
            circle = await self.circles.get(series.circle_id)
            if circle is None or not await self.visible_to(circle, actor):
                continue
            base = f"{series.title} · {circle.name}"
            if series_only:
                if needle in base.casefold():
                    out.append((f"{base} · {describe(series.rule)}"[:100], str(series.id)))
                continue
            changes = await self.repo.changes(series.id)
            for occurrence in occurrences(series.rule, after=self.clock.now(), count=6, changes=changes):
                stored = await self.repo.occurrence_on(series.id, occurrence.original_date)
                starts = stored.starts_at if stored else occurrence.starts_at
                label = f"{base} · {starts.astimezone(occurrence.local_start.tzinfo).strftime('%a %d %b %H:%M')}"
                if needle in label.casefold():
                    out.append((label[:100], f"{series.id}:{occurrence.original_date.isoformat()}"))
        return out[:25]

    async def resolve(self, guild_id: int, ref: str) -> tuple[Series, date | None]:
        series_id, day = parse_ref(ref)
        return await self._series(guild_id, series_id), day

    async def info(self, guild_id: int, actor: Actor, ref: str) -> tuple[Series, list[UpcomingView], Circle]:
        series, _ = await self.resolve(guild_id, ref)
        circle = await self._circle(series.circle_id)
        if not await self.visible_to(circle, actor):
            raise NotFound("I couldn't find that session. Pick one from the list Discord offers as you type.")
        upcoming = [u for u in await self.upcoming(guild_id, actor, circle_id=circle.id) if u.series_id == series.id]
        return series, upcoming, circle

    # -- changing one occurrence or the series --------------------------------------------

    async def _occurrence_for(self, series: Series, day: date | None) -> tuple[date, StoredOccurrence | None]:
        if day is None:
            raise InvalidInput("Pick one session (a date) from the list Discord offers as you type.")
        changes = await self.repo.changes(series.id)
        stored = await self.repo.occurrence_on(series.id, day)
        if stored is None and occurrence_on(series.rule, day, changes) is None:
            raise NotFound("That date isn't one of this session's dates any more. Pick one from the list.")
        return day, stored

    async def skip(self, actor: Actor, guild_id: int, ref: str, note: str | None = None) -> SessionView | Occurrence:
        series, day = await self.resolve(guild_id, ref)
        circle = await self._circle(series.circle_id)
        await self.require_facilitator(circle, actor, "skip its sessions")
        day, stored = await self._occurrence_for(series, day)
        note = clean_text(note, 300, "note") or None
        if stored is not None and stored.status != "scheduled":
            raise Conflict("That session has already started or isn't scheduled any more, so it can't be skipped.")
        planned = occurrence_on(series.rule, day, await self.repo.changes(series.id))
        await self.repo.put_change(series.id, Change(day, skip=True), note)
        if stored is None:
            assert planned is not None
            log.info("session occurrence skipped ahead series=%s", series.id)
            return planned
        view = await self._call_off(series, circle, stored, "skipped", note, tell="it was skipped")
        await self.ensure_window(series)
        return view

    async def _call_off(
        self,
        series: Series,
        circle: Circle | None,
        stored: StoredOccurrence,
        status: str,
        note: str | None,
        *,
        tell: str,
        delete_event: bool = True,
    ) -> SessionView:
        """Skip or cancel a scheduled occurrence: jobs, event, announcement, and tell who RSVPed."""
        if not await self.repo.set_status_if(stored.id, ("scheduled",), status, note=note):
            current = await self.repo.occurrence(stored.id)
            assert current is not None
            return await self.view(current, series, circle)
        await self.scheduler.cancel_prefix(job_prefix(series.circle_id, stored.id))
        stored = await self.repo.occurrence(stored.id) or stored
        if stored.discord_event_id is not None and delete_event and self.discord is not None:
            try:
                await self.discord.delete_event(series.guild_id, stored.discord_event_id)
            except Exception:
                log.warning("could not remove a Discord event occurrence=%s", stored.id)
        stored = await self.repo.update_occurrence(stored.id, event_status="gone")
        view = await self.view(stored, series, circle)
        await self._refresh_announcement(stored, view)
        reason = f" A note from the facilitators: {note}" if note and tell == "it was skipped" else ""
        text = (
            f"**{series.title}** ({view.circle_name}) on <t:{int(view.starts_at.timestamp())}:F> "
            f"won't take place: {tell}.{reason} You don't need to do anything."
        )
        await self._tell_rsvped(stored.id, text)
        log.info("session occurrence %s occurrence=%s", status, stored.id)
        return view

    async def _tell_rsvped(self, occurrence_id: int, text: str) -> tuple[int, int]:
        if self.discord is None:
            return 0, 0
        sent = closed = 0
        for rsvp in await self.repo.rsvps(occurrence_id):
            if rsvp.status not in ("going", "waitlist"):
                continue
            result = await self.discord.send_notice(rsvp.user_id, text)
            if result is DmResult.SENT:
                sent += 1
            elif result is DmResult.CLOSED:
                closed += 1
                await self.repo.mark_dm_closed(occurrence_id, rsvp.user_id)
        return sent, closed

    async def cancel(self, actor: Actor, guild_id: int, ref: str) -> tuple[Series, int]:
        """Cancel a whole series: its Discord events are removed and RSVPed members told privately."""
        series, _ = await self.resolve(guild_id, ref)
        circle = await self._circle(series.circle_id)
        await self.require_facilitator(circle, actor, "cancel its sessions")
        if not series.active:
            raise Conflict("That session series has already ended or been cancelled.")
        series = await self.repo.update_series(series.id, status="cancelled", cancelled_at=self.clock.now())
        removed = 0
        for stored in await self.repo.occurrences_of(series.id, ("scheduled",)):
            await self._call_off(
                series, circle, stored, "cancelled", None, tell="the facilitators cancelled the series"
            )
            removed += 1
        log.info("session series cancelled series=%s occurrences=%d", series.id, removed)
        return series, removed

    async def edit_occurrence(
        self,
        actor: Actor,
        guild_id: int,
        ref: str,
        *,
        new_date: str | None = None,
        new_time: str | None = None,
        duration_minutes: int | None = None,
    ) -> SessionView | Occurrence:
        series, day = await self.resolve(guild_id, ref)
        circle = await self._circle(series.circle_id)
        await self.require_facilitator(circle, actor, "change its sessions")
        day, stored = await self._occurrence_for(series, day)
        if stored is not None and stored.status != "scheduled":
            raise Conflict("That session has already started or isn't scheduled any more, so it can't be changed.")
        if new_date is None and new_time is None and duration_minutes is None:
            raise InvalidInput("Add a new date, time or duration to change this session.")
        changes = await self.repo.changes(series.id)
        current = changes.get(day)
        change = Change(
            day,
            new_date=parse_date(new_date, today=self.clock.now().date())
            if new_date
            else (current.new_date if current else None),
            new_time=parse_time(new_time) if new_time else (current.new_time if current else None),
            new_duration=timedelta(minutes=_in_range(duration_minutes, DURATION_RANGE, "duration in minutes"))
            if duration_minutes
            else (current.new_duration if current else None),
        )
        moved = occurrence_on(series.rule, day, {**changes, day: change})
        assert moved is not None
        if moved.starts_at <= self.clock.now():
            raise InvalidInput("That would put the session in the past. Pick a later date or time.")
        await self.repo.put_change(series.id, change)
        if stored is None:
            await self.ensure_window(series)
            stored = await self.repo.occurrence_on(series.id, day)
            if stored is None:
                return moved
            return await self.view(stored, series, circle)
        return await self._move(series, circle, stored, moved.starts_at, moved.ends_at, by_hand=False)

    async def _move(
        self,
        series: Series,
        circle: Circle | None,
        stored: StoredOccurrence,
        starts_at: datetime,
        ends_at: datetime,
        *,
        by_hand: bool,
    ) -> SessionView:
        """Follow a new time everywhere: the row first (so our own event edit isn't taken for a
        hand edit), then the Discord event, the announcement, the jobs, and the people going."""
        old = stored.starts_at
        stored = await self.repo.update_occurrence(stored.id, starts_at=starts_at, ends_at=ends_at)
        view = await self.view(stored, series, circle)
        if not by_hand and stored.discord_event_id is not None and self.discord is not None:
            try:
                if not await self.discord.update_event(view):
                    stored = await self.repo.update_occurrence(stored.id, event_status="gone")
            except Exception:
                log.warning("could not update a Discord event occurrence=%s", stored.id)
        await self._reschedule_jobs(series, stored)
        await self._refresh_announcement(stored, view)
        if old != starts_at:
            await self._tell_rsvped(
                stored.id,
                f"**{series.title}** ({view.circle_name}) has moved: it now starts <t:{int(starts_at.timestamp())}:F> "
                f"(<t:{int(starts_at.timestamp())}:R>). If you can't make the new time, press Not going on the "
                "announcement.",
            )
        return view

    async def edit_series(
        self,
        actor: Actor,
        guild_id: int,
        ref: str,
        *,
        title: str | None = None,
        description: str | None = None,
        start_time: str | None = None,
        duration_minutes: int | None = None,
        channel: tuple[int, str, str] | None = None,
        reminders: str | None = None,
        capacity: int | None = None,
        speaker_minutes: int | None = None,
    ) -> tuple[Series, list[str]]:
        series, _ = await self.resolve(guild_id, ref)
        circle = await self._circle(series.circle_id)
        await self.require_facilitator(circle, actor, "change its sessions")
        if not series.active:
            raise Conflict("That session series has ended or was cancelled; schedule a new one instead.")
        updates: dict[str, object] = {}
        said: list[str] = []
        if title is not None:
            cleaned = clean_text(title, TITLE_LIMIT, "title")
            if cleaned and cleaned != series.title:
                updates["title"] = cleaned
                said.append(f"title → {cleaned}")
        if description is not None:
            cleaned = clean_text(description, DESCRIPTION_LIMIT, "description")
            if cleaned != series.description:
                updates["description"] = cleaned
                said.append("description")
        if start_time is not None:
            at = parse_time(start_time).strftime("%H:%M")
            if at != series.start_time:
                updates["start_time"] = at
                said.append(f"start time → {at} ({series.timezone})")
        if duration_minutes is not None:
            minutes = _in_range(duration_minutes, DURATION_RANGE, "duration in minutes")
            if minutes != series.duration_minutes:
                updates["duration_minutes"] = minutes
                said.append(f"duration → {minutes} minutes")
        if channel is not None:
            channel_id, kind, name = channel
            if kind not in ("voice", "stage", "text"):
                raise InvalidInput("Pick a voice channel, a stage, or a text channel for the session.")
            if channel_id != series.channel_id:
                await self.port.require_event_permissions(guild_id, channel_id, kind)
                if kind == "text":
                    await self.port.require_post(guild_id, channel_id)
                updates.update(channel_id=channel_id, channel_kind=kind, channel_name=name[:100])
                said.append(f"place → <#{channel_id}>")
        if reminders is not None:
            offsets = ",".join(str(m) for m in parse_offsets(reminders))
            if offsets != series.reminder_offsets:
                updates["reminder_offsets"] = offsets
                said.append("reminders")
        if capacity is not None:
            value = None if capacity == 0 else _in_range(capacity, CAPACITY_RANGE, "number of places")
            if value != series.capacity:
                updates["capacity"] = value
                said.append(f"places → {value or 'no limit'}")
        if speaker_minutes is not None:
            value = _in_range(speaker_minutes, SPEAKER_RANGE, "minutes per speaker")
            if value != series.speaker_minutes:
                updates["speaker_minutes"] = value
                said.append(f"minutes per speaker → {value}")
        if not updates:
            return series, []
        series = await self.repo.update_series(series.id, **updates)
        changes = await self.repo.changes(series.id)
        for stored in await self.repo.occurrences_of(series.id, ("scheduled",)):
            planned = occurrence_on(series.rule, stored.day, changes)
            if planned is None:
                continue
            if planned.starts_at != stored.starts_at or planned.ends_at != stored.ends_at:
                if planned.starts_at <= self.clock.now():
                    continue
                await self._move(series, circle, stored, planned.starts_at, planned.ends_at, by_hand=False)
                continue
            view = await self.view(stored, series, circle)
            if stored.discord_event_id is not None and self.discord is not None:
                try:
                    await self.discord.update_event(view)
                except Exception:
                    log.warning("could not update a Discord event occurrence=%s", stored.id)
            if "reminder_offsets" in updates:
                await self._reschedule_jobs(series, stored)
            if "capacity" in updates:
                await self._promote(stored.id)
            await self._refresh_announcement(stored, await self.view(stored, series, circle))
        log.info("session series edited series=%s fields=%d", series.id, len(updates))
        return series, said

    # -- RSVPs --------------------------------------------------------------------------

    async def rsvp(self, occurrence_id: int, user_id: int, *, via: str = "button") -> RsvpResult:
        stored = await self.repo.occurrence(occurrence_id)
        if stored is None:
            raise NotFound("That session no longer exists.")
        series = await self.repo.series(stored.series_id)
        if series is None:
            raise NotFound("That session no longer exists.")
        if stored.status != "scheduled":
            raise InvalidInput(self._not_live_text(stored))
        existing = await self.repo.rsvp(stored.id, user_id)
        via_button = via == "button" or bool(existing and existing.via_button and existing.status != "declined")
        via_interested = via == "interested" or bool(
            existing and existing.via_interested and existing.status != "declined"
        )
        if existing is not None and existing.status in ("going", "waitlist"):
            await self.repo.put_rsvp(stored, user_id, existing.status, via_button, via_interested, self.clock.now())
            view = await self.view(stored, series)
            return RsvpResult(existing.status, await self._place(stored.id, user_id), True, view)
        status = await self.repo.take_place(
            stored, user_id, series.capacity, via_button, via_interested, self.clock.now()
        )
        view = await self.view(stored, series)
        await self._refresh_announcement(stored, view)
        log.info("session rsvp occurrence=%s status=%s via=%s", stored.id, status, via)
        return RsvpResult(status, await self._place(stored.id, user_id), False, view)

    async def _place(self, occurrence_id: int, user_id: int) -> int | None:
        waiting = await self.repo.rsvps(occurrence_id, "waitlist")
        for index, rsvp in enumerate(waiting, start=1):
            if rsvp.user_id == user_id:
                return index
        return None

    def _not_live_text(self, stored: StoredOccurrence) -> str:
        return {
            "closed": "That session has ended. Look out for the next one with /session list.",
            "skipped": "That session was skipped. /session list shows what's coming up.",
            "cancelled": "That session was cancelled. /session list shows what's coming up.",
            "missed": "That session has ended. Look out for the next one with /session list.",
            "open": "This session is happening now: you're welcome to join in. No need to RSVP.",
        }.get(stored.status, "That session isn't taking RSVPs.")

    async def unrsvp(self, occurrence_id: int, user_id: int, *, via: str = "button") -> bool:
        """Not going (button: a clear decision, remembered) or Interested removed in Discord."""
        stored = await self.repo.occurrence(occurrence_id)
        if stored is None:
            return False
        existing = await self.repo.rsvp(stored.id, user_id)
        if existing is None or existing.status == "declined":
            if via == "button" and existing is None and stored.status in LIVE:
                # Remember the decision so Discord's "Interested" (read later) doesn't override it.
                await self.repo.put_rsvp(stored, user_id, "declined", False, False, self.clock.now())
            return False
        if via == "interested" and existing.via_button:
            await self.repo.put_rsvp(stored, user_id, existing.status, True, False, self.clock.now())
            return False
        if via == "button":
            await self.repo.put_rsvp(stored, user_id, "declined", False, False, self.clock.now())
        else:
            await self.repo.db.execute(
                "DELETE FROM session_rsvps WHERE occurrence_id = ? AND user_id = ?", (stored.id, user_id)
            )
        if existing.status == "going":
            await self._promote(stored.id)
        view = await self.view(stored)
        await self._refresh_announcement(stored, view)
        log.info("session unrsvp occurrence=%s via=%s", stored.id, via)
        return True

    async def _promote(self, occurrence_id: int) -> int:
        """Move people from the waitlist into free places, in order, and tell them privately."""
        stored = await self.repo.occurrence(occurrence_id)
        if stored is None or stored.status != "scheduled":
            return 0
        series = await self.repo.series(stored.series_id)
        if series is None:
            return 0
        promoted = 0
        while True:
            user_id = await self.repo.promote_next(stored.id, series.capacity)
            if user_id is None:
                break
            promoted += 1
            if self.discord is not None:
                view = await self.view(stored, series)
                result = await self.discord.send_notice(
                    user_id,
                    f"Good news: a place opened up for **{series.title}** ({view.circle_name}) on "
                    f"<t:{int(stored.starts_at.timestamp())}:F>, so you're going now. "
                    "If you can't make it after all, press Not going on the announcement so someone else can come.",
                )
                if result is DmResult.CLOSED:
                    await self.repo.mark_dm_closed(stored.id, user_id)
        if promoted:
            log.info("session waitlist promoted occurrence=%s count=%d", stored.id, promoted)
        return promoted

    async def interest_changed(self, guild_id: int, event_id: int, user_id: int, interested: bool) -> None:
        """Discord's own "Interested" was pressed or un-pressed on one of our events."""
        stored = await self.repo.occurrence_for_event(event_id)
        if stored is None or stored.guild_id != guild_id or stored.status != "scheduled":
            return
        if interested:
            await self._interest(stored, user_id)
        else:
            await self.unrsvp(stored.id, user_id, via="interested")

    async def _interest(self, stored: StoredOccurrence, user_id: int) -> None:
        circle = await self.circles.get(stored.circle_id)
        if circle is None:
            return
        if circle.is_private and await self.circles.consented_at(circle.id, user_id) is None:
            return  # not a member of a private circle: nothing is stored about them
        existing = await self.repo.rsvp(stored.id, user_id)
        if existing is not None and existing.status == "declined":
            return  # they pressed Not going: that decision stands until they press Going
        result = await self.rsvp(stored.id, user_id, via="interested")
        if not result.already and result.status == "waitlist" and self.discord is not None:
            await self.discord.send_notice(
                user_id,
                f"Thanks for your interest in **{result.view.title}** ({result.view.circle_name}) on "
                f"<t:{int(result.view.starts_at.timestamp())}:F>. It's full right now, so you're number "
                f"{result.position} on the waitlist. I'll message you if a place opens up.",
            )

    async def sync_interested(self, stored: StoredOccurrence) -> None:
        """Read Discord's "Interested" list (catches what happened while the bot was away)."""
        if self.discord is None or stored.discord_event_id is None or stored.event_status in ("none", "gone"):
            return
        try:
            ids = await self.discord.interested(stored.guild_id, stored.discord_event_id)
        except Exception:
            log.warning("could not read interested users occurrence=%s", stored.id)
            return
        if ids is None:
            return
        current = set(ids)
        known = {r.user_id: r for r in await self.repo.rsvps(stored.id)}
        for user_id in ids:
            if user_id not in known:
                await self._interest(stored, user_id)
        for user_id, rsvp in known.items():
            if rsvp.via_interested and user_id not in current and rsvp.status != "declined":
                await self.unrsvp(stored.id, user_id, via="interested")

    async def set_reminders(self, guild_id: int, circle_id: int, user_id: int, on: bool) -> bool:
        circle = await self._circle(circle_id)
        if circle.guild_id != guild_id:
            raise NotFound("That circle isn't in this server.")
        if on and await self.circles.consented_at(circle.id, user_id) is None:
            raise InvalidInput(
                f"Reminders for all of {circle.name}'s sessions are for its members. Join first with /circle join, "
                "or press Going on a session's announcement to be reminded about that one."
            )
        return await self.repo.set_optin(circle.id, guild_id, user_id, on, self.clock.now())

    # -- jobs ---------------------------------------------------------------------------

    async def _live(self, job: Job) -> tuple[StoredOccurrence, Series, Circle] | None:
        stored = await self.repo.occurrence(int(job.payload.get("occurrence_id", 0)))
        if stored is None:
            return None
        series = await self.repo.series(stored.series_id)
        circle = await self.circles.get(stored.circle_id)
        if series is None or circle is None:
            return None
        return stored, series, circle

    async def run_reminder(self, job: Job) -> None:
        found = await self._live(job)
        if found is None:
            return
        stored, series, circle = found
        if stored.status != "scheduled" or not circle.active:
            return
        port = self.port  # raises (the job is recorded as failed) if the cog never attached it
        await self.sync_interested(stored)
        stored = await self.repo.occurrence(stored.id) or stored
        view = await self.view(stored, series, circle)
        going = [r.user_id for r in await self.repo.rsvps(stored.id, "going")]
        optins = [u for u in await self.repo.optins_in_circle(circle.id) if u not in set(going)]
        sent = closed = 0
        deferred: list[RetryLater] = []
        for user_id, is_going in [*((u, True) for u in going), *((u, False) for u in optins)]:
            zone, own = await self.member_time.zone_name(stored.guild_id, user_id)
            reminder = ReminderView(
                session=view,
                offset_minutes=int(job.payload.get("offset", 0)),
                local_text=local_phrase(stored.starts_at, zone),
                zone_is_own=own,
                ground_rules=circle.ground_rules,
                going=is_going,
            )
            try:
                # Once per person and occurrence: a retry or a re-run skips those already sent.
                result = await port.send_reminder(user_id, reminder)
            except RetryLater as exc:
                deferred.append(exc)  # the others still get theirs now; this one on the retry
                continue
            if result is DmResult.SENT:
                sent += 1
            elif result is DmResult.CLOSED:
                closed += 1
                if is_going:
                    await self.repo.mark_dm_closed(stored.id, user_id)
        await self.repo.count_reminders(stored.id, sent, closed)
        log.info(
            "session reminders occurrence=%s sent=%d dms_closed=%d retrying=%d", stored.id, sent, closed, len(deferred)
        )
        if deferred:
            raise RetryLater.combine(deferred)

    async def run_start(self, job: Job) -> None:
        found = await self._live(job)
        if found is None:
            return
        stored, series, circle = found
        if not circle.active:
            return
        port = self.port  # raises (the job is recorded as failed) if the cog never attached it
        if stored.status == "scheduled":
            if not await self.repo.set_status_if(stored.id, ("scheduled",), "open", opened_at=self.clock.now()):
                return
        elif not (job.attempts and stored.status == "open"):
            return  # skipped, cancelled or missed meanwhile (or opened by a run that finished)
        # else: this job opened it on an earlier try, or before a restart: do what is left.
        stored = await self.repo.occurrence(stored.id) or stored
        view = await self.view(stored, series, circle)
        channel_id = view.post_channel_id
        deferred: RetryLater | None = None
        if channel_id is not None and stored.opening_message_id is None:
            try:
                # Once per occurrence: a retry or re-run returns the opening Discord already has.
                message_id = await port.post_opening(channel_id, view, circle.ground_rules)
            except RetryLater as exc:
                deferred, message_id = exc, None  # the rest now, the opening on the next try
            except Exception:
                log.exception("could not post a session opening occurrence=%s", stored.id)
                message_id = None
            if message_id is not None:
                stored = await self.repo.update_occurrence(
                    stored.id, opening_channel_id=channel_id, opening_message_id=message_id
                )
        if stored.discord_event_id is not None and stored.event_status == "scheduled":
            try:
                if await port.set_event_status(stored.guild_id, stored.discord_event_id, "active"):
                    await self.repo.update_occurrence(stored.id, event_status="active")
            except Exception:
                log.warning("could not start a Discord event occurrence=%s", stored.id)
        await self._refresh_announcement(stored, await self.view(stored, series, circle))
        if deferred is not None:
            raise deferred
        log.info("session opened occurrence=%s", stored.id)

    async def run_end(self, job: Job) -> None:
        found = await self._live(job)
        if found is None:
            return
        stored, series, circle = found
        await self._settle(stored, series, circle)
        await self.ensure_window(series)

    async def _settle(self, stored: StoredOccurrence, series: Series, circle: Circle) -> None:
        """After its end: close a session nobody closed; record one that never opened as missed."""
        if stored.status == "open":
            await self._close(stored, series, circle, automatic=True)
        elif stored.status == "scheduled" and await self.repo.set_status_if(stored.id, ("scheduled",), "missed"):
            await self.scheduler.cancel_prefix(job_prefix(series.circle_id, stored.id))
            if stored.discord_event_id is not None and self.discord is not None and stored.event_status == "scheduled":
                try:
                    await self.discord.delete_event(stored.guild_id, stored.discord_event_id)
                except Exception:
                    log.warning("could not remove a past Discord event occurrence=%s", stored.id)
                await self.repo.update_occurrence(stored.id, event_status="gone")
            await self._refresh_announcement(stored, await self.view(stored, series, circle))
            log.info("session missed occurrence=%s", stored.id)

    async def run_timer(self, job: Job) -> None:
        found = await self._live(job)
        if found is None:
            return
        stored, series, circle = found
        if stored.status != "open" or stored.timer_state != "running" or stored.timer_ends_at is None:
            return
        if stored.timer_ends_at.isoformat() != job.payload.get("ends_at"):
            return
        stored = await self.repo.update_occurrence(stored.id, timer_state="done", timer_remaining_seconds=0)
        await self._refresh_goround(stored, series, circle)

    # -- the session itself -------------------------------------------------------------

    async def _open(self, occurrence_id: int) -> tuple[StoredOccurrence, Series, Circle]:
        stored = await self.repo.occurrence(occurrence_id)
        if stored is None:
            raise NotFound("That session no longer exists.")
        series = await self.repo.series(stored.series_id)
        circle = await self.circles.get(stored.circle_id)
        if series is None or circle is None:
            raise NotFound("That session no longer exists.")
        if stored.status == "scheduled":
            raise InvalidInput("This session hasn't started yet. The buttons work once it opens.")
        if stored.status != "open":
            raise InvalidInput(
                "This session has closed. Thank you for coming."
                if stored.status == "closed"
                else self._not_live_text(stored)
            )
        return stored, series, circle

    async def arrive(self, occurrence_id: int, user_id: int) -> bool:
        stored, _, _ = await self._open(occurrence_id)
        return await self.repo.arrive(stored, user_id, self.clock.now())

    async def step_out(self, occurrence_id: int, user_id: int) -> bool:
        stored, series, circle = await self._open(occurrence_id)
        gone = await self.repo.step_out(stored.id, user_id)
        if gone and stored.goround_message_id is not None:
            await self._refresh_goround(stored, series, circle)
        return gone

    async def _goround(self, stored: StoredOccurrence, series: Series) -> GoRoundView:
        order = [p for p in await self.repo.presence(stored.id) if p.speak_order is not None]
        speakers: list[int] = []
        current: int | None = None
        for person in order:
            if person.passed:
                continue
            if current is None and person.speak_order is not None and person.speak_order >= stored.goround_position:
                current = len(speakers)
            speakers.append(person.user_id)
        remaining = timedelta(seconds=series.speaker_minutes * 60)
        if stored.timer_state == "paused" and stored.timer_remaining_seconds is not None:
            remaining = timedelta(seconds=stored.timer_remaining_seconds)
        elif stored.timer_state == "running" and stored.timer_ends_at is not None:
            remaining = max(timedelta(0), stored.timer_ends_at - self.clock.now())
        elif stored.timer_state == "done":
            remaining = timedelta(0)
        return GoRoundView(
            speakers=tuple(speakers),
            current=current,
            timer_state=stored.timer_state,
            timer_ends_at=stored.timer_ends_at,
            remaining=remaining,
            speaker_minutes=series.speaker_minutes,
            closed=stored.status != "open",
        )

    async def _refresh_goround(self, stored: StoredOccurrence, series: Series, circle: Circle) -> None:
        if self.discord is None or stored.goround_message_id is None or stored.opening_channel_id is None:
            return
        view = await self.view(stored, series, circle)
        try:
            await self.discord.update_goround(
                stored.opening_channel_id, stored.goround_message_id, view, await self._goround(stored, series)
            )
        except Exception:
            log.warning("could not update the go-round occurrence=%s", stored.id)

    async def start_goround(self, actor: Actor, occurrence_id: int) -> GoRoundView:
        stored, series, circle = await self._open(occurrence_id)
        await self.require_facilitator(circle, actor, "lead its sessions")
        present = [p.user_id for p in await self.repo.presence(stored.id)]
        if not present:
            raise InvalidInput(
                "Nobody has pressed “I'm here” yet. A go-round only names people who did, so invite everyone to "
                "press it first."
            )
        self.rng.shuffle(present)
        await self.repo.set_order(stored.id, present)
        await self.scheduler.cancel(f"{job_prefix(series.circle_id, stored.id)}timer")
        stored = await self.repo.update_occurrence(
            stored.id, goround_position=0, timer_state="idle", timer_ends_at=None, timer_remaining_seconds=None
        )
        goround = await self._goround(stored, series)
        port = self.discord
        channel_id = stored.opening_channel_id or (await self.view(stored, series, circle)).post_channel_id
        if port is not None and channel_id is not None:
            view = await self.view(stored, series, circle)
            if stored.goround_message_id is not None and stored.opening_channel_id is not None:
                await port.update_goround(channel_id, stored.goround_message_id, view, goround)
            else:
                message_id = await port.post_goround(channel_id, view, goround)
                await self.repo.update_occurrence(
                    stored.id, goround_message_id=message_id, opening_channel_id=channel_id
                )
        log.info("session go-round started occurrence=%s people=%d", stored.id, len(present))
        return goround

    async def pass_turn(self, occurrence_id: int, user_id: int) -> bool:
        stored, series, circle = await self._open(occurrence_id)
        order = [p for p in await self.repo.presence(stored.id) if p.speak_order is not None]
        mine = next((p for p in order if p.user_id == user_id), None)
        if mine is None or mine.passed:
            return False
        goround = await self._goround(stored, series)
        was_current = goround.current is not None and goround.speakers[goround.current] == user_id
        await self.repo.set_passed(stored.id, user_id)
        if was_current:
            stored = await self._advance(stored, series)
        await self._refresh_goround(stored, series, circle)
        return True

    async def _advance(self, stored: StoredOccurrence, series: Series) -> StoredOccurrence:
        order = [p for p in await self.repo.presence(stored.id) if p.speak_order is not None]
        upcoming = [
            p.speak_order
            for p in order
            if not p.passed and p.speak_order is not None and p.speak_order > stored.goround_position
        ]
        position = min(upcoming) if upcoming else len(order)
        await self.scheduler.cancel(f"{job_prefix(series.circle_id, stored.id)}timer")
        return await self.repo.update_occurrence(
            stored.id, goround_position=position, timer_state="idle", timer_ends_at=None, timer_remaining_seconds=None
        )

    async def next_speaker(self, actor: Actor, occurrence_id: int) -> GoRoundView:
        stored, series, circle = await self._open(occurrence_id)
        await self.require_facilitator(circle, actor, "lead its sessions")
        goround = await self._goround(stored, series)
        if goround.current is not None:
            current_user = goround.speakers[goround.current]
            order = {p.user_id: p for p in await self.repo.presence(stored.id)}
            position = order[current_user].speak_order
            if position is not None:
                stored = await self.repo.update_occurrence(stored.id, goround_position=position)
            stored = await self._advance(stored, series)
        await self._refresh_goround(stored, series, circle)
        return await self._goround(stored, series)

    async def timer(self, actor: Actor, occurrence_id: int, action: str) -> GoRoundView:
        stored, series, circle = await self._open(occurrence_id)
        await self.require_facilitator(circle, actor, "lead its sessions")
        goround = await self._goround(stored, series)
        if goround.current is None:
            raise InvalidInput("Everyone has had their turn. Start a new go-round for another round.")
        job_id = f"{job_prefix(series.circle_id, stored.id)}timer"
        now = self.clock.now()
        if action == "start" and stored.timer_state != "running":
            ends_at = (
                now + goround.remaining
                if stored.timer_state == "paused"
                else now + timedelta(minutes=series.speaker_minutes)
            )
            stored = await self.repo.update_occurrence(
                stored.id, timer_state="running", timer_ends_at=ends_at, timer_remaining_seconds=None
            )
            await self.scheduler.schedule(
                JOB_TIMER,
                ends_at,
                {"occurrence_id": stored.id, "ends_at": ends_at.astimezone(UTC).isoformat()},
                job_id=job_id,
                grace=TIMER_GRACE,
            )
        elif action == "pause" and stored.timer_state == "running":
            left = int(goround.remaining.total_seconds())
            await self.scheduler.cancel(job_id)
            stored = await self.repo.update_occurrence(
                stored.id, timer_state="paused", timer_ends_at=None, timer_remaining_seconds=left
            )
        await self._refresh_goround(stored, series, circle)
        return await self._goround(stored, series)

    async def close(self, actor: Actor, occurrence_id: int) -> int:
        """The facilitator closes the session: closing words, feedback, attendance (a count)."""
        stored, series, circle = await self._open(occurrence_id)
        await self.require_facilitator(circle, actor, "close its sessions")
        count = await self._close(stored, series, circle, automatic=False)
        await self.ensure_window(series)
        return count

    async def _close(self, stored: StoredOccurrence, series: Series, circle: Circle, *, automatic: bool) -> int:
        if not await self.repo.set_status_if(stored.id, ("open",), "closed", closed_at=self.clock.now()):
            return stored.attendance_count or 0
        attendance = await self.repo.close_presence(stored.id)
        await self.scheduler.cancel(f"{job_prefix(series.circle_id, stored.id)}timer")
        stored = await self.repo.update_occurrence(stored.id, attendance_count=attendance, timer_state="idle")
        view = await self.view(stored, series, circle)
        port = self.discord
        if port is not None:
            if stored.opening_channel_id is not None and stored.opening_message_id is not None:
                try:
                    await port.close_opening(
                        stored.opening_channel_id, stored.opening_message_id, view, circle.ground_rules
                    )
                except Exception:
                    log.warning("could not update the opening post occurrence=%s", stored.id)
            if stored.goround_message_id is not None and stored.opening_channel_id is not None:
                try:
                    await port.update_goround(
                        stored.opening_channel_id, stored.goround_message_id, view, await self._goround(stored, series)
                    )
                except Exception:
                    log.warning("could not update the go-round occurrence=%s", stored.id)
            channel_id = stored.opening_channel_id or view.post_channel_id
            if channel_id is not None and circle.active:
                try:
                    await port.post_closing(channel_id, view)
                except Exception:
                    log.exception("could not post the closing words occurrence=%s", stored.id)
            if stored.discord_event_id is not None and stored.event_status == "active":
                try:
                    await port.set_event_status(stored.guild_id, stored.discord_event_id, "completed")
                    await self.repo.update_occurrence(stored.id, event_status="completed")
                except Exception:
                    log.warning("could not complete a Discord event occurrence=%s", stored.id)
            await self._refresh_announcement(stored, view)
        log.info("session closed occurrence=%s attendance=%d automatic=%s", stored.id, attendance, automatic)
        return attendance

    async def give_feedback(self, occurrence_id: int, user_id: int, score: int) -> int | None:
        """Store a score anonymously. None if this person already answered for this session."""
        if not 1 <= score <= 5:
            raise InvalidInput("Pick a number from 1 to 5.")
        stored = await self.repo.occurrence(occurrence_id)
        if stored is None or stored.status != "closed" or stored.closed_at is None:
            raise InvalidInput("Feedback opens when the session closes.")
        if self.clock.now() - stored.closed_at > FEEDBACK_WINDOW:
            raise InvalidInput("Feedback for this session has closed. Thank you all the same.")
        return await self.repo.add_feedback(stored, user_id, score)

    async def add_comment(self, feedback_id: int, text: str) -> bool:
        comment = clean_text(text, COMMENT_LIMIT, "comment")
        if not comment:
            return False
        return await self.repo.add_comment(feedback_id, comment)

    async def report(self, actor: Actor, guild_id: int, circle_id: int) -> list[ReportRow]:
        circle = await self._circle(circle_id)
        if circle.guild_id != guild_id:
            raise NotFound("That circle isn't in this server.")
        await self.require_facilitator(circle, actor, "see its session reports")
        rows: list[ReportRow] = []
        for stored in await self.repo.closed_in_circle(circle.id):
            series = await self.repo.series(stored.series_id)
            scores, comments = await self.repo.feedback(stored.id)
            enough = len(scores) >= REPORT_MINIMUM
            shuffled = list(comments)
            self.rng.shuffle(shuffled)
            rows.append(
                ReportRow(
                    starts_at=stored.starts_at,
                    title=series.title if series else "Session",
                    attendance=stored.attendance_count,
                    responses=len(scores),
                    average=sum(scores) / len(scores) if enough else None,
                    comments=tuple(shuffled) if enough else (),
                )
            )
        return rows

    # -- announcements and notices ------------------------------------------------------

    async def _refresh_announcement(self, stored: StoredOccurrence, view: SessionView | None = None) -> None:
        if self.discord is None or stored.announce_channel_id is None or stored.announce_message_id is None:
            return
        view = view or await self.view(stored)
        try:
            await self.discord.update_announcement(stored.announce_channel_id, stored.announce_message_id, view)
        except Exception:
            log.warning("could not update a session announcement occurrence=%s", stored.id)

    async def _tell_mods(self, guild_id: int, text: str) -> None:
        channel_id = (await self.settings.get(guild_id)).mod_channel_id
        if channel_id is None or self.discord is None:
            log.info("session notice with no moderation channel guild=%s", guild_id)
            return
        try:
            await self.discord.post_text(channel_id, text)
        except Exception:
            log.warning("could not post a session notice guild=%s", guild_id)

    # -- things changed by hand in Discord ------------------------------------------------

    async def event_removed(self, guild_id: int, event_id: int, *, how: str = "deleted") -> bool:
        """A Discord event was deleted or cancelled by hand: that occurrence is skipped."""
        stored = await self.repo.occurrence_for_event(event_id)
        if stored is None or stored.guild_id != guild_id:
            return False
        if stored.status != "scheduled":
            if stored.event_status not in ("gone", "completed"):
                await self.repo.update_occurrence(stored.id, event_status="gone")
            return False
        series = await self.repo.series(stored.series_id)
        if series is None:
            return False
        circle = await self.circles.get(series.circle_id)
        note = f"its event was {how} in Discord's Events list"
        await self.repo.put_change(series.id, Change(stored.day, skip=True), note)
        await self.repo.update_occurrence(stored.id, event_status="gone")
        view = await self._call_off(
            series, circle, stored, "skipped", note, tell="it was called off", delete_event=False
        )
        log.info("session event %s by hand; occurrence skipped occurrence=%s", how, stored.id)
        await self.ensure_window(series)
        await self._tell_mods(
            guild_id,
            f"The Discord event for **{series.title}** on <t:{int(view.starts_at.timestamp())}:F> was {how} by hand, "
            "so I treated that session as skipped (its reminders are off and members who were going were told). "
            "The rest of the series goes on.",
        )
        return True

    async def event_changed(
        self, guild_id: int, event_id: int, status: str, starts_at: datetime, ends_at: datetime | None
    ) -> bool:
        """A Discord event was edited (by hand or by us). Follow a hand-cancel or a new time."""
        if status == "canceled":
            return await self.event_removed(guild_id, event_id, how="cancelled")
        stored = await self.repo.occurrence_for_event(event_id)
        if stored is None or stored.guild_id != guild_id or stored.status != "scheduled":
            return False
        if abs(starts_at - stored.starts_at) <= HAND_EDIT_TOLERANCE and (
            ends_at is None or abs(ends_at - stored.ends_at) <= HAND_EDIT_TOLERANCE
        ):
            return False
        series = await self.repo.series(stored.series_id)
        if series is None:
            return False
        circle = await self.circles.get(series.circle_id)
        new_end = (
            ends_at if ends_at is not None and ends_at > starts_at else starts_at + (stored.ends_at - stored.starts_at)
        )
        local = starts_at.astimezone(tz(series.timezone))
        change = Change(
            stored.day,
            new_date=local.date(),
            new_time=time(local.hour, local.minute),
            new_duration=new_end - starts_at if new_end - starts_at != series.duration else None,
        )
        await self.repo.put_change(series.id, change, "time edited in Discord's Events list")
        await self._move(series, circle, stored, starts_at, new_end, by_hand=True)
        log.info("session event time edited by hand; followed occurrence=%s", stored.id)
        await self._tell_mods(
            guild_id,
            f"The Discord event for **{series.title}** was moved by hand to <t:{int(starts_at.timestamp())}:F>. "
            "I followed: its announcement and reminders now use the new time.",
        )
        return True

    # -- start-up -------------------------------------------------------------------------

    async def rebuild(
        self, events: Mapping[int, EventState] | None = None, guild_ids: set[int] | None = None
    ) -> dict[str, int]:
        """At connect: catch up on what happened while the bot was away, and make sure every
        live occurrence has its jobs. ``events`` are the Discord events the bot can see now (by
        id) for the servers in ``guild_ids``; an occurrence whose event is missing from a server
        in ``guild_ids`` was deleted by hand while the bot was away."""
        counts = {"series": 0, "made": 0, "settled": 0, "removed": 0, "moved": 0, "jobs": 0}
        now = self.clock.now()
        for series in await self.repo.active_series():
            circle = await self.circles.get(series.circle_id)
            if circle is None:
                continue
            counts["series"] += 1
            if not circle.active:
                await self._stop_for_archived(series, circle)
                continue
            for stored in await self.repo.occurrences_of(series.id, LIVE):
                if stored.status == "scheduled" and stored.ends_at <= now:
                    await self._settle(stored, series, circle)
                    counts["settled"] += 1
                    continue
                if stored.status == "open" and stored.ends_at + AUTOCLOSE_AFTER <= now:
                    await self._settle(stored, series, circle)
                    counts["settled"] += 1
                    continue
                if (
                    stored.status == "scheduled"
                    and stored.discord_event_id is not None
                    and stored.event_status == "scheduled"
                    and events is not None
                    and guild_ids is not None
                    and stored.guild_id in guild_ids
                ):
                    state = events.get(stored.discord_event_id)
                    if state is None:
                        counts["removed"] += int(await self.event_removed(stored.guild_id, stored.discord_event_id))
                        continue
                    if await self.event_changed(
                        stored.guild_id, stored.discord_event_id, state.status, state.starts_at, state.ends_at
                    ):
                        counts["moved"] += 1
                        continue
                counts["jobs"] += await self._ensure_jobs(series, stored)
            counts["made"] += len(await self.ensure_window(series))
        log.info(
            "sessions rebuilt series=%d made=%d settled=%d removed=%d moved=%d jobs=%d",
            *(counts[k] for k in ("series", "made", "settled", "removed", "moved", "jobs")),
        )
        return counts

    async def _ensure_jobs(self, series: Series, stored: StoredOccurrence) -> int:
        """Re-create any job of a live occurrence that has no row at all (never twice: a job that
        ran, was missed or is pending is left alone)."""
        prefix = job_prefix(series.circle_id, stored.id)
        now = self.clock.now()
        payload: dict[str, object] = {"occurrence_id": stored.id}
        wanted: list[tuple[str, str, datetime, dict[str, object], timedelta]] = []
        if stored.status == "scheduled":
            for offset in series.offsets:
                run_at = stored.starts_at - timedelta(minutes=offset)
                if run_at > now:
                    wanted.append(
                        (f"{prefix}remind:{offset}", JOB_REMIND, run_at, {**payload, "offset": offset}, REMINDER_GRACE)
                    )
            wanted.append((f"{prefix}start", JOB_START, stored.starts_at, payload, series.duration))
        wanted.append((f"{prefix}end", JOB_END, stored.ends_at + AUTOCLOSE_AFTER, payload, END_GRACE))
        made = 0
        for job_id, kind, run_at, data, grace in wanted:
            if await self.scheduler.jobs.get(job_id) is None:
                await self.scheduler.schedule(kind, run_at, dict(data), job_id=job_id, grace=grace)
                made += 1
        return made

    async def stop_circle(self, circle_id: int) -> int:
        """A circle is being archived or deleted: end its series, remove upcoming Discord events,
        tell people who were going. Call before deleting the circle (its rows go with it)."""
        circle = await self.circles.get(circle_id)
        if circle is None:
            return 0
        stopped = 0
        for series in await self.repo.active_series(circle_id=circle_id):
            await self._stop_for_archived(series, circle)
            stopped += 1
        return stopped

    async def _stop_for_archived(self, series: Series, circle: Circle) -> None:
        """An archived circle's series stops: upcoming events are removed (its jobs already were)."""
        await self.repo.update_series(series.id, status="ended")
        for stored in await self.repo.occurrences_of(series.id, ("scheduled",)):
            await self._call_off(series, circle, stored, "cancelled", None, tell="the circle has closed")
        log.info("session series stopped; circle archived series=%s", series.id)

    async def rsvps_for(self, occurrence_id: int) -> list[Rsvp]:
        return await self.repo.rsvps(occurrence_id)

    async def stored(self, occurrence_id: int) -> StoredOccurrence | None:
        return await self.repo.occurrence(occurrence_id)


__all__ = [
    "JOB_END",
    "JOB_REMIND",
    "JOB_START",
    "JOB_TIMER",
    "DmResult",
    "EventState",
    "GoRoundView",
    "ReminderView",
    "ReportRow",
    "RsvpResult",
    "ScheduleResult",
    "SessionDiscord",
    "SessionDraft",
    "SessionService",
    "SessionView",
    "UpcomingView",
]
