"""What the rota talks in: its limits and job kinds, who covers which shift (:class:`Coverage`),
what the Discord port renders (:class:`RotaNotice`), and the results a command gets back. Pure."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from bot.errors import InvalidInput
from bot.storage.database import typed_id
from bot.storage.listeners import Assignment, Listener, Slot
from bot.timekeeping.shifts import Occurrence, all_occurrences, slot_start_time
from bot.timekeeping.words import WEEKDAY_NAMES

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


def parse_key(key: str) -> tuple[int, date]:
    match = KEY.match(key.strip())
    slot_id = typed_id(match.group(1)) if match else None
    if match is None or slot_id is None:
        raise InvalidInput("Please pick a shift from the list Discord offers.")
    try:
        return slot_id, date.fromisoformat(match.group(2))
    except ValueError:
        raise InvalidInput("Please pick a shift from the list Discord offers.") from None


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


def describe_slot(slot: Slot) -> str:
    start = slot_start_time(slot)
    end = (datetime.combine(date(2000, 1, 1), start) + timedelta(minutes=slot.duration_minutes)).time()
    times = f"{start.strftime('%H:%M')}–{end.strftime('%H:%M')}"
    label = f" · {slot.label}" if slot.label else ""
    if slot.kind == "once":
        assert slot.local_date is not None
        day = date.fromisoformat(slot.local_date)
        when = f"Once, {day.strftime('%a')} {day.day} {day.strftime('%b %Y')}"
    else:
        assert slot.weekday is not None
        when = f"{WEEKDAY_NAMES[slot.weekday]}s"
    return f"{when} {times} ({slot.timezone}), {slot.needed} needed{label}"


@dataclass(frozen=True, slots=True)
class RotaNotice:
    """Something to tell a listener or the coordinators. The cog renders it; ``params`` hold
    only times, labels, slot descriptions and listener ids (never anything about members)."""

    kind: str
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


def bounded(value: int | None, low: int, high: int, what: str) -> int | None:
    if value is not None and not low <= value <= high:
        raise InvalidInput(f"{what} must be between {low} and {high}.")
    return value


def job_prefix(guild_id: int, assignment_id: int) -> str:
    return f"rota:{guild_id}:shift:{assignment_id}:"
