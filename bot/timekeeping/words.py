"""Times and days in the words a person reads: "on weekdays", "Monday and Thursday",
"19:00 on Tuesday 3 March 2026 (Europe/London)"."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

from bot.timekeeping.wallclock import tz

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EVERY_DAY = frozenset(range(7))
MONDAY_TO_FRIDAY = frozenset(range(5))
WEEKEND = frozenset({5, 6})


def weekday_set(days: Iterable[int | str]) -> frozenset[int]:
    """Days as numbers (0 = Monday), from numbers or from the digits of a stored string ("024")."""
    return frozenset(int(d) for d in days)


def weekday_digits(days: Iterable[int | str]) -> str:
    """Days as the digits stored for them, in order: {4, 0, 2} -> "024"."""
    return "".join(str(d) for d in sorted(weekday_set(days)))


def format_time(at: time) -> str:
    return f"{at.hour:02d}:{at.minute:02d}"


def weekday_list(days: Iterable[int | str]) -> str:
    names = [WEEKDAY_NAMES[d] for d in sorted(weekday_set(days))]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def describe_days(days: Iterable[int | str]) -> str:
    """ "every day", "on weekdays", "at weekends", or "on Mondays, Wednesdays and Fridays"."""
    chosen = weekday_set(days)
    if chosen == EVERY_DAY:
        return "every day"
    if chosen == MONDAY_TO_FRIDAY:
        return "on weekdays"
    if chosen == WEEKEND:
        return "at weekends"
    names = [WEEKDAY_NAMES[d] + "s" for d in sorted(chosen)]
    return "on " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])


def long_date(day: date) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


def local_phrase(moment: datetime, zone: str) -> str:
    """E.g. "19:00 on Tuesday 3 March 2026 (Europe/London)"."""
    local = moment.astimezone(tz(zone))
    return f"{local.strftime('%H:%M')} on {local.strftime('%A')} {long_date(local.date())} ({zone})"


def offset_label(minutes: int) -> str:
    """1440 → "24 hours", 15 → "15 minutes", 90 → "1 hour 30 minutes"."""
    if minutes % 1440 == 0 and minutes >= 2880:
        days = minutes // 1440
        return f"{days} days"
    hours, mins = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if mins:
        parts.append(f"{mins} minute{'s' if mins != 1 else ''}")
    return " ".join(parts)


def offsets_text(offsets: tuple[int, ...]) -> str:
    return ", ".join(offset_label(m) for m in offsets) + " before" if offsets else "no reminders"
