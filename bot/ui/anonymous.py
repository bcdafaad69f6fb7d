"""The one path anonymous content leaves through.

Everything an anonymous share, reply or moderation copy shows is built here, from a pseudonym and
text only: no function in this module accepts a user, a member or an id of a person, so identity
cannot reach a message, a component, a thread name or a log line by this path. Every send uses
``allowed_mentions=none`` and the text is sanitised again (mentions neutralised, invites removed)
even though the service already did it.

The words around the text are in the language of whoever reads them, passed in as a
:class:`bot.i18n.Speaker`: for a share, its buttons, its reply thread and the moderators' copies,
the server's language (``server_speaker``), never the writer's, which would say something about them.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot.i18n import Speaker
from bot.services.sanitize import sanitize
from bot.ui.limits import FittedLayoutView
from bot.ui.style import NO_PINGS, SOFT_BLUE

log = logging.getLogger(__name__)

NO_MENTIONS = NO_PINGS
SHARE_COLOUR = SOFT_BLUE
MAX_TEXT = 3500


def _spoiler(text: str) -> str:
    return "||" + text.replace("|", "\\|") + "||"


def share_body(
    pseudonym: str, text: str, content_warning: str | None, *, t: Speaker, allow_invites: bool = False
) -> list[str]:
    """The readable parts of a share, as everyone will see them (``t``: the server's language)."""
    clean = sanitize(text, limit=MAX_TEXT, allow_invites=allow_invites)
    header = t("**{pseudonym}** shared anonymously", pseudonym=sanitize(pseudonym, limit=80))
    if content_warning:
        warning = sanitize(content_warning, limit=100)
        return [header, t("**Content warning:** {warning}\n{text}", warning=warning, text=_spoiler(clean))]
    return [header, clean]


def reply_body(pseudonym: str, text: str, is_author: bool, *, t: Speaker, allow_invites: bool = False) -> str:
    name = sanitize(pseudonym, limit=80)
    header = t("**{pseudonym}** (author)", pseudonym=name) if is_author else f"**{name}**"
    return f"{header}\n{sanitize(text, limit=MAX_TEXT, allow_invites=allow_invites)}"


def support_label(count: int, t: Speaker) -> str:
    return t("Sending support · {count}", count=t.number(count)) if count else t("Sending support")


def share_container(
    pseudonym: str,
    text: str,
    content_warning: str | None,
    buttons: list[discord.ui.Item[Any]],
    *,
    t: Speaker,
    allow_invites: bool = False,
) -> discord.ui.Container[Any]:
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=SHARE_COLOUR)
    header, body = share_body(pseudonym, text, content_warning, t=t, allow_invites=allow_invites)
    container.add_item(discord.ui.TextDisplay(header))
    container.add_item(discord.ui.TextDisplay(body))
    if buttons:
        container.add_item(discord.ui.Separator(visible=False))
        row: discord.ui.ActionRow[Any] = discord.ui.ActionRow()
        for button in buttons:
            row.add_item(button)
        container.add_item(row)
    return container


def layout(*items: discord.ui.Item[Any]) -> discord.ui.LayoutView:
    view = FittedLayoutView(timeout=None)
    for item in items:
        view.add_item(item)
    return view


JUMP = re.compile(r"^https://discord\.com/channels/\d+/\d+/\d+$")


class AnonymousSender:
    """Posts, edits and deletes anonymous content. Receives pseudonyms and text, never people."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    async def _channel(self, channel_id: int) -> Any:
        channel = self.client.get_channel(channel_id)
        if channel is None:
            channel = await self.client.fetch_channel(channel_id)
        return channel

    async def post(self, channel_id: int, view: discord.ui.LayoutView) -> discord.Message:
        channel = await self._channel(channel_id)
        message: discord.Message = await channel.send(view=view, allowed_mentions=NO_MENTIONS)
        return message

    async def post_share(
        self, channel_id: int, pseudonym: str, view: discord.ui.LayoutView, *, t: Speaker
    ) -> tuple[int, int | None]:
        """Post a share and open its reply thread (named after the pseudonym only, in ``t``'s language)."""
        message = await self.post(channel_id, view)
        thread_id: int | None = None
        try:
            name = t("Replies to {pseudonym}", pseudonym=sanitize(pseudonym, limit=80))
            thread = await message.create_thread(name=name[:100])
            thread_id = thread.id
        except discord.HTTPException:
            log.warning("could not open a reply thread message=%s", message.id)
        return message.id, thread_id

    async def post_reply(
        self, thread_id: int, pseudonym: str, text: str, is_author: bool, *, t: Speaker, allow_invites: bool
    ) -> int:
        thread = await self._channel(thread_id)
        if isinstance(thread, discord.Thread) and thread.archived:
            await thread.edit(archived=False)
        view = layout(discord.ui.TextDisplay(reply_body(pseudonym, text, is_author, t=t, allow_invites=allow_invites)))
        message: discord.Message = await thread.send(view=view, allowed_mentions=NO_MENTIONS)
        return message.id

    async def edit(self, channel_id: int, message_id: int, view: discord.ui.LayoutView) -> None:
        channel = await self._channel(channel_id)
        try:
            await channel.get_partial_message(message_id).edit(view=view, allowed_mentions=NO_MENTIONS)
        except discord.NotFound:
            log.info("anonymous message already gone message=%s", message_id)

    async def delete(self, channel_id: int, message_id: int) -> None:
        try:
            channel = await self._channel(channel_id)
            await channel.get_partial_message(message_id).delete()
        except discord.NotFound:
            log.info("anonymous message already gone message=%s", message_id)

    async def tell_privately(self, user_id: int, text: str) -> bool:
        """A DM to one person about their own content (a reply arrived, a review decision), already in
        their language (``member_speaker``). Says nobody's name."""
        try:
            user = self.client.get_user(user_id) or await self.client.fetch_user(user_id)
            await user.send(text, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException:
            log.info("private notice not delivered (DMs closed or user gone)")
            return False
        return True
