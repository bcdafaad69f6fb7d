"""A local Discord-compatible server for the unmodified discord.py client.

The bot is pointed at it with ``DISCORD_API_BASE_URL`` and ``DISCORD_GATEWAY_URL``. It speaks
the gateway (HELLO, IDENTIFY, READY, GUILD_CREATE, heartbeats, zlib-stream, RESUME) and the REST
routes the bot uses, keeps state the way Discord would, enforces per-route rate limits with
Discord's headers, lets a test inject faults (429, 5xx, a lost answer, a request held in flight,
dropped gateway), serves several gateway shards when made with ``shard_count``, dedupes message
nonces as Discord's ``enforce_nonce`` does, and validates every REST request body against
Discord's OpenAPI description.

Where things are: the state and its lookups in :mod:`~bot.sandbox.state`, the gateway in
:mod:`~bot.sandbox.gateway`, the REST routes by Discord resource in :mod:`bot.sandbox.routes`,
fault injection in :mod:`~bot.sandbox.faults` and rate limits in :mod:`~bot.sandbox.ratelimits`.
This module listens, and takes each REST request through validation, authentication, rate
limits and injected faults to its route.

Tests talk to it through :mod:`bot.sandbox.actors` (``sandbox.member("alice")`` ...).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from aiohttp import web

from bot.sandbox.errors import DiscordHTTPError, SandboxError
from bot.sandbox.faults import FAULT_KINDS, Fault, take_fault
from bot.sandbox.gateway import GatewaySession
from bot.sandbox.ratelimits import Bucket, bucket_key, rate_headers, too_many
from bot.sandbox.routes import application, channels, events, guilds, interactions, users
from bot.sandbox.routing import Request, Routes
from bot.sandbox.state import SandboxState
from bot.sandbox.wire import json_response, parse_body

log = logging.getLogger(__name__)

ROUTES = Routes(users.routes, application.routes, interactions.routes, channels.routes, guilds.routes, events.routes)


@dataclass
class RecordedRequest:
    method: str
    path: str
    route: str
    status: int
    json: Any
    at: float


class SandboxServer(SandboxState):
    """The state, served: REST on ``/api/v10`` and the gateway on ``/gateway``."""

    def __init__(
        self,
        *,
        spec_path: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        default_rate_limit: tuple[int, float] = (50, 1.0),
        shard_count: int = 1,
    ) -> None:
        super().__init__(host=host, port=port, shard_count=shard_count)
        self.requests: list[RecordedRequest] = []
        self.invalid_requests: list[str] = []
        self.faults: list[Fault] = []
        self.rate_limits: dict[str, tuple[int, float]] = {}
        self.default_rate_limit = default_rate_limit
        self._buckets: dict[str, Bucket] = {}
        self._validator: Any = None
        if spec_path is not None:
            from bot.sandbox.openapi import OpenAPIValidator

            self._validator = OpenAPIValidator(spec_path)
        self._runner: web.AppRunner | None = None

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handler)
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
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- the gateway, as tests drive and watch it ---------------------------------------

    @property
    def session(self) -> GatewaySession | None:
        return self.gateway.session

    @session.setter
    def session(self, session: GatewaySession | None) -> None:
        self.gateway.session = session

    @property
    def sessions(self) -> dict[int, GatewaySession]:
        """Each shard's gateway session, by shard id (kept after a disconnect, for RESUME)."""
        return self.gateway.sessions

    @property
    def ready(self) -> asyncio.Event:
        """Set when the bot has identified (READY sent) on every shard; a test may clear it to see
        the next (with several shards, clear ``shard_ready`` too)."""
        return self.gateway.ready

    @property
    def resumed(self) -> asyncio.Event:
        """Set when the bot has resumed a session (on any shard)."""
        return self.gateway.resumed

    @property
    def shard_ready(self) -> list[asyncio.Event]:
        """``shard_ready[i]``: set when shard ``i`` has identified (with one shard: ``ready``)."""
        return self.gateway.shard_ready

    @property
    def shard_resumed(self) -> list[asyncio.Event]:
        """``shard_resumed[i]``: set when shard ``i`` has resumed (with one shard: ``resumed``)."""
        return self.gateway.shard_resumed

    @property
    def identify_count(self) -> int:
        return self.gateway.identify_count

    @property
    def resume_count(self) -> int:
        return self.gateway.resume_count

    @property
    def identify_counts(self) -> list[int]:
        """IDENTIFYs accepted, per shard."""
        return list(self.gateway.identify_counts)

    @property
    def resume_counts(self) -> list[int]:
        """RESUMEs accepted, per shard."""
        return list(self.gateway.resume_counts)

    async def wait_ready(self, shard: int | None = None, *, timeout: float = 10.0) -> None:
        """Wait until ``shard`` has identified (default: every shard has)."""
        await self.gateway.wait_ready(shard, timeout=timeout)

    async def drop_gateway(
        self, code: int = 4000, *, wait_resumed: bool = True, timeout: float = 10.0, shard: int | None = None
    ) -> None:
        """Close the bot's gateway connection as Discord does on a fault; wait for its RESUME.
        ``shard``: only that shard's connection (default: every connected shard's)."""
        await self.gateway.drop(code, wait_resumed=wait_resumed, timeout=timeout, shard=shard)

    def fail_gateway(self, status: int = 503, times: int = 1) -> None:
        """Answer the next ``times`` gateway handshakes with an HTTP error, as Discord's gateway
        does during an outage."""
        self.gateway.fail(status, times)

    # -- rate limits and faults ---------------------------------------------------------

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

    def _bucket(self, route: str, params: dict[str, str]) -> tuple[str, Bucket]:
        key = bucket_key(route, params)
        limit, window = self.rate_limits.get(route, self.default_rate_limit)
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None or now >= bucket.reset_at:
            bucket = Bucket(limit, window, limit, now + window)
            self._buckets[key] = bucket
        return key, bucket

    # -- REST -----------------------------------------------------------------------------

    async def _rest_handler(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        arrived = time.monotonic()
        path = "/" + request.match_info["tail"]
        method = request.method
        content_type = request.headers.get("Content-Type")
        matched = ROUTES.match(method, path)
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
            return json_response(body, status=400)
        assert matched is not None
        template, handler, params = matched
        if not template.startswith(("/interactions/", "/webhooks/")):
            auth = request.headers.get("Authorization", "")
            if auth != f"Bot {self.bot_token}":
                return json_response({"code": 0, "message": "401: Unauthorized"}, status=401)
        _, bucket = self._bucket(route, params)
        fault = take_fault(self.faults, route)
        if fault is not None and not fault.takes_effect:
            self._record(method, path, route, 429 if fault.kind == "429" else fault.status, raw, content_type, arrived)
            if fault.kind == "429":
                return too_many(fault.retry_after, rate_headers(route, bucket))
            return json_response({"code": 0, "message": "sandbox: injected server error"}, status=fault.status)
        if bucket.remaining <= 0:
            self._record(method, path, route, 429, raw, content_type, arrived)
            return too_many(max(0.001, bucket.reset_at - time.monotonic()), rate_headers(route, bucket))
        bucket.remaining -= 1
        headers = rate_headers(route, bucket)
        body, files = parse_body(raw, content_type, self.ids)
        req = Request(method, path, params, dict(request.query), body, files, dict(request.headers))
        try:
            result = await handler(self, req)
            status = 204 if result is None else 200
        except DiscordHTTPError as exc:
            self._record(method, path, route, exc.status, raw, content_type, arrived)
            self.interaction_changed(params)
            await self.notify()
            return json_response(exc.body(), status=exc.status, headers=headers)
        self.interaction_changed(params)
        if fault is not None and fault.kind == "drop":  # it happened, but no answer ever comes
            self._record(method, path, route, 0, raw, content_type, arrived)
            await self.notify()
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=204)  # never written: the connection is gone
        if fault is not None and fault.kind == "hold":  # it happened; the answer waits
            fault.reached.set()
            await self.notify()
            await fault.held()
        elif fault is not None:  # after_success: it happened, but the caller only hears an error
            self._record(method, path, route, fault.status, raw, content_type, arrived)
            await self.notify()
            return json_response({"code": 0, "message": "sandbox: injected server error"}, status=fault.status)
        self._record(method, path, route, status, raw, content_type, arrived)
        await self.notify()
        if result is None:
            return web.Response(status=204, headers=headers)
        return json_response(result, headers=headers)

    def _record(
        self, method: str, path: str, route: str, status: int, raw: bytes, content_type: str | None, at: float
    ) -> None:
        """``at``: when the request had arrived (before the sandbox's own work on it)."""
        body, _ = parse_body(raw, content_type, None)
        self.requests.append(RecordedRequest(method, path, route, status, body, at))
