"""The one-field form the features share: a paragraph to write (a reply, a reason, a note)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import discord

from bot.ui.errors import ErrorHandlingModal


class TextModal(ErrorHandlingModal):
    """One paragraph field. The title, label and description come already in the reader's
    language; Discord's length limits are applied when the form is sent (``fit_modal``). A feature
    subclasses it to name its field (``FIELD_ID``) and its usual length (``MAX_LENGTH``)."""

    FIELD_ID: ClassVar[str]
    MAX_LENGTH: ClassVar[int] = 2000

    def __init__(
        self,
        title: str,
        label: str,
        on_done: Callable[[discord.Interaction[Any], str], Awaitable[None]],
        *,
        card: str,
        required: bool = True,
        max_length: int | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(card=card, title=title, timeout=1800)
        self._on_done = on_done
        self.field: discord.ui.TextInput[TextModal] = discord.ui.TextInput(
            custom_id=self.FIELD_ID,
            style=discord.TextStyle.paragraph,
            max_length=max_length or self.MAX_LENGTH,
            required=required,
        )
        self.add_item(discord.ui.Label(text=label, description=description, component=self.field))

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self._on_done(interaction, self.field.value)
