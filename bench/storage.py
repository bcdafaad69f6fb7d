"""Scenario 5: storage. The check-in write path against a bare aiosqlite INSERT of the same row
(and, when BENCH_DATABASE_URL or TEST_DATABASE_URL names a PostgreSQL server, against a bare asyncpg
INSERT there);
database size per 1,000,000 check-ins; and what erasing costs: a check-in write and delete with
``secure_delete`` on against off, and a delete followed by the WAL checkpoint the services run
after a deletion against the delete alone with ``secure_delete`` off.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import BenchError, Row, Stat
from bench.database import NO_POSTGRES, postgres_url
from bot.sandbox.harness import TEST_SECRET_KEY

if TYPE_CHECKING:
    from bot.storage.database import Database


async def scenario_storage(quick: bool, workdir: Path) -> list[Row]:
    import aiosqlite

    from bot.storage.checkins import CheckinRepository, NoteCipher
    from bot.storage.database import SqliteDatabase

    writes = 300 if quick else 2000
    bulk = 20_000 if quick else 200_000
    when = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)
    secret = __import__("base64").b64decode(TEST_SECRET_KEY)

    async def fresh(name: str) -> Database:
        db = SqliteDatabase(workdir / name)
        await _seed(db, when)
        return db

    # The bot's write path: CheckinRepository.insert_checkin (idempotent on source_key, reads the row back).
    db = await fresh("storage-bot.db")
    repo = CheckinRepository(db, NoteCipher(secret))
    bot_times = await _bot_writes(repo, writes, when)
    _, again = await repo.insert_checkin(
        guild_id=1,
        circle_id=1,
        user_id=10_000,
        mood=1,
        timezone="Europe/London",
        local_date=date(2026, 3, 27),
        created_at=when,
        source_key="msg:0",
    )
    row = await db.fetchone("SELECT COUNT(*) AS n FROM checkins")
    if again or row is None or row["n"] != writes:
        raise BenchError("the check-in write path stored a duplicate or lost a row")
    await db.close()

    # Bare aiosqlite: the same row, same schema and the same pragmas, one autocommit INSERT.
    base_db = await fresh("storage-bare.db")
    await base_db.close()
    bare_times: list[float] = []
    async with aiosqlite.connect(workdir / "storage-bare.db", isolation_level=None) as conn:
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute("PRAGMA secure_delete = ON")
        sql = (
            "INSERT INTO checkins (guild_id, circle_id, user_id, mood, timezone, local_date, created_at, source_key) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        for i in range(writes):
            params = _bare_row(i, when)
            t0 = time.perf_counter()
            await conn.execute(sql, params)
            bare_times.append(time.perf_counter() - t0)
        async with conn.execute("SELECT COUNT(*) FROM checkins") as cursor:
            found = await cursor.fetchone()
        if found is None or found[0] != writes:
            raise BenchError("the bare insert lost rows")

    erasure = await _secure_delete_cost(fresh, secret, when, writes=writes, erasures=100 if quick else 500)

    # Size: bulk-load check-ins shaped like real ones (1000 members, 50 circles-worth of dates).
    size_db = await fresh("storage-size.db")
    await size_db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    empty = _db_bytes(workdir / "storage-size.db")
    await _bulk_checkins(size_db, bulk, circle_id=1, guild_id=1)
    await size_db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    full = _db_bytes(workdir / "storage-size.db")
    await size_db.close()
    per_million = (full - empty) / bulk * 1_000_000 / 1024 / 1024

    bot_stat, bare_stat = Stat(bot_times), Stat(bare_times)
    on_postgres = await _postgres_write(writes, when, secret)
    return [
        Row(
            "5 storage",
            "check-in write (insert_checkin vs bare aiosqlite INSERT)",
            "ms",
            bot_stat,
            bare_stat,
            "median ≤2x",
            bot_stat.median <= 2.0 * bare_stat.median,
        ),
        *on_postgres,
        *erasure,
        Row(
            "5 storage",
            f"database size per 1,000,000 check-ins (from {bulk:,})",
            "MiB",
            per_million,
            note="tags '[]', no note; indexes included",
        ),
    ]


async def _seed(db: Database, when: datetime) -> None:
    """Open and migrate ``db`` and give it the one server and circle every check-in belongs to."""
    await db.open()
    await db.migrate()
    await db.execute("INSERT INTO guilds (guild_id, joined_at) VALUES (1, ?)", (when.isoformat(),))
    await db.execute(
        "INSERT INTO circles (guild_id, name, name_key, ground_rules, created_at) VALUES (1, 'G', 'g', '', ?)",
        (when.isoformat(),),
    )


async def _bot_writes(repo: Any, writes: int, when: datetime) -> list[float]:
    """The bot's write path, CheckinRepository.insert_checkin (idempotent on source_key, reads the
    row back), ``writes`` times; the time of each."""
    times: list[float] = []
    for i in range(writes):
        t0 = time.perf_counter()
        _, created = await repo.insert_checkin(
            guild_id=1,
            circle_id=1,
            user_id=10_000 + i % 500,
            mood=1 + i % 5,
            timezone="Europe/London",
            local_date=date(2026, 3, 27),
            created_at=when + timedelta(seconds=i),
            source_key=f"msg:{i}",
        )
        times.append(time.perf_counter() - t0)
        if not created:
            raise BenchError(f"check-in {i} was not stored")
    return times


def _bare_row(i: int, when: datetime) -> tuple[Any, ...]:
    """The same row as the bot's i-th write, for a bare INSERT."""
    return (
        1,
        1,
        10_000 + i % 500,
        1 + i % 5,
        "Europe/London",
        "2026-03-27",
        (when + timedelta(seconds=i)).isoformat(),
        f"msg:{i}",
    )


async def _postgres_write(writes: int, when: datetime, secret: bytes) -> list[Row]:
    """The same write path on PostgreSQL (PostgresDatabase, its pool, the ? -> $n numbering)
    against one asyncpg connection sending the same INSERT; each in a schema of its own."""
    import uuid

    import asyncpg

    from bot.storage.checkins import CheckinRepository, NoteCipher
    from bot.storage.postgres import PostgresDatabase, create_schema, drop_schema

    url = postgres_url()
    if url is None:
        return [Row("5 storage", "check-in write on PostgreSQL", "ms", None, note=NO_POSTGRES)]
    times: dict[str, list[float]] = {"bot": [], "bare": []}
    for who in ("bot", "bare"):
        schema = f"bench_{who}_{uuid.uuid4().hex[:8]}"
        where = await create_schema(url, schema)
        db = PostgresDatabase(where)
        try:
            await _seed(db, when)
            if who == "bot":
                times[who] = await _bot_writes(CheckinRepository(db, NoteCipher(secret)), writes, when)
            else:
                conn = await asyncpg.connect(where)
                try:
                    for i in range(writes):
                        args = _bare_row(i, when)
                        t0 = time.perf_counter()
                        await conn.execute(
                            "INSERT INTO checkins (guild_id, circle_id, user_id, mood, timezone, local_date, "
                            "created_at, source_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                            *args,
                        )
                        times[who].append(time.perf_counter() - t0)
                finally:
                    await conn.close()
            row = await db.fetchone("SELECT COUNT(*) AS n FROM checkins")
            if row is None or int(row["n"]) != writes:
                raise BenchError(f"PostgreSQL {who} write path lost rows")
        finally:
            await db.close()
            await drop_schema(url, schema)
    bot_stat, bare_stat = Stat(times["bot"]), Stat(times["bare"])
    return [
        Row(
            "5 storage",
            "check-in write on PostgreSQL (insert_checkin vs bare asyncpg INSERT)",
            "ms",
            bot_stat,
            bare_stat,
            "median ≤2x",
            bot_stat.median <= 2.0 * bare_stat.median,
        )
    ]


NOTE = "Slept badly again. " * 10  # a 190-character note: what a delete has to wipe
BETWEEN_ERASURES = 10  # check-ins written between two deletions, so the log holds more than the deletion


async def _secure_delete_cost(
    fresh: Callable[[str], Awaitable[Any]], secret: bytes, when: datetime, *, writes: int, erasures: int
) -> list[Row]:
    """What "erased means erased" costs: the same write and delete paths with ``secure_delete`` on
    (as the bot runs) and off, on two databases, interleaved (which goes first alternates), and a
    deletion followed by the WAL checkpoint the services run after one against the delete alone
    with secure_delete off (what a deletion cost before)."""
    import random

    from bot.storage.checkins import CheckinRepository, NoteCipher

    dbs = {True: await fresh("storage-secure-on.db"), False: await fresh("storage-secure-off.db")}
    await dbs[False].execute("PRAGMA secure_delete = OFF")
    for on, db in dbs.items():
        row = await db.fetchone("PRAGMA secure_delete")
        if row is None or row[0] != int(on):
            raise BenchError(f"secure_delete is not {'on' if on else 'off'} where it should be")
    repos = {on: CheckinRepository(db, NoteCipher(secret)) for on, db in dbs.items()}
    made = {True: 0, False: 0}

    async def write(on: bool) -> int:
        made[on] += 1
        checkin, created = await repos[on].insert_checkin(
            guild_id=1,
            circle_id=1,
            user_id=10_000 + made[on] % 500,
            mood=1 + made[on] % 5,
            timezone="Europe/London",
            local_date=date(2026, 3, 27),
            created_at=when + timedelta(seconds=made[on]),
            source_key=f"secure:{made[on]}",
        )
        if not created:
            raise BenchError("a check-in was not stored")
        return checkin.id

    def order(i: int) -> tuple[bool, bool]:
        return (True, False) if i % 2 == 0 else (False, True)

    write_times: dict[bool, list[float]] = {True: [], False: []}
    ids: dict[bool, list[int]] = {True: [], False: []}
    for i in range(writes):
        for on in order(i):
            t0 = time.perf_counter()
            ids[on].append(await write(on))
            write_times[on].append(time.perf_counter() - t0)
    for on, repo in repos.items():  # every row gets an encrypted note, as a deletion would find
        for checkin_id in ids[on]:
            await repo.update_checkin(checkin_id, when, note=NOTE)

    delete_times: dict[bool, list[float]] = {True: [], False: []}
    for on in (True, False):
        random.Random(5).shuffle(ids[on])  # the same order in both
    for i in range(writes):
        for on in order(i):
            t0 = time.perf_counter()
            if await repos[on].delete_checkin(ids[on][i]) != 1:
                raise BenchError("a check-in to delete was not there")
            delete_times[on].append(time.perf_counter() - t0)

    # The erasure path: CheckinService.delete's storage work (delete, then the checkpoint) with
    # secure_delete on, against the delete alone with it off.
    erase_times: dict[bool, list[float]] = {True: [], False: []}
    for i in range(erasures):
        for on in order(i):
            batch = [await write(on) for _ in range(BETWEEN_ERASURES)]
            await repos[on].update_checkin(batch[0], when, note=NOTE)
            t0 = time.perf_counter()
            await repos[on].delete_checkin(batch[0])
            if on:
                await dbs[on].checkpoint_after_delete()
            erase_times[on].append(time.perf_counter() - t0)
    if _wal_bytes(dbs[True].path):
        raise BenchError("the checkpoint after a deletion left frames in the -wal file")
    for db in dbs.values():
        await db.close()

    def compared(measure: str, times: dict[bool, list[float]], note: str = "") -> Row:
        return Row("5 storage", measure, "ms", Stat(times[True]), Stat(times[False]), note=note)

    return [
        compared("check-in write, secure_delete on vs off (insert_checkin)", write_times),
        compared(
            "check-in delete, secure_delete on vs off (delete_checkin)",
            delete_times,
            f"each with a {len(NOTE)}-character encrypted note, in random order",
        ),
        compared(
            "check-in erasure: delete + WAL checkpoint, secure_delete on vs delete alone, off (before)",
            erase_times,
            f"checkpoint_after_delete (TRUNCATE); {BETWEEN_ERASURES} check-ins written between deletions; "
            "mostly two fsyncs, so it follows the disk",
        ),
    ]


def _db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def _wal_bytes(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


async def _bulk_checkins(db: Any, count: int, *, circle_id: int, guild_id: int, members: int = 1000) -> None:
    """Insert ``count`` check-ins in one transaction (executemany)."""
    start = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)

    def rows() -> Any:
        for i in range(count):
            at = start + timedelta(minutes=7 * i)
            yield (
                guild_id,
                circle_id,
                100_000_000_000_000_000 + i % members,
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
