"""A calm two-button confirmation, edited in place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.ui.errors import ErrorHandlingView

OnConfirm = Callable[[discord.Interaction[Any]], Awaitable[None]]


class ConfirmView(ErrorHandlingView):
    """``Confirm`` runs the action; ``Cancel`` says nothing changed. Only the asker can press."""

    def __init__(
        self,
        owner_id: int,
        on_confirm: OnConfirm,
        *,
        confirm_label: str,
        cancel_label: str = "Cancel",
        cancelled_text: str = "Okay, nothing was changed.",
        danger: bool = True,
        timeout: float = 600,
    ) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id
        self.on_confirm = on_confirm
        self.cancelled_text = cancelled_text
        confirm: discord.ui.Button[ConfirmView] = discord.ui.Button(
            label=confirm_label, style=discord.ButtonStyle.danger if danger else discord.ButtonStyle.primary
        )
        cancel: discord.ui.Button[ConfirmView] = discord.ui.Button(
            label=cancel_label, style=discord.ButtonStyle.secondary
        )
        confirm.callback = self._confirm  # type: ignore[method-assign]
        cancel.callback = self._cancel  # type: ignore[method-assign]
        self.add_item(confirm)
        self.add_item(cancel)

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return interaction.user.id == self.owner_id

    async def _confirm(self, interaction: discord.Interaction[Any]) -> None:
        self.stop()
        await self.on_confirm(interaction)

    async def _cancel(self, interaction: discord.Interaction[Any]) -> None:
        self.stop()
        await interaction.response.edit_message(content=self.cancelled_text, view=None)
