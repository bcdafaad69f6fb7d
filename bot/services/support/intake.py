"""Asking for support, and routing the request to listeners.

On-shift listeners are those on a rota shift now plus those on call (``/listener available``),
minus anyone on a break, in cooldown after a heavy conversation, at their limit of conversations
at once, or over their weekly hours. The request is offered to each by DM (Accept / Pass); the
first to accept gets it (one atomic UPDATE), the other offers are withdrawn. Stage 1, after the
offer timeout: every listener under their limits. Stage 2: the coordinators (an identity-free
alert in the moderation channel with an Accept button: the bot can't list a role's members
without the privileged members intent). Stage 3: the member is told it is taking long, and
reminded of the crisis resources. Nobody on shift at all: the member is told at once and may
queue for the next shift or leave a message.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from bot.errors import Conflict, InvalidInput, NotAllowed
from bot.i18n import msg
from bot.safety import Level, assess
from bot.scheduler import Job
from bot.sends import RetryLater, is_rerun
from bot.services.sanitize import sanitize
from bot.services.support.core import SupportCore
from bot.services.support.models import (
    ESCALATE_JOB,
    NAME_LIMIT,
    QUEUED_JOB,
    RELAY_LIMIT,
    SOURCES,
    TOPIC_LIMIT,
    Alert,
    Notice,
    OfferCard,
    RequestOutcome,
    member_context,
    new_tag,
    topic_context,
)
from bot.storage.support import Conversation
from bot.timekeeping.words import local_phrase

log = logging.getLogger(__name__)


class Intake(SupportCore):
    # -- asking -------------------------------------------------------------------------

    async def check_can_request(self, guild_id: int, member_user_id: int) -> None:
        if not await self.has_listeners(guild_id):
            raise InvalidInput(
                msg(
                    "This server doesn't have volunteer listeners set up yet, so one-to-one support isn't available "
                    "here. /resources lists services you can reach right now, any time."
                )
            )
        h = self.member_hash(guild_id, member_user_id)
        if await self.repo.active_block(guild_id, h, self.clock.now()) is not None:
            raise NotAllowed(
                msg(
                    "You can't request one-to-one support in this server right now. If you need help, /resources "
                    "lists services you can reach any time."
                )
            )
        existing = await self.repo.open_for_member(guild_id, h)
        if existing is not None and existing.status == "active":
            raise Conflict(
                msg(
                    "Your conversation with a listener is open: write to me in our direct messages. "
                    "To finish it, use /support end."
                )
            )
        if existing is not None:
            raise Conflict(
                msg("Your request is still open: write to me in our direct messages. To finish it, use /support end.")
            )

    def topic_is_urgent(self, topic: str | None) -> bool:
        """Whether the crisis screen grades this request's topic urgent: the writer is shown help
        before :meth:`open_request` alerts anyone."""
        return assess(self._clean_topic(topic) or "").level is Level.URGENT

    def _clean_topic(self, topic: str | None) -> str | None:
        cleaned = sanitize(topic or "", limit=TOPIC_LIMIT)
        return cleaned or None

    async def _create(
        self,
        guild_id: int,
        member_user_id: int,
        topic: str | None,
        source: str,
        named_as: str | None,
        circle_id: int | None,
        status: str,
    ) -> Conversation:
        public_id = secrets.token_hex(8)
        now = self.clock.now()
        settings = await self.listeners.settings(guild_id)
        name = sanitize(named_as, limit=NAME_LIMIT) if named_as else None
        return await self.repo.insert(
            {
                "public_id": public_id,
                "guild_id": guild_id,
                "circle_id": circle_id,
                "source": source if source in SOURCES else "other",
                "member_user_hash": self.member_hash(guild_id, member_user_id),
                "member_user_enc": self.keyring.encrypt_id(member_user_id, member_context(public_id)),
                "member_tag": new_tag(),
                "member_name": name or None,
                "topic_enc": self.keyring.encrypt_text(topic, topic_context(public_id)) if topic else None,
                "status": status,
                "relay_mode": settings.relay_mode if settings.listeners_channel_id else "dm",
                "created_at": now,
                "last_activity_at": now,
            }
        )

    async def _discard(self, conversation: Conversation) -> None:
        """The request never went out: delete it, topic and all, leaving no copy in the -wal file."""
        await self.repo.delete(conversation.id)
        await self.repo.db.checkpoint_after_delete()

    async def _greet(self, conversation: Conversation, member_user_id: int, notice: Notice) -> None:
        """DM the member first: if their DMs are closed, nothing can be relayed, so say so now."""
        try:
            delivered = await self.require_port().tell(member_user_id, notice)
        except Exception:
            log.warning("support greeting failed conversation=%s", conversation.public_id)
            await self._discard(conversation)
            raise InvalidInput(
                msg(
                    "Discord didn't take my message to you just now, so your request wasn't sent. Please try again "
                    "in a moment. Nobody was told about it."
                )
            ) from None
        if not delivered:
            await self._discard(conversation)
            raise InvalidInput(
                msg(
                    "I couldn't send you a direct message, and the conversation happens there. Please allow direct "
                    "messages from this server (Server name → Privacy Settings → Direct Messages) and ask again. "
                    "Nobody was told about your request."
                )
            )

    async def open_request(
        self,
        guild_id: int,
        member_user_id: int,
        topic: str | None,
        source: str,
        *,
        named_as: str | None = None,
        circle_id: int | None = None,
    ) -> RequestOutcome:
        """Ask for a listener. The entry point other features call too (``source``: checkin, share…).

        Returns ``nobody`` without storing anything when no listener is on shift at all; the caller
        then offers :meth:`queue_request` (for the next shift, or with a message)."""
        await self.check_can_request(guild_id, member_user_id)
        cleaned = self._clean_topic(topic)
        assessment = assess(cleaned or "")
        h = self.member_hash(guild_id, member_user_id)
        on_shift = await self.rota.on_shift(guild_id)
        zone, _ = await self.member_time.zone_name(guild_id, member_user_id)
        if not on_shift - {uid for uid in on_shift if self.member_hash(guild_id, uid) == h}:
            return RequestOutcome(
                "nobody",
                None,
                next_shift=await self.rota.next_covered_shift(guild_id),
                zone=zone,
                assessment=assessment,
            )
        conversation = await self._create(
            guild_id, member_user_id, cleaned, source, named_as, circle_id, status="waiting"
        )
        free = await self.eligible(guild_id, on_shift, member_hash=h)
        await self._greet(
            conversation,
            member_user_id,
            Notice(
                "request_received",
                {"conversation": conversation.public_id, "guild_id": guild_id, "busy": not free},
            ),
        )
        log.info("support requested conversation=%s guild=%s source=%s", conversation.public_id, guild_id, source)
        if assessment.level is Level.URGENT:
            await self.alert_urgent(conversation)
        offered = await self.offer(conversation, free, stage=0) if free else 0
        if offered:
            await self.schedule_escalation(conversation, 1)
            return RequestOutcome("offered", conversation, offered, zone=zone, assessment=assessment)
        await self.escalate(conversation, 1)
        fresh = await self.repo.get(conversation.id)
        return RequestOutcome("escalated", fresh, zone=zone, assessment=assessment)

    async def queue_request(
        self,
        guild_id: int,
        member_user_id: int,
        topic: str | None,
        source: str,
        *,
        named_as: str | None = None,
        circle_id: int | None = None,
        message: str | None = None,
    ) -> Conversation:
        """Queue a request for the next shift (and, optionally, leave a message for the listener).
        With no shift planned, the coordinators are told so someone can pick it up."""
        await self.check_can_request(guild_id, member_user_id)
        cleaned = self._clean_topic(topic)
        text = sanitize(message or "", limit=RELAY_LIMIT) if message else ""
        if message is not None and not text:
            raise InvalidInput(msg("The message is empty. Write a few words, or queue without a message."))
        next_shift = await self.rota.next_covered_shift(guild_id)
        zone, _ = await self.member_time.zone_name(guild_id, member_user_id)
        conversation = await self._create(guild_id, member_user_id, cleaned, source, named_as, circle_id, "waiting")
        await self.repo.queue(conversation.id, next_shift)
        conversation = await self.repo.update(conversation.id, held_notice=1)
        await self._greet(
            conversation,
            member_user_id,
            Notice(
                "queued",
                {
                    "conversation": conversation.public_id,
                    "guild_id": guild_id,
                    "next_shift": next_shift,
                    "zone": zone,  # the cog says the start in the member's words and zone
                    "local": local_phrase(next_shift, zone) if next_shift else None,  # the same in English
                    "message": bool(text),
                },
            ),
        )
        if text:
            await self.enqueue_relay(conversation, "member", text, urgent=assess(text).level is Level.URGENT)
        if next_shift is not None:
            await self.schedule_queued(conversation, next_shift)
        else:
            await self._alert_request(conversation, "message_left" if text else "request")
        if assess(f"{cleaned or ''}\n{text}").level is Level.URGENT:
            await self.alert_urgent(conversation)
        log.info("support queued conversation=%s guild=%s", conversation.public_id, guild_id)
        return conversation

    async def offer(
        self,
        conversation: Conversation,
        listeners: list[int],
        *,
        stage: int,
        kind: str = "request",
        note: str | None = None,
    ) -> int:
        port = self.require_port()
        topic = self.topic(conversation)
        urgent = assess(topic or "").level is Level.URGENT
        delivered = 0
        deferred: list[RetryLater] = []
        # A job running again (after a passing failure or a restart) finds the offers it made:
        # the same offer, and its DM sent once (its nonce is the offer's).
        live = {
            o.listener_user_id: o
            for o in await self.repo.offers_for(conversation.id, status="offered", kind=kind)
            if o.stage == stage
        }
        for uid in listeners:
            offer = live.get(uid) or await self.repo.add_offer(conversation, uid, kind, stage, self.clock.now())
            if offer.message_id is not None:
                delivered += 1
                continue
            card = OfferCard(
                offer.public_id,
                conversation.public_id,
                conversation.guild_id,
                kind,
                stage,
                conversation.member_tag,
                conversation.member_name,
                topic,
                urgent,
                note,
            )
            try:
                sent = await port.send_offer(uid, card)
            except RetryLater as exc:
                deferred.append(exc)  # the others get theirs now; this one on the job's next try
                continue
            if sent is None:
                await self.repo.set_offer_status(offer.id, "undelivered")
                continue
            await self.repo.set_offer_message(offer.id, *sent)
            delivered += 1
        log.info(
            "support offers sent conversation=%s stage=%s kind=%s count=%d retrying=%d",
            conversation.public_id,
            stage,
            kind,
            delivered,
            len(deferred),
        )
        if deferred:
            raise RetryLater.combine(deferred)
        return delivered

    async def schedule_queued(self, conversation: Conversation, shift_start: datetime) -> None:
        """Route a queued request a minute into the shift it waits for (the listener is on shift
        by then); at once if that moment has passed (a restart). One place for both."""
        await self.scheduler.schedule(
            QUEUED_JOB,
            max(self.clock.now(), shift_start + timedelta(minutes=1)),
            {"conversation": conversation.public_id},
            guild_id=conversation.guild_id,
            job_id=f"support:{conversation.public_id}:queued",
            grace=timedelta(hours=12),
        )

    async def schedule_escalation(self, conversation: Conversation, stage: int, *, at: datetime | None = None) -> None:
        timeout = (await self.listeners.settings(conversation.guild_id)).offer_timeout_seconds
        await self.scheduler.schedule(
            ESCALATE_JOB,
            at or self.clock.now() + timedelta(seconds=timeout),
            {"conversation": conversation.public_id, "stage": stage},
            guild_id=conversation.guild_id,
            job_id=f"support:{conversation.public_id}:escalate:{stage}",
            grace=timedelta(hours=1),
        )

    async def escalate(self, conversation: Conversation, stage: int) -> None:
        if not await self.repo.set_stage(conversation.id, stage):
            # Already at this stage: carry on only when this is its own job running again (it
            # moved the stage on an earlier try or before a restart; what it sent isn't resent).
            fresh = await self.repo.get(conversation.id)
            if not (is_rerun() and fresh is not None and fresh.status == "waiting" and fresh.stage == stage):
                return
        conversation = await self.repo.update(conversation.id)
        if stage == 1:
            # Everyone asked before, except those with an offer still open at this stage (made on
            # an earlier try of this job): asking them again finds that offer, sent once.
            offered_to = {
                o.listener_user_id
                for o in await self.repo.offers_for(conversation.id)
                if o.stage != stage or o.status != "offered"
            }
            everyone = {listener.user_id for listener in await self.listeners.active_listeners(conversation.guild_id)}
            free = await self.eligible(
                conversation.guild_id, everyone, exclude=offered_to, member_hash=conversation.member_user_hash
            )
            if free and await self.offer(conversation, free, stage=1):
                await self.notify(conversation, "member", "escalated_all", {})
                await self.schedule_escalation(conversation, 2)
                return
            await self.escalate(conversation, 2)
            return
        if stage == 2:
            alerted = await self._alert_request(conversation, "request")
            await self.notify(conversation, "member", "escalated_coordinators", {"alerted": alerted})
            await self.schedule_escalation(conversation, 3)
            return
        await self.notify(conversation, "member", "long_wait", {"guild_id": conversation.guild_id})

    async def _alert_request(self, conversation: Conversation, kind: str) -> bool:
        if self.port is None:
            return False
        alert = Alert(
            kind,
            conversation.guild_id,
            {
                "conversation": conversation.public_id,
                "named": conversation.member_name,
                "waiting_since": conversation.created_at,
            },
        )
        posted = await self.port.alert_coordinators(alert)
        if posted is not None:
            await self.repo.update(conversation.id, alert_channel_id=posted[0], alert_message_id=posted[1])
        return posted is not None

    async def on_escalate(self, job: Job) -> None:
        conversation = await self.repo.by_public_id(str(job.payload.get("conversation")))
        if conversation is None or conversation.status != "waiting" or self.port is None:
            return
        await self.escalate(conversation, int(job.payload.get("stage", 1)))
        self.outbox.wake()

    async def on_queued(self, job: Job) -> None:
        conversation = await self.repo.by_public_id(str(job.payload.get("conversation")))
        if conversation is None:
            return
        if conversation.status == "queued":
            await self.route_queued(conversation.guild_id)
        elif job.attempts and conversation.status == "waiting" and conversation.stage == 0 and conversation.queued_for:
            # This job took it off the queue on an earlier try (or before a restart): finish routing.
            on_shift = await self.rota.on_shift(conversation.guild_id)
            free = await self.eligible(conversation.guild_id, on_shift, member_hash=conversation.member_user_hash)
            await self._route(conversation, free)
            self.outbox.wake()

    async def route_queued(self, guild_id: int) -> int:
        """Offer queued requests to the listeners now on shift (a shift started, someone went on call)."""
        if self.port is None:
            return 0
        routed = 0
        on_shift = await self.rota.on_shift(guild_id)
        for conversation in await self.repo.queued(guild_id):
            free = await self.eligible(guild_id, on_shift, member_hash=conversation.member_user_hash)
            if not free or not await self.repo.unqueue(conversation.id):
                continue
            await self.scheduler.cancel(f"support:{conversation.public_id}:queued")
            await self._route(await self.repo.update(conversation.id), free)
            routed += 1
        self.outbox.wake()
        return routed

    async def _route(self, conversation: Conversation, free: list[int]) -> None:
        """A request off the queue: tell the member, offer it to the free listeners on shift."""
        await self.notify(conversation, "member", "queue_started", {})
        if free and await self.offer(conversation, free, stage=0):
            await self.schedule_escalation(conversation, 1)
        else:
            await self.escalate(conversation, 1)
