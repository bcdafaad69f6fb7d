"""The client keeps no copies of people's messages in memory."""

from __future__ import annotations

import asyncio

import discord

from bot.client import PeerCirclesBot
from bot.sandbox.actors import Sandbox


async def test_direct_messages_are_not_cached(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    maya = sandbox.member("maya")

    def is_mine(message: discord.Message) -> bool:
        return message.author.id == maya.id

    seen = asyncio.ensure_future(bot.wait_for("message", check=is_mine, timeout=5))
    await maya.send_dm("just checking in")
    received = await seen
    assert received.author.id == maya.id
    assert list(bot.cached_messages) == []
