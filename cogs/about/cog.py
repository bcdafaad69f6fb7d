from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.services.about import AboutService
from bot.services.help import Audience
from bot.ui.language import reader
from bot.ui.replies import reply, text_card


class AboutCog(commands.Cog):
    def __init__(self, about: AboutService) -> None:
        self.service = about

    @app_commands.command(name="about", description="What this bot is for, what it stores and for how long.")
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.guild_install()
    async def about(self, interaction: discord.Interaction[Any]) -> None:
        t = reader(interaction)
        info = self.service.about()
        await reply(
            interaction,
            view=text_card(
                t("## About peer-circles") + "\n" + t(info.purpose),
                t("**What you can count on**") + "\n" + "\n".join(f"- {t(p)}" for p in info.promises),
                t("**What it stores, and for how long**") + "\n" + "\n".join(f"- {t(s)}" for s in info.stored),
                t(
                    "-# Version {version} · /help lists the commands you can use · /privacy shows your data",
                    version=info.version,
                ),
            ),
        )

    about.extras["audience"] = Audience.MEMBER
