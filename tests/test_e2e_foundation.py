"""End to end through the sandbox: resume, rate limits, faults, validation, sync, errors."""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.http import Route

from bot.client import PeerCirclesBot, bot_intents
from bot.errors import InvalidInput
from bot.sandbox.actors import Sandbox
from bot.sandbox.harness import BotHarness
from bot.sandbox.server import SandboxError

CALLBACK = "POST /interactions/{interaction_id}/{interaction_token}/callback"
SYNC = "PUT /applications/{application_id}/commands"


def callbacks(sandbox: Sandbox) -> list[int]:
    return [r.status for r in sandbox.server.requests if r.route == CALLBACK]


async def test_about_works_in_direct_messages(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    stranger = sandbox.member("sam", in_server=False)
    reply = await stranger.slash("about")
    assert "peer support" in reply.text
    assert reply.message.channel_id == sandbox.server.dm_channel(stranger.user).id


async def test_help_lists_commands_for_this_person(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    reply = await sandbox.member("alice").slash("help")
    assert "/about" in reply.text and "/help" in reply.text
    assert "For everyone" in reply.text
    assert reply.ephemeral


async def test_resume_after_a_dropped_gateway(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    alice = sandbox.member("alice")
    await alice.slash("about")
    await sandbox.server.drop_gateway(code=4000)
    assert sandbox.server.resume_count == 1
    assert sandbox.server.identify_count == 1, "resumed, not re-identified"
    after = await alice.slash("about")
    assert "peer support" in after.text
    assert len(alice.ephemeral_replies) == 2


async def test_events_sent_while_disconnected_are_replayed_on_resume(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    alice = sandbox.member("alice")
    server = sandbox.server
    await server.drop_gateway(code=4000, wait_resumed=False)
    # The interaction is dispatched while the bot is reconnecting; RESUME replays it.
    reply = await alice.slash("about")
    assert server.resume_count == 1
    assert reply.ephemeral and callbacks(sandbox) == [200]


async def test_injected_429s_cause_retries_but_no_duplicates(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    alice = sandbox.member("alice")
    fault = sandbox.server.inject("429", route=CALLBACK, times=2, retry_after=0.05)
    reply = await alice.slash("about")
    assert fault.hits == 2
    assert callbacks(sandbox) == [429, 429, 200]
    assert alice.ephemeral_replies == [reply.message], "exactly one reply despite retries"


async def test_a_5xx_is_retried_without_duplicates(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    alice = sandbox.member("alice")
    sandbox.server.inject("5xx", route=CALLBACK, times=1, status=502)
    # discord.py waits a second before retrying a 5xx; still inside Discord's 3-second window.
    reply = await alice.slash("about")
    assert callbacks(sandbox) == [502, 200]
    assert alice.ephemeral_replies == [reply.message]


async def test_rate_limit_buckets_send_discord_headers_and_429(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    general = sandbox.channel("general")
    sandbox.server.set_rate_limit("POST /channels/{channel_id}/messages", 2, 0.3)
    for n in range(4):
        await bot.http.send_message(general.id, params=discord.http.handle_message_parameters(content=f"m{n}"))
    statuses = [r.status for r in sandbox.server.requests if r.route == "POST /channels/{channel_id}/messages"]
    assert statuses.count(200) == 4
    assert [m.content for m in general.messages] == ["m0", "m1", "m2", "m3"]


async def test_the_sandbox_rejects_a_body_that_violates_the_api_description(
    sandbox: Sandbox, bot: PeerCirclesBot
) -> None:
    general = sandbox.channel("general")
    with pytest.raises(discord.HTTPException) as info:
        await bot.http.request(
            Route("POST", "/channels/{channel_id}/messages", channel_id=general.id),
            json={"content": 5, "embeds": "not a list"},
        )
    assert info.value.status == 400
    assert len(sandbox.server.invalid_requests) == 1
    assert "$.content" in sandbox.server.invalid_requests[0] or "$.embeds" in sandbox.server.invalid_requests[0]
    assert general.messages == [], "nothing was stored"
    sandbox.server.invalid_requests.clear()  # seen; don't fail the fixture


async def test_commands_sync_only_when_the_tree_changed(sandbox: Sandbox, harness: BotHarness) -> None:
    bot = await harness.start()
    assert isinstance(bot, PeerCirclesBot)
    syncs = [r for r in sandbox.server.requests if r.route == SYNC]
    assert len(syncs) == 1
    bot = await harness.restart()
    assert isinstance(bot, PeerCirclesBot)
    assert len([r for r in sandbox.server.requests if r.route == SYNC]) == 1, "unchanged tree: no sync"

    @app_commands.command(name="ping", description="test command")
    async def ping(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_message("pong", ephemeral=True)

    bot.tree.add_command(ping)
    assert await bot.sync_commands()
    assert "ping" in sandbox.commands
    assert not await bot.sync_commands()


async def test_no_privileged_intents() -> None:
    intents = bot_intents()
    assert not intents.message_content and not intents.members and not intents.presences


async def add_command(bot: PeerCirclesBot, command: app_commands.Command[Any, Any, Any]) -> None:
    bot.tree.add_command(command)
    await bot.sync_commands(force=True)


async def test_domain_errors_become_a_kind_private_message(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    @app_commands.command(name="fragile", description="raises a domain error")
    async def fragile(interaction: discord.Interaction[Any]) -> None:
        raise InvalidInput("That time doesn't look right. Try something like 19:30.")

    await add_command(bot, fragile)
    reply = await sandbox.member("alice").slash("fragile")
    assert reply.ephemeral
    assert reply.text == "That time doesn't look right. Try something like 19:30."


async def test_unexpected_errors_apologise_with_a_reference_in_the_log_only(
    sandbox: Sandbox, bot: PeerCirclesBot, caplog: pytest.LogCaptureFixture
) -> None:
    @app_commands.command(name="broken", description="has a bug")
    async def broken(interaction: discord.Interaction[Any]) -> None:
        raise KeyError("secret internal detail")

    await add_command(bot, broken)
    caplog.set_level(logging.ERROR, logger="bot.errors")
    alice = sandbox.member("alice")
    reply = await alice.slash("broken")
    assert reply.ephemeral
    assert "Sorry, something went wrong" in reply.text
    assert "secret internal detail" not in reply.text and "Traceback" not in reply.text
    code = re.search(r"\*\*([0-9A-F]{6})\*\*", reply.text)
    assert code is not None
    logged = [r for r in caplog.records if code.group(1) in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert str(alice.id) not in logged[0].getMessage()


async def test_missing_bot_permissions_are_explained_to_admins(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    @app_commands.command(name="makerole", description="needs Manage Roles")
    async def makerole(interaction: discord.Interaction[Any]) -> None:
        assert interaction.guild is not None
        await interaction.guild.create_role(name="Grief circle")
        await interaction.response.send_message("made", ephemeral=True)

    await add_command(bot, makerole)
    sandbox.set_bot_permissions(sandbox.bot_role.permissions & ~(1 << 28))
    reply = await sandbox.admin("ana").slash("makerole")
    assert "I'm missing" in reply.text and "Server Settings" in reply.text
    assert not sandbox.has_role("Grief circle")


async def test_an_answer_after_three_seconds_is_reported(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    """The sandbox enforces Discord's 3-second window, so a slow handler fails its test.

    The window is shortened so the test needn't wait three real seconds."""
    import asyncio

    sandbox.server.interaction_timeout = 0.2

    @app_commands.command(name="slow", description="too slow")
    async def slow(interaction: discord.Interaction[Any]) -> None:
        await asyncio.sleep(0.3)  # the behaviour under test is slowness itself
        await interaction.response.send_message("late", ephemeral=True)

    await add_command(bot, slow)
    with pytest.raises(SandboxError, match="3-second limit"):
        await sandbox.member("alice").slash("slow")
