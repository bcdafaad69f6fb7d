"""SupportService on a real database with fake Discord ports and a FakeClock: routing and limits,
first accept wins, escalation, queueing, the relay rules, ending, handoff, blocks, privacy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.services.support.models import RELAY_CHUNK, chunks, member_context
from bot.storage.database import Database
from tests.support_harness import World

START = datetime(2026, 3, 23, 12, 0, tzinfo=UTC)  # Monday
G = World.GUILD
MAYA, SAM, TOM = 4242, 5151, 6161
LENA, OMAR, KIM = 701, 702, 703
CRISIS = "I have the pills ready and I'm going to end it tonight."


@pytest.fixture
async def world(db: Database) -> World:
    w = World(db, START)
    await w.scheduler.start()
    await w.setup()
    return w


async def talking(world: World, member: int = MAYA, listener: int = LENA, topic: str | None = "a hard week") -> str:
    if await world.listeners.listener(G, listener) is None:
        await world.listener(listener, on_call=True)
    before = len(world.port.offers)
    outcome = await world.support.open_request(G, member, topic, "command")
    assert outcome.status == "offered" and outcome.conversation is not None
    offer = next(card for uid, card in world.port.offers[before:] if uid == listener)
    await world.support.accept_offer(offer.offer_public_id, listener)
    return outcome.conversation.public_id


# -- asking and routing -------------------------------------------------------------------------


async def test_requests_go_to_listeners_on_shift_under_their_limits(world: World) -> None:
    await world.listener(LENA, on_call=True)
    await world.listener(OMAR, on_call=True)
    await world.listener(KIM)  # not on shift
    outcome = await world.support.open_request(G, MAYA, "can't sleep", "command")
    assert outcome.status == "offered" and outcome.offered == 2
    assert sorted(world.port.offered_to()) == [LENA, OMAR]
    assert world.port.told[0][:2] == (MAYA, "request_received")
    conv = outcome.conversation
    assert conv is not None and conv.member_user_hash == world.keyring.member_hash(G, MAYA)
    assert world.keyring.decrypt_id(conv.member_user_enc or b"", member_context(conv.public_id)) == MAYA
    assert world.support.topic(conv) == "can't sleep" and b"sleep" not in (conv.topic_enc or b"")
    offer = world.port.offers[0][1]
    assert (offer.member_tag, offer.member_name) == (conv.member_tag, None)  # anonymous: a tag, no name


async def test_break_cooldown_capacity_and_weekly_hours_keep_a_listener_out(world: World) -> None:
    await world.listener(LENA, on_call=True)
    everyone = {LENA}
    assert await world.support.eligible(G, everyone) == [LENA]
    await world.rota.toggle_break(G, LENA)
    assert await world.support.eligible(G, everyone) == []
    await world.rota.toggle_break(G, LENA)
    await world.rota.start_cooldown(G, LENA)
    assert await world.support.eligible(G, everyone) == []
    world.clock.advance(timedelta(minutes=31))
    assert await world.support.eligible(G, everyone) == [LENA]
    await world.rota.set_limits(G, LENA, max_hours=1)
    world.clock.advance(timedelta(hours=1))  # on call for 1h31 this week now
    assert await world.support.eligible(G, everyone) == []
    await world.rota.set_limits(G, LENA, max_hours=0)
    assert await world.support.eligible(G, everyone) == [LENA]
    # Never offered their own request.
    assert await world.support.eligible(G, everyone, member_hash=world.keyring.member_hash(G, LENA)) == []


async def test_nobody_on_shift_stores_nothing_and_names_the_next_shift(world: World) -> None:
    await world.listener(LENA)
    nothing = await world.support.open_request(G, MAYA, None, "command")
    assert nothing.status == "nobody" and nothing.next_shift is None
    slot = await world.rota.add_slot(G, world.coordinator, start="19:00", hours=2, weekday=1)
    await world.rota.take(G, LENA, f"{slot.id}:2026-03-24")
    await world.member_time.set(G, MAYA, "Asia/Tokyo")
    queued_at = await world.support.open_request(G, MAYA, None, "command")
    assert queued_at.next_shift == datetime(2026, 3, 24, 19, 0, tzinfo=UTC) and queued_at.zone == "Asia/Tokyo"
    assert await world.db.fetchall("SELECT * FROM support_conversations") == []
    assert world.port.offers == [] and world.port.told == []


async def test_closed_dms_refuse_the_request_and_keep_nothing(world: World) -> None:
    await world.listener(LENA, on_call=True)
    world.port.dms_closed.add(MAYA)
    with pytest.raises(InvalidInput, match="couldn't send you a direct message"):
        await world.support.open_request(G, MAYA, None, "command")
    assert await world.db.fetchall("SELECT * FROM support_conversations") == []
    assert world.port.offers == []


async def test_a_discord_hiccup_is_not_mistaken_for_closed_dms(world: World) -> None:
    await world.listener(LENA, on_call=True)
    world.port.tell_raises = True
    with pytest.raises(InvalidInput, match="Discord didn't take my message"):
        await world.support.open_request(G, MAYA, None, "command")
    assert await world.db.fetchall("SELECT * FROM support_conversations") == []


async def test_jobs_missed_while_the_bot_was_down_are_restored(world: World) -> None:
    await world.listener(LENA, on_call=True)
    await world.listener(KIM)
    outcome = await world.support.open_request(G, MAYA, None, "command")
    assert outcome.conversation is not None
    pid = outcome.conversation.public_id
    for job in await world.scheduler.jobs.pending():
        if job.id.startswith(f"support:{pid}:"):
            await world.scheduler.jobs.mark_missed(job.id, world.clock.now(), "down too long")
    assert await world.support.ensure_scheduled() == 1
    assert await world.support.ensure_scheduled() == 0, "idempotent"
    await world.run_due()
    assert world.port.offered_to() == [LENA, KIM], "the escalation happened after all"
    kim_offer = next(card for uid, card in world.port.offers if uid == KIM)
    active = (await world.support.accept_offer(kim_offer.offer_public_id, KIM)).conversation.public_id
    for job in await world.scheduler.jobs.pending():
        if job.id.startswith(f"support:{active}:"):
            await world.scheduler.jobs.mark_missed(job.id, world.clock.now(), "down too long")
    await world.support.ensure_scheduled()
    idle = [j for j in await world.scheduler.jobs.pending() if j.id == f"support:{active}:idle"]
    assert len(idle) == 1 and idle[0].run_at == world.clock.now() + timedelta(minutes=60)


async def test_one_open_request_at_a_time_and_no_listeners_no_support(world: World) -> None:
    with pytest.raises(InvalidInput, match="doesn't have volunteer listeners"):
        await world.support.open_request(G, MAYA, None, "command")
    await talking(world)
    with pytest.raises(Conflict, match="conversation with a listener is open"):
        await world.support.check_can_request(G, MAYA)


async def test_the_entry_point_for_other_features(world: World, db: Database) -> None:
    await world.listener(LENA, on_call=True)
    outcome = await world.support.open_request(G, MAYA, None, "checkin")
    assert outcome.conversation is not None and outcome.conversation.source == "checkin"
    other = await world.support.open_request(G, SAM, None, "nonsense-source")
    assert other.conversation is not None and other.conversation.source == "other"


# -- accepting ----------------------------------------------------------------------------------


async def test_the_first_to_accept_gets_it_and_the_others_are_withdrawn(world: World) -> None:
    await world.listener(LENA, on_call=True)
    await world.listener(OMAR, on_call=True)
    await world.support.open_request(G, MAYA, None, "command")
    cards = {uid: card for uid, card in world.port.offers}
    results = await asyncio.gather(
        world.support.accept_offer(cards[LENA].offer_public_id, LENA),
        world.support.accept_offer(cards[OMAR].offer_public_id, OMAR),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert len(winners) == 1 and len(losers) == 1
    assert "Another listener already took this one" in str(losers[0])
    conv = await world.conversation()
    assert conv.status == "active" and conv.listener_user_id in (LENA, OMAR) and conv.listener_tag
    assert [outcome for _, outcome in world.port.closed_offers] in ([], ["taken"])
    await world.outbox.drain()
    assert world.transport.codes(MAYA)[-1] == "accepted"
    with pytest.raises(NotFound):
        await world.support.accept_offer(cards[LENA].offer_public_id, OMAR)  # not their offer


async def test_the_concurrency_limit_is_checked_at_accept(world: World) -> None:
    await world.listener(LENA, on_call=True, max_conversations=1)
    await talking(world)
    assert await world.support.eligible(G, {LENA}) == []
    await world.listener(OMAR, on_call=True)
    outcome = await world.support.open_request(G, SAM, None, "command")
    assert outcome.status == "offered" and world.port.offers[-1][0] == OMAR
    # A stale offer to Lena (made before she took Maya) can't take her over her limit.
    conv = outcome.conversation
    assert conv is not None
    offer = await world.repo.add_offer(conv, LENA, "request", 0, world.clock.now())
    with pytest.raises(Conflict, match="your limit at once"):
        await world.support.accept_offer(offer.public_id, LENA)


async def test_escalation_goes_to_every_listener_then_the_coordinators(world: World) -> None:
    await world.listener(LENA, on_call=True)
    await world.listener(KIM)
    outcome = await world.support.open_request(G, MAYA, None, "command")
    assert world.port.offered_to() == [LENA]
    world.clock.advance(timedelta(minutes=5))
    await world.run_due()
    assert world.port.offered_to() == [LENA, KIM] and world.port.offers[-1][1].stage == 1
    assert world.transport.codes(MAYA)[-1] == "escalated_all"
    world.clock.advance(timedelta(minutes=5))
    await world.run_due()
    assert [a.kind for a in world.port.alerts] == ["request"]
    assert "named" in world.port.alerts[0].params and world.port.alerts[0].params["named"] is None
    assert world.transport.codes(MAYA)[-1] == "escalated_coordinators"
    world.clock.advance(timedelta(minutes=5))
    await world.run_due()
    assert world.transport.codes(MAYA)[-1] == "long_wait"
    assert outcome.conversation is not None
    accepted = await world.support.coordinator_accept(outcome.conversation.public_id, world.coordinator)
    assert accepted.conversation.listener_user_id == 1
    assert world.port.alert_updates[-1][1] == "taken"
    assert sorted(outcome for _, outcome in world.port.closed_offers) == ["taken", "taken"]


async def test_when_everyone_passes_it_moves_on_at_once(world: World) -> None:
    await world.listener(LENA, on_call=True)
    await world.listener(KIM)
    await world.support.open_request(G, MAYA, None, "command")
    card = world.port.offers[0][1]
    await world.support.pass_offer(card.offer_public_id, LENA)
    assert world.port.offered_to() == [LENA, KIM]
    with pytest.raises(Conflict):
        await world.support.pass_offer(card.offer_public_id, LENA)


async def test_busy_listeners_on_shift_send_the_request_straight_on(world: World) -> None:
    await talking(world)
    await world.listener(KIM)
    outcome = await world.support.open_request(G, SAM, None, "command")
    assert outcome.status == "escalated"
    assert world.port.told[-1][2]["busy"] is True
    assert world.port.offers[-1][0] == KIM and world.port.offers[-1][1].stage == 1


async def test_queued_requests_are_offered_when_a_shift_starts(world: World) -> None:
    await world.listener(LENA)
    slot = await world.rota.add_slot(G, world.coordinator, start="19:00", hours=2, weekday=0)  # Mondays
    await world.rota.take(G, LENA, f"{slot.id}:2026-03-23")
    conv = await world.support.queue_request(G, MAYA, "nights", "command", message="I keep waking at 3am")
    assert conv.status == "queued" and world.port.told[-1][1] == "queued"
    assert world.port.told[-1][2]["local"] == "19:00 on Monday 23 March 2026 (Europe/London)"
    rows = await world.repo.outbox_rows(conv.id)
    assert len(rows) == 1 and rows[0].stream == "listener" and b"3am" not in (rows[0].ciphertext or b"")
    await world.outbox.drain()
    assert world.transport.to(LENA) == []
    world.clock.set(datetime(2026, 3, 23, 19, 1, tzinfo=UTC))
    await world.run_due()
    assert world.port.offered_to() == [LENA]
    await world.support.accept_offer(world.port.offers[0][1].offer_public_id, LENA)
    await world.outbox.drain()
    assert world.transport.texts(LENA) == ["I keep waking at 3am"]


async def test_a_queue_with_no_shift_planned_tells_the_coordinators(world: World) -> None:
    await world.listener(LENA)
    await world.support.queue_request(G, MAYA, None, "command", message="whenever")
    assert [a.kind for a in world.port.alerts] == ["message_left"]
    with pytest.raises(InvalidInput, match="message is empty"):
        await world.support.queue_request(G, SAM, None, "command", message="   ")


# -- the relay ----------------------------------------------------------------------------------


async def test_routes_for_a_dm_and_choosing_by_reply(world: World) -> None:
    pid = await talking(world)
    routes = await world.support.routes_for(MAYA)
    assert [(r.conversation.public_id, r.side) for r in routes] == [(pid, "member")]
    assert [(r.side) for r in await world.support.routes_for(LENA)] == ["listener"]
    assert await world.support.routes_for(TOM) == []
    await world.rota.set_limits(G, LENA, max_conversations=2)
    await talking(world, member=SAM)
    assert len(await world.support.route_dm(LENA, None)) == 2
    await world.support.relay(await world.repo.by_public_id(pid) or (await world.conversation()), "member", "hi")
    await world.outbox.drain()
    row = await world.db.fetchone(
        "SELECT discord_message_id FROM support_outbox WHERE stream = 'listener' AND kind = 'relay'"
    )
    assert row is not None
    chosen = await world.support.route_dm(LENA, row["discord_message_id"])
    assert [r.conversation.public_id for r in chosen] == [pid]


async def test_relay_labels_sanitises_and_splits(world: World) -> None:
    pid = await talking(world)
    conv = await world.support.get(pid)
    result = await world.support.relay(conv, "member", f"hey <@{LENA}> @everyone " + "x" * (RELAY_CHUNK + 10))
    assert result.pieces == 2 and not result.held
    await world.outbox.drain()
    sent = world.transport.to(LENA)
    # Who wrote it travels as the side and the writer's tag; each reader's label is made from those.
    assert (sent[0]["from"], sent[0]["tag"]) == ("member", conv.member_tag)
    assert "<@" not in sent[0]["text"].replace("<\u200b@", "")
    assert "@\u200beveryone" in sent[0]["text"]
    reply = await world.support.relay(conv, "listener", "I hear you")
    assert reply.pieces == 1
    await world.outbox.drain()
    assert (world.transport.to(MAYA)[-1]["from"], world.transport.to(MAYA)[-1]["tag"]) == (
        "listener",
        conv.listener_tag,
    )
    empty = await world.support.relay(conv, "member", "   ", attachments=1)
    assert empty.empty and empty.attachments_skipped == 1


async def test_an_urgent_message_banners_the_listener_and_alerts_once_without_identity(world: World) -> None:
    pid = await talking(world)
    conv = await world.support.get(pid)
    result = await world.support.relay(conv, "member", CRISIS)
    assert result.urgent
    await world.outbox.drain()
    assert world.transport.codes(LENA)[-2:] == ["urgent_banner", "relay"]
    assert "resources" in world.transport.codes(MAYA)
    (alert,) = world.port.alerts
    assert alert.kind == "urgent" and alert.params["named"] is None and alert.params["listener_user_id"] == LENA
    assert MAYA not in alert.params.values() and CRISIS not in str(alert.params)
    await world.support.relay(conv, "member", CRISIS)
    assert len(world.port.alerts) == 1, "at most one alert per half hour"
    world.clock.advance(timedelta(minutes=31))
    await world.support.relay(conv, "member", CRISIS)
    assert len(world.port.alerts) == 2


async def test_an_urgent_topic_alerts_at_once_and_a_named_member_is_named(world: World) -> None:
    await world.listener(LENA, on_call=True)
    await world.support.open_request(G, MAYA, "I'm going to kill myself", "command", named_as="Maya <@1>")
    (alert,) = world.port.alerts
    assert alert.kind == "urgent" and alert.params["named"] == "Maya <\u200b@1>"
    assert world.port.offers[0][1].urgent


async def test_failed_deliveries_are_told_to_the_other_side(world: World) -> None:
    from bot.services.outbox import Delivered, Outgoing, PermanentDeliveryError, Target

    pid = await talking(world)
    conv = await world.support.get(pid)

    class Closed:
        async def deliver(self, target: Target, message: Outgoing, nonce: str) -> Delivered:
            raise PermanentDeliveryError("http-403-50007")

    world.outbox.attach(Closed())
    await world.support.relay(conv, "listener", "are you still there?")
    await world.outbox.drain()
    world.outbox.attach(world.transport)
    await world.outbox.drain()
    assert world.transport.codes(LENA)[-1] == "undeliverable"
    assert world.transport.to(LENA)[-1]["params"]["who"] == "the member"


# -- ending -------------------------------------------------------------------------------------


async def test_ending_gives_feedback_once_and_forgets_the_member(world: World) -> None:
    pid = await talking(world)
    with pytest.raises(NotAllowed):
        await world.support.end(pid, TOM)
    with pytest.raises(InvalidInput, match="once the conversation has ended"):
        await world.support.feedback(pid, MAYA, 5)
    ended = await world.support.end(pid, MAYA)
    assert ended.side == "member" and not ended.was_waiting
    await world.outbox.drain()
    assert world.transport.codes(MAYA)[-2:] == ["ended_by_member", "feedback"]
    assert world.transport.codes(LENA)[-1] == "after_end"
    with pytest.raises(Conflict):
        await world.support.end(pid, LENA)
    with pytest.raises(NotAllowed):
        await world.support.feedback(pid, LENA, 5)
    assert await world.support.feedback(pid, MAYA, 5) is True
    assert await world.support.feedback(pid, MAYA, 1) is False
    await world.support.comment(pid, MAYA, "thank you")
    assert world.port.alerts[-1].kind == "comment" and world.port.alerts[-1].params["score"] == 5
    with pytest.raises(Conflict):
        await world.support.comment(pid, MAYA, "again")
    conv = await world.support.get(pid)
    assert conv.member_user_enc is None and conv.topic_enc is None and conv.member_user_hash is not None


async def test_withdrawing_a_waiting_request(world: World) -> None:
    await world.listener(LENA, on_call=True)
    outcome = await world.support.open_request(G, MAYA, None, "command")
    assert outcome.conversation is not None
    conv = outcome.conversation
    await world.support.relay(conv, "member", "hello?")
    with pytest.raises(NotAllowed, match="Only the member can withdraw"):
        await world.support.end(conv.public_id, LENA, by="listener")
    ended = await world.support.end(conv.public_id, MAYA)
    assert ended.was_waiting and ended.conversation.status == "cancelled"
    assert world.port.closed_offers == [(LENA, "cancelled")]
    assert [r.status for r in await world.repo.outbox_rows(conv.id) if r.stream == "listener"] == ["dropped"]


async def test_idle_conversations_close_and_activity_moves_the_close(world: World) -> None:
    pid = await talking(world)
    world.clock.advance(timedelta(minutes=40))
    await world.support.relay(await world.support.get(pid), "member", "still here")
    world.clock.advance(timedelta(minutes=30))
    await world.run_due()
    assert (await world.support.get(pid)).status == "active"
    world.clock.advance(timedelta(minutes=31))
    await world.run_due()
    conv = await world.support.get(pid)
    assert conv.status == "closed" and conv.closed_by == "idle"
    assert world.transport.codes(MAYA)[-2:] == ["idle_closed", "feedback"]


async def test_heavy_conversations_start_a_cooldown_and_offer_a_debrief(world: World) -> None:
    pid = await talking(world)
    await world.support.end(pid, LENA)
    with pytest.raises(NotAllowed):
        await world.support.mark_heavy(pid, MAYA)
    until, debrief = await world.support.mark_heavy(pid, LENA)
    assert until == world.clock.now() + timedelta(minutes=30) and debrief
    assert await world.support.request_debrief(pid, LENA)
    assert world.port.alerts[-1].kind == "debrief" and world.port.alerts[-1].params == {"listener_user_id": LENA}


# -- handoff and blocks -------------------------------------------------------------------------


async def test_handoff_moves_the_conversation_and_tells_everyone(world: World) -> None:
    pid = await talking(world)
    with pytest.raises(InvalidInput, match="No other listener on shift is free"):
        await world.support.start_handoff(pid, LENA, None)
    await world.listener(OMAR, on_call=True)
    with pytest.raises(NotAllowed):
        await world.support.start_handoff(pid, OMAR, None)
    assert await world.support.start_handoff(pid, LENA, "go gently") == 1
    with pytest.raises(Conflict):
        await world.support.start_handoff(pid, LENA, None)
    card = world.port.offers[-1][1]
    assert card.kind == "handoff" and card.note == "go gently"
    accepted = await world.support.accept_offer(card.offer_public_id, OMAR)
    assert accepted.handoff
    assert accepted.previous_tag is not None and accepted.previous_tag != accepted.conversation.listener_tag
    conv = await world.support.get(pid)
    assert conv.listener_user_id == OMAR and conv.handoffs == 1 and not conv.handoff_open
    assert world.port.told[-1][:2] == (LENA, "handoff_done")
    await world.support.relay(conv, "member", "hello again")
    await world.outbox.drain()
    assert world.transport.texts(OMAR) == ["hello again"] and "hello again" not in world.transport.texts(LENA)
    assert world.transport.codes(MAYA)[-1] == "handed_off"


async def test_an_unanswered_handoff_stays_with_the_listener(world: World) -> None:
    pid = await talking(world)
    await world.listener(OMAR, on_call=True)
    await world.support.start_handoff(pid, LENA, None)
    world.clock.advance(timedelta(minutes=5))
    await world.run_due()
    assert world.port.told[-1][:2] == (LENA, "handoff_none")
    assert world.port.closed_offers[-1][1] == "expired"
    assert not (await world.support.get(pid)).handoff_open


async def test_a_block_holds_across_anonymous_requests_until_lifted(world: World) -> None:
    pid = await talking(world)
    with pytest.raises(NotAllowed):
        await world.support.block(pid, MAYA)
    until = await world.support.block(pid, LENA)
    assert until == world.clock.now() + timedelta(days=30)
    (alert,) = [a for a in world.port.alerts if a.kind == "blocked"]
    assert MAYA not in alert.params.values()
    with pytest.raises(NotAllowed, match="can't request one-to-one support"):
        await world.support.open_request(G, MAYA, None, "command")
    block = await world.repo.active_block(G, world.keyring.member_hash(G, MAYA), world.clock.now())
    assert block is not None
    from bot.services.access import Actor

    with pytest.raises(NotAllowed):
        await world.support.lift_block(block.id, Actor.of(LENA, False, []))
    await world.support.lift_block(block.id, world.coordinator)
    await world.support.check_can_request(G, MAYA)
    world.clock.advance(timedelta(days=31))
    assert await world.repo.active_block(G, world.keyring.member_hash(G, MAYA), world.clock.now()) is None


async def test_revealing_is_the_members_choice(world: World) -> None:
    pid = await talking(world)
    with pytest.raises(NotAllowed):
        await world.support.reveal(pid, LENA, "Lena")
    await world.support.reveal(pid, MAYA, "Maya")
    await world.outbox.drain()
    revealed = world.transport.to(LENA)[-1]
    assert revealed["code"] == "revealed" and revealed["params"]["user_id"] == MAYA


async def test_thread_mode_opens_a_private_thread_and_relays_into_it(world: World) -> None:
    await world.rota.update_settings(G, world.coordinator, listeners_channel_id=321, relay_mode="thread")
    pid = await talking(world)
    conv = await world.support.get(pid)
    assert conv.relay_mode == "thread" and conv.thread_id == 5001
    await world.support.relay(conv, "member", "in the thread")
    await world.outbox.drain()
    assert world.transport.texts(5001) == ["in the thread"]


# -- privacy ------------------------------------------------------------------------------------


async def test_privacy_export_delete_and_retention(world: World) -> None:
    pid = await talking(world)
    exported = await world.repo.export_user(G, MAYA)
    assert [c["role"] for c in exported["support_conversations"]] == ["member"]
    assert str(LENA) not in str(exported)
    as_listener = await world.repo.export_user(G, LENA)
    assert [c["role"] for c in as_listener["support_conversations"]] == ["listener"] and as_listener["support_offers"]
    assert await world.repo.delete_user(G, MAYA) > 0
    conv = await world.support.get(pid)
    assert conv.status == "closed" and conv.closed_by == "privacy" and conv.member_user_hash is None
    assert await world.support.routes_for(LENA) == []
    await world.repo.delete_user(G, LENA)
    assert (await world.support.get(pid)).listener_user_id is None
    assert await world.db.fetchall("SELECT * FROM support_offers") == []
    world.clock.advance(timedelta(days=91))
    assert await world.repo.purge_expired(world.clock.now()) >= 1
    assert await world.db.fetchall("SELECT * FROM support_conversations") == []


@given(st.text(min_size=0, max_size=12000))
def test_chunks_keep_every_word_within_the_size(text: str) -> None:
    pieces = chunks(text, 500)
    assert all(len(p) <= 500 for p in pieces)
    assert "".join("".join(p.split()) for p in pieces) == "".join(text.split())
