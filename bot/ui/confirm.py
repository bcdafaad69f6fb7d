"""A calm two-button confirmation, edited in place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.i18n import N_, SOURCE, Speaker, speaker
from bot.ui.errors import ErrorHandlingView
from bot.ui.language import reader

OnConfirm = Callable[[discord.Interaction[Any]], Awaitable[None]]

CANCEL = N_("Cancel")
CANCELLED = N_("Okay, nothing was changed.")


class ConfirmView(ErrorHandlingView):
    """``Confirm`` runs the action; ``Cancel`` says nothing changed. Only the asker can press.

    ``card`` names the card (see :mod:`bot.ui.cards`). A double click on Confirm runs the action once.
    Labels are given in the asker's language; ``t`` (the asker's reader) says the default Cancel
    label; the default "nothing was changed" is said in the language of whoever presses Cancel.
    """

    def __init__(
        self,
        owner_id: int,
        on_confirm: OnConfirm,
        *,
        card: str,
        confirm_label: str,
        cancel_label: str | None = None,
        cancelled_text: str | None = None,
        danger: bool = True,
        timeout: float = 600,
        t: Speaker | None = None,
    ) -> None:
        super().__init__(card=card, timeout=timeout)
        self.owner_id = owner_id
        self.on_confirm = on_confirm
        self.cancelled_text = cancelled_text
        confirm: discord.ui.Button[ConfirmView] = discord.ui.Button(
            label=confirm_label, style=discord.ButtonStyle.danger if danger else discord.ButtonStyle.primary
        )
        cancel: discord.ui.Button[ConfirmView] = discord.ui.Button(
            label=cancel_label or (t or speaker(SOURCE))(CANCEL), style=discord.ButtonStyle.secondary
        )
        confirm.callback = self._confirm  # type: ignore[method-assign]
        cancel.callback = self._cancel  # type: ignore[method-assign]
        confirm.card_action = "confirm"  # type: ignore[attr-defined]
        cancel.card_action = "cancel"  # type: ignore[attr-defined]
        self.add_item(confirm)
        self.add_item(cancel)

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return interaction.user.id == self.owner_id

    async def _confirm(self, interaction: discord.Interaction[Any]) -> None:
        await self.on_confirm(interaction)  # the card finishes when it succeeds (see bot.ui.cards)

    async def _cancel(self, interaction: discord.Interaction[Any]) -> None:
        text = self.cancelled_text or reader(interaction)(CANCELLED)
        await interaction.response.edit_message(content=text, view=None)
