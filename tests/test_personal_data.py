"""Every table holding data about a person takes part in /privacy export and delete.

Each such table needs a seeder here that stores a row for a person through the feature's own
code. The test fails when a table has a person column but no seeder (so a new feature must
show its data is exported and deleted), when export misses a seeded table, or when any row
about the person survives delete (checked with SQL over every person column of every table).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.app import Services, build_services
from bot.config import load_settings
from bot.privacy import person_columns, uncovered_tables
from bot.sandbox.harness import TEST_SECRET_KEY
from bot.services.access import Actor
from bot.services.circles import CircleDraft
from tests.test_circles_service import FakeOps

GUILD = 1000
PERSON = 4242
OTHER = 5151

Seeder = Callable[[Services, int], Awaitable[None]]


async def seed_circle_members(services: Services, user_id: int) -> None:
    ops = FakeOps()
    admin = Actor.of(1, True, [])
    circles = await services.circles.in_guild(GUILD)
    circle = circles[0] if circles else (await services.circles.create(admin, CircleDraft(name="Grief"), ops)).circle
    ops.roles.add(circle.member_role_id or 0)
    await services.circles.join(circle, user_id, ops)


async def seed_member_settings(services: Services, user_id: int) -> None:
    await services.member_time.set(GUILD, user_id, "Europe/London")


SEEDERS: dict[str, Seeder] = {
    "circle_members": seed_circle_members,
    "member_settings": seed_member_settings,
}


async def open_services(tmp_path: Path) -> Services:
    settings = load_settings({"SECRET_KEY": TEST_SECRET_KEY, "DATABASE_PATH": str(tmp_path / "p.db")})
    return await build_services(settings, use_timers=False)


async def rows_about(services: Services, user_id: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table, columns in (await services.db.tables()).items():
        for column in person_columns(columns):
            if not column.endswith("user_id"):
                continue  # hashed and encrypted columns are checked by their features' own tests
            row = await services.db.fetchone(f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", (user_id,))
            assert row is not None
            if row[0]:
                counts[f"{table}.{column}"] = int(row[0])
    return counts


async def test_every_person_table_has_a_seeder_and_is_registered(tmp_path: Path) -> None:
    services = await open_services(tmp_path)
    try:
        schema = await services.db.tables()
        person_tables = {t for t, cols in schema.items() if person_columns(cols)}
        assert uncovered_tables(schema, services.privacy) == []
        assert person_tables == set(SEEDERS), "add a seeder for each new table holding data about a person"
    finally:
        await services.db.close()


async def test_export_has_every_table_and_delete_leaves_nothing(tmp_path: Path) -> None:
    services = await open_services(tmp_path)
    try:
        for seed in SEEDERS.values():
            await seed(services, PERSON)
            await seed(services, OTHER)
        exported = await services.privacy.export_user(GUILD, PERSON)
        for table in SEEDERS:
            assert exported.get(table), f"export is missing {table}"
        assert str(OTHER) not in str(exported), "export must not include anyone else"
        assert await rows_about(services, PERSON)
        await services.privacy.delete_user(GUILD, PERSON)
        assert await rows_about(services, PERSON) == {}
        assert await rows_about(services, OTHER), "someone else's data is untouched"
    finally:
        await services.db.close()
