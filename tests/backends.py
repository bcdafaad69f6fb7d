"""Test databases on either backend: a SQLite file, or a schema of its own in TEST_DATABASE_URL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest

from bot.storage.database import Database, SqliteDatabase
from bot.storage.postgres import PostgresDatabase, create_schema, drop_schema

# PostgreSQL: the repository and service suites run on both backends through the ``db`` fixture.
# Set TEST_DATABASE_URL (``.ci/postgres start`` prints one) to run the PostgreSQL half; each test
# gets a schema of its own in that database, dropped afterwards.
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
NO_POSTGRES = "PostgreSQL half skipped: set TEST_DATABASE_URL=postgresql://… (`.ci/postgres start` makes one)"


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    """A URL into a new, empty schema of TEST_DATABASE_URL, dropped afterwards (the test is
    skipped with NO_POSTGRES when there is no server)."""
    if not TEST_DATABASE_URL:
        pytest.skip(NO_POSTGRES)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    try:
        yield await create_schema(TEST_DATABASE_URL, schema)
    finally:
        await drop_schema(TEST_DATABASE_URL, schema)


@asynccontextmanager
async def fresh_database(backend: str, tmp_path: Path, name: str = "test") -> AsyncIterator[Database]:
    """An open, empty database of the backend (not migrated)."""
    database: Database
    if backend == "postgresql":
        async with postgres_schema() as url:
            database = PostgresDatabase(url, pool_size=4)
            await database.open()
            try:
                yield database
            finally:
                await database.close()
        return
    database = SqliteDatabase(tmp_path / f"{name}.db")
    await database.open()
    try:
        yield database
    finally:
        await database.close()


def settings_for(db: Database, **values: str) -> dict[str, str]:
    """Environment values that make ``load_settings`` point at ``db`` (either backend)."""
    if isinstance(db, PostgresDatabase):
        return {**values, "DATABASE_URL": db.url}
    assert isinstance(db, SqliteDatabase)
    return {**values, "DATABASE_PATH": str(db.path)}


class Place:
    """Where a test's database lives, so it can be opened again (a restart): a SQLite file or a
    PostgreSQL schema. ``open()`` gives a new, open, migrated :class:`Database` on it."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend = backend
        self.path = tmp_path / "place.db"
        self.url: str | None = None
        self._schema = AsyncExitStack()
        self._opened: list[Database] = []

    async def open(self) -> Database:
        database: Database
        if self.backend == "postgresql":
            if self.url is None:
                self.url = await self._schema.enter_async_context(postgres_schema())
            database = PostgresDatabase(self.url, pool_size=4)
        else:
            database = SqliteDatabase(self.path)
        await database.open()
        await database.migrate()
        self._opened.append(database)
        return database

    async def cleanup(self) -> None:
        for database in self._opened:
            await database.close()  # closing twice is harmless
        await self._schema.aclose()
