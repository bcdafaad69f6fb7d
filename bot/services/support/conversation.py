"""The live conversation: a listener (or a coordinator) accepts, the relay carries messages both
ways through the outbox, the member may show who they are, and the listener may hand over to a
colleague on shift."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.i18n import N_, Msg, msg, msgs
from bot.safety import Level, assess
from bot.scheduler import Job
from bot.sends import RetryLater
from bot.services.access import Actor
from bot.services.sanitize import sanitize
from bot.services.support.core import SupportCore, SupportDeps
from bot.services.support.intake import Intake
from bot.services.support.models import (
    HANDOFF_JOB,
    NAME_LIMIT,
    NOTE_LIMIT,
    RELAY_LIMIT,
    TOUCH_EVERY,
    Accepted,
    Notice,
    RelayResult,
    Route,
    new_tag,
)
from bot.storage.support import Conversation, Offer, OutboxRow

log = logging.getLogger(__name__)


class LiveConversation(SupportCore):
    def __init__(self, deps: SupportDeps, intake: Intake) -> None:
        super().__init__(deps)
        self.intake = intake

    # -- accepting ----------------------------------------------------------------------

    async def accept_offer(self, offer_public_id: str, user_id: int) -> Accepted:
        offer = await self.repo.offer_by_public_id(offer_public_id)
        if offer is None or offer.listener_user_id != user_id:
            raise NotFound(msg("That offer isn't for you, or it no longer exists."))
        conversation = await self.repo.get(offer.conversation_id)
        if conversation is None:
            raise NotFound(msg("That request no longer exists."))
        listener = await self.listeners.listener(conversation.guild_id, user_id)
        limit = listener.max_concurrent if listener is not None else 1
        if offer.kind == "handoff":
            return await self._take_handoff(conversation, offer, user_id, limit)
        if offer.status != "offered" or not conversation.waiting:
            await self.repo.set_offer_status(offer.id, "withdrawn")
            raise Conflict(self._gone_text(conversation))
        tag = new_tag()
        if not await self.repo.accept(conversation.id, user_id, tag, offer.id, self.clock.now(), limit):
            fresh = await self.repo.get(conversation.id)
            if fresh is None or not fresh.waiting:
                raise Conflict(self._gone_text(fresh or conversation))
            raise Conflict(
                msgs(
                    "You're already with {n} person, your limit at once. The request stays open for other "
                    "listeners. /listener limits changes your limit.",
                    "You're already with {n} people, your limit at once. The request stays open for other "
                    "listeners. /listener limits changes your limit.",
                    limit,
                )
            )
        return await self._after_accept(conversation, user_id)

    @staticmethod
    def _gone_text(conversation: Conversation) -> Msg:
        if conversation.status in ("closed", "cancelled") and conversation.accepted_at is None:
            return msg("The member withdrew this request. Thank you for being there.")
        return msg("Another listener already took this one. Thank you for being there.")

    async def coordinator_accept(self, public_id: str, actor: Actor) -> Accepted:
        conversation = await self.get(public_id)
        listener = await self.listeners.listener(conversation.guild_id, actor.user_id)
        is_listener = listener is not None and listener.active
        if not is_listener:
            await self.access.require_coordinator(conversation.guild_id, actor, N_("take support requests"))
        if conversation.member_user_hash == self.member_hash(conversation.guild_id, actor.user_id):
            raise InvalidInput(msg("That's your own request."))
        if not conversation.waiting:
            raise Conflict(self._gone_text(conversation))
        limit = listener.max_concurrent if listener is not None and is_listener else None
        if not await self.repo.accept(conversation.id, actor.user_id, new_tag(), None, self.clock.now(), limit):
            fresh = await self.repo.get(conversation.id)
            if fresh is None or not fresh.waiting:
                raise Conflict(self._gone_text(fresh or conversation))
            raise Conflict(msg("You're at your limit of conversations at once."))
        return await self._after_accept(conversation, actor.user_id)

    async def _after_accept(self, conversation: Conversation, user_id: int) -> Accepted:
        await self.scheduler.cancel_prefix(f"support:{conversation.public_id}:")
        fresh = await self.repo.get(conversation.id)
        assert fresh is not None
        port = self.require_port()
        for other in await self.repo.offers_for(conversation.id, status="offered"):
            if await self.repo.set_offer_status(other.id, "withdrawn") and other.channel_id and other.message_id:
                await port.close_offer(other.channel_id, other.message_id, "taken")
        if fresh.alert_channel_id and fresh.alert_message_id:
            await port.update_alert(fresh.guild_id, fresh.alert_channel_id, fresh.alert_message_id, "taken")
        if fresh.relay_mode == "thread":
            fresh = await self._open_thread(fresh, user_id)
        await self.notify(fresh, "member", "accepted", {"listener_tag": fresh.listener_tag})
        await self.touch(fresh)
        log.info("support accepted conversation=%s", fresh.public_id)
        return Accepted(fresh, self.topic(fresh), handoff=False)

    async def _open_thread(self, conversation: Conversation, user_id: int) -> Conversation:
        settings = await self.listeners.settings(conversation.guild_id)
        thread_id = None
        if settings.listeners_channel_id is not None:
            thread_id = await self.require_port().open_thread(conversation, settings.listeners_channel_id, user_id)
        if thread_id is None:
            log.warning("support thread not opened; relaying by DM conversation=%s", conversation.public_id)
            return await self.repo.update(conversation.id, relay_mode="dm")
        return await self.repo.update(conversation.id, thread_id=thread_id)

    async def pass_offer(self, offer_public_id: str, user_id: int) -> Offer:
        offer = await self.repo.offer_by_public_id(offer_public_id)
        if offer is None or offer.listener_user_id != user_id:
            raise NotFound(msg("That offer isn't for you, or it no longer exists."))
        if not await self.repo.set_offer_status(offer.id, "passed"):
            raise Conflict(msg("That offer was already settled."))
        conversation = await self.repo.get(offer.conversation_id)
        if (
            conversation is not None
            and offer.kind == "request"
            and conversation.status == "waiting"
            and offer.stage == conversation.stage
        ):
            still = await self.repo.offers_for(conversation.id, status="offered", kind="request")
            if not still:  # everyone asked has passed: don't make the member wait for the timeout
                await self.intake.escalate(conversation, conversation.stage + 1)
                self.outbox.wake()
        elif conversation is not None and offer.kind == "handoff" and conversation.handoff_open:
            still = await self.repo.offers_for(conversation.id, status="offered", kind="handoff")
            if not still:
                await self._end_handoff(conversation, taken=False)
        return offer

    # -- the relay ----------------------------------------------------------------------

    async def route_dm(self, user_id: int, reference_message_id: int | None) -> list[Route]:
        """One route when it is clear where a DM goes; several when the person must choose."""
        routes = await self.routes_for(user_id)
        if len(routes) > 1 and reference_message_id is not None:
            conversation_id = await self.repo.conversation_of_message(reference_message_id)
            chosen = [r for r in routes if r.conversation.id == conversation_id]
            if chosen:
                return chosen
        return routes

    async def relay(
        self, conversation: Conversation, side: str, text: str, attachments: int = 0, *, just_read: bool = False
    ) -> RelayResult:
        """Pass one message on (through the outbox). Member messages are screened for crisis words.

        ``just_read``: the caller read ``conversation`` from the database a moment ago (route_dm
        for this very message), so it isn't read again."""
        fresh = conversation if just_read else await self.repo.get(conversation.id)
        if fresh is None or not fresh.is_open:
            raise InvalidInput(msg("This conversation has ended. /support ask starts a new one."))
        if side == "listener" and fresh.status != "active":
            raise InvalidInput(msg("This conversation has ended."))
        cleaned = sanitize(text or "", limit=RELAY_LIMIT)
        if not cleaned:
            return RelayResult(fresh.waiting, False, False, 0, attachments, empty=True)
        urgent = side == "member" and assess(cleaned).level is Level.URGENT
        if urgent:
            await self.notify(fresh, "member", "resources", {"guild_id": fresh.guild_id})
        pieces = await self.enqueue_relay(fresh, side, cleaned, urgent=urgent)
        first_held = False
        if fresh.waiting and not fresh.held_notice:
            await self.repo.update(fresh.id, held_notice=1)
            first_held = True
        if urgent:
            await self.alert_urgent(fresh)
        if fresh.status == "active" and self.clock.now() - fresh.last_activity_at >= TOUCH_EVERY:
            # The idle job is armed (at accept) and re-arms itself from last_activity_at, so a burst
            # of messages needs no write per line: a minute's precision is plenty for closing idle.
            await self.touch(fresh)
        self.outbox.wake(rescan=False)  # enqueue noted the stream
        return RelayResult(fresh.waiting, first_held, urgent, pieces, attachments)

    async def delivery_failed(self, conversation: Conversation, row: OutboxRow, kind: str) -> None:
        """A message could not be delivered for good: tell the other side once, in plain words."""
        if row.kind != "relay":
            return
        other = "listener" if row.stream == "member" else "member"
        who = N_("the member") if row.stream == "member" else N_("the listener")  # the cog translates it
        await self.outbox.enqueue(
            conversation,
            other,
            "notice",
            {"code": "undeliverable", "params": {"who": who, "conversation": conversation.public_id}},
        )

    async def reveal(self, public_id: str, user_id: int, display_name: str) -> Conversation:
        """The member chooses to show the listener their account."""
        conversation = await self.get(public_id)
        if self.side_of(conversation, user_id) != "member":
            raise NotAllowed(msg("Only the member can share who they are."))
        if conversation.status != "active":
            raise InvalidInput(msg("This conversation isn't open any more."))
        name = sanitize(display_name, limit=NAME_LIMIT)
        await self.notify(conversation, "listener", "revealed", {"user_id": user_id, "name": name})
        log.info("support member revealed identity conversation=%s", public_id)
        return conversation

    # -- handoff ------------------------------------------------------------------------

    async def start_handoff(self, public_id: str, user_id: int, note: str | None) -> int:
        conversation = await self.get(public_id)
        if conversation.listener_user_id != user_id or conversation.status != "active":
            raise NotAllowed(msg("Only the listener of an open conversation can hand it over."))
        if conversation.handoff_open:
            raise Conflict(msg("You've already asked a colleague to take over; I'll tell you when someone does."))
        on_shift = await self.rota.on_shift(conversation.guild_id)
        free = await self.eligible(
            conversation.guild_id, on_shift, exclude={user_id}, member_hash=conversation.member_user_hash
        )
        if not free:
            raise InvalidInput(
                msg(
                    "No other listener on shift is free right now, so the conversation stays with you. You can "
                    "still end it kindly, or ask a coordinator for help."
                )
            )
        await self.repo.update(conversation.id, handoff_open=1)
        cleaned = sanitize(note or "", limit=NOTE_LIMIT) or None
        offered = await self.intake.offer(conversation, free, stage=0, kind="handoff", note=cleaned)
        if not offered:
            await self.repo.update(conversation.id, handoff_open=0)
            raise InvalidInput(msg("I couldn't reach the other listeners on shift (their DMs may be closed)."))
        timeout = (await self.listeners.settings(conversation.guild_id)).offer_timeout_seconds
        await self.scheduler.schedule(
            HANDOFF_JOB,
            self.clock.now() + timedelta(seconds=timeout),
            {"conversation": conversation.public_id},
            guild_id=conversation.guild_id,
            job_id=f"support:{conversation.public_id}:handoff",
            grace=timedelta(hours=1),
        )
        log.info("support handoff asked conversation=%s", public_id)
        return offered

    async def _take_handoff(self, conversation: Conversation, offer: Offer, user_id: int, limit: int) -> Accepted:
        previous = conversation.listener_user_id
        previous_tag = conversation.listener_tag
        if offer.status != "offered" or not conversation.handoff_open or conversation.status != "active":
            await self.repo.set_offer_status(offer.id, "withdrawn")
            raise Conflict(msg("Someone else already took over this conversation, or it ended. Thank you."))
        if not await self.repo.take_handoff(conversation.id, user_id, new_tag(), offer.id, self.clock.now(), limit):
            fresh = await self.repo.get(conversation.id)
            if fresh is None or not fresh.handoff_open:
                raise Conflict(msg("Someone else already took over this conversation, or it ended. Thank you."))
            raise Conflict(msg("You're at your limit of conversations at once."))
        fresh = await self.repo.get(conversation.id)
        assert fresh is not None
        await self._end_handoff(fresh, taken=True, previous=previous)
        if fresh.relay_mode == "thread" and fresh.thread_id is not None:
            await self.require_port().add_to_thread(fresh.thread_id, user_id)
        await self.notify(fresh, "member", "handed_off", {"listener_tag": fresh.listener_tag})
        await self.touch(fresh)
        log.info("support handed off conversation=%s", fresh.public_id)
        return Accepted(fresh, self.topic(fresh), handoff=True, previous_tag=previous_tag)

    async def _end_handoff(self, conversation: Conversation, *, taken: bool, previous: int | None = None) -> None:
        await self.scheduler.cancel(f"support:{conversation.public_id}:handoff")
        port = self.require_port()
        for other in await self.repo.offers_for(conversation.id, status="offered", kind="handoff"):
            if await self.repo.set_offer_status(other.id, "withdrawn") and other.channel_id and other.message_id:
                await port.close_offer(other.channel_id, other.message_id, "taken" if taken else "expired")
        if taken:
            if previous is not None:
                await self._tell_quietly(
                    previous,
                    Notice(
                        "handoff_done", {"guild_id": conversation.guild_id, "listener_tag": conversation.listener_tag}
                    ),
                )
        else:
            # Tell first: if that fails for a passing reason, the timeout job runs again and finds
            # the handoff still open.
            if conversation.listener_user_id is not None:
                await self._tell_quietly(
                    conversation.listener_user_id,
                    Notice(
                        "handoff_none",
                        {
                            "guild_id": conversation.guild_id,
                            "member_tag": conversation.member_tag,
                            "member_name": conversation.member_name,
                        },
                    ),
                )
            await self.repo.update(conversation.id, handoff_open=0)

    async def _tell_quietly(self, user_id: int, notice: Notice) -> None:
        """A courtesy DM whose failure must not undo what already happened (from a job, a passing
        failure is retried: the job runs again and the DM goes once)."""
        try:
            await self.require_port().tell(user_id, notice)
        except RetryLater:
            raise
        except Exception:
            log.warning("support notice not delivered code=%s", notice.code)

    async def on_handoff_timeout(self, job: Job) -> None:
        conversation = await self.repo.by_public_id(str(job.payload.get("conversation")))
        if conversation is None or not conversation.handoff_open or self.port is None:
            return
        await self._end_handoff(conversation, taken=False)
