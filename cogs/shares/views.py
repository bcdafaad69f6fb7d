"""Views for anonymous sharing. Public buttons are DynamicItems (they survive restarts) whose
custom_ids carry only the share's random public id or a report number: never a person.

Every view takes the Speaker of whoever reads it: the server's for what is posted for the circle
and its moderators (the share, its buttons, review and report cards), the person's own for forms.
A button rebuilt from its custom_id on a press is never shown, so it needs no reader.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Protocol

import discord

from bot.i18n import SOURCE, Speaker, speaker
from bot.services.shares import REPLY_LIMIT, TEXT_LIMIT, WARNING_LIMIT
from bot.storage.shares import Share
from bot.ui import forms
from bot.ui.anonymous import layout, share_container, support_label
from bot.ui.controls import Controls, Handler, button, row
from bot.ui.errors import ErrorHandlingModal
from bot.ui.routing import Route, routed

__all__ = [
    "SHARES",
    "Controls",
    "Handler",
    "ModButton",
    "ReviewButton",
    "ShareButton",
    "ShareHandlers",
    "ShareModal",
    "TextModal",
    "button",
    "row",
]


class ShareHandlers(Protocol):
    """What the persistent buttons call (implemented by the shares cog, wired in setup_hook)."""

    async def on_share_button(self, interaction: discord.Interaction[Any], action: str, public_id: str) -> None: ...

    async def on_mod_button(self, interaction: discord.Interaction[Any], action: str, report_id: int) -> None: ...

    async def on_review_button(self, interaction: discord.Interaction[Any], action: str, public_id: str) -> None: ...


SHARES: Route[ShareHandlers] = Route("shares")


def share_button_label(action: str, t: Speaker) -> str:
    if action == "reply":
        return t("Reply anonymously")
    if action == "support":
        return support_label(0, t)
    return t.p("button", "Report")


class _ShareButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"share:(?P<action>reply|support|report):(?P<id>[0-9a-f]{16})",
):
    def __init__(self, action: str, public_id: str, *, t: Speaker | None = None, label: str | None = None) -> None:
        t = t or speaker(SOURCE)
        styles = {
            "reply": discord.ButtonStyle.primary,
            "support": discord.ButtonStyle.secondary,
            "report": discord.ButtonStyle.secondary,
        }
        super().__init__(
            discord.ui.Button(
                label=label or share_button_label(action, t),
                style=styles[action],
                custom_id=f"share:{action}:{public_id}",
            )
        )
        self.action = action
        self.public_id = public_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> _ShareButton:
        return cls(match["action"], match["id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await routed(interaction, SHARES, lambda h: h.on_share_button(interaction, self.action, self.public_id))


ShareButton = _ShareButton


class ModButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"share:mod:(?P<action>remove|mute1d|mute7d|mutepermanent|dismiss):(?P<report>\d+)",
):
    STYLES: ClassVar[dict[str, discord.ButtonStyle]] = {
        "remove": discord.ButtonStyle.danger,
        "mute1d": discord.ButtonStyle.secondary,
        "mute7d": discord.ButtonStyle.secondary,
        "mutepermanent": discord.ButtonStyle.secondary,
        "dismiss": discord.ButtonStyle.success,
    }

    def __init__(self, action: str, report_id: int, *, t: Speaker | None = None) -> None:
        t = t or speaker(SOURCE)
        labels = {
            "remove": t("Remove post"),
            "mute1d": t("Mute poster 1 day"),
            "mute7d": t("Mute poster 7 days"),
            "mutepermanent": t("Mute poster"),
            "dismiss": t.p("button", "Dismiss"),
        }
        super().__init__(
            discord.ui.Button(
                label=labels[action], style=self.STYLES[action], custom_id=f"share:mod:{action}:{report_id}"
            )
        )
        self.action = action
        self.report_id = report_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ModButton:
        return cls(match["action"], int(match["report"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await routed(interaction, SHARES, lambda h: h.on_mod_button(interaction, self.action, self.report_id))


class ReviewButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"share:review:(?P<action>approve|reject):(?P<id>[0-9a-f]{16})",
):
    def __init__(self, action: str, public_id: str, *, t: Speaker | None = None) -> None:
        t = t or speaker(SOURCE)
        label, style = (
            (t.p("button", "Approve"), discord.ButtonStyle.success)
            if action == "approve"
            else (t.p("button", "Reject"), discord.ButtonStyle.danger)
        )
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=f"share:review:{action}:{public_id}"))
        self.action = action
        self.public_id = public_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ReviewButton:
        return cls(match["action"], match["id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await routed(interaction, SHARES, lambda h: h.on_review_button(interaction, self.action, self.public_id))


def public_share_view(share: Share, *, t: Speaker, allow_invites: bool) -> discord.ui.LayoutView:
    """The share as the circle sees it: ``t`` is the server's language."""
    buttons: list[discord.ui.Item[Any]] = [
        ShareButton("reply", share.public_id, t=t),
        ShareButton("support", share.public_id, label=support_label(share.support_count, t)),
        ShareButton("report", share.public_id, t=t),
    ]
    return layout(
        share_container(
            share.pseudonym, share.content or "", share.content_warning, buttons, t=t, allow_invites=allow_invites
        )
    )


class ShareModal(ErrorHandlingModal):
    def __init__(
        self,
        circle_name: str,
        on_done: Callable[[discord.Interaction[Any], str, str], Awaitable[None]],
        *,
        t: Speaker,
        text: str = "",
        warning: str = "",
    ) -> None:
        super().__init__(card="share:post", title=t("Share with {circle}", circle=circle_name)[:45], timeout=1800)
        self._on_done = on_done
        self.text: discord.ui.TextInput[ShareModal] = discord.ui.TextInput(
            custom_id="share:text", style=discord.TextStyle.paragraph, max_length=TEXT_LIMIT, default=text or None
        )
        self.warning: discord.ui.TextInput[ShareModal] = discord.ui.TextInput(
            custom_id="share:warning",
            required=False,
            max_length=WARNING_LIMIT,
            default=warning or None,
            placeholder=t("e.g. loss, self-harm, addiction"),
        )
        self.add_item(
            discord.ui.Label(
                text=t("What would you like to share?"),
                description=t("Nobody will see your name. You'll get a preview first."),
                component=self.text,
            )
        )
        self.add_item(
            discord.ui.Label(
                text=t("Content warning (optional)"),
                description=t("If set, your words are hidden behind a spoiler."),
                component=self.warning,
            )
        )

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self._on_done(interaction, self.text.value, self.warning.value)


class TextModal(forms.TextModal):
    """Replies, report reasons, review notes."""

    FIELD_ID = "share:field"
    MAX_LENGTH = REPLY_LIMIT


def disabled_public_buttons(t: Speaker, support_count: int = 0) -> list[discord.ui.Item[Any]]:
    """How the public buttons will look, inert, for the private preview (``t``: the server's
    language, as the circle will see them)."""
    return [
        discord.ui.Button(label=share_button_label("reply", t), style=discord.ButtonStyle.primary, disabled=True),
        discord.ui.Button(label=support_label(support_count, t), disabled=True),
        discord.ui.Button(label=share_button_label("report", t), disabled=True),
    ]
