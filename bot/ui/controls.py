"""Small building blocks for private cards whose buttons run closures (previews, confirmations)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import discord

from bot.ui.errors import ErrorHandlingLayoutView

Handler = Callable[[discord.Interaction[Any]], Coroutine[Any, Any, None]]


class Controls(ErrorHandlingLayoutView):
    """A Components V2 card only its owner can press; errors go through the one handler."""

    def __init__(self, owner_id: int, *sections: discord.ui.Item[Any], timeout: float = 1800) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id
        for section in sections:
            self.add_item(section)

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return interaction.user.id == self.owner_id


def button(
    label: str, handler: Handler, style: discord.ButtonStyle = discord.ButtonStyle.secondary
) -> discord.ui.Button[Any]:
    item: discord.ui.Button[Any] = discord.ui.Button(label=label, style=style)
    item.callback = handler  # type: ignore[method-assign,assignment]
    return item


def row(*items: discord.ui.Item[Any]) -> discord.ui.ActionRow[Any]:
    action_row: discord.ui.ActionRow[Any] = discord.ui.ActionRow()
    for item in items:
        action_row.add_item(item)
    return action_row
