"""What the sessions feature talks in: its limits and job kinds, the views a renderer shows, the
results a command gets back, and the few pure helpers every part uses. Nothing here reads the
database or reaches Discord."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from bot.errors import InvalidInput
from bot.storage.database import typed_id
from bot.storage.sessions import Series, StoredOccurrence
from bot.timekeeping.recurrence import Occurrence
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


def in_range(value: int, bounds: tuple[int, int], what: str) -> int:
    low, high = bounds
    if not low <= value <= high:
        raise InvalidInput(f"The {what} must be between {low} and {high}.")
    return value


def not_live_text(stored: StoredOccurrence) -> str:
    return {
        "closed": "That session has ended. Look out for the next one with /session list.",
        "skipped": "That session was skipped. /session list shows what's coming up.",
        "cancelled": "That session was cancelled. /session list shows what's coming up.",
        "missed": "That session has ended. Look out for the next one with /session list.",
        "open": "This session is happening now: you're welcome to join in. No need to RSVP.",
    }.get(stored.status, "That session isn't taking RSVPs.")
