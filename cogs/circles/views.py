"""Modals and views for circles. All are ephemeral and short-lived; custom_ids carry no identity
(their card name, an action and a random nonce: see bot.ui.cards)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.services.circles import DEFAULT_GROUND_RULES, RULES_LIMIT
from bot.storage.circles import Circle
from bot.ui.errors import ErrorHandlingModal, ErrorHandlingView

OnRules = Callable[[discord.Interaction[Any], str], Awaitable[None]]
OnAction = Callable[[discord.Interaction[Any]], Awaitable[None]]


class GroundRulesModal(ErrorHandlingModal):
    def __init__(self, title: str, current: str, on_submit: OnRules, *, card: str) -> None:
        super().__init__(card=card, title=title[:45], timeout=900)
        self._on_submit = on_submit
        self.rules: discord.ui.TextInput[GroundRulesModal] = discord.ui.TextInput(
            custom_id="circle:rules",
            style=discord.TextStyle.paragraph,
            default=current or DEFAULT_GROUND_RULES,
            max_length=RULES_LIMIT,
            required=False,
        )
        self.add_item(
            discord.ui.Label(
                text="Ground rules",
                description="Shown to everyone before they join. Leave empty for the default rules.",
                component=self.rules,
            )
        )

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self._on_submit(interaction, self.rules.value)


def join_text(circle: Circle) -> str:
    anonymous = (
        f"Anonymous sharing is on ({circle.pseudonym_rotation.label}); nobody can look up who wrote a share."
        if circle.anonymous_sharing
        else "Anonymous sharing is off in this circle."
    )
    visibility = "a private channel only members can see" if circle.is_private else "its channel"
    return (
        f"## Join {circle.name}\n"
        f"{circle.description}\n\n"
        f"**Ground rules**\n{circle.ground_rules}\n\n"
        "**What this means for your data**\n"
        f"- Joining gives you the *Circle: {circle.name}* role, which opens {visibility}. "
        "Like any role, people in the server can see it on your profile.\n"
        f"- I note that you agreed to these rules, until you leave. What you post in the circle is kept for "
        f"{circle.retention_days} days at most.\n"
        f"- {anonymous}\n"
        "- You can leave at any time with /circle leave, and see or delete your data with /privacy."
    )


class JoinView(ErrorHandlingView):
    def __init__(self, owner_id: int, on_join: OnAction) -> None:
        super().__init__(card="circle:join", timeout=900)
        self.owner_id = owner_id
        self._on_join = on_join

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return interaction.user.id == self.owner_id

    @discord.ui.button(label="I agree, join", style=discord.ButtonStyle.success)
    async def agree(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        await self._on_join(interaction)

    @discord.ui.button(label="Not now", style=discord.ButtonStyle.secondary)
    async def later(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        await interaction.response.edit_message(
            content="No problem. You can join whenever you're ready with /circle join.", view=None
        )


class LeaveDataView(ErrorHandlingView):
    def __init__(self, owner_id: int, on_delete: OnAction) -> None:
        super().__init__(card="circle:leave", timeout=900)
        self.owner_id = owner_id
        self._on_delete = on_delete

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return interaction.user.id == self.owner_id

    @discord.ui.button(label="Delete my data in this circle", style=discord.ButtonStyle.danger)
    async def forget(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        await self._on_delete(interaction)

    @discord.ui.button(label="Keep it", style=discord.ButtonStyle.secondary)
    async def keep(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        await interaction.response.edit_message(
            content="Okay, I kept it. It is deleted on schedule, or any time with /privacy.", view=None
        )
