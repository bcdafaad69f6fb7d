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
from bot.storage.circles import Circle
from bot.storage.shares import Share
from tests.backends import Place, settings_for
from tests.test_circles_service import FakeOps

GUILD = 1000
PERSON = 4242
OTHER = 5151

Seeder = Callable[[Services, int], Awaitable[None]]


async def grief(services: Services) -> Circle:
    circles = await services.circles.in_guild(GUILD)
    if circles:
        return circles[0]
    return (await services.circles.create(Actor.of(1, True, []), CircleDraft(name="Grief"), FakeOps())).circle


async def seed_circle_members(services: Services, user_id: int) -> None:
    ops = FakeOps()
    circle = await grief(services)
    ops.roles.add(circle.member_role_id or 0)
    await services.circles.join(circle, user_id, ops)


async def posted_share(services: Services, user_id: int) -> Share:
    circle = await grief(services)
    prepared = services.shares.prepare(f"words from {user_id}", None, allow_invites=False)
    submitted = await services.shares.submit(circle, user_id, prepared, notify=True)
    return await services.shares.mark_posted(
        submitted.share, circle.channel_id or 0, 10_000 + user_id, 20_000 + user_id
    )


async def seed_shares(services: Services, user_id: int) -> None:
    await posted_share(services, user_id)  # also assigns a pseudonym


async def seed_share_replies(services: Services, user_id: int) -> None:
    share = await posted_share(services, 7777)
    plan = await services.shares.plan_reply(share, user_id, "a reply")
    await services.shares.record_reply(plan, 30_000 + user_id)


async def seed_share_supports(services: Services, user_id: int) -> None:
    await services.shares.support(await posted_share(services, 7778), user_id)


async def seed_share_reports(services: Services, user_id: int) -> None:
    await services.shares.report(await posted_share(services, 7779), user_id, "a reason")


async def seed_share_mutes(services: Services, user_id: int) -> None:
    await services.shares.mute_author(await posted_share(services, user_id), "1d")


async def seed_member_settings(services: Services, user_id: int) -> None:
    await services.member_time.set(GUILD, user_id, "Europe/London")


async def checked_in(services: Services, user_id: int) -> int:
    """A check-in by this person in the Grief circle (they hold its member role); its id."""
    circle = await grief(services)
    actor = Actor.of(user_id, False, [circle.member_role_id or 0])
    return (await services.checkins.record(circle, actor, 2, source_key=None)).checkin.id


async def seed_checkins(services: Services, user_id: int) -> None:
    checkin_id = await checked_in(services, user_id)
    await services.checkins.add_details(checkin_id, user_id, f"a private note from {user_id}", ["sleep"])
    await services.checkins.set_share(checkin_id, user_id, True)


async def seed_checkin_support_requests(services: Services, user_id: int) -> None:
    await services.checkins.request_listener(await checked_in(services, user_id), user_id)


async def seed_checkin_reminders(services: Services, user_id: int) -> None:
    circle = await grief(services)
    actor = Actor.of(user_id, False, [circle.member_role_id or 0])
    await services.checkins.set_reminder(GUILD, actor, circle, "08:30", "weekdays")


async def seed_checkin_settings(services: Services, user_id: int) -> None:
    await services.checkins.set_listener_after(GUILD, user_id, 3)


async def _session(services: Services, title: str) -> int:
    """An occurrence of a session series called ``title`` in the first circle (made once)."""
    from datetime import timedelta

    from bot.services.sessions.models import SessionDraft
    from tests.test_sessions_service import FakeDiscord

    sessions = services.sessions
    if sessions.discord is None:
        sessions.attach(FakeDiscord())
    for series in await sessions.repo.active_series(GUILD):
        if series.title == title:
            return (await sessions.repo.occurrences_of(series.id))[0].id
    admin = Actor.of(1, True, [])
    circle = await grief(services)
    first = (services.clock.now() + timedelta(days=2)).date().isoformat()
    draft = SessionDraft(circle.id, title, first, "19:00", 60, circle.channel_id or 1, "text", "circle-grief")
    return (await sessions.schedule(admin, GUILD, draft)).made[0].occurrence_id


async def _open_session(services: Services, title: str) -> int:
    from datetime import timedelta

    from bot.scheduler import Job
    from bot.services.sessions.models import JOB_START

    occurrence_id = await _session(services, title)
    start = Job("seed", JOB_START, services.clock.now(), timedelta(0), {"occurrence_id": occurrence_id})
    await services.sessions.run_start(start)  # no-op once it is open
    return occurrence_id


async def seed_session_rsvps(services: Services, user_id: int) -> None:
    await services.sessions.rsvp(await _session(services, "Check-in"), user_id)


async def seed_session_reminder_optins(services: Services, user_id: int) -> None:
    await seed_circle_members(services, user_id)
    circle = await grief(services)
    await services.sessions.set_reminders(GUILD, circle.id, user_id, True)


async def seed_session_presence(services: Services, user_id: int) -> None:
    await services.sessions.arrive(await _open_session(services, "Open session"), user_id)


async def seed_session_feedback_voters(services: Services, user_id: int) -> None:
    occurrence_id = await _open_session(services, "Closed session")
    stored = await services.sessions.repo.occurrence(occurrence_id)
    if stored is not None and stored.status == "open":
        await services.sessions.close(Actor.of(1, True, []), occurrence_id)
    await services.sessions.give_feedback(occurrence_id, user_id, 4)


# -- listeners and one-on-one support ------------------------------------------------------------

COLLEAGUE = 8888  # a listener who is neither PERSON nor OTHER


class _NullSupportPort:
    """Discord, for seeding: every DM and post 'works'."""

    async def tell(self, user_id: int, notice: object) -> bool:
        return True

    async def send_offer(self, listener_user_id: int, card: object) -> tuple[int, int]:
        return 1, 1

    async def close_offer(self, channel_id: int, message_id: int, outcome: str) -> None:
        return None

    async def alert_coordinators(self, alert: object) -> tuple[int, int]:
        return 1, 1

    async def update_alert(self, guild_id: int, channel_id: int, message_id: int, outcome: str) -> None:
        return None

    async def open_thread(self, conversation: object, channel_id: int, listener_user_id: int) -> int | None:
        return None

    async def add_to_thread(self, thread_id: int, user_id: int) -> None:
        return None


async def on_call_listener(services: Services, user_id: int) -> None:
    """An approved listener on call (idempotent: several seeders use it)."""
    admin = Actor.of(1, True, [])
    await services.rota.update_settings(GUILD, admin, auto_approve=True)
    if await services.rota.listener(GUILD, user_id) is None:
        await services.rota.join(GUILD, user_id)
        await services.rota.set_limits(GUILD, user_id, max_conversations=5)
    await services.rota.set_available(GUILD, user_id, 1)


async def seed_listeners(services: Services, user_id: int) -> None:
    await on_call_listener(services, user_id)  # listeners, listener_oncall


async def seed_rota_assignments(services: Services, user_id: int) -> None:
    await on_call_listener(services, user_id)
    await services.rota.add_slot(GUILD, Actor.of(1, True, []), start="19:00", hours=2, weekday=1)
    shift = (await services.rota.open_for(GUILD, user_id))[0]
    await services.rota.take(GUILD, user_id, shift.occurrence.key)


async def seed_rota_swaps(services: Services, user_id: int) -> None:
    await seed_rota_assignments(services, user_id)
    await on_call_listener(services, COLLEAGUE)
    (assignment, slot), *_ = await services.rota.mine_upcoming(GUILD, user_id)
    assert slot is not None
    await services.rota.request_swap(GUILD, user_id, f"{slot.id}:{assignment.occurrence}", COLLEAGUE)


async def seed_support(services: Services, user_id: int) -> None:
    """As a member: a conversation a listener ended with a block. As a listener: an offer accepted."""
    services.support.attach(_NullSupportPort())
    await on_call_listener(services, COLLEAGUE)
    member_hash = services.keyring.member_hash(GUILD, user_id)
    if await services.support.repo.latest_for_member(GUILD, member_hash) is None:
        asked = await services.support.open_request(GUILD, user_id, "a topic", "command")
        assert asked.conversation is not None
        offer = next(
            o for o in await services.support.repo.offers_for(asked.conversation.id) if o.listener_user_id == COLLEAGUE
        )
        await services.support.accept_offer(offer.public_id, COLLEAGUE)
        await services.support.block(asked.conversation.public_id, COLLEAGUE)  # support_blocks
    if not await services.support.repo.active_for_listener(user_id, GUILD):
        await on_call_listener(services, user_id)
        requester = 70_000 + user_id
        asked = await services.support.open_request(GUILD, requester, None, "command")
        assert asked.conversation is not None
        offer = next(
            o for o in await services.support.repo.offers_for(asked.conversation.id) if o.listener_user_id == user_id
        )
        await services.support.accept_offer(offer.public_id, user_id)


SEEDERS: dict[str, Seeder] = {
    "session_rsvps": seed_session_rsvps,
    "session_reminder_optins": seed_session_reminder_optins,
    "session_presence": seed_session_presence,
    "session_feedback_voters": seed_session_feedback_voters,
    "checkins": seed_checkins,
    "checkin_support_requests": seed_checkin_support_requests,
    "checkin_reminders": seed_checkin_reminders,
    "checkin_settings": seed_checkin_settings,
    "circle_members": seed_circle_members,
    "member_settings": seed_member_settings,
    "shares": seed_shares,
    "pseudonyms": seed_shares,
    "share_replies": seed_share_replies,
    "share_supports": seed_share_supports,
    "share_reports": seed_share_reports,
    "share_mutes": seed_share_mutes,
    "listeners": seed_listeners,
    "listener_oncall": seed_listeners,
    "rota_assignments": seed_rota_assignments,
    "rota_swaps": seed_rota_swaps,
    "support_conversations": seed_support,
    "support_offers": seed_support,
    "support_blocks": seed_support,
}

# Rows deliberately kept after a person deletes their data, and why.
KEPT_AFTER_DELETE = {
    "share_mutes.member_user_hash": "a moderator's mute lasts until it ends; deleting data must not lift it",
    "support_blocks.member_user_hash": "a listener's block lasts until it ends or a coordinator lifts it",
}


async def open_services(where: Place) -> Services:
    """The app's services on the test's backend (SQLite file or PostgreSQL schema)."""
    database = await where.open()  # makes the place (a schema on PostgreSQL) and migrates it
    settings = load_settings(settings_for(database, SECRET_KEY=TEST_SECRET_KEY))
    await database.close()
    return await build_services(settings, use_timers=False)


async def rows_about(services: Services, user_id: int) -> dict[str, int]:
    """Rows that still point at this person: by id, or by their keyed hash."""
    counts: dict[str, int] = {}
    member_hash = services.keyring.member_hash(GUILD, user_id)
    for table, columns in (await services.db.tables()).items():
        for column in person_columns(columns):
            if column.endswith("user_enc"):
                continue  # encrypted ids sit beside a hash column in the same row, checked through it
            value: object = member_hash if column.endswith("user_hash") else user_id
            if column == "voter_user_hash":  # kept as hex text under the sessions' own key
                value = services.sessions.repo.voter_hash(GUILD, user_id)
            row = await services.db.fetchone(f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", (value,))
            assert row is not None
            if row[0]:
                counts[f"{table}.{column}"] = int(row[0])
    return counts


async def test_every_person_table_has_a_seeder_and_is_registered(place: Place) -> None:
    services = await open_services(place)
    try:
        schema = await services.db.tables()
        person_tables = {t for t, cols in schema.items() if person_columns(cols)}
        assert uncovered_tables(schema, services.privacy) == []
        assert person_tables == set(SEEDERS), "add a seeder for each new table holding data about a person"
    finally:
        await services.db.close()


async def test_export_has_every_table_and_delete_leaves_nothing(place: Place) -> None:
    services = await open_services(place)
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
        left = await rows_about(services, PERSON)
        assert set(left) <= set(KEPT_AFTER_DELETE), f"rows about the person survived delete: {left}"
        assert await rows_about(services, OTHER), "someone else's data is untouched"
    finally:
        await services.db.close()


async def test_purging_a_server_cancels_its_circles_scheduled_jobs(tmp_path: Path) -> None:
    from datetime import timedelta

    from bot.clock import FakeClock

    settings = load_settings({"SECRET_KEY": TEST_SECRET_KEY, "DATABASE_PATH": str(tmp_path / "p.db")})
    clock = FakeClock()
    services = await build_services(settings, clock=clock, use_timers=False)
    try:
        circle = await grief(services)
        job_id = await services.scheduler.schedule(
            next(iter(services.sessions.job_handlers())),
            clock.now() + timedelta(days=60),
            {},
            guild_id=GUILD,
            job_id=f"circle:{circle.id}:later",
        )
        await services.maintenance.guild_removed(GUILD)
        clock.advance(timedelta(days=31))
        report = await services.maintenance.run()
        assert GUILD in report.purged_guilds
        job = await services.scheduler.jobs.get(job_id)
        assert job is not None and job.status == "cancelled"
        assert await services.circles.in_guild(GUILD, include_archived=True) == []
    finally:
        await services.db.close()
