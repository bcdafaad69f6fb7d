"""Scheduled group sessions: recurring circle meetings as native Discord events, RSVPs with a
waitlist, DM reminders, and the facilitated session itself (opening, go-round, timer, close,
anonymous feedback).

How it fits together
    * A **series** stores the recurrence rule (:mod:`bot.timekeeping.recurrence`). Occurrences are
      made ahead of time (``ensure_window``): always the next one, plus any others starting
      within ``WINDOW`` (at most ``MAX_AHEAD``). Each gets a row, a native Discord Guild
      Scheduled Event, an announcement with Going / Not going buttons, and scheduler jobs
      (reminders, start, end). The window rolls forward when an occurrence ends, is closed,
      skipped or cancelled, and at every start.
    * Jobs are ``circle:{circle_id}:session:{occurrence_id}:{what}`` so archiving a circle stops
      them; every handler no-ops if its occurrence, series or circle is gone.
    * Discord is reached through the :class:`~bot.services.sessions.port.SessionDiscord` port
      (implemented in ``cogs/sessions/discord_port.py``); this package imports nothing from discord.

Where things are (each file imports only those above it in this list)
    models.py      limits, job kinds, views and results, pure helpers
    port.py        the Discord port
    core.py        the shared stores and port; rights, look-ups, views (the base of each part)
    attendance.py  RSVPs, places and the waitlist, reminders opt-in, the reminder job
    planning.py    a new series, the window of occurrences and their jobs, what's coming up
    changes.py     moving, skipping, editing and cancelling; a closing circle's series stopped
    live.py        opening, go-round and timer, closing, feedback and the report
    event_sync.py  events edited by hand in Discord, and catching up at connect
    service.py     SessionService, the one object the app and the cogs use

Logs carry event kinds, opaque ids and counts: never user ids, never text.
"""
