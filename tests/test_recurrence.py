"""Recurrence rules: local wall-clock time across DST in several zones, month ends, the missing
5th weekday, and skipping or moving single occurrences (property-based with hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.errors import InvalidInput
from bot.timekeeping.parsing import parse_date, parse_offsets, parse_time, parse_weekdays
from bot.timekeeping.recurrence import (
    LAST,
    Change,
    Kind,
    Occurrence,
    Rule,
    describe,
    is_rule_date,
    nth_weekday,
    occurrence_on,
    occurrences,
    rule_dates,
)
from bot.timekeeping.wallclock import to_utc
from bot.timekeeping.words import offset_label

ZONES = ["Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

zones = st.sampled_from(ZONES)
days = st.dates(min_value=date(2024, 1, 1), max_value=date(2031, 12, 31))
times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
durations = st.sampled_from([timedelta(minutes=m) for m in (15, 45, 60, 90, 150)])
weekday_sets = st.frozensets(st.integers(0, 6), min_size=1, max_size=7)
month_weeks = st.sampled_from([1, 2, 3, 4, 5, LAST])


def weekly_rules() -> st.SearchStrategy[Rule]:
    return st.builds(
        Rule,
        start_date=days,
        start_time=times,
        zone=zones,
        duration=durations,
        kind=st.just(Kind.WEEKLY),
        weekdays=weekday_sets,
        interval=st.integers(1, 4),
    )


def monthly_rules() -> st.SearchStrategy[Rule]:
    return st.builds(
        Rule,
        start_date=days,
        start_time=times,
        zone=zones,
        duration=durations,
        kind=st.just(Kind.MONTHLY),
        month_week=month_weeks,
        month_weekday=st.integers(0, 6),
    )


def exists(day: date, at: time, zone: str) -> bool:
    """Whether this local wall-clock time happens at all (it doesn't in a spring-forward gap)."""
    local = datetime.combine(day, at, tzinfo=ZoneInfo(zone))
    return local.astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None) == local.replace(tzinfo=None)


def check_wall_clock(rule: Rule, found: list[Occurrence]) -> None:
    for occurrence in found:
        local = occurrence.starts_at.astimezone(ZoneInfo(rule.zone))
        assert occurrence.local_start == local
        assert local.date() == occurrence.original_date
        if exists(occurrence.original_date, rule.start_time, rule.zone):
            assert not occurrence.shifted
            assert local.time() == rule.start_time, "local wall-clock time is kept"
            # Ambiguous times take the first of the two instants (fold=0).
            later = datetime.combine(occurrence.original_date, rule.start_time, tzinfo=ZoneInfo(rule.zone))
            assert occurrence.starts_at <= later.replace(fold=1).astimezone(UTC)
        else:
            # A time in a spring-forward gap is shifted forward by the length of the gap.
            assert occurrence.shifted
            naive = datetime.combine(occurrence.original_date, rule.start_time)
            before = ZoneInfo(rule.zone).utcoffset(naive.replace(fold=0))
            after = local.utcoffset()
            assert before is not None and after is not None
            assert local.replace(tzinfo=None) - naive == after - before > timedelta(0)
        assert occurrence.ends_at - occurrence.starts_at == rule.duration


@settings(max_examples=150, deadline=None)
@given(rule=weekly_rules(), offset=st.integers(-30, 400))
def test_weekly_occurrences_increase_keep_wall_clock_and_land_on_the_chosen_weekdays(rule: Rule, offset: int) -> None:
    after = datetime.combine(rule.start_date, time(12), tzinfo=UTC) + timedelta(days=offset)
    found = occurrences(rule, after=after, count=25)
    assert len(found) == 25
    starts = [o.starts_at for o in found]
    assert starts == sorted(starts) and len(set(starts)) == len(starts), "strictly increasing"
    assert all(s > after for s in starts)
    anchor = rule.start_date - timedelta(days=rule.start_date.weekday())
    for occurrence in found:
        assert occurrence.original_date.weekday() in rule.weekdays
        assert occurrence.original_date >= rule.start_date
        assert ((occurrence.original_date - anchor).days // 7) % rule.interval == 0
    check_wall_clock(rule, found)
    # Nothing is left out between two consecutive occurrences.
    dates = [o.original_date for o in found]
    expected = list(rule_dates(rule, dates[0]))[: len(dates)]
    assert dates == expected


@settings(max_examples=150, deadline=None)
@given(rule=monthly_rules())
def test_monthly_on_the_nth_weekday_skips_months_without_one(rule: Rule) -> None:
    after = datetime.combine(rule.start_date, time(0), tzinfo=UTC) - timedelta(days=2)
    found = occurrences(rule, after=after, count=24)
    starts = [o.starts_at for o in found]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert rule.month_weekday is not None and rule.month_week is not None
    for occurrence in found:
        day = occurrence.original_date
        assert day.weekday() == rule.month_weekday
        assert day >= rule.start_date
        if rule.month_week == LAST:
            assert (day + timedelta(days=7)).month != day.month, "the last one of its month"
        else:
            assert (day.day - 1) // 7 + 1 == rule.month_week
    check_wall_clock(rule, found)
    # Every month in the covered span that has the weekday is present; the others are skipped.
    months = {(o.original_date.year, o.original_date.month) for o in found}
    year, month = rule.start_date.year, rule.start_date.month
    last = found[-1].original_date
    while (year, month) <= (last.year, last.month):
        wanted = nth_weekday(year, month, rule.month_weekday, rule.month_week)
        in_range = (
            wanted is not None and wanted >= rule.start_date and to_utc(wanted, rule.start_time, rule.zone)[0] > after
        )
        assert ((year, month) in months) == in_range
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


@settings(max_examples=100, deadline=None)
@given(rule=st.one_of(weekly_rules(), monthly_rules()), pick=st.integers(0, 9), data=st.data())
def test_skipping_or_moving_one_occurrence_leaves_the_rest(rule: Rule, pick: int, data: st.DataObject) -> None:
    after = datetime.combine(rule.start_date, time(0), tzinfo=UTC) - timedelta(days=2)
    base = occurrences(rule, after=after, count=12)
    target = base[pick]
    skipped = occurrences(
        rule, after=after, count=11, changes={target.original_date: Change(target.original_date, skip=True)}
    )
    assert skipped == [o for o in base if o.original_date != target.original_date][:11]
    assert (
        occurrence_on(rule, target.original_date, {target.original_date: Change(target.original_date, skip=True)})
        is None
    )

    new_time = data.draw(times)
    shift = data.draw(st.integers(-3, 3))
    new_duration = data.draw(durations)
    change = Change(
        target.original_date,
        new_date=target.original_date + timedelta(days=shift),
        new_time=new_time,
        new_duration=new_duration,
    )
    expected_start, _ = to_utc(target.original_date + timedelta(days=shift), new_time, rule.zone)
    horizon = max(base[-1].starts_at, expected_start) + timedelta(days=1)
    moved = occurrences(rule, after=after, until=horizon, changes={target.original_date: change})
    assert [o.starts_at for o in moved] == sorted(o.starts_at for o in moved)
    mine = [o for o in moved if o.original_date == target.original_date]
    if expected_start > after:
        assert len(mine) == 1 and mine[0].changed
        assert mine[0].starts_at == expected_start
        assert mine[0].ends_at - mine[0].starts_at == new_duration
    else:
        assert mine == []
    unchanged = occurrences(rule, after=after, until=horizon)
    assert [o for o in moved if o.original_date != target.original_date] == [
        o for o in unchanged if o.original_date != target.original_date
    ]


@settings(max_examples=60, deadline=None)
@given(zone=zones, day=days, at=times)
def test_a_once_rule_has_exactly_one_occurrence(zone: str, day: date, at: time) -> None:
    rule = Rule(day, at, zone, timedelta(hours=1))
    found = occurrences(rule, after=EPOCH, count=5)
    assert len(found) == 1 and found[0].original_date == day
    assert occurrences(rule, after=found[0].starts_at, count=5) == []
    check_wall_clock(rule, found)


@given(zone=zones, day=days, at=times)
def test_to_utc_round_trips_unless_the_time_does_not_exist(zone: str, day: date, at: time) -> None:
    instant, shifted = to_utc(day, at, zone)
    assume(not shifted)
    back = instant.astimezone(ZoneInfo(zone))
    assert (back.date(), back.time()) == (day, at)


# -- the documented examples -------------------------------------------------------------------


def test_a_london_evening_stays_at_1900_local_in_summer_and_winter() -> None:
    rule = Rule(date(2026, 3, 17), time(19), "Europe/London", timedelta(hours=1), Kind.WEEKLY, frozenset({1}))
    found = occurrences(rule, after=datetime(2026, 3, 16, tzinfo=UTC), count=3)
    # 17 and 24 March are GMT; 31 March is after the clocks went forward (29 March): BST.
    assert [o.starts_at for o in found] == [
        datetime(2026, 3, 17, 19, tzinfo=UTC),
        datetime(2026, 3, 24, 19, tzinfo=UTC),
        datetime(2026, 3, 31, 18, tzinfo=UTC),
    ]
    autumn = occurrences(rule, after=datetime(2026, 10, 20, tzinfo=UTC), count=2)
    assert [o.starts_at.hour for o in autumn] == [18, 19]  # 20 Oct BST, 27 Oct GMT


@pytest.mark.parametrize(
    ("zone", "day", "at", "utc", "local_after"),
    [
        # Spring forward: the local time doesn't exist; it moves forward by the gap.
        ("Europe/London", date(2026, 3, 29), time(1, 30), datetime(2026, 3, 29, 1, 30, tzinfo=UTC), time(2, 30)),
        ("America/New_York", date(2026, 3, 8), time(2, 30), datetime(2026, 3, 8, 7, 30, tzinfo=UTC), time(3, 30)),
        ("Australia/Sydney", date(2026, 10, 4), time(2, 15), datetime(2026, 10, 3, 16, 15, tzinfo=UTC), time(3, 15)),
    ],
)
def test_a_time_in_the_spring_forward_gap_is_shifted_by_the_gap(
    zone: str, day: date, at: time, utc: datetime, local_after: time
) -> None:
    instant, shifted = to_utc(day, at, zone)
    assert shifted and instant == utc
    assert instant.astimezone(ZoneInfo(zone)).time() == local_after


@pytest.mark.parametrize(
    ("zone", "day", "at", "first"),
    [
        ("Europe/London", date(2026, 10, 25), time(1, 30), datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        ("America/New_York", date(2026, 11, 1), time(1, 30), datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        ("Australia/Sydney", date(2026, 4, 5), time(2, 30), datetime(2026, 4, 4, 15, 30, tzinfo=UTC)),
    ],
)
def test_an_ambiguous_time_takes_the_first_of_the_two(zone: str, day: date, at: time, first: datetime) -> None:
    instant, shifted = to_utc(day, at, zone)
    assert not shifted and instant == first


def test_kolkata_has_no_dst_and_half_hour_offsets() -> None:
    rule = Rule(date(2026, 1, 5), time(20), "Asia/Kolkata", timedelta(hours=1), Kind.WEEKLY, frozenset({0}))
    found = occurrences(rule, after=datetime(2026, 1, 1, tzinfo=UTC), count=52)
    assert {(o.starts_at.hour, o.starts_at.minute) for o in found} == {(14, 30)}


def test_monthly_on_the_5th_tuesday_happens_only_in_months_that_have_one() -> None:
    rule = Rule(
        date(2026, 1, 1), time(19), "Europe/London", timedelta(hours=1), Kind.MONTHLY, month_week=5, month_weekday=1
    )
    found = occurrences(rule, after=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2027, 1, 1, tzinfo=UTC))
    assert [o.original_date for o in found] == [
        date(2026, 3, 31),
        date(2026, 6, 30),
        date(2026, 9, 29),
        date(2026, 12, 29),
    ]
    assert "only in months that have one" in describe(rule)


def test_month_ends_last_weekday_and_february() -> None:
    rule = Rule(
        date(2026, 1, 1),
        time(18),
        "America/New_York",
        timedelta(hours=1),
        Kind.MONTHLY,
        month_week=LAST,
        month_weekday=4,
    )
    found = occurrences(rule, after=datetime(2026, 1, 1, tzinfo=UTC), count=3)
    assert [o.original_date for o in found] == [date(2026, 1, 30), date(2026, 2, 27), date(2026, 3, 27)]
    leap = Rule(
        date(2028, 2, 1), time(9), "Asia/Kolkata", timedelta(hours=1), Kind.MONTHLY, month_week=5, month_weekday=1
    )
    assert occurrences(leap, after=datetime(2028, 1, 1, tzinfo=UTC), count=1)[0].original_date == date(2028, 2, 29)


def test_every_two_weeks_on_two_days_and_first_day_not_chosen() -> None:
    # 2026-03-04 is a Wednesday; Monday and Thursday every 2 weeks: Thu 5, Mon 16, Thu 19, Mon 30.
    rule = Rule(date(2026, 3, 4), time(19), "Europe/London", timedelta(hours=1), Kind.WEEKLY, frozenset({0, 3}), 2)
    found = occurrences(rule, after=datetime(2026, 3, 1, tzinfo=UTC), count=4)
    assert [o.original_date for o in found] == [
        date(2026, 3, 5),
        date(2026, 3, 16),
        date(2026, 3, 19),
        date(2026, 3, 30),
    ]
    assert not is_rule_date(rule, date(2026, 3, 9))
    assert describe(rule) == "Every 2 weeks on Monday and Thursday at 19:00 (Europe/London)"


def test_rules_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        Rule(date(2026, 1, 1), time(19), "Mars/Base", timedelta(hours=1))
    with pytest.raises(ValueError):
        Rule(date(2026, 1, 1), time(19), "UTC", timedelta(hours=1), Kind.WEEKLY)
    with pytest.raises(ValueError):
        Rule(date(2026, 1, 1), time(19), "UTC", timedelta(hours=1), Kind.MONTHLY, month_week=6, month_weekday=1)
    with pytest.raises(ValueError):
        Rule(date(2026, 1, 1), time(19), "UTC", timedelta(hours=13))
    with pytest.raises(ValueError):
        occurrences(Rule(date(2026, 1, 1), time(19), "UTC", timedelta(hours=1)), after=datetime(2026, 1, 1))


# -- what people type ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("19:00", time(19)),
        ("7pm", time(19)),
        ("7:30 pm", time(19, 30)),
        ("12am", time(0)),
        ("12 PM", time(12)),
        ("09.15", time(9, 15)),
        ("9", time(9)),
        ("19h30", time(19, 30)),
    ],
)
def test_parse_time(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["25:00", "7:75", "13pm", "noonish", ""])
def test_parse_time_refuses_with_a_hint(text: str) -> None:
    with pytest.raises(InvalidInput, match="like 19:00"):
        parse_time(text)


def test_a_typed_date_is_refused_when_it_is_unreadable_or_more_than_two_years_ahead() -> None:
    today = date(2026, 3, 23)
    assert parse_date(" 2026-03-24 ", today=today) == date(2026, 3, 24)
    assert parse_date("2028-03-23", today=today) == date(2028, 3, 23)
    for far in ("2028-03-25", "9999-12-31"):  # the end of the calendar can't have a duration added
        with pytest.raises(InvalidInput, match="too far ahead"):
            parse_date(far, today=today)
    with pytest.raises(InvalidInput, match="as a date"):
        parse_date("31/12/2026", today=today)


def test_parse_weekdays_and_offsets() -> None:
    assert parse_weekdays("Mon, thu") == frozenset({0, 3})
    assert parse_weekdays("tuesday and Sunday") == frozenset({1, 6})
    with pytest.raises(InvalidInput, match="day of the week"):
        parse_weekdays("Mon, Funday")
    assert parse_offsets("24h, 15m") == (1440, 15)
    assert parse_offsets("1d 2h; 30m") == (1560, 30)
    assert parse_offsets("none") == ()
    with pytest.raises(InvalidInput):
        parse_offsets("soon")
    with pytest.raises(InvalidInput, match="At most 3"):
        parse_offsets("1m, 2m, 3m, 4m")
    with pytest.raises(InvalidInput, match="between 1 minute and 7 days"):
        parse_offsets("8d")
    assert [offset_label(m) for m in (1440, 15, 90, 2880)] == ["24 hours", "15 minutes", "1 hour 30 minutes", "2 days"]
