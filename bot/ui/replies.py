"""Answering interactions: ephemeral by default, followup when already answered."""

from __future__ import annotations

from typing import Any

import discord

from bot.ui.limits import FittedLayoutView
from bot.ui.style import NO_PINGS


def needs_listening(view: discord.ui.View | discord.ui.LayoutView) -> bool:
    """Whether a view must stay registered to work: it has a button or select with its own callback.

    Text-only cards and cards whose buttons are all ``DynamicItem`` (dispatched by their custom_id
    template, from a fresh view built from the message) don't. discord.py would otherwise keep every
    ephemeral one alive for 15 minutes with a timer task each.
    """
    return any(item.is_dispatchable() and not isinstance(item, discord.ui.DynamicItem) for item in view.walk_children())


async def reply(
    interaction: discord.Interaction[Any],
    content: str | None = None,
    *,
    ephemeral: bool = True,
    embed: discord.Embed | None = None,
    view: discord.ui.View | discord.ui.LayoutView | None = None,
    file: discord.File | None = None,
) -> None:
    """Send a reply that only the person sees (unless ``ephemeral=False``), never pinging anyone."""
    kwargs: dict[str, Any] = {"ephemeral": ephemeral, "allowed_mentions": NO_PINGS}
    if content is not None:
        kwargs["content"] = content
    if embed is not None:
        kwargs["embed"] = embed
    if view is not None:
        if not needs_listening(view):
            # Nothing on it runs through this view object: don't let discord.py keep it (and a
            # 15-minute timer) for every private card it sends. See ``needs_listening``.
            view.stop()
        kwargs["view"] = view
    if file is not None:
        kwargs["file"] = file
    if interaction.response.is_done():
        await interaction.followup.send(**kwargs)
    else:
        await interaction.response.send_message(**kwargs)


def text_card(*sections: str, accent: discord.Colour | None = None) -> discord.ui.LayoutView:
    """A calm Components V2 card: one container, one text block per section, separators between."""
    view = FittedLayoutView(timeout=None)
    container: discord.ui.Container[discord.ui.LayoutView] = discord.ui.Container(accent_colour=accent)
    for index, section in enumerate(sections):
        if index:
            container.add_item(discord.ui.Separator())
        container.add_item(discord.ui.TextDisplay(section))
    view.add_item(container)
    return view
