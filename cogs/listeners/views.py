"""Buttons for listeners and the rota. Persistent ones are DynamicItems whose custom_ids carry only
a random public id (an application, a swap) or nothing at all (the board): never a person.

Their labels are in the language of whoever reads the message they are on (the ``Speaker`` given:
the server's for the board and the coordinators' review card, the listener's for a swap offer). A
button rebuilt from its custom_id on a press is never shown, so it needs no reader."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar, Protocol

import discord

from bot.i18n import N_, SOURCE, Speaker, speaker
from bot.ui.routing import Route, routed


class ListenerHandlers(Protocol):
    """What the persistent buttons call (implemented by the listeners cog, wired in setup_hook)."""

    async def on_review(self, interaction: discord.Interaction[Any], action: str, public_id: str) -> None: ...

    async def on_board(self, interaction: discord.Interaction[Any], action: str) -> None: ...

    async def on_swap(self, interaction: discord.Interaction[Any], action: str, public_id: str) -> None: ...


LISTENERS: Route[ListenerHandlers] = Route("listeners")


class ReviewButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"listener:review:(?P<action>approve|decline):(?P<id>[0-9a-f]{16})",
):
    def __init__(self, action: str, public_id: str, *, t: Speaker | None = None) -> None:
        t = t or speaker(SOURCE)
        label, style = (
            (t.p("button", "Approve"), discord.ButtonStyle.success)
            if action == "approve"
            else (t.p("button", "Decline"), discord.ButtonStyle.secondary)
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
        await routed(interaction, LISTENERS, lambda h: h.on_review(interaction, self.action, self.public_id))


class BoardButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"rota:board:(?P<action>take|drop|mine)"):
    LABELS: ClassVar[dict[str, tuple[str, discord.ButtonStyle]]] = {
        "take": (N_("Take a shift"), discord.ButtonStyle.primary),
        "drop": (N_("Drop a shift"), discord.ButtonStyle.secondary),
        "mine": (N_("My shifts"), discord.ButtonStyle.secondary),
    }

    def __init__(self, action: str, *, t: Speaker | None = None) -> None:
        label, style = self.LABELS[action]
        super().__init__(
            discord.ui.Button(label=(t or speaker(SOURCE))(label), style=style, custom_id=f"rota:board:{action}")
        )
        self.action = action

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> BoardButton:
        return cls(match["action"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await routed(interaction, LISTENERS, lambda h: h.on_board(interaction, self.action))


class SwapButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"rota:swap:(?P<action>accept|decline):(?P<id>[0-9a-f]{16})",
):
    def __init__(self, action: str, public_id: str, *, t: Speaker | None = None) -> None:
        t = t or speaker(SOURCE)
        label, style = (
            (t.p("button", "Accept swap"), discord.ButtonStyle.success)
            if action == "accept"
            else (t.p("button", "Decline"), discord.ButtonStyle.secondary)
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
        await routed(interaction, LISTENERS, lambda h: h.on_swap(interaction, self.action, self.public_id))


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
