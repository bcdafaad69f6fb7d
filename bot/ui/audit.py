"""Audit lines in the moderation channel: who changed what (admin actions are not anonymous).

Audit lines are posted for the server, so they are written in the server's language
(``/setup language``, else Discord's server locale): :func:`post_server_audit` finds the channel
and the language; :func:`post_audit` posts to a channel the caller already knows.

Never used for anything that could identify the author of anonymous content or a support
requester; those features post alerts without identity through their own paths.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import discord

from bot.i18n import SOURCE, Msg, Speaker, speaker
from bot.services.server_settings import ServerSettings
from bot.ui.language import server_language
from bot.ui.replies import NO_PINGS

log = logging.getLogger(__name__)


async def post_audit(
    guild: discord.Guild,
    channel_id: int | None,
    actor_id: int,
    lines: Sequence[str | Msg],
    *,
    t: Speaker | None = None,
) -> bool:
    """Post one line per change, as ``⚙️ @actor changed ...``; pings nobody. False if not posted.

    Each line is what the actor did, a verb phrase after their name (``msg("changed the time zone
    from {old} to {new}")``), rendered in ``t``'s language: the server's, see
    :func:`post_server_audit` (English when not given).
    """
    if not lines or channel_id is None:
        return False
    channel = guild.get_channel(channel_id)
    if not isinstance(channel, discord.TextChannel | discord.Thread):
        log.warning("audit channel missing guild=%s", guild.id)
        return False
    t = t or speaker(SOURCE)
    actor = f"<@{actor_id}>"
    # Translators: an audit line in the moderation channel; {change} is what the admin did.
    text = "\n".join(t("⚙️ {actor} {change}", actor=actor, change=t.render(line)) for line in lines)
    try:
        await channel.send(text[:2000], allowed_mentions=NO_PINGS)
    except discord.HTTPException:
        log.warning("could not post an audit line guild=%s", guild.id)
        return False
    return True


async def post_server_audit(
    settings: ServerSettings, guild: discord.Guild, actor_id: int, lines: Sequence[str | Msg]
) -> bool:
    """Post audit lines in the server's moderation channel, in the server's language."""
    if not lines:
        return False
    current = await settings.get(guild.id)
    t = speaker(server_language(current.language, guild))
    return await post_audit(guild, current.mod_channel_id, actor_id, lines, t=t)
