"""The baseline: a bare discord.py bot that answers one slash command with a fixed ephemeral reply.

It is the floor every benchmark compares against: the cost of Discord's protocol and discord.py.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands


class BaselineBot(discord.Client):
    """One slash command, one fixed ephemeral reply, nothing else."""

    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)

        @self.tree.command(name="ping", description="Answer with a fixed reply")
        async def ping(interaction: discord.Interaction[Any]) -> None:
            await interaction.response.send_message("pong", ephemeral=True)

    async def setup_hook(self) -> None:
        await self.tree.sync()
