"""What check-ins talk in: limits and job kinds, moods, the results a command gets back, tags
and the notices about paused reminders. Pure: nothing here reads the database or reaches Discord."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from bot.errors import InvalidInput
from bot.safety import Assessment
from bot.storage.checkins import Checkin, SupportRequest
from bot.storage.circles import Circle

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


def job_stamp(run_at: datetime) -> str:
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


def average(values: list[float] | list[int]) -> float | None:
    return sum(values) / len(values) if values else None
