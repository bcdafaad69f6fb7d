"""When a circle's sessions happen: recurrence rules on local wall-clock time, turned into UTC.

Pure: no Discord, no database. A :class:`Rule` is what a facilitator chose (first local date,
local start time, IANA time zone, duration, and a kind); :func:`occurrences` lists the instants.

Kinds
    * ``once``: one session on the first date.
    * ``weekly``: on the chosen weekdays, every ``interval`` weeks (1 = every week). Weeks are
      counted from the Monday of the week holding the first date, so "every 2 weeks on Monday and
      Thursday" keeps both days in the same week. The first session is the first chosen weekday
      on or after the first date.
    * ``monthly``: on the Nth weekday of each month (N = 1..5, or ``LAST``), e.g. the 2nd Tuesday
      or the last Friday. **A month without an Nth weekday is skipped**: "monthly on the 5th
      Tuesday" happens only in months that have five Tuesdays (four or five times a year); it is
      never moved to the 4th or into the next month. Choose "last" to meet every month.

Local wall-clock time is kept across daylight-saving changes: a 19:00 Europe/London session is at
19:00 local in summer (18:00 UTC) and in winter (19:00 UTC). Two edge cases, by rule (the same
for every local time the bot keeps: :mod:`bot.timekeeping.wallclock`):
    * **A local time that doesn't exist** (the clocks jump forward over it, e.g. 01:30 on the
      night London moves from GMT to BST) is **shifted forward by the length of the gap**: 01:30
      becomes 02:30 BST. This is what :pep:`495` gives for ``fold=0``; the occurrence is marked
      ``shifted``. The next week is back at 01:30.
    * **A local time that happens twice** (the clocks go back, e.g. 01:30 on the night London
      moves from BST to GMT) takes **the first** of the two (``fold=0``, 01:30 BST).

Single occurrences can be skipped or moved (:class:`Change`, keyed by the occurrence's original
local date); the rest of the series is unaffected.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from bot.i18n import N_, SOURCE, Speaker, speaker
from bot.timekeeping.wallclock import to_utc, tz
from bot.timekeeping.words import clock_time, day_and_date, weekday_list

LAST = -1
# No series looks further ahead than this (a bound on every search, so nothing loops forever).
HORIZON_YEARS = 10
DURATION_RANGE = (timedelta(minutes=10), timedelta(hours=12))
INTERVAL_RANGE = (1, 12)


class Kind(StrEnum):
    ONCE = "once"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True, slots=True)
class Rule:
    start_date: date
    start_time: time
    zone: str
    duration: timedelta
    kind: Kind = Kind.ONCE
    weekdays: frozenset[int] = frozenset()  # weekly: 0 = Monday ... 6 = Sunday
    interval: int = 1  # weekly: every N weeks
    month_week: int | None = None  # monthly: 1..5 or LAST
    month_weekday: int | None = None  # monthly: 0 = Monday ... 6 = Sunday

    def __post_init__(self) -> None:
        tz(self.zone)
        if self.start_time.tzinfo is not None:
            raise ValueError("start_time is a local wall-clock time (no tzinfo)")
        low, high = DURATION_RANGE
        if not low <= self.duration <= high:
            raise ValueError(f"duration must be between {low} and {high}")
        if self.kind is Kind.WEEKLY:
            if not self.weekdays or not all(0 <= d <= 6 for d in self.weekdays):
                raise ValueError("a weekly rule needs weekdays in 0..6")
            if not INTERVAL_RANGE[0] <= self.interval <= INTERVAL_RANGE[1]:
                raise ValueError(f"interval must be in {INTERVAL_RANGE}")
        if self.kind is Kind.MONTHLY:
            if self.month_week not in (1, 2, 3, 4, 5, LAST):
                raise ValueError("month_week must be 1..5 or LAST")
            if self.month_weekday is None or not 0 <= self.month_weekday <= 6:
                raise ValueError("month_weekday must be in 0..6")


@dataclass(frozen=True, slots=True)
class Change:
    """An exception for one occurrence, found by its original local date."""

    original_date: date
    skip: bool = False
    new_date: date | None = None
    new_time: time | None = None
    new_duration: timedelta | None = None

    @property
    def moves(self) -> bool:
        return not self.skip and (self.new_date is not None or self.new_time is not None)


@dataclass(frozen=True, slots=True, order=True)
class Occurrence:
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC
    original_date: date = field(compare=False)
    local_start: datetime = field(compare=False)  # aware, in the rule's zone
    shifted: bool = field(default=False, compare=False)  # the local time didn't exist: moved by the gap
    changed: bool = field(default=False, compare=False)  # moved or resized by a Change


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date | None:
    """The nth (1..5) or last (LAST) given weekday of a month, or None if there isn't one."""
    first = date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    days = [first + timedelta(days=offset + 7 * k) for k in range(5)]
    days = [d for d in days if d.month == month]
    if n == LAST:
        return days[-1]
    return days[n - 1] if 1 <= n <= len(days) else None


def week_of_month(day: date) -> int:
    """Which occurrence of its weekday ``day`` is in its month (1..5)."""
    return (day.day - 1) // 7 + 1


def is_last_of_month(day: date) -> bool:
    return (day + timedelta(days=7)).month != day.month


def rule_dates(rule: Rule, from_date: date | None = None) -> Iterator[date]:
    """The rule's local dates in order, starting on or after ``from_date`` (and the first date)."""
    begin = max(rule.start_date, from_date or rule.start_date)
    stop = rule.start_date.replace(year=rule.start_date.year + HORIZON_YEARS, day=min(rule.start_date.day, 28))
    if rule.kind is Kind.ONCE:
        if rule.start_date >= begin:
            yield rule.start_date
        return
    if rule.kind is Kind.WEEKLY:
        anchor = rule.start_date - timedelta(days=rule.start_date.weekday())
        week = max(0, (begin - anchor).days // 7)
        week -= week % rule.interval
        days = sorted(rule.weekdays)
        while True:
            monday = anchor + timedelta(weeks=week)
            if monday > stop:
                return
            for weekday in days:
                day = monday + timedelta(days=weekday)
                if day >= begin:
                    yield day
            week += rule.interval
    assert rule.month_week is not None and rule.month_weekday is not None
    year, month = begin.year, begin.month
    while date(year, month, 1) <= stop:
        found = nth_weekday(year, month, rule.month_weekday, rule.month_week)
        if found is not None and found >= begin:
            yield found
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def is_rule_date(rule: Rule, day: date) -> bool:
    return next(rule_dates(rule, day), None) == day


def _occurrence(rule: Rule, original: date, change: Change | None) -> Occurrence:
    day = change.new_date if change and change.new_date else original
    at = change.new_time if change and change.new_time else rule.start_time
    duration = change.new_duration if change and change.new_duration else rule.duration
    start, shifted = to_utc(day, at, rule.zone)
    return Occurrence(
        starts_at=start,
        ends_at=start + duration,
        original_date=original,
        local_start=start.astimezone(tz(rule.zone)),
        shifted=shifted,
        changed=change is not None and not change.skip,
    )


def occurrences(
    rule: Rule,
    *,
    after: datetime,
    count: int | None = None,
    until: datetime | None = None,
    changes: Mapping[date, Change] | None = None,
) -> list[Occurrence]:
    """Occurrences starting strictly after ``after``, in start order, at most ``count`` of them
    and (if given) starting before ``until``. Skipped ones are left out; moved ones appear at
    their new time. At least one of ``count`` and ``until`` must be given."""
    if after.tzinfo is None or (until is not None and until.tzinfo is None):
        raise ValueError("after and until must be timezone-aware")
    if count is None and until is None:
        raise ValueError("give count or until")
    changes = changes or {}
    found: list[Occurrence] = []
    # Moved occurrences can land anywhere: consider each of them on its own.
    for change in changes.values():
        if change.skip or not is_rule_date(rule, change.original_date):
            continue
        found.append(_occurrence(rule, change.original_date, change))
    # Rule dates from a day before ``after`` in local time (an occurrence's local date can be
    # behind the UTC date).
    local_after = after.astimezone(tz(rule.zone)).date() - timedelta(days=1)
    regular: list[Occurrence] = []
    for day in rule_dates(rule, local_after):
        if day in changes:
            continue
        occurrence = _occurrence(rule, day, None)
        if until is not None and occurrence.starts_at >= until:
            break
        if occurrence.starts_at <= after:
            continue
        regular.append(occurrence)
        if count is not None and len(regular) >= count:
            break
    found.extend(regular)
    result = sorted(o for o in found if o.starts_at > after and (until is None or o.starts_at < until))
    return result[:count] if count is not None else result


def occurrence_on(rule: Rule, original: date, changes: Mapping[date, Change] | None = None) -> Occurrence | None:
    """The occurrence whose original local date is ``original`` (None if not a rule date or skipped)."""
    if not is_rule_date(rule, original):
        return None
    change = (changes or {}).get(original)
    if change is not None and change.skip:
        return None
    return _occurrence(rule, original, change)


# -- words ------------------------------------------------------------------------------

# Translators: {weekday} is a weekday's name ("Tuesday"), {time} a time of day, {zone} a time zone.
MONTHLY = {
    1: N_("Monthly on the 1st {weekday} at {time} ({zone})"),
    2: N_("Monthly on the 2nd {weekday} at {time} ({zone})"),
    3: N_("Monthly on the 3rd {weekday} at {time} ({zone})"),
    4: N_("Monthly on the 4th {weekday} at {time} ({zone})"),
    5: N_("Monthly on the 5th {weekday} at {time} ({zone}) (only in months that have one)"),
    LAST: N_("Monthly on the last {weekday} at {time} ({zone})"),
}


def describe(rule: Rule, t: Speaker | None = None) -> str:
    """One line a person reads, e.g. "Every 2 weeks on Monday and Thursday at 19:00 (Europe/London)",
    in ``t``'s language (English when not given)."""
    t = t if t is not None else speaker(SOURCE)
    at = clock_time(rule.start_time, t)
    if rule.kind is Kind.ONCE:
        return t("Once, on {date} at {time} ({zone})", date=day_and_date(rule.start_date, t), time=at, zone=rule.zone)
    if rule.kind is Kind.WEEKLY:
        return t.n(
            "Every week on {days} at {time} ({zone})",
            "Every {n} weeks on {days} at {time} ({zone})",
            rule.interval,
            days=weekday_list(rule.weekdays, t),
            time=at,
            zone=rule.zone,
        )
    assert rule.month_week is not None and rule.month_weekday is not None
    return t(MONTHLY[rule.month_week], weekday=t.weekday(rule.month_weekday), time=at, zone=rule.zone)
