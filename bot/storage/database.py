"""The database: what every repository talks to, and its SQLite implementation.

:class:`Database` is the interface (single statements, transactions, migrations) with two
implementations: :class:`SqliteDatabase` here, the embedded default, and
:class:`bot.storage.postgres.PostgresDatabase` for a server shared by several processes.
:func:`bot.storage.backends.open_database` picks one from ``DATABASE_URL``. Repositories write
portable SQL (the subset both run) with ``?`` or ``:name`` placeholders; migrations are one source,
written for SQLite, that PostgreSQL runs through :func:`bot.storage.postgres.postgres_ddl`.

SQLite: one aiosqlite connection, WAL, foreign keys, numbered migrations.

All statements go through one lock, so a transaction opened by one coroutine never picks up a
statement from another. SQLite has a single writer anyway; one connection is its fastest shape.

Erased means erased: ``secure_delete`` is on, so SQLite overwrites deleted content with zeros
instead of leaving it in free space, and services call :meth:`Database.checkpoint_after_delete`
right after they delete personal data, so older copies of the changed pages don't linger in the
``-wal`` file either.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar

import aiosqlite

from bot.errors import MigrationError, StorageError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
MAX_INTEGER = 2**63 - 1  # SQLite's largest INTEGER: a larger Python int raises OverflowError in a query


class Row(Protocol):
    """A result row: ``sqlite3.Row`` or ``asyncpg.Record``, read by column name or position."""

    def __getitem__(self, key: str | int, /) -> Any: ...

    def keys(self) -> Any: ...


Params = Sequence[Any] | dict[str, Any]
T = TypeVar("T")


def typed_id(text: str) -> int | None:
    """A row id as a person typed it (in place of a choice from a list Discord offers), or None when it
    can't be one: anything but decimal digits, or a number too large for SQLite."""
    cleaned = text.strip()
    if not cleaned.isdecimal() or len(cleaned) > len(str(MAX_INTEGER)):
        return None
    value = int(cleaned)
    return value if value <= MAX_INTEGER else None


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """Migrations shipped in ``bot/storage/migrations``, named ``NNNN_name.sql``, in order."""
    found: list[Migration] = []
    folder = resources.files("bot.storage") / "migrations"
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        number, _, rest = entry.name.partition("_")
        if not number.isdigit():
            raise StorageError(f"Migration file {entry.name} must start with a number, like 0001_name.sql")
        found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise StorageError(f"Two migrations share a number: {versions}")
    return found


# -- one hop per statement -------------------------------------------------------------------
#
# aiosqlite runs every call on the connection's own thread and wakes the event loop for each
# result. ``await conn.execute(...)`` then ``await cursor.fetchone()`` then closing the cursor is
# three round trips to that thread for one statement; the functions below do the whole statement
# (execute, read, close) in one, as aiosqlite's own ``execute_fetchall``/``execute_insert`` do.


def _sql_execute(conn: sqlite3.Connection, sql: str, params: Params) -> int:
    cursor = conn.execute(sql, params)
    try:
        return cursor.rowcount
    finally:
        cursor.close()


def _sql_insert(conn: sqlite3.Connection, sql: str, params: Params) -> int:
    cursor = conn.execute(sql, params)
    try:
        return cursor.lastrowid or 0
    finally:
        cursor.close()


def _sql_executemany(conn: sqlite3.Connection, sql: str, rows: Iterable[Params]) -> None:
    conn.executemany(sql, rows).close()


def _sql_fetchone(conn: sqlite3.Connection, sql: str, params: Params) -> Row | None:
    cursor = conn.execute(sql, params)
    try:
        row: Row | None = cursor.fetchone()
        return row
    finally:
        # Closing resets the statement, which is what commits an autocommit INSERT ... RETURNING.
        cursor.close()


def _sql_fetchall(conn: sqlite3.Connection, sql: str, params: Params) -> list[Row]:
    cursor = conn.execute(sql, params)
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


async def _run(conn: aiosqlite.Connection, fn: Callable[..., T], *args: Any) -> T:
    """``fn(sqlite3_connection, *args)`` on the connection's thread, in one round trip.

    ``Connection._execute`` is aiosqlite's queue onto that thread (what its public helpers use);
    the sqlite3 connection is only touched there.
    """
    result: T = await conn._execute(fn, conn._conn, *args)
    return result


class Transaction(abc.ABC):
    """Statements inside ``async with db.transaction() as tx``."""

    @abc.abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; the number of rows it changed."""

    @abc.abstractmethod
    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT into a table with an ``id`` column; the new row's id."""

    @abc.abstractmethod
    async def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...

    @abc.abstractmethod
    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    @abc.abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...


class Database(abc.ABC):
    """What repositories use. Single statements run on their own (autocommit); a sequence that
    must be atomic runs in ``async with db.transaction() as tx``."""

    backend: str  # "sqlite" or "postgresql"

    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abc.abstractmethod
    def describe(self) -> str:
        """Where the data lives, for ``peer-circles check`` and the log (never a password)."""

    @abc.abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """``async with db.transaction() as tx``: statements on ``tx`` commit together or not at all."""

    @abc.abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> int: ...

    @abc.abstractmethod
    async def insert(self, sql: str, params: Params = ()) -> int: ...

    @abc.abstractmethod
    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    @abc.abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    @abc.abstractmethod
    async def checkpoint_after_delete(self) -> None:
        """Leave no copy of just-deleted data behind where the backend can. Call it right after a deletion."""

    @abc.abstractmethod
    async def schema_version(self) -> int: ...

    @abc.abstractmethod
    async def migrate(self, migrations: list[Migration] | None = None, target: int | None = None) -> list[int]: ...

    @abc.abstractmethod
    async def tables(self) -> dict[str, list[str]]:
        """Every table of ours and its columns (for the personal-data coverage check)."""


class SqliteTransaction(Transaction):
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        return await _run(self._conn, _sql_execute, sql, params)

    async def insert(self, sql: str, params: Params = ()) -> int:
        return await _run(self._conn, _sql_insert, sql, params)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await _run(self._conn, _sql_executemany, sql, rows)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        return await _run(self._conn, _sql_fetchone, sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return await _run(self._conn, _sql_fetchall, sql, params)


class SqliteDatabase(Database):
    backend = "sqlite"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._conn: aiosqlite.Connection | None = None
        # Sequences that must not interleave with anything (transactions, migrations) take the lock
        # and close the gate; single statements only wait while the gate is closed, then go straight
        # onto the connection's thread. That queue is first in, first out, so a statement queued
        # before a transaction's BEGIN finishes before it, and none can land inside one. Single
        # statements don't hand a lock to each other through the event loop: under load that
        # hand-off, not SQLite, was the queue (median 25 ms waiting, at 300 events/s).
        self._lock = asyncio.Lock()
        self._open_gate = asyncio.Event()
        self._open_gate.set()

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise StorageError("The database is not open")
        return self._conn

    async def open(self) -> None:
        if self.path != Path(":memory:"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # isolation_level=None: autocommit; transactions are explicit (BEGIN IMMEDIATE).
            conn = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"Could not open the database at {self.path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA foreign_keys = ON")
        # Deleted content is overwritten with zeros, in the page and in pages put on the free list,
        # instead of staying readable in the file until the space is reused.
        await conn.execute("PRAGMA secure_delete = ON")
        self._conn = conn

    async def close(self) -> None:
        async with self._exclusive():
            if self._conn is not None:
                await self._conn.close()
                self._conn = None

    def describe(self) -> str:
        return f"SQLite file {self.path}"

    @asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[None]:
        """Hold the connection alone: other sequences wait for the lock, single statements for the gate."""
        async with self._lock:
            self._open_gate.clear()
            try:
                yield
            finally:
                self._open_gate.set()

    async def _gate(self) -> None:
        while not self._open_gate.is_set():
            await self._open_gate.wait()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._exclusive():
            conn = self.conn
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteTransaction(conn)
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            else:
                await conn.execute("COMMIT")

    async def execute(self, sql: str, params: Params = ()) -> int:
        await self._gate()
        return await _run(self.conn, _sql_execute, sql, params)  # no await between the gate and the queue

    async def insert(self, sql: str, params: Params = ()) -> int:
        await self._gate()
        return await _run(self.conn, _sql_insert, sql, params)  # no await between the gate and the queue

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        await self._gate()
        return await _run(self.conn, _sql_fetchone, sql, params)  # no await between the gate and the queue

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        await self._gate()
        return await _run(self.conn, _sql_fetchall, sql, params)  # no await between the gate and the queue

    async def checkpoint_after_delete(self) -> None:
        """Leave no copy of just-deleted data in the database's files. Call it right after a deletion.

        With ``secure_delete`` on, a deletion zeroes the content in the newest version of its page,
        but in WAL mode that version, and every older one still holding the content, sits in the
        ``-wal`` file until a checkpoint. This copies the newest pages into the main file and
        truncates the ``-wal`` file to zero bytes (``TRUNCATE``), so no file holds the old frames any
        more (the filesystem gets their blocks back; like any deleted file's, it may not wipe them).
        It costs what changed since the last checkpoint (usually a few pages and two fsyncs), so
        call it after deleting personal data, not after every write.

        It holds the connection alone, like a transaction: a checkpoint can't run inside one. If
        another connection (``peer-circles db backup``) is still reading, SQLite waits for it up to
        the busy timeout; if the log still can't be emptied, that is logged (the deletion itself
        stands) and the checkpoint after the next deletion empties it.
        """
        async with self._exclusive():
            row = await _run(self.conn, _sql_fetchone, "PRAGMA wal_checkpoint(TRUNCATE)", ())
        if row is not None and row[0]:
            log.warning(
                "WAL checkpoint after a deletion was blocked by another connection; "
                "frames_in_log=%s frames_checkpointed=%s",
                row[1],
                row[2],
            )

    # -- schema -------------------------------------------------------------------------

    async def schema_version(self) -> int:
        async with self._exclusive():
            return await self._schema_version()

    async def _schema_version(self) -> int:
        async with self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ) as cursor:
            if await cursor.fetchone() is None:
                return 0
        async with self.conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version") as cursor:
            row = await cursor.fetchone()
            return int(row[0]) if row else 0

    async def migrate(self, migrations: list[Migration] | None = None, target: int | None = None) -> list[int]:
        """Apply pending migrations in one transaction; return the versions applied.

        If any migration fails, everything is rolled back and :class:`MigrationError` is raised:
        the database is left exactly as it was.
        """
        migrations = load_migrations() if migrations is None else migrations
        async with self._exclusive():
            conn = self.conn
            current = await self._schema_version()
            pending = pending_migrations(migrations, current, target)
            if not pending:
                return []
            await conn.execute("BEGIN IMMEDIATE")
            for migration in pending:
                try:
                    for statement in split_statements(migration.sql):
                        await conn.execute(statement)
                    await conn.execute(
                        "INSERT INTO schema_version (version, name, applied_at) "
                        "VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                        (migration.version, migration.name),
                    )
                except sqlite3.Error as exc:
                    await conn.execute("ROLLBACK")
                    raise MigrationError(migration.version, migration.name, exc) from exc
            await conn.execute("COMMIT")
            return [m.version for m in pending]

    async def tables(self) -> dict[str, list[str]]:
        """Every user table and its columns (for the personal-data coverage check)."""
        rows = await self.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        result: dict[str, list[str]] = {}
        for row in rows:
            columns = await self.fetchall(f"PRAGMA table_info('{row['name']}')")
            result[row["name"]] = [c["name"] for c in columns]
        return result

    async def backup(self, destination: Path) -> None:
        """Copy the live database with SQLite's online backup API (safe while the bot runs)."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        async with self._exclusive():
            target = await aiosqlite.connect(destination)
            try:
                await self.conn.backup(target)
            finally:
                await target.close()


def pending_migrations(migrations: list[Migration], current: int, target: int | None) -> list[Migration]:
    """The migrations a database at version ``current`` still needs (up to ``target``), on either
    backend; a database newer than this code is refused."""
    known = max((m.version for m in migrations), default=0)
    if current > known:
        raise StorageError(
            f"The database is at schema version {current}, newer than this code knows ({known}). "
            "Upgrade peer-circles or restore a backup."
        )
    return [m for m in migrations if m.version > current and (target is None or m.version <= target)]


def split_statements(sql: str) -> list[str]:
    """Split a migration script into complete statements (triggers with inner ``;`` stay whole)."""
    statements: list[str] = []
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(part.strip().startswith("--") or not part.strip() for part in buffer.splitlines()):
        raise StorageError(f"Migration ends with an incomplete statement: {buffer.strip()[:80]}")
    return statements
