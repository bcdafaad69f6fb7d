"""The bot's gateway connection, run as Discord's gateway runs it.

HELLO, then IDENTIFY (answered with READY and a GUILD_CREATE per guild) or RESUME (the events the
client missed, replayed from the session's buffer, then RESUMED); heartbeats; zlib-stream
compression; the events the sandbox dispatches to the session; and the faults a test can cause
(a dropped connection, failed handshakes). What READY says comes from the state (``welcome``).
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

# The events sent after IDENTIFY, given the new session's id: READY, then a GUILD_CREATE per guild.
Welcome = Callable[[str], Iterator[tuple[str, dict[str, Any]]]]


class GatewaySession:
    def __init__(self, session_id: str, intents: int) -> None:
        self.session_id = session_id
        self.intents = intents
        self.seq = 0
        self.buffer: list[dict[str, Any]] = []
        self.ws: web.WebSocketResponse | None = None
        self.compressor: Any = None
        self.send_lock = asyncio.Lock()

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
    """One bot's gateway: its session (kept across reconnects for RESUME) and the handshakes."""

    def __init__(self, token: Callable[[], str], welcome: Welcome, changed: Callable[[], Awaitable[None]]) -> None:
        self.token = token  # the bot's token as it is now (a test may reset it)
        self.welcome = welcome
        self.changed = changed  # tell whoever waits on the sandbox's state
        self.session: GatewaySession | None = None
        self.identify_count = 0
        self.resume_count = 0
        self.ready = asyncio.Event()
        self.resumed = asyncio.Event()
        self.faults: list[int] = []  # statuses for the next gateway handshakes (fail)

    async def dispatch(self, event: str, data: dict[str, Any], *, intent: int = 0) -> None:
        session = self.session
        if session is None:
            return
        if intent and not session.intents & intent:
            return
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.buffer.append(payload)
        await session.send(payload)

    async def drop(self, code: int = 4000, *, wait_resumed: bool = True, timeout: float = 10.0) -> None:
        """Close the bot's gateway connection as Discord does on a fault; wait for its RESUME."""
        session = self.session
        if session is None or session.ws is None:
            raise SandboxError("The bot has no gateway connection to drop")
        self.resumed.clear()
        await session.ws.close(code=code, message=b"sandbox: dropped on purpose")
        if wait_resumed:
            try:
                await asyncio.wait_for(self.resumed.wait(), timeout)
            except TimeoutError:
                raise SandboxError(f"The bot did not RESUME within {timeout:g}s after a dropped gateway") from None

    def fail(self, status: int = 503, times: int = 1) -> None:
        """Answer the next ``times`` gateway handshakes with an HTTP error, as Discord's gateway
        does during an outage."""
        self.faults.extend([status] * times)

    async def close(self) -> None:
        if self.session and self.session.ws and not self.session.ws.closed:
            await self.session.ws.close(code=1001)

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
        self.identify_count += 1
        session = GatewaySession(secrets.token_hex(16), intents)
        session.ws, session.compressor = ws, compressor
        self.session = session
        for event, payload in self.welcome(session.session_id):
            await self.dispatch(event, payload)
        self.ready.set()
        await self.changed()
        return session

    async def _resume(
        self, ws: web.WebSocketResponse, compressor: Any, data: dict[str, Any], pending: GatewaySession
    ) -> GatewaySession | None:
        session = self.session
        if data.get("token") != self.token():
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        if session is None or data.get("session_id") != session.session_id:
            await pending.send({"op": 9, "d": False, "s": None, "t": None})
            return None
        self.resume_count += 1
        session.ws, session.compressor = ws, compressor
        last = int(data.get("seq") or 0)
        for payload in [p for p in session.buffer if p["s"] > last]:
            await session.send(payload)
        await self.dispatch("RESUMED", {})
        self.resumed.set()
        await self.changed()
        return session
