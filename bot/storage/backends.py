"""Which database the bot uses: the SQLite file by default, PostgreSQL when ``DATABASE_URL`` says so."""

from __future__ import annotations

from pathlib import Path

from bot.storage.database import Database, SqliteDatabase


def database_for(url: str | None, sqlite_path: Path | str) -> Database:
    """A closed :class:`Database` for ``url`` (``postgresql://…``) or, when there is none, the SQLite file."""
    if url and url.startswith(("postgresql://", "postgres://")):
        from bot.storage.postgres import PostgresDatabase

        return PostgresDatabase(url)
    return SqliteDatabase(sqlite_path)
