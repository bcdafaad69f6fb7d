"""Showing crisis resources privately, the same way everywhere.

Features that screen personal text with :func:`bot.safety.assess` call :func:`crisis_sections` to
put the resources in front of the writer (ephemerally) before anything else happens.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.i18n import N_, Speaker
from bot.services.crisis import CrisisResources
from bot.services.server_settings import ServerSettings
from bot.ui.language import reader
from bot.ui.replies import reply, text_card
from bot.ui.style import CALM

GENTLE_OPENING = N_(
    "Thank you for writing that down. It sounds like things may be really hard right now. "
    "You don't have to carry this alone, and you deserve support."
)


async def crisis_sections(
    crisis: CrisisResources,
    settings: ServerSettings,
    guild_id: int | None,
    *,
    gentle: bool = True,
    t: Speaker,
) -> list[str]:
    """The crisis card's sections for this server's country, in ``t``'s language (the writer's: pass
    ``reader(interaction)``)."""
    region = (await settings.get(guild_id)).region if guild_id is not None else None
    sections = crisis.sections(region, t=t)
    return [t(GENTLE_OPENING), *sections] if gentle else sections


async def show_crisis_resources(
    interaction: discord.Interaction[Any],
    crisis: CrisisResources,
    settings: ServerSettings,
) -> None:
    """Reply (ephemerally, in the person's language) with the crisis resources for this server's country."""
    sections = await crisis_sections(crisis, settings, interaction.guild_id, t=reader(interaction))
    await reply(interaction, view=text_card(*sections, accent=CALM))
