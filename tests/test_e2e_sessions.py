"""Scheduled sessions end to end: the real bot, the sandbox Discord and a fake clock.

The clock starts near real "now" because Discord (and the sandbox) refuse events that start in
the past; jobs are driven with ``clock.advance`` + ``scheduler.run_due`` (no timers, no sleeps).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.client import PeerCirclesBot
from bot.clock import FakeClock
from bot.sandbox.actors import ChannelView, Person, Sandbox
from bot.sandbox.harness import BotHarness
from bot.sandbox.models import GUILD_VOICE, P, ScheduledEvent
from bot.services.sessions.service import SessionService
from tests.i18n_fakes import as_seen_by

LONDON = ZoneInfo("Europe/London")


class World:
    """The bot, the sandbox and the people in one place."""

    def __init__(self, sandbox: Sandbox, harness: BotHarness, clock: FakeClock) -> None:
        self.sandbox = sandbox
        self.harness = harness
        self.clock = clock
        self.bot: PeerCirclesBot | None = None
        self.service: SessionService | None = None

    async def start(self) -> None:
        started = await self.harness.start()
        assert isinstance(started, PeerCirclesBot)
        self.bot = started
        service = getattr(started.services, "sessions", None)
        assert isinstance(service, SessionService)
        self.service = service

    async def restart(self) -> None:
        await self.harness.stop()
        await self.start()

    @property
    def services(self) -> Any:
        assert self.bot is not None
        return self.bot.services

    async def run_due(self) -> list[str]:
        fired: list[str] = await self.services.scheduler.run_due()
        return fired

    async def advance_to(self, moment: datetime) -> list[str]:
        self.clock.set(moment)
        return await self.run_due()

    async def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.services.db.fetchall(sql, params)]


@pytest.fixture
async def world(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[World]:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    harness = BotHarness(sandbox, tmp_path / "bot.db", clock=clock, use_timers=False)
    w = World(sandbox, harness, clock)
    await w.start()
    yield w
    await harness.stop()


async def setup_circle(world: World, *members: str) -> tuple[Person, ChannelView]:
    """A server admin sets up a private Grief circle whose facilitator is Fran."""
    sandbox = world.sandbox
    ana = sandbox.admin("ana")
    await ana.slash("setup", timezone="Europe/London", moderation_channel=sandbox.channel("moderation"))
    facilitators = await sandbox.add_role("Facilitators")
    opened = await ana.slash(
        "circle create", name="Grief", description="For anyone grieving", facilitator_role=facilitators
    )
    await (await ana.submit_modal(opened)).settled()
    fran = sandbox.member("fran", roles=["Facilitators"])
    for name in members:
        person = sandbox.member(name)
        await person.click(await person.slash("circle join", circle="Grief"), as_seen_by(person, "I agree, join"))
    return fran, sandbox.channel("circle-grief")


def first_day(world: World, days: int = 3) -> date:
    return world.clock.now().astimezone(LONDON).date() + timedelta(days=days)


def london(day: date, hour: int = 19, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON).astimezone(UTC)


def events(sandbox: Sandbox) -> list[ScheduledEvent]:
    return sorted(sandbox.guild.events.values(), key=lambda e: e.scheduled_start_time)


def event_start(event: ScheduledEvent) -> datetime:
    return datetime.fromisoformat(event.scheduled_start_time)


async def schedule(fran: Person, **options: Any) -> str:
    outcome = await fran.slash("session schedule", **options)
    await outcome.settled()
    return outcome.text


async def test_weekly_session_from_schedule_to_feedback_and_the_next_one(world: World) -> None:
    sandbox = world.sandbox
    fran, circle = await setup_circle(world, "alice", "bob", "carol")
    voice = await sandbox.add_channel("grief-voice", GUILD_VOICE)
    day = first_day(world)
    text = await schedule(
        fran,
        circle="Grief",
        title="Weekly check-in",
        first_date=day.isoformat(),
        start_time="19:00",
        recurrence="weekly",
        place=voice,
    )
    assert "Scheduled: Weekly check-in" in text and "Every week on" in text, text
    start = london(day)

    # The native event, at the right UTC instant, in the voice channel; local time stays 19:00.
    [event] = events(sandbox)
    assert event.entity_type == 2 and event.channel_id == voice.id
    assert event_start(event) == start
    assert event_start(event).astimezone(LONDON).time() == time(19, 0)
    assert event.name == "Weekly check-in"

    # The announcement, with persistent Going / Not going buttons (no identity in custom_ids).
    announcement = await circle.wait_for_message("Weekly check-in")
    assert announcement.buttons[:2] == ["Going", "Not going"]
    occurrence = (await world.rows("SELECT * FROM session_occurrences"))[0]
    assert f"session:rsvp:{occurrence['id']}" in [c.get("custom_id") for c in announcement.all_components]

    # RSVP: the Going button, and Discord's own "Interested".
    alice, bob, carol = sandbox.member("alice"), sandbox.member("bob"), sandbox.member("carol")
    going = await (await alice.click(announcement, "Going")).settled()
    assert going.ephemeral and "You're going to **Weekly check-in**" in going.text
    await bob.mark_interested(event)
    await sandbox.wait_for(lambda: "**Going:** 2" in announcement.text, "the announcement to count 2 going")
    rsvps = await world.rows("SELECT user_id, via_button, via_interested FROM session_rsvps ORDER BY user_id")
    assert {(r["user_id"], r["via_button"], r["via_interested"]) for r in rsvps} == {
        (alice.id, 1, 0),
        (bob.id, 0, 1),
    }
    assert str(alice.id) not in sandbox.public_text() and str(bob.id) not in sandbox.public_text()

    # Reminders by DM at 24 hours and 15 minutes, with the local time and the ground rules.
    await world.advance_to(start - timedelta(hours=24))
    first = await alice.wait_for_dm("starts in 24 hours")
    assert "19:00 on" in first.text and "(Europe/London)" in first.text
    assert "What is shared here stays here" in first.text
    await bob.wait_for_dm("starts in 24 hours")
    assert carol.dms == []
    await world.advance_to(start - timedelta(minutes=15))
    await alice.wait_for_dm("starts in 15 minutes")
    assert len(alice.dms) == 2 and len(bob.dms) == 2

    # The session opens in the circle's channel (the voice session has no text of its own).
    await world.advance_to(start)
    opening = await circle.wait_for_message("is starting")
    assert "What is shared here stays in the circle" in opening.text and "/resources" in opening.text
    assert opening.buttons == ["I'm here", "Go-round", "Close session"]
    assert sandbox.guild.events[event.id].status == 2

    # Go-round: only those who pressed "I'm here", in a random order; mentions ping nobody.
    for person in (alice, bob):
        here = await person.click(opening, "I'm here")
        assert here.ephemeral and "go-round" in here.text
    refused = await carol.click(opening, "Go-round")
    assert "Only the Grief circle's facilitators" in refused.text
    started = await fran.click(opening, "Go-round")
    await started.settled()
    goround = await circle.wait_for_message("## Go-round")
    assert f"<@{alice.id}>" in goround.text and f"<@{bob.id}>" in goround.text
    assert f"<@{carol.id}>" not in goround.text
    assert goround.allowed_mentions is not None and goround.allowed_mentions["parse"] == [], "named, never pinged"
    assert goround.buttons == ["Pass", "Start timer", "Next speaker"]
    await (await fran.click(goround, "Start timer")).settled()
    await sandbox.wait_for(lambda: "time gently up" in goround.text, "the timer to run")
    await (await fran.click(goround, "Pause timer")).settled()
    await sandbox.wait_for(lambda: "paused with" in goround.text, "the timer to pause")
    await (await bob.click(goround, "Pass")).settled()
    await sandbox.wait_for(lambda: f"<@{bob.id}>" not in goround.text, "Bob to be left out after passing")
    assert goround.allowed_mentions is not None and goround.allowed_mentions["parse"] == [], "edits don't ping"

    # Close: closing words and anonymous feedback; attendance is a count only.
    ask = await fran.click(opening, "Close session")
    done = await fran.click(ask, "Close session")
    await done.settled()
    assert "2 people were here" in done.text
    closing = await circle.wait_for_message("How helpful was this session")
    assert closing.buttons == ["1", "2", "3", "4", "5"]
    stored = (await world.rows("SELECT * FROM session_occurrences WHERE id = ?", (occurrence["id"],)))[0]
    assert stored["status"] == "closed" and stored["attendance_count"] == 2
    assert await world.rows("SELECT * FROM session_presence") == []
    thanks = await alice.click(closing, "4")
    assert "saved anonymously" in thanks.text
    again = await alice.click(closing, "5")
    assert "already answered" in again.text
    opened = await alice.click(thanks, "Add a private comment")
    await alice.submit_modal(opened, **{"session:comment:text": "It helped to be heard."})
    feedback = await world.rows("SELECT * FROM session_feedback")
    assert [(f["score"], f["comment"]) for f in feedback] == [(4, "It helped to be heard.")]
    assert set(feedback[0]) == {"id", "occurrence_id", "score", "comment"}, "no identity next to a vote"

    # The next occurrence is made as this one closes: next week, still 19:00 London time.
    upcoming = [e for e in events(sandbox) if e.status == 1]
    assert [event_start(e) for e in upcoming] == [london(day + timedelta(days=7))]
    assert sandbox.guild.events[event.id].status == 3
    assert sandbox.channel("general").messages == []


async def test_two_facilitators_starting_a_go_round_at_once_post_one(world: World) -> None:
    # Both presses found no go-round post yet, and each posted one (with its own Pass and timer buttons).
    sandbox = world.sandbox
    fran, circle = await setup_circle(world, "alice", "bob")
    fred = sandbox.member("fred", roles=["Facilitators"])
    start = (world.clock.now() + timedelta(hours=1)).astimezone(LONDON).replace(second=0, microsecond=0)
    await schedule(fran, circle="Grief", title="Now", first_date=start.date().isoformat(), start_time=f"{start:%H:%M}")
    await world.advance_to(start)
    opening = await circle.wait_for_message("is starting")
    for name in ("alice", "bob"):
        await sandbox.member(name).click(opening, "I'm here")
    pressed = await asyncio.gather(fran.click(opening, "Go-round"), fred.click(opening, "Go-round"))
    for outcome in pressed:
        assert "Started a go-round with 2 people" in (await outcome.settled()).text
    await circle.wait_for_message("## Go-round")
    assert len([m for m in circle.messages if "## Go-round" in m.text]) == 1
    assert sandbox.channel("general").messages == []


async def test_a_restart_between_scheduling_and_the_reminder_still_sends_exactly_one(world: World) -> None:
    sandbox = world.sandbox
    fran, circle = await setup_circle(world, "alice")
    day = first_day(world)
    await schedule(fran, circle="Grief", title="Check-in", first_date=day.isoformat(), start_time="18:30")
    start = london(day, 18, 30)
    alice = sandbox.member("alice")
    await (await alice.click(await circle.wait_for_message("Check-in"), "Going")).settled()

    await world.restart()  # the bot goes down and comes back before the reminder is due
    assert len(events(sandbox)) == 1, "no duplicate event after a restart"
    assert len([m for m in circle.messages if "🗓️" in m.text]) == 1, "no duplicate announcement"
    fired = await world.advance_to(start - timedelta(hours=24))
    assert [f for f in fired if f.endswith("remind:1440")]
    await alice.wait_for_dm("starts in 24 hours")
    assert await world.run_due() == []

    # Down again across the 15-minute reminder, back within its 10-minute grace: sent late, once.
    await world.harness.stop()
    world.clock.set(start - timedelta(minutes=8))
    await world.start()
    await world.run_due()
    await alice.wait_for_dm("starts in 15 minutes")
    await world.restart()
    await world.run_due()
    assert [m.text.count("Reminder:") for m in alice.dms] == [1, 1]
    jobs = await world.rows("SELECT id, status FROM scheduled_jobs WHERE id LIKE '%remind%' ORDER BY id")
    assert [j["status"] for j in jobs] == ["done", "done"]


async def test_a_reminder_missed_past_its_grace_is_recorded_not_sent(world: World) -> None:
    sandbox = world.sandbox
    fran, circle = await setup_circle(world, "alice")
    day = first_day(world)
    await schedule(fran, circle="Grief", title="Check-in", first_date=day.isoformat(), start_time="18:30")
    alice = sandbox.member("alice")
    await (await alice.click(await circle.wait_for_message("Check-in"), "Going")).settled()
    await world.harness.stop()
    world.clock.set(london(day, 18, 30) - timedelta(hours=23))  # an hour late: past the 10-minute grace
    await world.start()
    await world.run_due()
    job = (await world.rows("SELECT status FROM scheduled_jobs WHERE id LIKE '%remind:1440'"))[0]
    assert job["status"] == "missed"
    assert alice.dms == []


async def test_cancel_removes_the_events_and_tells_people_privately(world: World) -> None:
    sandbox = world.sandbox
    fran, circle = await setup_circle(world, "alice")
    day = first_day(world, 2)
    await schedule(
        fran,
        circle="Grief",
        title="Twice weekly",
        first_date=day.isoformat(),
        start_time="19:00",
        recurrence="weekly",
        weekdays=f"{day.strftime('%a')}, {(day + timedelta(days=3)).strftime('%a')}",
    )
    assert len(events(sandbox)) == 2, "both sessions in the coming week are in the Events list"
    alice = sandbox.member("alice")
    announcement = await circle.wait_for_message("Twice weekly")
    await (await alice.click(announcement, "Going")).settled()
    choices = await fran.autocomplete("session cancel", "session", "twice")
    assert len(choices) == 1
    ask = await fran.slash("session cancel", session=choices[0]["value"])
    assert ask.ephemeral and "Cancel every upcoming session" in ask.text
    done = await fran.click(ask, "Cancel the series")
    await done.settled()
    assert "removed 2 upcoming events" in done.text
    assert events(sandbox) == []
    dm = await alice.wait_for_dm("won't take place")
    assert "cancelled" in dm.text
    await sandbox.wait_for(lambda: "won't take place" in announcement.text, "the announcement to say so")
    assert announcement.buttons == []
    pending = await world.rows("SELECT id FROM scheduled_jobs WHERE status = 'pending' AND id LIKE 'circle:%'")
    assert pending == []


async def test_a_hand_deleted_event_is_a_skipped_session_and_a_hand_edit_is_followed(world: World) -> None:
    sandbox = world.sandbox
    fran, circle = await setup_circle(world, "alice")
    mods = sandbox.channel("moderation")
    day = first_day(world)
    await schedule(
        fran, circle="Grief", title="Weekly", first_date=day.isoformat(), start_time="19:00", recurrence="weekly"
    )
    [event] = events(sandbox)
    assert event.entity_type == 3 and event.location == "#circle-grief", "a text session is an external event"
    alice = sandbox.member("alice")
    announcement = await circle.wait_for_message("Weekly")
    await (await alice.click(announcement, "Going")).settled()

    await sandbox.server.remove_event(event)  # an admin deletes it in Discord
    await mods.wait_for_message("was deleted by hand")
    await alice.wait_for_dm("won't take place")
    first = (await world.rows("SELECT * FROM session_occurrences ORDER BY starts_at"))[0]
    assert first["status"] == "skipped"
    assert (
        await world.rows(
            "SELECT id FROM scheduled_jobs WHERE status = 'pending' AND id LIKE ?",
            (f"circle:%:session:{first['id']}:%",),
        )
        == []
    )
    # The series goes on: next week's event was made.
    [following] = events(sandbox)
    assert event_start(following) == london(day + timedelta(days=7))
    await world.advance_to(london(day) - timedelta(hours=24))
    assert len(alice.dms) == 1, "no reminder for the skipped session"

    # Someone moves next week's event to 20:00 by hand: the bot follows (row, jobs, announcement).
    moved = london(day + timedelta(days=7), 20)
    following.scheduled_start_time = moved.isoformat()
    following.scheduled_end_time = (moved + timedelta(hours=1)).isoformat()
    await sandbox.server.dispatch("GUILD_SCHEDULED_EVENT_UPDATE", following.to_dict(), intent=1 << 16)
    await mods.wait_for_message("moved by hand")
    second = (await world.rows("SELECT * FROM session_occurrences ORDER BY starts_at"))[1]
    assert datetime.fromisoformat(second["starts_at"]) == moved
    start_job = await world.rows("SELECT run_at FROM scheduled_jobs WHERE id LIKE ?", (f"%:{second['id']}:start",))
    assert datetime.fromisoformat(start_job[0]["run_at"]) == moved

    # A hand-cancelled event (status canceled) is skipped the same way.
    following.status = 4
    await sandbox.server.dispatch("GUILD_SCHEDULED_EVENT_UPDATE", following.to_dict(), intent=1 << 16)
    await mods.wait_for_message("was cancelled by hand")
    second = (await world.rows("SELECT * FROM session_occurrences ORDER BY starts_at"))[1]
    assert second["status"] == "skipped"


async def test_missing_create_events_is_explained_and_nothing_is_stored(world: World) -> None:
    sandbox = world.sandbox
    fran, _ = await setup_circle(world)
    sandbox.set_bot_permissions(sandbox.bot_role.permissions & ~P["CREATE_EVENTS"])
    outcome = await fran.slash(
        "session schedule",
        circle="Grief",
        title="Check-in",
        first_date=first_day(world).isoformat(),
        start_time="19:00",
    )
    await outcome.settled()
    assert "I'm missing the **Create Events** permission" in outcome.text
    assert await world.rows("SELECT * FROM session_series") == []
    assert events(sandbox) == []


async def test_capacity_waitlist_promotion_and_closed_dms(world: World) -> None:
    sandbox = world.sandbox
    fran, circle = await setup_circle(world, "alice", "bob", "carol")
    day = first_day(world)
    await schedule(
        fran, circle="Grief", title="Small group", first_date=day.isoformat(), start_time="19:00", capacity=1
    )
    announcement = await circle.wait_for_message("Small group")
    alice, bob, carol = sandbox.member("alice"), sandbox.member("bob"), sandbox.member("carol")
    assert "You're going" in (await (await alice.click(announcement, "Going")).settled()).text
    waiting = await (await bob.click(announcement, "Going")).settled()
    assert "number 1 on the waitlist" in waiting.text
    [event] = events(sandbox)
    await carol.mark_interested(event)
    await carol.wait_for_dm("number 2 on the waitlist")
    assert "1 of 1 places" in announcement.text and "2 on the waitlist" in announcement.text

    left = await (await alice.click(announcement, "Not going")).settled()
    assert "you're not going" in left.text
    await bob.wait_for_dm("a place opened up")
    assert carol.dms[-1].text.count("place opened up") == 0
    rows = {r["user_id"]: r["status"] for r in await world.rows("SELECT user_id, status FROM session_rsvps")}
    assert rows == {alice.id: "declined", bob.id: "going", carol.id: "waitlist"}

    # Bob's DMs are closed when the reminder goes out: skipped quietly and recorded.
    bob.dms_open = False
    await world.advance_to(london(day) - timedelta(hours=24))
    rsvp = (await world.rows("SELECT dm_closed FROM session_rsvps WHERE user_id = ?", (bob.id,)))[0]
    assert rsvp["dm_closed"] == 1
    occurrence = (await world.rows("SELECT reminders_sent, reminders_undelivered FROM session_occurrences"))[0]
    assert occurrence == {"reminders_sent": 0, "reminders_undelivered": 1}
    assert all("Reminder" not in m.text for m in carol.dms), "the waitlist gets no reminder"


async def test_list_info_skip_edit_and_reminders_for_every_session(world: World) -> None:
    sandbox = world.sandbox
    fran, _ = await setup_circle(world, "alice")
    alice = sandbox.member("alice")
    await alice.slash("timezone set", zone="America/New_York")
    day = first_day(world)
    times = await fran.autocomplete("session schedule", "start_time", "7:30pm")
    assert times[0]["value"] == "19:30"
    dates = await fran.autocomplete("session schedule", "first_date", "")
    assert dates[0]["name"].endswith("(today)") and len(dates) == 25
    zones = await fran.autocomplete("session schedule", "timezone", "kolk")
    assert zones[0]["value"] == "Asia/Kolkata"
    await schedule(
        fran, circle="Grief", title="Weekly", first_date=day.isoformat(), start_time="19:00", recurrence="weekly"
    )
    listing = await alice.slash("session list")
    assert listing.ephemeral and "**Weekly** · Grief" in listing.text
    expected = london(day).astimezone(ZoneInfo("America/New_York"))
    assert f"{expected.strftime('%H:%M')} on" in listing.text and "(America/New_York)" in listing.text
    assert f"<t:{int(london(day).timestamp())}:F>" in listing.text
    outsider = sandbox.member("olly")
    assert "No sessions are coming up" in (await outsider.slash("session list")).text, "a private circle's sessions"

    choices = await alice.autocomplete("session info", "session", "weekly")
    info = await alice.slash("session info", session=choices[0]["value"])
    assert "Every week on" in info.text and "24 hours, 15 minutes before" in info.text

    # Skip the first one (with a note); the next is made right away.
    refs = [c["value"] for c in await fran.autocomplete("session skip", "session", "")]
    refused = await alice.slash("session skip", session=refs[0])
    assert "Only the Grief circle's facilitators" in refused.text
    skipped = await fran.slash("session skip", session=refs[0], note="Fran is away")
    await skipped.settled()
    assert "Skipped **Weekly**" in skipped.text
    assert [event_start(e) for e in events(sandbox)] == [london(day + timedelta(days=7))]

    # Move just the following one to 18:00; the series keeps its time.
    refs = [c["value"] for c in await fran.autocomplete("session edit", "session", "")]
    edited = await fran.slash("session edit", session=refs[0], new_time="18:00")
    await edited.settled()
    assert "Changed" in edited.text
    assert [event_start(e) for e in events(sandbox)] == [london(day + timedelta(days=7), 18)]
    series_ref = refs[0].split(":")[0]
    renamed = await fran.slash(
        "session edit", session=series_ref + ":" + refs[0].split(":")[1], scope="series", title="Weekly circle"
    )
    await renamed.settled()
    assert "title → Weekly circle" in renamed.text
    assert [e.name for e in events(sandbox)] == ["Weekly circle"]

    # Reminders for every session of the circle, without pressing Going.
    turned_on = await alice.slash("session remind", circle="Grief", setting="on")
    assert "I'll remind you by DM before every **Grief** session" in turned_on.text
    outsider_on = await outsider.slash("session remind", circle="Grief", setting="on")
    assert "Join first" in outsider_on.text
    await world.advance_to(london(day + timedelta(days=7), 18) - timedelta(minutes=15))
    reminder = await alice.wait_for_dm("starts in 15 minutes")
    assert "(America/New_York)" in reminder.text and "every Grief session" in reminder.text
    assert sandbox.channel("general").messages == []


async def test_report_shows_feedback_only_from_five_answers(world: World) -> None:
    sandbox = world.sandbox
    names = ["m1", "m2", "m3", "m4", "m5"]
    fran, circle = await setup_circle(world, *names)
    day = first_day(world, 1)
    await schedule(fran, circle="Grief", title="Check-in", first_date=day.isoformat(), start_time="19:00")
    await world.advance_to(london(day))
    opening = await circle.wait_for_message("is starting")
    for name in names[:3]:
        await sandbox.member(name).click(opening, "I'm here")
    ask = await fran.click(opening, "Close session")
    await (await fran.click(ask, "Close session")).settled()
    closing = await circle.wait_for_message("How helpful")
    for name, score in zip(names[:4], (5, 4, 4, 3), strict=True):
        await sandbox.member(name).click(closing, str(score))
    report = await fran.slash("session report", circle="Grief")
    assert "3 here" in report.text and "4 answered (shown from 5" in report.text
    assert "of 5 from" not in report.text
    await sandbox.member("m5").click(closing, "2")
    report = await fran.slash("session report", circle="Grief")
    assert "**3.6** of 5 from 5" in report.text
    refused = await sandbox.member("m1").slash("session report", circle="Grief")
    assert "Only the Grief circle's facilitators" in refused.text


async def test_privacy_export_and_delete_cover_rsvps_and_reminder_choices(world: World) -> None:
    sandbox = world.sandbox
    fran, circle = await setup_circle(world, "alice")
    await schedule(fran, circle="Grief", title="Check-in", first_date=first_day(world).isoformat(), start_time="19:00")
    alice = sandbox.member("alice")
    await (await alice.click(await circle.wait_for_message("Check-in"), "Going")).settled()
    await alice.slash("session remind", circle="Grief", setting="on")
    card = await alice.slash("privacy")
    assert "Group sessions" in card.text
    await (await alice.click(card, "Export my data")).settled()
    document = json.loads((await alice.wait_for_dm("JSON file")).attachments[0].data)
    assert [r["session"] for r in document["data"]["session_rsvps"]] == ["Check-in"]
    assert [r["circle"] for r in document["data"]["session_reminder_optins"]] == ["Grief"]
    await alice.click(card, "Delete my data")
    await alice.click(card, "Delete everything")
    await sandbox.wait_for(lambda: "erased" in card.message.text, "the deletion summary")
    assert await world.rows("SELECT * FROM session_rsvps") == []
    assert await world.rows("SELECT * FROM session_reminder_optins") == []


async def test_the_sandbox_refuses_events_in_the_past_as_discord_does(world: World) -> None:
    import discord

    assert world.bot is not None
    past = datetime.now(UTC) - timedelta(hours=1)
    with pytest.raises(discord.HTTPException) as refused:
        await world.bot.http.create_guild_scheduled_event(
            world.sandbox.guild.id,
            name="Too late",
            privacy_level=2,
            entity_type=3,
            scheduled_start_time=past.isoformat(),
            scheduled_end_time=(past + timedelta(hours=1)).isoformat(),
            entity_metadata={"location": "#somewhere"},
        )
    assert refused.value.status == 400 and "in the past" in str(refused.value)
    assert events(world.sandbox) == []


async def test_each_reader_gets_their_own_language_replies_posts_and_reminders(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A German member's replies in German, the circle's announcement and opening in the server's
    Spanish, and each member's reminder DM in the language they last used with the bot."""
    from babel.dates import format_date

    from tests.i18n_fakes import marked, marked_catalogues

    sandbox = world.sandbox
    lena = sandbox.member("lena", locale="de")
    joao = sandbox.member("joao", locale="pt-BR")
    fran, circle = await setup_circle(world, "lena", "joao")
    day = first_day(world)
    with marked_catalogues(monkeypatch):
        await sandbox.server.set_guild_locale(sandbox.guild, "es-ES")
        text = await schedule(fran, circle="Grief", title="Check-in", first_date=day.isoformat(), start_time="19:00")
        assert "## Scheduled: Check-in" in text and "[" not in text, "English for Fran, whose Discord is in English"

        # Public: the announcement (its words and buttons) in the server's language.
        announcement = await circle.wait_for_message(marked("es", "Once, on"))
        assert marked("es", "-# Press **Going**") in announcement.text
        assert announcement.buttons[:2] == [marked("es", "Going"), marked("es", "Not going")]
        assert "[de]" not in announcement.text and "[pt_BR]" not in announcement.text

        # Private: each member's reply in their own Discord language.
        going = await (await lena.click(announcement, marked("es", "Going"))).settled()
        assert going.ephemeral and marked("de", "You're going to **Check-in** on") in going.text
        # …naming the button on the announcement as it reads there, in the server's Spanish.
        assert f"**{marked('es', 'Not going')}**" in going.text
        assert going.text.count("[es]") == 1
        also = await (await joao.click(announcement, marked("es", "Going"))).settled()
        assert marked("pt_BR", "You're going to **Check-in** on") in also.text
        await sandbox.wait_for(lambda: marked("es", "**Going:** 2") in announcement.text, "two going, in Spanish")

        # DMs later: each reminder in the language that member last used here (dates and units from CLDR).
        await world.advance_to(london(day) - timedelta(hours=24))
        german = await lena.wait_for_dm(marked("de", "## Reminder: Check-in starts in 24 Stunden"))
        assert format_date(day, "full", locale="de") in german.text
        assert german.buttons == [marked("de", "Open the channel")]
        brazilian = await joao.wait_for_dm(marked("pt_BR", "## Reminder: Check-in starts in 24 horas"))
        assert "[es]" not in german.text + brazilian.text and "[de]" not in brazilian.text

        # The session opens for the circle, in the server's language again.
        await world.advance_to(london(day))
        opening = await circle.wait_for_message(marked("es", "## Check-in is starting"))
        assert opening.buttons == [marked("es", "I'm here"), marked("es", "Go-round"), marked("es", "Close session")]
