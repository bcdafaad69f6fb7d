"""Buttons and forms for one-on-one support. Persistent buttons are DynamicItems whose custom_ids
carry only a conversation's or offer's random public id (or a block number): never a person."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Protocol

import discord

from bot.services.support.models import COMMENT_LIMIT, NOTE_LIMIT, TOPIC_LIMIT
from bot.ui.errors import ErrorHandlingModal
from bot.ui.routing import Route, routed


class SupportHandlers(Protocol):
    """What the persistent buttons call (implemented by the support cog, wired in setup_hook)."""

    async def on_action(self, interaction: discord.Interaction[Any], action: str, public_id: str) -> None: ...

    async def on_offer(self, interaction: discord.Interaction[Any], action: str, offer_public_id: str) -> None: ...

    async def on_feedback(self, interaction: discord.Interaction[Any], public_id: str, score: int) -> None: ...

    async def on_unblock(self, interaction: discord.Interaction[Any], block_id: int) -> None: ...


SUPPORT: Route[SupportHandlers] = Route("support")


class ActionButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"support:(?P<action>end|handoff|block|reveal|cancel|say|comment|heavy|debrief|claim):(?P<id>[0-9a-f]{16})",
):
    LABELS: ClassVar[dict[str, tuple[str, discord.ButtonStyle]]] = {
        "end": ("End conversation", discord.ButtonStyle.secondary),
        "handoff": ("Hand off", discord.ButtonStyle.secondary),
        "block": ("End and block", discord.ButtonStyle.danger),
        "reveal": ("Share my account with the listener", discord.ButtonStyle.secondary),
        "cancel": ("Withdraw request", discord.ButtonStyle.secondary),
        "say": ("Reply to the member", discord.ButtonStyle.primary),
        "comment": ("Add a comment for the coordinators", discord.ButtonStyle.secondary),
        "heavy": ("That one was heavy", discord.ButtonStyle.secondary),
        "debrief": ("Ask a coordinator for a debrief", discord.ButtonStyle.primary),
        "claim": ("Accept", discord.ButtonStyle.success),
    }

    def __init__(self, action: str, public_id: str) -> None:
        label, style = self.LABELS[action]
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=f"support:{action}:{public_id}"))
        self.action = action
        self.public_id = public_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ActionButton:
        return cls(match["action"], match["id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await routed(interaction, SUPPORT, lambda h: h.on_action(interaction, self.action, self.public_id))


class OfferButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"support:offer:(?P<action>accept|pass):(?P<id>[0-9a-f]{16})",
):
    def __init__(self, action: str, offer_public_id: str) -> None:
        label, style = (
            ("Accept", discord.ButtonStyle.success) if action == "accept" else ("Pass", discord.ButtonStyle.secondary)
        )
        super().__init__(
            discord.ui.Button(label=label, style=style, custom_id=f"support:offer:{action}:{offer_public_id}")
        )
        self.action = action
        self.offer_public_id = offer_public_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> OfferButton:
        return cls(match["action"], match["id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await routed(interaction, SUPPORT, lambda h: h.on_offer(interaction, self.action, self.offer_public_id))


class FeedbackButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"support:fb:(?P<id>[0-9a-f]{16}):(?P<score>[1-5])"
):
    def __init__(self, public_id: str, score: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=str(score), style=discord.ButtonStyle.secondary, custom_id=f"support:fb:{public_id}:{score}"
            )
        )
        self.public_id = public_id
        self.score = score

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> FeedbackButton:
        return cls(match["id"], int(match["score"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await routed(interaction, SUPPORT, lambda h: h.on_feedback(interaction, self.public_id, self.score))


class UnblockButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"support:unblock:(?P<block>\d+)"):
    def __init__(self, block_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Lift block", style=discord.ButtonStyle.secondary, custom_id=f"support:unblock:{block_id}"
            )
        )
        self.block_id = block_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> UnblockButton:
        return cls(int(match["block"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await routed(interaction, SUPPORT, lambda h: h.on_unblock(interaction, self.block_id))


DYNAMIC_ITEMS = (ActionButton, OfferButton, FeedbackButton, UnblockButton)


APPEAR_ANONYMOUS = "anonymous"
APPEAR_NAMED = "named"


class AskModal(ErrorHandlingModal):
    """/support ask: an optional topic, and how to appear. Nothing is stored until submitted."""

    def __init__(self, on_done: Callable[[discord.Interaction[Any], str, bool], Awaitable[None]]) -> None:
        super().__init__(card="support:ask", title="Talk with a listener", timeout=1800)
        self._on_done = on_done
        self.topic: discord.ui.TextInput[AskModal] = discord.ui.TextInput(
            custom_id="support:topic",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=TOPIC_LIMIT,
            placeholder="e.g. a hard day at work, feeling low, just want to talk",
        )
        self.appear: discord.ui.Select[AskModal] = discord.ui.Select(
            custom_id="support:appear",
            options=[
                discord.SelectOption(
                    label="Anonymously",
                    value=APPEAR_ANONYMOUS,
                    description="As “Member” and a short random tag",
                    default=True,
                ),
                discord.SelectOption(
                    label="By my name", value=APPEAR_NAMED, description="Your display name in this server"
                ),
            ],
            min_values=1,
            max_values=1,
        )
        self.add_item(
            discord.ui.Label(
                text="What would you like to talk about? (optional)",
                description="Only the listener who takes your request sees this. It's deleted when you finish.",
                component=self.topic,
            )
        )
        self.add_item(
            discord.ui.Label(
                text="How would you like to appear?",
                description="Nobody sees your account either way, unless you choose to share it later.",
                component=self.appear,
            )
        )

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        named = bool(self.appear.values) and self.appear.values[0] == APPEAR_NAMED
        await self._on_done(interaction, self.topic.value, named)


class TextModal(ErrorHandlingModal):
    """One paragraph field: a reply in thread mode, a message to leave, a handover note, a comment."""

    def __init__(
        self,
        title: str,
        label: str,
        on_done: Callable[[discord.Interaction[Any], str], Awaitable[None]],
        *,
        card: str,
        required: bool = True,
        max_length: int = 2000,
        description: str | None = None,
    ) -> None:
        super().__init__(card=card, title=title[:45], timeout=1800)
        self._on_done = on_done
        self.field: discord.ui.TextInput[TextModal] = discord.ui.TextInput(
            custom_id="support:text", style=discord.TextStyle.paragraph, max_length=max_length, required=required
        )
        self.add_item(discord.ui.Label(text=label, description=description, component=self.field))

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self._on_done(interaction, self.field.value)


__all__ = [
    "COMMENT_LIMIT",
    "DYNAMIC_ITEMS",
    "NOTE_LIMIT",
    "ActionButton",
    "AskModal",
    "FeedbackButton",
    "OfferButton",
    "TextModal",
    "UnblockButton",
]
