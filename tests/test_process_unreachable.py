"""The real ``peer-circles run`` process when Discord can't be reached: at start, and later.

Each test reads the process's log line by line as it is written and waits for lines or for the
sandbox's state, never for a length of time.
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.sandbox.actors import Sandbox
from tests.test_process import bot_env

SPEC_PATH = Path(__file__).parent / "discord_api_spec" / "openapi.json"
RETRY = "Discord can't be reached:"
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) +[\w.]+: ")


def unused_port() -> int:
    """A loopback port nobody listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BotProcess:
    """``python -m bot run`` against the sandbox's address, with its stderr read as it comes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, sandbox: Sandbox, tmp_path: Path) -> BotProcess:
        env = bot_env(sandbox, tmp_path / "proc.db")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            self.lines.append(raw.decode().rstrip("\n"))
            self._changed.set()
        await self.proc.wait()
        self._changed.set()

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    async def wait_for_lines(
        self, predicate: Callable[[str], bool], count: int, what: str, timeout: float = 30
    ) -> list[str]:
        """The first ``count`` log lines matching ``predicate``, once they are written."""

        async def waiter() -> list[str]:
            while True:
                self._changed.clear()
                found = [line for line in self.lines if predicate(line)]
                if len(found) >= count:
                    return found[:count]
                if self._reader.done():
                    raise AssertionError(f"the bot exited ({self.proc.returncode}) before {what}:\n{self.log}")
                await self._changed.wait()

        try:
            return await asyncio.wait_for(waiter(), timeout)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}:\n{self.log}") from None

    async def exited(self, timeout: float) -> int:
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        assert self.proc.returncode is not None
        return self.proc.returncode

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self._reader


@pytest.fixture
async def offline_sandbox() -> AsyncIterator[Sandbox]:
    """A sandbox Discord on a fixed address that isn't listening yet."""
    box = await Sandbox.create(spec_path=SPEC_PATH, port=unused_port(), start=False)
    yield box
    await box.stop()
    assert box.invalid_requests == [], "The bot sent requests Discord's API description rejects"


async def test_a_bot_started_before_discord_can_be_reached_connects_by_itself(
    offline_sandbox: Sandbox, tmp_path: Path
) -> None:
    server = offline_sandbox.server
    bot = await BotProcess.start(offline_sandbox, tmp_path)
    try:
        [first] = await bot.wait_for_lines(lambda line: RETRY in line, 1, "a line saying Discord can't be reached")
        assert f"logging in at {server.api_url} failed (127.0.0.1:{server.port} refused the connection)" in first
        assert re.search(r"Trying again in \d+\.\d s, at \d\d:\d\d:\d\d UTC\.$", first)
        await server.start()  # the network is up
        await server.wait_for(lambda: server.ready.is_set(), "the bot to connect by itself", timeout=30)
        reply = await offline_sandbox.member("alice").slash("about")
        assert "peer support" in reply.text
        await bot.wait_for_lines(lambda line: "Reached Discord: logging in worked after" in line, 1, "the success line")
        bot.proc.send_signal(signal.SIGTERM)
        code = await bot.exited(timeout=20)
    finally:
        await bot.kill()
    assert code == 0, bot.log
    assert "Traceback" not in bot.log
    # One line per failed try, and nothing but log records: no traceback, no stray output.
    assert all(LOG_RECORD.match(line) for line in bot.lines), bot.log
    assert all(" WARNING bot.connection: " in line for line in bot.lines if RETRY in line)


def logged_at(line: str) -> datetime:
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")


async def test_sigterm_while_waiting_to_retry_stops_at_once(offline_sandbox: Sandbox, tmp_path: Path) -> None:
    bot = await BotProcess.start(offline_sandbox, tmp_path)
    try:
        # The third wait is about 4 s (3.2 to 4.8): long enough that exiting before it is over
        # can only mean the signal ended the wait.
        lines = await bot.wait_for_lines(lambda line: RETRY in line, 3, "three failed tries")
        match = re.search(r"Trying again in (\d+\.\d) s", lines[2])
        assert match, lines[2]
        waiting = float(match.group(1))
        assert waiting >= 3.2
        bot.proc.send_signal(signal.SIGTERM)
        code = await bot.exited(timeout=30)
    finally:
        await bot.kill()
    assert code == 0, bot.log
    assert len([line for line in bot.lines if RETRY in line]) == 3, "no try after the signal"
    stopping = next(line for line in bot.lines if "stopping: closing the scheduler, the connection" in line)
    # Read from the log's own clock, not the test's: it stopped before the wait it announced was over.
    assert logged_at(stopping) - logged_at(lines[2]) < timedelta(seconds=waiting), (lines[2], stopping)
    assert "Traceback" not in bot.log
    assert all(LOG_RECORD.match(line) for line in bot.lines), bot.log


async def test_when_a_later_reconnect_fails_the_bot_keeps_trying(offline_sandbox: Sandbox, tmp_path: Path) -> None:
    """After the first connection discord.py's own reconnect loop is in charge: Discord going away
    (gateway dropped, REST refused) and coming back must not end the process."""
    server = offline_sandbox.server
    await server.start()
    bot = await BotProcess.start(offline_sandbox, tmp_path)
    try:
        await server.wait_for(lambda: server.ready.is_set(), "the bot to connect", timeout=30)
        alice = offline_sandbox.member("alice")
        assert "peer support" in (await alice.slash("about")).text
        await server.stop()  # Discord goes away
        await bot.wait_for_lines(lambda line: "Attempting a reconnect" in line, 1, "a failed reconnect")
        connections = server.resume_count + server.identify_count
        await server.start()  # and comes back, on the same address
        await server.wait_for(
            lambda: server.resume_count + server.identify_count > connections,
            "the bot to reconnect by itself",
            timeout=30,
        )
        assert "peer support" in (await alice.slash("about")).text
        assert bot.proc.returncode is None
        bot.proc.send_signal(signal.SIGTERM)
        code = await bot.exited(timeout=20)
    finally:
        await bot.kill()
    assert code == 0, bot.log


async def test_a_token_reset_while_running_exits_with_the_token_line(offline_sandbox: Sandbox, tmp_path: Path) -> None:
    """Discord closes the gateway with 4004 when the token was reset: discord.py doesn't retry that,
    and the process says so in one line (exit 2), as for a token refused at start."""
    server = offline_sandbox.server
    await server.start()
    bot = await BotProcess.start(offline_sandbox, tmp_path)
    try:
        await server.wait_for(lambda: server.ready.is_set(), "the bot to connect", timeout=30)
        server.bot_token = "sandbox.reset-in-the-developer-portal"
        await server.drop_gateway(wait_resumed=False)  # its RESUME with the old token gets 4004
        code = await bot.exited(timeout=20)
    finally:
        await bot.kill()
    assert code == 2, bot.log
    assert bot.lines[-1] == "Discord refused the token in DISCORD_TOKEN. Copy a fresh one from the Bot page."
    assert "Traceback" not in bot.log
