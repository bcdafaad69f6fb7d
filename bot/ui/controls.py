"""Small building blocks for private cards whose buttons run closures (previews, confirmations)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import discord

from bot.ui.errors import ErrorHandlingLayoutView

Handler = Callable[[discord.Interaction[Any]], Coroutine[Any, Any, None]]


class Controls(ErrorHandlingLayoutView):
    """A Components V2 card only its owner can press; errors go through the one handler.

    ``card`` names it (see :mod:`bot.ui.cards`): a press after it expired is answered with the
    command that opens it again. A button finishes the card when its work is done, unless it was
    made with ``keeps_card=True``; a double click does the work once.
    """

    def __init__(self, owner_id: int, *sections: discord.ui.Item[Any], card: str, timeout: float = 1800) -> None:
        super().__init__(card=card, timeout=timeout)
        self.owner_id = owner_id
        for section in sections:
            self.add_item(section)

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return interaction.user.id == self.owner_id


def button(
    label: str,
    handler: Handler,
    style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    *,
    keeps_card: bool = False,
    action: str | None = None,
) -> discord.ui.Button[Any]:
    """A button that runs ``handler``. ``keeps_card``: the card stays usable after it (a button that
    opens a form, or adds something beside the card). ``action``: a name for its custom_id."""
    item: discord.ui.Button[Any] = discord.ui.Button(label=label, style=style)
    item.callback = handler  # type: ignore[method-assign,assignment]
    item.keeps_card = keeps_card  # type: ignore[attr-defined]
    if action is not None:
        item.card_action = action  # type: ignore[attr-defined]
    return item


def row(*items: discord.ui.Item[Any]) -> discord.ui.ActionRow[Any]:
    action_row: discord.ui.ActionRow[Any] = discord.ui.ActionRow()
    for item in items:
        action_row.add_item(item)
    return action_row
