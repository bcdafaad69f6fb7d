"""Reaching Discord at start, when the network (or Discord) isn't there yet.

Once connected, discord.py reconnects by itself (``Client.connect(reconnect=True)``). Before that
it doesn't: ``login()`` raises the first network error it meets, and ``connect()`` dies with an
``AttributeError`` when its very first gateway handshake fails (discord.py issue #10520). Under
systemd or compose the bot often starts before the network is up, so :class:`DiscordConnection`
covers that stretch, in three steps:

1. log in (REST: the bot user and the application, then ``setup_hook``: database, cogs, command
   sync, scheduler);
2. check that the gateway answers a WebSocket handshake;
3. hand over to discord.py's ``connect(reconnect=True)``, which handles every later drop.

A step that fails because Discord can't be reached (DNS, refused, unreachable, timeout, TLS, a
5xx) logs one line saying what failed and when the next try is, waits (:class:`RetryBackoff`) and
tries that step again, until it works or ``stop`` is set. A stop ends a wait, or a try in flight,
at once. Anything else (a rejected token, a database problem) is raised as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import random
import socket
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from http import HTTPStatus
from typing import Any

import aiohttp
import discord
import discord.http
from discord.gateway import DiscordWebSocket
from discord.utils import MISSING

from bot.clock import Clock, SystemClock

log = logging.getLogger(__name__)

# OSErrors that mean "the network or the far end isn't there", as opposed to, say, a database
# folder we may not write to (also an OSError, and not something waiting fixes).
NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ETIMEDOUT,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EHOSTUNREACH,
        errno.EHOSTDOWN,
        errno.EADDRNOTAVAIL,
        errno.EPIPE,
    }
)
GATEWAY_HANDSHAKE_TIMEOUT = 60.0  # what discord.py allows its own handshake


class StartFailure(Exception):
    """Discord (or whatever is at the configured address) answered, in a way waiting won't fix.
    The message is one line for the operator."""


def _retry_status(status: int) -> bool:
    return status >= 500 or status == 429


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` means Discord can't be reached right now (worth waiting and trying again)."""
    if isinstance(exc, discord.HTTPException):  # discord.py already retried 500/502/504/524 itself
        return _retry_status(exc.status)
    if isinstance(exc, aiohttp.ClientResponseError):  # e.g. a 503 answer to the gateway handshake
        return _retry_status(exc.status)
    if isinstance(
        exc,
        aiohttp.ClientError | ConnectionError | TimeoutError | socket.gaierror | ssl.SSLError | discord.GatewayNotFound,
    ):
        return True
    return isinstance(exc, OSError) and exc.errno in NETWORK_ERRNOS


def _status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def describe(exc: BaseException) -> str:
    """What went wrong, in a few words for the log (host names and statuses, never a token)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        where = f"{exc.host}:{exc.port}"
        cause = getattr(exc, "os_error", None)
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup for {exc.host} failed: {cause.strerror or cause}"
        if isinstance(cause, ConnectionRefusedError):
            return f"{where} refused the connection"
        if isinstance(exc, ssl.SSLError):
            return f"TLS with {where} failed: {exc}"
        if isinstance(cause, TimeoutError):
            return f"{where} did not answer in time"
        detail = cause.strerror if isinstance(cause, OSError) and cause.strerror else cause
        return f"could not connect to {where}: {detail}"
    if isinstance(exc, socket.gaierror):
        return f"DNS lookup failed: {exc.strerror or exc}"
    if isinstance(exc, discord.HTTPException):
        return f"Discord answered {_status_text(exc.status)}"
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return f"the handshake was answered with {_status_text(exc.status)}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"the answer was {_status_text(exc.status)}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without answering"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class RetryBackoff:
    """The waits between tries: ``base`` seconds doubling up to ``cap``, each ``jitter`` either way
    at random (so bots restarted together don't knock on Discord's door in step).

    With the defaults: about 1, 2, 4, 8, 16, 32, 60, 60, ... seconds, each ±20%. Call :meth:`reset`
    after a success: the next failure starts from ``base`` again.
    """

    base: float = 1.0
    cap: float = 60.0
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def next_delay(self) -> float:
        nominal = min(self.cap, self.base * 2 ** min(self.failures, 64))  # no float overflow after days
        self.failures += 1
        return nominal * self.rng.uniform(1 - self.jitter, 1 + self.jitter)

    def reset(self) -> None:
        self.failures = 0


class DiscordConnection:
    """Log ``bot`` in and connect it, waiting and trying again while Discord can't be reached.

    ``connected`` is True once discord.py's own connection loop has taken over; from then on
    closing the bot is what ends :meth:`run`. ``clock`` and ``sleep`` are for tests (a
    :class:`~bot.clock.FakeClock` and a sleep that moves it).
    """

    def __init__(
        self,
        bot: discord.Client,
        token: str,
        stop: asyncio.Event,
        *,
        backoff: RetryBackoff | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.bot = bot
        self.token = token
        self.stop = stop
        self.backoff = backoff or RetryBackoff()
        self.clock = clock or SystemClock()
        self.sleep = sleep
        self.connected = False
        self._logged_in_before = False

    async def run(self) -> None:
        """Returns when ``stop`` is set before the connection was made, or when discord.py's
        connection loop ends (the bot was closed). Raises what waiting can't fix."""
        if not await self._step("logging in", discord.http.Route.BASE, self._log_in):
            return
        gateway = str(DiscordWebSocket.DEFAULT_GATEWAY)
        while await self._step("opening the gateway connection", gateway, self._open_gateway):
            self.connected = True
            try:
                await self.bot.connect(reconnect=True)
                return
            except AttributeError:
                if self.bot.ws is not None or self.bot.is_closed():
                    raise
                # discord.py #10520: its first handshake failed just after ours worked (the network
                # went away in between) and its retry loop tripped over ``ws`` still being None.
                # It hasn't closed anything: our loop takes over again.
                self.connected = False
                log.warning("Discord can't be reached: the first gateway connection failed; trying again.")

    # -- the steps ----------------------------------------------------------------------

    async def _log_in(self) -> None:
        if self._logged_in_before:
            # discord.py opens a new HTTP session at every login and the failed try's is still
            # open: close it, and its connector (which closes with it), so retries don't leak them.
            await self.bot.http.close()
            self.bot.http.connector = MISSING
        self._logged_in_before = True
        await self.bot.login(self.token)

    async def _open_gateway(self) -> None:
        """One WebSocket handshake with the gateway discord.py will use, closed straight away: the
        bot identifies only on discord.py's own connection."""
        url = DiscordWebSocket.DEFAULT_GATEWAY.with_query(v=discord.http.INTERNAL_API_VERSION, encoding="json")
        try:
            ws = await asyncio.wait_for(self.bot.http.ws_connect(str(url)), GATEWAY_HANDSHAKE_TIMEOUT)
        except aiohttp.WSServerHandshakeError as exc:
            if _retry_status(exc.status):
                raise
            raise StartFailure(
                f"The gateway at {DiscordWebSocket.DEFAULT_GATEWAY} refused the WebSocket handshake "
                f"({_status_text(exc.status)}). Check DISCORD_GATEWAY_URL."
            ) from exc
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 5)

    # -- trying, waiting ----------------------------------------------------------------

    async def _step(self, what: str, where: str, action: Callable[[], Coroutine[Any, Any, None]]) -> bool:
        """Do ``action`` until it works (True) or ``stop`` is set (False)."""
        while True:
            task = await self._unless_stopped(action())
            if task is None:
                return False
            exc = task.exception()
            if exc is None:
                if self.backoff.failures:
                    tries = self.backoff.failures
                    log.info(
                        "Reached Discord: %s worked after %d failed %s.", what, tries, "try" if tries == 1 else "tries"
                    )
                self.backoff.reset()
                return True
            if isinstance(exc, StartFailure) or not unreachable(exc):
                raise exc
            delay = self.backoff.next_delay()
            at = self.clock.now() + timedelta(seconds=delay)
            log.warning(
                "Discord can't be reached: %s at %s failed (%s). Trying again in %.1f s, at %s UTC.",
                what,
                where,
                describe(exc),
                delay,
                at.strftime("%H:%M:%S"),
            )
            if await self._unless_stopped(self.sleep(delay)) is None:
                return False

    async def _unless_stopped(self, work: Awaitable[None]) -> asyncio.Future[None] | None:
        """Run ``work`` to its end (the finished task), unless ``stop`` comes first: then cancel
        it, wait until it has unwound, and return None."""
        task = asyncio.ensure_future(work)
        stopped = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
        if self.stop.is_set():
            if not task.cancelled():
                task.exception()  # we're stopping: whatever it ended with doesn't matter now
            return None
        return task
