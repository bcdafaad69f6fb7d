"""The rota: occurrences on local wall-clock time across daylight saving, coverage, hours; and
RotaService on a real database (slots, taking and dropping, swaps, limits, jobs, privacy)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.clock import utc
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.services.access import Actor
from bot.services.rota.models import coverage, describe_slot, parse_key
from bot.storage.database import Database
from bot.storage.listeners import Assignment, OnCall, Slot
from bot.timekeeping.shifts import all_occurrences, hours_in, occurrence_on, occurrences
from bot.timekeeping.wallclock import week_bounds
from tests.support_harness import World

START = datetime(2026, 3, 23, 12, 0, tzinfo=UTC)  # Monday; the UK changes clocks on Sunday 29 March
G = World.GUILD
LENA, OMAR, KIM = 701, 702, 703


def slot(**values: Any) -> Slot:
    base: dict[str, Any] = {
        "id": 1,
        "guild_id": G,
        "kind": "weekly",
        "weekday": 1,
        "local_date": None,
        "start_time": "19:00",
        "duration_minutes": 120,
        "needed": 2,
        "timezone": "Europe/London",
        "label": None,
        "status": "active",
    }
    return Slot(**{**base, **values})


# -- pure ---------------------------------------------------------------------------------------


def test_weekly_shifts_keep_their_local_time_across_the_clock_change() -> None:
    found = occurrences(slot(), utc(2026, 3, 20), utc(2026, 4, 8))
    assert [o.starts_at for o in found] == [utc(2026, 3, 24, 19), utc(2026, 3, 31, 18), utc(2026, 4, 7, 18)]
    assert all(o.ends_at - o.starts_at == timedelta(hours=2) for o in found)
    autumn = occurrences(slot(), utc(2026, 10, 20), utc(2026, 11, 1))
    assert [o.starts_at for o in autumn] == [utc(2026, 10, 20, 18), utc(2026, 10, 27, 19)]


def test_a_time_that_does_not_exist_is_moved_on_and_a_repeated_one_takes_the_first() -> None:
    spring = occurrence_on(slot(weekday=6, start_time="01:30"), date(2026, 3, 29))
    assert spring is not None and spring.shifted and spring.starts_at == utc(2026, 3, 29, 1, 30)  # 02:30 BST
    autumn = occurrence_on(slot(weekday=6, start_time="01:30"), date(2026, 10, 25))
    assert autumn is not None and not autumn.shifted and autumn.starts_at == utc(2026, 10, 25, 0, 30)  # 01:30 BST


def test_one_off_slots_and_windows() -> None:
    once = slot(kind="once", weekday=None, local_date="2026-03-28", start_time="10:00", duration_minutes=180)
    assert [o.starts_at for o in occurrences(once, utc(2026, 3, 1), utc(2026, 4, 1))] == [utc(2026, 3, 28, 10)]
    assert occurrences(once, utc(2026, 3, 29), utc(2026, 4, 1)) == []
    assert occurrence_on(once, date(2026, 3, 27)) is None
    both = all_occurrences([slot(), once], utc(2026, 3, 24), utc(2026, 3, 29))
    assert [o.slot_id for o in both] == [1, 1]
    in_progress = occurrences(slot(), utc(2026, 3, 24, 20), utc(2026, 3, 25))
    assert len(in_progress) == 1, "an occurrence under way overlaps the window"


def test_week_bounds_follow_local_midnights() -> None:
    start, end = week_bounds(utc(2026, 3, 25, 12), "Europe/London")
    assert start == utc(2026, 3, 23) and end == utc(2026, 3, 29, 23)
    assert end - start == timedelta(hours=167), "the week the clocks go forward is an hour short"


def test_coverage_counts_listeners_per_occurrence() -> None:
    s = slot()
    a = Assignment(1, 1, G, "2026-03-24", LENA, utc(2026, 3, 24, 19), utc(2026, 3, 24, 21))
    rows = coverage([s], [a], utc(2026, 3, 23), utc(2026, 4, 1))
    assert [(r.occurrence.local_date.isoformat(), r.filled, r.needed, r.full) for r in rows] == [
        ("2026-03-24", 1, 2, False),
        ("2026-03-31", 0, 2, False),
    ]


intervals = st.lists(st.tuples(st.integers(0, 600), st.integers(1, 240)), max_size=6)


@given(intervals, intervals)
def test_hours_merge_overlaps_exactly(shifts: list[tuple[int, int]], calls: list[tuple[int, int]]) -> None:
    base = utc(2026, 3, 23)
    assignments = [
        Assignment(i, 1, G, "x", LENA, base + timedelta(minutes=s), base + timedelta(minutes=s + d))
        for i, (s, d) in enumerate(shifts)
    ]
    oncall = [OnCall(LENA, base + timedelta(minutes=s), base + timedelta(minutes=s + d)) for s, d in calls]
    lo, hi = base + timedelta(minutes=60), base + timedelta(minutes=700)
    minutes = {m for s, d in shifts + calls for m in range(s, s + d) if lo <= base + timedelta(minutes=m) < hi}
    assert hours_in(assignments, oncall, lo, hi).get(LENA, 0.0) == pytest.approx(len(minutes) / 60)


def test_keys_and_descriptions() -> None:
    assert parse_key("12:2026-03-24") == (12, date(2026, 3, 24))
    for bad in ("", "12", "x:2026-03-24", "12:2026-13-40", f"{'9' * 30}:2026-03-24"):
        with pytest.raises(InvalidInput):
            parse_key(bad)
    assert describe_slot(slot(label="Evening")) == "Tuesdays 19:00–21:00 (Europe/London), 2 needed · Evening"
    once = slot(kind="once", weekday=None, local_date="2026-03-28", start_time="23:00", duration_minutes=120)
    assert describe_slot(once) == "Once, Sat 28 Mar 2026 23:00–01:00 (Europe/London), 2 needed"


# -- the service --------------------------------------------------------------------------------


@pytest.fixture
async def world(db: Database) -> World:
    w = World(db, START)
    await w.scheduler.start()
    await w.setup()
    return w


async def tuesday(world: World, needed: int = 2) -> Slot:
    return await world.rota.add_slot(G, world.coordinator, start="19:00", hours=2, weekday=1, needed=needed)


async def test_slots_are_for_coordinators_and_checked(world: World) -> None:
    member = Actor.of(LENA, False, [])
    with pytest.raises(NotAllowed):
        await world.rota.add_slot(G, member, start="19:00", hours=2, weekday=1)
    with pytest.raises(InvalidInput, match="between 30 minutes and 12 hours"):
        await world.rota.add_slot(G, world.coordinator, start="19:00", hours=13, weekday=1)
    with pytest.raises(InvalidInput, match="couldn't read"):
        await world.rota.add_slot(G, world.coordinator, start="quarter past", hours=2, weekday=1)
    with pytest.raises(InvalidInput, match="in the past"):
        await world.rota.add_slot(G, world.coordinator, start="09:00", hours=2, on_date="2026-03-23")
    with pytest.raises(InvalidInput, match="Say when"):
        await world.rota.add_slot(G, world.coordinator, start="09:00", hours=2)
    made = await tuesday(world)
    assert made.timezone == "Europe/London" and made.kind == "weekly"
    assert world.rota_port.board_refreshes >= 1
    removed = await world.rota.remove_slot(G, world.coordinator, made.id)
    assert removed.id == made.id and await world.rota.slots(G) == []
    with pytest.raises(NotFound):
        await world.rota.remove_slot(G, world.coordinator, made.id)


async def test_a_shift_far_ahead_is_refused_and_the_rota_keeps_working(world: World) -> None:
    # A one-off shift on 9999-12-31 used to be stored, and then every /rota add, view and report of
    # the server failed: its end can't be computed.
    with pytest.raises(InvalidInput, match="too far ahead"):
        await world.rota.add_slot(G, world.coordinator, start="23:30", hours=12, on_date="9999-12-31")
    assert await world.rota.slots(G) == []
    s = await tuesday(world)
    await world.listener(LENA)
    with pytest.raises(NotFound, match="that far ahead"):  # a shift key typed by hand
        await world.rota.take(G, LENA, f"{s.id}:9999-12-28")
    await world.rota.take(G, LENA, f"{s.id}:2026-03-24")
    assert [c.occurrence.key for c in await world.rota.window(G)][:1] == [f"{s.id}:2026-03-24"]


async def test_taking_is_atomic_and_only_for_listeners(world: World) -> None:
    s = await tuesday(world, needed=1)
    key = f"{s.id}:2026-03-24"
    with pytest.raises(NotAllowed):
        await world.rota.take(G, LENA, key)
    await world.listener(LENA)
    await world.listener(OMAR)
    results = await asyncio.gather(world.rota.take(G, LENA, key), world.rota.take(G, OMAR, key), return_exceptions=True)
    assert sum(1 for r in results if isinstance(r, Conflict)) == 1
    assert len(await world.db.fetchall("SELECT * FROM rota_assignments")) == 1
    with pytest.raises(NotFound):
        await world.rota.take(G, LENA, f"{s.id}:2026-03-25")  # not a Tuesday
    with pytest.raises(InvalidInput, match="already over"):
        await world.rota.take(G, LENA, f"{s.id}:2026-03-17")


async def test_taking_respects_weekly_hours(world: World) -> None:
    s = await tuesday(world)
    other = await world.rota.add_slot(G, world.coordinator, start="10:00", hours=3, weekday=3)
    await world.listener(LENA, max_hours=4)
    await world.rota.take(G, LENA, f"{s.id}:2026-03-24")
    with pytest.raises(InvalidInput, match="over your limit of 4"):
        await world.rota.take(G, LENA, f"{other.id}:2026-03-26")
    await world.rota.take(G, LENA, f"{s.id}:2026-03-31")  # another week


async def test_shift_jobs_are_scheduled_dropped_and_rebuilt_idempotently(world: World) -> None:
    s = await tuesday(world)
    await world.listener(LENA)
    assignment, _ = await world.rota.take(G, LENA, f"{s.id}:2026-03-31")
    kinds = sorted(
        (j.kind, j.run_at) for j in await world.scheduler.jobs.pending() if j.id.startswith(f"rota:{G}:shift:")
    )
    assert kinds == [
        ("rota.reminder", utc(2026, 3, 31, 17, 30)),
        ("rota.shift_end", utc(2026, 3, 31, 20)),
        ("rota.shift_start", utc(2026, 3, 31, 18)),
    ]
    before = len(await world.scheduler.jobs.pending())
    await world.rota.ensure_scheduled()
    await world.rota.ensure_scheduled()
    assert len(await world.scheduler.jobs.pending()) == before
    await world.rota.drop(G, LENA, f"{s.id}:2026-03-31")
    assert not [j for j in await world.scheduler.jobs.pending() if j.id.startswith(f"rota:{G}:shift:{assignment.id}:")]
    assert world.rota_port.kinds() == [], "a drop a week ahead doesn't alarm anyone"


async def test_dropping_inside_48_hours_tells_the_coordinators(world: World) -> None:
    s = await tuesday(world)
    await world.listener(LENA)
    await world.rota.take(G, LENA, f"{s.id}:2026-03-24")
    await world.rota.drop(G, LENA, f"{s.id}:2026-03-24")
    assert world.rota_port.kinds() == ["dropped_uncovered"]
    notice = world.rota_port.coordinator_notices[0][1]
    assert notice.params["filled"] == 0 and notice.params["needed"] == 2


async def test_swaps_handover_exchange_and_refusals(world: World) -> None:
    s = await tuesday(world)
    for uid in (LENA, OMAR):
        await world.listener(uid)
    mine, theirs = f"{s.id}:2026-03-31", f"{s.id}:2026-04-07"
    await world.rota.take(G, LENA, mine)
    await world.rota.take(G, OMAR, theirs)
    with pytest.raises(InvalidInput, match="only swap with another listener"):
        await world.rota.request_swap(G, LENA, mine, KIM)
    swap = await world.rota.request_swap(G, LENA, mine, OMAR, theirs)
    assert world.rota_port.kinds(OMAR) == ["swap_request"]
    with pytest.raises(NotFound):
        await world.rota.answer_swap(swap.public_id, KIM, True)
    await world.rota.answer_swap(swap.public_id, OMAR, True)
    rows = await world.db.fetchall("SELECT occurrence, user_id FROM rota_assignments ORDER BY occurrence")
    assert [(r["occurrence"], r["user_id"]) for r in rows] == [("2026-03-31", OMAR), ("2026-04-07", LENA)]
    assert world.rota_port.kinds(LENA) == ["swap_accepted"]
    with pytest.raises(Conflict):
        await world.rota.answer_swap(swap.public_id, OMAR, True)
    world.rota_port.dms_closed.add(LENA)
    with pytest.raises(InvalidInput, match="couldn't DM them"):
        await world.rota.request_swap(G, OMAR, mine, LENA)


async def test_availability_breaks_and_who_is_on_shift(world: World) -> None:
    s = await world.rota.add_slot(G, world.coordinator, start="11:00", hours=4, weekday=0)  # on now
    await world.listener(LENA)
    await world.listener(OMAR)
    await world.listener(KIM)
    await world.rota.take(G, LENA, f"{s.id}:2026-03-23")
    until = await world.rota.set_available(G, OMAR, 2)
    assert until == START + timedelta(hours=2)
    assert await world.rota.on_shift(G) == {LENA, OMAR}
    with pytest.raises(InvalidInput, match="nothing to pause"):
        await world.rota.toggle_break(G, KIM)
    assert await world.rota.toggle_break(G, LENA) == utc(2026, 3, 23, 15)
    assert await world.rota.toggle_break(G, LENA) is None
    with pytest.raises(InvalidInput, match="between 15 minutes and 12 hours"):
        await world.rota.set_available(G, OMAR, 20)
    assert await world.rota.set_unavailable(G, OMAR)
    assert await world.rota.on_shift(G) == {LENA}
    world.clock.advance(timedelta(hours=1))
    assert await world.rota.hours_this_week(G, OMAR) == 0.0, "on call time ended when she stopped"


async def test_coverage_checks_run_48_hours_ahead_and_chain(world: World) -> None:
    s = await tuesday(world)
    jobs = [j for j in await world.scheduler.jobs.pending() if j.kind == "rota.coverage"]
    assert [(j.run_at, j.payload["occurrence"]) for j in jobs] == [(utc(2026, 3, 29, 18), "2026-03-31")]
    world.clock.set(utc(2026, 3, 29, 18))
    await world.run_due()
    assert world.rota_port.kinds() == ["uncovered"]
    assert world.rota_port.coordinator_notices[0][1].params["slot"] == s  # described in the server's language
    nxt = [j for j in await world.scheduler.jobs.pending() if j.kind == "rota.coverage"]
    assert [j.payload["occurrence"] for j in nxt] == ["2026-04-07"]


async def test_joining_review_and_leaving(world: World) -> None:
    await world.rota.update_settings(G, world.coordinator, auto_approve=False, listener_role_id=88)
    outcome = await world.rota.join(G, LENA)
    assert not outcome.approved and outcome.coordinators_told and world.rota_port.kinds() == ["review"]
    with pytest.raises(Conflict):
        await world.rota.join(G, LENA)
    with pytest.raises(NotAllowed):
        await world.rota.review(outcome.listener.public_id, Actor.of(OMAR, False, []), True)
    await world.rota.review(outcome.listener.public_id, world.coordinator, True)
    assert world.rota_port.roles == [(LENA, 88, True)] and world.rota_port.kinds(LENA) == ["approved"]
    s = await tuesday(world)
    await world.rota.take(G, LENA, f"{s.id}:2026-03-31")
    assert await world.rota.leave(G, LENA) == 1
    assert world.rota_port.roles[-1] == (LENA, 88, False)
    assert await world.db.fetchall("SELECT * FROM rota_assignments") == []


async def test_settings_validation(world: World) -> None:
    with pytest.raises(InvalidInput, match="needs a listeners' channel"):
        await world.rota.update_settings(G, world.coordinator, relay_mode="thread")
    with pytest.raises(InvalidInput, match="between 60 and 3600"):
        await world.rota.update_settings(G, world.coordinator, offer_timeout_seconds=10)
    settings, lines = await world.rota.update_settings(G, world.coordinator, offer_timeout_seconds=120)
    assert settings.offer_timeout_seconds == 120 and [str(line) for line in lines] == ["set the offer timeout to 2 min"]
    _, unchanged = await world.rota.update_settings(G, world.coordinator, offer_timeout_seconds=120)
    assert unchanged == []


async def test_report_counts_coverage_hours_and_conversations(world: World) -> None:
    s = await tuesday(world, needed=1)
    await world.listener(LENA)
    await world.rota.take(G, LENA, f"{s.id}:2026-03-24")
    world.clock.set(utc(2026, 4, 1))
    report = await world.rota.report(G, world.coordinator, utc(2026, 3, 23), utc(2026, 4, 1), [], [4, 5])
    assert (report.occurrences, report.covered, report.uncovered, report.coverage_percent) == (2, 1, 1, 50)
    assert [(r.user_id, r.hours, r.shifts) for r in report.rows] == [(LENA, 2.0, 1)]
    with pytest.raises(InvalidInput):
        await world.rota.report(G, world.coordinator, utc(2026, 4, 1), utc(2026, 3, 1), [], [])


async def test_listener_data_is_exported_deleted_and_expires(world: World) -> None:
    s = await tuesday(world)
    await world.listener(LENA, on_call=True)
    await world.listener(OMAR)
    await world.rota.take(G, LENA, f"{s.id}:2026-03-24")
    await world.rota.take(G, OMAR, f"{s.id}:2026-03-31")
    await world.rota.request_swap(G, LENA, f"{s.id}:2026-03-24", OMAR)
    exported = await world.listeners.export_user(G, LENA)
    assert all(exported[t] for t in world.listeners.tables)
    assert str(OMAR) not in str(exported)
    assert await world.listeners.delete_user(G, LENA) >= 4
    assert (await world.listeners.export_user(G, LENA)) == {t: [] for t in world.listeners.tables}
    assert await world.listeners.listener(G, OMAR) is not None
    world.clock.advance(timedelta(days=100))
    assert await world.listeners.purge_expired(world.clock.now()) >= 1
    assert await world.db.fetchall("SELECT * FROM rota_assignments") == []
