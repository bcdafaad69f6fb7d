"""Check-ins: a member noting how they are, for themselves and (if they choose) their circle's pulse.

- One tap records a mood (1 very low ... 5 very good) with the time and the member's time zone.
  The tap's message is the idempotency key, so a double click stores one check-in.
- Optional extras on the same check-in: a private note (screened with :func:`bot.safety.assess`),
  up to three tags from the circle's list, sharing the mood (never the note) with the circle's
  anonymous pulse, and asking a listener to reach out (a pending request until the listener rota
  routes it).
- History: the member's own days, averages and streak (the chart is drawn by
  :mod:`bot.services.mood_chart`).
- Pulse: facilitators see a circle's distribution and trend only from shared check-ins, and only
  when at least :data:`PULSE_MIN_PEOPLE` distinct members contributed. Never per-person data.
- Reminders: a wall-clock rule in the member's own zone. The next UTC instant is computed from the
  rule each time (:func:`next_occurrence`), so daylight-saving changes never shift it. One job is
  pending per reminder; the handler schedules the next. Closed DMs pause the reminder.
- Circle prompts: facilitators schedule a daily or weekly post with a persistent Check in button.

Discord is reached only through the :class:`CheckinDelivery` port, attached by the cog.
Logs carry event kinds and opaque ids, never who checked in or what they wrote.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.safety import Assessment, Level, assess
from bot.scheduler import Job, Scheduler
from bot.services.access import AccessService, Actor
from bot.services.circles import name_key
from bot.services.member_time import MemberTimeService
from bot.storage.checkins import (
    Checkin,
    CheckinRepository,
    CheckinSettings,
    Prompt,
    Reminder,
    SupportRequest,
    TapContext,
)
from bot.storage.circles import Circle, CircleRepository
from bot.storage.guilds import GuildSettingsRepository

log = logging.getLogger(__name__)

REMINDER_JOB = "checkin.reminder"
PROMPT_JOB = "checkin.prompt"
# A reminder that is more than an hour late (the bot was down) is skipped; the next one is scheduled.
REMINDER_GRACE = timedelta(hours=1)
PROMPT_GRACE = timedelta(hours=2)
SNOOZE = timedelta(hours=1)

NOTE_LIMIT = 1000
MAX_TAGS = 3
MAX_CIRCLE_TAGS = 25  # a select menu holds 25 options
TAG_LENGTH = (2, 24)
TAG_PATTERN = re.compile(r"^[\w][\w '&+\-]*$")
DEFAULT_TAGS = ("sleep", "stress", "cravings", "lonely", "work", "family", "health", "grateful")
HISTORY_DAYS = (30, 90)
PULSE_MIN_PEOPLE = 5
LISTENER_AFTER_RANGE = (2, 14)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EVERY_DAY = "0123456"
TIME_EXAMPLE = "Please write the time on a 24-hour clock as HH:MM, like 08:30 or 19:00."


@dataclass(frozen=True, slots=True)
class Mood:
    value: int
    emoji: str
    word: str

    @property
    def label(self) -> str:
        return f"{self.value} · {self.word}"


MOODS = (
    Mood(1, "😣", "Very low"),
    Mood(2, "😕", "Low"),
    Mood(3, "😐", "Okay"),
    Mood(4, "🙂", "Good"),
    Mood(5, "😄", "Very good"),
)


def mood(value: int) -> Mood:
    if not 1 <= value <= 5:
        raise InvalidInput("A mood is a number from 1 (very low) to 5 (very good).")
    return MOODS[value - 1]


# -- wall-clock rules ---------------------------------------------------------------------------


def parse_local_time(text: str | None) -> time:
    """``HH:MM`` on a 24-hour clock (``7:05`` is fine). Anything else gets a kind example."""
    raw = (text or "").strip()
    match = re.fullmatch(r"(\d{1,2})[:.](\d{2})", raw)
    if match is None:
        shown = f"“{raw[:20]}” isn't a time I can use. " if raw else ""
        raise InvalidInput(f"{shown}{TIME_EXAMPLE} For 7 in the evening, write 19:00.")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise InvalidInput(
            f"“{raw}” isn't a time of day: hours go from 00 to 23 and minutes from 00 to 59. {TIME_EXAMPLE}"
        )
    return time(hour, minute)


def format_time(at: time) -> str:
    return f"{at.hour:02d}:{at.minute:02d}"


_DAY_WORDS = {name.lower(): index for index, name in enumerate(WEEKDAYS)}
_DAY_WORDS |= {name[:3].lower(): index for index, name in enumerate(WEEKDAYS)}
_DAY_WORDS |= {"tues": 1, "wednes": 2, "thur": 3, "thurs": 3}
_DAY_GROUPS = {
    "daily": EVERY_DAY,
    "everyday": EVERY_DAY,
    "every day": EVERY_DAY,
    "all": EVERY_DAY,
    "weekdays": "01234",
    "weekday": "01234",
    "weekends": "56",
    "weekend": "56",
}


def parse_weekdays(text: str | None) -> str:
    """Days as digits (Monday = 0): "every day", "weekdays", "weekends" or names like "mon, wed, fri"."""
    raw = " ".join((text or "").strip().lower().split())
    if not raw:
        return EVERY_DAY
    if raw in _DAY_GROUPS:
        return _DAY_GROUPS[raw]
    chosen: set[int] = set()
    for word in re.split(r"[\s,;/+&]+|\band\b", raw):
        word = word.strip(" .")
        if not word:
            continue
        if word in _DAY_GROUPS:
            chosen.update(int(d) for d in _DAY_GROUPS[word])
        elif word in _DAY_WORDS:
            chosen.add(_DAY_WORDS[word])
        else:
            raise InvalidInput(
                f"I don't know the day “{word[:20]}”. Write days like “mon, wed, fri”, or “weekdays”, "
                "“weekends” or “every day”."
            )
    return "".join(str(d) for d in sorted(chosen))


def describe_days(digits: str) -> str:
    if digits == EVERY_DAY:
        return "every day"
    if digits == "01234":
        return "on weekdays"
    if digits == "56":
        return "at weekends"
    names = [WEEKDAYS[int(d)] + "s" for d in digits]
    return "on " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])


def wall_time_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant when clocks in ``zone`` show ``at`` on ``day``.

    When the time happens twice (clocks go back), the first one. When it doesn't happen (clocks go
    forward through it), the same distance past the gap: 02:30 on a spring-forward night is 03:30.
    """
    return datetime.combine(day, at).replace(tzinfo=zone, fold=0).astimezone(UTC)


def next_occurrence(after: datetime, at: time, weekdays: str | frozenset[int], zone: ZoneInfo) -> datetime:
    """The first instant strictly after ``after`` when it is ``at`` on one of ``weekdays`` in ``zone``."""
    days = {int(d) for d in weekdays}
    if not days or not days <= set(range(7)):
        raise ValueError("weekdays must name at least one day, 0 (Monday) to 6 (Sunday)")
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    start = after.astimezone(zone).date() - timedelta(days=1)
    for offset in range(10):
        day = start + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        candidate = wall_time_instant(day, at, zone)
        if candidate > after:
            return candidate
    raise AssertionError("unreachable: a week always holds one of the chosen days")


# -- results --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckinState:
    """A check-in as its owner sees it on the private card, with what they can do next."""

    checkin: Checkin
    circle: Circle
    pending_request: SupportRequest | None = None
    created: bool = True
    offer_listener: bool = False
    """The member asked to be offered a listener after low days in a row, and this is such a day."""


@dataclass(frozen=True, slots=True)
class DetailsResult:
    state: CheckinState
    assessment: Assessment


@dataclass(frozen=True, slots=True)
class ListenerResult:
    request: SupportRequest
    created: bool
    state: CheckinState


@dataclass(frozen=True, slots=True)
class History:
    start: date
    end: date
    days: int
    zone: str
    daily: dict[date, float]
    """Each day's average mood, from six days before ``start`` (for the 7-day average) to ``end``."""
    checkins: int
    days_checked_in: int
    average: float | None
    last_week: float | None
    week_before: float | None
    streak: int
    lowest: tuple[int, date] | None
    highest: tuple[int, date] | None
    circle_name: str | None = None


class Period(StrEnum):
    WEEK = "week"
    MONTH = "month"

    @property
    def days(self) -> int:
        return 7 if self is Period.WEEK else 30

    @property
    def label(self) -> str:
        return "the past 7 days" if self is Period.WEEK else "the past 30 days"


@dataclass(frozen=True, slots=True)
class PulseWeek:
    start: date
    end: date
    average: float | None
    """None when fewer than PULSE_MIN_PEOPLE shared that week."""


@dataclass(frozen=True, slots=True)
class Pulse:
    circle: Circle
    period: Period
    enough: bool
    people: int = 0
    entries: int = 0
    percentages: dict[int, int] = field(default_factory=dict)
    average: float | None = None
    previous_average: float | None = None
    weeks: tuple[PulseWeek, ...] = ()
    tags: tuple[tuple[str, int], ...] = ()


class DeliveryResult(StrEnum):
    SENT = "sent"
    DMS_CLOSED = "dms_closed"


class CheckinDelivery(Protocol):
    """What the check-in service needs from Discord (implemented by the cog)."""

    async def member_role_ids(self, guild_id: int, user_id: int) -> frozenset[int] | None:
        """The member's role ids, or None if they are not in the server."""
        ...

    async def send_reminder(self, reminder: Reminder, circle: Circle) -> DeliveryResult:
        """DM the reminder with its buttons."""
        ...

    async def post_prompt(self, circle: Circle, previous_message_id: int | None) -> int | None:
        """Post the circle's check-in prompt (replacing the previous one); its message id, or None."""
        ...


NOTICES = {
    "dms_closed": (
        "**Your check-in reminders are paused.** I couldn't send you a direct message: your DMs from this "
        "server are closed. To get reminders, open them (click the server's name → **Privacy Settings** → "
        "turn on **Direct Messages**), then switch reminders back on with `/checkin reminders time:08:30` "
        "(your time)."
    ),
    "not_in_circle": (
        "**Your check-in reminders are paused** because you're no longer in the {circle} circle. "
        "Set them for another circle with `/checkin reminders`."
    ),
    "circle_closed": (
        "**Your check-in reminders are paused** because the {circle} circle was archived. "
        "Set them for another circle with `/checkin reminders`."
    ),
}


def reminder_job_prefix(reminder_id: int) -> str:
    return f"checkin:reminder:{reminder_id}:"


def prompt_job_prefix(circle_id: int) -> str:
    # Circle-scoped: archiving or deleting the circle cancels ``circle:{id}:``.
    return f"circle:{circle_id}:checkin:prompt:"


def _stamp(run_at: datetime) -> str:
    return run_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def clean_tag(raw: str) -> str:
    tag = " ".join(unicodedata.normalize("NFKC", raw).split()).lower()
    low, high = TAG_LENGTH
    if not low <= len(tag) <= high or not TAG_PATTERN.match(tag):
        raise InvalidInput(
            f"“{tag[:30]}” can't be a tag: tags are {low} to {high} letters, numbers, spaces or - ' & +, "
            "like “sleep” or “family”."
        )
    return tag


def parse_tag_list(text: str) -> tuple[str, ...]:
    tags: list[str] = []
    for part in re.split(r"[,;\n]+", text):
        if not part.strip():
            continue
        tag = clean_tag(part)
        if tag not in tags:
            tags.append(tag)
    if not tags:
        raise InvalidInput("Give at least one tag, separated by commas, like “sleep, stress, family”.")
    if len(tags) > MAX_CIRCLE_TAGS:
        raise InvalidInput(f"A circle can have up to {MAX_CIRCLE_TAGS} tags; that list has {len(tags)}.")
    return tuple(tags)


def _average(values: list[float] | list[int]) -> float | None:
    return sum(values) / len(values) if values else None


class CheckinService:
    def __init__(
        self,
        checkins: CheckinRepository,
        circles: CircleRepository,
        access: AccessService,
        member_time: MemberTimeService,
        guild_settings: GuildSettingsRepository,
        scheduler: Scheduler,
        clock: Clock,
    ) -> None:
        self.repo = checkins
        self.circles = circles
        self.access = access
        self.member_time = member_time
        self.guild_settings = guild_settings
        self.scheduler = scheduler
        self.clock = clock
        self.delivery: CheckinDelivery | None = None

    def attach(self, delivery: CheckinDelivery) -> None:
        """The cog connects Discord (DMs, posting prompts, looking up a member's roles)."""
        self.delivery = delivery

    # -- who may do what ------------------------------------------------------------------

    async def is_facilitator(self, circle: Circle, actor: Actor) -> bool:
        """A facilitator of this circle: its facilitator role, or a server admin or coordinator."""
        if circle.facilitator_role_id is not None and circle.facilitator_role_id in actor.role_ids:
            return True
        return await self.access.is_coordinator(circle.guild_id, actor)

    async def require_facilitator(self, circle: Circle, actor: Actor, what: str) -> None:
        if not await self.is_facilitator(circle, actor):
            raise NotAllowed(
                f"Only the {circle.name} circle's facilitators, coordinators and server admins can {what}."
            )

    @staticmethod
    def in_circle(circle: Circle, actor: Actor) -> bool:
        return circle.member_role_id is not None and circle.member_role_id in actor.role_ids

    def check_can_check_in(self, circle: Circle, actor: Actor) -> Circle:
        if not circle.active:
            raise InvalidInput(
                f"The {circle.name} circle is archived, so it isn't taking check-ins. Nothing was stored; "
                "your earlier check-ins are still in /checkin history."
            )
        if circle.member_role_id is None:
            raise InvalidInput(
                f"The {circle.name} circle needs a quick repair (its role is missing) before anyone can check in. "
                "Nothing was stored. A server admin or coordinator can run /circle repair."
            )
        if not self.in_circle(circle, actor):
            raise NotAllowed(
                f"You're not in the {circle.name} circle, so you can't check in there. Nothing was stored. "
                f"You can join with /circle join circle:{circle.name}."
            )
        return circle

    # -- finding the circle -----------------------------------------------------------------

    async def member_circles(self, guild_id: int, actor: Actor) -> list[Circle]:
        """Active circles this person is in (they hold the member role)."""
        return [c for c in await self.circles.in_guild(guild_id) if self.in_circle(c, actor)]

    async def facilitated_circles(self, guild_id: int, actor: Actor) -> list[Circle]:
        return [c for c in await self.circles.in_guild(guild_id) if await self.is_facilitator(c, actor)]

    async def get_circle(self, circle_id: int) -> Circle:
        circle = await self.circles.get(circle_id)
        if circle is None:
            raise NotFound("That circle no longer exists, so there's nowhere to check in. Nothing was stored.")
        return circle

    async def find_circle(self, guild_id: int, name: str) -> Circle:
        circle = await self.circles.by_name(guild_id, name_key(name))
        if circle is None:
            names = [c.name for c in await self.circles.in_guild(guild_id)]
            hint = f" Circles here: {', '.join(names)}." if names else " There are no circles here yet."
            raise NotFound(f"There's no circle called “{name[:50]}”.{hint}")
        return circle

    async def resolve_circle(
        self, guild_id: int, actor: Actor, *, name: str | None = None, channel_id: int | None = None
    ) -> Circle:
        """The circle to check in to: the one named, else this channel's, else the member's only one."""
        if name:
            return self.check_can_check_in(await self.find_circle(guild_id, name), actor)
        if channel_id is not None:
            here = await self.circles.by_channel(channel_id)
            if here is not None and here.guild_id == guild_id:
                return self.check_can_check_in(here, actor)
        mine = await self.member_circles(guild_id, actor)
        if not mine:
            raise NotAllowed(
                "You're not in a circle here yet, so there's nowhere to check in. Nothing was stored. "
                "See the circles with /circle list and join one with /circle join."
            )
        if len(mine) > 1:
            names = ", ".join(c.name for c in mine)
            raise InvalidInput(f"You're in more than one circle ({names}). Pick one with the circle option.")
        return mine[0]

    async def circle_to_open(
        self, guild_id: int, actor: Actor, *, name: str | None = None, channel_id: int | None = None
    ) -> tuple[Circle, str | None]:
        """:meth:`resolve_circle` and :meth:`pop_notice` together. In a circle's channel (the usual
        case) that is one statement, plus clearing the notice on the rare occasion one is waiting."""
        if not name and channel_id is not None:
            found = await self.repo.circle_in_channel(channel_id, actor.user_id)
            if found is not None and found[0].guild_id == guild_id:
                here, notice_waiting = found
                self.check_can_check_in(here, actor)
                return here, await self.pop_notice(guild_id, actor.user_id) if notice_waiting else None
            channel_id = None  # not a circle's channel here: no need to look it up again
        circle = await self.resolve_circle(guild_id, actor, name=name, channel_id=channel_id)
        return circle, await self.pop_notice(guild_id, actor.user_id)

    async def resolve_facilitated(
        self, guild_id: int, actor: Actor, *, name: str | None, channel_id: int | None, what: str
    ) -> Circle:
        if name:
            circle = await self.find_circle(guild_id, name)
        else:
            here = await self.circles.by_channel(channel_id) if channel_id is not None else None
            if here is not None and here.guild_id == guild_id:
                circle = here
            else:
                mine = await self.facilitated_circles(guild_id, actor)
                if len(mine) != 1:
                    raise InvalidInput("Which circle? Pick one with the circle option.")
                circle = mine[0]
        await self.require_facilitator(circle, actor, what)
        return circle

    # -- recording ------------------------------------------------------------------------

    async def _zone_name(self, guild_id: int, user_id: int) -> str:
        return (await self.member_time.zone_name(guild_id, user_id))[0]

    async def tap_context(self, circle_id: int, user_id: int) -> tuple[Circle, TapContext]:
        """The circle a mood button names, with what :meth:`record` needs, in one statement."""
        found = await self.repo.circle_and_tap_context(circle_id, user_id)
        if found is None:
            raise NotFound("That circle no longer exists, so there's nowhere to check in. Nothing was stored.")
        return found

    async def record(
        self,
        circle: Circle,
        actor: Actor,
        value: int,
        *,
        source_key: str | None,
        context: TapContext | None = None,
    ) -> CheckinState:
        """One tap. With the same ``source_key`` (the message tapped), the first check-in is returned.

        Two statements in the usual case: the member's context (``context``, from
        :meth:`tap_context` when the caller has it already) and the insert, which returns the row.
        """
        mood(value)
        self.check_can_check_in(circle, actor)
        if context is None:
            context = await self.repo.tap_context(circle.guild_id, circle.id, actor.user_id)
        zone = context.own_zone or context.server_zone or self.guild_settings.default_timezone
        now = self.clock.now()
        checkin, created = await self.repo.insert_checkin(
            guild_id=circle.guild_id,
            circle_id=circle.id,
            user_id=actor.user_id,
            mood=value,
            timezone=zone,
            local_date=now.astimezone(ZoneInfo(zone)).date(),
            created_at=now,
            source_key=source_key,
        )
        if checkin.user_id != actor.user_id:
            raise NotAllowed("That check-in belongs to someone else. Start your own with /checkin now.")
        if created:
            log.info("checkin recorded circle=%s checkin=%s", circle.id, checkin.id)
        offer = await self._listener_offer(checkin, context.settings, context.pending) if created else False
        return CheckinState(checkin, circle, context.pending, created, offer)

    async def _state(
        self, checkin: Checkin, circle: Circle | None = None, *, created: bool = False, offer_listener: bool = False
    ) -> CheckinState:
        circle = circle or await self.get_circle(checkin.circle_id)
        pending = await self.repo.pending_request(checkin.circle_id, checkin.user_id)
        return CheckinState(checkin, circle, pending, created, offer_listener)

    async def own(self, checkin_id: int, user_id: int) -> Checkin:
        checkin = await self.repo.get_checkin(checkin_id)
        if checkin is None or checkin.user_id != user_id:
            raise NotFound("That check-in isn't there any more (it may have been deleted). Nothing was changed.")
        return checkin

    async def state(self, checkin_id: int, user_id: int) -> CheckinState:
        return await self._state(await self.own(checkin_id, user_id))

    async def tags_for(self, circle: Circle) -> tuple[str, ...]:
        stored = await self.repo.circle_tags(circle.id)
        return stored if stored else DEFAULT_TAGS

    def clean_note(self, note: str | None) -> str | None:
        text = (note or "").strip()
        if len(text) > NOTE_LIMIT:
            raise InvalidInput(
                f"A note can be at most {NOTE_LIMIT} characters; yours has {len(text)}. "
                "Please shorten it. Nothing was saved."
            )
        return text or None

    async def clean_tags(self, circle: Circle, tags: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        allowed = await self.tags_for(circle)
        chosen: list[str] = []
        for raw in tags:
            tag = raw.strip().lower()
            if tag and tag not in chosen:
                chosen.append(tag)
        if len(chosen) > MAX_TAGS:
            raise InvalidInput(f"Pick up to {MAX_TAGS} tags; you picked {len(chosen)}. Nothing was saved.")
        unknown = [t for t in chosen if t not in allowed]
        if unknown:
            raise InvalidInput(
                f"“{unknown[0][:30]}” isn't one of the {circle.name} circle's tags ({', '.join(allowed)}). "
                "Nothing was saved."
            )
        return tuple(chosen)

    async def add_details(
        self, checkin_id: int, user_id: int, note: str | None, tags: list[str] | tuple[str, ...]
    ) -> DetailsResult:
        """A private note and tags on a check-in. The note is screened for crisis language."""
        checkin = await self.own(checkin_id, user_id)
        circle = await self.get_circle(checkin.circle_id)
        text = self.clean_note(note)
        chosen = await self.clean_tags(circle, tags)
        updated = await self.repo.update_checkin(checkin.id, self.clock.now(), note=text, tags=chosen)
        assessment = assess(text) if text else Assessment(Level.NONE)
        if assessment.flagged:
            log.info("checkin note flagged level=%s checkin=%s", assessment.level, checkin.id)
        return DetailsResult(await self._state(updated, circle), assessment)

    async def set_share(self, checkin_id: int, user_id: int, share: bool) -> CheckinState:
        checkin = await self.own(checkin_id, user_id)
        updated = await self.repo.update_checkin(checkin.id, self.clock.now(), share_pulse=share)
        return await self._state(updated)

    async def latest(self, guild_id: int, user_id: int) -> Checkin:
        found = await self.repo.latest(guild_id, user_id)
        if found is None:
            raise NotFound(
                "You haven't checked in here yet, so there's nothing to change. /checkin now takes five seconds."
            )
        return found

    async def edit(
        self,
        checkin_id: int,
        user_id: int,
        *,
        value: int,
        note: str | None,
        tags: list[str] | tuple[str, ...],
        share: bool,
    ) -> DetailsResult:
        checkin = await self.own(checkin_id, user_id)
        circle = await self.get_circle(checkin.circle_id)
        mood(value)
        text = self.clean_note(note)
        chosen = await self.clean_tags(circle, tags)
        updated = await self.repo.update_checkin(
            checkin.id, self.clock.now(), mood=value, note=text, tags=chosen, share_pulse=share
        )
        changed_note = text is not None and text != checkin.note
        assessment = assess(text) if changed_note and text else Assessment(Level.NONE)
        log.info("checkin edited checkin=%s", checkin.id)
        return DetailsResult(await self._state(updated, circle), assessment)

    async def delete(self, checkin_id: int, user_id: int) -> Checkin:
        checkin = await self.own(checkin_id, user_id)
        await self.repo.delete_checkin(checkin.id)
        await self.repo.db.checkpoint_after_delete()  # the note's ciphertext leaves no copy in the -wal file
        log.info("checkin deleted checkin=%s", checkin.id)
        return checkin

    # -- listeners ------------------------------------------------------------------------

    async def request_listener(self, checkin_id: int, user_id: int) -> ListenerResult:
        """Ask a listener to reach out (pending until the listener rota routes it). Idempotent."""
        checkin = await self.own(checkin_id, user_id)
        circle = await self.get_circle(checkin.circle_id)
        request, created = await self.repo.add_request(
            circle.guild_id, circle.id, user_id, checkin.id, self.clock.now()
        )
        if created:
            log.info("listener request pending request=%s circle=%s", request.id, circle.id)
        return ListenerResult(request, created, await self._state(checkin, circle))

    async def cancel_listener(self, request_id: int, user_id: int) -> SupportRequest:
        request = await self.repo.get_request(request_id)
        if request is None or request.user_id != user_id:
            raise NotFound("That request isn't there any more. Nothing was changed.")
        if request.status != "pending":
            raise InvalidInput("That request was already handled, so it can't be cancelled here.")
        await self.repo.set_request_status(request.id, "cancelled", self.clock.now())
        log.info("listener request cancelled request=%s", request.id)
        return request

    async def pending_requests(self, guild_id: int) -> list[SupportRequest]:
        """For the listener rota: requests waiting for someone to reach out."""
        return await self.repo.pending_requests(guild_id)

    async def mark_request_routed(self, request_id: int) -> None:
        """For the listener rota: it took this request over (the member is no longer shown it as pending)."""
        await self.repo.set_request_status(request_id, "routed", self.clock.now())

    async def _listener_offer(
        self, checkin: Checkin, settings: CheckinSettings, pending: SupportRequest | None
    ) -> bool:
        """True when the member asked to be offered a listener after N low days in a row, and today
        completes such a run (offered once per run, and not while a request is pending)."""
        days = settings.listener_after_days
        if not days:
            return False
        today = checkin.local_date
        run_start = today - timedelta(days=days - 1)
        moods = await self.repo.daily_latest_moods(checkin.guild_id, checkin.user_id, run_start)
        if not all(moods.get(run_start + timedelta(days=i), 5) <= 2 for i in range(days)):
            return False
        if settings.listener_offered_on is not None and settings.listener_offered_on >= run_start:
            return False
        if pending is not None:
            return False
        await self.repo.mark_listener_offered(checkin.guild_id, checkin.user_id, today, self.clock.now())
        return True

    async def settings(self, guild_id: int, user_id: int) -> CheckinSettings:
        return await self.repo.settings(guild_id, user_id)

    async def set_listener_after(self, guild_id: int, user_id: int, days: int | None) -> int | None:
        low, high = LISTENER_AFTER_RANGE
        if days is not None and days != 0 and not low <= days <= high:
            raise InvalidInput(f"Choose between {low} and {high} days in a row, or off.")
        value = days or None
        await self.repo.set_listener_after(guild_id, user_id, value, self.clock.now())
        return value

    # -- history --------------------------------------------------------------------------

    async def history(self, guild_id: int, user_id: int, days: int, circle: Circle | None = None) -> History:
        if days not in HISTORY_DAYS:
            raise InvalidInput("History covers the last 30 or 90 days.")
        zone = await self._zone_name(guild_id, user_id)
        today = self.clock.now().astimezone(ZoneInfo(zone)).date()
        start = today - timedelta(days=days - 1)
        entries = await self.repo.member_checkins(
            guild_id, user_id, start - timedelta(days=6), circle.id if circle else None
        )
        per_day: dict[date, list[int]] = defaultdict(list)
        for entry in entries:
            per_day[entry.local_date].append(entry.mood)
        daily = {day: sum(moods) / len(moods) for day, moods in sorted(per_day.items()) if day <= today}
        in_window = [e for e in entries if start <= e.local_date <= today]
        moods = [e.mood for e in in_window]
        lowest = min(in_window, key=lambda e: (e.mood, e.created_at), default=None)
        highest = max(in_window, key=lambda e: (e.mood, e.created_at), default=None)

        def week_average(last: date) -> float | None:
            return _average([e.mood for e in entries if last - timedelta(days=6) <= e.local_date <= last])

        all_days = set((await self.repo.daily_latest_moods(guild_id, user_id, today - timedelta(days=400))).keys())
        streak_from = today if today in all_days else today - timedelta(days=1)
        streak = 0
        while streak_from - timedelta(days=streak) in all_days:
            streak += 1
        return History(
            start=start,
            end=today,
            days=days,
            zone=zone,
            daily=daily,
            checkins=len(in_window),
            days_checked_in=len({e.local_date for e in in_window}),
            average=_average(moods),
            last_week=week_average(today),
            week_before=week_average(today - timedelta(days=7)),
            streak=streak,
            lowest=(lowest.mood, lowest.local_date) if lowest else None,
            highest=(highest.mood, highest.local_date) if highest else None,
            circle_name=circle.name if circle else None,
        )

    # -- pulse ----------------------------------------------------------------------------

    async def pulse(self, circle: Circle, actor: Actor, period: Period) -> Pulse:
        """The circle's shared moods, only when at least PULSE_MIN_PEOPLE distinct members shared.

        Each member counts once per day (their latest shared check-in that day), so one person
        checking in often doesn't outweigh the others. Tags are shown only when at least
        PULSE_MIN_PEOPLE members chose them. Nothing identifies anyone.
        """
        await self.require_facilitator(circle, actor, "see the circle's pulse")
        now = self.clock.now()
        window = timedelta(days=period.days)
        entries = await self.repo.shared_since(circle.id, now - 2 * window)
        latest: dict[tuple[int, date], tuple[datetime, int, tuple[str, ...]]] = {}
        for entry in entries:
            latest[(entry.person, entry.local_date)] = (entry.created_at, entry.mood, entry.tags)

        def between(since: datetime, until: datetime) -> list[tuple[int, int, tuple[str, ...]]]:
            return [(person, m, tags) for (person, _), (at, m, tags) in latest.items() if since < at <= until]

        current = between(now - window, now)
        people = {person for person, _, _ in current}
        if len(people) < PULSE_MIN_PEOPLE:
            log.info("pulse withheld circle=%s period=%s", circle.id, period.value)
            return Pulse(circle, period, enough=False)
        counts = {value: sum(1 for _, m, _ in current if m == value) for value in range(1, 6)}
        percentages = {value: round(100 * count / len(current)) for value, count in counts.items()}
        previous = between(now - 2 * window, now - window)
        previous_average = (
            _average([m for _, m, _ in previous]) if len({p for p, _, _ in previous}) >= PULSE_MIN_PEOPLE else None
        )
        weeks: list[PulseWeek] = []
        if period is Period.MONTH:
            for index in range(4):
                until = now - timedelta(days=7 * index)
                since = until - timedelta(days=7)
                week = between(since, until)
                enough = len({p for p, _, _ in week}) >= PULSE_MIN_PEOPLE
                weeks.append(
                    PulseWeek(since.date(), until.date(), _average([m for _, m, _ in week]) if enough else None)
                )
        tag_people: dict[str, set[int]] = defaultdict(set)
        for person, _, chosen in current:
            for tag in chosen:
                tag_people[tag].add(person)
        tags = tuple(
            sorted(
                ((tag, len(who)) for tag, who in tag_people.items() if len(who) >= PULSE_MIN_PEOPLE),
                key=lambda t: (-t[1], t[0]),
            )
        )
        log.info("pulse shown circle=%s period=%s", circle.id, period.value)
        return Pulse(
            circle,
            period,
            enough=True,
            people=len(people),
            entries=len(current),
            percentages=percentages,
            average=_average([m for _, m, _ in current]),
            previous_average=previous_average,
            weeks=tuple(reversed(weeks)),
            tags=tags,
        )

    # -- circle tags ----------------------------------------------------------------------

    async def set_circle_tags(self, circle: Circle, actor: Actor, text: str | None) -> tuple[str, ...]:
        """Replace the circle's tag list (comma-separated), or go back to the defaults with None."""
        await self.require_facilitator(circle, actor, "change the circle's check-in tags")
        tags = parse_tag_list(text) if text is not None else None
        await self.repo.set_circle_tags(circle.id, tags)
        return tags or DEFAULT_TAGS

    # -- reminders ------------------------------------------------------------------------

    async def reminder(self, guild_id: int, user_id: int) -> Reminder | None:
        return await self.repo.reminder_for(guild_id, user_id)

    async def set_reminder(
        self, guild_id: int, actor: Actor, circle: Circle, time_text: str | None, days_text: str | None
    ) -> Reminder:
        """Turn reminders on (or change them). Validates everything before storing anything."""
        self.check_can_check_in(circle, actor)
        existing = await self.repo.reminder_for(guild_id, actor.user_id)
        if time_text is None and existing is None:
            raise InvalidInput(f"Add a time for your reminder. {TIME_EXAMPLE}")
        at = parse_local_time(time_text if time_text is not None else existing.local_time if existing else None)
        days = parse_weekdays(days_text) if days_text is not None else existing.weekdays if existing else EVERY_DAY
        reminder = await self.repo.upsert_reminder(
            guild_id, actor.user_id, circle.id, format_time(at), days, self.clock.now()
        )
        await self._schedule_reminder(reminder, self.clock.now())
        log.info("reminder set reminder=%s", reminder.id)
        stored = await self.repo.get_reminder(reminder.id)
        assert stored is not None
        return stored

    async def _schedule_reminder(self, reminder: Reminder, after: datetime, *, at: datetime | None = None) -> datetime:
        zone = await self.member_time.zone(reminder.guild_id, reminder.user_id)
        run_at = at or next_occurrence(after, parse_local_time(reminder.local_time), reminder.weekdays, zone)
        prefix = reminder_job_prefix(reminder.id)
        await self.scheduler.cancel_prefix(prefix)
        await self.scheduler.schedule(
            REMINDER_JOB, run_at, {"reminder": reminder.id}, job_id=prefix + _stamp(run_at), grace=REMINDER_GRACE
        )
        await self.repo.set_reminder_next(reminder.id, run_at)
        return run_at

    async def stop_reminder(self, guild_id: int, user_id: int) -> bool:
        """Switch reminders off. Their settings are deleted, not kept."""
        reminder = await self.repo.reminder_for(guild_id, user_id)
        if reminder is None:
            return False
        await self.scheduler.cancel_prefix(reminder_job_prefix(reminder.id))
        await self.repo.delete_reminder(reminder.id)
        log.info("reminder stopped reminder=%s", reminder.id)
        return True

    async def reminder_by_id(self, reminder_id: int) -> Reminder | None:
        return await self.repo.get_reminder(reminder_id)

    async def own_reminder(self, reminder_id: int, user_id: int) -> Reminder:
        reminder = await self.repo.get_reminder(reminder_id)
        if reminder is None or reminder.user_id != user_id:
            raise NotFound("Those reminders are already off. Turn them on again with /checkin reminders.")
        return reminder

    async def stop_reminder_by_id(self, reminder_id: int, user_id: int) -> None:
        reminder = await self.own_reminder(reminder_id, user_id)
        await self.stop_reminder(reminder.guild_id, user_id)

    async def snooze(self, reminder_id: int, user_id: int) -> tuple[datetime, str]:
        """Remind again in an hour (instead of the next regular time if that is sooner). Returns
        (when, zone name)."""
        reminder = await self.own_reminder(reminder_id, user_id)
        if not reminder.active:
            raise InvalidInput(
                "Your reminders are paused, so there's nothing to snooze. Turn them on with /checkin reminders."
            )
        when = await self._schedule_reminder(reminder, self.clock.now(), at=self.clock.now() + SNOOZE)
        return when, await self._zone_name(reminder.guild_id, user_id)

    async def local_time_of(self, guild_id: int, user_id: int, moment: datetime) -> tuple[datetime, str]:
        zone = await self._zone_name(guild_id, user_id)
        return moment.astimezone(ZoneInfo(zone)), zone

    async def run_reminder(self, job: Job) -> None:
        """The scheduler's handler for ``checkin.reminder``: DM the member, then schedule the next."""
        reminder = await self.repo.get_reminder(int(job.payload.get("reminder", 0)))
        if reminder is None or not reminder.active:
            return  # stopped, deleted with the member's data, or its circle was deleted
        circle = await self.circles.get(reminder.circle_id)
        if circle is None:
            return
        now = self.clock.now()
        if not circle.active:
            await self.repo.pause_reminder(reminder.id, "circle_closed", now)
            log.info("reminder paused reason=circle_closed reminder=%s", reminder.id)
            return
        if self.delivery is None:
            raise RuntimeError("no delivery attached: is the check-ins cog loaded?")
        roles = await self.delivery.member_role_ids(reminder.guild_id, reminder.user_id)
        if roles is None or circle.member_role_id not in roles:
            await self.repo.pause_reminder(reminder.id, "not_in_circle", now)
            log.info("reminder paused reason=not_in_circle reminder=%s", reminder.id)
            return
        try:
            result = await self.delivery.send_reminder(reminder, circle)
        except Exception:
            await self._schedule_reminder(reminder, max(now, job.run_at))  # one failure doesn't end reminders
            raise
        if result is DeliveryResult.DMS_CLOSED:
            await self.repo.pause_reminder(reminder.id, "dms_closed", now)
            log.info("reminder paused reason=dms_closed reminder=%s", reminder.id)
            return
        await self._schedule_reminder(reminder, max(now, job.run_at))
        log.info("reminder sent reminder=%s", reminder.id)

    async def pop_notice(self, guild_id: int, user_id: int) -> str | None:
        """A one-time note about paused reminders, shown the next time the member uses /checkin."""
        reminder = await self.repo.reminder_for(guild_id, user_id)
        if reminder is None or not reminder.notice_due or reminder.active:
            return None
        if not await self.repo.clear_notice(reminder.id):
            return None
        circle = await self.circles.get(reminder.circle_id)
        text = NOTICES.get(reminder.paused_reason or "", NOTICES["dms_closed"])
        return text.format(circle=circle.name if circle else "that")

    # -- circle prompts -------------------------------------------------------------------

    async def prompt(self, circle: Circle) -> Prompt | None:
        return await self.repo.prompt(circle.id)

    async def set_prompt(
        self, circle: Circle, actor: Actor, frequency: str, time_text: str | None, weekday: int | None
    ) -> Prompt:
        await self.require_facilitator(circle, actor, "schedule check-in prompts")
        if not circle.active:
            raise InvalidInput(f"The {circle.name} circle is archived, so it can't have check-in prompts.")
        if frequency not in ("daily", "weekly"):
            raise InvalidInput("A prompt is daily or weekly.")
        existing = await self.repo.prompt(circle.id)
        if time_text is None and existing is None:
            raise InvalidInput(f"Add a time for the prompt. {TIME_EXAMPLE}")
        at = parse_local_time(time_text if time_text is not None else existing.local_time if existing else None)
        if frequency == "weekly":
            weekday = weekday if weekday is not None else (existing.weekday if existing else None)
            if weekday is None or not 0 <= weekday <= 6:
                raise InvalidInput("A weekly prompt needs a day: add the day option.")
        else:
            weekday = None
        prompt = await self.repo.upsert_prompt(
            circle.id, circle.guild_id, frequency, weekday, format_time(at), self.clock.now()
        )
        await self._schedule_prompt(prompt, self.clock.now())
        log.info("prompt scheduled circle=%s frequency=%s", circle.id, frequency)
        stored = await self.repo.prompt(circle.id)
        assert stored is not None
        return stored

    async def stop_prompt(self, circle: Circle, actor: Actor) -> bool:
        await self.require_facilitator(circle, actor, "stop check-in prompts")
        await self.scheduler.cancel_prefix(prompt_job_prefix(circle.id))
        return await self.repo.delete_prompt(circle.id) > 0

    async def server_zone(self, guild_id: int) -> str:
        return (await self.guild_settings.get(guild_id)).timezone

    async def _schedule_prompt(self, prompt: Prompt, after: datetime) -> datetime:
        zone = ZoneInfo(await self.server_zone(prompt.guild_id))
        days = EVERY_DAY if prompt.weekday is None else str(prompt.weekday)
        run_at = next_occurrence(after, parse_local_time(prompt.local_time), days, zone)
        prefix = prompt_job_prefix(prompt.circle_id)
        await self.scheduler.cancel_prefix(prefix)
        await self.scheduler.schedule(
            PROMPT_JOB, run_at, {"circle": prompt.circle_id}, job_id=prefix + _stamp(run_at), grace=PROMPT_GRACE
        )
        await self.repo.set_prompt_state(prompt.circle_id, next_at=run_at)
        return run_at

    async def run_prompt(self, job: Job) -> None:
        """The scheduler's handler for ``checkin.prompt``: post in the circle's channel, schedule the next."""
        circle_id = int(job.payload.get("circle", 0))
        prompt = await self.repo.prompt(circle_id)
        circle = await self.circles.get(circle_id)
        if prompt is None or circle is None or not circle.active:
            return
        try:
            if circle.channel_id is None:
                log.warning("prompt skipped: the circle's channel is missing circle=%s", circle.id)
            else:
                if self.delivery is None:
                    raise RuntimeError("no delivery attached: is the check-ins cog loaded?")
                posted = await self.delivery.post_prompt(circle, prompt.last_message_id)
                if posted is not None:
                    await self.repo.set_prompt_state(circle.id, next_at=None, last_message_id=posted)
                    log.info("prompt posted circle=%s", circle.id)
        finally:
            await self._schedule_prompt(prompt, max(self.clock.now(), job.run_at))

    # -- start-up -------------------------------------------------------------------------

    async def ensure_scheduled(self) -> int:
        """At start (after the scheduler): give every active reminder and prompt a pending job.

        A job can be missing when the bot was down past its grace window (the scheduler records it
        as missed). Returns how many were scheduled.
        """
        # Only the ids this looks at (reminders by prefix, prompts by kind): at scale every pending
        # job id (80,000 with 20,000 sessions) cost ~10 MiB at start for nothing.
        jobs = self.scheduler.jobs
        pending = set(await jobs.pending_ids(prefix="checkin:reminder:")) | set(await jobs.pending_ids(kind=PROMPT_JOB))
        now = self.clock.now()
        scheduled = 0
        for reminder in await self.repo.active_reminders():
            prefix = reminder_job_prefix(reminder.id)
            if not any(job_id.startswith(prefix) for job_id in pending):
                await self._schedule_reminder(reminder, now)
                scheduled += 1
        for prompt in await self.repo.all_prompts():
            circle = await self.circles.get(prompt.circle_id)
            prefix = prompt_job_prefix(prompt.circle_id)
            if circle is not None and circle.active and not any(job_id.startswith(prefix) for job_id in pending):
                await self._schedule_prompt(prompt, now)
                scheduled += 1
        if scheduled:
            log.info("check-in schedules rebuilt count=%d", scheduled)
        return scheduled
