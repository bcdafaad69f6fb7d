"""Reading the times, days and dates people type in commands: one reader each, for every command.

Times (:func:`parse_time`): "19:00", "19.00", "7:05", "7pm", "7:30 pm", "7 p.m.", "19h", "19h30",
or a bare hour ("9", "19"). Days (:func:`parse_weekdays`): names or their first letters ("mon",
"Tuesday", "thurs", "mo"), separated by commas, spaces, "and", "/", "+" or "&", and the groups
"weekdays", "weekends", "daily", "every day" (or "everyday", "all"). Dates (:func:`parse_date`):
2026-03-17, at most two years ahead. Each refuses what it can't read with an example of what it can.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta

from bot.errors import InvalidInput
from bot.timekeeping.words import EVERY_DAY, MONDAY_TO_FRIDAY, WEEKDAY_NAMES, WEEKEND

# How far ahead a date typed in a command may be. Nobody plans a session or a shift further out, and a
# date near the end of the calendar (9999-12-31) can't have a duration or a horizon added to it.
MAX_DAYS_AHEAD = 2 * 365 + 1
TIME_EXAMPLE = "Write it like 19:00, 7pm or 7:30 pm."
MAX_REMINDERS = 3
MAX_REMINDER_OFFSET = timedelta(days=7)

_TIME = re.compile(
    r"^(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2})|\s?h\s?(?P<h_minute>\d{2})?)?(?:\s*(?P<meridiem>[ap])\.?\s?m\.?)?$",
    re.IGNORECASE,
)
_OFFSET_PART = re.compile(r"(\d+)\s*(d|h|m)", re.IGNORECASE)
_WEEKDAY_KEYS = {name[:2].lower(): index for index, name in enumerate(WEEKDAY_NAMES)}
_DAY_GROUPS = {
    "daily": EVERY_DAY,
    "everyday": EVERY_DAY,
    "all": EVERY_DAY,
    "weekdays": MONDAY_TO_FRIDAY,
    "weekday": MONDAY_TO_FRIDAY,
    "weekends": WEEKEND,
    "weekend": WEEKEND,
}


def parse_date(text: str, *, today: date) -> date:
    """A date typed in a command, like 2026-03-17, at most :data:`MAX_DAYS_AHEAD` days after ``today``."""
    cleaned = text.strip()
    try:
        day = date.fromisoformat(cleaned)
    except ValueError:
        raise InvalidInput(
            f"I couldn't read “{cleaned[:30]}” as a date. Pick one from the list, or type it like 2026-03-17."
        ) from None
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise InvalidInput(f"{day.isoformat()} is too far ahead. Pick a date within the next two years.")
    return day


def parse_time(text: str | None) -> time:
    """A local time of day, on a 24-hour or a 12-hour clock (see the module's docstring)."""
    raw = " ".join((text or "").split())
    if not raw:
        raise InvalidInput(f"Add a time. {TIME_EXAMPLE}")
    match = _TIME.match(raw)
    if match is None:
        raise InvalidInput(f"I couldn't read “{raw[:20]}” as a time. {TIME_EXAMPLE}")
    hour = int(match["hour"])
    minute = int(match["minute"] or match["h_minute"] or 0)
    meridiem = (match["meridiem"] or "").lower()
    if meridiem:
        if not 1 <= hour <= 12:
            raise InvalidInput(
                f"“{raw[:20]}” isn't a time of day: with am or pm, hours go from 1 to 12. {TIME_EXAMPLE}"
            )
        hour = hour % 12 + (12 if meridiem == "p" else 0)
    if hour > 23 or minute > 59:
        raise InvalidInput(
            f"“{raw[:20]}” isn't a time of day: hours go from 00 to 23 and minutes from 00 to 59. {TIME_EXAMPLE}"
        )
    return time(hour, minute)


def _day(word: str) -> int | None:
    """The weekday a word names: a day is known by its first two letters, and any third must match."""
    index = _WEEKDAY_KEYS.get(word[:2])
    if index is None or not WEEKDAY_NAMES[index].lower().startswith(word[:3]):
        return None
    return index


def parse_weekdays(text: str | None) -> frozenset[int]:
    """Days of the week (0 = Monday) from "mon, wed", "monday wednesday", "weekdays", "every day"...

    Nothing typed (or only separators) is no days: each command then uses its own default.
    """
    raw = " ".join((text or "").strip().lower().split()).replace("every day", "everyday")
    chosen: set[int] = set()
    for word in re.split(r"[\s,;/+&]+|\band\b", raw):
        word = word.strip(" .")
        if not word:
            continue
        if word in _DAY_GROUPS:
            chosen |= _DAY_GROUPS[word]
            continue
        day = _day(word)
        if day is None:
            raise InvalidInput(
                f"I don't know the day “{word[:20]}”. Name each day of the week, like “mon, wed” or “Tuesday”, "
                "or write “weekdays”, “weekends” or “every day”."
            )
        chosen.add(day)
    return frozenset(chosen)


def parse_offsets(text: str) -> tuple[int, ...]:
    """Reminder offsets in minutes, largest first: "24h, 15m" → (1440, 15); "none" → ()."""
    cleaned = text.strip().lower()
    if cleaned in ("", "none", "no", "off", "0"):
        return ()
    minutes: set[int] = set()
    for token in re.split(r"[,;]+|\band\b", cleaned):
        token = token.strip()
        if not token:
            continue
        parts = _OFFSET_PART.findall(token)
        if not parts or _OFFSET_PART.sub("", token).strip():
            raise InvalidInput(
                f"I couldn't read the reminder “{token[:20]}”. Write times before the session like “24h, 15m” "
                "(d = days, h = hours, m = minutes), or “none”."
            )
        total = sum(int(n) * {"d": 1440, "h": 60, "m": 1}[unit.lower()] for n, unit in parts)
        if not 1 <= total <= MAX_REMINDER_OFFSET.total_seconds() // 60:
            raise InvalidInput("Each reminder must be between 1 minute and 7 days before the session.")
        minutes.add(total)
    if len(minutes) > MAX_REMINDERS:
        raise InvalidInput(f"At most {MAX_REMINDERS} reminders per session, please.")
    return tuple(sorted(minutes, reverse=True))
