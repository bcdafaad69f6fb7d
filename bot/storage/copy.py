"""``peer-circles db copy``: move a community's SQLite database into PostgreSQL without losing anything.

The target is migrated to the same schema version first and must hold no rows of ours (a copy
never merges into live data). Then every table is copied in dependency order (a table after the
tables its foreign keys point to), in one transaction: rows go across byte for byte, so encrypted
fields stay encrypted under the same SECRET_KEY and keyed hashes (pseudonyms, share authors) stay
what they were. Identity columns continue after the highest copied id. Finally the row count of
every table is compared; any difference rolls the whole copy back.

The source is read through SQLite's online backup (a consistent snapshot), so the bot may keep
running while it copies; rows written after the snapshot are not in the copy, so stop the bot
before the copy you switch over with.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot.errors import StorageError
from bot.storage.database import SqliteDatabase
from bot.storage.postgres import PostgresDatabase, PostgresTransaction

log = logging.getLogger(__name__)
BATCH = 500


@dataclass(frozen=True, slots=True)
class CopiedTable:
    name: str
    rows: int


async def _table_order(source: SqliteDatabase) -> list[str]:
    """Tables ordered so each comes after the tables its foreign keys reference."""
    names = [
        str(r["name"])
        for r in await source.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    depends: dict[str, set[str]] = {}
    for name in names:
        rows = await source.fetchall(f"PRAGMA foreign_key_list('{name}')")
        depends[name] = {str(r["table"]) for r in rows if str(r["table"]) != name}
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and depends[n] <= set(ordered)]
        if not ready:
            raise StorageError("The tables' foreign keys form a loop; can't order the copy")
        ordered.extend(ready)
    return ordered


async def copy_sqlite_to_postgres(sqlite_path: Path, target: PostgresDatabase) -> list[CopiedTable]:
    """Copy every table of the SQLite database at ``sqlite_path`` into ``target`` (open)."""
    with tempfile.TemporaryDirectory(prefix="peer-circles-copy-") as folder:
        snapshot = Path(folder) / "snapshot.db"
        async with SqliteDatabase(sqlite_path) as live:
            await live.backup(snapshot)
        async with SqliteDatabase(snapshot) as source:
            version = await source.schema_version()
            if version == 0:
                raise StorageError(f"{sqlite_path} holds no peer-circles data")
            await target.migrate(target=version)
            if await target.schema_version() != version:
                raise StorageError(
                    f"PostgreSQL is at schema version {await target.schema_version()}, the SQLite file at {version}: "
                    "upgrade both to the same peer-circles first"
                )
            order = await _table_order(source)
            target_tables = await target.tables()
            missing = [t for t in order if t not in target_tables]
            if missing:
                raise StorageError(f"PostgreSQL lacks tables {missing}; is it the same schema version?")
            copied: list[CopiedTable] = []
            async with target.transaction() as tx:
                for table in order:
                    if table == "schema_version":
                        continue
                    if await tx.fetchone(f"SELECT 1 FROM {table} LIMIT 1") is not None:
                        raise StorageError(f"PostgreSQL already holds rows in {table}; copy into an empty database")
                for table in order:
                    if table == "schema_version":
                        continue
                    count = await _copy_table(source, tx, table, target_tables[table])
                    copied.append(CopiedTable(table, count))
                for item in copied:
                    row = await tx.fetchone(f"SELECT COUNT(*) AS n FROM {item.name}")
                    there = int(row["n"]) if row else -1
                    if there != item.rows:
                        raise StorageError(
                            f"{item.name}: {item.rows} rows read, {there} in PostgreSQL; nothing was kept"
                        )
            return copied


async def _copy_table(source: SqliteDatabase, tx: PostgresTransaction, table: str, columns: list[str]) -> int:
    listed = ", ".join(columns)
    placeholders = ", ".join("?" for _ in columns)
    insert = f"INSERT INTO {table} ({listed}) VALUES ({placeholders})"
    rows = await source.fetchall(f"SELECT {listed} FROM {table}")
    for start in range(0, len(rows), BATCH):
        await tx.executemany(insert, [[r[c] for c in columns] for r in rows[start : start + BATCH]])
    if "id" in columns:
        identity = await tx.fetchone("SELECT pg_get_serial_sequence(?, 'id') AS seq", (table,))
        if identity is not None and identity["seq"]:
            await tx.execute(
                f"SELECT setval(?, COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)", (identity["seq"],)
            )
    log.info("db copy: table=%s rows=%s", table, len(rows))
    return len(rows)
