"""The sandbox's REST routes, one module per Discord resource.

``users`` (users, DMs), ``application`` (the application, the gateway's address, application
commands), ``interactions`` (interaction callbacks, followups and their webhook messages),
``channels`` (channels, permission overwrites, messages, threads), ``guilds`` (guilds, their
channels, roles and members) and ``events`` (scheduled events).
"""
