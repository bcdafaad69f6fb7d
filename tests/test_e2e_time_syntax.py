"""One time syntax for every command: /checkin reminders, /session schedule and /rota add accept the
same ways of writing a time and days (bot.timekeeping.parsing), store the same local time and days,
and refuse what they can't read with the same words. The real bot through the sandbox.

The clock starts near real "now": the sandbox, like Discord, refuses events that start in the past.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.client import PeerCirclesBot
from bot.clock import FakeClock
from bot.sandbox.actors import Person, Sandbox
from bot.sandbox.harness import BotHarness
from tests.test_e2e_circles import create_circle

LONDON = ZoneInfo("Europe/London")
WEEKDAYS = {0, 1, 2, 3, 4}
EVERY_DAY = {0, 1, 2, 3, 4, 5, 6}


@pytest.fixture
async def tbot(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[PeerCirclesBot]:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    harness = BotHarness(sandbox, tmp_path / "bot.db", clock=clock, use_timers=False)
    started = await harness.start()
    assert isinstance(started, PeerCirclesBot)
    yield started
    await harness.stop()


async def rows(bot: PeerCirclesBot, sql: str) -> list[dict[str, Any]]:
    return [dict(r) for r in await bot.services.db.fetchall(sql, ())]


async def server(sandbox: Sandbox) -> tuple[Person, Person]:
    """A London server with a Grief circle: Ana (an admin, so a coordinator and facilitator) and Alice."""
    ana = sandbox.admin("ana")
    await ana.slash("setup", timezone="Europe/London", moderation_channel=sandbox.channel("moderation"))
    await create_circle(ana, "Grief")
    return ana, sandbox.member("alice", roles=["Circle: Grief"])


async def use_everywhere(sandbox: Sandbox, ana: Person, alice: Person, at: str, days: str) -> list[str]:
    """The same time and days typed into each command; what each replied."""
    first = (datetime.now(LONDON) + timedelta(days=2)).date().isoformat()
    replies = []
    for person, command, options in (
        (alice, "checkin reminders", {"time": at, "days": days}),
        (
            ana,
            "session schedule",
            {"circle": "Grief", "title": "Weekly", "first_date": first, "start_time": at, "recurrence": "weekly"}
            | {"weekdays": days},
        ),
        (ana, "rota add", {"start": at, "hours": 2, "days": days}),
    ):
        replies.append((await (await person.slash(command, **options)).settled()).text)
    return replies


@pytest.mark.parametrize(
    ("at", "days", "local_time", "weekdays"),
    [
        ("19:00", "weekdays", "19:00", WEEKDAYS),
        ("7pm", "mon,wed", "19:00", {0, 2}),
        ("7:30 pm", "monday wednesday", "19:30", {0, 2}),
        ("19h", "weekends", "19:00", {5, 6}),
        ("8am", "daily", "08:00", EVERY_DAY),
        ("08:15", "every day", "08:15", EVERY_DAY),
        ("18h45", "Tues and Thurs", "18:45", {1, 3}),
    ],
)
async def test_every_command_reads_the_same_time_and_days(
    sandbox: Sandbox, tbot: PeerCirclesBot, at: str, days: str, local_time: str, weekdays: set[int]
) -> None:
    ana, alice = await server(sandbox)
    replies = await use_everywhere(sandbox, ana, alice, at, days)
    assert "Reminders are on" in replies[0], replies[0]
    assert "Scheduled: Weekly" in replies[1], replies[1]
    assert "Added" in replies[2], replies[2]

    [reminder] = await rows(tbot, "SELECT local_time, weekdays FROM checkin_reminders")
    [series] = await rows(tbot, "SELECT start_time, weekdays FROM session_series")
    slots = await rows(tbot, "SELECT start_time, weekday FROM rota_slots")
    stored = {
        "/checkin reminders": (reminder["local_time"], {int(d) for d in reminder["weekdays"]}),
        "/session schedule": (series["start_time"], {int(d) for d in series["weekdays"].split(",")}),
        "/rota add": (", ".join(sorted({s["start_time"] for s in slots})), {s["weekday"] for s in slots}),
    }
    assert stored == dict.fromkeys(stored, (local_time, weekdays))
    assert len(slots) == len(weekdays)  # one weekly shift per day


@pytest.mark.parametrize(
    ("at", "days", "refusal"),
    [
        ("teatime", "weekdays", "I couldn't read “teatime” as a time. Write it like 19:00, 7pm or 7:30 pm."),
        ("25:00", "weekdays", "“25:00” isn't a time of day: hours go from 00 to 23 and minutes from 00 to 59."),
        ("19:00", "mon, someday", "I don't know the day “someday”."),
    ],
)
async def test_every_command_refuses_what_it_cant_read_in_the_same_words(
    sandbox: Sandbox, tbot: PeerCirclesBot, at: str, days: str, refusal: str
) -> None:
    ana, alice = await server(sandbox)
    replies = await use_everywhere(sandbox, ana, alice, at, days)
    assert all(refusal in reply for reply in replies), replies
    for table in ("checkin_reminders", "session_series", "rota_slots"):
        assert await rows(tbot, f"SELECT * FROM {table}") == [], table
