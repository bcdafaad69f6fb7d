"""CircleService with a real database and a fake Discord (the GuildOps port)."""

from __future__ import annotations

from itertools import count

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.clock import FakeClock
from bot.errors import Conflict, InvalidInput, MissingBotPermissions, NotAllowed
from bot.privacy import PersonalDataRegistry
from bot.scheduler import JobRepository, Scheduler
from bot.services.access import AccessService, Actor
from bot.services.circles import CircleDraft, CircleService, channel_slug, clean_name, name_key
from bot.services.guild_ops import ChannelAccess
from bot.storage.circles import CircleRepository
from bot.storage.database import Database
from bot.storage.guilds import GuildSettingsRepository

GUILD = 1000
ADMIN = Actor.of(1, True, [])
MEMBER = Actor.of(2, False, [])


class FakeOps:
    """A tiny Discord: roles, channels, member roles; can be told to lack permissions."""

    def __init__(self) -> None:
        self.guild_id = GUILD
        self.ids = count(5000)
        self.roles: set[int] = set()
        self.channels: dict[int, ChannelAccess] = {}
        self.member_roles: dict[int, set[int]] = {}
        self.missing: set[str] = set()
        self.fail_channel_creation = False

    async def require(self, permissions: list[str], channel_id: int | None = None) -> None:
        lacking = [p for p in permissions if p in self.missing]
        if lacking:
            raise MissingBotPermissions(lacking)

    async def create_role(self, name: str, reason: str) -> int:
        role = next(self.ids)
        self.roles.add(role)
        return role

    async def delete_role(self, role_id: int, reason: str) -> None:
        self.roles.discard(role_id)

    async def role_exists(self, role_id: int) -> bool:
        return role_id in self.roles

    async def can_assign(self, role_id: int) -> bool:
        return True

    async def create_channel(self, name: str, topic: str, access: ChannelAccess, reason: str) -> int:
        if self.fail_channel_creation:
            raise RuntimeError("Discord fell over")
        channel = next(self.ids)
        self.channels[channel] = access
        return channel

    async def channel_exists(self, channel_id: int) -> bool:
        return channel_id in self.channels

    async def delete_channel(self, channel_id: int, reason: str) -> None:
        self.channels.pop(channel_id, None)

    async def set_channel_access(self, channel_id: int, access: ChannelAccess, reason: str) -> None:
        self.channels[channel_id] = access

    async def add_member_role(self, user_id: int, role_id: int, reason: str) -> None:
        self.member_roles.setdefault(user_id, set()).add(role_id)

    async def remove_member_role(self, user_id: int, role_id: int, reason: str) -> None:
        self.member_roles.get(user_id, set()).discard(role_id)

    async def member_has_role(self, user_id: int, role_id: int) -> bool:
        return role_id in self.member_roles.get(user_id, set())


@pytest.fixture
def service(db: Database) -> CircleService:
    clock = FakeClock()
    settings = GuildSettingsRepository(db)
    repo = CircleRepository(db)
    registry = PersonalDataRegistry()
    registry.register(repo)
    scheduler = Scheduler(JobRepository(db), clock, use_timers=False)
    return CircleService(repo, settings, AccessService(settings), registry, scheduler, clock)


async def test_create_is_all_or_nothing(service: CircleService) -> None:
    ops = FakeOps()
    ops.fail_channel_creation = True
    with pytest.raises(RuntimeError):
        await service.create(ADMIN, CircleDraft(name="Grief"), ops)
    assert ops.roles == set() and ops.channels == {}
    assert await service.in_guild(GUILD) == []


async def test_missing_permissions_are_checked_before_anything_is_made(service: CircleService) -> None:
    ops = FakeOps()
    ops.missing = {"Manage Channels"}
    with pytest.raises(MissingBotPermissions, match="Manage Channels"):
        await service.create(ADMIN, CircleDraft(name="Grief"), ops)
    assert ops.roles == set()


async def test_only_coordinators_manage(service: CircleService, db: Database) -> None:
    with pytest.raises(NotAllowed):
        await service.create(MEMBER, CircleDraft(name="Grief"), FakeOps())
    await GuildSettingsRepository(db).update(GUILD, FakeClock().now(), coordinator_role_id=77)
    coordinator = Actor.of(3, False, [77])
    change = await service.create(coordinator, CircleDraft(name="Grief"), FakeOps())
    assert change.circle.name == "Grief"


async def test_join_leave_and_consent(service: CircleService) -> None:
    ops = FakeOps()
    circle = (await service.create(ADMIN, CircleDraft(name="Grief", retention_days=30), ops)).circle
    assert circle.retention_days == 30
    assert ops.channels[circle.channel_id or 0].private
    assert await service.join(circle, 42, ops)
    assert not await service.join(circle, 42, ops), "a double click changes nothing"
    assert circle.member_role_id in ops.member_roles[42]
    exported = await service.registry.export_user(GUILD, 42)
    assert [r["circle"] for r in exported["circle_members"]] == ["Grief"]
    assert await service.leave(circle, 42, ops)
    assert await service.registry.export_user(GUILD, 42) == {"circle_members": []}
    assert not await service.leave(circle, 42, ops)


async def test_names_unique_case_insensitively(service: CircleService) -> None:
    await service.create(ADMIN, CircleDraft(name="New Parents"), FakeOps())
    with pytest.raises(Conflict):
        await service.create(ADMIN, CircleDraft(name="new  parents"), FakeOps())


async def test_archive_stops_the_circles_schedules(service: CircleService) -> None:
    ops = FakeOps()
    circle = (await service.create(ADMIN, CircleDraft(name="Grief"), ops)).circle

    async def handler(job: object) -> None:
        return None

    service.scheduler.register("prompt", handler)
    await service.scheduler.schedule("prompt", FakeClock().now(), job_id=f"circle:{circle.id}:prompt", guild_id=None)
    archived = await service.archive(ADMIN, circle, ops)
    assert archived.circle.status == "archived"
    assert ops.channels[circle.channel_id or 0].read_only
    assert await service.scheduler.run_due() == []


@given(st.text(max_size=80))
def test_any_name_is_cleaned_or_refused_kindly(raw: str) -> None:
    try:
        name = clean_name(raw)
    except InvalidInput as exc:
        assert exc.user_message
    else:
        assert 2 <= len(name) <= 40
        assert "<" not in name and "@" not in name and "#" not in name
        assert channel_slug(name).startswith("circle-")
        assert name_key(name) == name_key(name.upper()) or name_key(name) == name.casefold().strip()
