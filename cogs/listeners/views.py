"""Buttons for listeners and the rota. Persistent ones are DynamicItems whose custom_ids carry only
a random public id (an application, a swap) or nothing at all (the board): never a person."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ClassVar

import discord

from bot.ui.errors import handle_interaction_error

if TYPE_CHECKING:
    from cogs.listeners.cog import ListenersCog


def _cog(interaction: discord.Interaction[Any]) -> ListenersCog:
    cog = interaction.client.get_cog("ListenersCog")
    if cog is None:  # pragma: no cover - the items are registered by the cog
        raise RuntimeError("listeners cog not loaded")
    return cog


class ReviewButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"listener:review:(?P<action>approve|decline):(?P<id>[0-9a-f]{16})",
):
    def __init__(self, action: str, public_id: str) -> None:
        label, style = (
            ("Approve", discord.ButtonStyle.success)
            if action == "approve"
            else ("Decline", discord.ButtonStyle.secondary)
        )
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=f"listener:review:{action}:{public_id}"))
        self.action = action
        self.public_id = public_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ReviewButton:
        return cls(match["action"], match["id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await _cog(interaction).on_review(interaction, self.action, self.public_id)
        except Exception as exc:
            await handle_interaction_error(interaction, exc)


class BoardButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"rota:board:(?P<action>take|drop|mine)"):
    LABELS: ClassVar[dict[str, tuple[str, discord.ButtonStyle]]] = {
        "take": ("Take a shift", discord.ButtonStyle.primary),
        "drop": ("Drop a shift", discord.ButtonStyle.secondary),
        "mine": ("My shifts", discord.ButtonStyle.secondary),
    }

    def __init__(self, action: str) -> None:
        label, style = self.LABELS[action]
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=f"rota:board:{action}"))
        self.action = action

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> BoardButton:
        return cls(match["action"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await _cog(interaction).on_board(interaction, self.action)
        except Exception as exc:
            await handle_interaction_error(interaction, exc)


class SwapButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"rota:swap:(?P<action>accept|decline):(?P<id>[0-9a-f]{16})",
):
    def __init__(self, action: str, public_id: str) -> None:
        label, style = (
            ("Accept swap", discord.ButtonStyle.success)
            if action == "accept"
            else ("Decline", discord.ButtonStyle.secondary)
        )
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=f"rota:swap:{action}:{public_id}"))
        self.action = action
        self.public_id = public_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> SwapButton:
        return cls(match["action"], match["id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await _cog(interaction).on_swap(interaction, self.action, self.public_id)
        except Exception as exc:
            await handle_interaction_error(interaction, exc)


DYNAMIC_ITEMS = (ReviewButton, BoardButton, SwapButton)


def select(
    placeholder: str,
    options: list[tuple[str, str]],
    handler: Callable[[discord.Interaction[Any], str], Coroutine[Any, Any, None]],
) -> discord.ui.Select[Any]:
    item: discord.ui.Select[Any] = discord.ui.Select(
        placeholder=placeholder,
        options=[discord.SelectOption(label=label[:100], value=value) for label, value in options[:25]],
        min_values=1,
        max_values=1,
    )

    async def chosen(interaction: discord.Interaction[Any]) -> None:
        await handler(interaction, item.values[0])

    item.callback = chosen  # type: ignore[method-assign]
    return item
