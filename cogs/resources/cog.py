from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import InvalidInput
from bot.services.crisis import CrisisResources
from bot.services.help import Audience
from bot.services.server_settings import ServerSettings
from bot.ui.replies import reply, text_card

CALM = discord.Colour.from_rgb(88, 140, 126)


class ResourcesCog(commands.Cog):
    def __init__(self, crisis: CrisisResources, settings: ServerSettings) -> None:
        self.crisis = crisis
        self.settings = settings

    @app_commands.command(name="resources", description="Crisis lines and support services, near you or anywhere.")
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    @app_commands.guild_install()
    @app_commands.describe(country="Show the lines for another country")
    async def resources(self, interaction: discord.Interaction[Any], country: str | None = None) -> None:
        code: str | None = None
        if country:
            code = (
                next((c for c, _ in self.crisis.search(country)), None) if not self.crisis.name_of(country) else country
            )
            if code is None:
                raise InvalidInput(
                    f"I don't have a list for “{country[:40]}” yet. Pick a country from the suggestions; "
                    "findahelpline.com covers many more."
                )
        elif interaction.guild_id is not None:
            code = (await self.settings.get(interaction.guild_id)).region
        await reply(interaction, view=text_card(*self.crisis.sections(code, chosen=country is not None), accent=CALM))

    resources.extras["audience"] = Audience.MEMBER

    @resources.autocomplete("country")
    async def country_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=name, value=code) for code, name in self.crisis.search(current)]
