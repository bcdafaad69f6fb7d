"""Database statements take one round trip to the connection's thread, and keep their semantics."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.storage.database import SqliteDatabase


@pytest.fixture
async def tdb(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    db = SqliteDatabase(tmp_path / "t.db")
    await db.open()
    await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, key TEXT UNIQUE, n INTEGER NOT NULL)")
    yield db
    await db.close()


def count_trips(db: SqliteDatabase) -> list[int]:
    """Count the calls queued onto the connection's thread from now on."""
    trips = [0]
    conn: Any = db.conn
    original = conn._execute

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips[0] += 1
        return await original(fn, *args, **kwargs)

    conn._execute = counting
    return trips


async def test_each_statement_is_one_round_trip(tdb: SqliteDatabase) -> None:
    trips = count_trips(tdb)
    assert await tdb.insert("INSERT INTO t (key, n) VALUES ('a', 1)") == 1
    assert trips[0] == 1
    assert await tdb.execute("UPDATE t SET n = n + 1") == 1
    assert trips[0] == 2
    row = await tdb.fetchone("SELECT n FROM t WHERE key = 'a'")
    assert row is not None and row["n"] == 2
    assert trips[0] == 3
    assert [r["key"] for r in await tdb.fetchall("SELECT key FROM t")] == ["a"]
    assert trips[0] == 4


async def test_insert_returning_is_committed_and_a_conflict_returns_nothing(tdb: SqliteDatabase) -> None:
    sql = "INSERT INTO t (key, n) VALUES (?, ?) ON CONFLICT (key) DO NOTHING RETURNING id, n"
    row = await tdb.fetchone(sql, ("k", 5))
    assert row is not None and row["n"] == 5
    assert await tdb.fetchone(sql, ("k", 6)) is None
    # Visible to another connection at once: the autocommit statement finished.
    other = sqlite3.connect(tdb.path)
    try:
        assert other.execute("SELECT n FROM t WHERE key = 'k'").fetchall() == [(5,)]
    finally:
        other.close()


async def test_rowcount_lastrowid_and_errors_are_as_before(tdb: SqliteDatabase) -> None:
    first = await tdb.insert("INSERT INTO t (key, n) VALUES ('a', 1)")
    second = await tdb.insert("INSERT INTO t (key, n) VALUES ('b', 1)")
    assert second == first + 1
    assert await tdb.execute("UPDATE t SET n = 2") == 2
    assert await tdb.execute("DELETE FROM t WHERE key = 'none'") == 0
    with pytest.raises(sqlite3.IntegrityError):
        await tdb.insert("INSERT INTO t (key, n) VALUES ('a', 1)")
    async with tdb.transaction() as tx:
        assert await tx.insert("INSERT INTO t (key, n) VALUES ('c', 3)") == second + 1
        assert await tx.execute("UPDATE t SET n = 9 WHERE key IN ('a', 'c')") == 2
        await tx.executemany("INSERT INTO t (key, n) VALUES (?, ?)", [("d", 4), ("e", 5)])
        row = await tx.fetchone("SELECT COUNT(*) AS c FROM t")
        assert row is not None and row["c"] == 5
        assert len(await tx.fetchall("SELECT * FROM t WHERE n = 9")) == 2


async def test_a_transaction_never_picks_up_another_coroutines_statement(tdb: SqliteDatabase) -> None:
    inside = asyncio.Event()
    release = asyncio.Event()

    async def failing_transaction() -> None:
        with pytest.raises(RuntimeError):
            async with tdb.transaction() as tx:
                await tx.execute("INSERT INTO t (key, n) VALUES ('tx', 1)")
                inside.set()
                await release.wait()
                raise RuntimeError("roll back")

    task = asyncio.create_task(failing_transaction())
    await inside.wait()
    outside = asyncio.create_task(tdb.execute("INSERT INTO t (key, n) VALUES ('outside', 1)"))
    await asyncio.sleep(0)  # let it queue on the lock
    assert not outside.done()
    release.set()
    await task
    await outside
    assert [r["key"] for r in await tdb.fetchall("SELECT key FROM t")] == ["outside"]


async def test_statements_queued_just_before_a_transaction_run_before_it_not_inside(tdb: SqliteDatabase) -> None:
    async def failing_transaction() -> None:
        with pytest.raises(RuntimeError):
            async with tdb.transaction() as tx:
                await tx.execute("INSERT INTO t (key, n) VALUES ('tx', 1)")
                raise RuntimeError("roll back")

    before = [asyncio.create_task(tdb.execute("INSERT INTO t (key, n) VALUES (?, 1)", (f"b{i}",))) for i in range(5)]
    transaction = asyncio.create_task(failing_transaction())
    after = [asyncio.create_task(tdb.execute("INSERT INTO t (key, n) VALUES (?, 1)", (f"a{i}",))) for i in range(5)]
    await asyncio.gather(*before, transaction, *after)
    keys = [r["key"] for r in await tdb.fetchall("SELECT key FROM t ORDER BY rowid")]
    assert keys == [f"b{i}" for i in range(5)] + [f"a{i}" for i in range(5)], "none rolled back, in the order issued"


def raw_files(db: SqliteDatabase) -> dict[str, bytes]:
    paths = (db.path, Path(f"{db.path}-wal"), Path(f"{db.path}-shm"))
    return {p.name: p.read_bytes() for p in paths if p.exists()}


async def test_deleted_rows_leave_no_bytes_behind_after_the_checkpoint(tdb: SqliteDatabase) -> None:
    row = await tdb.fetchone("PRAGMA secure_delete")
    assert row is not None and row[0] == 1
    await tdb.execute("INSERT INTO t (key, n) VALUES ('keep-1', 1)")
    await tdb.execute("INSERT INTO t (key, n) VALUES ('Marker-row-X7Q2', 2)")
    await tdb.execute("INSERT INTO t (key, n) VALUES ('keep-2', 3)")
    assert any(b"Marker-row-X7Q2" in data for data in raw_files(tdb).values())
    await tdb.execute("DELETE FROM t WHERE key = 'Marker-row-X7Q2'")
    await tdb.checkpoint_after_delete()
    assert Path(f"{tdb.path}-wal").stat().st_size == 0, "TRUNCATE empties the -wal file"
    found = [name for name, data in raw_files(tdb).items() if b"Marker-row-X7Q2" in data]
    assert found == [], f"the deleted row is still readable in {found}"
    assert [r["key"] for r in await tdb.fetchall("SELECT key FROM t ORDER BY id")] == ["keep-1", "keep-2"]


async def test_the_checkpoint_waits_for_a_transaction_like_any_sequence(tdb: SqliteDatabase) -> None:
    inside = asyncio.Event()
    release = asyncio.Event()

    async def transaction() -> None:
        async with tdb.transaction() as tx:
            await tx.execute("INSERT INTO t (key, n) VALUES ('tx', 1)")
            inside.set()
            await release.wait()

    task = asyncio.create_task(transaction())
    await inside.wait()
    checkpoint = asyncio.create_task(tdb.checkpoint_after_delete())
    await asyncio.sleep(0)  # let it queue on the lock
    assert not checkpoint.done()
    release.set()
    await task
    await checkpoint
    assert Path(f"{tdb.path}-wal").stat().st_size == 0


async def test_a_checkpoint_blocked_by_another_reader_is_logged_not_raised(
    tdb: SqliteDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    await tdb.execute("INSERT INTO t (key, n) VALUES ('a', 1)")
    await tdb.execute("PRAGMA busy_timeout = 0")  # don't wait the usual 5 s for the reader below
    other = sqlite3.connect(tdb.path, isolation_level=None)
    try:
        other.execute("BEGIN")
        assert other.execute("SELECT COUNT(*) FROM t").fetchone() == (1,)  # holds a read snapshot
        await tdb.execute("DELETE FROM t")
        await tdb.checkpoint_after_delete()
    finally:
        other.close()
    assert "checkpoint after a deletion was blocked" in caplog.text
    await tdb.checkpoint_after_delete()  # the next one finishes the job
    assert Path(f"{tdb.path}-wal").stat().st_size == 0
