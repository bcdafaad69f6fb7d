"""What the rota talks in: its limits and job kinds, who covers which shift (:class:`Coverage`),
what the Discord port renders (:class:`RotaNotice`), and the results a command gets back. Pure.

Words for people are :class:`bot.i18n.Msg` (rendered in the reader's language by the Discord
layer); :func:`describe_slot` writes a shift pattern in the words of the ``Speaker`` it is given."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from bot.errors import InvalidInput
from bot.i18n import N_, SOURCE, Msg, Speaker, msg, speaker
from bot.storage.database import typed_id
from bot.storage.listeners import Assignment, Listener, Slot
from bot.timekeeping.shifts import Occurrence, all_occurrences, short_day_and_year, slot_start_time
from bot.timekeeping.words import EVERY_WEEKDAY, clock_time

log = logging.getLogger(__name__)

BOARD_DAYS = 14
UNCOVERED_NOTICE = timedelta(hours=48)
MAX_AVAILABLE_HOURS = 12
DURATION_MINUTES = (30, 720)
NEEDED_RANGE = (1, 20)
KEY = re.compile(r"^(\d+):(\d{4}-\d{2}-\d{2})$")

REMINDER_JOB = "rota.reminder"
SHIFT_START_JOB = "rota.shift_start"
SHIFT_END_JOB = "rota.shift_end"
COVERAGE_JOB = "rota.coverage"
DAILY_JOB = "rota.daily"
ONCALL_END_JOB = "rota.oncall_end"
JOB_KINDS = (REMINDER_JOB, SHIFT_START_JOB, SHIFT_END_JOB, COVERAGE_JOB, DAILY_JOB, ONCALL_END_JOB)

# What only coordinators can do, after "Only ... the coordinator role can" (see AccessService).
CHANGE_ROTA = N_("change the rota")
POST_BOARD = N_("post the rota board")
SEE_REPORT = N_("see the rota report")
CHANGE_SUPPORT_SETTINGS = N_("change the listener and support settings")
APPROVE_LISTENERS = N_("approve listeners")


def parse_key(key: str) -> tuple[int, date]:
    match = KEY.match(key.strip())
    slot_id = typed_id(match.group(1)) if match else None
    if match is None or slot_id is None:
        raise InvalidInput(msg("Please pick a shift from the list Discord offers."))
    try:
        return slot_id, date.fromisoformat(match.group(2))
    except ValueError:
        raise InvalidInput(msg("Please pick a shift from the list Discord offers.")) from None


@dataclass(frozen=True, slots=True)
class Coverage:
    occurrence: Occurrence
    slot: Slot
    listeners: tuple[int, ...]

    @property
    def filled(self) -> int:
        return len(self.listeners)

    @property
    def needed(self) -> int:
        return self.slot.needed

    @property
    def full(self) -> bool:
        return self.filled >= self.needed


def coverage(
    slots: Iterable[Slot], assignments: Iterable[Assignment], start: datetime, end: datetime
) -> list[Coverage]:
    by_key: dict[str, list[int]] = defaultdict(list)
    for assignment in assignments:
        by_key[f"{assignment.slot_id}:{assignment.occurrence}"].append(assignment.user_id)
    slot_list = list(slots)
    by_id = {s.id: s for s in slot_list}
    return [Coverage(o, by_id[o.slot_id], tuple(by_key.get(o.key, ()))) for o in all_occurrences(slot_list, start, end)]


def describe_slot(slot: Slot, t: Speaker | None = None) -> str:
    """A shift pattern in ``t``'s words (English when not given):
    "Tuesdays 19:00–21:00 (Europe/London), 2 needed · Evening"."""
    t = t or speaker(SOURCE)
    start = slot_start_time(slot)
    end = (datetime.combine(date(2000, 1, 1), start) + timedelta(minutes=slot.duration_minutes)).time()
    if slot.kind == "once":
        assert slot.local_date is not None
        when = t("Once, {date}", date=short_day_and_year(date.fromisoformat(slot.local_date), t))
    else:
        assert slot.weekday is not None
        when = t(EVERY_WEEKDAY, weekday=t.weekday(slot.weekday))
    text = t.n(
        "{when} {start}–{end} ({zone}), {n} needed",
        "{when} {start}–{end} ({zone}), {n} needed",
        slot.needed,
        when=when,
        start=clock_time(start, t),
        end=clock_time(end, t),
        zone=slot.timezone,
    )
    return f"{text} · {slot.label}" if slot.label else text


@dataclass(frozen=True, slots=True)
class RotaNotice:
    """Something to tell a listener or the coordinators of a server. The cog renders it in its
    reader's language (a listener's DM: the language they last used there; an alert: the server's);
    ``params`` hold only times, numbers, slots and listener ids (never anything about members)."""

    kind: str
    guild_id: int
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JoinOutcome:
    listener: Listener
    approved: bool
    coordinators_told: bool


@dataclass(frozen=True, slots=True)
class BoardDay:
    day: date
    rows: list[Coverage]


@dataclass(frozen=True, slots=True)
class Mine:
    listener: Listener
    shifts: list[tuple[Assignment, Slot | None]]
    on_shift_until: datetime | None
    hours_this_week: float
    planned_this_week: float
    conversations: int
    break_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReportRow:
    user_id: int
    hours: float
    shifts: int
    conversations: int
    heavy: int


@dataclass(frozen=True, slots=True)
class Report:
    start: datetime
    end: datetime
    occurrences: int
    covered: int
    partly: int
    uncovered: int
    rows: list[ReportRow]
    requests: int
    answered: int
    feedback: list[int]

    @property
    def coverage_percent(self) -> int:
        return round(100 * self.covered / self.occurrences) if self.occurrences else 100


def bounded(value: int | None, low: int, high: int, what: Msg) -> int | None:
    """``value`` if it is within [low, high]; ``what`` names it in the error ("The offer timeout")."""
    if value is not None and not low <= value <= high:
        raise InvalidInput(msg("{what} must be between {low} and {high}.", what=what, low=low, high=high))
    return value


def job_prefix(guild_id: int, assignment_id: int) -> str:
    return f"rota:{guild_id}:shift:{assignment_id}:"
