"""Where a bot under test keeps its data: a SQLite file, or a PostgreSQL schema of its own.

A scenario makes one :class:`BotDatabase` per bot it starts (several processes of one sharded bot
share one), hands :attr:`BotDatabase.target` to the child (a path or a ``postgresql://`` URL, see
``bench/serve.py`` and ``bench/startup.py``), and reads back what was stored with
:meth:`BotDatabase.count`, on either backend, while the bot runs. A PostgreSQL database is a fresh
schema on the server named by ``BENCH_DATABASE_URL`` or ``TEST_DATABASE_URL``, dropped by
:meth:`BotDatabase.drop`; without either, the PostgreSQL rows say :data:`NO_POSTGRES` instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NO_POSTGRES = "skipped: no PostgreSQL (set TEST_DATABASE_URL)"


def postgres_url() -> str | None:
    """The PostgreSQL server the benchmarks may make schemas on, if one is named."""
    return (os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or "").strip() or None


@dataclass
class BotDatabase:
    """A bot's database: ``path`` (SQLite) or ``url`` (PostgreSQL, with its ``search_path``)."""

    path: Path | None = None
    url: str | None = None
    server: str | None = None  # the server's own URL (to drop the schema)
    schema: str | None = None

    @classmethod
    def sqlite(cls, path: Path) -> BotDatabase:
        return cls(path=path)

    @classmethod
    async def postgres(cls, name: str, server: str | None = None) -> BotDatabase:
        """A new, empty schema on the benchmark's PostgreSQL server (``server``, or the one
        :func:`postgres_url` names)."""
        from bot.storage.postgres import create_schema

        server = server or postgres_url()
        if server is None:
            raise RuntimeError(NO_POSTGRES)
        schema = f"bench_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        return cls(url=await create_schema(server, schema), server=server, schema=schema)

    @property
    def backend(self) -> str:
        return "PostgreSQL" if self.url else "SQLite"

    @property
    def target(self) -> str:
        """What the bot's process is given: the SQLite file's path or the PostgreSQL URL."""
        if self.url is not None:
            return self.url
        assert self.path is not None
        return str(self.path)

    async def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        """A count read straight from the bot's database while it runs (SQLite: WAL makes that
        safe; PostgreSQL: one short connection). ``?`` placeholders on both."""
        if self.url is None:
            return self._sqlite_count(sql, params)
        import asyncpg

        from bot.storage.postgres import to_postgres

        statement, args = to_postgres(sql, tuple(params))
        conn = await asyncpg.connect(self.url)
        try:
            value = await conn.fetchval(statement, *args)
        finally:
            await conn.close()
        return int(value or 0)

    def _sqlite_count(self, sql: str, params: Sequence[Any]) -> int:
        import sqlite3

        assert self.path is not None
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            row = conn.execute(sql, tuple(params)).fetchone()
        finally:
            conn.close()
        return int(row[0]) if row else 0

    async def drop(self) -> None:
        """Remove a PostgreSQL schema and everything in it (a SQLite file goes with the run's folder)."""
        if self.server is not None and self.schema is not None:
            from bot.storage.postgres import drop_schema

            await drop_schema(self.server, self.schema)
