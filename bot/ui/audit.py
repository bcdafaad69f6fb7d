"""Audit lines in the moderation channel: who changed what (admin actions are not anonymous).

Never used for anything that could identify the author of anonymous content or a support
requester; those features post alerts without identity through their own paths.
"""

from __future__ import annotations

import logging

import discord

from bot.ui.replies import NO_PINGS

log = logging.getLogger(__name__)


async def post_audit(guild: discord.Guild, channel_id: int | None, actor_id: int, lines: list[str]) -> bool:
    """Post one line per change, as ``⚙️ @actor changed ...``; pings nobody. False if not posted."""
    if not lines or channel_id is None:
        return False
    channel = guild.get_channel(channel_id)
    if not isinstance(channel, discord.TextChannel | discord.Thread):
        log.warning("audit channel missing guild=%s", guild.id)
        return False
    text = "\n".join(f"⚙️ <@{actor_id}> {line}" for line in lines)
    try:
        await channel.send(text[:2000], allowed_mentions=NO_PINGS)
    except discord.HTTPException:
        log.warning("could not post an audit line guild=%s", guild.id)
        return False
    return True
