"""Storage: migrations on empty and older databases, atomic failure, the personal-data registry."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from bot.errors import MigrationError, StorageError
from bot.privacy import PersonalDataRegistry, uncovered_tables
from bot.storage.database import (
    MAX_INTEGER,
    Database,
    Migration,
    SqliteDatabase,
    load_migrations,
    split_statements,
    typed_id,
)
from tests.backends import settings_for


def schema_of(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return sorted(
            (name, sql) for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")
        )


async def test_migrations_are_numbered_and_apply_to_an_empty_database(tmp_path: Path) -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    async with SqliteDatabase(tmp_path / "fresh.db") as db:
        applied = await db.migrate()
        assert applied == [m.version for m in migrations]
        assert await db.schema_version() == len(migrations)
        assert await db.migrate() == []  # idempotent
        journal = await db.fetchone("PRAGMA journal_mode")
        assert journal is not None and journal[0] == "wal"
        keys = await db.fetchone("PRAGMA foreign_keys")
        assert keys is not None and keys[0] == 1


async def test_migrations_apply_to_a_copy_at_every_earlier_version(tmp_path: Path) -> None:
    migrations = load_migrations()
    reference = tmp_path / "reference.db"
    async with SqliteDatabase(reference) as db:
        await db.migrate()
    expected = schema_of(reference)
    for version in range(len(migrations)):
        older = tmp_path / f"at-{version}.db"
        async with SqliteDatabase(older) as db:
            await db.migrate(target=version)
            assert await db.schema_version() == version
        copy = tmp_path / f"copy-{version}.db"
        shutil.copy(older, copy)
        async with SqliteDatabase(copy) as db:
            applied = await db.migrate()
            assert applied == [m.version for m in migrations if m.version > version]
        assert schema_of(copy) == expected, f"upgrading from version {version} differs from a fresh database"


async def test_a_failing_migration_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    good = load_migrations()
    path = tmp_path / "db.db"
    async with SqliteDatabase(path) as db:
        await db.migrate(good[:1])
        await db.execute("INSERT INTO bot_state (key, value) VALUES ('kept', 'yes')")
    before = schema_of(path)
    broken = [*good, Migration(len(good) + 1, "broken", "CREATE TABLE half (x INTEGER);\nTHIS IS NOT SQL;")]
    async with SqliteDatabase(path) as db:
        with pytest.raises(MigrationError) as info:
            await db.migrate(broken)
        assert "was left as it was" in str(info.value)
        assert await db.schema_version() == 1
        kept = await db.fetchone("SELECT value FROM bot_state WHERE key = 'kept'")
        assert kept is not None and kept["value"] == "yes"
    assert schema_of(path) == before


async def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    async with SqliteDatabase(tmp_path / "db.db") as db:
        await db.migrate()
        await db.execute("INSERT INTO schema_version VALUES (999, 'future', 'x')")
        with pytest.raises(StorageError, match="newer than this code"):
            await db.migrate()


def test_an_id_typed_by_a_person_fits_sqlite_or_is_none() -> None:
    assert typed_id(" 42 ") == 42 and typed_id(str(MAX_INTEGER)) == MAX_INTEGER
    # Too large for SQLite (a query with it raised OverflowError), or not a number at all.
    for text in (str(MAX_INTEGER + 1), "9" * 30, "9" * 5000, "²", "-1", "4.2", "", "x"):
        assert typed_id(text) is None, text


def test_split_statements_keeps_triggers_whole() -> None:
    sql = "CREATE TABLE a (x);\nCREATE TRIGGER t AFTER INSERT ON a BEGIN\n  DELETE FROM a;\nEND;\n-- done\n"
    assert len(split_statements(sql)) == 2


async def test_transaction_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO bot_state (key, value) VALUES ('a', '1')")
            raise RuntimeError("boom")
    assert await db.fetchone("SELECT * FROM bot_state WHERE key = 'a'") is None


async def test_backup_copies_a_live_database(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "live.db")
    await db.open()
    await db.migrate()
    await db.execute("INSERT INTO bot_state (key, value) VALUES ('backed', 'up')")
    await db.backup(tmp_path / "backup.db")
    with sqlite3.connect(tmp_path / "backup.db") as conn:
        assert conn.execute("SELECT value FROM bot_state WHERE key = 'backed'").fetchone() == ("up",)
    await db.close()


class FakeSource:
    name = "fake"
    tables: tuple[str, ...] = ("notes",)
    summary = "Notes: kept 30 days."

    async def export_user(self, guild_id: int, user_id: int) -> dict[str, list[dict[str, object]]]:
        return {"notes": [{"user_id": user_id}]}

    async def delete_user(self, guild_id: int, user_id: int) -> int:
        return 1

    async def delete_user_in_circle(self, guild_id: int, circle_id: int, user_id: int) -> int:
        return 0

    async def purge_expired(self, now: object) -> int:
        return 0

    async def delete_guild(self, guild_id: int) -> int:
        return 0


async def test_every_table_with_a_person_column_is_covered_by_the_registry(db: Database) -> None:
    """The real check, over the real schema with every source the bot registers."""
    from bot.app import build_services
    from bot.config import load_settings
    from bot.sandbox.harness import TEST_SECRET_KEY

    settings = load_settings(settings_for(db, SECRET_KEY=TEST_SECRET_KEY))
    services = await build_services(settings, use_timers=False)
    try:
        assert uncovered_tables(await services.db.tables(), services.privacy) == []
    finally:
        await services.db.close()


async def test_the_coverage_check_fails_for_an_unregistered_table(db: Database) -> None:
    await db.execute("CREATE TABLE notes (guild_id BIGINT, user_id BIGINT, body TEXT)")
    await db.execute("CREATE TABLE mood (guild_id BIGINT, member_user_hash TEXT)")
    registry = PersonalDataRegistry()
    assert {"mood", "notes", "circle_members"} <= set(uncovered_tables(await db.tables(), registry))
    registry.register(FakeSource())
    flagged = uncovered_tables(await db.tables(), registry)
    assert "mood" in flagged and "notes" not in flagged
    with pytest.raises(ValueError, match="already registered"):
        registry.register(FakeSource())
    assert await registry.export_user(1, 2) == {"notes": [{"user_id": 2}]}
    assert await registry.delete_user(1, 2) == {"fake": 1}


async def test_the_remembered_language_keeps_the_day_not_the_moment(db: Database) -> None:
    """It is written as a side effect of any interaction, an anonymous post included: a precise
    time next to the user id could be matched with the post's created_at."""
    from datetime import UTC, datetime

    from bot.storage.member_settings import MemberSettingsRepository

    repo = MemberSettingsRepository(db)
    await repo.set_language(1, 42, "de", datetime(2026, 3, 2, 14, 37, 12, 500_000, tzinfo=UTC))
    await repo.set_language(1, 43, "fr", datetime(2026, 3, 2, 9, 1, tzinfo=UTC))
    await repo.set_language(1, 43, "es", datetime(2026, 3, 3, 23, 59, tzinfo=UTC))
    rows = await db.fetchall("SELECT user_id, language, updated_at FROM member_settings ORDER BY user_id")
    assert [(r["user_id"], r["language"], r["updated_at"][:19]) for r in rows] == [
        (42, "de", "2026-03-02T00:00:00"),
        (43, "es", "2026-03-03T00:00:00"),
    ]
