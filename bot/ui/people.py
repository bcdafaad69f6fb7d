"""Who is acting, read from an interaction."""

from __future__ import annotations

from typing import Any

import discord

from bot.errors import ServerOnly
from bot.services.access import Actor


def actor_from(interaction: discord.Interaction[Any]) -> Actor:
    user = interaction.user
    perms = interaction.permissions
    roles = [r.id for r in user.roles] if isinstance(user, discord.Member) else []
    return Actor.of(user.id, perms.manage_guild or perms.administrator, roles)


def guild_of(interaction: discord.Interaction[Any]) -> discord.Guild:
    if interaction.guild is None:
        raise ServerOnly()
    return interaction.guild
