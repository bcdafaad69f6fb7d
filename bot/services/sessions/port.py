"""The port through which sessions change things in Discord (implemented in
``cogs/sessions/discord_port.py``; this package imports nothing from discord)."""

from __future__ import annotations

from typing import Protocol

from bot.i18n import Msg
from bot.services.sessions.models import DmResult, GoRoundView, ReminderView, SessionView


class SessionDiscord(Protocol):
    """The port through which sessions change things in Discord (see cogs/sessions/discord_port.py)."""

    async def require_event_permissions(self, guild_id: int, channel_id: int, channel_kind: str) -> None:
        """Raise MissingBotPermissions if the bot can't create events (for that channel)."""
        ...

    async def require_post(self, guild_id: int, channel_id: int) -> None:
        """Raise MissingBotPermissions if the bot can't post in that channel."""
        ...

    async def create_event(self, view: SessionView) -> int: ...

    async def update_event(self, view: SessionView) -> bool:
        """False if the event is gone."""
        ...

    async def set_event_status(self, guild_id: int, event_id: int, status: str) -> bool: ...

    async def delete_event(self, guild_id: int, event_id: int) -> None: ...

    async def interested(self, guild_id: int, event_id: int) -> list[int] | None:
        """Who pressed Discord's own "Interested"; None if that couldn't be read."""
        ...

    async def post_announcement(self, channel_id: int, view: SessionView) -> int | None: ...

    async def update_announcement(self, channel_id: int, message_id: int, view: SessionView) -> None: ...

    async def post_opening(self, channel_id: int, view: SessionView, ground_rules: str) -> int | None: ...

    async def close_opening(self, channel_id: int, message_id: int, view: SessionView, ground_rules: str) -> None: ...

    async def post_goround(self, channel_id: int, view: SessionView, goround: GoRoundView) -> int | None: ...

    async def update_goround(
        self, channel_id: int, message_id: int, view: SessionView, goround: GoRoundView
    ) -> None: ...

    async def post_closing(self, channel_id: int, view: SessionView) -> int | None: ...

    async def send_reminder(self, user_id: int, reminder: ReminderView) -> DmResult: ...

    async def send_notice(self, guild_id: int, user_id: int, text: Msg) -> DmResult:
        """A DM about a session of that server, in the language the person last used there."""
        ...

    async def post_text(self, guild_id: int, channel_id: int, text: Msg) -> None:
        """A notice for the server's moderators, in the server's language."""
        ...
