"""Scenario 4: start-up at scale, the parent's side. It builds the database
(:func:`bench.startup.generate`), runs the sandbox with that many servers, and times a fresh
``python -m bench.startup`` child per measurement from process start to ready, with its memory:
the bot on a copy of that SQLite file, and (when a PostgreSQL server is named, see
``bench/database.py``) the bot on PostgreSQL holding the same data, copied into a schema of its
own for each start with ``copy_sqlite_to_postgres`` (as ``peer-circles db copy`` does), between
the same baseline starts.

The child is ``bench/startup.py``, kept apart so that it imports nothing of the harness: what it
loads is what is measured.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import LOAD_RATE_LIMIT, ROOT, BenchError, Row, Stat
from bench.database import NO_POSTGRES, BotDatabase, postgres_url
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


async def _spawn_child(kind: str, sandbox: Sandbox, database: str, guilds: int) -> tuple[float, int, dict[str, Any]]:
    import json

    from bench.startup import pass_database

    server = sandbox.server
    server.ready.clear()
    server.session = None
    argument, database_env = pass_database(database)
    spawned = time.time()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.startup",
        kind,
        server.api_url,
        server.gateway_url,
        server.bot_token,
        argument,
        str(guilds),
        cwd=str(ROOT),
        env=child_env() | database_env,
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

        pg_server = postgres_url()
        copied: list[float] = []

        async def on_postgres(name: str) -> BotDatabase:
            """A schema of its own holding the template's data (the copy is not timed)."""
            from bot.storage.copy import copy_sqlite_to_postgres
            from bot.storage.postgres import PostgresDatabase

            database = await BotDatabase.postgres(name, pg_server)
            assert database.url is not None
            target = PostgresDatabase(database.url)
            t0 = time.perf_counter()
            try:
                await target.open()
                try:
                    await copy_sqlite_to_postgres(template, target)
                finally:
                    await target.close()
            except BaseException:
                await database.drop()
                raise
            copied.append(time.perf_counter() - t0)
            return database

        async def bot_on_postgres(name: str) -> tuple[float, int, dict[str, Any]]:
            database = await on_postgres(name)
            try:
                return await _spawn_child("bot", sandbox, database.target, cfg.guilds)
            finally:
                await database.drop()

        times: dict[str, list[float]] = {"baseline": [], "sqlite": [], "postgres": []}
        rss: dict[str, list[float]] = {"baseline": [], "sqlite": [], "postgres": []}
        warm = workdir / "startup-warm-up.db"
        shutil.copyfile(template, warm)
        await _spawn_child("baseline", sandbox, str(template), cfg.guilds)  # fills the bytecode cache
        await _spawn_child("bot", sandbox, str(warm), cfg.guilds)
        warm.unlink()
        if pg_server is not None:
            await bot_on_postgres("startup_warm")  # and asyncpg's
        for run in range(cfg.runs):
            elapsed, used, _ = await _spawn_child("baseline", sandbox, str(template), cfg.guilds)
            times["baseline"].append(elapsed)
            rss["baseline"].append(used / 1024)
            copy = workdir / f"startup-{run}.db"
            shutil.copyfile(template, copy)
            elapsed, used, info = await _spawn_child("bot", sandbox, str(copy), cfg.guilds)
            copy.unlink()
            _check_timers(info, expected_jobs, "SQLite")
            times["sqlite"].append(elapsed)
            rss["sqlite"].append(used / 1024)
            if pg_server is not None:
                elapsed, used, info = await bot_on_postgres(f"startup_{run}")
                _check_timers(info, expected_jobs, "PostgreSQL")
                times["postgres"].append(elapsed)
                rss["postgres"].append(used / 1024)
    finally:
        await sandbox.stop()
    scale = (
        f"{counts['guilds']:,} servers, {counts['circles']:,} circles, {counts['session_occurrences']:,} occurrences "
        f"+ {counts['scheduled_jobs']:,} jobs, {counts['rota_slots']:,} rota slots, {counts['checkins']:,} check-ins"
    )
    base_ready, memory_base = Stat(times["baseline"]), Stat(rss["baseline"])
    ready, memory = Stat(times["sqlite"]), Stat(rss["sqlite"])
    rows = [
        Row(
            "4 start-up",
            "process start → ready (scheduler rebuilt), SQLite",
            "s",
            ready,
            base_ready,
            "< 5 s",
            ready.p99 < 5.0,
            f"{scale} (db built in {built:.0f} s)",
        ),
        Row(
            "4 start-up",
            "resident memory after ready, SQLite",
            "MiB",
            memory,
            memory_base,
            "≤1.5x baseline",
            memory.median <= 1.5 * memory_base.median,
            "VmRSS of the bot process (the sandbox runs in another process)",
        ),
    ]
    if pg_server is None:
        for measure, unit in (
            ("process start → ready (scheduler rebuilt)", "s"),
            ("resident memory after ready", "MiB"),
        ):
            rows.append(Row("4 start-up", f"{measure}, PostgreSQL", unit, None, note=NO_POSTGRES))
        return rows
    ready, memory = Stat(times["postgres"]), Stat(rss["postgres"])
    rows += [
        Row(
            "4 start-up",
            "process start → ready (scheduler rebuilt), PostgreSQL",
            "s",
            ready,
            base_ready,
            "< 5 s",
            ready.p99 < 5.0,
            f"the same data copied into a PostgreSQL schema before each start "
            f"({statistics.median(copied):.0f} s per copy, not timed); same baseline starts",
        ),
        Row(
            "4 start-up",
            "resident memory after ready, PostgreSQL",
            "MiB",
            memory,
            memory_base,
            "≤1.5x baseline",
            memory.median <= 1.5 * memory_base.median,
            "VmRSS of the bot process (PostgreSQL's server is another process)",
        ),
    ]
    return rows


def _check_timers(info: dict[str, Any], expected_jobs: int, backend: str) -> None:
    if info["timers"] < expected_jobs:
        raise BenchError(
            f"on {backend} the scheduler kept {info['timers']} pending jobs, expected at least {expected_jobs}"
        )
