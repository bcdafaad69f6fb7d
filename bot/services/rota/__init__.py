"""Listeners and their rota: slots, shifts taken and dropped, swaps, availability, limits, hours.

When a slot's shifts happen, across clock changes, and the hours worked in a period are pure time
arithmetic, in :mod:`bot.timekeeping.shifts`. Here: who covers which shift, and
:class:`~bot.services.rota.service.RotaService`, which keeps the rules. Discord is reached only
through the :class:`~bot.services.rota.port.RotaPort` the listeners cog attaches (DMs to listeners,
alerts to coordinators, the board). Every timed thing is a scheduler job keyed ``rota:{guild}:...``,
so it survives restarts.

Where things are (each file imports only those above it in this list)
    models.py     limits and job kinds, who covers which shift, what the port renders, results
    port.py       the Discord port
    core.py       the shared stores and port; look-ups every part uses (a listener, the window, hours)
    jobs.py       reminders, shift start and end, coverage checks, the daily refresh, on-call ends
    board.py      who is on shift, the board, /rota mine and the report
    slots.py      slots added and removed; shifts taken, dropped and swapped
    listeners.py  joining and approval, leaving, availability, breaks and limits, support settings
    service.py    RotaService, the one object the app and the cogs use
"""
