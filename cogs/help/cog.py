from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import N_, Speaker
from bot.services.access import AccessService
from bot.services.circles import CircleService
from bot.services.help import Audience, CommandEntry, Viewer, group_for
from bot.services.rota.service import RotaService
from bot.ui.command_i18n import NAME_CONTEXT, NAME_PATTERN
from bot.ui.language import reader
from bot.ui.people import actor_from
from bot.ui.replies import reply, text_card

INTRO = N_(
    "## How to use peer-circles\n"
    "Everything here is private to you unless a command says otherwise. "
    "If you are struggling right now, /resources shows crisis lines near you."
)


def local_name(t: Speaker, qualified: str) -> str:
    """A command as the reader's Discord shows it: each word by its translated name where it has a
    valid one (the rule bot/ui/command_i18n.py syncs), else in English."""
    words = []
    for word in qualified.split():
        name = t.p(NAME_CONTEXT, word)
        words.append(name if NAME_PATTERN.match(name) and name == name.lower() else word)
    return " ".join(words)


def command_entries(tree: app_commands.CommandTree[Any]) -> list[CommandEntry]:
    """Every runnable command (subcommands, not their groups) with its audience."""
    entries: list[CommandEntry] = []
    for command in tree.walk_commands():
        if isinstance(command, app_commands.Group):
            continue
        audience = command.extras.get("audience") or (command.parent.extras.get("audience") if command.parent else None)
        entries.append(CommandEntry(command.qualified_name, command.description, Audience(audience or Audience.MEMBER)))
    return entries


async def viewer_for(
    interaction: discord.Interaction[Any], access: AccessService, rota: RotaService, circles: CircleService
) -> Viewer:
    if interaction.guild is None:
        return Viewer(in_server=False)
    guild_id = interaction.guild.id
    actor = actor_from(interaction)
    facilitates = any(c.facilitator_role_id in actor.role_ids for c in await circles.in_guild(guild_id))
    listener = await rota.listener(guild_id, actor.user_id)
    return Viewer(
        is_admin=actor.is_admin,
        is_facilitator=facilitates or await access.is_coordinator(guild_id, actor),
        is_listener=listener is not None and listener.status == "active",
    )


class HelpCog(commands.Cog):
    def __init__(self, bot: commands.Bot, access: AccessService, rota: RotaService, circles: CircleService) -> None:
        self.bot = bot
        self.access = access
        self.rota = rota
        self.circles = circles

    @app_commands.command(name="help", description="The commands you can use here, and what they do.")
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    @app_commands.guild_install()
    async def help(self, interaction: discord.Interaction[Any]) -> None:
        t = reader(interaction)
        viewer = await viewer_for(interaction, self.access, self.rota, self.circles)
        sections = [t(INTRO)]
        for audience, entries in group_for(viewer, command_entries(self.bot.tree)):
            # Descriptions are the commands' own, translated as Discord shows them (bot/ui/command_i18n.py).
            lines = "\n".join(f"- `/{local_name(t, e.name)}`: {t(e.description)}" for e in entries)
            sections.append(f"**{t(audience.heading)}**\n{lines}")
        if not viewer.in_server:
            sections.append(t("-# In direct messages only some commands work; the rest are used inside the server."))
        await reply(interaction, view=text_card(*sections))

    help.extras["audience"] = Audience.MEMBER
