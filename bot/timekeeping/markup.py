"""The two bits of Discord's message markup the core writes: a timestamp and a link to a message.

Plain strings: nothing here imports discord, so services can put them in the text they return.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

# Discord's styles: t 16:20 · T 16:20:30 · d 20/04/2021 · D 20 April 2021 · f 20 April 2021 16:20 ·
# F Tuesday, 20 April 2021 16:20 · R in 2 months.
Style = Literal["t", "T", "d", "D", "f", "F", "R"]


def stamp(moment: datetime, style: Style = "F") -> str:
    """A Discord timestamp: each person sees it in their own time zone and language."""
    return f"<t:{int(moment.timestamp())}:{style}>"


def message_link(guild_id: int, channel_id: int | None, message_id: int | None = None) -> str:
    """A link to a message, or (without ``message_id``) to a channel or thread."""
    link = f"https://discord.com/channels/{guild_id}/{channel_id}"
    return link if message_id is None else f"{link}/{message_id}"
