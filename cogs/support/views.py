"""Buttons and forms for one-on-one support. Persistent buttons are DynamicItems whose custom_ids
carry only a conversation's or offer's random public id (or a block number): never a person."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Protocol

import discord

from bot.i18n import N_, SOURCE, Speaker, speaker
from bot.services.support.models import COMMENT_LIMIT, NOTE_LIMIT, TOPIC_LIMIT
from bot.ui import forms
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
        "end": (N_("End conversation"), discord.ButtonStyle.secondary),
        "handoff": (N_("Hand off"), discord.ButtonStyle.secondary),
        "block": (N_("End and block"), discord.ButtonStyle.danger),
        "reveal": (N_("Share my account with the listener"), discord.ButtonStyle.secondary),
        "cancel": (N_("Withdraw request"), discord.ButtonStyle.secondary),
        "say": (N_("Reply to the member"), discord.ButtonStyle.primary),
        "comment": (N_("Add a comment for the coordinators"), discord.ButtonStyle.secondary),
        "heavy": (N_("That one was heavy"), discord.ButtonStyle.secondary),
        "debrief": (N_("Ask a coordinator for a debrief"), discord.ButtonStyle.primary),
        "claim": (N_("Accept"), discord.ButtonStyle.success),
    }

    def __init__(self, action: str, public_id: str, *, t: Speaker | None = None) -> None:
        """``t``: the language of the card it is put on (a button rebuilt from a press needs none)."""
        label, style = self.LABELS[action]
        t = t or speaker(SOURCE)
        super().__init__(discord.ui.Button(label=t(label)[:80], style=style, custom_id=f"support:{action}:{public_id}"))
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
    def __init__(self, action: str, offer_public_id: str, *, t: Speaker | None = None) -> None:
        t = t or speaker(SOURCE)
        label, style = (
            (t("Accept"), discord.ButtonStyle.success)
            if action == "accept"
            else (t("Pass"), discord.ButtonStyle.secondary)
        )
        super().__init__(
            discord.ui.Button(label=label[:80], style=style, custom_id=f"support:offer:{action}:{offer_public_id}")
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
    def __init__(self, block_id: int, *, t: Speaker | None = None) -> None:
        t = t or speaker(SOURCE)
        super().__init__(
            discord.ui.Button(
                label=t("Lift block")[:80], style=discord.ButtonStyle.secondary, custom_id=f"support:unblock:{block_id}"
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

    def __init__(
        self, on_done: Callable[[discord.Interaction[Any], str, bool], Awaitable[None]], *, t: Speaker
    ) -> None:
        # Discord's limits: a form's title and a label 45 characters, descriptions and placeholders 100.
        super().__init__(card="support:ask", title=t("Talk with a listener")[:45], timeout=1800)
        self._on_done = on_done
        self.topic: discord.ui.TextInput[AskModal] = discord.ui.TextInput(
            custom_id="support:topic",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=TOPIC_LIMIT,
            placeholder=t("e.g. a hard day at work, feeling low, just want to talk")[:100],
        )
        self.appear: discord.ui.Select[AskModal] = discord.ui.Select(
            custom_id="support:appear",
            options=[
                discord.SelectOption(
                    label=t("Anonymously")[:100],
                    value=APPEAR_ANONYMOUS,
                    description=t("As “Member” and a short random tag")[:100],
                    default=True,
                ),
                discord.SelectOption(
                    label=t("By my name")[:100],
                    value=APPEAR_NAMED,
                    description=t("Your display name in this server")[:100],
                ),
            ],
            min_values=1,
            max_values=1,
        )
        # Translators: at most 45 characters (Discord's limit for a label in a form).
        topic_label = t("What would you like to talk about? (optional)")
        topic_note = t("Only the listener who takes your request sees this. It's deleted when you finish.")
        self.add_item(discord.ui.Label(text=topic_label[:45], description=topic_note[:100], component=self.topic))
        self.add_item(
            discord.ui.Label(
                text=t("How would you like to appear?")[:45],
                description=t("Nobody sees your account either way, unless you choose to share it later.")[:100],
                component=self.appear,
            )
        )

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        named = bool(self.appear.values) and self.appear.values[0] == APPEAR_NAMED
        await self._on_done(interaction, self.topic.value, named)


class TextModal(forms.TextModal):
    """A reply in thread mode, a message to leave, a handover note, a comment."""

    FIELD_ID = "support:text"


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
