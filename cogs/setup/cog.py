from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import MissingBotPermissions
from bot.services.crisis import CrisisResources
from bot.services.help import Audience
from bot.services.setup_service import RETENTION_RANGE, SetupService
from bot.services.timezones import search_timezones
from bot.storage.guilds import GuildSettings
from bot.ui.audit import post_audit
from bot.ui.people import actor_from, guild_of
from bot.ui.replies import reply, text_card


def describe(settings: GuildSettings, region_name: str | None) -> str:
    mod = (
        f"<#{settings.mod_channel_id}>" if settings.mod_channel_id else "not set: reports and alerts have nowhere to go"
    )
    coord = (
        f"<@&{settings.coordinator_role_id}>"
        if settings.coordinator_role_id
        else "not set (only admins manage circles)"
    )
    region = (
        f"{region_name} ({settings.region})"
        if settings.region and region_name
        else "not set (people see international resources)"
    )
    return (
        "**Current settings**\n"
        f"- Time zone: {settings.timezone}\n"
        f"- Country for crisis resources: {region}\n"
        f"- Moderation channel: {mod}\n"
        f"- Coordinator role: {coord}\n"
        f"- Circle data kept for: {settings.retention_days} days (each circle can change this)\n"
        f"- If the bot is removed, data is deleted after: {settings.purge_after_days} days"
    )


class SetupCog(commands.Cog):
    def __init__(self, service: SetupService, regions: CrisisResources) -> None:
        self.service = service
        self.regions = regions

    @app_commands.command(name="setup", description="See or change peer-circles settings for this server.")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.describe(
        timezone="The server's time zone, used for sessions and reminders",
        region="Country whose crisis lines people see first",
        moderation_channel="Where reports, alerts and audit lines go (keep it private to moderators)",
        coordinator_role="A role that may manage circles, sessions and rotas without Manage Server",
        retention_days="Default days to keep circle data (1 to 3650)",
        purge_after_days="Days to keep this server's data after the bot is removed (1 to 365)",
    )
    async def setup_command(
        self,
        interaction: discord.Interaction[Any],
        timezone: str | None = None,
        region: str | None = None,
        moderation_channel: discord.TextChannel | None = None,
        coordinator_role: discord.Role | None = None,
        retention_days: app_commands.Range[int, RETENTION_RANGE[0], RETENTION_RANGE[1]] | None = None,
        purge_after_days: app_commands.Range[int, 1, 365] | None = None,
    ) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        if moderation_channel is not None:
            me = guild.me
            perms = moderation_channel.permissions_for(me)
            if not (perms.view_channel and perms.send_messages):
                raise MissingBotPermissions(["View Channels", "Send Messages"], f"#{moderation_channel.name}")
        settings, changes = await self.service.apply(
            guild.id,
            actor,
            timezone=timezone,
            region=region,
            mod_channel_id=moderation_channel.id if moderation_channel else None,
            coordinator_role_id=coordinator_role.id if coordinator_role else None,
            retention_days=retention_days,
            purge_after_days=purge_after_days,
        )
        sections = ["## peer-circles settings"]
        if changes:
            sections.append("**Saved**\n" + "\n".join(f"- You {c.description}" for c in changes))
        sections.append(describe(settings, self.service.region_name(settings.region)))
        if not changes:
            sections.append("-# Add options to /setup to change any of these.")
        await reply(interaction, view=text_card(*sections))
        await post_audit(guild, settings.mod_channel_id, actor.user_id, [c.description for c in changes])

    setup_command.extras["audience"] = Audience.ADMIN

    @setup_command.autocomplete("timezone")
    async def timezone_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=z, value=z) for z in search_timezones(current)]

    @setup_command.autocomplete("region")
    async def region_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=f"{name} ({code})", value=code) for code, name in self.regions.search(current)]
