"""A bot in its own process for the benchmarks: the sandbox and the simulated people stay in the
parent, so the bot being measured has a core of its own (as it would in production) and the
harness's work is not counted as the bot's.

The parent starts::

    python -m bench.serve bot|baseline API_URL GATEWAY_URL TOKEN DATABASE [NAME=VALUE ...]

``DATABASE`` is a SQLite file's path, or ``env`` for a ``postgresql://`` URL (a schema of the run's
own, see ``bench/database.py``) in the environment variable ``BENCH_BOT_DATABASE``; each
``NAME=VALUE`` is one more setting by its environment name, such as ``SHARD_COUNT=2 SHARD_IDS=1``
for one process of a sharded bot. The child starts the bot against the sandbox, prints one JSON
line when it is ready, and runs until its standard input closes; then it stops cleanly and prints a last JSON line with its
resident memory and CPU time. :class:`BotProcess` is the parent's side.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import resource
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.database import BotDatabase

ROOT = Path(__file__).resolve().parent.parent


def _usage() -> dict[str, Any]:
    from bench.startup import rss_kib

    used = resource.getrusage(resource.RUSAGE_SELF)
    return {"rss_kib": rss_kib(), "cpu_s": used.ru_utime + used.ru_stime}


def make_client(kind: str, api: str, gateway: str, token: str, database: str, extra: dict[str, str]) -> Any:
    if kind == "baseline":
        from bench.baseline import BaselineBot
        from bot.endpoints import configure_endpoints

        configure_endpoints(api, gateway)
        return BaselineBot()
    from bench.startup import bot_settings
    from bot.client import make_bot

    return make_bot(bot_settings(api, gateway, token, database, extra), guild_ready_timeout=0.05)


def _dump_tasks() -> None:
    """SIGUSR1: write every task's stack to the log (for a benchmark that found a stuck answer)."""
    for task in asyncio.all_tasks():
        frames = task.get_stack(limit=12)
        where = " <- ".join(f"{Path(f.f_code.co_filename).name}:{f.f_lineno}:{f.f_code.co_name}" for f in frames)
        print(f"task {task.get_name()}: {where}", file=sys.stderr, flush=True)


async def _serve(kind: str, api: str, gateway: str, token: str, database: str, extra: dict[str, str]) -> str:
    import signal

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, _dump_tasks)
    client = make_client(kind, api, gateway, token, database, extra)
    task = asyncio.create_task(client.start(token))
    ready = asyncio.create_task(client.wait_until_ready())
    done, _ = await asyncio.wait({task, ready}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        raise SystemExit(f"{kind} bot did not become ready: {task.exception() if task.done() else 'timeout'}")
    profiler: Any = None
    profile_text = ""
    profile_to = os.environ.get("BENCH_PROFILE") if kind != "baseline" else None
    if profile_to:  # for finding causes: BENCH_PROFILE=/tmp/x.txt python -m bench.run --only relay
        from pyinstrument import Profiler  # a developer's tool, not a dependency

        profiler = Profiler(interval=0.001, async_mode="disabled")
        profiler.start()
    print(json.dumps({"ready": True, "pid": os.getpid(), **_usage()}), flush=True)
    # Run until the parent closes our stdin (no signals: works the same everywhere).
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.read)
    usage = _usage()
    if profiler is not None:
        profiler.stop()
        profile_text = profiler.output_text(unicode=True, show_all=False)
    await client.close()
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    print(json.dumps({"stopped": True, **usage}), flush=True)
    return profile_text


def main(argv: list[str]) -> int:
    from bench.startup import received_database

    kind, api, gateway, token, argument, *settings = argv
    database = received_database(argument)
    extra = dict(item.split("=", 1) for item in settings)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("discord").setLevel(logging.ERROR)  # 429 waits are counted by the parent instead
    profile = asyncio.run(_serve(kind, api, gateway, token, database, extra))
    if profile:
        Path(os.environ["BENCH_PROFILE"]).write_text(profile, encoding="utf-8")
    return 0


class BotProcess:
    """The parent's handle on a bot child process started against a sandbox.

    ``settings``: more settings for the child by their environment names; with ``SHARD_COUNT`` the
    process runs the shards in ``SHARD_IDS`` (all of them if not given), and :meth:`start` waits
    for those shards of the sandbox's gateway only, so the processes of one sharded bot start one
    after the other against the same sandbox."""

    def __init__(
        self,
        kind: str,
        sandbox: Any,
        database: BotDatabase,
        log_path: Path,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.kind = kind
        self.sandbox = sandbox
        self.database = database
        self.log_path = log_path
        self.settings = dict(settings or {})
        self.proc: asyncio.subprocess.Process | None = None
        self.ready_info: dict[str, Any] = {}
        self.final: dict[str, Any] = {}
        self._log: Any = None

    @property
    def shards(self) -> list[int]:
        """The sandbox gateway's shards this process connects."""
        count = int(self.settings.get("SHARD_COUNT") or 1)
        ids = self.settings.get("SHARD_IDS")
        return [int(i) for i in ids.split(",")] if ids else list(range(count))

    async def start(self, timeout: float = 60.0) -> BotProcess:
        server = self.sandbox.server
        for shard in self.shards:
            server.shard_ready[shard].clear()
            server.sessions.pop(shard, None)
        server.ready.clear()
        from bench.startup import pass_database

        database, database_env = pass_database(self.database.target)
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), **database_env)
        self._log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.serve",
            self.kind,
            server.api_url,
            server.gateway_url,
            server.bot_token,
            database,
            *(f"{name}={value}" for name, value in self.settings.items()),
            cwd=str(ROOT),
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._log,
        )
        assert self.proc.stdout is not None
        t0 = time.monotonic()
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        except TimeoutError:
            line = b""
        if not line:
            await self.stop()
            raise RuntimeError(
                f"the {self.kind} bot process did not start within {time.monotonic() - t0:.0f}s: "
                f"{self.log_path.read_text(errors='replace')[-2000:]}"
            )
        self.ready_info = json.loads(line)
        await server.wait_for(
            lambda: all(server.shard_ready[shard].is_set() for shard in self.shards),
            f"the {self.kind} bot to connect",
            30,
        )
        return self

    async def stop(self) -> dict[str, Any]:
        proc, self.proc = self.proc, None
        if proc is None:
            return self.final
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            out = await asyncio.wait_for(proc.stdout.read() if proc.stdout else asyncio.sleep(0), 30)
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            out = b""
        for line in (out or b"").decode(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                self.final = json.loads(line)
        if self._log is not None:
            self._log.close()
        return self.final

    async def dump_tasks(self) -> None:
        """Ask the child to write its tasks' stacks to its log (see ``_dump_tasks``)."""
        import signal

        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGUSR1)
            await asyncio.sleep(0.5)  # give it a moment to write; diagnostics only

    def log_tail(self, size: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-size:] if self.log_path.exists() else ""


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
