"""How the bot's messages look, in one place: the accent colours and the no-ping default.

Calm, low-saturation colours; red only for an urgent alert to coordinators. Every message the bot
sends pings nobody (``NO_PINGS``) unless a person asked to be told.
"""

from __future__ import annotations

import discord

NO_PINGS = discord.AllowedMentions.none()

CALM = discord.Colour.from_rgb(88, 140, 126)  # check-ins, crisis resources, a member's side of support
SOFT_BLUE = discord.Colour.from_rgb(120, 134, 199)  # anonymous shares, listeners and the rota
SESSION = discord.Colour.from_rgb(96, 125, 160)  # group sessions
URGENT = discord.Colour.from_rgb(200, 80, 60)  # an urgent alert in the moderation channel
