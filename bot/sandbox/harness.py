"""Run the real bot against a sandbox: start, wait until ready, restart, stop.

Used by the end-to-end tests, ``peer-circles demo`` and the benchmarks.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from pathlib import Path

from bot.clock import Clock
from bot.config import Settings
from bot.sandbox.actors import Sandbox
from bot.sandbox.server import SandboxError

log = logging.getLogger(__name__)

TEST_SECRET_KEY = base64.b64encode(b"peer-circles sandbox secret key!").decode()


class BotHarness:
    def __init__(
        self,
        sandbox: Sandbox,
        database_path: Path,
        *,
        clock: Clock | None = None,
        use_timers: bool = True,
        secret_key: str = TEST_SECRET_KEY,
        default_timezone: str = "UTC",
        database_url: str | None = None,
        shard_count: int | None = None,
        shard_ids: tuple[int, ...] | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.database_path = database_path
        self.database_url = database_url  # postgresql://…: the bot runs on PostgreSQL instead
        self.shard_count, self.shard_ids = shard_count, shard_ids  # SHARD_COUNT / SHARD_IDS
        self.clock = clock
        self.use_timers = use_timers
        self.secret_key = secret_key
        self.default_timezone = default_timezone
        self.bot: object | None = None
        self._task: asyncio.Task[None] | None = None
        self.starts = 0

    def settings(self) -> Settings:
        return Settings(
            discord_token=self.sandbox.server.bot_token,
            secret_key=base64.b64decode(self.secret_key),
            database_path=self.database_path,
            database_url=self.database_url,
            log_level="INFO",
            default_timezone=self.default_timezone,
            dev_guild_id=None,
            api_base_url=self.sandbox.server.api_url,
            gateway_url=self.sandbox.server.gateway_url,
            shard_count=self.shard_count,
            shard_ids=self.shard_ids,
        )

    async def start(self, timeout: float = 15.0) -> object:
        from bot.client import make_bot
        from bot.logsetup import apply_log_policy

        apply_log_policy(logging.getLogger().level)
        server = self.sandbox.server
        server.ready.clear()
        bot = make_bot(self.settings(), clock=self.clock, use_timers=self.use_timers, guild_ready_timeout=0.05)
        token = server.bot_token
        self._task = asyncio.create_task(bot.start(token), name="peer-circles bot")
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({self._task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            ready.cancel()
            exc = self._task.exception()
            raise SandboxError(f"The bot stopped while starting: {exc!r}") from exc
        if ready not in done:
            ready.cancel()
            await bot.close()
            raise SandboxError(f"The bot was not ready within {timeout:g}s")
        self.bot = bot
        self.starts += 1
        return bot

    async def stop(self) -> None:
        bot = self.bot
        if bot is None:
            return
        from bot.client import PeerCirclesBot

        assert isinstance(bot, PeerCirclesBot)
        await bot.close()
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 5)
        self.bot = None
        self._task = None

    async def restart(self) -> object:
        """Stop the bot process (as a crash or deploy would) and start a fresh one on the same database."""
        await self.stop()
        return await self.start()
