"""A member's mood history as an accessible PNG chart, and a text description of it.

Drawn with matplotlib's object API on an Agg canvas created inside the function: no pyplot, no
global backend switch, no shared figure state, so it is safe to call from a worker thread.

Accessibility: large type, the Okabe-Ito colour-blind-safe palette, and the two series differ in
line style and markers too (solid with dots for each day, dashed for the 7-day average), labelled
axes with the mood words, days without a check-in drawn as gaps (never joined or filled in), and a
plain-text description (:func:`describe_history`) to send with the image as its alt text.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from datetime import date, timedelta

from bot.services.checkins.models import MOODS, History

BLUE = "#0072B2"  # Okabe-Ito blue: each day's mood
VERMILLION = "#D55E00"  # Okabe-Ito vermillion: the 7-day average
GRID = "#BBBBBB"
INK = "#222222"
SIZE_INCHES = (12.0, 6.75)
DPI = 100  # 1200 x 675 pixels


def _short(day: date) -> str:
    return f"{day.day} {day.strftime('%b')}"


def rolling_average(daily: Mapping[date, float], start: date, end: date, window: int = 7) -> list[float | None]:
    """For each day from start to end, the mean of the daily values in the ``window`` days ending
    that day; None where that window holds no check-in at all (a gap stays a gap)."""
    result: list[float | None] = []
    day = start
    while day <= end:
        values = [daily[d] for d in (day - timedelta(days=i) for i in range(window)) if d in daily]
        result.append(sum(values) / len(values) if values else None)
        day += timedelta(days=1)
    return result


def render_mood_chart(daily: Mapping[date, float], start: date, end: date, *, title: str) -> bytes:
    """PNG bytes: each day's mood (average if several check-ins) and the 7-day average."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    days = (end - start).days + 1
    dates = [start + timedelta(days=i) for i in range(days)]
    nan = math.nan
    values = [daily.get(d, nan) for d in dates]
    average = [nan if v is None else v for v in rolling_average(daily, start, end)]
    xs = list(range(days))

    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained", facecolor="white")
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_facecolor("white")
    axes.plot(xs, average, color=VERMILLION, linestyle=(0, (6, 3)), linewidth=3.5, zorder=2)
    axes.plot(
        xs,
        values,
        color=BLUE,
        linestyle="-",
        linewidth=2.5,
        marker="o",
        markersize=8 if days <= 31 else 6,
        markeredgecolor="white",
        markeredgewidth=1.2,
        zorder=3,
    )

    axes.set_title(title, fontsize=22, color=INK, loc="left", pad=14)
    axes.set_ylim(0.6, 5.4)
    axes.set_yticks([m.value for m in MOODS])
    axes.set_yticklabels([f"{m.value}  {m.word}" for m in MOODS], fontsize=15, color=INK)
    axes.set_ylabel("Mood", fontsize=17, color=INK, labelpad=10)
    step = 7 if days <= 31 else 14
    ticks = list(range(days - 1, -1, -step))[::-1]
    axes.set_xticks(ticks)
    axes.set_xticklabels([_short(dates[i]) for i in ticks], fontsize=15, color=INK)
    axes.set_xlim(-0.8, days - 0.2)
    axes.set_xlabel("Day (a gap in the line is a day without a check-in)", fontsize=16, color=INK, labelpad=8)
    axes.grid(axis="y", color=GRID, linewidth=1, alpha=0.7)
    axes.tick_params(length=0, pad=8)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        axes.spines[side].set_color(GRID)

    handles = [
        Line2D(
            [], [], color=BLUE, linewidth=2.5, marker="o", markersize=8, label="Your mood each day (average of the day)"
        ),
        Line2D([], [], color=VERMILLION, linestyle=(0, (6, 3)), linewidth=3.5, label="7-day average"),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False, fontsize=15)

    buffer = io.BytesIO()
    canvas.print_png(buffer)
    return buffer.getvalue()


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def describe_history(history: History) -> str:
    """The chart in words (its alt text), for people who can't see the image."""
    span = f"from {_short(history.start)} to {_short(history.end)} {history.end.year}"
    if history.checkins == 0:
        return f"No check-ins {span}."
    gaps = history.days - history.days_checked_in
    checkins = "1 check-in" if history.checkins == 1 else f"{history.checkins} check-ins"
    on_days = "1 day" if history.days_checked_in == 1 else f"{history.days_checked_in} days"
    parts = [
        f"Line chart of your mood {span} ({history.zone} time): {checkins} on {on_days}"
        + (f", with gaps for the {gaps} days without one." if gaps else ", one every day."),
    ]
    if history.average is not None:
        parts.append(f"Average {_fmt(history.average)} out of 5.")
    if history.last_week is not None:
        change = ""
        if history.week_before is not None:
            delta = history.last_week - history.week_before
            change = (
                f", up from {_fmt(history.week_before)} the week before"
                if delta >= 0.05
                else f", down from {_fmt(history.week_before)} the week before"
                if delta <= -0.05
                else ", about the same as the week before"
            )
        parts.append(f"Last 7 days {_fmt(history.last_week)}{change}.")
    if history.lowest and history.highest:
        low, low_day = history.lowest
        high, high_day = history.highest
        if low == high:
            parts.append(f"Every check-in was {low} ({MOODS[low - 1].word.lower()}).")
        else:
            parts.append(
                f"Lowest {low} ({MOODS[low - 1].word.lower()}) on {_short(low_day)}; "
                f"highest {high} ({MOODS[high - 1].word.lower()}) on {_short(high_day)}."
            )
    return " ".join(parts)[:1000]
