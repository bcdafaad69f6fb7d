"""Times and days in the words a person reads: "on weekdays", "Monday and Thursday",
"19:00 on Tuesday 3 March 2026 (Europe/London)", "24 hours", in the reader's language.

Every function that writes words takes ``t``, the reader's :class:`bot.i18n.Speaker` (English when
not given). Weekday and month names, the clock, lists ("Monday and Friday") and units ("2 days")
come from Babel's CLDR data; the few phrases around them come from the catalogues. The bot's
English is British and reads exactly as it always has: a 24-hour clock, the day before the month,
no comma before "and".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time

from babel import Locale
from babel.dates import format_skeleton
from babel.lists import format_list
from babel.units import format_unit

from bot.i18n import N_, SOURCE, Speaker, speaker
from bot.timekeeping.wallclock import tz

# English (parsing.py reads typed day names against these; people read t.weekday(i)).
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EVERY_DAY = frozenset(range(7))
MONDAY_TO_FRIDAY = frozenset(range(5))
WEEKEND = frozenset({5, 6})

# The bot's English forms (CLDR patterns); every other language uses its own CLDR forms.
ENGLISH_CLOCK = "HH:mm"
ENGLISH_DAY_AND_DATE = "EEEE d MMMM y"
ENGLISH_SHORT_DATE = "EEE dd MMM y"
ENGLISH_SHORT_DAY = "EEE dd MMM"
ENGLISH_LISTS = Locale.parse("en_GB")

# Translators: one weekday, said of every such day ("Mondays" in "on Mondays and Fridays"); {weekday} is
# its name ("Monday"). E.g. "los {weekday}", "le {weekday}", "jeden {weekday}".
EVERY_WEEKDAY = N_("{weekday}s")


def weekday_set(days: Iterable[int | str]) -> frozenset[int]:
    """Days as numbers (0 = Monday), from numbers or from the digits of a stored string ("024")."""
    return frozenset(int(d) for d in days)


def weekday_digits(days: Iterable[int | str]) -> str:
    """Days as the digits stored for them, in order: {4, 0, 2} -> "024"."""
    return "".join(str(d) for d in sorted(weekday_set(days)))


def format_time(at: time) -> str:
    """The stored form of a time of day ("19:00"), never shown translated."""
    return f"{at.hour:02d}:{at.minute:02d}"


def _reader(t: Speaker | None) -> Speaker:
    return t if t is not None else speaker(SOURCE)


def _english(t: Speaker) -> bool:
    return t.language == SOURCE


def and_list(items: Sequence[str], t: Speaker | None = None) -> str:
    """ "Monday", "Monday and Thursday", "Monday, Wednesday and Friday" in the reader's language."""
    t = _reader(t)
    return format_list(list(items), locale=ENGLISH_LISTS if _english(t) else t.locale)


def clock_time(at: time | datetime, t: Speaker | None = None) -> str:
    """A wall-clock time as the reader's language writes it ("19:00"; "19:00" in German too).
    An aware datetime is shown in its own zone: convert it first."""
    t = _reader(t)
    return t.time(at, ENGLISH_CLOCK if _english(t) else "short")


def weekday_list(days: Iterable[int | str], t: Speaker | None = None) -> str:
    """ "Monday and Thursday" (the names of the chosen days)."""
    t = _reader(t)
    return and_list([t.weekday(d) for d in sorted(weekday_set(days))], t)


def describe_days(days: Iterable[int | str], t: Speaker | None = None) -> str:
    """ "every day", "on weekdays", "at weekends", or "on Mondays, Wednesdays and Fridays"."""
    t = _reader(t)
    chosen = weekday_set(days)
    if chosen == EVERY_DAY:
        return t("every day")
    if chosen == MONDAY_TO_FRIDAY:
        return t("on weekdays")
    if chosen == WEEKEND:
        return t("at weekends")
    names = [t(EVERY_WEEKDAY, weekday=t.weekday(d)) for d in sorted(chosen)]
    return t("on {days}", days=and_list(names, t))


def day_and_date(day: date, t: Speaker | None = None) -> str:
    """ "Tuesday 3 March 2026" (German "Dienstag, 3. März 2026")."""
    t = _reader(t)
    return t.date(day, ENGLISH_DAY_AND_DATE if _english(t) else "full")


def short_date(day: date, t: Speaker | None = None, *, year: bool = True) -> str:
    """ "Tue 03 Mar 2026", or "Tue 03 Mar" without the year (German "Di., 3. März 2026"), for
    suggestions and lists."""
    t = _reader(t)
    if _english(t):
        return t.date(day, ENGLISH_SHORT_DATE if year else ENGLISH_SHORT_DAY)
    return str(format_skeleton("yMMMEd" if year else "MMMEd", day, locale=t.locale))


def local_phrase(moment: datetime, zone: str, t: Speaker | None = None) -> str:
    """E.g. "19:00 on Tuesday 3 March 2026 (Europe/London)"."""
    t = _reader(t)
    local = moment.astimezone(tz(zone))
    return t(
        "{time} on {date} ({zone})",
        time=clock_time(local, t),
        date=day_and_date(local.date(), t),
        zone=zone,
    )


def _unit(value: int, unit: str, t: Speaker) -> str:
    return str(format_unit(value, unit, length="long", locale=t.locale))


def offset_label(minutes: int, t: Speaker | None = None) -> str:
    """1440 → "24 hours", 15 → "15 minutes", 90 → "1 hour 30 minutes", 2880 → "2 days"."""
    t = _reader(t)
    if minutes % 1440 == 0 and minutes >= 2880:
        return _unit(minutes // 1440, "duration-day", t)
    hours, mins = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(_unit(hours, "duration-hour", t))
    if mins:
        parts.append(_unit(mins, "duration-minute", t))
    return format_list(parts, style="unit-narrow", locale=ENGLISH_LISTS if _english(t) else t.locale)


def offsets_text(offsets: tuple[int, ...], t: Speaker | None = None) -> str:
    """ "24 hours, 15 minutes before", or "no reminders"."""
    t = _reader(t)
    if not offsets:
        return t("no reminders")
    return t("{offsets} before", offsets=", ".join(offset_label(m, t) for m in offsets))
