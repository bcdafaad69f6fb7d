"""Time in one place: local wall-clock rules, what people type, and how times are shown.

The bottom of the layers: pure, no Discord and no database; it imports nothing from
``bot.services`` or ``bot.storage`` (only :mod:`bot.errors` and :mod:`bot.i18n`), so any of them
can use it. Words a person reads take ``t``, the reader's :class:`bot.i18n.Speaker` (English if none).

Where things are (each file imports only those above it in this list)
    wallclock.py   local wall-clock time to UTC across clock changes; the next 08:30 on weekdays; weeks
    words.py       weekday names and sets, "on weekdays", "19:00 on Tuesday 3 March 2026 (Europe/London)",
                   "24 hours", in the reader's language
    markup.py      the Discord timestamp (``<t:…:F>``) and the link to a message or channel
    parsing.py     the one reader of typed times ("19:00", "7pm", "19h"), days ("weekdays", "mon, wed"),
                   dates and session reminder offsets, for every command
    recurrence.py  session series: once, weekly, monthly on the Nth weekday; skipped and moved ones
    shifts.py      the rota's weekly and one-off shifts, and hours worked in a period
"""
