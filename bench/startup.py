"""Scenario 4 (start-up at scale): the child process and the database generator.

The parent (``bench.startup_scenario``) runs the sandbox with N servers in its own process and
starts this module as a fresh Python process per measurement::

    python -m bench.startup bot|baseline API_URL GATEWAY_URL TOKEN DATABASE GUILDS

(``DATABASE``: a SQLite file's path, or ``env`` for a ``postgresql://`` URL in the environment
variable ``BENCH_BOT_DATABASE``, kept off the command line.) The child starts the bot, waits
until it is ready (for peer-circles: services built, scheduler rebuilt from the database, commands
synced, every server received), then prints one JSON line
``{"ready_at": <time.time()>, "rss_kib": <VmRSS>}`` and exits. The parent takes the time from
just before it spawned the process.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH_SECRET_KEY = b"peer-circles sandbox secret key!"  # the sandbox's test key (bot.sandbox.harness)
DATABASE_ENV = "BENCH_BOT_DATABASE"


def pass_database(target: str) -> tuple[str, dict[str, str]]:
    """How a parent gives a child its database: the argument, and what to add to its environment
    (a PostgreSQL URL, which may hold a password, goes in the environment, not on the command line)."""
    if target.startswith(("postgresql://", "postgres://")):
        return "env", {DATABASE_ENV: target}
    return target, {}


def received_database(argument: str) -> str:
    """The child's side of :func:`pass_database`."""
    import os

    return os.environ[DATABASE_ENV] if argument == "env" else argument


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def bot_settings(api: str, gateway: str, token: str, database: str, extra: Mapping[str, str] | None = None) -> Any:
    """The bot's settings against the sandbox, read by ``load_settings`` as a deployed bot's are.

    ``database``: a SQLite file's path or a ``postgresql://`` URL (``DATABASE_URL``). ``extra``:
    more settings by their environment names (``SHARD_COUNT``, ``SHARD_IDS``, ``GLOBAL_RATE_LIMIT``)."""
    import base64

    from bot.config import load_settings

    postgres = database.startswith(("postgresql://", "postgres://"))
    values = {
        "DISCORD_TOKEN": token,
        # The sandbox's test key, not imported from the sandbox: that would load it into the bot.
        "SECRET_KEY": base64.b64encode(BENCH_SECRET_KEY).decode(),
        "DATABASE_URL" if postgres else "DATABASE_PATH": database,
        "LOG_LEVEL": "WARNING",
        "DEFAULT_TIMEZONE": "UTC",
        "DISCORD_API_BASE_URL": api,
        "DISCORD_GATEWAY_URL": gateway,
        **(extra or {}),
    }
    return load_settings(values)


async def _child(kind: str, api: str, gateway: str, token: str, database: str, guilds: int) -> dict[str, Any]:
    import time

    if kind == "baseline":
        from bench.baseline import BaselineBot
        from bot.endpoints import configure_endpoints

        configure_endpoints(api, gateway)
        client: Any = BaselineBot()
    else:
        from bot.client import make_bot

        client = make_bot(bot_settings(api, gateway, token, database), guild_ready_timeout=0.05)
    task = asyncio.create_task(client.start(token))
    ready = asyncio.create_task(client.wait_until_ready())
    done, _ = await asyncio.wait({task, ready}, timeout=120, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        raise SystemExit(f"{kind} bot did not become ready: {task.exception() if task.done() else 'timeout'}")
    ready_at = time.time()
    rss = rss_kib()  # before the checks below, which load things the bot itself doesn't keep
    seen = len(client.guilds)
    rebuilt = 0
    if kind == "bot":
        # Every pending job is still accounted for after start (timers are armed only for the next
        # hours; the rest wait in the database and are armed as their time nears).
        rebuilt = await client.services.scheduler.jobs.count_after(datetime.min.replace(tzinfo=UTC))
    result = {"ready_at": ready_at, "rss_kib": rss, "guilds": seen, "timers": rebuilt}
    await client.close()
    task.cancel()
    return result


def main(argv: list[str]) -> int:
    kind, api, gateway, token, database, guilds = argv
    result = asyncio.run(_child(kind, api, gateway, token, received_database(database), int(guilds)))
    print(json.dumps(result), flush=True)
    return 0


# -- the database ---------------------------------------------------------------------------------


async def generate(
    db_path: Path,
    guild_ids: list[int],
    *,
    circles_per_guild: int = 5,
    occurrences_per_circle: int = 4,
    slots_per_guild: int = 50,
    checkins: int = 1_000_000,
) -> dict[str, int]:
    """A migrated database with the given servers and everything else scaled from them.

    Each circle has one weekly series with ``occurrences_per_circle`` upcoming occurrences, each
    with its reminder, start and end jobs pending in the scheduler (as the bot would store them).
    """
    from bot.storage.database import SqliteDatabase

    now = datetime.now(UTC).replace(microsecond=0)
    iso = now.isoformat()
    db = SqliteDatabase(db_path)
    await db.open()
    await db.migrate()
    circle_ids: list[tuple[int, int]] = []
    async with db.transaction() as tx:
        await tx.executemany("INSERT INTO guilds (guild_id, joined_at) VALUES (?, ?)", [(g, iso) for g in guild_ids])
        next_circle = 1
        circle_rows = []
        for g in guild_ids:
            for c in range(circles_per_guild):
                circle_rows.append((next_circle, g, f"Circle {c}", f"circle {c}", "Be kind.", iso))
                circle_ids.append((next_circle, g))
                next_circle += 1
        await tx.executemany(
            "INSERT INTO circles (id, guild_id, name, name_key, ground_rules, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            circle_rows,
        )
        await tx.executemany(
            "INSERT INTO session_series (id, guild_id, circle_id, title, timezone, start_date, start_time, "
            "duration_minutes, kind, weekdays, channel_id, channel_kind, created_at) "
            "VALUES (?, ?, ?, 'Weekly circle', 'Europe/London', ?, '19:00', 60, 'weekly', '2', 1, 'voice', ?)",
            [(cid, g, cid, now.date().isoformat(), iso) for cid, g in circle_ids],
        )
        occurrences = []
        jobs = []
        occ_id = 1
        for cid, g in circle_ids:
            for k in range(occurrences_per_circle):
                starts = now + timedelta(days=2 + 7 * k, minutes=cid % 600)
                ends = starts + timedelta(hours=1)
                occurrences.append(
                    (
                        occ_id,
                        cid,
                        g,
                        cid,
                        (starts.date() + timedelta(days=k)).isoformat(),
                        starts.isoformat(),
                        ends.isoformat(),
                        iso,
                    )
                )
                prefix = f"circle:{cid}:session:{occ_id}:"
                payload = json.dumps({"occurrence_id": occ_id})
                for suffix, kind, at, grace in (
                    ("remind:1440", "session.remind", starts - timedelta(minutes=1440), 3600),
                    ("remind:15", "session.remind", starts - timedelta(minutes=15), 3600),
                    ("start", "session.start", starts, 3600),
                    ("end", "session.end", ends + timedelta(hours=1), 3600),
                ):
                    jobs.append((prefix + suffix, kind, at.isoformat(), grace, payload, iso))
                occ_id += 1
        await tx.executemany(
            "INSERT INTO session_occurrences (id, series_id, guild_id, circle_id, original_date, starts_at, ends_at, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            occurrences,
        )
        await tx.executemany(
            "INSERT INTO scheduled_jobs (id, kind, run_at, grace_seconds, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            jobs,
        )
        await tx.executemany(
            "INSERT INTO rota_slots (guild_id, kind, weekday, start_time, duration_minutes, timezone, created_at) "
            "VALUES (?, 'weekly', ?, ?, 120, 'Europe/London', ?)",
            [(g, s % 7, f"{(s * 2) % 24:02d}:00", iso) for g in guild_ids for s in range(slots_per_guild)],
        )
    # One transaction for all check-ins, spread over the circles.
    await _bulk_checkins_spread(db, checkins, circle_ids)
    await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    counts = {}
    for table in ("guilds", "circles", "session_occurrences", "scheduled_jobs", "rota_slots", "checkins"):
        row = await db.fetchone(f"SELECT COUNT(*) AS n FROM {table}")
        counts[table] = int(row["n"]) if row is not None else 0
    await db.close()
    return counts


async def _bulk_checkins_spread(db: Any, count: int, circles: list[tuple[int, int]]) -> None:
    start = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)

    def rows() -> Any:
        n = len(circles)
        for i in range(count):
            cid, g = circles[i % n]
            at = start + timedelta(seconds=31 * i)
            yield (
                g,
                cid,
                100_000_000_000_000_000 + i % 20_000,
                1 + (i * 7) % 5,
                "[]",
                i % 3 == 0,
                "Europe/London",
                at.date().isoformat(),
                at.isoformat(),
                f"bench:{i}",
            )

    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO checkins (guild_id, circle_id, user_id, mood, tags, share_pulse, timezone, local_date, "
            "created_at, source_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows(),
        )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
