"""One-on-one support end to end: a member's request reaches the listener on shift, who accepts;
messages are relayed both ways under labels only; feedback; escalation; nobody on shift; limits;
handoff; blocks; crisis words; thread mode; and the outbox under 429/5xx faults and a restart.

What each person sees is asserted, what everyone else sees (nothing), and what is stored. Time runs
on a FakeClock driven by run_due(); the outbox is driven by drain(): no test sleeps."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.client import PeerCirclesBot
from bot.clock import FakeClock
from bot.sandbox.actors import Person, Sandbox
from bot.sandbox.harness import BotHarness
from bot.sandbox.models import DM, Message
from bot.sandbox.server import SandboxError
from tests.support_harness import (
    accept,
    ask,
    become_listener,
    deliver_all,
    dm,
    offer_to,
    on_call,
    services,
    setup_server,
)

START = datetime(2026, 3, 23, 12, 0, tzinfo=UTC)  # a Monday, noon in London (GMT)
DM_ROUTE = "POST /channels/{channel_id}/messages"
CRISIS = "I have the pills ready and I'm going to end it tonight."


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def sbot(timed_bot: PeerCirclesBot) -> PeerCirclesBot:
    return timed_bot


async def run_due(bot: PeerCirclesBot) -> list[str]:
    fired = await bot.services.scheduler.run_due()
    await services(bot).outbox.drain()
    return fired


def texts(person: Person) -> list[str]:
    return [m.text for m in person.dms]


def relayed(person: Person, label_prefix: str) -> list[str]:
    """The bodies of relayed messages (under a bold label line) this person received, in order."""
    pattern = re.compile(rf"^\*\*{re.escape(label_prefix)}[A-Z0-9]{{4}}\*\*\n")
    return [pattern.sub("", m.text, count=1) for m in person.dms if pattern.match(m.text)]


async def conversation(bot: PeerCirclesBot) -> dict[str, Any]:
    row = await bot.services.db.fetchone("SELECT * FROM support_conversations ORDER BY id DESC LIMIT 1")
    assert row is not None
    return dict(row)


async def talking(sandbox: Sandbox, bot: PeerCirclesBot, *, region: str | None = None) -> tuple[Person, Person, Person]:
    """Ana set up; Lena is on call; Maya asked and Lena accepted. Returns (ana, lena, maya)."""
    ana = await setup_server(sandbox)
    if region:
        await ana.slash("setup", region=region)
    lena = await become_listener(sandbox, "lena", global_name="Lena Private")
    await on_call(lena)
    maya = sandbox.member("maya", global_name="Maya Secret")
    await ask(maya, "a hard week")
    await accept(lena)
    await maya.wait_for_dm("has joined")
    return ana, lena, maya


async def test_a_request_reaches_the_listeners_on_shift_and_the_first_to_accept_gets_it(
    sandbox: Sandbox, sbot: PeerCirclesBot
) -> None:
    ana = await setup_server(sandbox)
    await (await ana.slash("rota add", start="11:00", hours=4, day=0, needed=2)).settled()  # Mondays 11:00-15:00: now
    lena = await become_listener(sandbox, "lena")
    omar = await become_listener(sandbox, "omar")
    kim = await become_listener(sandbox, "kim")  # a listener, but not on shift
    for person in (lena, omar):
        shift = (await person.autocomplete("rota take", "shift", ""))[0]["value"]
        await (await person.slash("rota take", shift=shift)).settled()
    maya = sandbox.member("maya")
    answered = await ask(maya, "a hard week at work")
    assert answered.ephemeral and "Your request is in" in answered.text
    received = await maya.wait_for_dm("Your request for a listener is in")
    assert "I've asked the listeners on shift" in received.text and received.buttons == ["Withdraw request"]
    lena_offer, omar_offer = await offer_to(lena), await offer_to(omar)
    assert "They wrote: “a hard week at work”" in omar_offer.text and omar_offer.buttons == ["Accept", "Pass"]
    assert "Member · " in omar_offer.text
    assert not [m for m in kim.dms if "Someone would like to talk" in m.text], "Kim isn't on shift"
    await (await omar.click(omar_offer, "Accept")).settled()
    assert "You're now talking with Member · " in omar_offer.text
    assert omar_offer.buttons == ["Hand off", "End conversation", "End and block"]
    await sandbox.wait_for(lambda: "taken by another listener" in lena_offer.text, "Lena's offer to be withdrawn")
    late = await (await lena.click(lena_offer, "Accept")).settled() if "Accept" in lena_offer.buttons else None
    assert late is None, "a withdrawn offer has no buttons left"
    joined = await maya.wait_for_dm("has joined")
    assert "Listener · " in joined.text and joined.buttons == ["Share my account with the listener", "End conversation"]
    row = await conversation(sbot)
    assert row["status"] == "active" and row["listener_user_id"] == omar.id
    assert str(maya.id).encode() not in row["member_user_enc"] and row["member_user_hash"]
    assert row["topic_enc"] and b"hard week" not in row["topic_enc"]
    assert sandbox.channel("general").messages == []
    assert not [m for m in sandbox.channel("moderation").messages if "support" in m.text.lower()]


async def test_messages_are_relayed_both_ways_under_labels_only(
    sandbox: Sandbox, sbot: PeerCirclesBot, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.logsetup import apply_log_policy

    caplog.set_level(logging.DEBUG)
    apply_log_policy(logging.DEBUG)
    _, lena, maya = await talking(sandbox, sbot)
    said_by_maya = ["hi, thanks for being here", "work has been a lot", "I just needed to say it"]
    said_by_lena = ["I'm here, take your time", "That sounds exhausting"]
    await dm(sbot, maya, said_by_maya[0])
    await lena.wait_for_dm(said_by_maya[0])
    await dm(sbot, lena, said_by_lena[0])
    await dm(sbot, maya, said_by_maya[1])
    await dm(sbot, maya, said_by_maya[2])
    await dm(sbot, lena, said_by_lena[1])
    await deliver_all(sbot)
    assert relayed(lena, "Member · ") == said_by_maya
    assert relayed(maya, "Listener · ") == said_by_lena
    row = await conversation(sbot)
    assert all(m.text.startswith(f"**Member · {row['member_tag']}**") for m in lena.dms if "work has been" in m.text)

    member_secrets = {str(maya.id), maya.user.username, maya.user.display_name}
    listener_secrets = {str(lena.id), lena.user.username, lena.user.display_name}

    def seen_by(person: Person) -> list[Message]:
        found = []
        for m in sandbox.all_messages():
            channel = sandbox.server.channels.get(m.channel_id)
            in_dm = channel is not None and channel.type == DM and channel.recipients[0].id == person.id
            if (in_dm and m.author.id == sandbox.server.bot_user.id) or m.ephemeral_to == person.id:
                found.append(m)
        return found

    for message in seen_by(lena):
        payload = json.dumps([message.to_dict(), message.history])
        for secret in member_secrets:
            assert secret not in payload, f"{secret!r} reached the listener: {message.text[:80]}"
    for message in seen_by(maya):
        payload = json.dumps([message.to_dict(), message.history])
        for secret in listener_secrets:
            assert secret not in payload, f"{secret!r} reached the member: {message.text[:80]}"
    for message in sandbox.all_messages():
        for comp in message.all_components:
            assert not any(s in str(comp.get("custom_id", "")) for s in member_secrets | listener_secrets)
    assert not any(s in sandbox.public_text() for s in member_secrets)
    for record in caplog.records:
        if record.name.startswith("bot.sandbox"):
            continue
        text = record.getMessage()
        for secret in [*member_secrets, *said_by_maya, *said_by_lena, "hard week"]:
            assert secret not in text, f"{secret!r} in the log ({record.name}): {text[:160]}"
    # Nothing relayed is kept: delivered rows dropped their ciphertext, and no table holds the words.
    rows = await sbot.services.db.fetchall("SELECT status, ciphertext FROM support_outbox")
    assert rows and all(r["status"] == "delivered" and r["ciphertext"] is None for r in rows)
    for table, _ in (await sbot.services.db.tables()).items():
        dump = json.dumps([dict(r) for r in await sbot.services.db.fetchall(f"SELECT * FROM {table}")], default=repr)
        for words in [*said_by_maya, *said_by_lena]:
            assert words not in dump, f"{words!r} is stored in {table}"


async def test_ending_with_feedback_a_heavy_mark_and_a_debrief(
    sandbox: Sandbox, sbot: PeerCirclesBot, clock: FakeClock
) -> None:
    _, lena, maya = await talking(sandbox, sbot)
    ended = await (await maya.slash("support end", where="dm")).settled()
    assert "You ended the conversation" in ended.text
    await deliver_all(sbot)
    feedback = await maya.wait_for_dm("Was this helpful?")
    assert feedback.buttons == ["1", "2", "3", "4", "5"]
    after = await lena.wait_for_dm("ended the conversation")
    assert after.buttons == ["That one was heavy"]
    await maya.click(feedback, "4")
    assert "you gave **4/5**" in feedback.text
    twice = await maya.click(feedback, "Add a comment for the coordinators")
    await (await maya.submit_modal(twice, **{"support:text": "Lena was so patient"})).settled()
    comment = await sandbox.channel("moderation").wait_for_message("Feedback after a support conversation")
    assert "4/5" in comment.text and "so patient" in comment.text and f"<@{lena.id}>" in comment.text
    assert "maya" not in comment.text.lower() and str(maya.id) not in json.dumps(comment.to_dict())
    row = await sbot.services.db.fetchone("SELECT score, commented FROM support_feedback")
    assert row is not None and row["score"] == 4 and row["commented"] == 1
    assert "so patient" not in json.dumps(
        [dict(r) for r in await sbot.services.db.fetchall("SELECT * FROM support_feedback")]
    )
    heavy = await lena.click(after, "That one was heavy")
    assert "You won't get new requests until" in heavy.text and heavy.message.buttons == [
        "Ask a coordinator for a debrief"
    ]
    await (await lena.click(heavy.message, "Ask a coordinator for a debrief")).settled()
    await sandbox.channel("moderation").wait_for_message("would welcome a debrief")
    assert await services(sbot).support.eligible(sandbox.guild.id, {lena.id}) == [], "cooling down"
    clock.advance(timedelta(minutes=31))
    assert await services(sbot).support.eligible(sandbox.guild.id, {lena.id}) == [lena.id]
    conv = await conversation(sbot)
    assert conv["heavy"] == 1 and conv["closed_by"] == "member" and conv["member_user_enc"] is None
    assert conv["topic_enc"] is None, "the topic is dropped when the conversation ends"


async def test_escalation_when_nobody_accepts(sandbox: Sandbox, sbot: PeerCirclesBot, clock: FakeClock) -> None:
    ana = await setup_server(sandbox)
    lena = await become_listener(sandbox, "lena")
    kim = await become_listener(sandbox, "kim")  # off shift
    await on_call(lena)
    maya = sandbox.member("maya")
    await ask(maya)
    first = await offer_to(lena)
    assert not [m for m in kim.dms if "Someone" in m.text]
    clock.advance(timedelta(minutes=5))
    await run_due(sbot)
    second = await kim.wait_for_dm("Someone has been waiting to talk")
    await maya.wait_for_dm("I've asked every listener who's around")
    clock.advance(timedelta(minutes=5))
    await run_due(sbot)
    alert = await sandbox.channel("moderation").wait_for_message("has been waiting for a listener")
    assert alert.buttons == ["Accept"]
    assert "maya" not in alert.text.lower() and str(maya.id) not in json.dumps(alert.to_dict())
    await maya.wait_for_dm("I've asked the server's coordinators too")
    sam = sandbox.member("sam")
    refused = await (await sam.click(alert, "Accept")).settled()
    assert "coordinator role can take support requests" in refused.text
    taken = await (await ana.click(alert, "Accept")).settled()
    assert "You've taken it" in taken.text
    await ana.wait_for_dm("You're now talking with Member · ")
    await sandbox.wait_for(lambda: "Someone took this support request" in alert.text, "the alert to be settled")
    for offer in (first, second):

        def withdrawn(o: Message = offer) -> bool:
            return "taken by another listener" in o.text

        await sandbox.wait_for(withdrawn, "offers withdrawn")
    await maya.wait_for_dm("has joined")
    await dm(sbot, maya, "thank you for coming")
    await ana.wait_for_dm("thank you for coming")
    clock.advance(timedelta(minutes=10))
    await run_due(sbot)
    assert not [m for m in maya.dms if "taking longer than usual" in m.text]


async def test_when_everyone_passes_the_request_moves_on_at_once(sandbox: Sandbox, sbot: PeerCirclesBot) -> None:
    await setup_server(sandbox)
    lena = await become_listener(sandbox, "lena")
    kim = await become_listener(sandbox, "kim")
    await on_call(lena)
    maya = sandbox.member("maya")
    await ask(maya)
    offer = await offer_to(lena)
    await (await lena.click(offer, "Pass")).settled()
    assert "You passed on this one" in offer.text
    await kim.wait_for_dm("Someone has been waiting to talk")


async def test_nobody_on_shift_offers_the_next_shift_or_a_message(
    sandbox: Sandbox, sbot: PeerCirclesBot, clock: FakeClock
) -> None:
    ana = await setup_server(sandbox)
    await (await ana.slash("rota add", start="19:00", hours=2, day=1)).settled()  # Tuesdays 19:00 London
    lena = await become_listener(sandbox, "lena")
    await lena.slash("listener limits", max_conversations=2)
    shift = (await lena.autocomplete("rota take", "shift", ""))[0]["value"]
    await (await lena.slash("rota take", shift=shift)).settled()
    maya = sandbox.member("maya")
    await maya.slash("timezone set", zone="America/New_York")
    answered = await ask(maya, "can't sleep")
    assert "No listener is on shift right now" in answered.text
    assert "15:00 on Tuesday 24 March 2026 (America/New_York)" in answered.text, "the start in her own zone"
    card = answered.messages[-1]
    assert card.buttons == ["Queue for the next shift", "Leave a message", "Not now"]
    assert await sbot.services.db.fetchall("SELECT * FROM support_conversations") == [], "nothing kept yet"
    tom = sandbox.member("tom")
    nothing = (await ask(tom)).messages[-1]
    await tom.click(nothing, "Not now")
    assert "Nothing was kept" in nothing.text
    form = await maya.click(card, "Leave a message")
    await (await maya.submit_modal(form, **{"support:text": "I keep waking at 3am and spiralling"})).settled()
    queued = await maya.wait_for_dm("queued for the next listener shift")
    assert "Your message will be the first thing they read" in queued.text
    row = await conversation(sbot)
    assert row["status"] == "queued"
    held = await sbot.services.db.fetchone("SELECT ciphertext, status FROM support_outbox WHERE stream = 'listener'")
    assert held is not None and held["status"] == "pending" and b"3am" not in held["ciphertext"]
    sam = sandbox.member("sam")
    card2 = (await ask(sam)).messages[-1]
    await (await sam.click(card2, "Queue for the next shift")).settled()
    await sam.wait_for_dm("queued for the next listener shift")
    assert not [m for m in lena.dms if "Someone would like to talk" in m.text]
    clock.set(datetime(2026, 3, 24, 19, 1, tzinfo=UTC))
    await run_due(sbot)
    await maya.wait_for_dm("A listener shift has started")
    await sandbox.wait_for(
        lambda: len([m for m in lena.dms if "Someone would like to talk" in m.text]) == 2, "two offers"
    )
    offers = [m for m in lena.dms if "Someone would like to talk" in m.text]
    await (await lena.click(offers[0], "Accept")).settled()
    await deliver_all(sbot, clock)
    assert relayed(lena, "Member · ") == ["I keep waking at 3am and spiralling"]


async def test_nobody_on_shift_and_no_shift_planned_tells_the_coordinators(
    sandbox: Sandbox, sbot: PeerCirclesBot
) -> None:
    await setup_server(sandbox)
    await become_listener(sandbox, "lena")
    maya = sandbox.member("maya")
    answered = await ask(maya)
    assert "No shift is planned yet" in answered.text
    assert answered.messages[-1].buttons == ["Leave a message", "Not now"]
    form = await maya.click(answered.messages[-1], "Leave a message")
    await (await maya.submit_modal(form, **{"support:text": "whenever someone can"})).settled()
    alert = await sandbox.channel("moderation").wait_for_message("left a message for a listener")
    assert alert.buttons == ["Accept"]


async def test_a_listener_at_their_limit_gets_no_new_offers(sandbox: Sandbox, sbot: PeerCirclesBot) -> None:
    _, lena, _ = await talking(sandbox, sbot)
    omar = await become_listener(sandbox, "omar")
    await on_call(omar)
    offers_before = len([m for m in lena.dms if "Someone" in m.text])
    sam = sandbox.member("sam")
    await ask(sam)
    await accept(omar)
    assert len([m for m in lena.dms if "Someone" in m.text]) == offers_before, "Lena is at her limit of 1"
    tom = sandbox.member("tom")
    await ask(tom)
    busy = await tom.wait_for_dm("The listeners on shift are all with someone right now")
    assert busy.buttons == ["Withdraw request"]
    await sandbox.channel("moderation").wait_for_message("has been waiting for a listener")


async def test_handoff_to_another_listener_on_shift(sandbox: Sandbox, sbot: PeerCirclesBot) -> None:
    _, lena, maya = await talking(sandbox, sbot)
    intro = next(m for m in lena.dms if "Hand off" in m.buttons)
    alone = await lena.click(intro, "Hand off")
    refused = await (await lena.submit_modal(alone, **{"support:text": ""})).settled()
    assert "No other listener on shift is free" in refused.text
    omar = await become_listener(sandbox, "omar")
    await on_call(omar)
    form = await lena.click(intro, "Hand off")
    await (await lena.submit_modal(form, **{"support:text": "They're worried about work; go gently"})).settled()
    offer = await omar.wait_for_dm("A colleague asks you to take over")
    assert "go gently" in offer.text
    await (await omar.click(offer, "Accept")).settled()
    assert "You've taken over the conversation" in offer.text
    told = await maya.wait_for_dm("passed to another listener")
    assert "Listener · " in told.text
    await lena.wait_for_dm("took over the conversation")
    await dm(sbot, maya, "hello again")
    await omar.wait_for_dm("hello again")
    await deliver_all(sbot)
    assert "hello again" not in " ".join(texts(lena))
    row = await conversation(sbot)
    assert row["listener_user_id"] == omar.id and row["handoffs"] == 1


async def test_a_block_holds_across_anonymous_requests(sandbox: Sandbox, sbot: PeerCirclesBot) -> None:
    ana, lena, maya = await talking(sandbox, sbot)
    intro = next(m for m in lena.dms if "End and block" in m.buttons)
    confirm = await lena.click(intro, "End and block")
    assert "End and block Member · " in confirm.text
    await (await lena.click(confirm, "End and block")).settled()
    await maya.wait_for_dm("can't request one-to-one support in this server for a while")
    alert = await sandbox.channel("moderation").wait_for_message("blocked the member")
    assert alert.buttons == ["Lift block"] and str(maya.id) not in json.dumps(alert.to_dict())
    block = await sbot.services.db.fetchone("SELECT * FROM support_blocks")
    assert block is not None and block["member_user_hash"] and str(maya.id) not in json.dumps(dict(block), default=repr)
    refused = await maya.slash("support ask")
    assert "can't request one-to-one support in this server right now" in refused.text
    await (await ana.click(alert, "Lift block")).settled()
    assert "lifted a support block" in alert.text
    opened = await maya.slash("support ask")
    assert opened.kind == "modal"


async def test_an_urgent_message_alerts_coordinators_without_identity(sandbox: Sandbox, sbot: PeerCirclesBot) -> None:
    _, lena, maya = await talking(sandbox, sbot, region="GB")
    await dm(sbot, maya, CRISIS)
    await deliver_all(sbot)
    banner = await lena.wait_for_dm("may mean Member · ")
    assert (
        "immediate danger" in banner.text
        and "Samaritans" in banner.text
        and "coordinators have been alerted" in banner.text
    )
    index = texts(lena).index(banner.text)
    assert CRISIS in texts(lena)[index + 1], "the steps come before the message"
    resources = await maya.wait_for_dm("You don't have to carry this alone")
    assert "Samaritans" in resources.text
    alert = await sandbox.channel("moderation").wait_for_message("may be in immediate danger")
    assert f"<@{lena.id}>" in alert.text
    for secret in (str(maya.id), maya.user.username, maya.user.display_name):
        assert secret not in json.dumps(alert.to_dict())
    assert CRISIS not in alert.text
    # A member who chose to be named is named to the coordinators.
    await lena.slash("listener limits", max_conversations=2)
    sam = sandbox.member("sam", global_name="Sam Open")
    seen = len(lena.dms)
    await ask(sam, named=True)
    await accept(lena, after=seen)
    await dm(sbot, sam, "I'm going to kill myself tonight")
    named = await sandbox.channel("moderation").wait_for_message("They chose to be named: **Sam Open**")
    assert "immediate danger" in named.text


async def test_messages_without_a_conversation_files_and_held_messages(sandbox: Sandbox, sbot: PeerCirclesBot) -> None:
    await setup_server(sandbox)
    lena = await become_listener(sandbox, "lena")
    await on_call(lena)
    sam = sandbox.member("sam")
    await dm(sbot, sam, "hello? is anyone there")
    helpful = await sam.wait_for_dm("You're not in a conversation with a listener right now")
    assert "/support ask" in helpful.text and "/resources" in helpful.text
    maya = sandbox.member("maya")
    await ask(maya, where="dm")  # from the DM with the bot: the server is found for her
    assert (await conversation(sbot))["source"] == "dm"
    await dm(sbot, maya, "are you there?")
    await maya.wait_for_dm("No listener has joined yet")
    await accept(lena)
    await deliver_all(sbot)
    assert relayed(lena, "Member · ") == ["are you there?"]
    await dm(sbot, maya, "here's a photo of me", files=[("me.jpg", b"\xff\xd8 not really a jpeg")])
    note = await maya.wait_for_dm("Files, images and stickers aren't passed on")
    assert note
    await deliver_all(sbot)
    assert relayed(lena, "Member · ")[-1] == "here's a photo of me"
    assert not any(m.attachments for m in lena.dms)


async def test_withdrawing_a_request_settles_the_offers(sandbox: Sandbox, sbot: PeerCirclesBot) -> None:
    await setup_server(sandbox)
    lena = await become_listener(sandbox, "lena")
    await on_call(lena)
    maya = sandbox.member("maya")
    await ask(maya)
    await dm(sbot, maya, "waiting...")
    received = await maya.wait_for_dm("Your request for a listener is in")
    offer = await offer_to(lena)
    await (await maya.click(received, "Withdraw request")).settled()
    await sandbox.wait_for(lambda: "The member withdrew this request" in offer.text, "the offer to be withdrawn")
    await maya.wait_for_dm("Your request was withdrawn")
    rows = await sbot.services.db.fetchall("SELECT status, ciphertext FROM support_outbox WHERE stream = 'listener'")
    assert [r["status"] for r in rows] == ["dropped"] and rows[0]["ciphertext"] is None
    assert (await conversation(sbot))["status"] == "cancelled"


async def test_idle_conversations_close_with_a_notice_to_both(
    sandbox: Sandbox, sbot: PeerCirclesBot, clock: FakeClock
) -> None:
    _, lena, maya = await talking(sandbox, sbot)
    clock.advance(timedelta(minutes=30))
    await dm(sbot, maya, "still here")
    clock.advance(timedelta(minutes=59))
    await run_due(sbot)
    assert (await conversation(sbot))["status"] == "active", "activity pushed the idle close back"
    clock.advance(timedelta(minutes=2))
    await run_due(sbot)
    await maya.wait_for_dm("closed after 60 minutes without messages")
    await maya.wait_for_dm("Was this helpful?")
    await lena.wait_for_dm("was closed after 60 minutes")
    assert (await conversation(sbot))["closed_by"] == "idle"


async def test_a_listener_with_two_conversations_chooses_where_a_message_goes(
    sandbox: Sandbox, sbot: PeerCirclesBot
) -> None:
    _, lena, maya = await talking(sandbox, sbot)
    await lena.slash("listener limits", max_conversations=2)
    sam = sandbox.member("sam")
    seen = len(lena.dms)
    await ask(sam)
    await accept(lena, after=seen)
    await dm(sbot, maya, "from maya")
    from_maya = await lena.wait_for_dm("from maya")
    await dm(sbot, lena, "for maya", reply_to=from_maya)  # a reply says where it goes
    await maya.wait_for_dm("for maya")
    await dm(sbot, lena, "for whom?")
    chooser = await lena.wait_for_dm("Where should this message go?")
    tags = [
        r["member_tag"]
        for r in await sbot.services.db.fetchall("SELECT member_tag FROM support_conversations ORDER BY id")
    ]
    assert chooser.buttons == [f"Send to Member · {tags[0]}", f"Send to Member · {tags[1]}"]
    assert "for whom?" not in chooser.text, "the words wait in memory only"
    await lena.click(chooser, f"Send to Member · {tags[1]}")
    assert "Sent to Member · " in chooser.text
    await sam.wait_for_dm("for whom?")
    await deliver_all(sbot)
    assert relayed(maya, "Listener · ") == ["for maya"] and relayed(sam, "Listener · ") == ["for whom?"]


async def test_thread_mode_relays_into_a_private_thread(sandbox: Sandbox, sbot: PeerCirclesBot) -> None:
    await setup_server(sandbox, relay="thread")
    lena = await become_listener(sandbox, "lena")
    await on_call(lena)
    maya = sandbox.member("maya")
    await ask(maya)
    offer = await accept(lena)
    assert "private thread" in offer.text
    threads = sandbox.channel("listeners").threads
    assert len(threads) == 1 and threads[0].name.startswith("Support · Member · ")
    thread = threads[0]
    await dm(sbot, maya, "hello from the member")
    relayed_msg = await thread.wait_for_message("hello from the member")
    assert relayed_msg.buttons == ["Reply to the member"]
    sam = sandbox.member("sam")
    with pytest.raises(SandboxError, match="can't see"):
        await sam.click(relayed_msg, "Reply to the member")
    form = await lena.click(relayed_msg, "Reply to the member")
    await (await lena.submit_modal(form, **{"support:text": "hello from the listener"})).settled()
    await maya.wait_for_dm("hello from the listener")
    await dm(sbot, lena, "typed in my DM")
    await lena.wait_for_dm("is in the private thread")
    ended = await (await lena.slash("support end", where=thread.channel)).settled()
    assert "You ended the conversation" in ended.text
    await maya.wait_for_dm("ended the conversation")


async def test_faults_and_a_restart_deliver_every_message_exactly_once_in_order(
    sandbox: Sandbox, sbot: PeerCirclesBot, timed: BotHarness, clock: FakeClock
) -> None:
    _, lena, maya = await talking(sandbox, sbot)
    server = sandbox.server
    server.inject("5xx", route=DM_ROUTE, times=2, status=503)  # the first two sends fail for sure
    server.inject("429", route=DM_ROUTE, times=40, retry_after=0.01, probability=0.3)
    to_lena = [f"member message {i}" for i in range(1, 7)]
    to_maya = [f"listener message {i}" for i in range(1, 7)]
    for a, b in zip(to_lena[:3], to_maya[:3], strict=True):
        await dm(sbot, maya, a)
        await dm(sbot, lena, b)
    await services(sbot).outbox.drain()
    pending = await sbot.services.db.fetchone("SELECT COUNT(*) AS n FROM support_outbox WHERE status = 'pending'")
    assert pending is not None and pending["n"] > 0, "the restart comes with messages still undelivered"
    await timed.restart()  # the process stops mid-conversation
    assert isinstance(timed.bot, PeerCirclesBot)
    bot = timed.bot
    server.inject("5xx", route=DM_ROUTE, times=40, status=503, probability=0.3)
    server.inject("5xx", route=DM_ROUTE, times=3, status=503, probability=0.5, after_success=True)
    for a, b in zip(to_lena[3:], to_maya[3:], strict=True):
        await dm(bot, maya, a)
        await dm(bot, lena, b)
    await deliver_all(bot, clock)
    assert relayed(lena, "Member · ") == to_lena, "each exactly once, in order"
    assert relayed(maya, "Listener · ") == to_maya, "each exactly once, in order"
    failures = [r for r in server.requests if r.route == DM_ROUTE and r.status >= 429]
    assert failures, "faults were injected"
    rows = await bot.services.db.fetchall("SELECT status, ciphertext, discord_message_id FROM support_outbox")
    assert all(r["status"] == "delivered" and r["ciphertext"] is None and r["discord_message_id"] for r in rows)


async def test_a_lost_response_does_not_deliver_twice(sandbox: Sandbox, sbot: PeerCirclesBot, clock: FakeClock) -> None:
    _, lena, maya = await talking(sandbox, sbot)
    sandbox.server.inject("5xx", route=DM_ROUTE, times=2, status=503, after_success=True)
    await dm(sbot, maya, "only once, please")
    await deliver_all(sbot, clock)
    assert relayed(lena, "Member · ") == ["only once, please"]
    row = await sbot.services.db.fetchone("SELECT attempts, status FROM support_outbox WHERE stream = 'listener'")
    assert row is not None and row["status"] == "delivered" and row["attempts"] >= 3


async def test_closed_dms_are_said_plainly(sandbox: Sandbox, sbot: PeerCirclesBot) -> None:
    await setup_server(sandbox)
    lena = await become_listener(sandbox, "lena")
    await on_call(lena)
    maya = sandbox.member("maya")
    maya.dms_open = False
    opened = await maya.slash("support ask")
    done = await (await maya.submit_modal(opened, **{"support:topic": "", "support:appear": ["anonymous"]})).settled()
    assert "I couldn't send you a direct message" in done.text
    assert await sbot.services.db.fetchall("SELECT * FROM support_conversations") == []
    assert not [m for m in lena.dms if "Someone" in m.text], "nobody was told"


async def test_privacy_export_and_delete_cover_listeners_and_support(sandbox: Sandbox, sbot: PeerCirclesBot) -> None:
    _, lena, maya = await talking(sandbox, sbot)
    guild = sandbox.guild.id
    registry = sbot.services.privacy
    member_export = await registry.export_user(guild, maya.id)
    mine = member_export["support_conversations"]
    assert [c["role"] for c in mine] == ["member"] and mine[0]["listener_tag"]
    assert str(lena.id) not in json.dumps(member_export, default=str), "the member's export doesn't name the listener"
    listener_export = await registry.export_user(guild, lena.id)
    assert listener_export["listeners"][0]["status"] == "active" and listener_export["listener_oncall"]
    assert [c["role"] for c in listener_export["support_conversations"]] == ["listener"]
    assert str(maya.id) not in json.dumps(listener_export, default=str)
    overview = await maya.slash("privacy")
    assert "one-to-one support" in overview.text and "listener" in overview.text
    await registry.delete_user(guild, maya.id)
    row = await conversation(sbot)
    assert row["member_user_hash"] is None and row["member_user_enc"] is None and row["status"] == "closed"
    assert (await registry.export_user(guild, maya.id))["support_conversations"] == []
    await dm(sbot, maya, "are you still there?")
    await maya.wait_for_dm("You're not in a conversation")
    await registry.delete_user(guild, lena.id)
    assert await services(sbot).rota.listener(guild, lena.id) is None


async def test_a_burst_of_messages_sent_without_waiting_arrives_in_order(
    sandbox: Sandbox, sbot: PeerCirclesBot
) -> None:
    """People type fast: each message is its own gateway event and discord.py handles each in its own
    task, so the bot must keep a person's messages in the order they were sent."""
    _, lena, maya = await talking(sandbox, sbot)
    burst = [f"line {k}: " + "so much to say " * (k % 4) for k in range(15)]
    burst[3] = CRISIS  # takes the longer path (resources first, an alert): later lines must not overtake it
    handled: list[int] = []
    done = asyncio.Event()

    def count(message_id: int, user_id: int) -> bool:
        if user_id == maya.id:
            handled.append(message_id)
        if len(handled) == len(burst):
            done.set()
        return False

    waiter = asyncio.ensure_future(sbot.wait_for("support_dm_handled", check=count, timeout=10))
    sent = [await maya.send_dm(text) for text in burst]  # no waiting for the bot in between
    await asyncio.wait_for(done.wait(), 10)
    waiter.cancel()
    await deliver_all(sbot)
    assert relayed(lena, "Member · ") == [text.strip() for text in burst]
    assert handled == [m.id for m in sent]


async def test_an_urgent_message_in_spanish_alerts_coordinators_without_identity(
    sandbox: Sandbox, sbot: PeerCirclesBot
) -> None:
    _, lena, maya = await talking(sandbox, sbot, region="ES")
    crisis = "ya tengo las pastillas contadas en la mesa y esta noche lo hago, no llames a nadie"
    await dm(sbot, maya, crisis)
    await deliver_all(sbot)
    banner = await lena.wait_for_dm("may mean Member · ")
    assert "immediate danger" in banner.text and "coordinators have been alerted" in banner.text
    resources = await maya.wait_for_dm("You don't have to carry this alone")
    assert "024" in resources.text
    alert = await sandbox.channel("moderation").wait_for_message("may be in immediate danger")
    for secret in (str(maya.id), maya.user.username, maya.user.display_name, crisis):
        assert secret not in json.dumps(alert.to_dict())


async def test_each_side_reads_support_in_their_own_language(
    sandbox: Sandbox, sbot: PeerCirclesBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member whose Discord is in German, a listener in Brazilian Portuguese, a server in Spanish:
    the member's private replies and DMs are German, the listener's offer, relay labels and notices
    Portuguese, the coordinators' alert Spanish (and still without the member's identity)."""
    from tests.i18n_fakes import marked, marked_catalogues

    with marked_catalogues(monkeypatch):
        await setup_server(sandbox)
        lena = await become_listener(sandbox, "lena", global_name="Lena Private")
        lena = sandbox.member("lena", locale="pt-BR")
        await on_call(lena)  # she now uses the bot in Portuguese: her DMs follow
        await sandbox.server.set_guild_locale(sandbox.guild, "es-ES")
        maya = sandbox.member("maya", global_name="Maya Secret", locale="de")

        answered = await ask(maya, "eine schwere Woche")
        assert answered.ephemeral and answered.text.startswith(marked("de", "**Your request is in.**"))
        received = await maya.wait_for_dm("Your request for a listener is in")
        assert received.text.startswith("[de] ") and received.buttons == [marked("de", "Withdraw request")]

        offer = await offer_to(lena)
        assert offer.text.startswith(marked("pt_BR", "💬 **Someone would like to talk.**"))
        assert marked("pt_BR", "Member · ") in offer.text
        assert offer.buttons == [marked("pt_BR", "Accept"), marked("pt_BR", "Pass")]
        await (await lena.click(offer, marked("pt_BR", "Accept"))).settled()
        assert marked("pt_BR", "**You're now talking with [pt_BR] Member · ") in offer.text
        joined = await maya.wait_for_dm("has joined")
        assert joined.text.startswith(marked("de", "**[de] Listener · "))
        assert joined.buttons == [marked("de", "Share my account with the listener"), marked("de", "End conversation")]

        row = await conversation(sbot)
        await dm(sbot, maya, "hallo, danke")
        await dm(sbot, lena, "olá, estou aqui")
        await deliver_all(sbot)
        assert relayed(lena, "[pt_BR] Member · ") == ["hallo, danke"]
        assert relayed(maya, "[de] Listener · ") == ["olá, estou aqui"]
        assert f"**[pt_BR] Member · {row['member_tag']}**" in texts(lena)[-1]

        await dm(sbot, maya, CRISIS)
        await deliver_all(sbot)
        banner = await lena.wait_for_dm("may mean")
        assert banner.text.startswith(marked("pt_BR", "🚨 **This message may mean [pt_BR] Member · "))
        resources = await maya.wait_for_dm("You don't have to carry this alone")
        assert resources.text.startswith("[de] ")
        alert = await sandbox.channel("moderation").wait_for_message("may be in immediate danger")
        assert alert.text.startswith(marked("es", "🚨 **A member asking for support may be in immediate danger.**"))
        assert f"<@{lena.id}> ([es] Listener · " in alert.text
        for secret in (str(maya.id), maya.user.username, maya.user.display_name, CRISIS):
            assert secret not in json.dumps(alert.to_dict())
        assert "[de]" not in alert.text and "[pt_BR]" not in alert.text

        ended = await (await maya.slash("support end", where="dm")).settled()
        assert ended.text.startswith(marked("de", "You ended the conversation."))
        await deliver_all(sbot)
        feedback = await maya.wait_for_dm("Was this helpful?")
        assert feedback.text.startswith("[de] ")
        after = await lena.wait_for_dm("ended the conversation")
        assert after.text.startswith(marked("pt_BR", "[pt_BR] [pt_BR] Member · "))
        assert after.buttons == [marked("pt_BR", "That one was heavy")]


async def test_an_urgent_request_shows_the_member_help_before_anyone_is_alerted(
    sandbox: Sandbox, sbot: PeerCirclesBot
) -> None:
    """/support ask with a topic the crisis screen grades urgent: the member's first answer is the
    crisis card, sent before the coordinators' alert (which says they have been shown it)."""
    await setup_server(sandbox)
    lena = await become_listener(sandbox, "lena")
    await on_call(lena)
    maya = sandbox.member("maya", global_name="Maya Secret")
    answered = await ask(maya, "I'm going to kill myself tonight")
    help_card = answered.messages[0]
    assert help_card.ephemeral and "You don't have to carry this alone" in help_card.text
    assert "Your request is in" not in help_card.text
    alert = await sandbox.channel("moderation").wait_for_message("may be in immediate danger")
    assert help_card.id < alert.id, "the member sees help before the coordinators are told"
    request_in = await sandbox.wait_for(
        lambda: next((m for m in answered.messages if "Your request is in" in m.text), None), "the request answer"
    )
    assert request_in.ephemeral and "carry this alone" not in request_in.text
    for secret in (str(maya.id), maya.user.username, "Maya Secret"):
        assert secret not in json.dumps(alert.to_dict())
