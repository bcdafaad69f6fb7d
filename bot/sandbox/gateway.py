"""The bot's gateway connections, run as Discord's gateway runs them.

HELLO, then IDENTIFY (answered with READY and a GUILD_CREATE per guild) or RESUME (the events the
client missed, replayed from the session's buffer, then RESUMED); heartbeats; zlib-stream
compression; the events the sandbox dispatches to the sessions; and the faults a test can cause
(a dropped connection, failed handshakes). What READY says comes from the state (``welcome``).

Sharding: a gateway made with ``shard_count=N`` (N > 1) serves one session per shard, as Discord
does for a bot told to shard. IDENTIFY must carry ``shard: [shard_id, N]`` (none, or ``[0, 1]``:
4011 Sharding required; an id out of range or another count: 4010 Invalid shard). A guild's events
go only to shard ``(guild_id >> 22) % N`` (:func:`shard_of`); events of no guild (direct messages,
a DM's interactions) only to shard 0. Each shard has its own session id, sequence, resume buffer
and RESUME; a new IDENTIFY for a shard replaces its session (a restarted process). With N == 1
(the default) IDENTIFY needs no shard and everything goes to the one session, as before.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import zlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiohttp import WSMsgType, web

from bot.sandbox.errors import SandboxError
from bot.sandbox.wire import json_response

log = logging.getLogger(__name__)

PRIVILEGED_INTENTS = {1 << 1: "GUILD_MEMBERS", 1 << 8: "GUILD_PRESENCES", 1 << 15: "MESSAGE_CONTENT"}
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_GUILD_SCHEDULED_EVENTS = 1 << 16

# Discord's gateway close codes for sharding
# (https://discord.com/developers/docs/topics/opcodes-and-status-codes#gateway-gateway-close-event-codes).
CLOSE_INVALID_SHARD = 4010
CLOSE_SHARDING_REQUIRED = 4011

# Events about a guild itself: the guild is their ``id``; every other guild event has ``guild_id``.
GUILD_EVENTS = frozenset({"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"})

# A session's shard as IDENTIFY and READY carry it: (shard_id, shard_count).
ShardKey = tuple[int, int]
# The events sent after IDENTIFY, given the new session's id and the shard it identified as (None
# when IDENTIFY had no shard): READY, then a GUILD_CREATE per guild of that shard.
Welcome = Callable[[str, ShardKey | None], Iterator[tuple[str, dict[str, Any]]]]


def shard_of(guild_id: int, shard_count: int) -> int:
    """Discord's sharding formula: the shard whose session gets this guild's events."""
    return (guild_id >> 22) % shard_count


class GatewaySession:
    def __init__(self, session_id: str, intents: int, shard_id: int = 0) -> None:
        self.session_id = session_id
        self.intents = intents
        self.shard_id = shard_id
        self.seq = 0
        self.buffer: list[dict[str, Any]] = []
        self.ws: web.WebSocketResponse | None = None
        self.compressor: Any = None
        self.send_lock = asyncio.Lock()

    @property
    def events(self) -> list[str]:
        """The names of the events sent to this session (its resume buffer), oldest first."""
        return [str(p["t"]) for p in self.buffer]

    async def send(self, payload: dict[str, Any]) -> None:
        ws = self.ws
        if ws is None or ws.closed:
            return
        data = json.dumps(payload, separators=(",", ":"))
        async with self.send_lock:
            try:
                if self.compressor is not None:
                    await ws.send_bytes(
                        self.compressor.compress(data.encode()) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
                    )
                else:
                    await ws.send_str(data)
            except (ConnectionError, RuntimeError):
                log.debug("gateway send failed; the client will resume")


class Gateway:
    """One bot's gateway: a session per shard (kept across reconnects for RESUME) and the handshakes.

    ``ready`` is set once every shard has identified (with one shard: when it has), ``resumed``
    when any shard resumes; ``shard_ready[i]`` / ``shard_resumed[i]`` are shard ``i``'s own (with
    one shard they are ``ready`` and ``resumed`` themselves). A test may clear any of them to see
    the next one.
    """

    def __init__(
        self,
        token: Callable[[], str],
        welcome: Welcome,
        changed: Callable[[], Awaitable[None]],
        *,
        shard_count: int = 1,
    ) -> None:
        if shard_count < 1:
            raise SandboxError("A gateway needs at least one shard")
        self.token = token  # the bot's token as it is now (a test may reset it)
        self.welcome = welcome
        self.changed = changed  # tell whoever waits on the sandbox's state
        self.shard_count = shard_count
        self.sessions: dict[int, GatewaySession] = {}  # shard id -> its session
        self.identify_counts = [0] * shard_count
        self.resume_counts = [0] * shard_count
        self.ready = asyncio.Event()
        self.resumed = asyncio.Event()
        one = shard_count == 1
        self.shard_ready = [self.ready] if one else [asyncio.Event() for _ in range(shard_count)]
        self.shard_resumed = [self.resumed] if one else [asyncio.Event() for _ in range(shard_count)]
        self.faults: list[int] = []  # statuses for the next gateway handshakes (fail)

    # -- sessions and counts ------------------------------------------------------------

    @property
    def session(self) -> GatewaySession | None:
        """Shard 0's session (the only one without sharding)."""
        return self.sessions.get(0)

    @session.setter
    def session(self, session: GatewaySession | None) -> None:
        if session is None:
            self.sessions.pop(0, None)
        else:
            self.sessions[0] = session

    @property
    def identify_count(self) -> int:
        """IDENTIFYs accepted, all shards together."""
        return sum(self.identify_counts)

    @property
    def resume_count(self) -> int:
        """RESUMEs accepted, all shards together."""
        return sum(self.resume_counts)

    def _shard(self, shard: int) -> int:
        if not 0 <= shard < self.shard_count:
            raise SandboxError(f"No shard {shard}: the sandbox has {self.shard_count} shard(s)")
        return shard

    def shard_for(self, event: str, data: dict[str, Any]) -> int:
        """The shard Discord sends this event to: its guild's, or shard 0 if it has no guild."""
        if self.shard_count == 1:
            return 0
        guild_id = data.get("guild_id")
        if guild_id is None and event in GUILD_EVENTS:
            guild_id = data.get("id")
        if guild_id is None or not str(guild_id).isdigit():
            return 0
        return shard_of(int(guild_id), self.shard_count)

    # -- events -------------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any], *, intent: int = 0) -> None:
        """Send an event to the session of the shard it belongs to (see :meth:`shard_for`)."""
        session = self.sessions.get(self.shard_for(event, data))
        if session is not None:
            await self._send_event(session, event, data, intent=intent)

    async def _send_event(self, session: GatewaySession, event: str, data: dict[str, Any], *, intent: int = 0) -> None:
        if intent and not session.intents & intent:
            return
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.buffer.append(payload)
        await session.send(payload)

    # -- what a test does ---------------------------------------------------------------

    async def wait_ready(self, shard: int | None = None, *, timeout: float = 10.0) -> None:
        """Wait until ``shard`` has identified (``None``: every shard has)."""
        event = self.ready if shard is None else self.shard_ready[self._shard(shard)]
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            who = "every shard" if shard is None else f"shard {shard}"
            raise SandboxError(f"Timed out after {timeout:g}s waiting for {who} to IDENTIFY") from None

    async def drop(
        self, code: int = 4000, *, wait_resumed: bool = True, timeout: float = 10.0, shard: int | None = None
    ) -> None:
        """Close the bot's gateway connection as Discord does on a fault; wait for its RESUME.

        ``shard``: close only that shard's connection (and wait for its RESUME only); by default
        every connected shard's."""
        if shard is None:
            targets = [s for s in self.sessions.values() if s.ws is not None]
        else:
            found = self.sessions.get(self._shard(shard))
            targets = [found] if found is not None and found.ws is not None else []
        if not targets:
            which = "" if shard is None else f" on shard {shard}"
            raise SandboxError(f"The bot has no gateway connection{which} to drop")
        self.resumed.clear()
        for session in targets:
            self.shard_resumed[session.shard_id].clear()
        for session in targets:
            if session.ws is not None:
                await session.ws.close(code=code, message=b"sandbox: dropped on purpose")
        if wait_resumed:
            waits = [self.shard_resumed[s.shard_id].wait() for s in targets]
            try:
                await asyncio.wait_for(asyncio.gather(*waits), timeout)
            except TimeoutError:
                which = "" if self.shard_count == 1 else f" (shards {sorted(s.shard_id for s in targets)})"
                raise SandboxError(
                    f"The bot did not RESUME within {timeout:g}s after a dropped gateway{which}"
                ) from None

    def fail(self, status: int = 503, times: int = 1) -> None:
        """Answer the next ``times`` gateway handshakes with an HTTP error, as Discord's gateway
        does during an outage."""
        self.faults.extend([status] * times)

    async def close(self) -> None:
        for session in list(self.sessions.values()):
            if session.ws is not None and not session.ws.closed:
                await session.ws.close(code=1001)

    # -- the connection -----------------------------------------------------------------

    async def handler(self, request: web.Request) -> web.StreamResponse:
        if self.faults:
            return json_response({"code": 0, "message": "sandbox: injected gateway error"}, status=self.faults.pop(0))
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        compress = request.query.get("compress")
        if compress not in (None, "zlib-stream"):
            await ws.close(code=4000, message=b"sandbox supports only zlib-stream compression")
            return ws
        compressor = zlib.compressobj() if compress == "zlib-stream" else None
        hello = {"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}
        pending = GatewaySession("pending", 0)
        pending.ws, pending.compressor = ws, compressor
        await pending.send(hello)
        current: GatewaySession | None = None
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                op = payload.get("op")
                data = payload.get("d")
                if op == 1:
                    await (current or pending).send({"op": 11, "d": None, "s": None, "t": None})
                elif op == 2:
                    current = await self._identify(ws, compressor, data)
                    if current is None:
                        break
                elif op == 6:
                    current = await self._resume(ws, compressor, data, pending)
                    if current is None:
                        break
        finally:
            if current is not None and current.ws is ws:
                current.ws = None
        return ws

    async def _refuse_shard(self, ws: web.WebSocketResponse, raw: Any) -> tuple[bool, ShardKey | None]:
        """Discord's checks of IDENTIFY's ``shard``: (refused, the shard asked for)."""
        key: ShardKey | None = None
        if raw is not None:
            shaped = isinstance(raw, list) and len(raw) == 2 and all(type(x) is int for x in raw)
            if not shaped or not 0 <= raw[0] < raw[1]:
                await ws.close(code=CLOSE_INVALID_SHARD, message=b"Invalid shard.")
                return True, None
            key = (raw[0], raw[1])
        if self.shard_count > 1 and (key is None or key[1] == 1):
            # Unsharded (or [0, 1], the same thing): one session would get every guild.
            await ws.close(code=CLOSE_SHARDING_REQUIRED, message=b"Sharding required.")
            return True, None
        if key is not None and key[1] != self.shard_count:
            await ws.close(code=CLOSE_INVALID_SHARD, message=b"Invalid shard.")
            return True, None
        return False, key

    async def _identify(
        self, ws: web.WebSocketResponse, compressor: Any, data: dict[str, Any]
    ) -> GatewaySession | None:
        if data.get("token") != self.token():
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        intents = int(data.get("intents", 0))
        privileged = [name for bit, name in PRIVILEGED_INTENTS.items() if intents & bit]
        if privileged:
            # The sandbox application, like a self-hosted bot, has no privileged intents enabled.
            await ws.close(code=4014, message=f"Disallowed intent(s): {', '.join(privileged)}".encode())
            return None
        refused, key = await self._refuse_shard(ws, data.get("shard"))
        if refused:
            return None
        shard_id = key[0] if key is not None else 0
        self.identify_counts[shard_id] += 1
        session = GatewaySession(secrets.token_hex(16), intents, shard_id)
        session.ws, session.compressor = ws, compressor
        self.sessions[shard_id] = session  # a new IDENTIFY replaces the shard's session
        for event, payload in self.welcome(session.session_id, key):
            await self._send_event(session, event, payload)
        self.shard_ready[shard_id].set()
        if all(event.is_set() for event in self.shard_ready):
            self.ready.set()
        await self.changed()
        return session

    async def _resume(
        self, ws: web.WebSocketResponse, compressor: Any, data: dict[str, Any], pending: GatewaySession
    ) -> GatewaySession | None:
        if data.get("token") != self.token():
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        session = next((s for s in self.sessions.values() if s.session_id == data.get("session_id")), None)
        if session is None:
            await pending.send({"op": 9, "d": False, "s": None, "t": None})
            return None
        self.resume_counts[session.shard_id] += 1
        session.ws, session.compressor = ws, compressor
        last = int(data.get("seq") or 0)
        for payload in [p for p in session.buffer if p["s"] > last]:
            await session.send(payload)
        await self._send_event(session, "RESUMED", {})
        self.shard_resumed[session.shard_id].set()
        self.resumed.set()
        await self.changed()
        return session
