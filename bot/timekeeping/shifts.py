"""When listener shifts happen, and the hours worked in a period: the rota's time arithmetic.

A shift pattern (a rota *slot*) is weekly (a weekday) or one-off (a local date), with a local start
time and a duration in the slot's zone. Its occurrences are worked out from local wall-clock time,
so daylight-saving changes never move a shift: a 19:00 Europe/London shift is at 19:00 local in
summer and in winter; a local time that doesn't exist is shifted forward by the gap, one that
happens twice takes the first (:mod:`bot.timekeeping.wallclock`).

Pure: the slots, shifts taken and on-call stretches are anything with the fields named by the
protocols below (the rota's stored rows are). The few words at the end (a shift's day and hours)
are in the reader's language, through :class:`bot.i18n.Speaker`: Babel's CLDR forms, and the bot's
English as it has always read ("Tue 24 Mar 19:00–21:00").
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from babel.dates import match_skeleton

from bot.i18n import SOURCE, Speaker, speaker
from bot.timekeeping.wallclock import to_utc
from bot.timekeeping.words import clock_time


class ShiftPattern(Protocol):
    """A rota slot: weekly on ``weekday`` or once on ``local_date``, from ``start_time`` (HH:MM)."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...  # weekly | once
    @property
    def weekday(self) -> int | None: ...
    @property
    def local_date(self) -> str | None: ...
    @property
    def start_time(self) -> str: ...
    @property
    def duration_minutes(self) -> int: ...
    @property
    def timezone(self) -> str: ...


class Worked(Protocol):
    """A shift someone took."""

    @property
    def user_id(self) -> int: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime: ...


class OnCallStretch(Protocol):
    """Time someone was on call outside the rota."""

    @property
    def user_id(self) -> int: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def ended_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True, order=True)
class Occurrence:
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC
    slot_id: int = field(compare=False)
    local_date: date = field(compare=False)
    shifted: bool = field(default=False, compare=False)

    @property
    def key(self) -> str:
        return occurrence_key(self.slot_id, self.local_date)

    @property
    def hours(self) -> float:
        return (self.ends_at - self.starts_at).total_seconds() / 3600


def occurrence_key(slot_id: int, local_date: date) -> str:
    return f"{slot_id}:{local_date.isoformat()}"


def slot_start_time(slot: ShiftPattern) -> time:
    hour, minute = slot.start_time.split(":")
    return time(int(hour), int(minute))


def is_slot_date(slot: ShiftPattern, day: date) -> bool:
    if slot.kind == "once":
        return slot.local_date == day.isoformat()
    return day.weekday() == slot.weekday


def occurrence_on(slot: ShiftPattern, day: date) -> Occurrence | None:
    """The occurrence of ``slot`` on its local date ``day`` (None if the slot doesn't run then)."""
    if not is_slot_date(slot, day):
        return None
    start, shifted = to_utc(day, slot_start_time(slot), slot.timezone)
    return Occurrence(start, start + timedelta(minutes=slot.duration_minutes), slot.id, day, shifted)


def occurrences(slot: ShiftPattern, start: datetime, end: datetime) -> list[Occurrence]:
    """Occurrences of one slot that overlap [start, end), in order."""
    zone = ZoneInfo(slot.timezone)
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    found: list[Occurrence] = []
    if slot.kind == "once":
        assert slot.local_date is not None
        days: Iterable[date] = [date.fromisoformat(slot.local_date)]
    else:
        assert slot.weekday is not None
        offset = (slot.weekday - first.weekday()) % 7
        days = (first + timedelta(days=offset + 7 * k) for k in range(((last - first).days // 7) + 2))
    for day in days:
        occurrence = occurrence_on(slot, day)
        if occurrence is not None and occurrence.starts_at < end and occurrence.ends_at > start:
            found.append(occurrence)
    return sorted(found)


def all_occurrences(slots: Iterable[ShiftPattern], start: datetime, end: datetime) -> list[Occurrence]:
    return sorted(o for slot in slots for o in occurrences(slot, start, end))


def hours_in(
    assignments: Iterable[Worked], oncall: Iterable[OnCallStretch], start: datetime, end: datetime
) -> dict[int, float]:
    """Hours per listener in [start, end): shifts plus on-call time outside shifts (an on-call
    stretch during the listener's own shift isn't counted twice)."""
    spans: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for a in assignments:
        spans[a.user_id].append((max(a.starts_at, start), min(a.ends_at, end)))
    for o in oncall:
        spans[o.user_id].append((max(o.started_at, start), min(o.ended_at, end)))
    result: dict[int, float] = {}
    for user_id, intervals in spans.items():
        total = timedelta(0)
        current: tuple[datetime, datetime] | None = None
        for lo, hi in sorted(i for i in intervals if i[1] > i[0]):
            if current is None or lo > current[1]:
                if current is not None:
                    total += current[1] - current[0]
                current = (lo, hi)
            else:
                current = (current[0], max(current[1], hi))
        if current is not None:
            total += current[1] - current[0]
        result[user_id] = total.total_seconds() / 3600
    return result


# -- words ------------------------------------------------------------------------------

# The bot's English forms (CLDR patterns, as it has always written them); every other language uses
# its own CLDR form for the same fields (a "skeleton").
ENGLISH_DAY = "EEE d MMM"  # Tue 24 Mar
ENGLISH_DAY_AND_YEAR = "EEE d MMM y"  # Sat 28 Mar 2026
ENGLISH_LONG_DAY = "EEEE d MMMM"  # Tuesday 24 March


def _date(day: date, skeleton: str, english: str, t: Speaker, *, wide_weekday: bool = False) -> str:
    if t.language == SOURCE:
        return t.date(day, english)
    skeletons = t.locale.datetime_skeletons
    found = match_skeleton(skeleton, skeletons)
    if found is None:
        return t.date(day, "medium")
    pattern = str(skeletons[found].pattern)
    if wide_weekday:  # CLDR has few skeletons with the full weekday name: widen it ("Di." -> "Dienstag")
        pattern = "".join(
            part if part.startswith("'") else re.sub("E+", "EEEE", part) for part in re.split(r"('[^']*')", pattern)
        )
    return t.date(day, pattern)


def short_day(day: date, t: Speaker | None = None) -> str:
    """ "Tue 24 Mar" (German "Di., 24. März")."""
    return _date(day, "MMMEd", ENGLISH_DAY, t or speaker(SOURCE))


def short_day_and_year(day: date, t: Speaker | None = None) -> str:
    """ "Sat 28 Mar 2026" (German "Sa., 28. März 2026")."""
    return _date(day, "yMMMEd", ENGLISH_DAY_AND_YEAR, t or speaker(SOURCE))


def long_day(day: date, t: Speaker | None = None) -> str:
    """ "Tuesday 24 March" (German "Dienstag, 24. März"), no year."""
    return _date(day, "MMMMEd", ENGLISH_LONG_DAY, t or speaker(SOURCE), wide_weekday=True)


def occurrence_text(occurrence: Occurrence, zone: str, t: Speaker | None = None) -> str:
    """Plain text (for autocomplete lists), in the server's zone: "Tue 17 Mar 19:00–21:00"."""
    t = t or speaker(SOURCE)
    start = occurrence.starts_at.astimezone(ZoneInfo(zone))
    end = occurrence.ends_at.astimezone(ZoneInfo(zone))
    # Translators: one shift in a list to choose from: its day ("Tue 17 Mar") and hours ("19:00", "21:00").
    return t("{day} {start}–{end}", day=short_day(start.date(), t), start=clock_time(start, t), end=clock_time(end, t))
