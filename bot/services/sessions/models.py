"""What the sessions feature talks in: its limits and job kinds, the views a renderer shows, the
results a command gets back, and the few pure helpers every part uses. Nothing here reads the
database or reaches Discord."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from bot.errors import InvalidInput
from bot.i18n import N_, Msg, Speaker, msg
from bot.storage.database import typed_id
from bot.storage.sessions import Series, StoredOccurrence
from bot.timekeeping.recurrence import Occurrence, Rule, describe
from bot.timekeeping.words import local_phrase

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

# What a renderer shows next to a session the bot itself skipped (stored as the occurrence's note,
# in English, and shown in the reader's language); a facilitator's own note is shown as written.
NOTE_EVENT_DELETED = N_("its event was deleted in Discord's Events list")
NOTE_EVENT_CANCELLED = N_("its event was cancelled in Discord's Events list")
BOT_NOTES = frozenset({NOTE_EVENT_DELETED, NOTE_EVENT_CANCELLED})

# Too long (clean_text): {limit} and {length} are numbers of characters.
TITLE_TOO_LONG = N_("The title can be at most {limit} characters; yours has {length}. Please shorten it.")
DESCRIPTION_TOO_LONG = N_("The description can be at most {limit} characters; yours has {length}. Please shorten it.")
NOTE_TOO_LONG = N_("The note can be at most {limit} characters; yours has {length}. Please shorten it.")
COMMENT_TOO_LONG = N_("The comment can be at most {limit} characters; yours has {length}. Please shorten it.")
# Out of range (in_range): {low} and {high} are the bounds.
DURATION_OUT_OF_RANGE = N_("The duration in minutes must be between {low} and {high}.")
WEEKS_OUT_OF_RANGE = N_("The number of weeks between sessions must be between {low} and {high}.")
PLACES_OUT_OF_RANGE = N_("The number of places must be between {low} and {high}.")
SPEAKER_OUT_OF_RANGE = N_("The minutes per speaker must be between {low} and {high}.")


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
    rule: Rule
    channel_id: int
    channel_kind: str
    channel_name: str
    capacity: int | None
    going: int
    waiting: int
    status: str
    note: str | None
    event_id: int | None

    def recurrence(self, t: Speaker | None = None) -> str:
        """ "Every week on Tuesday at 19:00 (Europe/London)", in ``t``'s language (English if none)."""
        return describe(self.rule, t)

    def local_text(self, t: Speaker | None = None) -> str:
        return local_phrase(self.starts_at, self.timezone, t)

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
    zone: str  # the member's own zone, or the server's
    zone_is_own: bool
    ground_rules: str
    going: bool  # RSVPed (True) or opted in for all of the circle's sessions (False)

    def local_text(self, t: Speaker | None = None) -> str:
        """The start in the member's zone, "19:00 on Tuesday 3 March 2026 (Europe/London)"."""
        return local_phrase(self.session.starts_at, self.zone, t)


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
    zone: str  # the viewer's
    rsvp: str | None  # the viewer's: going / waitlist

    def local_text(self, t: Speaker | None = None) -> str:
        return local_phrase(self.starts_at, self.zone, t)


@dataclass(frozen=True, slots=True)
class ReportRow:
    starts_at: datetime
    title: str | None  # None if its series is gone
    attendance: int | None
    responses: int
    average: float | None  # None when fewer than REPORT_MINIMUM responded
    comments: tuple[str, ...]


@dataclass(slots=True)
class ScheduleResult:
    series: Series
    made: list[SessionView]
    first: Occurrence
    notices: list[Msg] = field(default_factory=list)


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


def channel_link(channel_id: int) -> str:
    """A channel mention, ``<#id>`` (Discord shows it as the channel's name)."""
    return f"<#{channel_id}>"


def job_prefix(circle_id: int, occurrence_id: int) -> str:
    return f"circle:{circle_id}:session:{occurrence_id}:"


def parse_ref(ref: str) -> tuple[int, date | None]:
    """``"12"`` → series 12; ``"12:2026-03-03"`` → its occurrence on that local date."""
    head, _, day = ref.strip().partition(":")
    series_id = typed_id(head)
    if series_id is None:
        raise InvalidInput(msg("Pick a session from the list Discord offers as you type."))
    if not day:
        return series_id, None
    try:
        return series_id, date.fromisoformat(day)
    except ValueError:
        raise InvalidInput(msg("Pick a session from the list Discord offers as you type.")) from None


def clean_text(raw: str | None, limit: int, too_long: str) -> str:
    """The text, trimmed; ``too_long`` (one of the ``*_TOO_LONG`` messages) if it is over ``limit``."""
    text = (raw or "").strip()
    if len(text) > limit:
        raise InvalidInput(msg(too_long, limit=limit, length=len(text)))
    return text


def not_live_text(stored: StoredOccurrence) -> Msg:
    if stored.status in ("closed", "missed"):
        return msg("That session has ended. Look out for the next one with /session list.")
    if stored.status == "skipped":
        return msg("That session was skipped. /session list shows what's coming up.")
    if stored.status == "cancelled":
        return msg("That session was cancelled. /session list shows what's coming up.")
    if stored.status == "open":
        return msg("This session is happening now: you're welcome to join in. No need to RSVP.")
    return msg("That session isn't taking RSVPs.")
