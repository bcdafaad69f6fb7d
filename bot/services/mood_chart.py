"""A member's mood history as an accessible PNG chart, and a text description of it.

Drawn with matplotlib's object API on an Agg canvas created inside the function: no pyplot, no
global backend switch, no shared figure state, so it is safe to call from a worker thread.

Accessibility: large type, the Okabe-Ito colour-blind-safe palette, and the two series differ in
line style and markers too (solid with dots for each day, dashed for the 7-day average), labelled
axes with the mood words, days without a check-in drawn as gaps (never joined or filled in), and a
plain-text description (:func:`describe_history`) to send with the image as its alt text.

Both in the reader's language (``t``, English when not given): the words from the catalogues, the
dates and numbers from CLDR through Babel.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal

from babel import dates as babel_dates
from babel import numbers as babel_numbers

from bot.i18n import SOURCE, Speaker, speaker
from bot.services.checkins.models import MOODS, History

BLUE = "#0072B2"  # Okabe-Ito blue: each day's mood
VERMILLION = "#D55E00"  # Okabe-Ito vermillion: the 7-day average
GRID = "#BBBBBB"
INK = "#222222"
SIZE_INCHES = (12.0, 6.75)
DPI = 100  # 1200 x 675 pixels


# The bot's English forms (CLDR patterns, as bot.timekeeping.words writes English); every other
# language uses its own CLDR forms.
ENGLISH_DAY_MONTH = "d MMM"
ENGLISH_DAY_MONTH_YEAR = "d MMM y"


def day_month(day: date, t: Speaker) -> str:
    """A day without its year, as the reader's language writes it: "3 Mar", "3. März"."""
    if t.language == SOURCE:
        return t.date(day, ENGLISH_DAY_MONTH)
    return str(babel_dates.format_skeleton("MMMd", day, locale=t.locale))


def day_month_year(day: date, t: Speaker) -> str:
    """ "1 Apr 2026", "1. Apr. 2026"."""
    if t.language == SOURCE:
        return t.date(day, ENGLISH_DAY_MONTH_YEAR)
    return str(babel_dates.format_skeleton("yMMMd", day, locale=t.locale))


def one_decimal(value: float, t: Speaker) -> str:
    """An average with one decimal, rounded as Python rounds it, written the reader's way: "3.5", "3,5"."""
    return str(babel_numbers.format_decimal(Decimal(f"{value:.1f}"), "0.0", locale=t.locale))


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


def render_mood_chart(
    daily: Mapping[date, float], start: date, end: date, *, title: str, t: Speaker | None = None
) -> bytes:
    """PNG bytes: each day's mood (average if several check-ins) and the 7-day average, labelled in
    ``t``'s language (``title`` comes already written in it)."""
    t = t or speaker(SOURCE)
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
    axes.set_yticklabels([f"{m.value}  {t(m.word)}" for m in MOODS], fontsize=15, color=INK)
    axes.set_ylabel(t("Mood"), fontsize=17, color=INK, labelpad=10)
    step = 7 if days <= 31 else 14
    ticks = list(range(days - 1, -1, -step))[::-1]
    axes.set_xticks(ticks)
    axes.set_xticklabels([day_month(dates[i], t) for i in ticks], fontsize=15, color=INK)
    axes.set_xlim(-0.8, days - 0.2)
    axes.set_xlabel(t("Day (a gap in the line is a day without a check-in)"), fontsize=16, color=INK, labelpad=8)
    axes.grid(axis="y", color=GRID, linewidth=1, alpha=0.7)
    axes.tick_params(length=0, pad=8)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        axes.spines[side].set_color(GRID)

    handles = [
        Line2D(
            [],
            [],
            color=BLUE,
            linewidth=2.5,
            marker="o",
            markersize=8,
            label=t("Your mood each day (average of the day)"),
        ),
        Line2D([], [], color=VERMILLION, linestyle=(0, (6, 3)), linewidth=3.5, label=t("7-day average")),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False, fontsize=15)

    buffer = io.BytesIO()
    canvas.print_png(buffer)
    return buffer.getvalue()


def describe_history(history: History, *, t: Speaker | None = None) -> str:
    """The chart in words (its alt text), for people who can't see the image, in ``t``'s language."""
    t = t or speaker(SOURCE)
    start, end = day_month(history.start, t), day_month_year(history.end, t)
    if history.checkins == 0:
        return t("No check-ins from {start} to {end}.", start=start, end=end)
    gaps = history.days - history.days_checked_in
    counts = {
        "start": start,
        "end": end,
        "zone": history.zone,
        "checkins": t.n("{n} check-in", "{n} check-ins", history.checkins),
        "days": t.n("{n} day", "{n} days", history.days_checked_in),
    }
    parts = [
        t.n(
            "Line chart of your mood from {start} to {end} ({zone} time): {checkins} on {days}, "
            "with a gap for the {n} day without one.",
            "Line chart of your mood from {start} to {end} ({zone} time): {checkins} on {days}, "
            "with gaps for the {n} days without one.",
            gaps,
            **counts,
        )
        if gaps
        else t(
            "Line chart of your mood from {start} to {end} ({zone} time): {checkins} on {days}, one every day.",
            **counts,
        )
    ]
    if history.average is not None:
        parts.append(t("Average {average} out of 5.", average=one_decimal(history.average, t)))
    if history.last_week is not None:
        last = one_decimal(history.last_week, t)
        if history.week_before is None:
            parts.append(t("Last 7 days {average}.", average=last))
        else:
            delta = history.last_week - history.week_before
            before = one_decimal(history.week_before, t)
            if delta >= 0.05:
                parts.append(t("Last 7 days {average}, up from {before} the week before.", average=last, before=before))
            elif delta <= -0.05:
                parts.append(
                    t("Last 7 days {average}, down from {before} the week before.", average=last, before=before)
                )
            else:
                parts.append(t("Last 7 days {average}, about the same as the week before.", average=last))
    if history.lowest and history.highest:
        low, low_day = history.lowest
        high, high_day = history.highest
        if low == high:
            parts.append(t("Every check-in was {value} ({mood}).", value=low, mood=t(MOODS[low - 1].phrase)))
        else:
            parts.append(
                t(
                    "Lowest {low} ({low_mood}) on {low_day}; highest {high} ({high_mood}) on {high_day}.",
                    low=low,
                    low_mood=t(MOODS[low - 1].phrase),
                    low_day=day_month(low_day, t),
                    high=high,
                    high_mood=t(MOODS[high - 1].phrase),
                    high_day=day_month(high_day, t),
                )
            )
    return " ".join(parts)[:1000]
