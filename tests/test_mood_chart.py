"""The mood chart: a real PNG of the right size, gaps kept as gaps, a 7-day average, no global
matplotlib state touched, and a description in words."""

from __future__ import annotations

import asyncio
import io
import struct
import sys
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import matplotlib
from matplotlib import image

from bot.services.checkins.models import History
from bot.services.mood_chart import (
    BLUE,
    DPI,
    SIZE_INCHES,
    VERMILLION,
    describe_history,
    render_mood_chart,
    rolling_average,
)

END = date(2026, 4, 1)
START = END - timedelta(days=29)


def size_of(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def sample() -> dict[date, float]:
    return {START + timedelta(days=i): float(1 + i % 5) for i in range(30) if i % 4 and not 10 <= i <= 14}


def test_the_chart_is_a_png_of_the_documented_size() -> None:
    png = render_mood_chart(sample(), START, END, title="Your mood, last 30 days")
    expected = (round(SIZE_INCHES[0] * DPI), round(SIZE_INCHES[1] * DPI))
    assert size_of(png) == expected == (1200, 675)
    pixels = image.imread(io.BytesIO(png), format="png")
    assert pixels.shape[:2] == (675, 1200)


def _colour_present(png: bytes, hex_colour: str) -> bool:
    pixels = image.imread(io.BytesIO(png), format="png")
    target = tuple(int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    rgb = pixels[..., :3]
    close = (
        (abs(rgb[..., 0] - target[0]) < 0.02)
        & (abs(rgb[..., 1] - target[1]) < 0.02)
        & (abs(rgb[..., 2] - target[2]) < 0.02)
    )
    return bool(close.sum() > 50)


def test_both_series_are_drawn_in_colour_blind_safe_colours() -> None:
    png = render_mood_chart(sample(), START, END, title="Your mood")
    assert _colour_present(png, BLUE) and _colour_present(png, VERMILLION)


def test_an_empty_or_single_day_history_still_draws() -> None:
    assert size_of(render_mood_chart({}, START, END, title="Nothing yet")) == (1200, 675)
    assert size_of(render_mood_chart({END: 3.0}, END - timedelta(days=89), END, title="One day")) == (1200, 675)


def test_gaps_stay_gaps_in_the_seven_day_average() -> None:
    daily = {START: 2.0, START + timedelta(days=1): 4.0, START + timedelta(days=20): 5.0}
    average = rolling_average(daily, START, END)
    assert average[0] == 2.0 and average[1] == 3.0 and average[6] == 3.0
    assert average[7] == 4.0, "the window has moved past the first day"
    assert all(v is None for v in average[8:20]), "a week with no check-in is a gap, not a guess"
    assert average[20] == 5.0 and average[26] == 5.0 and average[27] is None
    assert len(average) == 30


def test_it_uses_no_pyplot_and_leaves_global_state_alone() -> None:
    had_pyplot = "matplotlib.pyplot" in sys.modules
    backend = matplotlib.get_backend() if had_pyplot else None
    params = matplotlib.rcParams.copy()  # (reading "backend" through [] would itself import pyplot)
    render_mood_chart(sample(), START, END, title="Your mood")
    assert matplotlib.rcParams.copy() == params
    if not had_pyplot:
        assert "matplotlib.pyplot" not in sys.modules
    else:
        assert matplotlib.get_backend() == backend


async def test_it_can_render_in_worker_threads_at_once() -> None:
    charts = await asyncio.gather(
        *(asyncio.to_thread(render_mood_chart, sample(), START, END, title=f"Chart {i}") for i in range(4))
    )
    assert all(size_of(png) == (1200, 675) for png in charts)


def history(**changes: Any) -> History:
    """A month of check-ins, with ``changes`` (History's own fields) replaced."""
    base = History(
        start=START,
        end=END,
        days=30,
        zone="Europe/London",
        daily=sample(),
        checkins=18,
        days_checked_in=15,
        average=3.24,
        last_week=3.6,
        week_before=2.9,
        streak=2,
        lowest=(1, date(2026, 3, 12)),
        highest=(5, date(2026, 3, 30)),
    )
    return replace(base, **changes)


def test_the_description_says_what_the_chart_shows() -> None:
    text = describe_history(history())
    assert text == (
        "Line chart of your mood from 3 Mar to 1 Apr 2026 (Europe/London time): 18 check-ins on 15 days, "
        "with gaps for the 15 days without one. Average 3.2 out of 5. Last 7 days 3.6, up from 2.9 the "
        "week before. Lowest 1 (very low) on 12 Mar; highest 5 (very good) on 30 Mar."
    )
    assert "down from 3.9" in describe_history(history(week_before=3.9))
    assert "about the same" in describe_history(history(week_before=3.6))
    assert describe_history(history(checkins=0, days_checked_in=0)) == "No check-ins from 3 Mar to 1 Apr 2026."
    every_day = describe_history(history(checkins=30, days_checked_in=30, week_before=None))
    assert "one every day" in every_day and "week before" not in every_day
    assert len(describe_history(history())) <= 1024, "fits Discord's alt text"
    single = describe_history(history(checkins=1, days_checked_in=1, lowest=(4, END), highest=(4, END)))
    assert "1 check-in on 1 day" in single and "Every check-in was 4 (good)." in single
