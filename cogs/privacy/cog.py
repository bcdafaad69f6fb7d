from __future__ import annotations

import io
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import ServerOnly, StorageError
from bot.i18n import N_, Speaker
from bot.services.help import Audience
from bot.services.maintenance import MaintenanceService
from bot.services.privacy_service import DeletionReport, PrivacyOverview, PrivacyService
from bot.ui.dispatch import ExpiredCards
from bot.ui.errors import ErrorHandlingLayoutView
from bot.ui.language import reader
from bot.ui.replies import NO_PINGS, reply, text_card

log = logging.getLogger(__name__)

VIEW_TIMEOUT = 600.0
DMS_CLOSED = 50007

Handler = Callable[[discord.Interaction[Any]], Awaitable[None]]

# Everything here is read by one person: each message in their language (reader(interaction)).
CONFIRM_DELETE = N_(
    "## Delete your data?\n"
    "This erases everything peer-circles keeps about you in this server: all that /privacy lists "
    "under **What is kept about you**.\n\n"
    "Anonymous posts that are already public stay, but can no longer be linked to anyone.\n\n"
    "**This can't be undone.** If you'd like a copy first, choose **Keep my data** and export it."
)
NOT_YOURS = N_("These buttons belong to the person who opened them. Use /privacy to see your own.")
DM_TEXT = N_(
    "Here is a copy of what peer-circles keeps about you in **{server}**. It's a JSON file that any "
    "text editor can open. It may include things you shared in confidence, so please keep it somewhere safe."
)
SENT_BY_DM = N_("I've sent your data to you in a direct message.")
ALREADY_SENT = N_("I've already sent you a copy from this card. Run /privacy again if you'd like another.")
EXPIRED_NOTE = N_("-# That card had expired, so I did it anyway. Run /privacy to open it again.")
EXPORT_ANYWAY = r"privacy:export:[0-9a-f]{8}"
SENT_HERE = N_(
    "I couldn't send you a direct message (your DMs from this server are closed), so here is the file. "
    "Only you can see this message, and it goes away when you dismiss it, so please save the file now."
)


def _listed(heading: str, lines: list[str]) -> str:
    return heading + "\n" + "\n".join(f"- {line}" for line in lines)


def overview_sections(overview: PrivacyOverview, t: Speaker, notice: str | None = None) -> list[str]:
    """``notice`` is already in the reader's language."""
    sections = [t("## Your data in this server") + "\n" + t(overview.intro)]
    if notice:
        sections[0] += f"\n-# {notice}"
    kept = [t(s) for s in overview.kept] + [t.render(overview.purge_note)]
    sections.append(_listed(t("**What is kept about you, and for how long**"), kept))
    sections.append(_listed(t("**Who can see what**"), [t(s) for s in overview.who_can_see]))
    sections.append(_listed(t("**Your choices**"), [t(s) for s in overview.choices]))
    return sections


def result_card(report: DeletionReport, t: Speaker) -> discord.ui.LayoutView:
    return text_card(
        t("## Your data in this server") + "\n" + t.render(report.message),
        t("-# You can open /privacy again any time."),
    )


async def send_export(
    service: PrivacyService, interaction: discord.Interaction[Any], *, note: str | None = None
) -> None:
    """Export this person's data here and send it to them by DM (or privately here if DMs are closed).

    The DM answers their press right away, so it is in the language they pressed in. ``note`` is an
    English message (N_), said after the answer."""
    guild = interaction.guild
    if guild is None:  # the command is guild-only; a card can't exist elsewhere
        raise ServerOnly()
    t = reader(interaction)
    await interaction.response.defer(ephemeral=True, thinking=True)
    export = await service.export(guild.id, interaction.user.id, t=t)
    after = f"\n{t(note)}" if note else ""
    try:
        await interaction.user.send(
            t(DM_TEXT, server=discord.utils.escape_markdown(guild.name)),
            file=discord.File(io.BytesIO(export.data), filename=export.filename),
            allowed_mentions=NO_PINGS,
        )
    except discord.Forbidden as exc:
        if exc.code != DMS_CLOSED:
            raise
        await reply(
            interaction, t(SENT_HERE) + after, file=discord.File(io.BytesIO(export.data), filename=export.filename)
        )
        return
    await reply(interaction, t(SENT_BY_DM) + after)


class ActionButton(discord.ui.Button["OwnedView"]):
    """A button on a privacy card; ``action`` names it in its custom_id (``privacy:<action>:<nonce>``)."""

    def __init__(
        self, label: str, action: str, handler: Handler, style: discord.ButtonStyle, *, keeps_card: bool = False
    ) -> None:
        super().__init__(label=label, style=style)
        self._handler = handler
        self.card_action = action
        self.keeps_card = keeps_card

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await self._handler(interaction)


class OwnedView(ErrorHandlingLayoutView):
    """A short-lived private card whose buttons answer only the person it was made for."""

    def __init__(self, service: PrivacyService, owner_id: int) -> None:
        super().__init__(card="privacy", timeout=VIEW_TIMEOUT)
        self.service = service
        self.owner_id = owner_id

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await reply(interaction, reader(interaction)(NOT_YOURS))
        return False

    def card(self, sections: list[str], *buttons: ActionButton) -> None:
        container: discord.ui.Container[OwnedView] = discord.ui.Container()
        for index, section in enumerate(sections):
            if index:
                container.add_item(discord.ui.Separator())
            container.add_item(discord.ui.TextDisplay(section))
        container.add_item(discord.ui.ActionRow(*buttons))
        self.add_item(container)


class PrivacyCard(OwnedView):
    """The /privacy card: the overview with Export and Delete."""

    def __init__(
        self,
        service: PrivacyService,
        owner_id: int,
        overview: PrivacyOverview,
        t: Speaker,
        notice: str | None = None,
    ) -> None:
        super().__init__(service, owner_id)
        self.exported = False
        self.card(
            overview_sections(overview, t, notice),
            # Export leaves the card as it is (you may delete next); it sends one copy per card.
            ActionButton(t("Export my data"), "export", self.export, discord.ButtonStyle.primary, keeps_card=True),
            ActionButton(t("Delete my data"), "delete", self.delete, discord.ButtonStyle.secondary),
        )

    async def export(self, interaction: discord.Interaction[Any]) -> None:
        if self.exported:
            await reply(interaction, reader(interaction)(ALREADY_SENT))
            return
        await send_export(self.service, interaction)
        self.exported = True

    async def delete(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.edit_message(view=ConfirmDelete(self.service, self.owner_id, reader(interaction)))


class ConfirmDelete(OwnedView):
    """The one step between Delete and erasing: the same private message, edited in place."""

    def __init__(self, service: PrivacyService, owner_id: int, t: Speaker) -> None:
        super().__init__(service, owner_id)
        self.card(
            [t(CONFIRM_DELETE)],
            ActionButton(t("Delete everything"), "confirm", self.confirm, discord.ButtonStyle.danger),
            ActionButton(t("Keep my data"), "keep", self.cancel, discord.ButtonStyle.secondary),
        )

    async def confirm(self, interaction: discord.Interaction[Any]) -> None:
        guild = interaction.guild
        if guild is None:
            raise ServerOnly()
        await interaction.response.defer()
        report = await self.service.delete(guild.id, interaction.user.id)
        await interaction.edit_original_response(
            view=result_card(report, reader(interaction)), allowed_mentions=NO_PINGS
        )

    async def cancel(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.guild is None:
            raise ServerOnly()
        t = reader(interaction)
        overview = await self.service.overview(interaction.guild.id)
        card = PrivacyCard(self.service, self.owner_id, overview, t, notice=t("Nothing was deleted."))
        await interaction.response.edit_message(view=card)


class PrivacyCog(commands.Cog):
    def __init__(
        self,
        bot: commands.Bot,
        privacy: PrivacyService,
        maintenance: MaintenanceService,
        expired: ExpiredCards,
    ) -> None:
        self.bot = bot
        self.service = privacy
        self.maintenance = maintenance
        self.expired = expired

    @app_commands.command(
        name="privacy", description="What the bot keeps about you here, who can see it; export or delete it."
    )
    @app_commands.guild_only()
    @app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
    @app_commands.allowed_installs(guilds=True, users=False)
    @app_commands.guild_install()
    async def privacy(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.guild_id is None:
            raise ServerOnly()
        overview = await self.service.overview(interaction.guild_id)
        await reply(interaction, view=PrivacyCard(self.service, interaction.user.id, overview, reader(interaction)))

    privacy.extras["audience"] = Audience.MEMBER

    async def cog_load(self) -> None:
        # Export pressed on a card that expired (or was shown before a restart): it only ever sends
        # the presser their own data, privately, so do it anyway (once per button).
        self.expired.do_anyway(EXPORT_ANYWAY, self.export_anyway)

    async def export_anyway(self, interaction: discord.Interaction[Any], match: re.Match[str]) -> None:
        await send_export(self.service, interaction, note=EXPIRED_NOTE)

    # -- which servers the bot is in (for purging a server's data after removal) -------

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.maintenance.guild_present(guild.id)

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        if not self.bot.is_ready():
            return  # connecting: on_ready reconciles every server at once, in one transaction
        await self.maintenance.guild_present(guild.id)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        await self.maintenance.guild_removed(guild.id)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        if self.bot.is_closed():
            return
        try:
            gone = await self.maintenance.reconcile_for(
                self.bot.application_id, lambda: [g.id for g in self.bot.guilds]
            )
        except StorageError:  # the bot is shutting down while it was connecting
            log.debug("reconcile skipped: the database is closed")
            return
        if gone:
            log.info("found servers the bot was removed from while offline count=%d", len(gone))
