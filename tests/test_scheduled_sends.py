"""Scheduled messages survive faults, end to end: the real bot and discord.py through the sandbox.

A check-in reminder due while Discord answers 503 or 429, loses the answer after creating the DM,
or while the bot restarts between claiming the job and sending (and after Discord accepted the
DM): each ends with exactly one reminder. Then every kind of scheduled send (check-in reminders
and prompts, session reminders and openings, shift reminders, listener offers, support
follow-ups) shows it carries its occurrence's nonce with enforce_nonce.

Time runs on a FakeClock (timers off: ``clock.set`` then ``run_due``); a restart is a new bot
process on the same database; nothing here sleeps.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import discord
import pytest
from aiohttp.client_reqrep import ConnectionKey

from bot.client import PeerCirclesBot
from bot.clock import FakeClock
from bot.sandbox.actors import Person, Sandbox
from bot.sandbox.harness import BotHarness
from bot.sandbox.server import RecordedRequest
from bot.scheduler import Job
from bot.sends import RetryLater, SendLedger, occurrence_nonce
from bot.services.outbox import outbox_key
from bot.ui.sending import retry_if_transient, transient
from tests.support_harness import ask, become_listener, deliver_all, dm, offer_to, on_call, setup_server
from tests.test_e2e_circles import create_circle
from tests.test_e2e_support import relayed, talking

DM_ROUTE = "POST /channels/{channel_id}/messages"
REMINDER = "Time for your check-in"


@pytest.fixture
def clock() -> FakeClock:
    # Near real time: Discord (and the sandbox) refuse session events that start in the past.
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def bot(timed_bot: PeerCirclesBot) -> PeerCirclesBot:
    return timed_bot


def current(timed: BotHarness) -> PeerCirclesBot:
    assert isinstance(timed.bot, PeerCirclesBot)
    return timed.bot


async def job_of(bot: PeerCirclesBot, kind: str) -> Job:
    jobs = [j for j in await bot.services.scheduler.jobs.pending() if j.kind == kind]
    assert len(jobs) == 1, jobs
    return jobs[0]


async def job_row(bot: PeerCirclesBot, job_id: str) -> dict[str, Any]:
    row = await bot.services.db.fetchone("SELECT * FROM scheduled_jobs WHERE id = ?", (job_id,))
    assert row is not None
    return dict(row)


def creates(sandbox: Sandbox, nonce: str) -> list[RecordedRequest]:
    """Every message create the bot sent with this nonce (whatever Discord answered)."""
    return [
        r
        for r in sandbox.server.requests
        if r.route == DM_ROUTE and isinstance(r.json, dict) and r.json.get("nonce") == nonce
    ]


def assert_carries(sandbox: Sandbox, job: Job, key: str) -> str:
    """The send for ``key`` of this job occurrence went out with the occurrence's nonce, enforced."""
    nonce = occurrence_nonce(job.id, job.run_at, key)
    sent = creates(sandbox, nonce)
    assert sent, f"no message was created with the occurrence nonce of {job.id} / {key}"
    assert all(r.json["enforce_nonce"] is True for r in sent)
    assert len(nonce) <= 25
    return nonce


# -- a check-in reminder under faults ----------------------------------------------------------


async def reminder_due(sandbox: Sandbox, bot: PeerCirclesBot, clock: FakeClock) -> tuple[Person, Job]:
    """Alice has a daily check-in reminder; the clock is at its time. Returns (alice, its job)."""
    await create_circle(sandbox.admin("ana"), "Grief")
    alice = sandbox.member("alice", roles=["Circle: Grief"])
    at = (clock.now() + timedelta(hours=2)).strftime("%H:%M")
    await (await alice.slash("checkin reminders", time=at)).settled()
    await alice.wait_for_dm("Check-in reminders are on")
    job = await job_of(bot, "checkin.reminder")
    clock.set(job.run_at)
    return alice, job


def reminders(alice: Person) -> list[str]:
    return [m.text for m in alice.dms if REMINDER in m.text]


async def run_retries(bot: PeerCirclesBot, clock: FakeClock, job_id: str) -> Job:
    """Move the clock to each next try of the job and run it, until it is settled."""
    scheduler = bot.services.scheduler
    for _ in range(20):
        job = await scheduler.jobs.get(job_id)
        assert job is not None
        if job.status != "pending":
            return job
        clock.set(max(clock.now(), job.due_at))
        await scheduler.run_due()
    raise AssertionError("the job never settled")


async def test_a_503_on_the_reminder_dm_is_retried_and_one_reminder_arrives(
    sandbox: Sandbox, bot: PeerCirclesBot, clock: FakeClock
) -> None:
    alice, job = await reminder_due(sandbox, bot, clock)
    sandbox.server.inject("5xx", route=DM_ROUTE, status=503)  # discord.py doesn't retry a 503
    assert await bot.services.scheduler.run_due() == []
    waiting = await bot.services.scheduler.jobs.get(job.id)
    assert waiting is not None and waiting.status == "pending" and waiting.retry_at is not None
    assert "http-503" in str(waiting.note)
    assert reminders(alice) == [], "not the next day: a retry within its hour"
    done = await run_retries(bot, clock, job.id)
    assert done.status == "done" and done.run_at == job.run_at
    await alice.wait_for_dm(REMINDER)
    assert len(reminders(alice)) == 1
    nonce = assert_carries(sandbox, job, "reminder")
    assert [r.status for r in creates(sandbox, nonce)] == [503, 200]
    # Once the occurrence is over, its record no longer says where the DM went (a DM channel
    # points to one person); that it was sent stays for the week.
    record = await bot.services.db.fetchone("SELECT * FROM scheduled_sends WHERE nonce = ?", (nonce,))
    assert record is not None and record["status"] == "sent"
    assert (record["channel_id"], record["message_id"]) == (None, None)


async def test_a_429_is_retried_after_its_retry_after_and_one_reminder_arrives(
    sandbox: Sandbox, bot: PeerCirclesBot, clock: FakeClock
) -> None:
    alice, job = await reminder_due(sandbox, bot, clock)
    # Longer than the bot lets discord.py sleep: it raises, and the scheduler waits on its own clock.
    sandbox.server.inject("429", route=DM_ROUTE, retry_after=45)
    await bot.services.scheduler.run_due()
    waiting = await bot.services.scheduler.jobs.get(job.id)
    assert waiting is not None and waiting.retry_at == job.run_at + timedelta(seconds=45)
    clock.set(job.run_at + timedelta(seconds=44))
    assert await bot.services.scheduler.run_due() == []
    clock.set(job.run_at + timedelta(seconds=45))
    assert await bot.services.scheduler.run_due() == [job.id]
    await alice.wait_for_dm(REMINDER)
    assert len(reminders(alice)) == 1
    nonce = assert_carries(sandbox, job, "reminder")
    assert [r.status for r in creates(sandbox, nonce)] == [429, 200]


async def test_a_lost_answer_after_discord_created_the_dm_is_resent_and_discord_keeps_one(
    sandbox: Sandbox, bot: PeerCirclesBot, clock: FakeClock
) -> None:
    alice, job = await reminder_due(sandbox, bot, clock)
    sandbox.server.inject("drop", route=DM_ROUTE)  # created, then the connection closes unanswered
    await bot.services.scheduler.run_due()
    assert len(reminders(alice)) == 1, "Discord has it, the bot doesn't know"
    done = await run_retries(bot, clock, job.id)
    assert done.status == "done"
    assert len(reminders(alice)) == 1, "the resend returned the same message"
    nonce = assert_carries(sandbox, job, "reminder")
    assert [r.status for r in creates(sandbox, nonce)] == [0, 200]  # 0: no answer
    [record] = await bot.services.scheduler.sends.records(job.id)
    assert record.status == "sent" and record.message_id is None  # the occurrence is over: where is forgotten


async def test_a_restart_between_claiming_the_job_and_the_dm_sends_one_reminder(
    sandbox: Sandbox, bot: PeerCirclesBot, timed: BotHarness, clock: FakeClock
) -> None:
    alice, job = await reminder_due(sandbox, bot, clock)
    assert await bot.services.scheduler.jobs.claim(job.id)  # claimed: then the process stops
    await timed.stop()
    clock.advance(timedelta(minutes=5))
    await timed.start()  # the scheduler finds it running, within its hour: it runs it again
    await alice.wait_for_dm(REMINDER)
    assert len(reminders(alice)) == 1
    assert (await job_row(current(timed), job.id))["status"] == "done"
    assert_carries(sandbox, job, "reminder")
    nxt = await job_of(current(timed), "checkin.reminder")
    assert nxt.run_at > job.run_at, "and the next one is scheduled"


async def stop_after_discord_accepted(sandbox: Sandbox, bot: PeerCirclesBot, timed: BotHarness, alice: Person) -> None:
    """Run the due reminder until Discord has created the DM, then stop the bot before it hears back."""
    held = sandbox.server.inject("hold", route=DM_ROUTE)
    running = asyncio.create_task(bot.services.scheduler.run_due())
    await asyncio.wait_for(held.reached.wait(), 5)
    assert len(reminders(alice)) == 1
    running.cancel()  # the process stops here
    with pytest.raises(asyncio.CancelledError):
        await running
    await timed.stop()
    held.release()


async def test_a_restart_after_discord_accepted_the_dm_reruns_the_job_and_one_reminder_arrives(
    sandbox: Sandbox, bot: PeerCirclesBot, timed: BotHarness, clock: FakeClock
) -> None:
    alice, job = await reminder_due(sandbox, bot, clock)
    await stop_after_discord_accepted(sandbox, bot, timed, alice)
    clock.advance(timedelta(seconds=40))
    await timed.start()
    restarted = current(timed)
    assert (await job_row(restarted, job.id))["status"] == "done"
    assert len(reminders(alice)) == 1, "re-run with the same nonce: Discord returned the DM it had"
    nonce = assert_carries(sandbox, job, "reminder")
    assert len(creates(sandbox, nonce)) == 2
    [record] = await restarted.services.scheduler.sends.records(job.id)
    assert record.status == "sent"


async def test_a_restart_after_discords_dedupe_window_records_maybe_sent_instead_of_guessing(
    sandbox: Sandbox, bot: PeerCirclesBot, timed: BotHarness, clock: FakeClock
) -> None:
    sandbox.server.nonce_clock = lambda: clock.now().timestamp()  # Discord forgets on the test's clock
    alice, job = await reminder_due(sandbox, bot, clock)
    await stop_after_discord_accepted(sandbox, bot, timed, alice)
    clock.advance(timedelta(minutes=6))  # past Discord's memory of the nonce, within the reminder's hour
    await timed.start()
    restarted = current(timed)
    row = await job_row(restarted, job.id)
    assert row["status"] == "done" and "maybe sent" in row["note"]
    assert len(reminders(alice)) == 1, "not sent again: a resend now would be a second copy"
    nonce = occurrence_nonce(job.id, job.run_at, "reminder")
    assert len(creates(sandbox, nonce)) == 1
    [record] = await restarted.services.scheduler.sends.records(job.id)
    assert record.status == "maybe_sent"


# -- every kind of scheduled send carries its occurrence's nonce ---------------------------------


async def test_a_check_in_prompt_carries_its_occurrence_nonce(
    sandbox: Sandbox, bot: PeerCirclesBot, clock: FakeClock
) -> None:
    ana = sandbox.admin("ana")
    await create_circle(ana, "Grief")
    at = (clock.now() + timedelta(hours=2)).strftime("%H:%M")
    await ana.slash("checkin prompt", circle="Grief", schedule="daily", time=at)
    job = await job_of(bot, "checkin.prompt")
    clock.set(job.run_at)
    assert await bot.services.scheduler.run_due() == [job.id]
    post = await sandbox.channel("circle-grief").wait_for_message("Check-in time")
    assert post.nonce == assert_carries(sandbox, job, "prompt")


async def session_soon(sandbox: Sandbox, bot: PeerCirclesBot, clock: FakeClock) -> tuple[Person, int]:
    """Fran facilitates Grief; a session is scheduled three days ahead and Alice is going."""
    ana = sandbox.admin("ana")
    await ana.slash("setup", timezone="Europe/London", moderation_channel=sandbox.channel("moderation"))
    facilitators = await sandbox.add_role("Facilitators")
    await create_circle(ana, "Grief", facilitator_role=facilitators)
    fran = sandbox.member("fran", roles=["Facilitators"])
    alice = sandbox.member("alice")
    await alice.click(await alice.slash("circle join", circle="Grief"), "I agree, join")
    day = (clock.now() + timedelta(days=3)).date().isoformat()
    await (
        await fran.slash("session schedule", circle="Grief", title="Check-in", first_date=day, start_time="18:30")
    ).settled()
    announcement = await sandbox.channel("circle-grief").wait_for_message("Check-in")
    await (await alice.click(announcement, "Going")).settled()
    row = await bot.services.db.fetchone("SELECT id FROM session_occurrences")
    assert row is not None
    return alice, int(row["id"])


async def test_session_reminders_carry_their_occurrence_nonce(
    sandbox: Sandbox, bot: PeerCirclesBot, clock: FakeClock
) -> None:
    alice, occurrence = await session_soon(sandbox, bot, clock)
    job = await bot.services.scheduler.jobs.get(f"circle:1:session:{occurrence}:remind:1440")
    assert job is not None
    clock.set(job.run_at)
    await bot.services.scheduler.run_due()
    reminder = await alice.wait_for_dm("starts in 24 hours")
    assert reminder.nonce == assert_carries(sandbox, job, f"reminder:{alice.id}")


async def test_a_session_opening_carries_its_occurrence_nonce_and_survives_a_503(
    sandbox: Sandbox, bot: PeerCirclesBot, clock: FakeClock
) -> None:
    _, occurrence = await session_soon(sandbox, bot, clock)
    job = await bot.services.scheduler.jobs.get(f"circle:1:session:{occurrence}:start")
    assert job is not None
    clock.set(job.run_at)
    sandbox.server.inject("5xx", route=DM_ROUTE, status=503)
    await bot.services.scheduler.run_due()
    stored = await bot.services.db.fetchone("SELECT status, opening_message_id FROM session_occurrences")
    assert stored is not None and (stored["status"], stored["opening_message_id"]) == ("open", None)
    done = await run_retries(bot, clock, job.id)
    assert done.status == "done", "the opened session's job ran again and posted what was left"
    opening = await sandbox.channel("circle-grief").wait_for_message("is starting")
    assert len([m for m in sandbox.channel("circle-grief").messages if "is starting" in m.text]) == 1
    nonce = assert_carries(sandbox, job, f"opening:{occurrence}")
    assert opening.nonce == nonce and [r.status for r in creates(sandbox, nonce)] == [503, 200]
    stored = await bot.services.db.fetchone("SELECT opening_message_id FROM session_occurrences")
    assert stored is not None and stored["opening_message_id"] == opening.id


async def test_a_shift_reminder_carries_its_occurrence_nonce(
    sandbox: Sandbox, bot: PeerCirclesBot, clock: FakeClock
) -> None:
    ana = await setup_server(sandbox)
    day = (clock.now() + timedelta(days=2)).weekday()
    await (await ana.slash("rota add", start="19:00", hours=2, day=day)).settled()
    lena = await become_listener(sandbox, "lena")
    shift = (await lena.autocomplete("rota take", "shift", ""))[0]["value"]
    await (await lena.slash("rota take", shift=shift)).settled()
    job = min(
        (j for j in await bot.services.scheduler.jobs.pending() if j.kind == "rota.reminder"), key=lambda j: j.run_at
    )
    clock.set(job.run_at)
    await bot.services.scheduler.run_due()
    reminder = await lena.wait_for_dm("Your listener shift starts")
    assert reminder.nonce == assert_carries(sandbox, job, f"listener:{lena.id}:reminder")


async def test_a_listener_offer_carries_its_occurrence_nonce_and_survives_a_503(
    sandbox: Sandbox, bot: PeerCirclesBot, clock: FakeClock
) -> None:
    await setup_server(sandbox)
    lena = await become_listener(sandbox, "lena")
    kim = await become_listener(sandbox, "kim")  # off shift: asked when the request escalates
    await on_call(lena)
    maya = sandbox.member("maya")
    await ask(maya)
    await offer_to(lena)
    conversation = await bot.services.db.fetchone("SELECT public_id FROM support_conversations")
    assert conversation is not None
    job = await bot.services.scheduler.jobs.get(f"support:{conversation['public_id']}:escalate:1")
    assert job is not None
    clock.set(job.run_at)
    sandbox.server.inject("5xx", route=DM_ROUTE, status=503)  # the offer to Kim
    await bot.services.scheduler.run_due()
    assert (await run_retries(bot, clock, job.id)).status == "done"
    offer = await kim.wait_for_dm("Someone has been waiting to talk")
    assert len([m for m in kim.dms if "Someone has been waiting" in m.text]) == 1
    row = await bot.services.db.fetchone(
        "SELECT public_id, message_id, status FROM support_offers WHERE listener_user_id = ?", (kim.id,)
    )
    assert row is not None and (row["message_id"], row["status"]) == (offer.id, "offered"), "one offer, once"
    nonce = assert_carries(sandbox, job, f"offer:{row['public_id']}")
    assert offer.nonce == nonce and [r.status for r in creates(sandbox, nonce)] == [503, 200]


async def test_support_follow_ups_carry_their_occurrence_nonce_and_are_queued_once(
    sandbox: Sandbox, bot: PeerCirclesBot, timed: BotHarness, clock: FakeClock
) -> None:
    _, lena, maya = await talking(sandbox, bot)
    support = bot.services.support
    row = await bot.services.db.fetchone("SELECT public_id FROM support_conversations")
    assert row is not None
    conversation = await support.repo.by_public_id(str(row["public_id"]))
    assert conversation is not None
    job = await bot.services.scheduler.jobs.get(f"support:{conversation.public_id}:idle")
    assert job is not None
    clock.set(job.run_at)
    await bot.services.scheduler.run_due()  # the idle conversation closes
    await deliver_all(bot, clock)
    for person, stream, code, text in (
        (maya, "member", "idle_closed", "closed after 60 minutes"),
        (maya, "member", "feedback", "Was this helpful?"),
        (lena, "listener", "after_end", "was closed after 60 minutes"),
    ):
        sent = await person.wait_for_dm(text)
        key = outbox_key(conversation, stream, "notice", {"code": code})
        assert sent.nonce == assert_carries(sandbox, job, key)
    rows = await bot.services.db.fetchone("SELECT COUNT(*) AS n FROM support_outbox")
    assert rows is not None

    # The process stopped after the job's work but before it was recorded as done: it runs again
    # at start, and finds its notices already queued (and delivered) instead of queuing them twice.
    await bot.services.db.execute("UPDATE scheduled_jobs SET status = 'running' WHERE id = ?", (job.id,))
    await timed.restart()
    restarted = current(timed)
    await deliver_all(restarted, clock)
    assert (await job_row(restarted, job.id))["status"] == "done"
    again = await restarted.services.db.fetchone("SELECT COUNT(*) AS n FROM support_outbox")
    assert again is not None and again["n"] == rows["n"]
    assert len([m for m in maya.dms if "Was this helpful?" in m.text]) == 1


# -- the support relay keeps its own exactly-once record -----------------------------------------


async def test_the_relay_keeps_its_exactly_once_record_under_a_lost_answer(
    sandbox: Sandbox, bot: PeerCirclesBot, clock: FakeClock
) -> None:
    _, lena, maya = await talking(sandbox, bot)
    await deliver_all(bot, clock)  # nothing else in flight to take the fault
    sandbox.server.inject("drop", route=DM_ROUTE)
    await dm(bot, maya, "thanks for listening to me today")
    await deliver_all(bot, clock)
    assert relayed(lena, "Member · ") == ["thanks for listening to me today"]
    row = await bot.services.db.fetchone(
        "SELECT nonce, status, attempts, discord_message_id, ciphertext FROM support_outbox "
        "WHERE stream = 'listener' ORDER BY seq DESC LIMIT 1"
    )
    assert row is not None
    assert (row["status"], row["attempts"], row["ciphertext"]) == ("delivered", 2, None)
    assert row["discord_message_id"] == lena.dms[-1].id, "recorded once, with the message Discord kept"
    assert [r.status for r in creates(sandbox, row["nonce"])] == [0, 200], "resent with its own nonce"
    assert not row["nonce"].startswith("j"), "a relayed line keeps the outbox's nonce (no job sent it)"
    assert await bot.services.db.fetchall("SELECT * FROM scheduled_sends") == []


# -- what discord.py leaves to the bot ------------------------------------------------------------


class FakeResponse:
    """What is read of a failed request's aiohttp response: discord.py its status and reason, the
    bot its headers (Retry-After)."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.reason = "sandbox"
        self.headers = headers or {}


def http_error(
    status: int,
    headers: dict[str, str] | None = None,
    *,
    error: type[discord.HTTPException] = discord.HTTPException,
    code: int = 0,
    message: str = "sandbox",
) -> discord.HTTPException:
    # discord.py types the response as an aiohttp.ClientResponse, which only a live request can
    # build; the stand-in has every attribute that is read.
    response: Any = FakeResponse(status, headers)
    return error(response, {"code": code, "message": message})


def test_failures_discord_py_doesnt_retry_are_sorted_into_sure_and_unsure() -> None:
    def sort(exc: BaseException) -> tuple[str, bool, float | None] | None:
        found = transient(exc)
        return None if found is None else (found.kind, found.unsure, found.retry_after)

    assert sort(http_error(503)) == ("http-503", False, None), "refused: nothing was created"
    assert sort(http_error(502)) == ("http-502", False, None)
    assert sort(http_error(500)) == ("http-500", True, None), "it may have been processed"
    assert sort(http_error(429, {"Retry-After": "7"})) == ("http-429", False, 7.0)
    assert sort(discord.RateLimited(45.0)) == ("rate-limited", False, 45.0)
    key = ConnectionKey(
        host="discord.com", port=443, is_ssl=True, ssl=True, proxy=None, proxy_auth=None, proxy_headers_hash=None
    )
    assert sort(aiohttp.ClientConnectorError(key, OSError(111, "refused"))) == ("connect-failed", False, None)
    assert sort(aiohttp.ServerDisconnectedError()) == ("ServerDisconnectedError", True, None)
    assert sort(TimeoutError()) == ("TimeoutError", True, None)
    assert sort(http_error(403)) is None and sort(http_error(404)) is None, "Discord's answer, not a hiccup"
    assert sort(ValueError("a bug")) is None


async def test_a_passing_failure_in_a_look_up_means_try_again_only_in_a_job(db: Any) -> None:
    with pytest.raises(discord.HTTPException), retry_if_transient():
        raise http_error(503)  # outside a job: the port's own handling, as before
    ledger = SendLedger(db, FakeClock())
    token = ledger.enter("job", FakeClock().now(), 0)
    try:
        with pytest.raises(RetryLater) as info, retry_if_transient():
            raise http_error(503)
        assert info.value.reason == "http-503"
        with pytest.raises(discord.Forbidden), retry_if_transient():
            raise http_error(403, error=discord.Forbidden, code=50007, message="closed")
    finally:
        ledger.leave(token)
