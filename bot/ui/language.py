"""Which language a reader reads: the Discord layer's half of :mod:`bot.i18n`.

- A reply, card, form or error that one person sees: **that person's Discord language**
  (``interaction.locale``), :func:`reader`.
- Anything posted for the circle (anonymous shares, session openings, check-in prompts, the rota
  board, moderation alerts and audit lines): **the server's language**, set with
  ``/setup language`` and otherwise Discord's server locale, :func:`server_speaker`.
- A direct message sent later (reminders, relay labels): **the language the person last used with
  the bot** in that server, remembered by :class:`bot.services.member_time.MemberTimeService`.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.i18n import Speaker, language_of, speaker
from bot.services.member_time import MemberTimeService
from bot.services.server_settings import ServerSettings

__all__ = ["member_speaker", "reader", "server_language", "server_speaker", "speaker_for"]


def reader(interaction: discord.Interaction[Any]) -> Speaker:
    """The person who pressed or typed: their Discord client's language."""
    return speaker(language_of(str(interaction.locale)))


def server_language(chosen: str | None, guild: discord.Guild | None, seen: str | None = None) -> str:
    """The server's language: the one set with /setup language, else Discord's server locale (from
    the guild, or ``seen``: as the process that owns the server last saw it)."""
    if chosen:
        return language_of(chosen)
    return language_of(str(guild.preferred_locale)) if guild is not None else language_of(seen)


def speaker_for(language: str | None) -> Speaker:
    return speaker(language_of(language))


async def server_speaker(settings: ServerSettings, guild_id: int, guild: discord.Guild | None = None) -> Speaker:
    """Who reads a post for the circle: the server's language."""
    stored = await settings.get(guild_id)
    return speaker(server_language(stored.language, guild, stored.discord_locale))


async def member_speaker(
    member_time: MemberTimeService, guild_id: int, user_id: int, guild: discord.Guild | None = None
) -> Speaker:
    """Who reads a DM sent later: the language the person last used with the bot in this server,
    else the server's."""
    chosen = await member_time.language(guild_id, user_id)
    return speaker(server_language(chosen, guild))
