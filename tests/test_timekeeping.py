"""bot/timekeeping: the one reader of typed times and days every command uses, wall-clock time
across clock changes (property-based with hypothesis), and the Discord markup helpers."""

from __future__ import annotations

import contextvars
import itertools
import string
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.errors import InvalidInput
from bot.i18n import set_typing_language
from bot.timekeeping.markup import message_link, stamp
from bot.timekeeping.parsing import parse_time, parse_weekdays
from bot.timekeeping.wallclock import next_wall_time, wall_time_instant
from bot.timekeeping.words import EVERY_DAY, WEEKDAY_NAMES, describe_days, weekday_digits

# -- typed times ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("08:30", time(8, 30)),
        ("7:05", time(7, 5)),
        ("23:59", time(23, 59)),
        (" 00:00 ", time(0, 0)),
        ("19.00", time(19)),
    ],
)
def test_times_that_parse(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("25:00", "hours go from 00 to 23"),
        ("12:60", "minutes from 00 to 59"),
        ("noon", "couldn't read “noon” as a time"),
        ("", "Add a time"),
        ("0830", "couldn't read “0830” as a time"),
    ],
)
def test_times_that_dont_parse_get_an_example(text: str, hint: str) -> None:
    with pytest.raises(InvalidInput, match=hint):
        parse_time(text)


@given(st.integers(0, 23), st.integers(0, 59))
def test_every_valid_time_round_trips(hour: int, minute: int) -> None:
    assert parse_time(f"{hour:02d}:{minute:02d}") == time(hour, minute)


# The spellings every command accepts (/checkin reminders, /checkin prompt, /session schedule and its
# edits, /rota add), each with the time it means.
SPELLINGS = [
    ("19:00", time(19)),
    ("7pm", time(19)),
    ("7 PM", time(19)),
    ("7 p.m.", time(19)),
    ("7:30 pm", time(19, 30)),
    ("7:30pm", time(19, 30)),
    ("19h", time(19)),
    ("19h30", time(19, 30)),
    ("19 h", time(19)),
    ("19.30", time(19, 30)),
    ("9", time(9)),
    ("12am", time(0)),
    ("12 pm", time(12)),
    ("  7:05  ", time(7, 5)),
]


@pytest.mark.parametrize(("text", "expected"), SPELLINGS)
def test_every_spelling_of_a_time(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("13pm", "with am or pm, hours go from 1 to 12"),
        ("0am", "with am or pm, hours go from 1 to 12"),
        ("24:00", "hours go from 00 to 23"),
        ("7:75", "minutes from 00 to 59"),
        ("19h5", "couldn't read “19h5” as a time"),
        ("quarter past", "couldn't read “quarter past” as a time"),
        ("7pmm", "couldn't read"),
        ("   ", "Add a time"),
    ],
)
def test_a_time_that_cant_be_read_says_how_to_write_one(text: str, hint: str) -> None:
    with pytest.raises(InvalidInput, match=hint) as refused:
        parse_time(text)
    assert "like 19:00, 7pm or 7:30 pm" in str(refused.value)


@given(st.integers(0, 23), st.integers(0, 59), st.sampled_from(["", " "]))
def test_a_time_reads_the_same_on_either_clock(hour: int, minute: int, gap: str) -> None:
    at = time(hour, minute)
    twelve = hour % 12 or 12
    meridiem = "am" if hour < 12 else "pm"
    spellings = [
        f"{hour:02d}:{minute:02d}",
        f"{hour}:{minute:02d}",
        f"{hour}.{minute:02d}",
        f"{hour}h{minute:02d}",
        f"{twelve}:{minute:02d}{gap}{meridiem}",
        f"{twelve}:{minute:02d}{gap}{meridiem.upper()}",
    ]
    if minute == 0:
        spellings += [f"{hour}", f"{hour}h", f"{twelve}{gap}{meridiem}", f"{twelve}{gap}{meridiem[0]}.m."]
    for text in spellings:
        assert parse_time(text) == at, text


@given(st.text(alphabet=string.digits + string.ascii_letters + " :.h", max_size=12))
def test_any_text_is_a_time_of_day_or_a_calm_refusal(text: str) -> None:
    try:
        at = parse_time(text)
    except InvalidInput as refused:
        assert "like 19:00" in str(refused)
    else:
        assert 0 <= at.hour <= 23 and 0 <= at.minute <= 59


# -- typed days -------------------------------------------------------------------------------


def test_weekdays() -> None:
    assert parse_weekdays(None) == frozenset() and parse_weekdays("Every day") == EVERY_DAY
    assert parse_weekdays("weekdays") == frozenset(range(5)) and parse_weekdays("weekends") == {5, 6}
    assert parse_weekdays("mon, wed and FRI") == {0, 2, 4}
    assert parse_weekdays("sunday monday") == {0, 6}
    assert describe_days("024") == "on Mondays, Wednesdays and Fridays"
    assert describe_days("01234") == "on weekdays"
    with pytest.raises(InvalidInput, match="I don't know the day “someday”"):
        parse_weekdays("mon, someday")


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("weekdays", "01234"),
        ("weekends", "56"),
        ("daily", "0123456"),
        ("every day", "0123456"),
        ("Every  Day", "0123456"),
        ("mon,wed", "02"),
        ("monday wednesday", "02"),
        ("Mon, Thu", "03"),
        ("tuesday and Sunday", "16"),
        ("tues/thurs", "13"),
        ("mo tu we", "012"),
        ("Mondays + Fridays", "04"),
        ("weds.", "2"),
        ("weekdays, sat", "012345"),
        (" , ", ""),
    ],
)
def test_every_way_of_naming_days(text: str, days: str) -> None:
    assert weekday_digits(parse_weekdays(text)) == days


@pytest.mark.parametrize("text", ["Funday", "mon, someday", "t", "every", "monday 7pm"])
def test_a_day_that_cant_be_read_is_named_in_the_refusal(text: str) -> None:
    with pytest.raises(InvalidInput, match="I don't know the day") as refused:
        parse_weekdays(text)
    assert "day of the week" in str(refused.value) and "weekdays" in str(refused.value)


NAMINGS = [
    lambda d: WEEKDAY_NAMES[d],
    lambda d: WEEKDAY_NAMES[d].lower()[:3],
    lambda d: WEEKDAY_NAMES[d].upper()[:2],
    lambda d: WEEKDAY_NAMES[d] + "s",
]


@given(
    st.sets(st.integers(0, 6), min_size=1),
    st.lists(st.sampled_from(range(len(NAMINGS))), min_size=7, max_size=7),
    st.sampled_from([", ", ",", " ", " and ", " / ", " + ", "; "]),
)
def test_any_days_named_any_way_read_back(days: set[int], namings: list[int], separator: str) -> None:
    text = separator.join(NAMINGS[namings[d]](d) for d in sorted(days))
    assert parse_weekdays(text) == days


# -- wall-clock rules -------------------------------------------------------------------------

LONDON = ZoneInfo("Europe/London")


def test_next_occurrence_across_london_clock_changes() -> None:
    at = time(8, 30)
    # Saturday 28 March 2026 is GMT; Sunday 29 March is BST (clocks forward at 01:00 UTC).
    assert next_wall_time(datetime(2026, 3, 27, 12, tzinfo=UTC), at, EVERY_DAY, LONDON) == datetime(
        2026, 3, 28, 8, 30, tzinfo=UTC
    )
    assert next_wall_time(datetime(2026, 3, 28, 8, 30, tzinfo=UTC), at, EVERY_DAY, LONDON) == datetime(
        2026, 3, 29, 7, 30, tzinfo=UTC
    )
    # Autumn: Sunday 25 October 2026 back to GMT.
    assert next_wall_time(datetime(2026, 10, 24, 7, 30, tzinfo=UTC), at, EVERY_DAY, LONDON) == datetime(
        2026, 10, 25, 8, 30, tzinfo=UTC
    )


def test_a_time_in_the_spring_gap_moves_forward_and_a_doubled_time_fires_once() -> None:
    # 01:30 doesn't exist in London on 29 March 2026: it happens at 02:30 BST (01:30 UTC).
    gap = next_wall_time(datetime(2026, 3, 28, 12, tzinfo=UTC), time(1, 30), EVERY_DAY, LONDON)
    assert gap == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert gap.astimezone(LONDON).hour == 2
    # 01:30 happens twice on 25 October 2026: the first (BST, 00:30 UTC), then the next day.
    first = next_wall_time(datetime(2026, 10, 24, 12, tzinfo=UTC), time(1, 30), EVERY_DAY, LONDON)
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert next_wall_time(first, time(1, 30), EVERY_DAY, LONDON) == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)


def test_weekly_days_in_new_york_and_sydney() -> None:
    ny = ZoneInfo("America/New_York")  # DST starts Sunday 8 March 2026
    friday = datetime(2026, 3, 6, 23, tzinfo=UTC)
    assert next_wall_time(friday, time(9), "0", ny) == datetime(2026, 3, 9, 13, tzinfo=UTC)
    sydney = ZoneInfo("Australia/Sydney")  # DST ends Sunday 5 April 2026
    assert next_wall_time(datetime(2026, 4, 4, 0, tzinfo=UTC), time(7), "6", sydney) == datetime(
        2026, 4, 4, 21, tzinfo=UTC
    )


ZONES = [
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",
    "America/St_Johns",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "Asia/Tehran",
    "Africa/Casablanca",
]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone_name=st.sampled_from(ZONES),
    after=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 1, 15, 30, 45, 59]),
    days=st.sets(st.integers(0, 6), min_size=1),
)
def test_next_occurrence_properties(zone_name: str, after: datetime, hour: int, minute: int, days: set[int]) -> None:
    zone = ZoneInfo(zone_name)
    at = time(hour, minute)
    digits = "".join(str(d) for d in sorted(days))
    result = next_wall_time(after, at, digits, zone)
    assert result.tzinfo is not None and result > after
    assert result - after <= timedelta(days=7, hours=3)
    local = result.astimezone(zone)
    exists = wall_time_instant(local.date(), at, zone).astimezone(zone).time() == at
    if exists:
        # It is exactly the chosen wall-clock time on a chosen day.
        assert (local.hour, local.minute) == (hour, minute)
        assert local.weekday() in days
    # No chosen day between `after` and the result was skipped.
    day = after.astimezone(zone).date() - timedelta(days=1)
    while day < local.date():
        if day.weekday() in days:
            assert wall_time_instant(day, at, zone) <= after
        day += timedelta(days=1)
    # Firing at the result and asking again moves on to a later day (never the same day twice).
    following = next_wall_time(result, at, digits, zone)
    assert following.astimezone(zone).date() > local.date()


@settings(max_examples=25)
@given(zone_name=st.sampled_from(ZONES), year=st.integers(2020, 2035), hour=st.integers(0, 23))
def test_a_daily_rule_fires_once_per_local_day_through_a_whole_year(zone_name: str, year: int, hour: int) -> None:
    zone = ZoneInfo(zone_name)
    moment = datetime(year, 1, 1, tzinfo=zone).astimezone(UTC)
    seen: list[date] = []
    for _ in range(370):
        moment = next_wall_time(moment, time(hour, 30), EVERY_DAY, zone)
        seen.append(moment.astimezone(zone).date())
    assume(len(seen) > 1)
    assert all(b > a for a, b in itertools.pairwise(seen))
    assert len(set(seen)) == len(seen)


# -- Discord markup ---------------------------------------------------------------------------


def test_a_discord_timestamp_and_a_message_link() -> None:
    moment = datetime(2026, 3, 27, 12, tzinfo=UTC)
    assert stamp(moment) == "<t:1774612800:F>" and stamp(moment, "R") == "<t:1774612800:R>"
    assert message_link(1, 2, 3) == "https://discord.com/channels/1/2/3"
    assert message_link(1, 2) == "https://discord.com/channels/1/2"


# -- days typed in another language ----------------------------------------------------------


def read_days_as(writer: str | None, text: str) -> frozenset[int]:
    """Read ``text`` as a person whose Discord is set to ``writer`` would have it read."""

    def run() -> frozenset[int]:
        set_typing_language(writer)
        return parse_weekdays(text)

    return contextvars.copy_context().run(run)


@pytest.mark.parametrize(
    ("writer", "text", "days"),
    [
        ("de", "Mittwoch und Freitag", "24"),
        ("de", "Mo, Mi", "02"),
        ("de", "Do", "3"),
        ("de", "Wochenende", "56"),
        ("es", "mié y vie", "24"),
        ("es", "do", "6"),
        ("es", "sábados", "5"),
        ("es", "fin de semana", "56"),
        ("fr", "jeudi et samedi", "35"),
        ("fr", "lundis", "0"),
        ("fr", "di", "6"),
        ("pt_BR", "qua e sex", "24"),
        ("pt_BR", "segunda-feira", "0"),
        ("pt_BR", "fim de semana", "56"),
        (None, "Mittwoch", "2"),
        ("de", "mon, wed", "02"),  # English always reads
    ],
)
def test_days_typed_in_each_shipped_language(writer: str | None, text: str, days: str) -> None:
    assert weekday_digits(read_days_as(writer, text)) == days


@pytest.mark.parametrize(("writer", "text"), [(None, "do"), ("fr", "do"), ("en", "di")])
def test_a_day_two_languages_read_differently_is_asked_about(writer: str | None, text: str) -> None:
    with pytest.raises(InvalidInput, match="more than one day"):
        read_days_as(writer, text)


def test_a_german_time_reads() -> None:
    assert parse_time("19 Uhr") == time(19, 0)
