"""What one feature's Discord side offers another, as types: wired in ``setup_hook``, never looked up.

A feature that needs another's Discord flow (a check-in or a share offering a listener opens the
support feature's request form) takes it in its cog's constructor, typed by a Protocol here, so
no cog imports or looks up another cog.
"""

from __future__ import annotations

from typing import Any, Protocol

import discord

__all__ = ["AskListener"]


class AskListener(Protocol):
    """Open the one-to-one support request form for this person in this server.

    ``source`` says which feature offered it (``"checkin"``, ``"share"``), for the coordinators' figures.
    """

    async def __call__(self, interaction: discord.Interaction[Any], guild_id: int, *, source: str) -> None: ...
