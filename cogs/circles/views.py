"""Modals and views for circles. All are ephemeral and short-lived; custom_ids carry no identity
(their card name, an action and a random nonce: see bot.ui.cards). Everything here is read by one
person, in their own language (the ``t`` they are built with)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.i18n import N_, Speaker
from bot.services.circles import DEFAULT_GROUND_RULES, RULES_LIMIT
from bot.storage.circles import Circle, Rotation
from bot.ui.errors import ErrorHandlingModal, ErrorHandlingView
from bot.ui.language import reader

OnRules = Callable[[discord.Interaction[Any], str], Awaitable[None]]
OnAction = Callable[[discord.Interaction[Any]], Awaitable[None]]

ROTATION_LABELS = {
    Rotation.PER_POST: N_("a new pseudonym for every post"),
    Rotation.DAILY: N_("a new pseudonym each day"),
    Rotation.WEEKLY: N_("a new pseudonym each week"),
    Rotation.FIXED: N_("the same pseudonym in this circle"),
}


def rotation_label(rotation: Rotation, t: Speaker) -> str:
    return t(ROTATION_LABELS[rotation])


def ground_rules(circle: Circle, t: Speaker) -> str:
    """The circle's ground rules: the default ones in the reader's language, a circle's own as written."""
    return t(DEFAULT_GROUND_RULES) if circle.ground_rules == DEFAULT_GROUND_RULES else circle.ground_rules


def _same_text(a: str, b: str) -> bool:
    return a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()


class GroundRulesModal(ErrorHandlingModal):
    """The ground rules form. The default rules show in the writer's language; sent back unchanged,
    they stay the defaults (stored in English, shown to each reader in theirs)."""

    def __init__(self, title: str, current: str, on_submit: OnRules, *, card: str, t: Speaker) -> None:
        super().__init__(card=card, title=title[:45], timeout=900)
        self._on_submit = on_submit
        self._default = t(DEFAULT_GROUND_RULES)
        shown = self._default if not current or current == DEFAULT_GROUND_RULES else current
        self.rules: discord.ui.TextInput[GroundRulesModal] = discord.ui.TextInput(
            custom_id="circle:rules",
            style=discord.TextStyle.paragraph,
            default=shown[:RULES_LIMIT],
            max_length=RULES_LIMIT,
            required=False,
        )
        self.add_item(
            discord.ui.Label(
                text=t("Ground rules"),
                description=t("Shown to everyone before they join. Leave empty for the default rules."),
                component=self.rules,
            )
        )

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        text = self.rules.value
        await self._on_submit(interaction, DEFAULT_GROUND_RULES if _same_text(text, self._default) else text)


def join_text(circle: Circle, t: Speaker, role: str | None = None) -> str:
    """The consent card. ``role`` is the member role's name as Discord shows it."""
    role = role or t("Circle: {name}", name=circle.name)
    anonymous = (
        t(
            "- Anonymous sharing is on ({rotation}); nobody can look up who wrote a share.",
            rotation=rotation_label(circle.pseudonym_rotation, t),
        )
        if circle.anonymous_sharing
        else t("- Anonymous sharing is off in this circle.")
    )
    if circle.is_private:
        opens = t(
            "- Joining gives you the *{role}* role, which opens a private channel only members can see. "
            "Like any role, people in the server can see it on your profile.",
            role=role,
        )
    else:
        opens = t(
            "- Joining gives you the *{role}* role, which opens its channel. "
            "Like any role, people in the server can see it on your profile.",
            role=role,
        )
    kept = t.n(
        "- I note that you agreed to these rules, until you leave. What you post in the circle is kept for "
        "{n} day at most.",
        "- I note that you agreed to these rules, until you leave. What you post in the circle is kept for "
        "{n} days at most.",
        circle.retention_days,
    )
    return "\n".join(
        [
            t("## Join {name}", name=circle.name),
            f"{circle.description}\n",
            t("**Ground rules**\n{rules}", rules=ground_rules(circle, t)) + "\n",
            t("**What this means for your data**"),
            opens,
            kept,
            anonymous,
            t("- You can leave at any time with /circle leave, and see or delete your data with /privacy."),
        ]
    )


class JoinView(ErrorHandlingView):
    def __init__(self, owner_id: int, on_join: OnAction, t: Speaker) -> None:
        super().__init__(card="circle:join", timeout=900)
        self.owner_id = owner_id
        self._on_join = on_join
        self.agree.label = t("I agree, join")
        self.later.label = t("Not now")

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return interaction.user.id == self.owner_id

    @discord.ui.button(label="I agree, join", style=discord.ButtonStyle.success)
    async def agree(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        await self._on_join(interaction)

    @discord.ui.button(label="Not now", style=discord.ButtonStyle.secondary)
    async def later(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        t = reader(interaction)
        await interaction.response.edit_message(
            content=t("No problem. You can join whenever you're ready with /circle join."), view=None
        )


class LeaveDataView(ErrorHandlingView):
    def __init__(self, owner_id: int, on_delete: OnAction, t: Speaker) -> None:
        super().__init__(card="circle:leave", timeout=900)
        self.owner_id = owner_id
        self._on_delete = on_delete
        self.forget.label = t("Delete my data in this circle")
        self.keep.label = t("Keep it")

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return interaction.user.id == self.owner_id

    @discord.ui.button(label="Delete my data in this circle", style=discord.ButtonStyle.danger)
    async def forget(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        await self._on_delete(interaction)

    @discord.ui.button(label="Keep it", style=discord.ButtonStyle.secondary)
    async def keep(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        t = reader(interaction)
        await interaction.response.edit_message(
            content=t("Okay, I kept it. It is deleted on schedule, or any time with /privacy."), view=None
        )
