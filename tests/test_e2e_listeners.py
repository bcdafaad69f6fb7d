"""Listeners and the rota end to end: joining, approval, slots, the board (take / drop in place,
after a restart too), swaps, reminders at the right local time across a clock change, coverage
alerts, reports, availability, breaks and limits. Time runs on a FakeClock driven by run_due()."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.client import PeerCirclesBot
from bot.clock import FakeClock
from bot.sandbox.actors import Person, Sandbox
from bot.sandbox.harness import BotHarness
from bot.sandbox.models import Message
from tests.support_harness import become_listener, services, setup_server

# Monday 23 March 2026, 12:00 UTC. The UK moves to summer time on Sunday 29 March.
START = datetime(2026, 3, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def rbot(timed_bot: PeerCirclesBot) -> PeerCirclesBot:
    return timed_bot


async def run_due(bot: PeerCirclesBot) -> list[str]:
    return await bot.services.scheduler.run_due()


def board_message(sandbox: Sandbox) -> Message:
    found = [m for m in sandbox.channel("listeners").messages if "Listener rota" in m.text]
    assert len(found) == 1, [m.text[:60] for m in sandbox.channel("listeners").messages]
    return found[0]


async def add_tuesday_evening(ana: Person, **options: Any) -> str:
    done = await (
        await ana.slash("rota add", start="19:00", hours=2, day=1, needed=2, label="Evening", **options)
    ).settled()
    assert "Added: Tuesdays 19:00–21:00 (Europe/London), 2 needed · Evening" in done.text, done.text
    return done.text


async def test_joining_needs_the_guidelines_and_a_coordinator(sandbox: Sandbox, rbot: PeerCirclesBot) -> None:
    ana = await setup_server(sandbox, auto_approve=False)
    lena = sandbox.member("lena")
    card = await lena.slash("listener join")
    assert card.ephemeral
    for point in ("Listen", "Don't diagnose", "No personal contact details", "escalate", "Look after yourself"):
        assert point in card.text
    assert card.message.buttons == ["I agree", "Not now"]
    await (await lena.click(card, "I agree")).settled()
    assert "A coordinator will look at your application" in card.message.text
    review = await sandbox.channel("moderation").wait_for_message("would like to be a listener")
    assert f"<@{lena.id}>" in review.text and review.buttons == ["Approve", "Decline"]
    assert not lena.has_role("Listeners")
    refused = await lena.slash("listener available")
    assert "waiting for a coordinator's approval" in refused.text
    again = await lena.slash("listener join")
    assert "already waiting" in again.text
    bob = sandbox.member("bob")
    not_a_coordinator = await bob.click(review, "Approve")
    assert "coordinator role can approve listeners" in not_a_coordinator.text
    await (await ana.click(review, "Approve")).settled()
    assert f"<@{ana.id}> approved <@{lena.id}>" in review.text
    await lena.wait_for_dm("You're a listener now")
    await sandbox.wait_for(lambda: lena.has_role("Listeners"), "the listener role")
    assert sandbox.channel("general").messages == []


async def test_auto_approve_and_stepping_down(sandbox: Sandbox, rbot: PeerCirclesBot) -> None:
    await setup_server(sandbox, auto_approve=True)
    lena = await become_listener(sandbox, "lena")
    assert lena.has_role("Listeners")
    assert not [m for m in sandbox.channel("moderation").messages if "would like to be a listener" in m.text]
    card = await lena.slash("listener leave")
    await (await lena.click(card, "Stop listening")).settled()
    assert "Thank you for everything" in card.message.text
    await sandbox.wait_for(lambda: not lena.has_role("Listeners"), "the role to be removed")
    assert await services(rbot).rota.listener(sandbox.guild.id, lena.id) is None


async def test_coordinator_defines_slots_and_listeners_take_and_drop_on_the_board(
    sandbox: Sandbox, rbot: PeerCirclesBot, timed: BotHarness
) -> None:
    ana = await setup_server(sandbox)
    member = sandbox.member("sam")
    refused = await member.slash("rota add", start="19:00", hours=2, day=1)
    assert "coordinator role can change the rota" in refused.text
    await add_tuesday_evening(ana)
    once = await (
        await ana.slash("rota add", start="10:00", hours=3, date="2026-03-28", label="Saturday cover")
    ).settled()
    assert "Once, Sat 28 Mar 2026 10:00–13:00" in once.text
    posted = await (await ana.slash("rota board")).settled()
    assert "The rota board is in" in posted.text
    board = board_message(sandbox)
    assert board.buttons == ["Take a shift", "Drop a shift", "My shifts"]
    assert "0/2 · nobody yet · Evening" in board.text and "Saturday cover" in board.text
    assert all(
        ":" not in str(c.get("custom_id", "rota:board:x")).split("rota:board:")[-1] for c in board.all_components
    )

    lena = await become_listener(sandbox, "lena")
    outsider = await member.click(board, "Take a shift")
    assert "for volunteer listeners" in outsider.text
    picker = await lena.click(board, "Take a shift")
    assert picker.ephemeral
    options = [o for c in picker.message.all_components if c.get("type") == 3 for o in c["options"]]
    assert [o["label"] for o in options][:2] == [
        "Tue 24 Mar 19:00–21:00 · 0/2 · Evening",
        "Sat 28 Mar 10:00–13:00 · 0/1 · Saturday cover",
    ]
    await (await lena.select(picker, "Choose a shift", [options[0]["value"]])).settled()
    assert "You're on the shift" in picker.message.text
    await sandbox.wait_for(lambda: "1/2 · <@" in board.text, "the board to update in place")
    assert f"<@{lena.id}>" in board.text and board.history, "edited, not re-posted"
    assert len([m for m in sandbox.channel("listeners").messages if "Listener rota" in m.text]) == 1

    # The board keeps working after a restart (persistent buttons).
    await timed.restart()
    assert isinstance(timed.bot, PeerCirclesBot)
    dropper = await lena.click(board, "Drop a shift")
    mine = [o for c in dropper.message.all_components if c.get("type") == 3 for o in c["options"]]
    assert [o["label"] for o in mine] == ["Tue 24 Mar 19:00–21:00 · Evening"]
    await (await lena.select(dropper, "Choose a shift", [mine[0]["value"]])).settled()
    assert "Dropped the shift" in dropper.message.text
    await sandbox.wait_for(lambda: "0/2 · nobody yet · Evening" in board.text, "the board to show the drop")
    # Dropping a shift that starts within 48 hours tells the coordinators it is short.
    await sandbox.channel("moderation").wait_for_message("dropped a shift that starts soon")
    assert sandbox.channel("general").messages == []


async def test_rota_commands_take_view_mine_drop(sandbox: Sandbox, rbot: PeerCirclesBot) -> None:
    ana = await setup_server(sandbox)
    await add_tuesday_evening(ana)
    lena = await become_listener(sandbox, "lena")
    choices = await lena.autocomplete("rota take", "shift", "")
    assert choices[0]["name"] == "Tue 24 Mar 19:00–21:00 · 0/2 · Evening"
    assert choices[1]["name"] == "Tue 31 Mar 19:00–21:00 · 0/2 · Evening", "19:00 local after the clocks change"
    taken = await (await lena.slash("rota take", shift=choices[1]["value"])).settled()
    assert "You're on the shift" in taken.text
    row = await rbot.services.db.fetchone("SELECT starts_at FROM rota_assignments")
    assert row is not None and row["starts_at"].startswith("2026-03-31T18:00"), "19:00 BST is 18:00 UTC"
    again = await (await lena.slash("rota take", shift=choices[1]["value"])).settled()
    assert "already on that shift" in again.text
    view = await lena.slash("rota view")
    assert "**you**" in view.text and view.ephemeral
    mine = await lena.slash("rota mine")
    assert "Your next shifts" in mine.text and "Tue" not in mine.text.split("Your next shifts")[0]
    drop_choices = await lena.autocomplete("rota drop", "shift", "")
    assert [c["name"] for c in drop_choices] == ["Tue 31 Mar 19:00–21:00 · Evening"]
    dropped = await (await lena.slash("rota drop", shift=drop_choices[0]["value"])).settled()
    assert "Dropped the shift" in dropped.text
    assert await rbot.services.db.fetchall("SELECT * FROM rota_assignments") == []


async def test_a_swap_the_other_listener_accepts(sandbox: Sandbox, rbot: PeerCirclesBot) -> None:
    ana = await setup_server(sandbox)
    await add_tuesday_evening(ana)
    lena = await become_listener(sandbox, "lena")
    omar = await become_listener(sandbox, "omar")
    first, second = [c["value"] for c in (await lena.autocomplete("rota take", "shift", ""))[:2]]
    await (await lena.slash("rota take", shift=first)).settled()
    await (await omar.slash("rota take", shift=second)).settled()
    # A plain handover: Omar takes Lena's first shift.
    asked = await (await lena.slash("rota swap", shift=first, listener=omar)).settled()
    assert "The shift stays yours until they accept" in asked.text
    request = await omar.wait_for_dm("asks if you'd take their listener shift")
    assert request.buttons == ["Accept swap", "Decline"]
    await (await omar.click(request, "Accept swap")).settled()
    assert "Swap accepted" in request.text
    await lena.wait_for_dm("accepted your swap")
    rows = await rbot.services.db.fetchall("SELECT occurrence, user_id FROM rota_assignments ORDER BY occurrence")
    assert [(r["occurrence"], r["user_id"]) for r in rows] == [("2026-03-24", omar.id), ("2026-03-31", omar.id)]
    # An exchange, declined: nothing moves.
    theirs = await lena.autocomplete("rota swap", "their_shift", "", shift=first, listener=omar)
    assert len(theirs) == 2
    await (await omar.slash("rota swap", shift=first, listener=lena)).settled()
    declined = await lena.wait_for_dm("asks if you'd take")
    await (await lena.click(declined, "Decline")).settled()
    await omar.wait_for_dm("declined")
    rows = await rbot.services.db.fetchall("SELECT user_id FROM rota_assignments")
    assert {r["user_id"] for r in rows} == {omar.id}
    stranger = sandbox.member("sam")
    refused = await (await lena.slash("rota swap", shift=first, listener=stranger)).settled()
    assert "You're not on that shift" in refused.text or "only swap with another listener" in refused.text


async def test_reminders_and_shift_dms_at_the_right_local_time(
    sandbox: Sandbox, rbot: PeerCirclesBot, clock: FakeClock
) -> None:
    ana = await setup_server(sandbox)
    await add_tuesday_evening(ana)
    lena = await become_listener(sandbox, "lena")
    for choice in (await lena.autocomplete("rota take", "shift", ""))[:2]:
        await (await lena.slash("rota take", shift=choice["value"])).settled()
    jobs = await rbot.services.db.fetchall(
        "SELECT id, run_at FROM scheduled_jobs WHERE kind = 'rota.reminder' AND status = 'pending' ORDER BY run_at"
    )
    # 30 minutes before 19:00 London: 18:30 UTC in winter, 17:30 UTC after the clocks go forward.
    assert [j["run_at"][:16] for j in jobs] == ["2026-03-24T18:30", "2026-03-31T17:30"]
    clock.set(datetime(2026, 3, 24, 18, 29, tzinfo=UTC))
    await run_due(rbot)
    assert not [m for m in lena.dms if "Your listener shift starts" in m.text]
    clock.set(datetime(2026, 3, 24, 18, 30, tzinfo=UTC))
    await run_due(rbot)
    await lena.wait_for_dm("Your listener shift starts")
    clock.set(datetime(2026, 3, 24, 19, 0, tzinfo=UTC))
    await run_due(rbot)
    await lena.wait_for_dm("Your listener shift has started")
    assert await services(rbot).rota.on_shift(sandbox.guild.id) == {lena.id}
    clock.set(datetime(2026, 3, 24, 21, 0, tzinfo=UTC))
    await run_due(rbot)
    ended = await lena.wait_for_dm("Your shift has ended")
    assert "2 h" in ended.text
    # Her own reminder setting moves the next one.
    await lena.slash("listener limits", reminder_minutes=60)
    job = await rbot.services.db.fetchone(
        "SELECT run_at FROM scheduled_jobs WHERE kind = 'rota.reminder' AND status = 'pending'"
    )
    assert job is not None and job["run_at"].startswith("2026-03-31T17:00")
    clock.set(datetime(2026, 3, 31, 17, 0, tzinfo=UTC))
    await run_due(rbot)
    await lena.wait_for_dm("Your listener shift starts", after=3)


async def test_uncovered_slots_are_flagged_48_hours_ahead(
    sandbox: Sandbox, rbot: PeerCirclesBot, clock: FakeClock
) -> None:
    ana = await setup_server(sandbox)
    await add_tuesday_evening(ana)  # Tuesday 24th is only 31 hours away: its check has passed
    job = await rbot.services.db.fetchone("SELECT run_at, payload FROM scheduled_jobs WHERE kind = 'rota.coverage'")
    assert job is not None and job["run_at"].startswith("2026-03-29T18:00") and "2026-03-31" in job["payload"]
    clock.set(datetime(2026, 3, 29, 18, 0, tzinfo=UTC))
    await run_due(rbot)
    alert = await sandbox.channel("moderation").wait_for_message("in 48 hours isn't covered")
    assert "0/2" in alert.text and "Tuesdays 19:00" in alert.text
    nxt = await rbot.services.db.fetchone(
        "SELECT run_at FROM scheduled_jobs WHERE kind = 'rota.coverage' AND status = 'pending'"
    )
    assert nxt is not None and nxt["run_at"].startswith("2026-04-05T18:00"), "the following week is checked next"


async def test_report_shows_coverage_and_hours(sandbox: Sandbox, rbot: PeerCirclesBot, clock: FakeClock) -> None:
    ana = await setup_server(sandbox)
    await add_tuesday_evening(ana)
    lena = await become_listener(sandbox, "lena")
    first = (await lena.autocomplete("rota take", "shift", ""))[0]["value"]
    await (await lena.slash("rota take", shift=first)).settled()
    await (await lena.slash("listener available", hours=1.5)).settled()
    clock.set(datetime(2026, 4, 1, 12, 0, tzinfo=UTC))
    refused = await lena.slash("rota report")
    assert "coordinator role can see the rota report" in refused.text
    report = await ana.slash("rota report", days=14)
    assert "Shifts: 2" in report.text and "fully covered 0" in report.text and "partly 1" in report.text
    assert f"<@{lena.id}>: 3.5 h · 1 shift · 0 conversations" in report.text


async def test_availability_break_and_limits(sandbox: Sandbox, rbot: PeerCirclesBot, clock: FakeClock) -> None:
    await setup_server(sandbox)
    lena = await become_listener(sandbox, "lena")
    nothing = await lena.slash("listener break")
    assert "not on shift or on call" in nothing.text
    on = await (await lena.slash("listener available", hours=2)).settled()
    assert "You're on call until" in on.text
    assert await services(rbot).rota.on_shift(sandbox.guild.id) == {lena.id}
    paused = await lena.slash("listener break")
    assert "You're on a break" in paused.text
    assert await services(rbot).support.eligible(sandbox.guild.id, {lena.id}) == []
    resumed = await lena.slash("listener break")
    assert "Welcome back" in resumed.text
    limits = await lena.slash("listener limits", max_conversations=2, max_hours_per_week=6, debrief=False)
    assert "Conversations at once: 2" in limits.text and "Hours a week: 6" in limits.text
    assert "Debrief offer after heavy conversations: off" in limits.text
    off = await lena.slash("listener unavailable")
    assert "You're off call" in off.text
    assert await services(rbot).rota.on_shift(sandbox.guild.id) == set()
    # On-call time counts towards the weekly hours.
    await (await lena.slash("listener available", hours=6)).settled()
    clock.advance(timedelta(hours=6))
    await run_due(rbot)
    await lena.wait_for_dm("Your on-call time has ended")
    mine = await lena.slash("rota mine")
    assert "6.0 h so far" in mine.text


async def test_settings_are_for_coordinators_and_audited(sandbox: Sandbox, rbot: PeerCirclesBot) -> None:
    ana = sandbox.admin("ana")
    await ana.slash("setup", moderation_channel=sandbox.channel("moderation"))
    sam = sandbox.member("sam")
    refused = await sam.slash("rota settings", auto_approve=True)
    assert "coordinator role can change the listener and support settings" in refused.text
    no_channel = await ana.slash("rota settings", relay="thread")
    assert "Private-thread relay needs a listeners' channel" in no_channel.text
    changed = await ana.slash("rota settings", auto_approve=True, offer_timeout_minutes=3, idle_close_minutes=30)
    assert "approved automatically" in changed.text and "3 min" in changed.text and "30 min" in changed.text
    audit = await sandbox.channel("moderation").wait_for_message("auto-approval of listeners")
    assert "the offer timeout to 3 min" in audit.text


async def test_removing_a_shift_tells_its_listeners_and_is_audited(sandbox: Sandbox, rbot: PeerCirclesBot) -> None:
    ana = await setup_server(sandbox)
    await add_tuesday_evening(ana)
    lena = await become_listener(sandbox, "lena")
    first = (await lena.autocomplete("rota take", "shift", ""))[0]["value"]
    await (await lena.slash("rota take", shift=first)).settled()
    before = len(lena.dms)
    refused = await (await lena.slash("rota remove", shift="1", force=True)).settled()
    assert "Only" in refused.text, "listeners can't remove shifts"
    choices = await ana.autocomplete("rota remove", "shift", "")
    assert choices, "the coordinator picks the shift from a list"
    removed = await (await ana.slash("rota remove", shift=choices[0]["value"])).settled()
    assert "Removed:" in removed.text and removed.ephemeral
    await lena.wait_for_dm("", after=before)
    await sandbox.channel("moderation").wait_for_message("removed a listener shift")
    assert await rbot.services.db.fetchall("SELECT * FROM rota_assignments") == []
    assert (await lena.autocomplete("rota take", "shift", "")) == []


async def test_a_number_typed_in_place_of_a_shift_is_refused_calmly(
    sandbox: Sandbox, rbot: PeerCirclesBot, caplog: pytest.LogCaptureFixture
) -> None:
    # A number too large for SQLite used to fail in the query: "something went wrong" and a traceback.
    ana = await setup_server(sandbox)
    await add_tuesday_evening(ana)
    lena = await become_listener(sandbox, "lena")
    huge = "9" * 30
    for person, command, shift in (
        (lena, "rota take", f"{huge}:2026-03-24"),
        (lena, "rota drop", f"{huge}:2026-03-24"),
        (ana, "rota remove", huge),
        (ana, "rota remove", "²"),  # a digit to str.isdigit(), not to int()
    ):
        refused = await (await person.slash(command, shift=shift)).settled()
        assert refused.ephemeral and "shift from the list Discord offers" in refused.text, refused.text
    assert len(await rbot.services.db.fetchall("SELECT * FROM rota_slots")) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "no unexpected error"


async def test_each_reader_reads_the_rota_in_their_own_language(
    sandbox: Sandbox, rbot: PeerCirclesBot, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A listener whose Discord is in German, in a server whose language is Spanish: her private
    # replies are in German, the board and the coordinators' alerts in Spanish, and the shift
    # reminder sent to her later by DM in German (the language she last used with the bot there).
    from tests.i18n_fakes import marked, marked_catalogues

    with marked_catalogues(monkeypatch):
        ana = await setup_server(sandbox)
        await sandbox.server.set_guild_locale(sandbox.guild, "es-ES")
        await add_tuesday_evening(ana)  # Ana's Discord is in English: her replies are too
        await (await ana.slash("rota board")).settled()
        board = board_message(sandbox)
        assert board.text.startswith(marked("es", "## Listener rota: the next two weeks"))
        assert "martes, 24 de marzo" in board.text, "the day as Spanish writes it (CLDR)"
        assert board.buttons == [marked("es", "Take a shift"), marked("es", "Drop a shift"), marked("es", "My shifts")]

        lena = sandbox.member("lena", locale="de")
        card = await lena.slash("listener join")
        assert card.ephemeral and card.text.startswith(marked("de", "## Listener guidelines"))
        await (await lena.click(card, marked("de", "I agree"))).settled()
        assert marked("de", "🎉 **Thank you: you're a listener now.**") in card.message.text

        # A press on the Spanish board answers her privately, in German.
        picker = await lena.click(board, marked("es", "Take a shift"))
        assert picker.ephemeral and picker.text == marked(
            "de", "Which shift would you like to take? (Times in the server's zone.)"
        )
        options = [o for c in picker.message.all_components if c.get("type") == 3 for o in c["options"]]
        assert options[0]["label"] == marked("de", "Di., 24. März 19:00–21:00") + " · 0/2 · Evening"
        await (await lena.select(picker, marked("de", "Choose a shift"), [options[0]["value"]])).settled()
        assert picker.message.text.startswith(marked("de", "You're on the shift"))
        await sandbox.wait_for(lambda: f"<@{lena.id}>" in board.text, "the board to update in place")
        assert board.text.startswith(marked("es", "## Listener rota")) and "[de]" not in board.text

        # Later, by DM: the reminder half an hour before the shift, in German.
        clock.set(datetime(2026, 3, 24, 18, 30, tzinfo=UTC))
        await run_due(rbot)
        reminder = await lena.wait_for_dm("Your listener shift starts")
        assert reminder.text.startswith(marked("de", "⏰ Your listener shift starts"))

        # She drops it: told privately in German; the coordinators are alerted in Spanish.
        mine = await lena.autocomplete("rota drop", "shift", "")
        dropped = await (await lena.slash("rota drop", shift=mine[0]["value"])).settled()
        assert dropped.text.startswith(marked("de", "Dropped the shift"))
        alert = await sandbox.channel("moderation").wait_for_message("dropped a shift that starts soon")
        assert alert.text.startswith(marked("es", "⚠️ **A listener dropped a shift"))
        assert "[de]" not in alert.text
