"""One error handler for slash commands, views and modals.

Domain errors (:class:`bot.errors.PeerCirclesError`) become a kind ephemeral message saying what
to do. Anything unexpected becomes an apology with a short reference code; the traceback goes to
the log only, with that code, the command name and the interaction id (never user ids or text).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, cast

import discord
from discord import app_commands

from bot.errors import MissingBotPermissions, NotAllowed, PeerCirclesError, ServerOnly, bold_permissions
from bot.i18n import N_, Msg, language_of, msg, msgs, set_typing_language
from bot.ui.cards import ALREADY, CardGuard, new_nonce, require_card, say_privately
from bot.ui.language import reader
from bot.ui.limits import FittedLayoutView, FittedView, fit_modal
from bot.ui.replies import reply

log = logging.getLogger("bot.errors")

# Discord's own names for its permissions (translated where they are shown).
PERMISSION_NAMES = {
    "manage_roles": N_("Manage Roles"),
    "manage_channels": N_("Manage Channels"),
    "manage_guild": N_("Manage Server"),
    "manage_events": N_("Manage Events"),
    "create_events": N_("Create Events"),
    "send_messages": N_("Send Messages"),
    "send_messages_in_threads": N_("Send Messages in Threads"),
    "embed_links": N_("Embed Links"),
    "attach_files": N_("Attach Files"),
    "create_public_threads": N_("Create Public Threads"),
    "create_private_threads": N_("Create Private Threads"),
    "manage_threads": N_("Manage Threads"),
    "read_message_history": N_("Read Message History"),
    "view_channel": N_("View Channels"),
}


def new_reference() -> str:
    """A short code a person can quote to an admin, matching one log line."""
    return secrets.token_hex(3).upper()


def _permission_names(raw: list[str]) -> list[str]:
    return [PERMISSION_NAMES.get(p, p.replace("_", " ").title()) for p in raw]


def _where(interaction: discord.Interaction[Any]) -> str | None:
    channel = interaction.channel
    name = getattr(channel, "name", None)
    return f"#{name}" if name else None


def describe_error(interaction: discord.Interaction[Any], error: BaseException) -> str:
    """The message for the person, in their language; logs unexpected errors with a reference code."""
    return reader(interaction).render(_error_message(interaction, error))


def _error_message(interaction: discord.Interaction[Any], error: BaseException) -> Msg:
    original = error
    while isinstance(original, (app_commands.CommandInvokeError, app_commands.TransformerError)) and original.__cause__:
        original = original.__cause__
    if isinstance(original, app_commands.CommandInvokeError):
        original = original.original
    if isinstance(original, PeerCirclesError):
        return original.message
    if isinstance(original, app_commands.TransformerError):
        return msg(
            "I couldn't use “{value}” as a {kind}. Please pick one from the list Discord offers.",
            value=str(original.value)[:60],
            kind=original.type.name.replace("_", " "),
        )
    if isinstance(original, app_commands.BotMissingPermissions):
        return MissingBotPermissions(_permission_names(original.missing_permissions), _where(interaction)).message
    if isinstance(original, discord.Forbidden) and original.code == 50013:
        where = _where(interaction)
        fix = msg(
            "A server admin can fix this in Server Settings → Roles (give my role the permission, and for role "
            "changes keep my role above the roles I manage), or in the channel's permission settings. "
            "Nothing was changed."
        )
        if where:
            return msg("I'm missing a permission I need in {where}. {fix}", where=where, fix=fix)
        return msg("I'm missing a permission I need. {fix}", fix=fix)
    if isinstance(original, app_commands.MissingPermissions):
        names = bold_permissions(_permission_names(original.missing_permissions))
        return msgs(
            "That's for people with the {names} permission in this server.",
            "That's for people with the {names} permissions in this server.",
            len(names),
            names=names,
        )
    if isinstance(original, app_commands.NoPrivateMessage):
        return ServerOnly().message
    if isinstance(original, app_commands.CommandOnCooldown):
        return msg(
            "That was used a lot just now. Please try again in {seconds} seconds.",
            seconds=str(round(original.retry_after)),
        )
    if isinstance(original, app_commands.CheckFailure):
        return NotAllowed().message
    reference = new_reference()
    command = interaction.command.qualified_name if interaction.command else None
    custom_id = (
        cast(dict[str, Any], interaction.data or {}).get("custom_id")
        if interaction.type is not discord.InteractionType.application_command
        else None
    )
    log.error(
        "unexpected error ref=%s interaction=%s type=%s command=%s component=%s",
        reference,
        interaction.id,
        interaction.type.name,
        command,
        str(custom_id).split(":", 1)[0] if custom_id else None,
        exc_info=(type(original), original, original.__traceback__),
    )
    return msg(
        "Sorry, something went wrong on my side and that didn't work. Nothing you entered was shared. "
        "If it keeps happening, please tell a server admin the reference code **{reference}**.",
        reference=reference,
    )


async def handle_interaction_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    message = describe_error(interaction, error)
    try:
        await reply(interaction, message)
    except discord.HTTPException:
        log.warning("could not deliver an error message interaction=%s", interaction.id)


class ErrorHandlingView(FittedView):
    """Base for the bot's views: errors go through the one handler; presses are guarded per card.

    ``card`` is the registered card name (see :mod:`bot.ui.cards`); a view with buttons needs one.
    """

    def __init__(self, *, card: str | None = None, timeout: float | None = 180.0) -> None:
        super().__init__(timeout=timeout)
        self.card_guard = CardGuard(card)

    def to_components(self) -> list[dict[str, Any]]:
        self.card_guard.prepare(self)
        return super().to_components()

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        await handle_interaction_error(interaction, error)


class ErrorHandlingLayoutView(FittedLayoutView):
    def __init__(self, *, card: str | None = None, timeout: float | None = 180.0) -> None:
        super().__init__(timeout=timeout)
        self.card_guard = CardGuard(card)

    def to_components(self) -> list[dict[str, Any]]:
        self.card_guard.prepare(self)
        return super().to_components()

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        await handle_interaction_error(interaction, error)


class ErrorHandlingModal(discord.ui.Modal):
    """Base for the bot's forms. ``card`` names the form (its custom_id is ``<card>:<nonce>``), so a
    form submitted after it expired is answered with the command that opens it again. One submission
    is handled at a time; a second, concurrent one is told the first is in hand."""

    def __init__(self, *, card: str, title: str, timeout: float | None = None) -> None:
        super().__init__(title=title, timeout=timeout, custom_id=f"{require_card(card)}:{new_nonce()}")
        self._submitting = False

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        set_typing_language(language_of(interaction.locale.value))  # how this person writes days
        if self._submitting or self.is_finished():
            await say_privately(interaction, ALREADY)
            return False
        self._submitting = True  # released on error; on success discord.py stops the form
        return True

    def to_dict(self) -> dict[str, Any]:
        return fit_modal(super().to_dict())

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception) -> None:  # type: ignore[override]
        self._submitting = False
        await handle_interaction_error(interaction, error)
