"""Check-ins end to end: the real bot through the sandbox, asserting what each person sees, what
everyone else sees (nothing), and what is stored. Time-based behaviour runs on a FakeClock with the
scheduler's timers off: ``clock.set(...)`` then ``scheduler.run_due()``."""

from __future__ import annotations

import asyncio
import io
import json
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.client import PeerCirclesBot
from bot.clock import FakeClock
from bot.sandbox.actors import Outcome, Person, Sandbox
from bot.sandbox.harness import BotHarness
from bot.services.checkins.models import PROMPT_JOB, REMINDER_JOB
from bot.services.checkins.service import CheckinService
from tests.test_e2e_circles import create_circle

# Friday 27 March 2026, noon in London (GMT). The clocks go forward at 01:00 UTC on Sunday 29 March.
START = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def service_of(bot: PeerCirclesBot) -> CheckinService:
    service = getattr(bot.services, "checkins", None)
    assert isinstance(service, CheckinService)
    return service


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def cbot(timed_bot: PeerCirclesBot) -> PeerCirclesBot:
    return timed_bot


async def grief(sandbox: Sandbox) -> None:
    await create_circle(sandbox.admin("ana"), "Grief")


def member(sandbox: Sandbox, name: str) -> Person:
    return sandbox.member(name, roles=["Circle: Grief"])


async def rows(bot: PeerCirclesBot, sql: str, *params: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in await bot.services.db.fetchall(sql, params)]


def assert_nothing_public(sandbox: Sandbox, *people: Person) -> None:
    assert sandbox.channel("general").messages == []
    assert sandbox.channel("circle-grief").messages == []
    public = sandbox.public_text()
    for person in people:
        assert str(person.id) not in public


async def check_in(person: Person, mood: str = "4 · Good", **options: Any) -> Outcome:
    opened = await person.slash("checkin now", where="circle-grief", **options)
    assert opened.ephemeral
    return await person.click(opened, mood)


async def fire(bot: PeerCirclesBot, kind: str) -> list[str]:
    """Run every due job; return the ids of those of this kind that fired."""
    return [job_id for job_id in await bot.services.scheduler.run_due() if job_id.startswith(kind)]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# -- members ----------------------------------------------------------------------------------


async def test_one_tap_check_in_is_private_and_idempotent(sandbox: Sandbox, cbot: PeerCirclesBot) -> None:
    await grief(sandbox)
    alice = member(sandbox, "alice")
    opened = await alice.slash("checkin now", where="circle-grief")
    assert opened.ephemeral
    assert "How are you right now?" in opened.text and "only you see it" in opened.text
    assert opened.message.buttons == ["1 · Very low", "2 · Low", "3 · Okay", "4 · Good", "5 · Very good"]
    assert all(str(alice.id) not in c.get("custom_id", "") for c in opened.message.all_components)

    tapped = await alice.click(opened, "4 · Good")
    assert tapped.kind == "update", "the same private message, edited in place"
    assert "Checked in:" in opened.message.text and "4 · Good" in opened.message.text
    assert "Private: not shared" in opened.message.text
    assert opened.message.buttons == [
        "Add a note or tags",
        "Share mood with circle pulse",
        "Ask a listener to reach out",
    ]
    stored = await rows(cbot, "SELECT * FROM checkins")
    assert len(stored) == 1
    assert stored[0]["user_id"] == alice.id and stored[0]["mood"] == 4
    assert stored[0]["share_pulse"] == 0 and stored[0]["note_enc"] is None and stored[0]["timezone"] == "UTC"
    assert stored[0]["local_date"] == "2026-03-27"

    # A double click on a fresh card: both presses arrive, one check-in is stored.
    again = await alice.slash("checkin now", where="circle-grief")
    first, second = await asyncio.gather(alice.click(again, "2 · Low"), alice.click(again, "2 · Low"))
    assert first.kind == second.kind == "update"
    assert len(await rows(cbot, "SELECT * FROM checkins")) == 2
    assert_nothing_public(sandbox, alice)


async def test_check_in_with_note_tags_pulse_and_a_listener(sandbox: Sandbox, cbot: PeerCirclesBot) -> None:
    await grief(sandbox)
    alice = member(sandbox, "alice")
    card = await check_in(alice, "2 · Low", circle="Grief")
    form = await alice.click(card.message, "Add a note or tags")
    assert form.kind == "modal"
    assert [o["value"] for c in form.modal["components"] for o in c["component"].get("options", [])] == [
        "sleep",
        "stress",
        "cravings",
        "lonely",
        "work",
        "family",
        "health",
        "grateful",
    ]
    saved = await alice.submit_modal(form, **{"checkin:note": "Slept badly again.", "checkin:tags": ["sleep", "work"]})
    assert saved.kind == "update"
    message = card.message
    assert "Note: saved, only you can see it" in message.text and "Tags: sleep, work" in message.text
    assert "Support, right now" not in message.text

    await alice.click(message, "Share mood with circle pulse")
    assert "Shared with the circle's pulse: your mood and tags, never your note" in message.text
    assert "Stop sharing" in message.buttons

    await alice.click(message, "Ask a listener to reach out")
    assert "Your request for a listener is noted, and pending" in message.text
    assert "/resources" in message.text
    assert "Cancel my listener request" in message.buttons

    stored = (await rows(cbot, "SELECT * FROM checkins"))[0]
    assert json.loads(stored["tags"]) == ["sleep", "work"]
    assert b"Slept" not in stored["note_enc"], "notes are encrypted at rest"
    assert (await service_of(cbot).latest(sandbox.guild.id, alice.id)).note == "Slept badly again."
    assert stored["share_pulse"] == 1
    requests = await rows(cbot, "SELECT * FROM checkin_support_requests")
    assert [(r["user_id"], r["status"], r["checkin_id"]) for r in requests] == [(alice.id, "pending", stored["id"])]

    await alice.click(message, "Cancel my listener request")
    assert "cancelled your request" in message.text
    assert (await rows(cbot, "SELECT status FROM checkin_support_requests"))[0]["status"] == "cancelled"
    # Nobody else saw anything: not the circle, not the moderators, not #general.
    assert_nothing_public(sandbox, alice)
    assert all("Slept badly" not in m.text for m in sandbox.all_messages()), "the note is never echoed back"


async def test_a_crisis_word_note_shows_resources_privately_and_offers_a_listener(
    sandbox: Sandbox, cbot: PeerCirclesBot
) -> None:
    await grief(sandbox)
    alice = member(sandbox, "alice")
    card = await check_in(alice, "1 · Very low")
    form = await alice.click(card.message, "Add a note or tags")
    await alice.submit_modal(form, **{"checkin:note": "I want to kill myself tonight"})
    text = card.message.text
    assert card.message.ephemeral_to == alice.id
    assert text.index("Support, right now") < text.index("Checked in:"), "resources come first"
    assert "You don't have to carry this alone" in text
    assert "nobody has been told" in text
    assert "Ask a listener to reach out" in card.message.buttons
    # Nothing else happens without consent: no request, no post, no message to moderators.
    assert await rows(cbot, "SELECT * FROM checkin_support_requests") == []
    assert sandbox.channel("moderation").messages == []
    assert_nothing_public(sandbox, alice)
    await alice.click(card.message, "Ask a listener to reach out")
    assert [r["status"] for r in await rows(cbot, "SELECT * FROM checkin_support_requests")] == ["pending"]


async def test_history_chart_is_a_png_with_streak_and_averages(
    sandbox: Sandbox, cbot: PeerCirclesBot, clock: FakeClock
) -> None:
    await grief(sandbox)
    alice = member(sandbox, "alice")
    empty = await (await alice.slash("checkin history")).settled()
    assert "no check-ins in the last 30 days" in empty.text
    # Five days of check-ins with a gap: days 1, 2, 4, 5, 6 (two on day 6).
    for day, moods in [
        (0, ["2 · Low"]),
        (1, ["3 · Okay"]),
        (3, ["4 · Good"]),
        (4, ["4 · Good"]),
        (5, ["5 · Very good", "3 · Okay"]),
    ]:
        clock.set(START + timedelta(days=day))
        for mood in moods:
            await check_in(alice, mood)
    shown = await (await alice.slash("checkin history", days=30)).settled()
    assert shown.ephemeral
    message = shown.messages[0]
    assert len(message.attachments) == 1
    attachment = message.attachments[0]
    assert attachment.filename == "mood-history-30-days.png"
    assert png_size(attachment.data) == (1200, 675)
    from matplotlib import image

    pixels = image.imread(io.BytesIO(attachment.data), format="png")
    assert pixels.shape[:2] == (675, 1200)
    text = shown.text
    assert "Checked in on **5 of 30 days** (6 check-ins)" in text
    assert "**3 days in a row** up to today" in text
    assert "Average mood **3.5** out of 5" in text
    assert "The chart in words: Line chart of your mood from 3 Mar to 1 Apr 2026 (UTC time)" in text
    assert "6 check-ins on 5 days, with gaps for the 25 days without one" in text
    gallery = [c for c in message.all_components if c.get("type") == 12]
    assert gallery[0]["items"][0]["media"]["url"] == f"attachment://{attachment.filename}"
    assert gallery[0]["items"][0]["description"].startswith("Line chart of your mood")
    sent = [r.json for r in sandbox.server.requests if isinstance(r.json, dict) and r.json.get("attachments")]
    assert sent[-1]["attachments"][0]["description"].startswith("Line chart of your mood"), "alt text on the file"
    assert_nothing_public(sandbox, alice)


async def test_edit_and_delete_the_latest_check_in(sandbox: Sandbox, cbot: PeerCirclesBot) -> None:
    await grief(sandbox)
    alice = member(sandbox, "alice")
    nothing = await alice.slash("checkin edit")
    assert "haven't checked in here yet" in nothing.text
    await check_in(alice, "2 · Low")
    form = await alice.slash("checkin edit")
    assert form.kind == "modal"
    done = await alice.submit_modal(
        form, **{"checkin:mood": ["3"], "checkin:note": "Better after a walk", "checkin:share": True}
    )
    assert done.ephemeral and "Saved your changes" in done.text and "3 · Okay" in done.text
    stored = (await rows(cbot, "SELECT * FROM checkins"))[0]
    assert (stored["mood"], stored["share_pulse"]) == (3, 1)
    assert (await service_of(cbot).latest(sandbox.guild.id, alice.id)).note == "Better after a walk"

    asked = await alice.slash("checkin delete")
    assert "Delete your latest check-in" in asked.text and "can't be undone" in asked.text
    kept = await alice.click(asked, "Keep it")
    assert "kept it" in kept.message.text
    assert len(await rows(cbot, "SELECT * FROM checkins")) == 1
    asked = await alice.slash("checkin delete")
    gone = await alice.click(asked, "Delete check-in")
    assert "gone for good" in gone.message.text
    assert await rows(cbot, "SELECT * FROM checkins") == []
    assert_nothing_public(sandbox, alice)


# -- reminders --------------------------------------------------------------------------------


async def test_reminder_dm_arrives_at_the_local_time_across_a_dst_change(
    sandbox: Sandbox, cbot: PeerCirclesBot, clock: FakeClock
) -> None:
    await grief(sandbox)
    alice = member(sandbox, "alice")
    await alice.slash("timezone set", zone="Europe/London")
    set_ = await (await alice.slash("checkin reminders", time="08:30")).settled()
    assert "Reminders are on: every day at 08:30 (Europe/London)" in set_.text
    confirmation = await alice.wait_for_dm("Check-in reminders are on")
    assert confirmation.buttons == ["Stop reminders"]
    scheduler = cbot.services.scheduler

    # Saturday 28 March: London is on GMT, so 08:30 local is 08:30 UTC.
    clock.set(datetime(2026, 3, 28, 8, 29, tzinfo=UTC))
    assert await fire(cbot, "checkin:reminder:") == []
    clock.set(datetime(2026, 3, 28, 8, 30, tzinfo=UTC))
    assert len(await fire(cbot, "checkin:reminder:")) == 1
    first = await alice.wait_for_dm("Time for your check-in", after=1)
    assert first.buttons == ["Check in", "Snooze 1 hour", "Stop reminders"]

    # Sunday 29 March: the clocks went forward at 01:00 UTC; 08:30 local is now 07:30 UTC.
    clock.set(datetime(2026, 3, 29, 7, 29, tzinfo=UTC))
    assert await fire(cbot, "checkin:reminder:") == []
    clock.set(datetime(2026, 3, 29, 7, 30, tzinfo=UTC))
    assert len(await fire(cbot, "checkin:reminder:")) == 1
    second = await alice.wait_for_dm("Time for your check-in", after=2)

    # The button opens the check-in right in the DM; one tap records it.
    opened = await alice.click(second, "Check in")
    assert opened.kind == "update"
    assert "How are you right now?" in second.text
    await alice.click(second, "3 · Okay")
    assert "Checked in:" in second.text and "08:30 (your time)" in second.text
    stored = (await rows(cbot, "SELECT * FROM checkins"))[0]
    assert (stored["timezone"], stored["local_date"], stored["mood"]) == ("Europe/London", "2026-03-29", 3)

    # Snooze from the DM: an hour later, and the next one after that is back on the daily rule.
    snoozed = await alice.click(first, "Snooze 1 hour")
    assert "I'll remind you again at **Sun 29 Mar, 09:30**" in snoozed.message.text
    clock.set(datetime(2026, 3, 29, 8, 30, tzinfo=UTC))
    assert len(await fire(cbot, "checkin:reminder:")) == 1
    third = await alice.wait_for_dm("Time for your check-in", after=3)
    pending = [j for j in await scheduler.jobs.pending() if j.kind == REMINDER_JOB]
    assert [j.run_at for j in pending] == [datetime(2026, 3, 30, 7, 30, tzinfo=UTC)]

    stopped = await alice.click(third, "Stop reminders")
    assert "reminders are off" in stopped.message.text
    assert await rows(cbot, "SELECT * FROM checkin_reminders") == []
    assert [j for j in await scheduler.jobs.pending() if j.kind == REMINDER_JOB] == []
    assert_nothing_public(sandbox, alice)


async def test_closed_dms_pause_the_reminder_and_the_member_is_told_once(
    sandbox: Sandbox, cbot: PeerCirclesBot, clock: FakeClock
) -> None:
    await grief(sandbox)
    alice = member(sandbox, "alice")
    await (await alice.slash("checkin reminders", time="13:00", days="weekdays")).settled()
    alice.dms_open = False
    clock.set(datetime(2026, 3, 27, 13, 0, tzinfo=UTC))
    assert len(await fire(cbot, "checkin:reminder:")) == 1
    assert [m for m in alice.dms if "Time for your check-in" in m.text] == []
    reminder = (await rows(cbot, "SELECT * FROM checkin_reminders"))[0]
    assert (reminder["status"], reminder["paused_reason"]) == ("paused", "dms_closed")
    assert [j for j in await cbot.services.scheduler.jobs.pending() if j.kind == REMINDER_JOB] == []

    told = await alice.slash("checkin now")
    assert "Your check-in reminders are paused" in told.text and "Privacy Settings" in told.text
    again = await alice.slash("checkin now")
    assert "paused" not in again.text, "told once"

    # Setting a reminder while DMs are closed stores nothing and says how to open them.
    await alice.slash("checkin reminders", stop=True)
    refused = await (await alice.slash("checkin reminders", time="09:00")).settled()
    assert "your DMs from this server are closed" in refused.text and "Privacy Settings" in refused.text
    assert await rows(cbot, "SELECT * FROM checkin_reminders") == []
    assert_nothing_public(sandbox, alice)


async def test_invalid_reminder_times_get_a_kind_example_and_store_nothing(
    sandbox: Sandbox, cbot: PeerCirclesBot
) -> None:
    await grief(sandbox)
    alice = member(sandbox, "alice")
    late = await alice.slash("checkin reminders", time="25:00")
    assert "hours go from 00 to 23" in late.text and "like 19:00, 7pm or 7:30 pm" in late.text
    evening = await alice.slash("checkin reminders", time="evening")
    assert "couldn't read “evening” as a time" in evening.text and "like 19:00, 7pm or 7:30 pm" in evening.text
    days = await alice.slash("checkin reminders", time="08:00", days="someday")
    assert "I don't know the day" in days.text
    assert await rows(cbot, "SELECT * FROM checkin_reminders") == []
    assert [j for j in await cbot.services.scheduler.jobs.pending() if j.kind == REMINDER_JOB] == []
    shown = await alice.slash("checkin reminders")
    assert "**Off.**" in shown.text


async def test_opt_in_listener_offer_after_low_days_in_a_row(
    sandbox: Sandbox, cbot: PeerCirclesBot, clock: FakeClock
) -> None:
    await grief(sandbox)
    alice = member(sandbox, "alice")
    card = await check_in(alice, "1 · Very low")
    assert "checked in low for a few days" not in card.message.text, "off by default"
    shown = await alice.slash("checkin reminders", offer_listener=2)
    assert "I'll offer you a listener after 2 days in a row at 1 or 2" in shown.text
    clock.set(START + timedelta(days=1))
    card = await check_in(alice, "2 · Low")
    assert "You've checked in low for a few days in a row" in card.message.text
    assert await rows(cbot, "SELECT * FROM checkin_support_requests") == [], "only an offer"
    again = await check_in(alice, "2 · Low")
    assert "checked in low for a few days" not in again.message.text, "once per run"


# -- facilitators -----------------------------------------------------------------------------


async def test_the_prompt_button_works_after_a_restart(
    sandbox: Sandbox, cbot: PeerCirclesBot, timed: BotHarness, clock: FakeClock
) -> None:
    await grief(sandbox)
    ana = sandbox.admin("ana")
    alice = member(sandbox, "alice")
    refused = await alice.slash("checkin prompt", circle="Grief", schedule="daily", time="19:00")
    assert "Only the Grief circle's facilitators" in refused.text
    set_ = await ana.slash("checkin prompt", circle="Grief", schedule="daily", time="19:00")
    assert "every day at 19:00 (UTC, the server's time zone)" in set_.text
    jobs = [j for j in await cbot.services.scheduler.jobs.pending() if j.kind == PROMPT_JOB]
    circle_id = (await rows(cbot, "SELECT id FROM circles"))[0]["id"]
    assert [j.id.startswith(f"circle:{circle_id}:") for j in jobs] == [True]

    clock.set(datetime(2026, 3, 27, 19, 0, tzinfo=UTC))
    assert len(await fire(cbot, f"circle:{circle_id}:checkin:prompt:")) == 1
    post = await sandbox.channel("circle-grief").wait_for_message("Check-in time")
    assert post.buttons == ["Check in"] and not post.ephemeral
    assert post.allowed_mentions is not None and post.allowed_mentions.get("parse") == []

    restarted = await timed.restart()
    assert isinstance(restarted, PeerCirclesBot)
    bot = restarted
    opened = await alice.click(post, "Check in")
    assert opened.ephemeral and "How are you right now?" in opened.text
    await alice.click(opened, "5 · Very good")
    assert [r["mood"] for r in await rows(bot, "SELECT mood FROM checkins")] == [5]
    assert "Checked in" not in "\n".join(m.text for m in sandbox.channel("circle-grief").messages)

    # The next day's prompt replaces yesterday's, so the channel stays calm.
    clock.set(datetime(2026, 3, 28, 19, 0, tzinfo=UTC))
    assert len(await fire(bot, f"circle:{circle_id}:checkin:prompt:")) == 1
    await sandbox.wait_for(lambda: post.deleted, "yesterday's prompt to be removed")
    assert len(sandbox.channel("circle-grief").messages) == 1

    # Archiving the circle stops its prompt.
    ask = await ana.slash("circle archive", circle="Grief")
    await ana.click(ask, "Archive")
    assert [j for j in await bot.services.scheduler.jobs.pending() if j.kind == PROMPT_JOB] == []


async def test_pulse_refuses_with_four_contributors_and_shows_with_five(sandbox: Sandbox, cbot: PeerCirclesBot) -> None:
    await grief(sandbox)
    ana = sandbox.admin("ana")
    people = [member(sandbox, name) for name in ("m1", "m2", "m3", "m4", "m5", "m6")]
    moods = ["1 · Very low", "2 · Low", "3 · Okay", "4 · Good", "5 · Very good"]
    for person, mood in zip(people[:4], moods, strict=False):
        card = await check_in(person, mood)
        await person.click(card.message, "Share mood with circle pulse")
    # Someone who doesn't share never counts.
    await check_in(people[5], "1 · Very low")
    withheld = await ana.slash("checkin pulse", circle="Grief")
    assert "There isn't enough shared data to show the pulse" in withheld.text
    assert "at least 5 different members" in withheld.text
    assert "%" not in withheld.text

    card = await check_in(people[4], moods[4])
    form = await people[4].click(card.message, "Add a note or tags")
    await people[4].submit_modal(form, **{"checkin:note": "private words here", "checkin:tags": ["sleep"]})
    await people[4].click(card.message, "Share mood with circle pulse")
    shown = await ana.slash("checkin pulse", circle="Grief", period="week")
    assert shown.ephemeral
    text = shown.text
    assert "How people felt** (5 members shared)" in text
    assert "1 · Very low: **20%**" in text and "5 · Very good: **20%**" in text
    assert "Average **3.0** out of 5" in text
    assert "private words" not in text and "sleep" not in text, "never notes, never rare tags"
    for person in people:
        assert str(person.id) not in text and person.user.username not in text
    month = await ana.slash("checkin pulse", circle="Grief", period="month")
    assert "Week by week" in month.text

    refused = await people[0].slash("checkin pulse", circle="Grief")
    assert "Only the Grief circle's facilitators, coordinators and server admins" in refused.text
    assert_nothing_public(sandbox, *people)


async def test_facilitators_choose_the_circle_tags(sandbox: Sandbox, cbot: PeerCirclesBot) -> None:
    await grief(sandbox)
    ana = sandbox.admin("ana")
    shown = await ana.slash("checkin tags", circle="Grief")
    assert "sleep, stress, cravings, lonely, work, family, health, grateful" in shown.text
    bad = await ana.slash("checkin tags", circle="Grief", tags="ok, <@&1>")
    assert "can't be a tag" in bad.text
    saved = await ana.slash("checkin tags", circle="Grief", tags="Sleep, meetings, sponsor")
    assert "sleep, meetings, sponsor" in saved.text
    alice = member(sandbox, "alice")
    card = await check_in(alice)
    form = await alice.click(card.message, "Add a note or tags")
    options = [o["value"] for c in form.modal["components"] for o in c["component"].get("options", [])]
    assert options == ["sleep", "meetings", "sponsor"]
    refused = await alice.slash("checkin tags", circle="Grief", tags="x")
    assert "Only the Grief circle's facilitators" in refused.text


# -- bad input and edges ----------------------------------------------------------------------


async def test_check_ins_outside_a_circle_after_leaving_and_after_deletion(
    sandbox: Sandbox, cbot: PeerCirclesBot
) -> None:
    bob = sandbox.member("bob")
    nowhere = await bob.slash("checkin now")
    assert "You're not in a circle here yet" in nowhere.text
    await grief(sandbox)
    outside = await bob.slash("checkin now", circle="Grief")
    assert "You're not in the Grief circle" in outside.text and "/circle join" in outside.text
    unknown = await bob.slash("checkin now", circle="Nope")
    assert "There's no circle called “Nope”" in unknown.text

    alice = sandbox.member("alice")
    joined = await alice.click(await alice.slash("circle join", circle="Grief"), "I agree, join")
    assert "Welcome" in joined.message.text
    opened = await alice.slash("checkin now")
    await alice.slash("circle leave", circle="Grief")
    left = await alice.click(opened, "3 · Okay")
    assert left.ephemeral and "You're not in the Grief circle" in left.text
    assert await rows(cbot, "SELECT * FROM checkins") == []

    carol = member(sandbox, "carol")
    opened = await carol.slash("checkin now")
    ana = sandbox.admin("ana")
    ask = await ana.slash("circle archive", circle="Grief")
    await ana.click(ask, "Archive")
    archived = await carol.click(opened, "3 · Okay")
    assert "archived" in archived.text
    ask = await ana.slash("circle delete", circle="Grief")
    await ana.click(ask, "Delete circle")
    deleted = await carol.click(opened, "3 · Okay")
    assert "That circle no longer exists" in deleted.text
    assert await rows(cbot, "SELECT * FROM checkins") == []


async def test_privacy_export_and_delete_include_check_ins_and_reminders(
    sandbox: Sandbox, cbot: PeerCirclesBot, clock: FakeClock
) -> None:
    await grief(sandbox)
    alice = member(sandbox, "alice")
    bob = member(sandbox, "bob")
    card = await check_in(alice, "2 · Low")
    form = await alice.click(card.message, "Add a note or tags")
    await alice.submit_modal(form, **{"checkin:note": "just for me"})
    await alice.click(card.message, "Ask a listener to reach out")
    await (await alice.slash("checkin reminders", time="08:30", offer_listener=3)).settled()
    await check_in(bob, "5 · Very good")

    privacy = await alice.slash("privacy")
    assert "Your check-ins (mood, and any note and tags" in privacy.text
    await (await alice.click(privacy, "Export my data")).settled()
    document = json.loads((await alice.wait_for_dm("JSON file")).attachments[0].data)
    data = document["data"]
    assert [(c["circle"], c["mood"], c["note"]) for c in data["checkins"]] == [("Grief", 2, "just for me")]
    assert data["checkin_reminders"][0]["local_time"] == "08:30"
    assert data["checkin_settings"][0]["listener_after_days"] == 3
    assert data["checkin_support_requests"][0]["status"] == "pending"

    await alice.click(privacy, "Delete my data")
    await alice.click(privacy, "Delete everything")
    await sandbox.wait_for(lambda: "erased" in privacy.message.text, "the deletion summary")
    for table in ("checkins", "checkin_reminders", "checkin_settings", "checkin_support_requests"):
        assert await rows(cbot, f"SELECT * FROM {table} WHERE user_id = ?", alice.id) == []
    assert len(await rows(cbot, "SELECT * FROM checkins WHERE user_id = ?", bob.id)) == 1
    # The reminder's job finds nothing and does nothing.
    clock.set(datetime(2026, 3, 28, 8, 30, tzinfo=UTC))
    await cbot.services.scheduler.run_due()
    assert [m for m in alice.dms if "Time for your check-in" in m.text] == []


async def test_ask_a_listener_goes_to_the_listener_on_call_when_the_server_has_them(
    sandbox: Sandbox, bot: PeerCirclesBot
) -> None:
    from tests.support_harness import become_listener, on_call, setup_server

    await setup_server(sandbox)
    lena = await become_listener(sandbox, "lena")
    await on_call(lena)
    await grief(sandbox)
    alice = member(sandbox, "alice")
    card = await alice.slash("checkin now", where="circle-grief")
    await alice.click(card, "2 · Low")
    form = await alice.click(card.message, "Ask a listener to reach out")
    assert form.kind == "modal"
    values: dict[str, Any] = {"support:topic": "", "support:appear": ["anonymous"]}
    await (await alice.submit_modal(form, **values)).settled()
    offer = await lena.wait_for_dm("Someone")
    assert str(alice.id) not in offer.text and alice.user.username not in offer.text
    assert_nothing_public(sandbox, alice)


async def test_a_request_made_before_there_were_listeners_reaches_the_first_one(
    sandbox: Sandbox, bot: PeerCirclesBot
) -> None:
    from tests.support_harness import become_listener, setup_server

    await grief(sandbox)
    alice = member(sandbox, "alice")
    card = await alice.slash("checkin now", where="circle-grief")
    await alice.click(card, "2 · Low")
    await alice.click(card.message, "Ask a listener to reach out")
    pending = await rows(bot, "SELECT status FROM checkin_support_requests")
    assert [r["status"] for r in pending] == ["pending"]
    await setup_server(sandbox)
    lena = await become_listener(sandbox, "lena")
    # No shift is covered and nobody is on call yet: the request is queued for the next shift.
    assert [r["status"] for r in await rows(bot, "SELECT status FROM checkin_support_requests")] == ["routed"]
    conversations = await rows(bot, "SELECT status FROM support_conversations")
    assert len(conversations) == 1
    assert str(alice.id) not in " ".join(m.text for m in lena.dms)


@pytest.mark.parametrize(
    "note",
    [
        "tomei todos os comprimidos da caixa faz meia hora, só queria que alguém soubesse",
        "ya tengo las pastillas juntadas, esta noche me voy para siempre",
        "ich will nicht mehr leben, heute nacht mach ich schluss",
        "je me suis encore scarifiée hier soir, je sais plus quoi faire",
    ],
)
async def test_a_crisis_note_in_another_language_shows_resources_privately(
    sandbox: Sandbox, cbot: PeerCirclesBot, note: str
) -> None:
    await grief(sandbox)
    alice = member(sandbox, "alice")
    card = await check_in(alice, "1 · Very low")
    form = await alice.click(card.message, "Add a note or tags")
    await alice.submit_modal(form, **{"checkin:note": note})
    assert card.message.ephemeral_to == alice.id
    assert "Support, right now" in card.message.text
    assert "Ask a listener to reach out" in card.message.buttons
    assert await rows(cbot, "SELECT * FROM checkin_support_requests") == []
    assert sandbox.channel("moderation").messages == []
    assert_nothing_public(sandbox, alice)


# -- languages --------------------------------------------------------------------------------


async def test_each_reader_gets_their_own_language_privately_publicly_and_by_dm(
    sandbox: Sandbox, cbot: PeerCirclesBot, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A German member's private cards and forms in German, the circle's prompt in the server's
    Spanish, and each member's reminder DM in the language they last used with the bot."""
    from tests.i18n_fakes import marked, marked_catalogues

    with marked_catalogues(monkeypatch):
        await grief(sandbox)  # named while the server was English: #circle-grief
        await sandbox.server.set_guild_locale(sandbox.guild, "es-ES")
        ana = sandbox.admin("ana")
        lena = sandbox.member("lena", roles=["Circle: Grief"], locale="de")
        joao = sandbox.member("joao", roles=["Circle: Grief"], locale="pt-BR")

        # Private: the card, its buttons, the form and the crisis card, in the German member's language.
        opened = await lena.slash("checkin now", where="circle-grief")
        assert opened.ephemeral and marked("de", "## How are you right now?") in opened.text
        words = ["Very low", "Low", "Okay", "Good", "Very good"]
        assert opened.message.buttons == [f"{n} · {marked('de', word)}" for n, word in enumerate(words, 1)]
        await lena.click(opened, "1 · [de] Very low")
        assert marked("de", "- Private: not shared with the circle's pulse") in opened.message.text
        form = await lena.click(opened.message, marked("de", "Add a note or tags"))
        assert form.modal["title"] == marked("de", "Add to your check-in")
        tags = [o for c in form.modal["components"] for o in c["component"].get("options", [])]
        assert (tags[0]["label"], tags[0]["value"]) == (marked("de", "sleep"), "sleep"), "stored in English"
        await lena.submit_modal(form, **{"checkin:note": "I want to kill myself tonight", "checkin:tags": ["sleep"]})
        text = opened.message.text
        assert marked("de", "## Support, right now") in text and marked("de", "- Tags: [de] sleep") in text
        assert "[es]" not in text and "[pt_BR]" not in text

        # Public: the circle's prompt in the server's language; the facilitator's own answer in hers.
        set_ = await ana.slash("checkin prompt", circle="Grief", schedule="daily", time="19:00")
        assert set_.text.startswith("✅ Saved. The **Grief** circle gets a check-in prompt"), "English for Ana"
        circle_id = (await rows(cbot, "SELECT id FROM circles"))[0]["id"]
        clock.set(datetime(2026, 3, 27, 19, 0, tzinfo=UTC))
        assert len(await fire(cbot, f"circle:{circle_id}:checkin:prompt:")) == 1
        post = await sandbox.channel("circle-grief").wait_for_message(marked("es", "## 🌱 Check-in time"))
        assert not post.ephemeral and post.buttons == [marked("es", "Check in")]
        pressed = await lena.click(post, marked("es", "Check in"))
        assert pressed.ephemeral and marked("de", "## How are you right now?") in pressed.text

        # DMs later: each member's reminder in the language they last used with the bot here.
        await (await lena.slash("checkin reminders", time="08:30")).settled()
        await (await joao.slash("checkin reminders", time="08:30")).settled()
        clock.set(datetime(2026, 3, 28, 8, 30, tzinfo=UTC))
        assert len(await fire(cbot, "checkin:reminder:")) == 2
        german = await lena.wait_for_dm(marked("de", "## Time for your check-in"))
        assert german.buttons == [
            marked("de", "Check in"),
            marked("de", "Snooze 1 hour"),
            marked("de", "Stop reminders"),
        ]
        brazilian = await joao.wait_for_dm(marked("pt_BR", "## Time for your check-in"))
        assert brazilian.buttons[0] == marked("pt_BR", "Check in")
        assert "[es]" not in german.text + brazilian.text


async def test_days_are_read_in_the_language_each_member_writes(sandbox: Sandbox, cbot: PeerCirclesBot) -> None:
    """“Do” is Thursday to a German member and Sunday to a Spanish one; someone else is asked."""
    await grief(sandbox)
    lena = sandbox.member("lena", roles=["Circle: Grief"], locale="de")
    rosa = sandbox.member("rosa", roles=["Circle: Grief"], locale="es-ES")
    alice = member(sandbox, "alice")
    await (await lena.slash("checkin reminders", time="19 Uhr", days="Mo, Do")).settled()
    await (await rosa.slash("checkin reminders", time="08:30", days="lu y do")).settled()
    asked = await (await alice.slash("checkin reminders", time="08:30", days="do")).settled()
    assert asked.ephemeral and "could be more than one day" in asked.text
    stored = await rows(cbot, "SELECT user_id, local_time, weekdays FROM checkin_reminders ORDER BY user_id")
    assert {(r["user_id"], r["local_time"], r["weekdays"]) for r in stored} == {
        (lena.id, "19:00", "03"),
        (rosa.id, "08:30", "06"),
    }
