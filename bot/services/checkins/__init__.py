"""Check-ins: a member noting how they are, for themselves and (if they choose) their circle's pulse.

- One tap records a mood (1 very low ... 5 very good) with the time and the member's time zone.
  The tap's message is the idempotency key, so a double click stores one check-in.
- Optional extras on the same check-in: a private note (screened with :func:`bot.safety.assess`),
  up to three tags from the circle's list, sharing the mood (never the note) with the circle's
  anonymous pulse, and asking a listener to reach out (a pending request until the listener rota
  routes it).
- History: the member's own days, averages and streak (the chart is drawn by
  :mod:`bot.services.mood_chart`).
- Pulse: facilitators see a circle's distribution and trend only from shared check-ins, and only
  when at least ``PULSE_MIN_PEOPLE`` distinct members contributed. Never per-person data.
- Reminders: a wall-clock rule in the member's own zone. The next UTC instant is computed from the
  rule each time (:func:`~bot.timekeeping.wallclock.next_wall_time`), so daylight-saving changes
  never shift it. One job is pending per reminder; the handler schedules the next. Closed DMs pause
  the reminder.
- Circle prompts: facilitators schedule a daily or weekly post with a persistent Check in button.

Discord is reached only through the :class:`~bot.services.checkins.port.CheckinDelivery` port,
attached by the cog. Logs carry event kinds and opaque ids, never who checked in or what they wrote.

Where things are (each file imports only those above it in this list)
    models.py      limits and job kinds, moods, results, tags, notices (pure)
    port.py        what the service needs from Discord (:class:`CheckinDelivery`)
    core.py        the shared stores and port; who may do what; finding the circle
    schedules.py   reminders (DMs in the member's zone) and circle prompts, rebuilt at start
    recording.py   the check-in itself: a tap, a note and tags, editing and deleting; asking for
                   a listener; the circle's tag list
    insights.py    the member's own history and the circle's anonymous pulse
    service.py     CheckinService, the one object the app and the cogs use
"""
