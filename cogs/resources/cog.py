from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import InvalidInput
from bot.i18n import msg
from bot.services.crisis import CrisisResources
from bot.services.help import Audience
from bot.services.server_settings import ServerSettings
from bot.ui.language import reader
from bot.ui.replies import reply, text_card
from bot.ui.style import CALM


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
                next((c for c, _ in self.crisis.search(country, reader(interaction))), None)
                if not self.crisis.name_of(country)
                else country
            )
            if code is None:
                raise InvalidInput(
                    msg(
                        "I don't have a list for “{country}” yet. Pick a country from the suggestions; "
                        "findahelpline.com covers many more.",
                        country=country[:40],
                    )
                )
        elif interaction.guild_id is not None:
            code = (await self.settings.get(interaction.guild_id)).region
        sections = self.crisis.sections(code, chosen=country is not None, t=reader(interaction))
        await reply(interaction, view=text_card(*sections, accent=CALM))

    resources.extras["audience"] = Audience.MEMBER

    @resources.autocomplete("country")
    async def country_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        t = reader(interaction)
        found = self.crisis.search(current, t)
        names = {code: t.locale.territories.get(code, name) for code, name in found}
        return [app_commands.Choice(name=str(names[code]), value=code) for code, _ in found]
