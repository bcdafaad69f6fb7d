"""SessionService with a real database, a FakeClock and a fake Discord (the SessionDiscord port)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.clock import FakeClock
from bot.errors import Conflict, InvalidInput, MissingBotPermissions, NotAllowed
from bot.i18n import Msg
from bot.privacy import PersonalDataRegistry, uncovered_tables
from bot.scheduler import JobRepository, Scheduler
from bot.services.access import AccessService, Actor
from bot.services.circles import CircleDraft, CircleService
from bot.services.member_time import MemberTimeService
from bot.services.sessions.models import (
    DmResult,
    EventState,
    GoRoundView,
    ReminderView,
    SessionDraft,
    SessionView,
    parse_ref,
)
from bot.services.sessions.service import SessionService
from bot.storage.circles import Circle, CircleRepository
from bot.storage.database import Database
from bot.storage.guilds import GuildSettingsRepository
from bot.storage.member_settings import MemberSettingsRepository
from bot.storage.sessions import SessionRepository
from tests.test_circles_service import FakeOps

GUILD = 1000
ADMIN = Actor.of(1, True, [])
FACILITATOR_ROLE = 77
FRAN = Actor.of(2, False, [FACILITATOR_ROLE])
MEMBER = Actor.of(3, False, [])
ALICE, BOB, CAROL, DAN = 11, 12, 13, 14
LONDON = ZoneInfo("Europe/London")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


class FakeDiscord:
    """Records what the bot would do in Discord; can lack permissions or have closed DMs."""

    def __init__(self) -> None:
        self.ids = count(900_000)
        self.events: dict[int, SessionView] = {}
        self.event_status: dict[int, str] = {}
        self.posts: dict[int, tuple[str, Any]] = {}
        self.dms: list[tuple[int, str]] = []
        self.closed_dms: set[int] = set()
        self.interested_users: dict[int, list[int]] = {}
        self.mod_notices: list[str] = []
        self.missing_events = False

    async def require_event_permissions(self, guild_id: int, channel_id: int, channel_kind: str) -> None:
        if self.missing_events:
            raise MissingBotPermissions(["Create Events"])

    async def require_post(self, guild_id: int, channel_id: int) -> None:
        return None

    async def create_event(self, view: SessionView) -> int:
        if self.missing_events:
            raise MissingBotPermissions(["Create Events"])
        event_id = next(self.ids)
        self.events[event_id] = view
        self.event_status[event_id] = "scheduled"
        return event_id

    async def update_event(self, view: SessionView) -> bool:
        assert view.event_id is not None
        if view.event_id not in self.events:
            return False
        self.events[view.event_id] = view
        return True

    async def set_event_status(self, guild_id: int, event_id: int, status: str) -> bool:
        self.event_status[event_id] = status
        return event_id in self.events

    async def delete_event(self, guild_id: int, event_id: int) -> None:
        self.events.pop(event_id, None)

    async def interested(self, guild_id: int, event_id: int) -> list[int] | None:
        return list(self.interested_users.get(event_id, []))

    def _post(self, kind: str, payload: Any) -> int:
        message_id = next(self.ids)
        self.posts[message_id] = (kind, payload)
        return message_id

    async def post_announcement(self, channel_id: int, view: SessionView) -> int | None:
        return self._post("announcement", view)

    async def update_announcement(self, channel_id: int, message_id: int, view: SessionView) -> None:
        self.posts[message_id] = ("announcement", view)

    async def post_opening(self, channel_id: int, view: SessionView, ground_rules: str) -> int | None:
        return self._post("opening", view)

    async def close_opening(self, channel_id: int, message_id: int, view: SessionView, ground_rules: str) -> None:
        self.posts[message_id] = ("opening-closed", view)

    async def post_goround(self, channel_id: int, view: SessionView, goround: GoRoundView) -> int | None:
        return self._post("goround", goround)

    async def update_goround(self, channel_id: int, message_id: int, view: SessionView, goround: GoRoundView) -> None:
        self.posts[message_id] = ("goround", goround)

    async def post_closing(self, channel_id: int, view: SessionView) -> int | None:
        return self._post("closing", view)

    async def _dm(self, user_id: int, text: str) -> DmResult:
        if user_id in self.closed_dms:
            return DmResult.CLOSED
        self.dms.append((user_id, text))
        return DmResult.SENT

    async def send_reminder(self, user_id: int, reminder: ReminderView) -> DmResult:
        return await self._dm(user_id, f"reminder {reminder.offset_minutes} {reminder.local_text()}")

    async def send_notice(self, guild_id: int, user_id: int, text: Msg) -> DmResult:
        return await self._dm(user_id, str(text))

    async def post_text(self, guild_id: int, channel_id: int, text: Msg) -> None:
        self.mod_notices.append(str(text))

    def kinds(self, kind: str) -> list[Any]:
        return [payload for k, payload in self.posts.values() if k == kind]

    def dms_to(self, user_id: int) -> list[str]:
        return [text for uid, text in self.dms if uid == user_id]


class Env:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.clock = FakeClock(START)
        self.scheduler = Scheduler(JobRepository(db), self.clock, use_timers=False)
        self.settings = GuildSettingsRepository(db, "Europe/London")
        self.access = AccessService(self.settings)
        self.registry = PersonalDataRegistry()
        self.circle_repo = CircleRepository(db)
        self.registry.register(self.circle_repo)
        self.circles = CircleService(
            self.circle_repo, self.settings, self.access, self.registry, self.scheduler, self.clock
        )
        self.member_time = MemberTimeService(MemberSettingsRepository(db), self.settings, self.clock)
        self.repo = SessionRepository(db, b"k" * 32)
        self.registry.register(self.repo)
        self.service = SessionService(
            self.repo,
            self.circle_repo,
            self.settings,
            self.access,
            self.member_time,
            self.scheduler,
            self.clock,
            rng=random.Random(4),
        )
        for kind, handler in self.service.job_handlers().items():
            self.scheduler.register(kind, handler)
        self.discord = FakeDiscord()
        self.service.attach(self.discord)
        self.ops = FakeOps()

    async def circle(self, name: str = "Grief", *, private: bool = True, members: tuple[int, ...] = ()) -> Circle:
        await self.settings.ensure(GUILD, self.clock.now())
        await self.settings.update(GUILD, self.clock.now(), timezone="Europe/London", mod_channel_id=55)
        draft = CircleDraft(name=name, is_private=private, facilitator_role_id=FACILITATOR_ROLE)
        circle = (await self.circles.create(ADMIN, draft, self.ops)).circle
        for user_id in members:
            await self.circles.join(circle, user_id, self.ops)
        return circle

    def draft(self, circle: Circle, **changes: Any) -> SessionDraft:
        values: dict[str, Any] = {
            "circle_id": circle.id,
            "title": "Check-in",
            "first_date": "2026-03-05",  # a Thursday
            "start_time": "19:00",
            "duration_minutes": 60,
            "channel_id": circle.channel_id,
            "channel_kind": "text",
            "channel_name": "circle-grief",
        }
        values.update(changes)
        return SessionDraft(**values)

    async def advance_to(self, moment: datetime) -> list[str]:
        self.clock.set(moment)
        fired: list[str] = await self.scheduler.run_due()
        return fired

    async def pending(self) -> list[str]:
        return sorted(j.id for j in await self.scheduler.jobs.pending() if j.id.startswith("circle:"))


def london(day: date, hour: int = 19, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON).astimezone(UTC)


@pytest.fixture
async def env(db: Database) -> Env:
    return Env(db)


async def test_schedule_makes_the_next_occurrence_with_event_announcement_and_jobs(env: Env) -> None:
    circle = await env.circle()
    result = await env.service.schedule(FRAN, GUILD, env.draft(circle, recurrence="weekly"))
    assert result.first.starts_at == london(date(2026, 3, 5))
    [made] = result.made
    assert made.event_id in env.discord.events and env.discord.kinds("announcement")
    occ = made.occurrence_id
    assert await env.pending() == [
        f"circle:{circle.id}:session:{occ}:end",
        f"circle:{circle.id}:session:{occ}:remind:1440",
        f"circle:{circle.id}:session:{occ}:remind:15",
        f"circle:{circle.id}:session:{occ}:start",
    ]
    # Idempotent: nothing is made twice.
    assert await env.service.ensure_window(result.series) == []
    assert len(env.discord.events) == 1


async def test_the_window_holds_the_next_week_at_most_three(env: Env) -> None:
    circle = await env.circle()
    result = await env.service.schedule(
        FRAN, GUILD, env.draft(circle, recurrence="weekly", weekdays="mon, wed, fri, sat", first_date="2026-03-03")
    )
    assert [v.starts_at.astimezone(LONDON).date() for v in result.made] == [
        date(2026, 3, 4),
        date(2026, 3, 6),
        date(2026, 3, 7),
    ]


async def test_scheduling_is_refused_cleanly(env: Env) -> None:
    circle = await env.circle()
    with pytest.raises(NotAllowed, match="facilitators, coordinators and server admins"):
        await env.service.schedule(MEMBER, GUILD, env.draft(circle))
    with pytest.raises(InvalidInput, match="already passed"):
        await env.service.schedule(FRAN, GUILD, env.draft(circle, first_date="2026-03-01"))
    with pytest.raises(InvalidInput, match="as a time"):
        await env.service.schedule(FRAN, GUILD, env.draft(circle, start_time="teatime"))
    with pytest.raises(InvalidInput, match="time zone"):
        await env.service.schedule(FRAN, GUILD, env.draft(circle, timezone="Mars/Base"))
    with pytest.raises(InvalidInput, match="too far ahead"):  # it used to fail on its 10-year horizon
        await env.service.schedule(FRAN, GUILD, env.draft(circle, first_date="9999-12-31", recurrence="weekly"))
    env.discord.missing_events = True
    with pytest.raises(MissingBotPermissions):
        await env.service.schedule(FRAN, GUILD, env.draft(circle))
    assert await env.repo.active_series(GUILD) == []
    assert await env.pending() == []


def test_a_session_reference_typed_by_hand_is_checked() -> None:
    assert parse_ref("12") == (12, None) and parse_ref("12:2026-03-03") == (12, date(2026, 3, 3))
    # A number too large for SQLite used to reach the query (OverflowError); ² is a digit to isdigit().
    for bad in ("9" * 30, f"{'9' * 30}:2026-03-03", "²", "12:someday", "twelve"):
        with pytest.raises(InvalidInput, match="Pick a session from the list"):
            parse_ref(bad)


async def test_create_events_lost_later_tells_the_mods_once_and_the_session_still_happens(env: Env) -> None:
    circle = await env.circle()
    result = await env.service.schedule(FRAN, GUILD, env.draft(circle, recurrence="weekly"))
    env.discord.missing_events = True
    await env.advance_to(london(date(2026, 3, 5), 20, 31))  # past the first one's end: roll forward
    assert len(env.discord.mod_notices) == 1 and "Create Events" in env.discord.mod_notices[0]
    second = await env.repo.occurrence_on(result.series.id, date(2026, 3, 12))
    assert second is not None and second.discord_event_id is None and second.announce_message_id is not None
    await env.advance_to(london(date(2026, 3, 12), 20, 31))
    assert len(env.discord.mod_notices) == 1, "told once, not every week"


async def test_rsvp_capacity_waitlist_in_order_and_promotion_by_dm(env: Env) -> None:
    circle = await env.circle(members=(ALICE, BOB, CAROL, DAN))
    result = await env.service.schedule(FRAN, GUILD, env.draft(circle, capacity=2))
    occ = result.made[0].occurrence_id
    assert (await env.service.rsvp(occ, ALICE)).status == "going"
    assert (await env.service.rsvp(occ, BOB)).status == "going"
    env.clock.advance(timedelta(seconds=1))
    carol = await env.service.rsvp(occ, CAROL)
    env.clock.advance(timedelta(seconds=1))
    dan = await env.service.rsvp(occ, DAN)
    assert (carol.status, carol.position, dan.position) == ("waitlist", 1, 2)
    assert (await env.service.rsvp(occ, ALICE)).already
    assert await env.service.unrsvp(occ, BOB)
    assert [t for t in env.discord.dms_to(CAROL) if "place opened up" in t]
    assert env.discord.dms_to(DAN) == []
    assert {r.user_id: r.status for r in await env.repo.rsvps(occ)} == {
        ALICE: "going",
        BOB: "declined",
        CAROL: "going",
        DAN: "waitlist",
    }
    # Raising the capacity promotes the next in line.
    await env.service.edit_series(FRAN, GUILD, str(result.series.id), capacity=3)
    promoted = await env.repo.rsvp(occ, DAN)
    assert promoted is not None and promoted.status == "going"


async def test_interested_counts_but_not_for_outsiders_of_a_private_circle_and_not_after_not_going(env: Env) -> None:
    circle = await env.circle(members=(ALICE, BOB))
    result = await env.service.schedule(FRAN, GUILD, env.draft(circle))
    view = result.made[0]
    assert view.event_id is not None
    await env.service.interest_changed(GUILD, view.event_id, ALICE, True)
    await env.service.interest_changed(GUILD, view.event_id, CAROL, True)  # not a member: nothing stored
    assert [r.user_id for r in await env.repo.rsvps(view.occurrence_id)] == [ALICE]
    await env.service.unrsvp(view.occurrence_id, ALICE)  # "Not going" wins over a stale Interested
    env.discord.interested_users[view.event_id] = [ALICE, BOB]
    stored = await env.repo.occurrence(view.occurrence_id)
    assert stored is not None
    await env.service.sync_interested(stored)
    assert {r.user_id: r.status for r in await env.repo.rsvps(view.occurrence_id)} == {
        ALICE: "declined",
        BOB: "going",
    }
    # Bob un-presses Interested while the bot is away: the next read drops him (no row kept).
    env.discord.interested_users[view.event_id] = [ALICE]
    await env.service.sync_interested(stored)
    assert await env.repo.rsvp(view.occurrence_id, BOB) is None


async def test_reminders_go_to_the_going_and_opted_in_in_their_own_zone(env: Env) -> None:
    circle = await env.circle(members=(ALICE, BOB, CAROL))
    result = await env.service.schedule(FRAN, GUILD, env.draft(circle))
    occ = result.made[0].occurrence_id
    await env.service.rsvp(occ, ALICE)
    await env.member_time.set(GUILD, ALICE, "Asia/Kolkata")
    await env.service.set_reminders(GUILD, circle.id, BOB, True)
    with pytest.raises(InvalidInput, match="Join first"):
        await env.service.set_reminders(GUILD, circle.id, DAN, True)
    env.discord.closed_dms.add(BOB)
    await env.advance_to(london(date(2026, 3, 4)))
    assert env.discord.dms_to(ALICE) == ["reminder 1440 00:30 on Friday 6 March 2026 (Asia/Kolkata)"]
    assert env.discord.dms_to(CAROL) == []
    stored = await env.repo.occurrence(occ)
    assert stored is not None and (stored.reminders_sent, stored.reminders_undelivered) == (1, 1)
    assert await env.advance_to(london(date(2026, 3, 4), 19, 5)) == []


async def test_skip_ahead_and_skip_now_and_edit_one_occurrence(env: Env) -> None:
    circle = await env.circle(members=(ALICE,))
    result = await env.service.schedule(FRAN, GUILD, env.draft(circle, recurrence="weekly"))
    series = result.series
    first = result.made[0]
    await env.service.rsvp(first.occurrence_id, ALICE)
    # Skip a date that isn't made yet: it never will be.
    await env.service.skip(FRAN, GUILD, f"{series.id}:2026-03-19", "Holiday")
    skipped = await env.service.skip(FRAN, GUILD, f"{series.id}:2026-03-05")
    assert isinstance(skipped, SessionView) and skipped.status == "skipped"
    assert first.event_id not in env.discord.events
    assert any("won't take place" in t for t in env.discord.dms_to(ALICE))
    assert not [j for j in await env.pending() if f":session:{first.occurrence_id}:" in j]
    upcoming = await env.service.upcoming(GUILD, FRAN)
    assert [u.original_date for u in upcoming][:2] == [date(2026, 3, 12), date(2026, 3, 26)]
    with pytest.raises(Conflict):
        await env.service.skip(FRAN, GUILD, f"{series.id}:2026-03-05")
    with pytest.raises(Exception, match="isn't one of this session's dates"):
        await env.service.skip(FRAN, GUILD, f"{series.id}:2026-03-06")

    moved = await env.service.edit_occurrence(
        FRAN, GUILD, f"{series.id}:2026-03-12", new_time="18:15", duration_minutes=90
    )
    assert isinstance(moved, SessionView)
    assert moved.starts_at == london(date(2026, 3, 12), 18, 15)
    assert moved.ends_at - moved.starts_at == timedelta(minutes=90)
    assert moved.event_id is not None and env.discord.events[moved.event_id].starts_at == moved.starts_at
    start_job = await env.scheduler.jobs.get(f"circle:{circle.id}:session:{moved.occurrence_id}:start")
    assert start_job is not None and start_job.run_at == moved.starts_at
    # The series keeps its own time.
    later = [u for u in await env.service.upcoming(GUILD, FRAN) if u.original_date == date(2026, 4, 2)]
    assert later and later[0].starts_at == london(date(2026, 4, 2))
    with pytest.raises(InvalidInput, match="in the past"):
        await env.service.edit_occurrence(FRAN, GUILD, f"{series.id}:2026-03-12", new_date="2026-03-01")
    with pytest.raises(InvalidInput, match="too far ahead"):  # it used to be saved
        await env.service.edit_occurrence(FRAN, GUILD, f"{series.id}:2026-03-12", new_date="9999-12-31")


async def test_series_edit_moves_upcoming_sessions_and_keeps_single_changes(env: Env) -> None:
    circle = await env.circle(members=(ALICE,))
    result = await env.service.schedule(FRAN, GUILD, env.draft(circle, recurrence="weekly", first_date="2026-03-03"))
    first = result.made[0]
    await env.service.rsvp(first.occurrence_id, ALICE)
    _, said = await env.service.edit_series(FRAN, GUILD, str(result.series.id), start_time="20:00", reminders="1h")
    assert [str(s) for s in said] == ["start time → 20:00 (Europe/London)", "reminders"]
    stored = await env.repo.occurrence(first.occurrence_id)
    assert stored is not None and stored.starts_at == london(date(2026, 3, 3), 20)
    assert any("has moved" in t for t in env.discord.dms_to(ALICE))
    jobs = [j for j in await env.pending() if f":session:{first.occurrence_id}:" in j]
    assert [j.rsplit(":", 2)[-2:] for j in jobs if "remind" in j] == [["remind", "60"]]
    assert (await env.service.edit_series(FRAN, GUILD, str(result.series.id), start_time="20:00"))[1] == []


async def test_cancel_removes_events_and_tells_the_going(env: Env) -> None:
    circle = await env.circle(members=(ALICE,))
    result = await env.service.schedule(
        FRAN, GUILD, env.draft(circle, recurrence="weekly", weekdays="tue, thu", first_date="2026-03-03")
    )
    for view in result.made:
        await env.service.rsvp(view.occurrence_id, ALICE)
    series, removed = await env.service.cancel(FRAN, GUILD, str(result.series.id))
    assert series.status == "cancelled" and removed == len(result.made) == 2
    assert env.discord.events == {}
    assert len([t for t in env.discord.dms_to(ALICE) if "won't take place" in t]) == 2
    assert await env.pending() == []
    with pytest.raises(Conflict):
        await env.service.cancel(FRAN, GUILD, str(result.series.id))
    assert await env.service.ensure_window(series) == []


async def test_the_session_flow_goround_pass_timer_close_feedback(env: Env) -> None:
    circle = await env.circle(members=(ALICE, BOB, CAROL))
    result = await env.service.schedule(FRAN, GUILD, env.draft(circle, recurrence="weekly", speaker_minutes=2))
    occ = result.made[0].occurrence_id
    with pytest.raises(InvalidInput, match="hasn't started yet"):
        await env.service.arrive(occ, ALICE)
    await env.advance_to(london(date(2026, 3, 5)))
    assert env.discord.kinds("opening") and env.discord.event_status[result.made[0].event_id or 0] == "active"
    with pytest.raises(InvalidInput, match="Nobody has pressed"):
        await env.service.start_goround(FRAN, occ)
    for user_id in (ALICE, BOB, CAROL):
        assert await env.service.arrive(occ, user_id)
    assert not await env.service.arrive(occ, ALICE)
    assert await env.service.step_out(occ, CAROL)
    with pytest.raises(NotAllowed):
        await env.service.start_goround(MEMBER, occ)
    goround = await env.service.start_goround(FRAN, occ)
    assert sorted(goround.speakers) == [ALICE, BOB] and goround.current == 0
    first, second = goround.speakers
    # Timer: start, pause, resume, time's up (a scheduler job), then the next speaker.
    running = await env.service.timer(FRAN, occ, "start")
    assert running.timer_state == "running" and running.timer_ends_at == env.clock.now() + timedelta(minutes=2)
    env.clock.advance(timedelta(seconds=50))
    paused = await env.service.timer(FRAN, occ, "pause")
    assert paused.timer_state == "paused" and paused.remaining == timedelta(seconds=70)
    await env.service.timer(FRAN, occ, "start")
    await env.advance_to(env.clock.now() + timedelta(seconds=70))
    stored = await env.repo.occurrence(occ)
    assert stored is not None and stored.timer_state == "done"
    nxt = await env.service.next_speaker(FRAN, occ)
    assert nxt.current == 1 and nxt.timer_state == "idle"
    assert await env.service.pass_turn(occ, second)
    assert not await env.service.pass_turn(occ, CAROL), "not in the order"
    final = env.discord.kinds("goround")[-1]
    assert final.speakers == (first,) and final.current is None
    # Close: attendance is a count, presence is forgotten, feedback is anonymous.
    assert await env.service.close(FRAN, occ) == 2
    assert await env.repo.presence(occ) == []
    assert env.discord.kinds("closing") and env.discord.kinds("opening-closed")
    feedback_id = await env.service.give_feedback(occ, ALICE, 5)
    assert feedback_id is not None
    assert await env.service.give_feedback(occ, ALICE, 1) is None
    assert await env.service.add_comment(feedback_id, "  Thank you all  ")
    rows = [dict(r) for r in await env.db.fetchall("SELECT * FROM session_feedback")]
    assert rows == [{"id": feedback_id, "occurrence_id": occ, "score": 5, "comment": "Thank you all"}]
    voters = [dict(r) for r in await env.db.fetchall("SELECT * FROM session_feedback_voters")]
    assert len(voters) == 1 and str(ALICE) not in str(voters)
    # The next one was made as this one closed.
    assert await env.repo.occurrence_on(result.series.id, date(2026, 3, 12)) is not None
    env.clock.advance(timedelta(days=8))
    with pytest.raises(InvalidInput, match="has closed"):
        await env.service.give_feedback(occ, BOB, 4)


async def test_an_open_session_nobody_closes_closes_itself_and_a_missed_one_is_recorded(env: Env) -> None:
    circle = await env.circle(members=(ALICE,))
    result = await env.service.schedule(FRAN, GUILD, env.draft(circle, recurrence="weekly"))
    occ = result.made[0].occurrence_id
    await env.advance_to(london(date(2026, 3, 5)))
    await env.service.arrive(occ, ALICE)
    await env.advance_to(london(date(2026, 3, 5), 20, 30))
    stored = await env.repo.occurrence(occ)
    assert stored is not None and stored.status == "closed" and stored.attendance_count == 1
    # The bot is down across the whole next session: at start-up it is recorded as missed.
    env.clock.set(london(date(2026, 3, 12), 21))
    await env.service.rebuild()
    second = await env.repo.occurrence_on(result.series.id, date(2026, 3, 12))
    assert second is not None and second.status == "missed"
    assert await env.repo.occurrence_on(result.series.id, date(2026, 3, 19)) is not None


async def test_rebuild_follows_events_changed_while_away_and_is_idempotent(env: Env) -> None:
    circle = await env.circle(members=(ALICE,))
    result = await env.service.schedule(
        FRAN, GUILD, env.draft(circle, recurrence="weekly", weekdays="tue, thu", first_date="2026-03-03")
    )
    first, second = result.made
    assert first.event_id is not None and second.event_id is not None
    before = await env.pending()
    counts = await env.service.rebuild({}, None)
    assert counts["made"] == 0 and counts["jobs"] == 0 and await env.pending() == before
    # While away: the first event was deleted by hand, the second moved to 18:00.
    moved = london(date(2026, 3, 5), 18)
    events = {second.event_id: EventState(GUILD, "scheduled", moved, moved + timedelta(hours=1))}
    counts = await env.service.rebuild(events, {GUILD})
    assert counts["removed"] == 1 and counts["moved"] == 1
    skipped = await env.repo.occurrence(first.occurrence_id)
    assert skipped is not None and skipped.status == "skipped"
    kept = await env.repo.occurrence(second.occurrence_id)
    assert kept is not None and kept.starts_at == moved
    changes = await env.repo.changes(result.series.id)
    assert changes[date(2026, 3, 3)].skip and changes[date(2026, 3, 5)].new_time == time(18)
    # Our own edits come back as updates too: they are not taken for hand edits.
    assert not await env.service.event_changed(GUILD, second.event_id, "scheduled", moved, moved + timedelta(hours=1))
    assert not await env.service.event_changed(GUILD, second.event_id, "active", moved, moved + timedelta(hours=1))


async def test_handlers_no_op_when_the_circle_is_gone_and_archive_stops_the_series(env: Env) -> None:
    circle = await env.circle(members=(ALICE,))
    result = await env.service.schedule(FRAN, GUILD, env.draft(circle, recurrence="weekly"))
    await env.service.rsvp(result.made[0].occurrence_id, ALICE)
    await env.circles.archive(ADMIN, circle, env.ops)
    assert await env.pending() == [], "archiving stopped the jobs"
    await env.service.rebuild()
    ended = await env.repo.series(result.series.id)
    assert ended is not None and ended.status == "ended"
    assert env.discord.events == {}
    # A purge leaves no rows; a stray job finds nothing and does nothing.
    other = await env.circle("Parents", members=(BOB,))
    made = await env.service.schedule(FRAN, GUILD, env.draft(other, channel_name="circle-parents"))
    await env.circles.circles.delete(other.id)
    assert await env.repo.occurrence(made.made[0].occurrence_id) is None
    dms = len(env.discord.dms)
    await env.advance_to(london(date(2026, 3, 5)))
    assert len(env.discord.dms) == dms


async def test_report_needs_five_answers(env: Env) -> None:
    circle = await env.circle(members=(ALICE,))
    result = await env.service.schedule(FRAN, GUILD, env.draft(circle))
    occ = result.made[0].occurrence_id
    await env.advance_to(london(date(2026, 3, 5)))
    await env.service.close(FRAN, occ)
    for user_id, score in zip((1, 2, 3, 4), (5, 4, 3, 2), strict=True):
        await env.service.give_feedback(occ, user_id, score)
    [row] = await env.service.report(FRAN, GUILD, circle.id)
    assert row.responses == 4 and row.average is None and row.comments == ()
    feedback_id = await env.service.give_feedback(occ, 5, 1)
    assert feedback_id is not None
    await env.service.add_comment(feedback_id, "Too short")
    [row] = await env.service.report(FRAN, GUILD, circle.id)
    assert row.average == 3.0 and row.comments == ("Too short",) and row.attendance == 0
    with pytest.raises(NotAllowed):
        await env.service.report(MEMBER, GUILD, circle.id)


async def test_personal_data_export_delete_leave_and_purge(env: Env) -> None:
    circle = await env.circle(members=(ALICE, BOB))
    assert not [t for t in uncovered_tables(await env.db.tables(), env.registry) if t.startswith("session_")]
    result = await env.service.schedule(FRAN, GUILD, env.draft(circle))
    occ = result.made[0].occurrence_id
    for user_id in (ALICE, BOB):
        await env.service.rsvp(occ, user_id)
        await env.service.set_reminders(GUILD, circle.id, user_id, True)
    await env.advance_to(london(date(2026, 3, 5)))
    await env.service.arrive(occ, ALICE)
    exported = await env.repo.export_user(GUILD, ALICE)
    assert [len(exported[t]) for t in env.repo.tables] == [1, 1, 1, 0]
    await env.service.close(FRAN, occ)
    await env.service.give_feedback(occ, ALICE, 4)
    exported = await env.repo.export_user(GUILD, ALICE)
    assert len(exported["session_feedback_voters"]) == 1 and "score" not in exported["session_feedback_voters"][0]
    assert str(BOB) not in str(exported)
    assert await env.repo.delete_user(GUILD, ALICE) == 3  # rsvp, opt-in, feedback voter (presence gone at close)
    assert await env.repo.export_user(GUILD, ALICE) == {t: [] for t in env.repo.tables}
    assert await env.repo.rsvp(occ, BOB) is not None
    # Leaving the circle with "delete my data" removes Bob's session data in it.
    assert await env.repo.delete_user_in_circle(GUILD, circle.id, BOB) == 2
    assert await env.repo.delete_guild(GUILD) >= 1
    assert await env.repo.active_series(GUILD) == []


async def test_retention_rsvps_after_a_day_voters_after_a_week_votes_per_circle_retention(env: Env) -> None:
    circle = await env.circle(members=(ALICE, BOB))
    result = await env.service.schedule(FRAN, GUILD, env.draft(circle))
    occ = result.made[0].occurrence_id
    await env.service.rsvp(occ, ALICE)
    await env.advance_to(london(date(2026, 3, 5)))
    await env.service.arrive(occ, BOB)
    await env.service.close(FRAN, occ)
    await env.service.give_feedback(occ, BOB, 4)
    assert await env.repo.purge_expired(env.clock.now()) == 0
    env.clock.advance(timedelta(days=2))
    assert await env.repo.purge_expired(env.clock.now()) == 1  # the RSVP
    env.clock.advance(timedelta(days=6))
    assert await env.repo.purge_expired(env.clock.now()) == 1  # who voted
    env.clock.advance(timedelta(days=90))
    assert await env.repo.purge_expired(env.clock.now()) == 1  # the anonymous vote, after 90 days
    assert await env.repo.feedback(occ) == ([], [])


async def test_stop_circle_before_delete_removes_events_and_tells_the_going(env: Env) -> None:
    circle = await env.circle(members=(ALICE,))
    result = await env.service.schedule(FRAN, GUILD, env.draft(circle, recurrence="weekly"))
    await env.service.rsvp(result.made[0].occurrence_id, ALICE)
    assert await env.service.stop_circle(circle.id) == 1
    assert env.discord.events == {} and await env.pending() == []
    assert any("the circle has closed" in t for t in env.discord.dms_to(ALICE))
    ended = await env.repo.series(result.series.id)
    assert ended is not None and ended.status == "ended"
    assert await env.service.stop_circle(circle.id) == 0
