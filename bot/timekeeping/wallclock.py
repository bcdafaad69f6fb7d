"""Local wall-clock time and UTC: the instant a clock in some zone shows a given time.

Every rule the bot keeps (a session at 19:00, a reminder at 08:30 on weekdays, a listener shift)
is a local wall-clock time in an IANA zone, turned into a UTC instant each time it is needed, so a
daylight-saving change never moves it. Two edge cases, the same everywhere:
    * **A local time that doesn't exist** (the clocks jump forward over it, e.g. 01:30 on the
      night London moves from GMT to BST) is **shifted forward by the length of the gap**: 01:30
      becomes 02:30 BST. This is what :pep:`495` gives for ``fold=0``.
    * **A local time that happens twice** (the clocks go back) takes **the first** of the two.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def tz(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def wall_time_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant when clocks in ``zone`` show ``at`` on ``day``.

    When the time happens twice (clocks go back), the first one. When it doesn't happen (clocks go
    forward through it), the same distance past the gap: 02:30 on a spring-forward night is 03:30.
    """
    return datetime.combine(day, at).replace(tzinfo=zone, fold=0).astimezone(UTC)


def to_utc(day: date, at: time, zone: str) -> tuple[datetime, bool]:
    """A local wall-clock date and time as a UTC instant, and whether it fell in a gap.

    ``fold=0``: an ambiguous time takes its first occurrence; a nonexistent one is read with the
    offset from before the gap, which lands it the length of the gap later on the wall clock.
    """
    local = datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=tz(zone))
    instant = local.astimezone(UTC)
    back = instant.astimezone(tz(zone))
    shifted = (back.date(), back.time().replace(fold=0)) != (day, at.replace(fold=0))
    return instant, shifted


def next_wall_time(after: datetime, at: time, weekdays: Iterable[int | str], zone: ZoneInfo) -> datetime:
    """The first instant strictly after ``after`` when it is ``at`` on one of ``weekdays`` in ``zone``.

    ``weekdays`` are 0 (Monday) to 6 (Sunday), as numbers or as the digits of a string ("01234").
    """
    days = {int(d) for d in weekdays}
    if not days or not days <= set(range(7)):
        raise ValueError("weekdays must name at least one day, 0 (Monday) to 6 (Sunday)")
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    start = after.astimezone(zone).date() - timedelta(days=1)
    for offset in range(10):
        day = start + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        candidate = wall_time_instant(day, at, zone)
        if candidate > after:
            return candidate
    raise AssertionError("unreachable: a week always holds one of the chosen days")


def week_bounds(moment: datetime, zone: str) -> tuple[datetime, datetime]:
    """The local week (Monday 00:00 to the next Monday 00:00) holding ``moment``, as UTC instants.
    Across a daylight-saving change a week is an hour shorter or longer."""
    local = moment.astimezone(ZoneInfo(zone)).date()
    monday = local - timedelta(days=local.weekday())
    start, _ = to_utc(monday, time(0, 0), zone)
    end, _ = to_utc(monday + timedelta(days=7), time(0, 0), zone)
    return start, end
