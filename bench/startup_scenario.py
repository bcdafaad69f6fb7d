"""Scenario 4: start-up at scale, the parent's side. It builds the database
(:func:`bench.startup.generate`), runs the sandbox with that many servers, and times a fresh
``python -m bench.startup`` child per measurement from process start to ready, with its memory.

The child is ``bench/startup.py``, kept apart so that it imports nothing of the harness: what it
loads is what is measured.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import LOAD_RATE_LIMIT, ROOT, BenchError, Row, Stat
from bot.sandbox.actors import Sandbox


@dataclass
class StartupConfig:
    guilds: int
    checkins: int
    runs: int


def child_env() -> dict[str, str]:
    """The environment of a measured child: as an installed bot runs, from bytecode.

    Some environments set PYTHONDONTWRITEBYTECODE, so every child would compile the bot's modules
    from source (the baseline's discord.py comes precompiled from site-packages): time and memory
    that a deployed bot doesn't spend. Bytecode goes to a cache of the benchmark's own, filled by
    an unmeasured warm-up start of each kind."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "peer-circles-bench-pycache")
    return env


async def _spawn_child(kind: str, sandbox: Sandbox, db_path: Path, guilds: int) -> tuple[float, int, dict[str, Any]]:
    import json

    server = sandbox.server
    server.ready.clear()
    server.session = None
    spawned = time.time()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.startup",
        kind,
        server.api_url,
        server.gateway_url,
        server.bot_token,
        str(db_path),
        str(guilds),
        cwd=str(ROOT),
        env=child_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 300)
    if proc.returncode != 0:
        raise BenchError(f"the {kind} start-up child failed: {err.decode(errors='replace')[-2000:]}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    if result["guilds"] != guilds:
        raise BenchError(f"the {kind} bot was ready with {result['guilds']} of {guilds} servers")
    return result["ready_at"] - spawned, int(result["rss_kib"]), result


async def scenario_startup(quick: bool, workdir: Path) -> list[Row]:
    from bench.startup import generate

    cfg = StartupConfig(guilds=50, checkins=50_000, runs=2) if quick else StartupConfig(1000, 1_000_000, 3)
    sandbox = await Sandbox.create(spec_path=None, default_rate_limit=LOAD_RATE_LIMIT)
    try:
        server = sandbox.server
        guild_ids = [sandbox.guild.id]
        for i in range(cfg.guilds - 1):
            guild = server.add_guild(f"Server {i}")
            server.add_channel(guild, "general")
            guild_ids.append(guild.id)
        t0 = time.perf_counter()
        template = workdir / "startup-template.db"
        counts = await generate(
            template,
            guild_ids,
            circles_per_guild=5,
            occurrences_per_circle=4,
            slots_per_guild=50,
            checkins=cfg.checkins,
        )
        built = time.perf_counter() - t0
        expected_jobs = counts["session_occurrences"] * 4
        if counts["checkins"] != cfg.checkins or counts["scheduled_jobs"] != expected_jobs:
            raise BenchError(f"the start-up database is not what was asked for: {counts}")
        import shutil

        bot_times: list[float] = []
        bot_rss: list[float] = []
        base_times: list[float] = []
        base_rss: list[float] = []
        warm = workdir / "startup-warm-up.db"
        shutil.copyfile(template, warm)
        await _spawn_child("baseline", sandbox, template, cfg.guilds)  # fills the bytecode cache
        await _spawn_child("bot", sandbox, warm, cfg.guilds)
        warm.unlink()
        for run in range(cfg.runs):
            elapsed, rss, _ = await _spawn_child("baseline", sandbox, template, cfg.guilds)
            base_times.append(elapsed)
            base_rss.append(rss / 1024)
            copy = workdir / f"startup-{run}.db"
            shutil.copyfile(template, copy)
            elapsed, rss, info = await _spawn_child("bot", sandbox, copy, cfg.guilds)
            if info["timers"] < expected_jobs:
                raise BenchError(f"the scheduler kept {info['timers']} pending jobs, expected at least {expected_jobs}")
            bot_times.append(elapsed)
            bot_rss.append(rss / 1024)
            copy.unlink()
    finally:
        await sandbox.stop()
    scale = (
        f"{counts['guilds']:,} servers, {counts['circles']:,} circles, {counts['session_occurrences']:,} occurrences "
        f"+ {counts['scheduled_jobs']:,} jobs, {counts['rota_slots']:,} rota slots, {counts['checkins']:,} check-ins"
    )
    ready, base_ready = Stat(bot_times), Stat(base_times)
    memory, memory_base = Stat(bot_rss), Stat(base_rss)
    return [
        Row(
            "4 start-up",
            "process start → ready (scheduler rebuilt)",
            "s",
            ready,
            base_ready,
            "< 5 s",
            ready.p99 < 5.0,
            f"{scale} (db built in {built:.0f} s)",
        ),
        Row(
            "4 start-up",
            "resident memory after ready",
            "MiB",
            memory,
            memory_base,
            "≤1.5x baseline",
            memory.median <= 1.5 * memory_base.median,
            "VmRSS of the bot process (the sandbox runs in another process)",
        ),
    ]
