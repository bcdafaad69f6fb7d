"""Reaching Discord at start: the retry schedule, and the real client retrying through the sandbox.

Waits between tries go through an injected ``sleep`` that moves a FakeClock, so nothing here
waits for real time.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import re
import socket
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import aiohttp
import discord
import pytest
from aiohttp.client_reqrep import ConnectionKey
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from bot.client import FEATURES, PeerCirclesBot
from bot.clock import FakeClock
from bot.connection import DiscordConnection, RetryBackoff, StartFailure, describe, unreachable
from bot.sandbox.actors import Sandbox
from bot.sandbox.harness import BotHarness

LINE = re.compile(
    r"^Discord can't be reached: (?P<what>.+?) at (?P<where>\S+) failed \((?P<why>.+)\)\. "
    r"Trying again in (?P<delay>[\d.]+) s, at (?P<at>\d\d:\d\d:\d\d) UTC\.$"
)


class Extremes(random.Random):
    """``uniform`` always gives the low end, or always the high end."""

    def __init__(self, high: bool) -> None:
        super().__init__(0)
        self.high = high

    def uniform(self, a: float, b: float) -> float:
        return b if self.high else a


# -- the schedule ---------------------------------------------------------------------------


def test_backoff_doubles_from_one_second_up_to_a_minute() -> None:
    low = RetryBackoff(rng=Extremes(high=False))
    high = RetryBackoff(rng=Extremes(high=True))
    nominal = [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert [round(low.next_delay(), 6) for _ in nominal] == [round(n * 0.8, 6) for n in nominal]
    assert [round(high.next_delay(), 6) for _ in nominal] == [round(n * 1.2, 6) for n in nominal]


def test_backoff_is_jittered_within_twenty_percent() -> None:
    delays = []
    for seed in range(200):
        backoff = RetryBackoff(rng=random.Random(seed))
        delays.append([backoff.next_delay() for _ in range(8)])
    for n, nominal in enumerate([1, 2, 4, 8, 16, 32, 60, 60]):
        column = [row[n] for row in delays]
        assert all(0.8 * nominal <= d <= 1.2 * nominal for d in column)
        assert len({round(d, 3) for d in column}) > 100, "bots restarted together must not retry in step"


def test_backoff_resets_after_a_success_and_stays_capped_after_days() -> None:
    backoff = RetryBackoff(rng=Extremes(high=True))
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(1.2)
    backoff.failures = 10_000  # a week of tries a minute apart: no overflow, still the cap
    assert backoff.next_delay() == pytest.approx(72.0)


def _connector_error(cause: OSError, host: str = "discord.com", port: int = 443) -> aiohttp.ClientConnectorError:
    key = ConnectionKey(host, port, True, True, None, None, None)
    return aiohttp.ClientConnectorError(key, cause)


def _handshake_error(status: int) -> aiohttp.WSServerHandshakeError:
    url = URL("wss://gateway.discord.gg/?v=10&encoding=json")
    request = aiohttp.RequestInfo(url, "GET", CIMultiDictProxy(CIMultiDict()))
    return aiohttp.WSServerHandshakeError(request, (), status=status, message="Invalid response status")


def test_what_counts_as_unreachable_and_how_it_reads() -> None:
    dns = _connector_error(socket.gaierror(-3, "Temporary failure in name resolution"))
    refused = _connector_error(ConnectionRefusedError(111, "Connect call failed"))
    unreachable_net = _connector_error(OSError(101, "Network is unreachable"))
    handshake = _handshake_error(503)
    assert describe(dns) == "DNS lookup for discord.com failed: Temporary failure in name resolution"
    assert describe(refused) == "discord.com:443 refused the connection"
    assert describe(unreachable_net) == "could not connect to discord.com:443: Network is unreachable"
    assert describe(handshake) == "the handshake was answered with 503 Service Unavailable"
    assert describe(TimeoutError()) == "no answer in time"
    for exc in (dns, refused, unreachable_net, handshake, TimeoutError(), ConnectionResetError()):
        assert unreachable(exc), exc
    not_network = [
        PermissionError(13, "Permission denied"),  # e.g. DATABASE_PATH's folder: waiting won't fix it
        _handshake_error(404),
        discord.LoginFailure("Improper token has been passed."),
        RuntimeError("boom"),
    ]
    for other in not_network:
        assert not unreachable(other), other


# -- the real client through the sandbox ----------------------------------------------------


class FakeSleep:
    """Stands in for ``asyncio.sleep``: records each wait and moves the clock by it."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.waits.append(delay)
        self.clock.advance(timedelta(seconds=delay))
        await asyncio.sleep(0)


def _retry_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bot.connection" and r.levelno == logging.WARNING]


async def test_5xx_at_login_during_the_command_sync_and_on_the_gateway_are_retried(
    sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    server = sandbox.server
    server.inject("5xx", route="GET /users/@me", status=503)
    server.inject("5xx", route="PUT /applications/{application_id}/commands", status=503)
    server.fail_gateway(503)
    clock = FakeClock()
    started_at = clock.now()
    sleep = FakeSleep(clock)
    stop = asyncio.Event()
    bot = PeerCirclesBot(BotHarness(sandbox, tmp_path / "bot.db").settings(), guild_ready_timeout=0.05)
    async with bot:
        connection = DiscordConnection(
            bot, server.bot_token, stop, clock=clock, sleep=sleep, backoff=RetryBackoff(rng=Extremes(high=False))
        )
        runner = asyncio.create_task(connection.run())
        try:
            await server.wait_for(lambda: server.ready.is_set(), "the bot to connect after the 503s", timeout=20)
            reply = await sandbox.member("alice").slash("about")
            assert "peer support" in reply.text
            assert connection.connected
            # A retried login only redid what hadn't finished: one set of cogs, one scheduler.
            assert len(bot.cogs) == len(FEATURES)
            assert bot.services.scheduler.started
            assert [scope for scope, _ in server.command_syncs] == [None]
        finally:
            await bot.close()
            await asyncio.wait_for(runner, 10)
    lines = [LINE.match(r.getMessage()) for r in _retry_lines(caplog)]
    assert all(lines), [r.getMessage() for r in _retry_lines(caplog)]
    assert [(m["what"], m["why"]) for m in lines if m] == [
        ("logging in", "Discord answered 503 Service Unavailable"),
        ("logging in", "Discord answered 503 Service Unavailable"),
        ("opening the gateway connection", "the handshake was answered with 503 Service Unavailable"),
    ]
    # 1 s, then 2 s; the login worked, so the gateway's first wait is 1 s again (each -20% here).
    assert sleep.waits == pytest.approx([0.8, 1.6, 0.8])
    expected_at = [started_at + timedelta(seconds=s) for s in (0.8, 0.8 + 1.6, 0.8 + 1.6 + 0.8)]
    assert [m["at"] for m in lines if m] == [t.strftime("%H:%M:%S") for t in expected_at]
    assert all(r.exc_info is None for r in caplog.records if r.name == "bot.connection"), "no tracebacks"
    gc.collect()  # every failed login's HTTP session was closed, not left for the collector
    assert not [r for r in caplog.records if "Unclosed" in r.getMessage()]


async def test_a_rejected_token_is_not_retried(sandbox: Sandbox, tmp_path: Path) -> None:
    sleep = FakeSleep(FakeClock())
    bot = PeerCirclesBot(BotHarness(sandbox, tmp_path / "bot.db").settings())
    async with bot:
        connection = DiscordConnection(bot, "not.the.token", asyncio.Event(), sleep=sleep)
        with pytest.raises(discord.LoginFailure):
            await connection.run()
        await bot.close()
    assert sleep.waits == []


async def test_a_gateway_that_answers_404_is_a_configuration_problem(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.server.fail_gateway(404)
    sleep = FakeSleep(FakeClock())
    bot = PeerCirclesBot(BotHarness(sandbox, tmp_path / "bot.db").settings(), guild_ready_timeout=0.05)
    async with bot:
        connection = DiscordConnection(bot, sandbox.server.bot_token, asyncio.Event(), sleep=sleep)
        with pytest.raises(
            StartFailure, match=r"refused the WebSocket handshake \(404 Not Found\)\. Check DISCORD_GATEWAY_URL"
        ):
            await connection.run()
        await bot.close()
    assert sleep.waits == []


async def test_a_stop_while_waiting_to_retry_ends_the_wait_at_once(tmp_path: Path, sandbox: Sandbox) -> None:
    with socket.socket() as probe:  # a port nobody listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = replace(
        BotHarness(sandbox, tmp_path / "bot.db").settings(), api_base_url=f"http://127.0.0.1:{port}/api/v10"
    )
    waiting = asyncio.Event()

    async def wait_forever(delay: float) -> None:
        waiting.set()
        await asyncio.Event().wait()

    stop = asyncio.Event()
    bot = PeerCirclesBot(settings)
    async with bot:
        connection = DiscordConnection(bot, "any.token", stop, sleep=wait_forever)
        runner = asyncio.create_task(connection.run())
        await asyncio.wait_for(waiting.wait(), 10)
        stop.set()
        await asyncio.wait_for(runner, 5)  # returns, having stopped waiting: no exception, no new try
        assert not connection.connected
        await bot.close()


async def test_a_first_gateway_handshake_failing_inside_discord_py_is_tried_again(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """discord.py #10520: when its very first handshake fails, its retry loop dies with an
    AttributeError (``ws`` is still None). Our handshake check makes that rare (the network must go
    away between the two); when it happens anyway, our loop takes over again."""

    class SkipFirstCheck(DiscordConnection):
        checks = 0

        async def _open_gateway(self) -> None:
            self.checks += 1
            if self.checks > 1:
                await super()._open_gateway()

    server = sandbox.server
    server.fail_gateway(503)  # discord.py's own first handshake
    bot = PeerCirclesBot(BotHarness(sandbox, tmp_path / "bot.db").settings(), guild_ready_timeout=0.05)
    async with bot:
        connection = SkipFirstCheck(bot, server.bot_token, asyncio.Event(), sleep=FakeSleep(FakeClock()))
        runner = asyncio.create_task(connection.run())
        try:
            await server.wait_for(lambda: server.ready.is_set(), "the bot to connect after all", timeout=20)
            assert connection.checks == 2 and connection.connected
        finally:
            await bot.close()
            await asyncio.wait_for(runner, 10)


async def test_a_stop_during_local_set_up_lets_it_finish_first() -> None:
    """Cancelling the start while the database and cogs are being set up waits for that to end
    (then passes the cancellation on), so close() finds an open database to close rather than a
    half-opened one nobody would close (whose thread would keep the process from exiting)."""
    from bot.client import _finish_even_if_cancelled

    entered, release, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def local_work() -> None:
        entered.set()
        await release.wait()
        finished.set()

    start = asyncio.create_task(_finish_even_if_cancelled(local_work()))
    await entered.wait()
    start.cancel()
    await asyncio.sleep(0)  # let the cancellation arrive: the work is still running, not torn
    assert not start.done() and not finished.is_set()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await start
    assert finished.is_set()
