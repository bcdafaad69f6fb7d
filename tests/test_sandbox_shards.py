"""The sandbox's gateway with several shards, driven by real discord.py clients.

A 2-shard sandbox (``Sandbox.create(shard_count=2)``) and two ``discord.AutoShardedClient``s in
this process, one per shard, as two bot processes would run them: each shard gets only its own
guilds (Discord's ``(guild_id >> 22) % shard_count``) and their events, direct messages go to
shard 0, IDENTIFY without the right shard is refused with Discord's close codes, and each shard
resumes (or identifies afresh) on its own.

What a shard's session was sent is read from its resume buffer (``server.sessions[i]``), so "shard
0 never got it" is a fact about the wire, not a wait that happens to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import discord
import pytest
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.endpoints import configure_endpoints
from bot.sandbox.actors import Sandbox
from bot.sandbox.errors import SandboxError
from bot.sandbox.gateway import INTENT_GUILD_MESSAGES, shard_of
from bot.sandbox.models import Guild, Message, User

SPEC_PATH = Path(__file__).parent / "discord_api_spec" / "openapi.json"
TIMEOUT = 10.0

C = TypeVar("C", bound=discord.Client)


def intents() -> discord.Intents:
    """Non-privileged intents: guilds and direct messages, plus guild messages (not privileged
    either) so that a guild message has somewhere to go."""
    return discord.Intents(guilds=True, dm_messages=True, guild_messages=True)


class ShardBot(discord.AutoShardedClient):
    """A plain sharded client that remembers the messages and interactions it was given."""

    def __init__(self, **options: Any) -> None:
        super().__init__(intents=intents(), guild_ready_timeout=0.05, **options)
        self.messages: list[discord.Message] = []
        self.interactions: list[discord.Interaction[Any]] = []

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No 5-second pause between a client's shards: the sandbox doesn't pace IDENTIFYs."""

    async def on_message(self, message: discord.Message) -> None:
        self.messages.append(message)

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        self.interactions.append(interaction)


@contextlib.contextmanager
def pointed_at(box: Sandbox) -> Any:
    """discord.py's REST and gateway URLs (class attributes) aimed at this sandbox, then restored."""
    before = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    configure_endpoints(box.server.api_url, box.server.gateway_url)
    try:
        yield
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = before


@pytest.fixture
async def box() -> AsyncIterator[Sandbox]:
    """A sandbox whose gateway wants 2 shards: its server on shard 0, "Second" and "Third" on 1."""
    sandbox = await Sandbox.create(spec_path=SPEC_PATH, shard_count=2)
    server = sandbox.server
    for name in ("Second", "Third"):
        guild = server.add_guild(name, shard=1)
        server.add_channel(guild, "general")
    with pointed_at(sandbox):
        yield sandbox
    await sandbox.stop()
    assert sandbox.invalid_requests == [], "a client sent requests Discord's API description rejects"


@contextlib.asynccontextmanager
async def running(box: Sandbox, client: C) -> AsyncIterator[C]:
    """The client logged in and ready (every shard it runs), then closed."""
    task = asyncio.create_task(client.start(box.server.bot_token))
    ready = asyncio.create_task(client.wait_until_ready())
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            raise AssertionError(f"the client stopped while starting: {task.exception()!r}")
        assert ready in done, f"the client was not ready within {TIMEOUT:g}s"
        yield client
    finally:
        ready.cancel()
        await client.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, TIMEOUT)


async def refused(box: Sandbox, client: discord.Client) -> int:
    """Start the client; return the close code the gateway refused it with."""
    with pytest.raises(discord.ConnectionClosed) as closed:
        await asyncio.wait_for(client.start(box.server.bot_token), TIMEOUT)
    await client.close()
    return closed.value.code


def sent(box: Sandbox, shard: int, event: str, match: Callable[[dict[str, Any]], bool]) -> bool:
    """Whether shard ``shard``'s session was sent ``event`` with data that ``match``es."""
    session = box.server.sessions.get(shard)
    return session is not None and any(p["t"] == event and match(p["d"]) for p in session.buffer)


def guilds_on(box: Sandbox, shard: int) -> set[int]:
    return {g.id for g in box.server.guilds.values() if box.server.shard_of(g) == shard}


def second(box: Sandbox) -> Guild:
    return next(g for g in box.server.guilds.values() if g.name == "Second")


def member_of(box: Sandbox, guild: Guild, name: str) -> User:
    user = box.server.add_user(name)
    box.server.add_member(guild, user)
    return user


def general(guild: Guild) -> Any:
    return next(c for c in guild.channels.values() if c.name == "general")


# -- building it ----------------------------------------------------------------------------


def test_add_guild_puts_the_guild_on_the_shard_asked_for(box: Sandbox) -> None:
    server = box.server
    assert server.shard_count == 2
    assert server.shard_of(box.guild) == 0
    for shard in (0, 1, 1, 0, 1):
        guild = server.add_guild(f"on {shard}", shard=shard)
        assert (guild.id >> 22) % 2 == shard == shard_of(guild.id, 2)
    with pytest.raises(SandboxError, match="No shard 2"):
        server.add_guild("nowhere", shard=2)


def test_events_are_routed_by_their_guild() -> None:
    from bot.sandbox.server import SandboxServer

    gateway = SandboxServer(shard_count=3).gateway
    guild = (7 << 22) | 5  # (7 % 3) == shard 1
    assert gateway.shard_for("MESSAGE_CREATE", {"guild_id": str(guild), "channel_id": "9"}) == 1
    assert gateway.shard_for("GUILD_UPDATE", {"id": str(guild)}) == 1
    assert gateway.shard_for("GUILD_DELETE", {"id": str(guild)}) == 1
    assert gateway.shard_for("CHANNEL_DELETE", {"id": str(guild)}) == 0, "a channel's id is not a guild's"
    assert gateway.shard_for("MESSAGE_CREATE", {"channel_id": "9"}) == 0, "a DM goes to shard 0"
    assert gateway.shard_for("INTERACTION_CREATE", {"channel_id": "9", "user": {}}) == 0
    assert SandboxServer().gateway.shard_for("MESSAGE_CREATE", {"guild_id": str(guild)}) == 0


async def test_gateway_bot_recommends_the_shard_count(box: Sandbox) -> None:
    # An AutoShardedClient without a shard_count asks GET /gateway/bot and runs what it says.
    async with running(box, ShardBot()) as client:
        assert client.shard_count == 2
        assert {g.id for g in client.guilds} == set(box.server.guilds)
        shards, _url, limits = await client.http.get_bot_gateway()
    assert shards == 2
    assert limits["remaining"] == limits["total"] - 2 and limits["max_concurrency"] == 1
    assert box.server.identify_counts == [1, 1]


# -- each shard and its guilds --------------------------------------------------------------


async def test_each_shard_sees_only_its_guilds(box: Sandbox) -> None:
    server = box.server
    async with (
        running(box, ShardBot(shard_ids=[0], shard_count=2)) as first,
        running(box, ShardBot(shard_ids=[1], shard_count=2)) as other,
    ):
        await server.wait_ready(timeout=TIMEOUT)
        assert {g.id for g in first.guilds} == guilds_on(box, 0) == {box.guild.id}
        assert {g.id for g in other.guilds} == guilds_on(box, 1)
        assert len(guilds_on(box, 1)) == 2
        for shard in (0, 1):
            session = server.sessions[shard]
            ready = session.buffer[0]
            assert ready["t"] == "READY" and ready["d"]["shard"] == [shard, 2]
            assert {int(g["id"]) for g in ready["d"]["guilds"]} == guilds_on(box, shard)
            creates = {int(p["d"]["id"]) for p in session.buffer if p["t"] == "GUILD_CREATE"}
            assert creates == guilds_on(box, shard)
        assert server.sessions[0].session_id != server.sessions[1].session_id
        assert server.identify_counts == [1, 1]


async def test_guild_events_reach_only_their_shard_and_dms_only_shard_0(box: Sandbox) -> None:
    server = box.server
    guild = second(box)
    channel = general(guild)
    bea = member_of(box, guild, "bea")
    dee = box.member("dee", in_server=False)
    async with (
        running(box, ShardBot(shard_ids=[0], shard_count=2)) as first,
        running(box, ShardBot(shard_ids=[1], shard_count=2)) as other,
    ):
        # Someone writes in a shard-1 guild.
        message = server.make_message(channel, bea, {"content": "hello from the second server"}, [])
        heard = asyncio.create_task(other.wait_for("message", check=lambda m: m.id == message.id, timeout=TIMEOUT))
        await server.dispatch("MESSAGE_CREATE", message.to_dict(), intent=INTENT_GUILD_MESSAGES)
        assert (await heard).guild is not None and (await heard).guild.id == guild.id

        # They use a command there.
        pressed = asyncio.create_task(
            other.wait_for("interaction", check=lambda i: i.user.id == bea.id, timeout=TIMEOUT)
        )
        command = {"id": "1", "name": "ping", "type": 1}
        in_guild = await server.create_interaction(bea, 2, command, channel)
        assert (await pressed).guild_id == guild.id

        # The server changes its language: GUILD_UPDATE names the guild by its id.
        updated = asyncio.create_task(other.wait_for("guild_update", timeout=TIMEOUT))
        await server.set_guild_locale(guild, "de")
        await updated

        # Someone writes to the bot, and uses a command, in a direct message.
        dm = asyncio.create_task(first.wait_for("message", check=lambda m: m.author.id == dee.id, timeout=TIMEOUT))
        written = await dee.send_dm("hello from a DM")
        assert (await dm).id == written.id
        dm_pressed = asyncio.create_task(
            first.wait_for("interaction", check=lambda i: i.user.id == dee.id, timeout=TIMEOUT)
        )
        in_dm = await server.create_interaction(dee.user, 2, command, server.dm_channel(dee.user))
        assert (await dm_pressed).guild_id is None

        # On the wire: each went to one shard only.
        def by_id(item: Message | Any) -> Callable[[dict[str, Any]], bool]:
            return lambda d: d.get("id") == str(item.id)

        assert sent(box, 1, "MESSAGE_CREATE", by_id(message)) and not sent(box, 0, "MESSAGE_CREATE", by_id(message))
        assert sent(box, 1, "INTERACTION_CREATE", by_id(in_guild))
        assert not sent(box, 0, "INTERACTION_CREATE", by_id(in_guild))
        assert sent(box, 1, "GUILD_UPDATE", by_id(guild)) and not sent(box, 0, "GUILD_UPDATE", by_id(guild))
        assert sent(box, 0, "MESSAGE_CREATE", by_id(written)) and not sent(box, 1, "MESSAGE_CREATE", by_id(written))
        assert sent(box, 0, "INTERACTION_CREATE", by_id(in_dm)) and not sent(box, 1, "INTERACTION_CREATE", by_id(in_dm))
        # And so in the clients.
        assert [m.id for m in first.messages] == [written.id]
        assert [m.id for m in other.messages] == [message.id]
        assert [i.id for i in first.interactions] == [in_dm.id]
        assert [i.id for i in other.interactions] == [in_guild.id]


# -- refused IDENTIFYs ----------------------------------------------------------------------


async def test_identify_without_a_shard_needs_sharding_4011(box: Sandbox) -> None:
    assert await refused(box, discord.Client(intents=intents())) == 4011
    # [0, 1] is the same as not sharding: one session would get every guild.
    assert await refused(box, ShardBot(shard_count=1)) == 4011
    assert box.server.identify_counts == [0, 0] and box.server.sessions == {}


async def test_identify_with_a_wrong_shard_is_invalid_4010(box: Sandbox) -> None:
    assert await refused(box, ShardBot(shard_ids=[0], shard_count=3)) == 4010, "another shard count"
    assert await refused(box, ShardBot(shard_ids=[2], shard_count=2)) == 4010, "a shard id beyond the count"
    assert box.server.identify_counts == [0, 0] and box.server.sessions == {}


# -- one shard down -------------------------------------------------------------------------


async def test_a_dropped_shard_resumes_alone_and_gets_what_it_missed(box: Sandbox) -> None:
    server = box.server
    guild = second(box)
    async with (
        running(box, ShardBot(shard_ids=[0], shard_count=2)),
        running(box, ShardBot(shard_ids=[1], shard_count=2)) as other,
    ):
        untouched = server.sessions[0].ws
        sessions = {shard: server.sessions[shard].session_id for shard in (0, 1)}
        await server.drop_gateway(shard=1, wait_resumed=False)
        # While shard 1 is away its guild changes: the event waits in shard 1's buffer.
        updated = asyncio.create_task(
            other.wait_for("guild_update", check=lambda before, after: after.id == guild.id, timeout=TIMEOUT)
        )
        await server.set_guild_locale(guild, "fr")
        await asyncio.wait_for(server.shard_resumed[1].wait(), TIMEOUT)
        await updated
        assert server.resume_counts == [0, 1]
        assert server.identify_counts == [1, 1]
        assert not server.shard_resumed[0].is_set()
        assert server.sessions[0].ws is untouched, "shard 0's connection was left alone"
        assert {shard: server.sessions[shard].session_id for shard in (0, 1)} == sessions
        assert server.sessions[1].events[-2:] == ["GUILD_UPDATE", "RESUMED"]
        assert "RESUMED" not in server.sessions[0].events
        # The default drop: every connected shard, each resuming its own session.
        await server.drop_gateway(timeout=TIMEOUT)
        assert server.resume_counts == [1, 2]


async def test_a_restarted_shard_identifies_afresh_and_its_old_session_is_gone(box: Sandbox) -> None:
    server = box.server
    guild = second(box)
    async with running(box, ShardBot(shard_ids=[0], shard_count=2)):
        async with running(box, ShardBot(shard_ids=[1], shard_count=2)):
            old = server.sessions[1].session_id
        # Shard 1's process is gone; its guilds' events wait in its session, as for a RESUME.
        await server.set_guild_locale(guild, "de")
        assert server.sessions[1].events[-1] == "GUILD_UPDATE"
        server.shard_ready[1].clear()
        async with running(box, ShardBot(shard_ids=[1], shard_count=2)) as restarted:
            await server.wait_ready(1, timeout=TIMEOUT)
            assert server.identify_counts == [1, 2]
            assert server.sessions[1].session_id != old
            assert {g.id for g in restarted.guilds} == guilds_on(box, 1)
            seen = restarted.get_guild(guild.id)
            assert seen is not None and seen.preferred_locale == discord.Locale.german, "the change it missed"
            # The replaced session can't be resumed: Discord answers INVALID_SESSION (op 9).
            assert await resume_answer(box, old) == {"op": 9, "d": False, "s": None, "t": None}
        assert server.resume_counts == [0, 0]


async def resume_answer(box: Sandbox, session_id: str) -> dict[str, Any]:
    """RESUME a session by hand on a fresh connection; the gateway's answer after HELLO."""
    url = yarl.URL(box.server.gateway_url).with_query(v=10, encoding="json")
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        hello = await ws.receive_json(timeout=TIMEOUT)
        assert hello["op"] == 10
        resume = {"token": box.server.bot_token, "session_id": session_id, "seq": 1}
        await ws.send_str(json.dumps({"op": 6, "d": resume}))
        answer: dict[str, Any] = await ws.receive_json(timeout=TIMEOUT)
        return answer


# -- one shard, as before -------------------------------------------------------------------


async def test_one_shard_needs_no_shard_in_identify(sandbox: Sandbox) -> None:
    server = sandbox.server
    assert server.shard_count == 1 and server.shard_ready == [server.ready]
    with pointed_at(sandbox):
        async with running(sandbox, discord.Client(intents=intents(), guild_ready_timeout=0.05)) as client:
            assert {g.id for g in client.guilds} == {sandbox.guild.id}
            assert "shard" not in server.sessions[0].buffer[0]["d"]
            assert server.session is server.sessions[0]
        assert await refused(sandbox, ShardBot(shard_ids=[0], shard_count=2)) == 4010
    assert server.identify_counts == [1]
