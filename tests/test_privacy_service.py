"""Personal-data controls: the /privacy overview, export, delete, daily retention and server purge."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FakeClock, from_iso, to_iso, utc
from bot.privacy import ExportRows, PersonalDataRegistry
from bot.scheduler import JobRepository, Scheduler
from bot.services.maintenance import JOB_KIND, MaintenanceService, job_id_for, next_run_after
from bot.services.privacy_service import NOTHING_YET, WHO_CAN_SEE, PrivacyService, jsonable
from bot.storage.circles import CircleRepository
from bot.storage.database import Database
from bot.storage.guilds_lifecycle import GuildLifecycleRepository
from bot.storage.postgres import postgres_ddl

NOW = utc(2026, 1, 5, 12, 0)
GUILD, OTHER_GUILD = 111, 222
ALICE, BOB = 1001, 1002


class NotesSource:
    """A small table-backed source: private notes, kept 30 days, with a keyed-hash column."""

    name = "notes"
    tables: tuple[str, ...] = ("test_notes",)
    summary = "Your private notes: kept 30 days."

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self) -> None:
        ddl = (
            "CREATE TABLE test_notes (id INTEGER PRIMARY KEY AUTOINCREMENT, guild_id INTEGER, user_id INTEGER, "
            "tag_user_hash BLOB, body TEXT, created_at TEXT)"
        )
        await self.db.execute(postgres_ddl(ddl) if self.db.backend == "postgresql" else ddl)

    async def add(self, guild_id: int, user_id: int, body: str, when: datetime) -> None:
        await self.db.execute(
            "INSERT INTO test_notes (guild_id, user_id, tag_user_hash, body, created_at) VALUES (?, ?, ?, ?, ?)",
            (guild_id, user_id, bytes([0, 255, user_id % 256]), body, to_iso(when)),
        )

    async def export_user(self, guild_id: int, user_id: int) -> ExportRows:
        rows = await self.db.fetchall(
            "SELECT body, tag_user_hash, created_at FROM test_notes WHERE guild_id = ? AND user_id = ? ORDER BY id",
            (guild_id, user_id),
        )
        # Hand back real Python values, as a repository might: bytes and datetimes.
        return {
            "test_notes": [
                {"body": r["body"], "tag_user_hash": r["tag_user_hash"], "created_at": from_iso(r["created_at"])}
                for r in rows
            ]
        }

    async def delete_user(self, guild_id: int, user_id: int) -> int:
        return await self.db.execute("DELETE FROM test_notes WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))

    async def delete_user_in_circle(self, guild_id: int, circle_id: int, user_id: int) -> int:
        return 0

    async def purge_expired(self, now: datetime) -> int:
        return await self.db.execute("DELETE FROM test_notes WHERE created_at < ?", (to_iso(now - timedelta(days=30)),))

    async def delete_guild(self, guild_id: int) -> int:
        return await self.db.execute("DELETE FROM test_notes WHERE guild_id = ?", (guild_id,))

    async def count(self, guild_id: int | None = None) -> int:
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS n FROM test_notes WHERE CAST(? AS BIGINT) IS NULL OR guild_id = ?", (guild_id, guild_id)
        )
        assert row is not None
        return int(row["n"])


class MoodSource:
    """An in-memory source that records what the registry asked of it."""

    name = "mood"
    tables: tuple[str, ...] = ("test_mood",)
    summary = "Your mood check-ins: kept 90 days."

    def __init__(self) -> None:
        self.rows: dict[tuple[int, int], list[int]] = {}
        self.purged_at: list[datetime] = []
        self.deleted_guilds: list[int] = []
        self.fail_for_guild: int | None = None

    async def export_user(self, guild_id: int, user_id: int) -> ExportRows:
        return {"test_mood": [{"score": s} for s in self.rows.get((guild_id, user_id), [])]}

    async def delete_user(self, guild_id: int, user_id: int) -> int:
        return len(self.rows.pop((guild_id, user_id), []))

    async def delete_user_in_circle(self, guild_id: int, circle_id: int, user_id: int) -> int:
        return 0

    async def purge_expired(self, now: datetime) -> int:
        self.purged_at.append(now)
        return 2

    async def delete_guild(self, guild_id: int) -> int:
        if guild_id == self.fail_for_guild:
            raise RuntimeError("disk trouble")
        self.deleted_guilds.append(guild_id)
        return sum(len(v) for (g, _), v in list(self.rows.items()) if g == guild_id)


class World:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.clock = FakeClock(NOW)
        self.notes = NotesSource(db)
        self.mood = MoodSource()
        self.circles = CircleRepository(db)
        self.registry = PersonalDataRegistry()
        for source in (self.notes, self.mood, self.circles):
            self.registry.register(source)
        self.guilds = GuildLifecycleRepository(db)
        self.scheduler = Scheduler(JobRepository(db), self.clock, use_timers=False)
        self.privacy = PrivacyService(self.registry, self.clock, guilds=self.guilds)
        self.maintenance = MaintenanceService(self.registry, self.guilds, self.scheduler, self.clock)
        self.scheduler.register(JOB_KIND, self.maintenance.run_daily)

    async def add_circle(self, guild_id: int, name: str, members: list[int]) -> int:
        await self.guilds.mark_present(guild_id, self.clock.now())
        circle = await self.circles.insert(
            {"guild_id": guild_id, "name": name, "name_key": name.casefold(), "ground_rules": "Be kind.",
             "created_at": to_iso(self.clock.now())}
        )  # fmt: skip
        for user_id in members:
            await self.circles.record_consent(circle, user_id, self.clock.now())
        return circle.id

    async def guild_exists(self, guild_id: int) -> bool:
        return await self.db.fetchone("SELECT 1 FROM guilds WHERE guild_id = ?", (guild_id,)) is not None


@pytest.fixture
async def world(db: Database) -> World:
    w = World(db)
    await w.notes.create()
    return w


async def seed(world: World) -> None:
    await world.add_circle(GUILD, "Grief", [ALICE, BOB])
    await world.add_circle(OTHER_GUILD, "Recovery", [ALICE])
    await world.notes.add(GUILD, ALICE, "slept badly", NOW - timedelta(days=1))
    await world.notes.add(GUILD, ALICE, "a better day", NOW)
    await world.notes.add(GUILD, BOB, "bob's note", NOW)
    await world.notes.add(OTHER_GUILD, ALICE, "elsewhere", NOW)
    world.mood.rows = {(GUILD, ALICE): [3], (GUILD, BOB): [4, 2], (OTHER_GUILD, ALICE): [5]}


# -- overview ---------------------------------------------------------------------------


async def test_overview_says_what_is_kept_for_how_long_and_who_can_see_it(world: World) -> None:
    overview = await world.privacy.overview(GUILD)
    assert overview.stored[:3] == (NotesSource.summary, MoodSource.summary, CircleRepository.summary)
    assert "deleted 30 days later" in overview.stored[-1]
    assert overview.who_can_see == WHO_CAN_SEE
    text = " ".join(overview.who_can_see)
    assert "Only you can see" in text and "can't be traced to you" in text
    assert "never who wrote anonymous content" in text and "operator who runs the bot holds the database" in text
    assert any("Export my data" in c for c in overview.choices)
    assert any("Delete my data" in c for c in overview.choices)


async def test_overview_uses_the_servers_own_purge_period(world: World) -> None:
    await world.guilds.mark_present(GUILD, NOW)
    await world.db.execute("UPDATE guilds SET purge_after_days = 7 WHERE guild_id = ?", (GUILD,))
    assert "deleted 7 days later" in (await world.privacy.overview(GUILD)).stored[-1]


async def test_overview_with_nothing_registered_says_so(db: Database) -> None:
    service = PrivacyService(PersonalDataRegistry(), FakeClock(NOW))
    overview = await service.overview(GUILD)
    assert overview.stored[0] == NOTHING_YET
    assert "deleted 30 days later" in overview.stored[1]


# -- export ---------------------------------------------------------------------------


async def test_export_is_pretty_json_of_everything_about_the_person_in_this_server(world: World) -> None:
    await seed(world)
    export = await world.privacy.export(GUILD, ALICE)
    assert export.filename == "peer-circles-export-2026-01-05.json"
    assert export.data.startswith(b"{\n  ")
    document = json.loads(export.data)
    assert set(document) == {"exported_at", "server_id", "about", "data"}
    assert document["exported_at"] == to_iso(NOW)
    assert document["server_id"] == str(GUILD)
    assert "everything peer-circles keeps about you" in document["about"]
    data = document["data"]
    assert [n["body"] for n in data["test_notes"]] == ["slept badly", "a better day"]
    assert base64.b64decode(data["test_notes"][0]["tag_user_hash"]) == bytes([0, 255, ALICE % 256])
    assert from_iso(data["test_notes"][1]["created_at"]) == NOW
    assert data["test_mood"] == [{"score": 3}]
    assert [m["circle"] for m in data["circle_members"]] == ["Grief"]
    assert export.rows == 4
    assert "bob's note" not in export.data.decode() and "elsewhere" not in export.data.decode()


async def test_export_of_someone_with_no_data_is_still_a_valid_file(world: World) -> None:
    document = json.loads((await world.privacy.export(GUILD, 999)).data)
    assert document["data"] == {"test_notes": [], "test_mood": [], "circle_members": []}


def test_jsonable_converts_what_json_cannot_hold() -> None:
    when = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    value = {1: b"\x00\x01", "at": when, "day": when.date(), "tags": {"b", "a"}, "pair": (1, None), "ok": True}
    assert jsonable(value) == {
        "1": "AAE=",
        "at": "2026-01-05T12:00:00.000000+00:00",
        "day": "2026-01-05",
        "tags": ["a", "b"],
        "pair": [1, None],
        "ok": True,
    }


# -- delete ---------------------------------------------------------------------------


async def test_delete_erases_this_person_in_this_server_only_and_counts_per_source(world: World) -> None:
    await seed(world)
    report = await world.privacy.delete(GUILD, ALICE)
    assert report.counts == {"notes": 2, "mood": 1, "circles": 1}
    assert report.total == 4
    assert "erased 4 records" in report.summary and "can no longer be linked to anyone" in report.summary
    after = json.loads((await world.privacy.export(GUILD, ALICE)).data)["data"]
    assert after == {"test_notes": [], "test_mood": [], "circle_members": []}
    # Bob, and Alice in another server, are untouched.
    assert json.loads((await world.privacy.export(GUILD, BOB)).data)["data"]["test_mood"] == [
        {"score": 4},
        {"score": 2},
    ]
    elsewhere = json.loads((await world.privacy.export(OTHER_GUILD, ALICE)).data)["data"]
    assert len(elsewhere["test_notes"]) == 1 and len(elsewhere["circle_members"]) == 1
    again = await world.privacy.delete(GUILD, ALICE)
    assert again.total == 0 and "nothing to erase" in again.summary


async def test_export_and_delete_never_log_who_asked(world: World, caplog: pytest.LogCaptureFixture) -> None:
    await seed(world)
    caplog.set_level(logging.DEBUG, logger="bot")
    await world.privacy.export(GUILD, ALICE)
    await world.privacy.delete(GUILD, ALICE)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot"))
    assert "rows=" in logged
    assert str(ALICE) not in logged and "slept badly" not in logged


# -- the daily maintenance job ----------------------------------------------------------


async def test_daily_run_purges_expired_data_in_every_source(world: World) -> None:
    await world.notes.add(GUILD, ALICE, "old", NOW - timedelta(days=31))
    await world.notes.add(GUILD, ALICE, "recent", NOW - timedelta(days=29))
    report = await world.maintenance.run()
    assert world.mood.purged_at == [NOW]
    assert report.expired == {"notes": 1, "mood": 2, "circles": 0}
    assert await world.notes.count() == 1


async def test_removed_servers_are_purged_after_their_grace_period(world: World) -> None:
    gone, recent, readded, short = 301, 302, 303, 304
    for guild_id in (gone, recent, readded, short):
        await world.add_circle(guild_id, "Grief", [ALICE])
        await world.notes.add(guild_id, ALICE, "note", NOW)
    await world.db.execute("UPDATE guilds SET purge_after_days = 7 WHERE guild_id = ?", (short,))
    await world.guilds.mark_removed(gone, NOW - timedelta(days=31))
    await world.guilds.mark_removed(recent, NOW - timedelta(days=10))
    await world.guilds.mark_removed(readded, NOW - timedelta(days=40))
    await world.guilds.mark_present(readded, NOW - timedelta(days=35))  # re-adding cancels the purge
    await world.guilds.mark_removed(short, NOW - timedelta(days=8))

    assert await world.guilds.due_for_purge(NOW) == [gone, short]
    report = await world.maintenance.run()

    assert report.purged_guilds == [gone, short]
    assert world.mood.deleted_guilds == [gone, short]
    for guild_id in (gone, short):
        assert not await world.guild_exists(guild_id)
        assert await world.circles.in_guild(guild_id, include_archived=True) == []  # cascaded
        assert await world.notes.count(guild_id) == 0
    for guild_id in (recent, readded):
        assert await world.guild_exists(guild_id)
        assert len(await world.circles.in_guild(guild_id)) == 1
        assert await world.notes.count(guild_id) == 1
    assert await world.guilds.removed_at(readded) is None
    assert await world.maintenance.run() == type(report)(expired=report.expired)  # nothing left to purge


async def test_one_failing_purge_does_not_stop_the_others_and_is_retried(world: World) -> None:
    for guild_id in (401, 402):
        await world.guilds.mark_removed(guild_id, NOW - timedelta(days=60))
    world.mood.fail_for_guild = 401
    report = await world.maintenance.run()
    assert report.failed_guilds == [401] and report.purged_guilds == [402]
    assert await world.guild_exists(401), "kept for the next run"
    world.mood.fail_for_guild = None
    assert (await world.maintenance.run()).purged_guilds == [401]


async def test_ensure_scheduled_is_idempotent(world: World) -> None:
    first = await world.maintenance.ensure_scheduled()
    second = await world.maintenance.ensure_scheduled()
    assert first == second == "maintenance:daily:2026-01-06"
    pending = await world.scheduler.jobs.pending()
    assert [(j.kind, j.run_at) for j in pending] == [(JOB_KIND, utc(2026, 1, 6, 3, 30))]


async def test_the_daily_job_runs_and_schedules_the_next_day(world: World) -> None:
    await world.guilds.mark_removed(GUILD, NOW - timedelta(days=30))
    job_id = await world.maintenance.ensure_scheduled()
    assert await world.scheduler.run_due() == []
    world.clock.set(utc(2026, 1, 6, 3, 30))
    assert await world.scheduler.run_due() == [job_id]
    assert world.mood.purged_at == [utc(2026, 1, 6, 3, 30)]
    assert not await world.guild_exists(GUILD)
    done = await world.scheduler.jobs.get(job_id)
    assert done is not None and done.status == "done"
    pending = await world.scheduler.jobs.pending()
    assert [j.id for j in pending] == ["maintenance:daily:2026-01-07"]
    assert pending[0].run_at == utc(2026, 1, 7, 3, 30)
    assert await world.maintenance.ensure_scheduled() == "maintenance:daily:2026-01-07"
    world.clock.set(utc(2026, 1, 7, 3, 30))
    assert await world.scheduler.run_due() == ["maintenance:daily:2026-01-07"]
    assert [j.id for j in await world.scheduler.jobs.pending()] == ["maintenance:daily:2026-01-08"]


async def test_a_failed_run_still_schedules_the_next_day(world: World) -> None:
    await world.guilds.mark_removed(401, NOW - timedelta(days=60))
    world.mood.fail_for_guild = 401
    job_id = await world.maintenance.ensure_scheduled()
    world.clock.set(utc(2026, 1, 6, 3, 30))
    assert await world.scheduler.run_due() == []  # the handler raised
    failed = await world.scheduler.jobs.get(job_id)
    assert failed is not None and failed.status == "failed"
    assert [j.id for j in await world.scheduler.jobs.pending()] == ["maintenance:daily:2026-01-07"]


async def test_a_run_missed_while_the_bot_was_down_is_replaced_at_start(world: World) -> None:
    await world.maintenance.ensure_scheduled()  # due 2026-01-06 03:30
    world.clock.set(utc(2026, 1, 8, 9, 0))  # the bot was down for two days
    assert await world.maintenance.ensure_scheduled() == "maintenance:daily:2026-01-09"
    report = await world.scheduler.start()
    assert report.missed == ["maintenance:daily:2026-01-06"]
    assert [j.id for j in await world.scheduler.jobs.pending()] == ["maintenance:daily:2026-01-09"]
    await world.scheduler.shutdown()


async def test_a_run_late_within_its_grace_fires_at_start(world: World) -> None:
    job_id = await world.maintenance.ensure_scheduled()
    world.clock.set(utc(2026, 1, 6, 9, 0))  # down at 03:30, back at 09:00
    assert await world.maintenance.ensure_scheduled() == job_id
    report = await world.scheduler.start()
    assert report.fired_late == [job_id]
    assert [j.id for j in await world.scheduler.jobs.pending()] == ["maintenance:daily:2026-01-07"]
    await world.scheduler.shutdown()


def test_next_run_is_the_next_0330_utc() -> None:
    assert next_run_after(utc(2026, 1, 5, 3, 29)) == utc(2026, 1, 5, 3, 30)
    assert next_run_after(utc(2026, 1, 5, 3, 30)) == utc(2026, 1, 6, 3, 30)
    assert next_run_after(utc(2026, 12, 31, 23, 0)) == utc(2027, 1, 1, 3, 30)
    assert job_id_for(utc(2026, 1, 6, 3, 30)) == "maintenance:daily:2026-01-06"


# -- which servers the bot is in ---------------------------------------------------------


async def test_lifecycle_marks_removal_and_re_adding_cancels_it(world: World) -> None:
    await world.maintenance.guild_present(GUILD)
    assert await world.guild_exists(GUILD) and await world.guilds.removed_at(GUILD) is None
    await world.maintenance.guild_removed(GUILD)
    world.clock.advance(timedelta(days=3))
    await world.maintenance.guild_removed(GUILD)  # again: the first removal time stands
    assert await world.guilds.removed_at(GUILD) == NOW
    await world.maintenance.guild_present(GUILD)
    assert await world.guilds.removed_at(GUILD) is None
    await world.maintenance.guild_removed(OTHER_GUILD)  # never recorded: recorded as removed
    assert await world.guilds.removed_at(OTHER_GUILD) == world.clock.now()


async def test_a_new_servers_row_uses_the_configured_time_zone(db: Database) -> None:
    guilds = GuildLifecycleRepository(db, default_timezone="Europe/Dublin")
    await guilds.mark_present(GUILD, NOW)
    await guilds.mark_removed(OTHER_GUILD, NOW)
    rows = await db.fetchall("SELECT timezone FROM guilds ORDER BY guild_id")
    assert [r["timezone"] for r in rows] == ["Europe/Dublin", "Europe/Dublin"]


async def test_reconcile_marks_servers_left_while_offline(world: World) -> None:
    for guild_id in (GUILD, OTHER_GUILD, 333):
        await world.maintenance.guild_present(guild_id)
    gone = await world.maintenance.reconcile([GUILD, 444])
    assert gone == [OTHER_GUILD, 333]
    assert await world.guilds.removed_at(OTHER_GUILD) == NOW
    assert await world.guilds.removed_at(GUILD) is None
    assert await world.guild_exists(444)


async def test_reconcile_cancels_the_purge_of_servers_the_bot_is_back_in(world: World) -> None:
    await world.maintenance.guild_present(GUILD)
    await world.maintenance.guild_removed(OTHER_GUILD)  # removed earlier, purge pending
    gone = await world.maintenance.reconcile([GUILD, OTHER_GUILD, 555])
    assert gone == []
    assert await world.guilds.removed_at(OTHER_GUILD) is None, "back within the grace period: nothing purged"
    assert await world.guilds.removed_at(GUILD) is None
    assert await world.guild_exists(555)
    rows = await world.guilds.db.fetchall("SELECT guild_id FROM guilds ORDER BY guild_id")
    assert sorted(r["guild_id"] for r in rows) == sorted([GUILD, OTHER_GUILD, 555]), "one row each, no duplicates"
