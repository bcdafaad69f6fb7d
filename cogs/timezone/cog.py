from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import Speaker
from bot.services.help import Audience
from bot.services.member_time import MemberTimeService
from bot.services.timezones import search_timezones
from bot.ui.language import reader
from bot.ui.people import guild_of
from bot.ui.replies import reply

MEMBER = {"audience": Audience.MEMBER}


class TimezoneCog(commands.Cog):
    timezone = app_commands.Group(
        name="timezone", description="Your own time zone for reminders and sessions.", guild_only=True
    )

    def __init__(self, service: MemberTimeService) -> None:
        self.service = service

    def _local(self, zone: str, t: Speaker) -> str:
        """The time and weekday there now, as the reader writes them ("7:05 PM on Monday", "19:05 am Montag")."""
        where = ZoneInfo(zone)
        now = datetime.now(where)
        return t("{time} on {weekday}", time=t.time(now, zone=where), weekday=t.weekday(now.weekday()))

    @timezone.command(name="set", description="Set your time zone.", extras=MEMBER)
    @app_commands.describe(zone="Start typing a city, like London or New York")
    async def set_zone(self, interaction: discord.Interaction[Any], zone: str) -> None:
        guild = guild_of(interaction)
        t = reader(interaction)
        chosen = await self.service.set(guild.id, interaction.user.id, zone)
        await reply(
            interaction,
            t(
                "Your time zone is now **{zone}** (it's {local} there). "
                "Reminders and session times will use it. /timezone clear goes back to the server's.",
                zone=chosen,
                local=self._local(chosen, t),
            ),
        )

    @set_zone.autocomplete("zone")
    async def zone_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=z, value=z) for z in search_timezones(current)]

    @timezone.command(name="show", description="See which time zone the bot uses for you.", extras=MEMBER)
    async def show(self, interaction: discord.Interaction[Any]) -> None:
        guild = guild_of(interaction)
        t = reader(interaction)
        zone, own = await self.service.zone_name(guild.id, interaction.user.id)
        local = self._local(zone, t)
        if own:
            text = t("I use **{zone}** for you (your choice). It's {local} there.", zone=zone, local=local)
        else:
            text = t(
                "I use **{zone}** for you (the server's; set your own with /timezone set). It's {local} there.",
                zone=zone,
                local=local,
            )
        await reply(interaction, text)

    @timezone.command(name="clear", description="Forget your time zone and use the server's.", extras=MEMBER)
    async def clear(self, interaction: discord.Interaction[Any]) -> None:
        guild = guild_of(interaction)
        await self.service.clear(guild.id, interaction.user.id)
        zone, _ = await self.service.zone_name(guild.id, interaction.user.id)
        t = reader(interaction)
        await reply(interaction, t("Done: I forgot your time zone and use the server's (**{zone}**).", zone=zone))
