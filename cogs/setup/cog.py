from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.errors import MissingBotPermissions, StorageError
from bot.i18n import SOURCE, Speaker, speaker
from bot.services.crisis import CrisisResources
from bot.services.help import Audience
from bot.services.setup_service import (
    DISCORDS_LANGUAGE,
    RETENTION_RANGE,
    SERVER_LOCALE,
    SetupService,
    language_name,
)
from bot.services.timezones import search_timezones
from bot.storage.guilds import GuildSettings
from bot.ui.audit import post_audit
from bot.ui.language import reader, server_language
from bot.ui.people import actor_from, guild_of
from bot.ui.replies import reply, text_card

log = logging.getLogger(__name__)


def language_choices() -> list[app_commands.Choice[str]]:
    """Each shipped language by its own name (not translated), then Discord's server language (translated).

    The languages are the catalogues there are now (``i18n.languages()``, read when the cog is built)."""
    own = [app_commands.Choice(name=language_name(lang), value=lang) for lang in i18n.languages()]
    return [*own, app_commands.Choice(name=app_commands.locale_str(DISCORDS_LANGUAGE), value=SERVER_LOCALE)]


def country(t: Speaker, code: str, english: str) -> str:
    """A country's name in the reader's language (CLDR), as the crisis directory spells it in English."""
    return english if t.language == SOURCE else str(t.locale.territories.get(code, english))


def describe(settings: GuildSettings, region_name: str | None, t: Speaker, guild: discord.Guild) -> str:
    mod = (
        f"<#{settings.mod_channel_id}>"
        if settings.mod_channel_id
        else t("not set: reports and alerts have nowhere to go")
    )
    coord = (
        f"<@&{settings.coordinator_role_id}>"
        if settings.coordinator_role_id
        else t("not set (only admins manage circles)")
    )
    region = (
        t("{country} ({code})", country=country(t, settings.region, region_name), code=settings.region)
        if settings.region and region_name
        else t("not set (people see international resources)")
    )
    language = (
        language_name(settings.language)
        if settings.language
        else t(
            "{language}, Discord's server language",
            language=language_name(server_language(None, guild)),
        )
    )
    return "\n".join(
        [
            t("**Current settings**"),
            t("- Time zone: {zone}", zone=settings.timezone),
            t("- Country for crisis resources: {region}", region=region),
            t("- Moderation channel: {channel}", channel=mod),
            t("- Coordinator role: {role}", role=coord),
            t.n(
                "- Circle data kept for: {n} day (each circle can change this)",
                "- Circle data kept for: {n} days (each circle can change this)",
                settings.retention_days,
            ),
            t.n(
                "- If the bot is removed, data is deleted after: {n} day",
                "- If the bot is removed, data is deleted after: {n} days",
                settings.purge_after_days,
            ),
            t("- Language of what I post for the server (shares, sessions, alerts): {language}", language=language),
        ]
    )


class SetupCog(commands.Cog):
    def __init__(self, bot: commands.Bot, service: SetupService, regions: CrisisResources) -> None:
        self.bot = bot
        self.service = service
        self.regions = regions
        # The languages are the catalogues shipped when the bot starts: choices made here, not at import.
        command = self.setup_command
        param = copy.copy(command._params["language"])
        param.choices = cast(list[app_commands.Choice[str | int | float]], language_choices())
        command._params["language"] = param

    # -- Discord's locale of each server, for processes without a copy of it ----------------

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        await self._remember_locales(self.bot.guilds)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.service.joined(guild.id, str(guild.preferred_locale))

    @commands.Cog.listener()
    async def on_guild_update(self, before: discord.Guild, after: discord.Guild) -> None:
        if before.preferred_locale != after.preferred_locale:
            await self._remember_locales([after])

    async def _remember_locales(self, guilds: Sequence[discord.Guild]) -> None:
        try:
            await self.service.remember_locales({g.id: str(g.preferred_locale) for g in guilds})
        except StorageError:  # shutting down while connecting
            log.debug("server locales not remembered: the database is closed")

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
        language="The language of what the bot posts for everyone (default: Discord's server language)",
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
        language: str | None = None,
    ) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        t = reader(interaction)
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
            language=language,
        )
        sections = [t("## peer-circles settings")]
        if changes:
            sections.append(t("**Saved**") + "\n" + "\n".join(f"- {t.render(c.yours)}" for c in changes))
        sections.append(describe(settings, self.service.region_name(settings.region), t, guild))
        if not changes:
            sections.append(t("-# Add options to /setup to change any of these."))
        await reply(interaction, view=text_card(*sections))
        # Audit lines are the server's: in its language as it is now (a new /setup language included).
        server = speaker(server_language(settings.language, guild))
        await post_audit(guild, settings.mod_channel_id, actor.user_id, [c.audit for c in changes], t=server)

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
        t = reader(interaction)
        return [
            app_commands.Choice(name=t("{country} ({code})", country=country(t, code, name), code=code), value=code)
            for code, name in self.regions.search(current, t)
        ]
