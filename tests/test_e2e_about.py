"""End to end: the real discord.py client against the sandbox, /about and /help."""

from __future__ import annotations

from bot.client import PeerCirclesBot
from bot.sandbox.actors import Sandbox


async def test_commands_synced_and_about_is_private(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    assert {"about", "help"} <= set(sandbox.commands)
    alice = sandbox.member("alice")
    reply = await alice.slash("about")
    assert reply.kind == "message"
    assert reply.ephemeral
    assert "peer support" in reply.text
    assert "Version" in reply.text
    assert alice.ephemeral_replies == [reply.message]
    # Nobody else sees anything: the general channel has no public message.
    assert sandbox.channel("general").messages == []
