"""What check-ins talk in: limits and job kinds, moods, the results a command gets back, tags
and the notices about paused reminders. Pure: nothing here reads the database or reaches Discord."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from bot.errors import InvalidInput
from bot.i18n import N_, Msg, msg, msgs
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
# The default tags are stored in English (as their values) and shown in the reader's language;
# a circle's own tags are shown as the facilitator typed them.
DEFAULT_TAGS = (
    N_("sleep"),
    N_("stress"),
    N_("cravings"),
    N_("lonely"),
    N_("work"),
    N_("family"),
    N_("health"),
    N_("grateful"),
)
HISTORY_DAYS = (30, 90)
PULSE_MIN_PEOPLE = 5
LISTENER_AFTER_RANGE = (2, 14)


@dataclass(frozen=True, slots=True)
class Mood:
    """A mood: its number, emoji, word (a label, "Very low") and the word inside a sentence
    ("very low"), both English message ids shown in the reader's language."""

    value: int
    emoji: str
    word: str
    phrase: str


MOODS = (
    Mood(1, "😣", N_("Very low"), N_("very low")),
    Mood(2, "😕", N_("Low"), N_("low")),
    Mood(3, "😐", N_("Okay"), N_("okay")),
    Mood(4, "🙂", N_("Good"), N_("good")),
    Mood(5, "😄", N_("Very good"), N_("very good")),
)


def mood(value: int) -> Mood:
    if not 1 <= value <= 5:
        raise InvalidInput(msg("A mood is a number from 1 (very low) to 5 (very good)."))
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
    def label(self) -> Msg:
        return msg("the past 7 days") if self is Period.WEEK else msg("the past 30 days")


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
    "dms_closed": N_(
        "**Your check-in reminders are paused.** I couldn't send you a direct message: your DMs from this "
        "server are closed. To get reminders, open them (click the server's name → **Privacy Settings** → "
        "turn on **Direct Messages**), then switch reminders back on with `/checkin reminders time:08:30` "
        "(your time)."
    ),
    "not_in_circle": N_(
        "**Your check-in reminders are paused** because you're no longer in the {circle} circle. "
        "Set them for another circle with `/checkin reminders`."
    ),
    "circle_closed": N_(
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
            msg(
                "“{tag}” can't be a tag: tags are {low} to {high} letters, numbers, spaces or - ' & +, "
                "like “sleep” or “family”.",
                tag=tag[:30],
                low=low,
                high=high,
            )
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
        raise InvalidInput(msg("Give at least one tag, separated by commas, like “sleep, stress, family”."))
    if len(tags) > MAX_CIRCLE_TAGS:
        raise InvalidInput(
            msgs(
                "A circle can have up to {n} tag; that list has {count}.",
                "A circle can have up to {n} tags; that list has {count}.",
                MAX_CIRCLE_TAGS,
                count=len(tags),
            )
        )
    return tuple(tags)


def average(values: list[float] | list[int]) -> float | None:
    return sum(values) / len(values) if values else None
