"""CheckinService on a real database with a fake Discord (the CheckinDelivery port) and a FakeClock."""

from __future__ import annotations

import asyncio
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FakeClock, to_iso
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.privacy import PersonalDataRegistry
from bot.safety import Level
from bot.scheduler import JobRepository, Scheduler
from bot.services.access import AccessService, Actor
from bot.services.checkins.models import (
    DEFAULT_TAGS,
    NOTE_LIMIT,
    PROMPT_JOB,
    REMINDER_JOB,
    DeliveryResult,
    Period,
    mood,
    parse_tag_list,
    prompt_job_prefix,
    reminder_job_prefix,
)
from bot.services.checkins.service import CheckinService
from bot.services.member_time import MemberTimeService
from bot.storage.checkins import CheckinRepository, CheckinSettings, NoteCipher, PulseEntry, Reminder
from bot.storage.circles import Circle, CircleRepository
from bot.storage.database import Database, SqliteDatabase
from bot.storage.guilds import GuildSettingsRepository
from bot.storage.member_settings import MemberSettingsRepository

GUILD = 1000
ROLE = 7001
FACILITATORS = 7002
OTHER_ROLE = 7003
START = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)  # a Friday
KEY = b"check-in test secret key, 32 b.."
ADMIN = Actor.of(1, True, [])


def person(user_id: int, *roles: int) -> Actor:
    return Actor.of(user_id, False, roles or (ROLE,))


class FakeDelivery:
    def __init__(self) -> None:
        self.roles: dict[int, frozenset[int]] = {}
        self.dms_closed: set[int] = set()
        self.sent: list[tuple[int, int]] = []
        self.posts: list[tuple[int, int | None]] = []
        self.fail_next = False

    async def member_role_ids(self, guild_id: int, user_id: int) -> frozenset[int] | None:
        return self.roles.get(user_id)

    async def send_reminder(self, reminder: Reminder, circle: Circle) -> DeliveryResult:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("Discord fell over")
        if reminder.user_id in self.dms_closed:
            return DeliveryResult.DMS_CLOSED
        self.sent.append((reminder.user_id, circle.id))
        return DeliveryResult.SENT

    async def post_prompt(self, circle: Circle, previous_message_id: int | None) -> int | None:
        self.posts.append((circle.id, previous_message_id))
        return 9000 + len(self.posts)


class World:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.clock = FakeClock(START)
        self.guilds = GuildSettingsRepository(db, "UTC")
        self.circles = CircleRepository(db)
        self.repo = CheckinRepository(db, NoteCipher(KEY))
        self.members = MemberSettingsRepository(db)
        self.time = MemberTimeService(self.members, self.guilds, self.clock)
        self.scheduler = Scheduler(JobRepository(db), self.clock, use_timers=False)
        self.delivery = FakeDelivery()
        self.service = CheckinService(
            self.repo, self.circles, AccessService(self.guilds), self.time, self.guilds, self.scheduler, self.clock
        )
        self.service.attach(self.delivery)
        self.scheduler.register(REMINDER_JOB, self.service.run_reminder)
        self.scheduler.register(PROMPT_JOB, self.service.run_prompt)

    async def circle(self, name: str = "Grief", role: int = ROLE, **extra: object) -> Circle:
        await self.guilds.ensure(GUILD, self.clock.now())
        return await self.circles.insert(
            {
                "guild_id": GUILD,
                "name": name,
                "name_key": name.lower(),
                "channel_id": 5000 + role,
                "member_role_id": role,
                "facilitator_role_id": FACILITATORS,
                "ground_rules": "Be kind.",
                "created_at": to_iso(self.clock.now()),
                **extra,
            }
        )

    async def checkins(self) -> list[dict[str, object]]:
        return [dict(r) for r in await self.db.fetchall("SELECT * FROM checkins ORDER BY id")]

    async def pending(self, kind: str) -> list[datetime]:
        return [j.run_at for j in await self.scheduler.jobs.pending() if j.kind == kind]


@pytest.fixture
async def world(db: Database) -> World:
    w = World(db)
    await w.scheduler.start()
    return w


# -- recording --------------------------------------------------------------------------------


async def test_one_tap_records_the_mood_time_and_zone(world: World) -> None:
    circle = await world.circle()
    await world.time.set(GUILD, 42, "Pacific/Auckland")  # already Saturday there
    state = await world.service.record(circle, person(42), 4, source_key="message:1")
    assert state.created and state.checkin.mood == 4 and not state.checkin.share_pulse
    assert state.checkin.timezone == "Pacific/Auckland" and state.checkin.local_date == date(2026, 3, 28)
    assert state.checkin.created_at == START and state.pending_request is None


async def test_the_same_tap_twice_stores_one_check_in(world: World) -> None:
    circle = await world.circle()
    first = await world.service.record(circle, person(42), 4, source_key="message:1")
    again = await world.service.record(circle, person(42), 2, source_key="message:1")
    assert not again.created and again.checkin.id == first.checkin.id and again.checkin.mood == 4
    together = await asyncio.gather(
        *(world.service.record(circle, person(42), 3, source_key="message:2") for _ in range(5))
    )
    assert sum(s.created for s in together) == 1
    assert len(await world.checkins()) == 2


def count_statements(db: Database) -> list[int]:
    """Count the statements sent to the connection's thread from now on (one hop each)."""
    if db.backend != "sqlite":
        pytest.skip("counts hops to aiosqlite's thread (SQLite's round trips)")
    assert isinstance(db, SqliteDatabase)
    trips = [0]
    conn: Any = db.conn
    original = conn._execute

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips[0] += 1
        return await original(fn, *args, **kwargs)

    conn._execute = counting
    return trips


async def test_a_tap_is_two_statements_and_reads_what_the_separate_lookups_read(world: World) -> None:
    circle = await world.circle()
    other = await world.circle("Parents", OTHER_ROLE)
    await world.time.set(GUILD, 42, "Pacific/Auckland")
    await world.service.set_listener_after(GUILD, 42, 4)
    first = await world.service.record(circle, person(42), 3, source_key=None)
    request = (await world.service.request_listener(first.checkin.id, 42)).request
    await world.repo.mark_listener_offered(GUILD, 42, date(2026, 3, 20), world.clock.now())

    trips = count_statements(world.db)
    found, context = await world.service.tap_context(circle.id, 42)
    state = await world.service.record(found, person(42), 4, source_key="message:9", context=context)
    assert trips[0] == 3, "circle + context, the insert, and (they asked for listener offers) their recent days"
    assert found == circle and state.created and state.checkin.mood == 4
    assert context.own_zone == "Pacific/Auckland" == state.checkin.timezone
    assert (context.own_zone, True) == await world.time.zone_name(GUILD, 42)
    assert context.settings == await world.repo.settings(GUILD, 42)
    assert context.pending == request == await world.repo.pending_request(circle.id, 42)
    assert state.pending_request == request, "the card offers to cancel the pending request"
    # Someone with no zone of their own gets the server's; a server with no settings row, the default.
    _, theirs = await world.service.tap_context(other.id, 43)
    assert theirs.own_zone is None and theirs.server_zone == "UTC" and theirs.pending is None
    assert theirs.settings == CheckinSettings()
    await world.guilds.update(GUILD, world.clock.now(), timezone="Europe/Berlin")
    trips[0] = 0
    found, context = await world.service.tap_context(other.id, 43)
    state = await world.service.record(found, person(43, OTHER_ROLE), 2, source_key=None, context=context)
    assert trips[0] == 2, "the circle with the member's context, then the insert (which returns the row)"
    assert state.checkin.timezone == "Europe/Berlin" == (await world.time.zone_name(GUILD, 43))[0]
    loose = await world.repo.tap_context(GUILD + 1, other.id, 43)
    assert loose.own_zone is None and loose.server_zone is None
    with pytest.raises(NotFound, match="no longer exists"):
        await world.service.tap_context(999_999, 42)


async def test_checkin_now_in_a_circle_channel_is_one_statement_and_a_notice_shows_once(world: World) -> None:
    circle = await world.circle()
    assert circle.channel_id is not None
    trips = count_statements(world.db)
    assert await world.service.circle_to_open(GUILD, person(42), channel_id=circle.channel_id) == (circle, None)
    assert trips[0] == 1
    with pytest.raises(NotAllowed, match="not in the Grief circle"):
        await world.service.circle_to_open(GUILD, person(43, OTHER_ROLE), channel_id=circle.channel_id)
    # Reminders paused (not in the server when one was due): the notice comes with the next card, once.
    await world.service.set_reminder(GUILD, person(42), circle, "13:00", None)
    world.clock.set(datetime(2026, 3, 27, 13, tzinfo=UTC))
    await world.scheduler.run_due()
    found, notice = await world.service.circle_to_open(GUILD, person(42), channel_id=circle.channel_id)
    assert found == circle and notice is not None and "no longer in the Grief circle" in str(notice)
    assert await world.service.circle_to_open(GUILD, person(42), channel_id=circle.channel_id) == (circle, None)
    # Elsewhere (not a circle's channel, or by name) it finds the circle as resolve_circle does.
    assert await world.service.circle_to_open(GUILD, person(42), channel_id=1) == (circle, None)
    assert await world.service.circle_to_open(GUILD, person(42), name="grief") == (circle, None)


async def test_who_can_check_in_where(world: World) -> None:
    circle = await world.circle()
    with pytest.raises(NotAllowed, match="not in the Grief circle"):
        await world.service.record(circle, person(42, OTHER_ROLE), 3, source_key=None)
    with pytest.raises(InvalidInput, match="from 1 \\(very low\\) to 5"):
        await world.service.record(circle, person(42), 6, source_key=None)
    archived = await world.circles.update(circle.id, status="archived")
    with pytest.raises(InvalidInput, match="archived"):
        await world.service.record(archived, person(42), 3, source_key=None)
    needs_repair = await world.circles.update(circle.id, status="active", member_role_id=None)
    with pytest.raises(InvalidInput, match="needs a quick repair"):
        await world.service.record(needs_repair, person(42), 3, source_key=None)
    assert await world.checkins() == [], "nothing stored by a refused check-in"
    circle = await world.circles.update(circle.id, member_role_id=ROLE)
    await world.service.record(circle, person(42), 3, source_key=None)
    await world.service.set_reminder(GUILD, person(42), circle, "08:00", None)
    await world.circles.delete(circle.id)
    with pytest.raises(NotFound, match="no longer exists"):
        await world.service.get_circle(circle.id)
    assert await world.checkins() == [] and await world.service.reminder(GUILD, 42) is None, "deleted with it"


async def test_resolving_the_circle(world: World) -> None:
    grief = await world.circle("Grief", ROLE)
    parents = await world.circle("Parents", OTHER_ROLE)
    me = person(42, ROLE)
    assert (await world.service.resolve_circle(GUILD, me)).id == grief.id
    assert (await world.service.resolve_circle(GUILD, me, name="grief")).id == grief.id
    assert (await world.service.resolve_circle(GUILD, me, channel_id=grief.channel_id)).id == grief.id
    with pytest.raises(NotAllowed, match="not in the Parents circle"):
        await world.service.resolve_circle(GUILD, me, channel_id=parents.channel_id)
    both = person(42, ROLE, OTHER_ROLE)
    with pytest.raises(InvalidInput, match="more than one circle \\(Grief, Parents\\)"):
        await world.service.resolve_circle(GUILD, both)
    assert (await world.service.resolve_circle(GUILD, both, channel_id=parents.channel_id)).id == parents.id
    with pytest.raises(NotAllowed, match="not in a circle here yet"):
        await world.service.resolve_circle(GUILD, person(43, 9999))
    with pytest.raises(NotFound, match="no circle called"):
        await world.service.resolve_circle(GUILD, me, name="Nope")


# -- extras -----------------------------------------------------------------------------------


async def test_note_and_tags_are_validated_and_nothing_wrong_is_stored(world: World) -> None:
    circle = await world.circle()
    state = await world.service.record(circle, person(42), 2, source_key=None)
    checkin_id = state.checkin.id
    with pytest.raises(InvalidInput, match=f"at most {NOTE_LIMIT} characters; yours has {NOTE_LIMIT + 1}"):
        await world.service.add_details(checkin_id, 42, "x" * (NOTE_LIMIT + 1), [])
    with pytest.raises(InvalidInput, match="up to 3 tags"):
        await world.service.add_details(checkin_id, 42, "ok", ["sleep", "work", "family", "health"])
    with pytest.raises(InvalidInput, match="isn't one of the Grief circle's tags"):
        await world.service.add_details(checkin_id, 42, "ok", ["astrology"])
    with pytest.raises(NotFound):
        await world.service.add_details(checkin_id, 43, "not mine", [])
    stored = (await world.checkins())[0]
    assert stored["note_enc"] is None and stored["tags"] == "[]"

    done = await world.service.add_details(checkin_id, 42, "  A long day.  ", ["Sleep", "work", "sleep"])
    assert done.state.checkin.note == "A long day." and done.state.checkin.tags == ("sleep", "work")
    assert done.assessment.level is Level.NONE
    cleared = await world.service.add_details(checkin_id, 42, "   ", [])
    assert cleared.state.checkin.note is None


async def test_notes_are_encrypted_at_rest_and_bound_to_their_check_in(world: World) -> None:
    circle = await world.circle()
    first = await world.service.record(circle, person(42), 3, source_key=None)
    second = await world.service.record(circle, person(42), 3, source_key=None)
    await world.service.add_details(first.checkin.id, 42, "só para mim: a private note", [])
    raw = await world.db.fetchone("SELECT note_enc FROM checkins WHERE id = ?", (first.checkin.id,))
    assert raw is not None and b"private" not in raw["note_enc"]
    assert (await world.service.state(first.checkin.id, 42)).checkin.note == "só para mim: a private note"
    # Moved to another row, it no longer opens; with another SECRET_KEY, neither.
    await world.db.execute("UPDATE checkins SET note_enc = ? WHERE id = ?", (raw["note_enc"], second.checkin.id))
    assert (await world.service.state(second.checkin.id, 42)).checkin.note is None
    other = CheckinRepository(world.db, NoteCipher(b"another secret key of 32 bytes.."))
    found = await other.get_checkin(first.checkin.id)
    assert found is not None and found.note is None
    assert NoteCipher(KEY).open(1, b"junk") is None


async def test_a_crisis_note_is_flagged_for_the_writer(world: World) -> None:
    circle = await world.circle()
    state = await world.service.record(circle, person(42), 1, source_key=None)
    done = await world.service.add_details(state.checkin.id, 42, "I want to kill myself", [])
    assert done.assessment.flagged
    assert await world.repo.pending_request(circle.id, 42) is None, "nothing happens without consent"


async def test_share_and_listener_requests(world: World) -> None:
    circle = await world.circle()
    state = await world.service.record(circle, person(42), 2, source_key=None)
    shared = await world.service.set_share(state.checkin.id, 42, True)
    assert shared.checkin.share_pulse
    with pytest.raises(NotFound):
        await world.service.set_share(state.checkin.id, 43, False)
    first = await world.service.request_listener(state.checkin.id, 42)
    again = await world.service.request_listener(state.checkin.id, 42)
    assert first.created and not again.created and first.request.id == again.request.id
    assert first.state.pending_request is not None
    assert [r.id for r in await world.service.pending_requests(GUILD)] == [first.request.id]
    with pytest.raises(NotFound):
        await world.service.cancel_listener(first.request.id, 43)
    await world.service.cancel_listener(first.request.id, 42)
    with pytest.raises(InvalidInput, match="already handled"):
        await world.service.cancel_listener(first.request.id, 42)
    assert await world.service.pending_requests(GUILD) == []
    # The listener rota takes pending requests over; the member can ask again afterwards.
    routed = await world.service.request_listener(state.checkin.id, 42)
    assert routed.created
    await world.service.mark_request_routed(routed.request.id)
    assert (await world.service.state(state.checkin.id, 42)).pending_request is None
    assert (await world.service.request_listener(state.checkin.id, 42)).created


async def test_edit_and_delete_the_latest(world: World) -> None:
    circle = await world.circle()
    with pytest.raises(NotFound, match="haven't checked in"):
        await world.service.latest(GUILD, 42)
    await world.service.record(circle, person(42), 2, source_key=None)
    world.clock.advance(timedelta(minutes=5))
    await world.service.record(circle, person(42), 3, source_key=None)
    latest = await world.service.latest(GUILD, 42)
    assert latest.mood == 3
    edited = await world.service.edit(latest.id, 42, value=5, note="better", tags=["grateful"], share=True)
    assert (edited.state.checkin.mood, edited.state.checkin.note, edited.state.checkin.share_pulse) == (
        5,
        "better",
        True,
    )
    unchanged = await world.service.edit(latest.id, 42, value=5, note="better", tags=[], share=True)
    assert unchanged.assessment.level is Level.NONE
    with pytest.raises(InvalidInput):
        await world.service.edit(latest.id, 42, value=0, note=None, tags=[], share=False)
    await world.service.delete(latest.id, 42)
    assert (await world.service.latest(GUILD, 42)).mood == 2
    with pytest.raises(NotFound):
        await world.service.delete(latest.id, 42)


async def test_listener_offer_is_opt_in_and_once_per_low_run(world: World) -> None:
    circle = await world.circle()

    async def day(offset: int, value: int) -> bool:
        world.clock.set(START + timedelta(days=offset))
        return (await world.service.record(circle, person(42), value, source_key=None)).offer_listener

    assert not await day(0, 1) and not await day(1, 1), "off by default"
    assert await world.service.set_listener_after(GUILD, 42, 3) == 3
    assert await day(2, 2), "three days in a row at 1 or 2"
    assert not await day(2, 1), "not twice in the same run"
    assert not await day(3, 4)
    assert not await day(4, 2) and not await day(5, 1)
    assert await day(6, 2)
    # A missing day breaks the run.
    assert not await day(8, 1) and not await day(9, 1)
    world.clock.set(START + timedelta(days=11))
    assert not (await world.service.record(circle, person(42), 1, source_key=None)).offer_listener
    with pytest.raises(InvalidInput):
        await world.service.set_listener_after(GUILD, 42, 30)
    assert await world.service.set_listener_after(GUILD, 42, 0) is None


# -- history ----------------------------------------------------------------------------------


async def test_history_days_averages_and_streak(world: World) -> None:
    circle = await world.circle()
    plan = {0: [2, 4], 1: [3], 3: [5], 4: [4], 5: [1]}
    for offset, moods in plan.items():
        for value in moods:
            world.clock.set(START + timedelta(days=offset, minutes=len(moods)))
            await world.service.record(circle, person(42), value, source_key=None)
    history = await world.service.history(GUILD, 42, 30)
    today = date(2026, 4, 1)
    assert history.end == today and history.start == today - timedelta(days=29)
    assert history.daily[date(2026, 3, 27)] == 3.0 and date(2026, 3, 29) not in history.daily
    assert history.checkins == 6 and history.days_checked_in == 5
    assert history.average == pytest.approx(19 / 6)
    assert history.streak == 3
    assert history.lowest == (1, date(2026, 4, 1)) and history.highest == (5, date(2026, 3, 30))
    world.clock.set(START + timedelta(days=6, hours=3))
    assert (await world.service.history(GUILD, 42, 30)).streak == 3, "today not yet: the streak holds"
    world.clock.set(START + timedelta(days=7, hours=3))
    assert (await world.service.history(GUILD, 42, 90)).streak == 0
    with pytest.raises(InvalidInput, match="30 or 90"):
        await world.service.history(GUILD, 42, 7)
    other = await world.service.history(GUILD, 43, 30)
    assert other.checkins == 0 and other.average is None


# -- pulse ------------------------------------------------------------------------------------


async def _shares(world: World, circle: Circle, people: range, value: int = 3, tags: tuple[str, ...] = ()) -> None:
    for user_id in people:
        state = await world.service.record(circle, person(user_id), value, source_key=None)
        await world.service.set_share(state.checkin.id, user_id, True)
        if tags:
            await world.service.add_details(state.checkin.id, user_id, "private words", list(tags))


async def test_pulse_needs_five_people_who_shared(world: World) -> None:
    circle = await world.circle()
    facilitator = Actor.of(99, False, [FACILITATORS])
    await _shares(world, circle, range(1, 5), 2, ("sleep",))
    for user_id in range(10, 20):  # private check-ins never count
        await world.service.record(circle, person(user_id), 5, source_key=None)
    withheld = await world.service.pulse(circle, facilitator, Period.WEEK)
    assert not withheld.enough and withheld.percentages == {} and withheld.people == 0
    await _shares(world, circle, range(5, 6), 4, ("sleep", "work"))
    shown = await world.service.pulse(circle, facilitator, Period.WEEK)
    assert shown.enough and shown.people == 5 and shown.entries == 5
    assert shown.percentages == {1: 0, 2: 80, 3: 0, 4: 20, 5: 0}
    assert shown.average == pytest.approx(2.4)
    assert shown.tags == (("sleep", 5),), "work was chosen by one person: never shown"
    assert "note" not in {f.name for f in fields(PulseEntry)}, "the pulse can't even read notes"


async def test_pulse_counts_each_person_once_a_day_and_compares_periods(world: World) -> None:
    circle = await world.circle()
    await _shares(world, circle, range(1, 6), 2)
    world.clock.advance(timedelta(days=7))
    await _shares(world, circle, range(1, 6), 4)
    await _shares(world, circle, range(1, 2), 1)  # the same person again, later that day: replaces theirs
    pulse = await world.service.pulse(circle, ADMIN, Period.WEEK)
    assert pulse.entries == 5 and pulse.percentages[1] == 20 and pulse.percentages[4] == 80
    assert pulse.previous_average == pytest.approx(2.0)
    month = await world.service.pulse(circle, ADMIN, Period.MONTH)
    assert [w.average is not None for w in month.weeks] == [False, False, True, True]


async def test_pulse_is_for_facilitators_coordinators_and_admins(world: World) -> None:
    circle = await world.circle()
    await world.guilds.update(GUILD, world.clock.now(), coordinator_role_id=8000)
    with pytest.raises(NotAllowed, match="Only the Grief circle's facilitators"):
        await world.service.pulse(circle, person(42), Period.WEEK)
    for actor in (Actor.of(5, False, [FACILITATORS]), Actor.of(6, False, [8000]), ADMIN):
        assert not (await world.service.pulse(circle, actor, Period.WEEK)).enough


def test_tag_lists() -> None:
    assert parse_tag_list("Sleep, work ,sleep,  family  time") == ("sleep", "work", "family time")
    with pytest.raises(InvalidInput, match="can't be a tag"):
        parse_tag_list("ok, <@&1>")
    with pytest.raises(InvalidInput, match="at least one tag"):
        parse_tag_list(" , ")
    with pytest.raises(InvalidInput, match="up to 25 tags"):
        parse_tag_list(",".join(f"tag{i}" for i in range(26)))


def test_moods_have_words_and_emoji() -> None:
    assert [mood(v).word for v in range(1, 6)] == ["Very low", "Low", "Okay", "Good", "Very good"]
    with pytest.raises(InvalidInput):
        mood(0)


# -- reminders --------------------------------------------------------------------------------


async def test_reminders_fire_by_dm_and_reschedule(world: World) -> None:
    circle = await world.circle()
    await world.time.set(GUILD, 42, "Europe/London")
    world.delivery.roles[42] = frozenset({ROLE})
    reminder = await world.service.set_reminder(GUILD, person(42), circle, "08:30", None)
    assert (reminder.local_time, reminder.weekdays, reminder.active) == ("08:30", "0123456", True)
    assert await world.pending(REMINDER_JOB) == [datetime(2026, 3, 28, 8, 30, tzinfo=UTC)]
    jobs = await world.scheduler.jobs.pending()
    assert all(j.id.startswith(reminder_job_prefix(reminder.id)) for j in jobs if j.kind == REMINDER_JOB)

    world.clock.set(datetime(2026, 3, 28, 8, 30, tzinfo=UTC))
    await world.scheduler.run_due()
    assert world.delivery.sent == [(42, circle.id)]
    assert await world.pending(REMINDER_JOB) == [datetime(2026, 3, 29, 7, 30, tzinfo=UTC)], "BST from Sunday"

    # Changing the rule replaces the pending job (one at a time).
    await world.service.set_reminder(GUILD, person(42), circle, None, "weekdays")
    assert await world.pending(REMINDER_JOB) == [datetime(2026, 3, 30, 7, 30, tzinfo=UTC)]

    when, zone = await world.service.snooze(reminder.id, 42)
    assert when == world.clock.now() + timedelta(hours=1) and zone == "Europe/London"
    assert await world.pending(REMINDER_JOB) == [when]
    world.clock.set(when)
    await world.scheduler.run_due()
    assert len(world.delivery.sent) == 2
    assert await world.pending(REMINDER_JOB) == [datetime(2026, 3, 30, 7, 30, tzinfo=UTC)]

    with pytest.raises(NotFound):
        await world.service.snooze(reminder.id, 43)
    assert await world.service.stop_reminder(GUILD, 42)
    assert await world.pending(REMINDER_JOB) == [] and await world.service.reminder(GUILD, 42) is None
    assert not await world.service.stop_reminder(GUILD, 42)


async def test_reminder_needs_a_valid_time_and_a_circle_the_member_is_in(world: World) -> None:
    circle = await world.circle()
    with pytest.raises(InvalidInput, match="Add a time"):
        await world.service.set_reminder(GUILD, person(42), circle, None, None)
    with pytest.raises(InvalidInput, match="hours go from 00 to 23"):
        await world.service.set_reminder(GUILD, person(42), circle, "24:00", None)
    with pytest.raises(NotAllowed):
        await world.service.set_reminder(GUILD, person(42, OTHER_ROLE), circle, "08:00", None)
    assert await world.service.reminder(GUILD, 42) is None and await world.pending(REMINDER_JOB) == []


async def test_closed_dms_pause_the_reminder_with_a_notice_shown_once(world: World) -> None:
    circle = await world.circle()
    world.delivery.roles[42] = frozenset({ROLE})
    world.delivery.dms_closed.add(42)
    await world.service.set_reminder(GUILD, person(42), circle, "13:00", None)
    world.clock.set(datetime(2026, 3, 27, 13, tzinfo=UTC))
    await world.scheduler.run_due()
    paused = await world.service.reminder(GUILD, 42)
    assert paused is not None and paused.status == "paused" and paused.paused_reason == "dms_closed"
    assert await world.pending(REMINDER_JOB) == [], "not retried forever"
    notice = await world.service.pop_notice(GUILD, 42)
    assert notice is not None and "Privacy Settings" in str(notice)
    assert await world.service.pop_notice(GUILD, 42) is None
    with pytest.raises(InvalidInput, match="paused"):
        await world.service.snooze(paused.id, 42)
    # Setting a time again switches it back on.
    again = await world.service.set_reminder(GUILD, person(42), circle, "13:00", None)
    assert again.active and await world.pending(REMINDER_JOB)


async def test_reminder_handler_copes_with_people_and_circles_that_changed(world: World) -> None:
    circle = await world.circle()
    await world.service.set_reminder(GUILD, person(42), circle, "13:00", None)
    world.clock.set(datetime(2026, 3, 27, 13, tzinfo=UTC))
    await world.scheduler.run_due()  # not in the server any more (no roles)
    reminder = await world.service.reminder(GUILD, 42)
    assert reminder is not None and reminder.paused_reason == "not_in_circle"
    notice = await world.service.pop_notice(GUILD, 42)
    assert notice is not None and "no longer in the Grief circle" in str(notice)

    world.delivery.roles[42] = frozenset({ROLE})
    await world.service.set_reminder(GUILD, person(42), circle, "14:00", None)
    await world.circles.update(circle.id, status="archived")
    world.clock.set(datetime(2026, 3, 27, 14, tzinfo=UTC))
    await world.scheduler.run_due()
    reminder = await world.service.reminder(GUILD, 42)
    assert reminder is not None and reminder.paused_reason == "circle_closed"

    # A failed delivery doesn't end the reminders: the next one is scheduled.
    other = await world.circle("Parents", OTHER_ROLE)
    world.delivery.roles[43] = frozenset({OTHER_ROLE})
    await world.service.set_reminder(GUILD, person(43, OTHER_ROLE), other, "15:00", None)
    world.delivery.fail_next = True
    world.clock.set(datetime(2026, 3, 27, 15, tzinfo=UTC))
    await world.scheduler.run_due()
    assert await world.pending(REMINDER_JOB) == [datetime(2026, 3, 28, 15, tzinfo=UTC)]

    # Deleting the circle deletes its reminders; a pending job then does nothing.
    await world.circles.delete(other.id)
    world.clock.set(datetime(2026, 3, 28, 15, tzinfo=UTC))
    await world.scheduler.run_due()
    assert world.delivery.sent == []


async def test_ensure_scheduled_restores_missed_jobs(world: World) -> None:
    circle = await world.circle()
    world.delivery.roles[42] = frozenset({ROLE})
    await world.service.set_reminder(GUILD, person(42), circle, "13:00", None)
    await world.service.set_prompt(circle, ADMIN, "daily", "19:00", None)
    assert await world.service.ensure_scheduled() == 0
    # The bot was down for two days: both jobs are missed.
    world.clock.set(datetime(2026, 3, 29, 20, tzinfo=UTC))
    await world.scheduler.run_due()
    assert await world.pending(REMINDER_JOB) == [] and await world.pending(PROMPT_JOB) == []
    assert await world.service.ensure_scheduled() == 2
    assert await world.pending(REMINDER_JOB) == [datetime(2026, 3, 30, 13, tzinfo=UTC)]
    assert await world.pending(PROMPT_JOB) == [datetime(2026, 3, 30, 19, tzinfo=UTC)]


# -- circle prompts ---------------------------------------------------------------------------


async def test_prompts_are_scheduled_by_facilitators_in_the_server_zone(world: World) -> None:
    circle = await world.circle()
    await world.guilds.update(GUILD, world.clock.now(), timezone="America/New_York")
    with pytest.raises(NotAllowed, match="facilitators"):
        await world.service.set_prompt(circle, person(42), "daily", "19:00", None)
    with pytest.raises(InvalidInput, match="needs a day"):
        await world.service.set_prompt(circle, ADMIN, "weekly", "19:00", None)
    facilitator = Actor.of(5, False, [FACILITATORS])
    prompt = await world.service.set_prompt(circle, facilitator, "weekly", "19:00", 0)
    assert (prompt.frequency, prompt.weekday, prompt.local_time) == ("weekly", 0, "19:00")
    jobs = [j for j in await world.scheduler.jobs.pending() if j.kind == PROMPT_JOB]
    assert [j.run_at for j in jobs] == [datetime(2026, 3, 30, 23, tzinfo=UTC)]
    assert jobs[0].id.startswith(prompt_job_prefix(circle.id)) and jobs[0].id.startswith(f"circle:{circle.id}:")

    world.clock.set(datetime(2026, 3, 30, 23, tzinfo=UTC))
    await world.scheduler.run_due()
    world.clock.set(datetime(2026, 4, 6, 23, tzinfo=UTC))
    await world.scheduler.run_due()
    assert world.delivery.posts == [(circle.id, None), (circle.id, 9001)], "each replaces the previous"
    assert await world.pending(PROMPT_JOB) == [datetime(2026, 4, 13, 23, tzinfo=UTC)]

    # Archiving cancels ``circle:{id}:`` jobs; a stray one would do nothing.
    await world.scheduler.cancel_prefix(f"circle:{circle.id}:")
    assert await world.pending(PROMPT_JOB) == []
    assert await world.service.stop_prompt(circle, facilitator)
    assert await world.service.prompt(circle) is None


async def test_circle_tags(world: World) -> None:
    circle = await world.circle()
    assert await world.service.tags_for(circle) == DEFAULT_TAGS
    with pytest.raises(NotAllowed):
        await world.service.set_circle_tags(circle, person(42), "a, b")
    assert await world.service.set_circle_tags(circle, ADMIN, "Meetings, sponsor") == ("meetings", "sponsor")
    assert await world.service.tags_for(circle) == ("meetings", "sponsor")
    assert await world.service.set_circle_tags(circle, ADMIN, None) == DEFAULT_TAGS
    assert await world.service.tags_for(circle) == DEFAULT_TAGS


# -- personal data ----------------------------------------------------------------------------


async def _seed(world: World, circle: Circle, user_id: int) -> None:
    state = await world.service.record(circle, person(user_id), 2, source_key=None)
    await world.service.add_details(state.checkin.id, user_id, f"note of {user_id}", ["sleep"])
    await world.service.request_listener(state.checkin.id, user_id)
    await world.service.set_listener_after(GUILD, user_id, 3)
    await world.service.set_reminder(GUILD, person(user_id), circle, "08:00", "mon")


async def test_export_and_delete_cover_every_table(world: World) -> None:
    circle = await world.circle()
    registry = PersonalDataRegistry()
    registry.register(world.repo)
    await _seed(world, circle, 42)
    await _seed(world, circle, 43)
    exported = await registry.export_user(GUILD, 42)
    assert set(exported) == set(world.repo.tables)
    assert exported["checkins"][0]["note"] == "note of 42" and exported["checkins"][0]["tags"] == ["sleep"]
    assert exported["checkin_reminders"][0]["weekdays"] == ["Monday"]
    assert "43" not in str(exported)
    assert sum((await registry.delete_user(GUILD, 42)).values()) == 4
    for table in world.repo.tables:
        row = await world.db.fetchone(f"SELECT COUNT(*) FROM {table} WHERE user_id = ?", (42,))
        assert row is not None and row[0] == 0
        row = await world.db.fetchone(f"SELECT COUNT(*) FROM {table} WHERE user_id = ?", (43,))
        assert row is not None and row[0] == 1


async def test_leaving_a_circle_and_removing_the_server(world: World) -> None:
    grief = await world.circle()
    parents = await world.circle("Parents", OTHER_ROLE)
    await _seed(world, grief, 42)
    await world.service.record(parents, person(42, OTHER_ROLE), 4, source_key=None)
    await world.service.set_prompt(grief, ADMIN, "daily", "19:00", None)
    assert await world.repo.delete_user_in_circle(GUILD, grief.id, 42) == 3
    assert [c["circle_id"] for c in await world.checkins()] == [parents.id]
    assert (await world.service.settings(GUILD, 42)).listener_after_days == 3, "server-wide settings stay"
    assert await world.repo.delete_guild(GUILD) == 3
    assert await world.checkins() == [] and await world.service.prompt(grief) is None


async def test_expired_check_ins_follow_each_circle_retention(world: World) -> None:
    short = await world.circle("Short", ROLE, retention_days=7)
    long = await world.circle("Long", OTHER_ROLE, retention_days=90)
    for circle, role in ((short, ROLE), (long, OTHER_ROLE)):
        state = await world.service.record(circle, person(42, role), 3, source_key=None)
        await world.service.request_listener(state.checkin.id, 42)
    now = START + timedelta(days=8)
    assert await world.repo.purge_expired(now) == 2
    assert [c["circle_id"] for c in await world.checkins()] == [long.id]
    assert await world.repo.purge_expired(START + timedelta(days=89)) == 0
    assert await world.repo.purge_expired(START + timedelta(days=91)) == 2
