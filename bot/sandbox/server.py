"""A local Discord-compatible server for the unmodified discord.py client.

The bot is pointed at it with ``DISCORD_API_BASE_URL`` and ``DISCORD_GATEWAY_URL``. It speaks
the gateway (HELLO, IDENTIFY, READY, GUILD_CREATE, heartbeats, zlib-stream, RESUME) and the REST
routes the bot uses, keeps state the way Discord would, enforces per-route rate limits with
Discord's headers, lets a test inject faults (429, 5xx, a lost answer, a request held in flight,
dropped gateway), dedupes message nonces as Discord's ``enforce_nonce`` does, and validates every
REST request body against Discord's OpenAPI description.

Tests talk to it through :mod:`bot.sandbox.actors` (``sandbox.member("alice")`` ...).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import secrets
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any, cast

from aiohttp import WSMsgType, web

from bot.sandbox.models import (
    DM,
    FLAG_EPHEMERAL,
    GUILD_TEXT,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    Attachment,
    Channel,
    Guild,
    Member,
    Message,
    Overwrite,
    P,
    Role,
    ScheduledEvent,
    Snowflakes,
    User,
    has,
)

log = logging.getLogger(__name__)

PRIVILEGED_INTENTS = {1 << 1: "GUILD_MEMBERS", 1 << 8: "GUILD_PRESENCES", 1 << 15: "MESSAGE_CONTENT"}
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_GUILD_SCHEDULED_EVENTS = 1 << 16
INTERACTION_TIMEOUT_S = 3.0
TOKEN_LIFETIME_S = 15 * 60
# Discord dedupes an enforced message nonce "in the past few minutes" (per author).
NONCE_WINDOW_S = 5 * 60
FAULT_KINDS = ("429", "5xx", "drop", "hold")


class SandboxError(AssertionError):
    """A test used the sandbox wrongly, or something it waited for never happened."""


class DiscordHTTPError(Exception):
    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            data["errors"] = self.errors
        return data


def missing_permissions() -> DiscordHTTPError:
    return DiscordHTTPError(403, 50013, "Missing Permissions")


def unknown(kind: str, code: int) -> DiscordHTTPError:
    return DiscordHTTPError(404, code, f"Unknown {kind}")


@dataclass
class RecordedRequest:
    method: str
    path: str
    route: str
    status: int
    json: Any
    at: float


@dataclass
class Fault:
    """An injected failure (see :meth:`SandboxServer.inject`).

    ``"drop"``: the request takes effect, then the connection closes without an answer (a lost
    answer). ``"hold"``: the request takes effect and its answer waits until :meth:`release`
    (``reached`` is set meanwhile), as when the bot stops while the answer is on its way.
    """

    kind: str  # "429", "5xx", "drop" or "hold"
    route: str | None
    remaining: int
    status: int = 500
    retry_after: float = 0.05
    probability: float = 1.0
    hits: int = 0
    after_success: bool = False  # 5xx only: the request takes effect, then the response is an error
    reached: asyncio.Event = field(default_factory=asyncio.Event)  # "hold": a request is being held
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def takes_effect(self) -> bool:
        """The request is carried out before the fault shows."""
        return self.after_success or self.kind in ("drop", "hold")

    def release(self) -> None:
        """Let held answers go (to nobody, if the bot stopped meanwhile)."""
        self._released.set()


@dataclass
class Bucket:
    limit: int
    window: float
    remaining: int
    reset_at: float


@dataclass
class Interaction:
    id: int
    token: str
    type: int
    user: User
    guild_id: int | None
    channel_id: int
    data: dict[str, Any]
    source_message: Message | None = None
    created: float = field(default_factory=time.monotonic)  # Discord's 3-second window starts here
    sent: float | None = None  # when the sandbox had sent the INTERACTION_CREATE (for measuring)
    response_type: int | None = None
    response_message: Message | None = None
    modal: dict[str, Any] | None = None
    choices: list[dict[str, Any]] | None = None
    followups: list[Message] = field(default_factory=list)
    deferred_filled: bool = False
    versions_at_response: int = 0
    responded: asyncio.Event = field(default_factory=asyncio.Event)
    late: bool = False
    answered: asyncio.Event = field(default_factory=asyncio.Event)  # responded, or tried too late
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # any request on its token

    @property
    def name(self) -> str:
        return str(self.data.get("name") or self.data.get("custom_id") or "")


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


Handler = Callable[["Request"], Awaitable[Any]]


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    files: list[Attachment]
    headers: dict[str, str]


def _route_regex(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", re.escape(template).replace(r"\{", "{").replace(r"\}", "}"))
    return re.compile(f"^{pattern}$")


class SandboxServer:
    """State, gateway and REST. One bot application, any number of guilds and people."""

    def __init__(
        self,
        *,
        spec_path: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        default_rate_limit: tuple[int, float] = (50, 1.0),
    ) -> None:
        self.host = host
        self.port = port  # 0: any free port, chosen at the first start; a restart keeps it
        self.ids = Snowflakes()
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.commands: dict[int | None, dict[str, dict[str, Any]]] = {None: {}}
        self.command_syncs: list[tuple[int | None, int]] = []
        self.interactions: dict[int, Interaction] = {}
        self._interactions_by_token: dict[str, Interaction] = {}
        self.requests: list[RecordedRequest] = []
        self.invalid_requests: list[str] = []
        self.faults: list[Fault] = []
        self.gateway_faults: list[int] = []  # statuses for the next gateway handshakes (fail_gateway)
        # enforce_nonce: (author, nonce) -> (message, when it was created by nonce_clock())
        self.nonces: dict[tuple[int, str], tuple[int, float]] = {}
        self.nonce_window = NONCE_WINDOW_S
        # The clock the nonce window is measured on (seconds). A test on a fake clock can point
        # this at it, so Discord's memory of a nonce ends when the bot's clock says it does.
        self.nonce_clock: Callable[[], float] = time.monotonic
        self.rate_limits: dict[str, tuple[int, float]] = {}
        self.default_rate_limit = default_rate_limit
        self.interaction_timeout = INTERACTION_TIMEOUT_S
        self._buckets: dict[str, Bucket] = {}
        self._dm_channels: dict[int, Channel] = {}  # user id -> their DM channel (an index)
        self.session: GatewaySession | None = None
        self.identify_count = 0
        self.resume_count = 0
        self.ready = asyncio.Event()
        self.resumed = asyncio.Event()
        self.changed = asyncio.Condition()
        self._validator: Any = None
        if spec_path is not None:
            from bot.sandbox.openapi import OpenAPIValidator

            self._validator = OpenAPIValidator(spec_path)
        self.bot_user = self._new_user("peer-circles", bot=True)
        self.application_id = self.bot_user.id
        self.bot_token = f"sandbox.{secrets.token_urlsafe(24)}"
        self._runner: web.AppRunner | None = None
        self._routes: list[tuple[str, str, re.Pattern[str], Handler]] = []
        self._register_routes()

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway_handler)
        app.router.add_route("*", "/api/v{version:\\d+}/{tail:.*}", self._rest_handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = cast(Any, server).sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for fault in self.faults:
            fault.release()  # nothing may wait on a held answer at shutdown
        if self.session and self.session.ws and not self.session.ws.closed:
            await self.session.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every state change)."""

        async def waiter() -> Any:
            async with self.changed:
                while True:
                    result = predicate()
                    if result:
                        return result
                    await self.changed.wait()

        try:
            return await asyncio.wait_for(waiter(), timeout)
        except TimeoutError:
            raise SandboxError(f"Timed out after {timeout:g}s waiting for {what}") from None

    # -- world building -----------------------------------------------------------------

    def _new_user(self, username: str, *, bot: bool = False, global_name: str | None = None) -> User:
        user = User(self.ids.next(), username, global_name, bot=bot)
        self.users[user.id] = user
        return user

    def add_user(self, username: str, global_name: str | None = None) -> User:
        return self._new_user(username, global_name=global_name)

    def add_guild(self, name: str = "Sandbox Server", *, bot_permissions: int | None = None) -> Guild:
        owner = self._new_user(f"{name.lower().replace(' ', '-')}-owner")
        guild = Guild(self.ids.next(), name, owner.id)
        guild.roles[guild.id] = Role(guild.id, guild.id, "@everyone", permissions=_default_everyone(), position=0)
        bot_role = Role(self.ids.next(), guild.id, "peer-circles", managed=True, bot_id=self.bot_user.id, position=1)
        from bot.permissions import BOT_PERMISSIONS

        bot_role.permissions = BOT_PERMISSIONS if bot_permissions is None else bot_permissions
        guild.roles[bot_role.id] = bot_role
        guild.members[owner.id] = Member(guild.id, owner)
        guild.members[self.bot_user.id] = Member(guild.id, self.bot_user, roles=[bot_role.id])
        self.guilds[guild.id] = guild
        return guild

    def add_channel(self, guild: Guild, name: str, type: int = GUILD_TEXT, parent_id: int | None = None) -> Channel:
        channel = Channel(self.ids.next(), type, name=name, guild_id=guild.id, parent_id=parent_id)
        channel.position = len(guild.channels)
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        return channel

    def add_role(self, guild: Guild, name: str, permissions: int = 0) -> Role:
        position = max((r.position for r in guild.roles.values()), default=0)
        # New roles go under the bot's role (as when an admin creates them after inviting the bot).
        role = Role(self.ids.next(), guild.id, name, permissions=permissions, position=1)
        for other in guild.roles.values():
            if other.id != guild.id and other.position >= 1:
                other.position += 1
        del position
        guild.roles[role.id] = role
        return role

    def add_member(self, guild: Guild, user: User, roles: list[int] | None = None) -> Member:
        member = Member(guild.id, user, roles=list(roles or []))
        guild.members[user.id] = member
        return member

    def bot_role(self, guild: Guild) -> Role:
        return next(r for r in guild.roles.values() if r.bot_id == self.bot_user.id)

    def guild_of(self, channel: Channel) -> Guild | None:
        return self.guilds.get(channel.guild_id) if channel.guild_id else None

    def dm_channel(self, user: User) -> Channel:
        known = self._dm_channels.get(user.id)
        if known is not None and self.channels.get(known.id) is known:
            return known
        for channel in self.channels.values():
            if channel.type == DM and channel.recipients and channel.recipients[0].id == user.id:
                self._dm_channels[user.id] = channel
                return channel
        channel = Channel(self.ids.next(), DM, recipients=[user])
        self.channels[channel.id] = channel
        self._dm_channels[user.id] = channel
        return channel

    def channel_messages(self, channel_id: int, *, include_deleted: bool = False) -> list[Message]:
        return [
            m
            for m in self.messages.values()
            if m.channel_id == channel_id and (include_deleted or not m.deleted) and not m.ephemeral_to
        ]

    # -- gateway ------------------------------------------------------------------------

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

    async def drop_gateway(self, code: int = 4000, *, wait_resumed: bool = True, timeout: float = 10.0) -> None:
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

    def fail_gateway(self, status: int = 503, times: int = 1) -> None:
        """Answer the next ``times`` gateway handshakes with an HTTP error, as Discord's gateway
        does during an outage."""
        self.gateway_faults.extend([status] * times)

    async def _gateway_handler(self, request: web.Request) -> web.StreamResponse:
        if self.gateway_faults:
            return _json({"code": 0, "message": "sandbox: injected gateway error"}, status=self.gateway_faults.pop(0))
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
        if data.get("token") != self.bot_token:
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
        await self.dispatch(
            "READY",
            {
                "v": 10,
                "user": self.bot_user.to_dict() | {"verified": True, "mfa_enabled": False},
                "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds],
                "session_id": session.session_id,
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(self.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
            },
        )
        for guild in self.guilds.values():
            await self.dispatch("GUILD_CREATE", guild.gateway_payload(self.bot_user.id))
        self.ready.set()
        await self.notify()
        return session

    async def _resume(
        self, ws: web.WebSocketResponse, compressor: Any, data: dict[str, Any], pending: GatewaySession
    ) -> GatewaySession | None:
        session = self.session
        if data.get("token") != self.bot_token:
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
        await self.notify()
        return session

    # -- REST plumbing ------------------------------------------------------------------

    def route(self, method: str, template: str) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            self._routes.append((method, template, _route_regex(template), handler))
            return handler

        return decorator

    def _match(self, method: str, path: str) -> tuple[str, Handler, dict[str, str]] | None:
        best: tuple[int, str, Handler, dict[str, str]] | None = None
        for route_method, template, regex, handler in self._routes:
            if route_method != method:
                continue
            found = regex.match(path)
            if found:
                literal = len(re.sub(r"\{\w+\}", "", template))
                if best is None or literal > best[0]:
                    best = (literal, template, handler, found.groupdict())
        return (best[1], best[2], best[3]) if best else None

    def set_rate_limit(self, route: str, limit: int, window: float) -> None:
        """Give a route template (e.g. ``POST /channels/{channel_id}/messages``) its own limit."""
        self.rate_limits[route] = (limit, window)

    def inject(
        self,
        kind: str,
        *,
        route: str | None = None,
        times: int = 1,
        status: int = 500,
        retry_after: float = 0.05,
        probability: float = 1.0,
        after_success: bool = False,
    ) -> Fault:
        """Make the next ``times`` matching requests fail with a 429 (``kind="429"``) or 5xx.

        With ``after_success`` (5xx only) the request is carried out first and only the answer is an
        error, as when Discord creates a message but the response is lost on the way back.
        ``kind="drop"``: the request is carried out, then the connection closes with no answer at
        all. ``kind="hold"``: the request is carried out and its answer held until the fault's
        :meth:`Fault.release` (await ``fault.reached`` to know it is held)."""
        if kind not in FAULT_KINDS:
            raise SandboxError(f"fault kind must be one of {', '.join(FAULT_KINDS)}")
        if after_success and kind != "5xx":
            raise SandboxError("after_success applies to 5xx faults only")
        fault = Fault(
            kind,
            route,
            times,
            status=status,
            retry_after=retry_after,
            probability=probability,
            after_success=after_success,
        )
        self.faults.append(fault)
        return fault

    def _take_fault(self, route: str) -> Fault | None:
        for fault in self.faults:
            if fault.remaining > 0 and (fault.route is None or fault.route == route):
                if fault.probability < 1.0 and secrets.randbelow(10_000) >= fault.probability * 10_000:
                    continue
                fault.remaining -= 1
                fault.hits += 1
                return fault
        return None

    def _bucket(self, route: str, params: dict[str, str]) -> tuple[str, Bucket]:
        major = params.get("channel_id") or params.get("guild_id") or params.get("interaction_token") or ""
        major = major or params.get("webhook_token", "")
        key = f"{route}:{major}"
        limit, window = self.rate_limits.get(route, self.default_rate_limit)
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None or now >= bucket.reset_at:
            bucket = Bucket(limit, window, limit, now + window)
            self._buckets[key] = bucket
        return key, bucket

    @staticmethod
    def _rate_headers(route: str, bucket: Bucket) -> dict[str, str]:
        reset_after = max(0.0, bucket.reset_at - time.monotonic())
        return {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(max(0, bucket.remaining)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": hashlib.sha1(route.encode()).hexdigest()[:16],
        }

    @staticmethod
    def _too_many(retry_after: float, headers: dict[str, str], scope: str = "user") -> web.Response:
        headers = dict(headers)
        headers.update({"Retry-After": str(max(1, int(retry_after + 0.999))), "X-RateLimit-Scope": scope})
        headers["Via"] = "1.1 google"  # discord.py treats a 429 without Via as a Cloudflare ban
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
        return _json(body, status=429, headers=headers)

    async def _rest_handler(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        arrived = time.monotonic()
        path = "/" + request.match_info["tail"]
        method = request.method
        content_type = request.headers.get("Content-Type")
        matched = self._match(method, path)
        route = f"{method} {matched[0]}" if matched else f"{method} {path}"
        problems: list[str] = []
        if self._validator is not None:
            problems = self._validator.validate_request(
                method, f"/api/v10{path}", raw or None, content_type, dict(request.query)
            )
        if matched is None:
            problems.append(f"{method} {path} is not a route the sandbox implements")
        if problems:
            text = f"{route}: " + "; ".join(problems)
            self.invalid_requests.append(text)
            log.error("sandbox rejected an invalid request: %s", text)
            self._record(method, path, route, 400, raw, content_type, arrived)
            body = {"code": 50035, "message": "Invalid Form Body", "errors": {"_sandbox": problems}}
            return _json(body, status=400)
        assert matched is not None
        template, handler, params = matched
        if not template.startswith(("/interactions/", "/webhooks/")):
            auth = request.headers.get("Authorization", "")
            if auth != f"Bot {self.bot_token}":
                return _json({"code": 0, "message": "401: Unauthorized"}, status=401)
        _, bucket = self._bucket(route, params)
        fault = self._take_fault(route)
        if fault is not None and not fault.takes_effect:
            self._record(method, path, route, 429 if fault.kind == "429" else fault.status, raw, content_type, arrived)
            if fault.kind == "429":
                return self._too_many(fault.retry_after, self._rate_headers(route, bucket))
            return _json({"code": 0, "message": "sandbox: injected server error"}, status=fault.status)
        if bucket.remaining <= 0:
            self._record(method, path, route, 429, raw, content_type, arrived)
            return self._too_many(max(0.001, bucket.reset_at - time.monotonic()), self._rate_headers(route, bucket))
        bucket.remaining -= 1
        headers = self._rate_headers(route, bucket)
        body, files = _parse_body(raw, content_type, self.ids)
        req = Request(method, path, params, dict(request.query), body, files, dict(request.headers))
        try:
            result = await handler(req)
            status = 204 if result is None else 200
        except DiscordHTTPError as exc:
            self._record(method, path, route, exc.status, raw, content_type, arrived)
            self._interaction_changed(params)
            await self.notify()
            return _json(exc.body(), status=exc.status, headers=headers)
        self._interaction_changed(params)
        if fault is not None and fault.kind == "drop":  # it happened, but no answer ever comes
            self._record(method, path, route, 0, raw, content_type, arrived)
            await self.notify()
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=204)  # never written: the connection is gone
        if fault is not None and fault.kind == "hold":  # it happened; the answer waits
            fault.reached.set()
            await self.notify()
            await fault._released.wait()
        elif fault is not None:  # after_success: it happened, but the caller only hears an error
            self._record(method, path, route, fault.status, raw, content_type, arrived)
            await self.notify()
            return _json({"code": 0, "message": "sandbox: injected server error"}, status=fault.status)
        self._record(method, path, route, status, raw, content_type, arrived)
        await self.notify()
        if result is None:
            return web.Response(status=204, headers=headers)
        return _json(result, headers=headers)

    def _record(
        self, method: str, path: str, route: str, status: int, raw: bytes, content_type: str | None, at: float
    ) -> None:
        """``at``: when the request had arrived (before the sandbox's own work on it)."""
        body, _ = _parse_body(raw, content_type, None)
        self.requests.append(RecordedRequest(method, path, route, status, body, at))

    # -- helpers for handlers -----------------------------------------------------------

    def _channel(self, channel_id: str) -> Channel:
        channel = self.channels.get(int(channel_id))
        if channel is None:
            raise unknown("Channel", 10003)
        return channel

    def _guild(self, guild_id: str) -> Guild:
        guild = self.guilds.get(int(guild_id))
        if guild is None or self.bot_user.id not in guild.members:
            raise unknown("Guild", 10004)
        return guild

    def _message(self, channel: Channel, message_id: str) -> Message:
        message = self.messages.get(int(message_id))
        if message is None or message.deleted or message.channel_id != channel.id or message.ephemeral_to:
            raise unknown("Message", 10008)
        return message

    def _bot_perms(self, channel: Channel) -> int:
        guild = self.guild_of(channel)
        if guild is None:
            return -1
        return guild.permissions_in(self.bot_user.id, channel)

    def _require(self, channel: Channel, *names: str) -> None:
        perms = self._bot_perms(channel)
        if perms == -1:
            return
        for name in names:
            if not has(perms, name):
                raise missing_permissions()

    def _require_guild(self, guild: Guild, name: str) -> None:
        if not has(guild.base_permissions(self.bot_user.id), name):
            raise missing_permissions()

    def _interaction_changed(self, params: dict[str, str]) -> None:
        """Wake whoever waits on this interaction's response (see Outcome.settled)."""
        token = params.get("interaction_token")
        found = self._interactions_by_token.get(token) if token else None
        if found is not None:
            found.changed.set()

    def add_interaction(self, interaction: Interaction) -> None:
        self.interactions[interaction.id] = interaction
        self._interactions_by_token[interaction.token] = interaction

    def _interaction(self, interaction_id: str | None, token: str) -> Interaction:
        found = self._interactions_by_token.get(token)
        if found is None:  # added without add_interaction: look through them all
            found = next((i for i in self.interactions.values() if i.token == token), None)
        if found is not None and (interaction_id is None or str(found.id) == interaction_id):
            return found
        raise unknown("interaction", 10062)

    def _make_message(self, channel: Channel, author: User, body: dict[str, Any], files: list[Attachment]) -> Message:
        kept = _keep_attachments(body, files)
        message = Message(
            id=self.ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            content=str(body.get("content") or ""),
            embeds=list(body.get("embeds") or []),
            components=list(body.get("components") or []),
            flags=int(body.get("flags") or 0),
            attachments=kept,
            allowed_mentions=body.get("allowed_mentions"),
        )
        if not (message.content or message.embeds or message.components or message.attachments):
            raise DiscordHTTPError(400, 50006, "Cannot send an empty message")
        self.messages[message.id] = message
        channel.last_message_id = message.id
        return message

    def _edit_message(self, message: Message, body: dict[str, Any], files: list[Attachment]) -> None:
        message.history.append(message.to_dict())
        for key in ("content", "embeds", "components", "allowed_mentions"):
            if key in body:
                setattr(message, key, body[key] if body[key] is not None else ([] if key != "content" else ""))
        if "flags" in body and body["flags"] is not None:
            message.flags = (message.flags & FLAG_EPHEMERAL) | int(body["flags"])
        if "attachments" in body or files:
            message.attachments = _keep_attachments(body, files, message.attachments)
        message.edited_at = _now()

    # -- routes -------------------------------------------------------------------------

    def _register_routes(self) -> None:
        route = self.route

        @route("GET", "/users/@me")
        async def me(req: Request) -> Any:
            return self.bot_user.to_dict() | {"verified": True, "mfa_enabled": False}

        @route("GET", "/users/{user_id}")
        async def get_user(req: Request) -> Any:
            user = self.users.get(int(req.params["user_id"]))
            if user is None:
                raise unknown("User", 10013)
            return user.to_dict()

        @route("GET", "/oauth2/applications/@me")
        async def app_info(req: Request) -> Any:
            return {
                "id": str(self.application_id),
                "name": "peer-circles (sandbox)",
                "icon": None,
                "description": "A peer support bot running against the local sandbox.",
                "rpc_origins": [],
                "bot_public": False,
                "bot_require_code_grant": False,
                "bot": self.bot_user.to_dict(),
                "owner": next(iter(self.users.values())).to_dict(),
                "team": None,
                "verify_key": "0" * 64,
                "flags": 0,
                "tags": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "approximate_guild_count": len(self.guilds),
            }

        @route("GET", "/gateway")
        async def gateway(req: Request) -> Any:
            return {"url": self.gateway_url}

        @route("GET", "/gateway/bot")
        async def gateway_bot(req: Request) -> Any:
            return {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
            }

        # commands
        @route("GET", "/applications/{application_id}/commands")
        async def list_global(req: Request) -> Any:
            return list(self.commands[None].values())

        @route("PUT", "/applications/{application_id}/commands")
        async def sync_global(req: Request) -> Any:
            return self._store_commands(None, req.json)

        @route("GET", "/applications/{application_id}/guilds/{guild_id}/commands")
        async def list_guild(req: Request) -> Any:
            return list(self.commands.get(int(req.params["guild_id"]), {}).values())

        @route("PUT", "/applications/{application_id}/guilds/{guild_id}/commands")
        async def sync_guild(req: Request) -> Any:
            self._guild(req.params["guild_id"])
            return self._store_commands(int(req.params["guild_id"]), req.json)

        # interactions
        @route("POST", "/interactions/{interaction_id}/{interaction_token}/callback")
        async def callback(req: Request) -> Any:
            return await self._interaction_callback(req)

        @route("POST", "/webhooks/{application_id}/{interaction_token}")
        async def followup(req: Request) -> Any:
            interaction = self._interaction(None, req.params["interaction_token"])
            self._check_token_alive(interaction)
            if interaction.response_type is None:
                raise DiscordHTTPError(400, 40060, "Interaction has not been acknowledged")
            channel = self.channels[interaction.channel_id]
            original = interaction.response_message
            if interaction.response_type == 5 and original is not None and not interaction.deferred_filled:
                # The first followup after a deferred reply replaces the "thinking" message and keeps
                # the ephemeral setting chosen when deferring.
                body = dict(req.json or {})
                body["flags"] = (int(body.get("flags") or 0) & ~FLAG_EPHEMERAL) | (original.flags & FLAG_EPHEMERAL)
                self._edit_message(original, body, req.files)
                original.edited_at = None
                interaction.deferred_filled = True
                return original.to_dict()
            message = self._make_message(channel, self.bot_user, req.json or {}, req.files)
            message.interaction_id, message.interaction_user = interaction.id, interaction.user
            message.webhook_id = self.application_id
            if message.flags & FLAG_EPHEMERAL:
                message.ephemeral_to = interaction.user.id
            interaction.followups.append(message)
            if not message.ephemeral_to and channel.guild_id:
                await self.dispatch("MESSAGE_CREATE", message.to_dict(), intent=INTENT_GUILD_MESSAGES)
            return message.to_dict()

        @route("GET", "/webhooks/{application_id}/{interaction_token}/messages/{message_id}")
        async def get_webhook_message(req: Request) -> Any:
            return self._webhook_message(req).to_dict()

        @route("PATCH", "/webhooks/{application_id}/{interaction_token}/messages/{message_id}")
        async def edit_webhook_message(req: Request) -> Any:
            message = self._webhook_message(req)
            self._edit_message(message, req.json or {}, req.files)
            interaction = self._interaction(None, req.params["interaction_token"])
            if message is interaction.response_message:
                interaction.deferred_filled = True
            return message.to_dict()

        @route("DELETE", "/webhooks/{application_id}/{interaction_token}/messages/{message_id}")
        async def delete_webhook_message(req: Request) -> Any:
            message = self._webhook_message(req)
            message.deleted = True
            return None

        # channels and messages
        @route("GET", "/channels/{channel_id}")
        async def get_channel(req: Request) -> Any:
            return self._channel(req.params["channel_id"]).to_dict()

        @route("PATCH", "/channels/{channel_id}")
        async def edit_channel(req: Request) -> Any:
            channel = self._channel(req.params["channel_id"])
            body = req.json or {}
            if channel.is_thread:
                if channel.owner_id != self.bot_user.id:
                    self._require(channel, "MANAGE_THREADS")
                channel.archived = bool(body.get("archived", channel.archived))
                channel.locked = bool(body.get("locked", channel.locked))
            else:
                self._require(channel, "MANAGE_CHANNELS")
                if "permission_overwrites" in body:
                    guild = self.guild_of(channel)
                    assert guild is not None
                    self._check_overwrites(guild, body["permission_overwrites"])
                    channel.overwrites = _overwrites(body["permission_overwrites"])
                channel.topic = body.get("topic", channel.topic)
            channel.name = body.get("name", channel.name)
            await self.dispatch(
                "THREAD_UPDATE" if channel.is_thread else "CHANNEL_UPDATE", channel.to_dict(), intent=INTENT_GUILDS
            )
            return channel.to_dict()

        @route("DELETE", "/channels/{channel_id}")
        async def delete_channel(req: Request) -> Any:
            channel = self._channel(req.params["channel_id"])
            self._require(channel, "MANAGE_THREADS" if channel.is_thread else "MANAGE_CHANNELS")
            return await self.remove_channel(channel)

        @route("PUT", "/channels/{channel_id}/permissions/{overwrite_id}")
        async def put_overwrite(req: Request) -> Any:
            channel = self._channel(req.params["channel_id"])
            self._require(channel, "MANAGE_ROLES")
            body = req.json or {}
            oid = int(req.params["overwrite_id"])
            channel.overwrites[oid] = Overwrite(
                oid, int(body.get("type", 0)), int(body.get("allow") or 0), int(body.get("deny") or 0)
            )
            await self.dispatch("CHANNEL_UPDATE", channel.to_dict(), intent=INTENT_GUILDS)
            return None

        @route("GET", "/channels/{channel_id}/messages")
        async def history(req: Request) -> Any:
            channel = self._channel(req.params["channel_id"])
            self._require(channel, "VIEW_CHANNEL", "READ_MESSAGE_HISTORY")
            limit = int(req.query.get("limit", 50))
            return [m.to_dict() for m in reversed(self.channel_messages(channel.id))][:limit]

        @route("GET", "/channels/{channel_id}/messages/{message_id}")
        async def get_message(req: Request) -> Any:
            channel = self._channel(req.params["channel_id"])
            self._require(channel, "VIEW_CHANNEL", "READ_MESSAGE_HISTORY")
            return self._message(channel, req.params["message_id"]).to_dict()

        @route("POST", "/channels/{channel_id}/messages")
        async def create_message(req: Request) -> Any:
            channel = self._channel(req.params["channel_id"])
            if channel.type == DM:
                recipient = channel.recipients[0]
                if not recipient.dms_open:
                    raise DiscordHTTPError(403, 50007, "Cannot send messages to this user")
            else:
                self._require(
                    channel, "VIEW_CHANNEL", "SEND_MESSAGES_IN_THREADS" if channel.is_thread else "SEND_MESSAGES"
                )
                if channel.is_thread and channel.archived and channel.locked:
                    raise DiscordHTTPError(400, 50083, "Thread is archived")
                if channel.is_thread:
                    channel.archived = False
            body = req.json or {}
            if (body.get("attachments") or req.files) and channel.guild_id:
                self._require(channel, "ATTACH_FILES")
            nonce = str(body["nonce"]) if body.get("nonce") is not None else None
            if nonce is not None and body.get("enforce_nonce"):
                # Discord's enforce_nonce: the same author's same nonce within a few minutes returns
                # the message already created (even in another channel); if that message was
                # deleted since, Discord answers Unknown Message rather than create it again.
                known = self.nonces.get((self.bot_user.id, nonce))
                if known is not None and self.nonce_clock() - known[1] <= self.nonce_window:
                    earlier = self.messages[known[0]]
                    if earlier.deleted:
                        raise unknown("Message", 10008)
                    return earlier.to_dict()
            message = self._make_message(channel, self.bot_user, body, req.files)
            message.nonce = nonce
            if nonce is not None and body.get("enforce_nonce"):
                self.nonces[(self.bot_user.id, nonce)] = (message.id, self.nonce_clock())
            await self.dispatch(
                "MESSAGE_CREATE",
                message.to_dict(),
                intent=INTENT_DIRECT_MESSAGES if channel.type == DM else INTENT_GUILD_MESSAGES,
            )
            return message.to_dict()

        @route("PATCH", "/channels/{channel_id}/messages/{message_id}")
        async def edit_message(req: Request) -> Any:
            channel = self._channel(req.params["channel_id"])
            message = self._message(channel, req.params["message_id"])
            if message.author.id != self.bot_user.id:
                raise DiscordHTTPError(403, 50005, "Cannot edit a message authored by another user")
            self._edit_message(message, req.json or {}, req.files)
            return message.to_dict()

        @route("DELETE", "/channels/{channel_id}/messages/{message_id}")
        async def delete_message(req: Request) -> Any:
            channel = self._channel(req.params["channel_id"])
            message = self._message(channel, req.params["message_id"])
            if message.author.id != self.bot_user.id:
                self._require(channel, "MANAGE_MESSAGES")
            message.deleted = True
            await self.dispatch(
                "MESSAGE_DELETE",
                {"id": str(message.id), "channel_id": str(channel.id)}
                | ({"guild_id": str(channel.guild_id)} if channel.guild_id else {}),
                intent=INTENT_DIRECT_MESSAGES if channel.type == DM else INTENT_GUILD_MESSAGES,
            )
            return None

        @route("POST", "/users/@me/channels")
        async def open_dm(req: Request) -> Any:
            user = self.users.get(int((req.json or {}).get("recipient_id", 0)))
            if user is None:
                raise unknown("User", 10013)
            return self.dm_channel(user).to_dict()

        # threads
        @route("POST", "/channels/{channel_id}/messages/{message_id}/threads")
        async def thread_from_message(req: Request) -> Any:
            channel = self._channel(req.params["channel_id"])
            self._require(channel, "VIEW_CHANNEL", "CREATE_PUBLIC_THREADS")
            message = self._message(channel, req.params["message_id"])
            if message.thread_id:
                raise DiscordHTTPError(400, 160004, "A thread has already been created for this message")
            thread = self._new_thread(channel, PUBLIC_THREAD, (req.json or {}).get("name", "thread"))
            guild = self.guild_of(channel)
            assert guild is not None
            self.channels.pop(thread.id, None)
            guild.channels.pop(thread.id, None)
            thread.id = message.id  # Discord reuses the message id for a thread started from it
            self.channels[thread.id] = thread
            guild.channels[thread.id] = thread
            message.thread_id = thread.id
            await self.dispatch("THREAD_CREATE", thread.to_dict() | {"newly_created": True}, intent=INTENT_GUILDS)
            return thread.to_dict()

        @route("POST", "/channels/{channel_id}/threads")
        async def thread_create(req: Request) -> Any:
            channel = self._channel(req.params["channel_id"])
            body = req.json or {}
            kind = int(body.get("type", PRIVATE_THREAD))
            self._require(
                channel, "VIEW_CHANNEL", "CREATE_PRIVATE_THREADS" if kind == PRIVATE_THREAD else "CREATE_PUBLIC_THREADS"
            )
            thread = self._new_thread(channel, kind, body.get("name", "thread"))
            thread.invitable = bool(body.get("invitable", True))
            await self.dispatch("THREAD_CREATE", thread.to_dict() | {"newly_created": True}, intent=INTENT_GUILDS)
            return thread.to_dict()

        @route("PUT", "/channels/{channel_id}/thread-members/{user_id}")
        async def thread_add(req: Request) -> Any:
            thread = self._channel(req.params["channel_id"])
            if not thread.is_thread:
                raise DiscordHTTPError(400, 50024, "Cannot execute action on this channel type")
            if thread.archived:
                raise DiscordHTTPError(400, 50083, "Thread is archived")
            user_id = self.bot_user.id if req.params["user_id"] == "@me" else int(req.params["user_id"])
            thread.thread_member_ids.add(user_id)
            return None

        @route("DELETE", "/channels/{channel_id}/thread-members/{user_id}")
        async def thread_remove(req: Request) -> Any:
            thread = self._channel(req.params["channel_id"])
            user_id = self.bot_user.id if req.params["user_id"] == "@me" else int(req.params["user_id"])
            thread.thread_member_ids.discard(user_id)
            return None

        # guilds, roles, members
        @route("GET", "/guilds/{guild_id}")
        async def get_guild(req: Request) -> Any:
            return self._guild(req.params["guild_id"]).to_dict()

        @route("GET", "/guilds/{guild_id}/channels")
        async def guild_channels(req: Request) -> Any:
            guild = self._guild(req.params["guild_id"])
            return [c.to_dict() for c in guild.channels.values() if not c.is_thread]

        @route("POST", "/guilds/{guild_id}/channels")
        async def create_channel(req: Request) -> Any:
            guild = self._guild(req.params["guild_id"])
            self._require_guild(guild, "MANAGE_CHANNELS")
            body = req.json or {}
            overwrites = body.get("permission_overwrites") or []
            self._check_overwrites(guild, overwrites)
            channel = self.add_channel(guild, str(body.get("name")), int(body.get("type") or GUILD_TEXT))
            channel.topic = body.get("topic")
            channel.parent_id = int(body["parent_id"]) if body.get("parent_id") else None
            channel.overwrites = _overwrites(overwrites)
            await self.dispatch("CHANNEL_CREATE", channel.to_dict(), intent=INTENT_GUILDS)
            return channel.to_dict()

        @route("GET", "/guilds/{guild_id}/roles")
        async def roles(req: Request) -> Any:
            return [r.to_dict() for r in self._guild(req.params["guild_id"]).roles.values()]

        @route("POST", "/guilds/{guild_id}/roles")
        async def create_role(req: Request) -> Any:
            guild = self._guild(req.params["guild_id"])
            self._require_guild(guild, "MANAGE_ROLES")
            body = req.json or {}
            perms = int(body.get("permissions") or 0)
            if perms & ~guild.base_permissions(self.bot_user.id):
                raise missing_permissions()
            role = self.add_role(guild, str(body.get("name") or "new role"), perms)
            role.mentionable = bool(body.get("mentionable", False))
            role.hoist = bool(body.get("hoist", False))
            await self.dispatch(
                "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.to_dict()}, intent=INTENT_GUILDS
            )
            return role.to_dict()

        @route("PATCH", "/guilds/{guild_id}/roles/{role_id}")
        async def edit_role(req: Request) -> Any:
            guild = self._guild(req.params["guild_id"])
            role = self._role(guild, req.params["role_id"])
            body = req.json or {}
            role.name = body.get("name", role.name)
            if "permissions" in body:
                role.permissions = int(body["permissions"] or 0)
            await self.dispatch(
                "GUILD_ROLE_UPDATE", {"guild_id": str(guild.id), "role": role.to_dict()}, intent=INTENT_GUILDS
            )
            return role.to_dict()

        @route("DELETE", "/guilds/{guild_id}/roles/{role_id}")
        async def delete_role(req: Request) -> Any:
            guild = self._guild(req.params["guild_id"])
            role = self._role(guild, req.params["role_id"])
            await self.remove_role(guild, role)
            return None

        @route("GET", "/guilds/{guild_id}/members/{user_id}")
        async def get_member(req: Request) -> Any:
            guild = self._guild(req.params["guild_id"])
            member = guild.members.get(int(req.params["user_id"]))
            if member is None:
                raise unknown("Member", 10007)
            return member.to_dict()

        @route("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
        async def add_member_role(req: Request) -> Any:
            guild, member, role = self._member_role(req)
            if role.id not in member.roles:
                member.roles.append(role.id)
                await self._member_updated(guild, member)
            return None

        @route("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
        async def remove_member_role(req: Request) -> Any:
            guild, member, role = self._member_role(req)
            if role.id in member.roles:
                member.roles.remove(role.id)
                await self._member_updated(guild, member)
            return None

        # scheduled events
        @route("GET", "/guilds/{guild_id}/scheduled-events")
        async def list_events(req: Request) -> Any:
            guild = self._guild(req.params["guild_id"])
            return [e.to_dict() for e in guild.events.values()]

        @route("POST", "/guilds/{guild_id}/scheduled-events")
        async def create_event(req: Request) -> Any:
            guild = self._guild(req.params["guild_id"])
            perms = guild.base_permissions(self.bot_user.id)
            if not (has(perms, "CREATE_EVENTS") or has(perms, "MANAGE_EVENTS")):
                raise missing_permissions()
            body = req.json or {}
            event = ScheduledEvent(
                id=self.ids.next(),
                guild_id=guild.id,
                creator_id=self.bot_user.id,
                name=body["name"],
                scheduled_start_time=body["scheduled_start_time"],
                scheduled_end_time=body.get("scheduled_end_time"),
                entity_type=int(body["entity_type"]),
                privacy_level=int(body.get("privacy_level", 2)),
                description=body.get("description"),
                channel_id=int(body["channel_id"]) if body.get("channel_id") else None,
                location=(body.get("entity_metadata") or {}).get("location"),
            )
            if event.entity_type == 3 and not (event.location and event.scheduled_end_time):
                raise DiscordHTTPError(400, 50035, "External events need a location and an end time")
            _check_event_times(event.scheduled_start_time, event.scheduled_end_time)
            guild.events[event.id] = event
            await self.dispatch("GUILD_SCHEDULED_EVENT_CREATE", event.to_dict(), intent=INTENT_GUILD_SCHEDULED_EVENTS)
            return event.to_dict()

        @route("GET", "/guilds/{guild_id}/scheduled-events/{event_id}")
        async def get_event(req: Request) -> Any:
            return self._event(req).to_dict()

        @route("PATCH", "/guilds/{guild_id}/scheduled-events/{event_id}")
        async def edit_event(req: Request) -> Any:
            event = self._event(req)
            body = req.json or {}
            if "scheduled_start_time" in body and event.status == 1:
                _check_event_times(body["scheduled_start_time"], body.get("scheduled_end_time"))
            for key in ("name", "description", "scheduled_start_time", "scheduled_end_time"):
                if key in body:
                    setattr(event, key, body[key])
            if "status" in body:
                event.status = int(body["status"])
            if body.get("entity_type") is not None:
                event.entity_type = int(body["entity_type"])
            if "channel_id" in body:
                event.channel_id = int(body["channel_id"]) if body["channel_id"] else None
            if body.get("entity_metadata"):
                event.location = body["entity_metadata"].get("location")
            elif "entity_metadata" in body:
                event.location = None
            await self.dispatch("GUILD_SCHEDULED_EVENT_UPDATE", event.to_dict(), intent=INTENT_GUILD_SCHEDULED_EVENTS)
            return event.to_dict()

        @route("DELETE", "/guilds/{guild_id}/scheduled-events/{event_id}")
        async def delete_event(req: Request) -> Any:
            event = self._event(req)
            await self.remove_event(event)
            return None

        @route("GET", "/guilds/{guild_id}/scheduled-events/{event_id}/users")
        async def event_users(req: Request) -> Any:
            event = self._event(req)
            guild = self.guilds[event.guild_id]
            return [
                {"guild_scheduled_event_id": str(event.id), "user": self.users[uid].to_dict()}
                | ({"member": guild.members[uid].to_dict()} if uid in guild.members else {})
                for uid in sorted(event.interested)
            ]

    # -- route helpers ------------------------------------------------------------------

    def _store_commands(self, scope: int | None, payload: Any) -> list[dict[str, Any]]:
        stored: dict[str, dict[str, Any]] = {}
        previous = self.commands.get(scope, {})
        for cmd in payload or []:
            key = f"{cmd.get('type', 1)}:{cmd['name']}"
            if key in stored:
                raise DiscordHTTPError(400, 50035, f"Duplicate command name {cmd['name']}")
            old = previous.get(key)
            full = dict(cmd)
            full.setdefault("type", 1)
            full.setdefault("description", "")  # Discord answers "" for context menu commands
            full.update(
                {
                    "id": old["id"] if old else str(self.ids.next()),
                    "application_id": str(self.application_id),
                    "version": str(self.ids.next()),
                }
            )
            if scope is not None:
                full["guild_id"] = str(scope)
            stored[key] = full
        self.commands[scope] = stored
        self.command_syncs.append((scope, len(stored)))
        return list(stored.values())

    def find_command(self, name: str, guild_id: int | None) -> dict[str, Any] | None:
        for scope in ([guild_id] if guild_id else []) + [None]:
            cmd = self.commands.get(scope, {}).get(f"1:{name}")
            if cmd:
                return cmd
        return None

    def _check_token_alive(self, interaction: Interaction) -> None:
        if time.monotonic() - interaction.created > TOKEN_LIFETIME_S:
            raise DiscordHTTPError(401, 50027, "Invalid Webhook Token")

    def _webhook_message(self, req: Request) -> Message:
        interaction = self._interaction(None, req.params["interaction_token"])
        self._check_token_alive(interaction)
        mid = req.params["message_id"]
        if mid == "@original":
            if interaction.response_message is None:
                raise unknown("Message", 10008)
            return interaction.response_message
        for message in interaction.followups + ([interaction.response_message] if interaction.response_message else []):
            if str(message.id) == mid:
                return message
        raise unknown("Message", 10008)

    async def _interaction_callback(self, req: Request) -> Any:
        interaction = self._interaction(req.params["interaction_id"], req.params["interaction_token"])
        if interaction.response_type is not None:
            raise DiscordHTTPError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - interaction.created > self.interaction_timeout:
            interaction.late = True
            interaction.answered.set()
            raise unknown("interaction", 10062)
        body = req.json or {}
        kind = int(body.get("type", 0))
        data = body.get("data") or {}
        channel = self.channels[interaction.channel_id]
        message: Message | None = None
        if kind in (4, 5):
            if kind == 5:
                data = {"content": "", "flags": int(data.get("flags") or 0)}
                message = Message(self.ids.next(), channel.id, channel.guild_id, self.bot_user, flags=data["flags"])
                self.messages[message.id] = message
            else:
                message = self._make_message(channel, self.bot_user, data, req.files)
            message.interaction_id, message.interaction_user = interaction.id, interaction.user
            message.interaction_name = interaction.name
            if message.flags & FLAG_EPHEMERAL:
                message.ephemeral_to = interaction.user.id
            interaction.response_message = message
        elif kind in (6, 7):
            source = interaction.source_message
            if source is None:
                raise DiscordHTTPError(400, 40043, "This interaction type cannot update a message")
            if kind == 7:
                self._edit_message(source, data, req.files)
            interaction.versions_at_response = len(source.history)
            message = source
            interaction.response_message = source
        elif kind == 8:
            if interaction.type != 4:
                raise DiscordHTTPError(400, 50035, "Autocomplete results answer only autocomplete interactions")
            interaction.choices = list(data.get("choices") or [])
        elif kind == 9:
            if interaction.type == 5:
                raise DiscordHTTPError(400, 50035, "A modal submit cannot open another modal")
            interaction.modal = data
        else:
            raise DiscordHTTPError(400, 50035, f"Unsupported interaction callback type {kind}")
        interaction.response_type = kind
        interaction.responded.set()
        interaction.answered.set()
        if message is not None and not message.ephemeral_to and kind in (4,) and channel.guild_id:
            await self.dispatch("MESSAGE_CREATE", message.to_dict(), intent=INTENT_GUILD_MESSAGES)
        if req.query.get("with_response") in ("1", "true", "True"):
            return {
                "interaction": {
                    "id": str(interaction.id),
                    "type": interaction.type,
                    "response_message_id": str(message.id) if message else None,
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": bool(message and message.flags & FLAG_EPHEMERAL),
                },
                "resource": {"type": kind} | ({"message": message.to_dict()} if message else {}),
            }
        return None

    def _check_overwrites(self, guild: Guild, overwrites: list[dict[str, Any]]) -> None:
        mine = guild.base_permissions(self.bot_user.id)
        for ow in overwrites:
            bits = int(ow.get("allow") or 0) | int(ow.get("deny") or 0)
            if bits & ~mine:
                raise missing_permissions()
            if bits & P["MANAGE_ROLES"] and not has(mine, "ADMINISTRATOR"):
                raise missing_permissions()
        if overwrites and not has(mine, "MANAGE_ROLES"):
            raise missing_permissions()

    def _role(self, guild: Guild, role_id: str) -> Role:
        role = guild.roles.get(int(role_id))
        if role is None:
            raise unknown("Role", 10011)
        self._require_guild(guild, "MANAGE_ROLES")
        if role.position >= guild.top_role_position(self.bot_user.id) or role.managed:
            raise missing_permissions()
        return role

    def _member_role(self, req: Request) -> tuple[Guild, Member, Role]:
        guild = self._guild(req.params["guild_id"])
        member = guild.members.get(int(req.params["user_id"]))
        if member is None:
            raise unknown("Member", 10007)
        role = self._role(guild, req.params["role_id"])
        return guild, member, role

    async def _member_updated(self, guild: Guild, member: Member) -> None:
        await self.dispatch(
            "GUILD_MEMBER_UPDATE", member.to_dict() | {"guild_id": str(guild.id)}, intent=INTENT_GUILD_MEMBERS
        )

    def _event(self, req: Request) -> ScheduledEvent:
        guild = self._guild(req.params["guild_id"])
        event = guild.events.get(int(req.params["event_id"]))
        if event is None:
            raise unknown("Guild Scheduled Event", 10070)
        return event

    def _new_thread(self, parent: Channel, kind: int, name: str) -> Channel:
        guild = self.guild_of(parent)
        assert guild is not None
        thread = Channel(self.ids.next(), kind, name=name[:100], guild_id=guild.id, parent_id=parent.id)
        thread.owner_id = self.bot_user.id
        thread.thread_member_ids.add(self.bot_user.id)
        guild.channels[thread.id] = thread
        self.channels[thread.id] = thread
        return thread

    # -- changes made "by hand" in Discord (tests use these via actors) -----------------

    async def remove_channel(self, channel: Channel) -> dict[str, Any]:
        guild = self.guild_of(channel)
        if guild:
            guild.channels.pop(channel.id, None)
        self.channels.pop(channel.id, None)
        await self.dispatch(
            "THREAD_DELETE" if channel.is_thread else "CHANNEL_DELETE", channel.to_dict(), intent=INTENT_GUILDS
        )
        await self.notify()
        return channel.to_dict()

    async def remove_role(self, guild: Guild, role: Role) -> None:
        guild.roles.pop(role.id, None)
        for member in guild.members.values():
            if role.id in member.roles:
                member.roles.remove(role.id)
        await self.dispatch(
            "GUILD_ROLE_DELETE", {"guild_id": str(guild.id), "role_id": str(role.id)}, intent=INTENT_GUILDS
        )
        await self.notify()

    async def remove_event(self, event: ScheduledEvent) -> None:
        self.guilds[event.guild_id].events.pop(event.id, None)
        await self.dispatch("GUILD_SCHEDULED_EVENT_DELETE", event.to_dict(), intent=INTENT_GUILD_SCHEDULED_EVENTS)
        await self.notify()

    async def remove_bot_from(self, guild: Guild) -> None:
        guild.members.pop(self.bot_user.id, None)
        await self.dispatch("GUILD_DELETE", {"id": str(guild.id)}, intent=INTENT_GUILDS)
        await self.notify()


def _check_event_times(start: str, end: str | None) -> None:
    """Discord refuses an event that starts in the past, or ends before it starts (real time: the
    sandbox can't see a test's fake clock, so tests schedule from a clock started near now)."""
    from datetime import datetime

    begins = datetime.fromisoformat(start)
    if begins < _now():
        raise DiscordHTTPError(
            400,
            50035,
            "Invalid Form Body",
            {
                "scheduled_start_time": {
                    "_errors": [
                        {"code": "GUILD_SCHEDULED_EVENT_SCHEDULE_PAST", "message": "Cannot schedule event in the past."}
                    ]
                }
            },
        )
    if end is not None and datetime.fromisoformat(end) <= begins:
        raise DiscordHTTPError(400, 50035, "Invalid Form Body: the end time must be after the start time")


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _default_everyone() -> int:
    from bot.sandbox.models import DEFAULT_EVERYONE

    return DEFAULT_EVERYONE


def _overwrites(raw: list[dict[str, Any]]) -> dict[int, Overwrite]:
    return {
        int(o["id"]): Overwrite(int(o["id"]), int(o.get("type", 0)), int(o.get("allow") or 0), int(o.get("deny") or 0))
        for o in raw
    }


def _keep_attachments(
    body: dict[str, Any], files: list[Attachment], existing: list[Attachment] | None = None
) -> list[Attachment]:
    kept = []
    wanted = body.get("attachments")
    by_index = {i: f for i, f in enumerate(files)}
    if wanted is None:
        return list(existing or []) + files
    for item in wanted:
        item_id = str(item.get("id"))
        if item_id.isdigit() and int(item_id) in by_index:
            kept.append(by_index[int(item_id)])
        elif existing:
            kept.extend(a for a in existing if str(a.id) == item_id)
    return kept


def _parse_body(raw: bytes, content_type: str | None, ids: Snowflakes | None) -> tuple[Any, list[Attachment]]:
    if not raw:
        return None, []
    if content_type and content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
        payload: Any = None
        files: list[Attachment] = []
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = cast(bytes, part.get_payload(decode=True) or b"")
            if name == "payload_json":
                payload = json.loads(data)
            elif ids is not None:
                filename = part.get_filename() or "file"
                files.append(Attachment(ids.next(), filename, data, part.get_content_type()))
        return payload, files
    try:
        return json.loads(raw), []
    except ValueError:
        return raw.decode(errors="replace"), []


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON the way Discord sends it: ``Content-Type: application/json`` with no charset
    (discord.py compares the header exactly)."""
    return web.Response(body=json.dumps(data).encode(), status=status, headers=headers, content_type="application/json")
