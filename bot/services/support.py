"""One-on-one support: requests routed to listeners on shift, escalation, and the two-way relay.

Who knows what
    * The member is stored as a keyed hash (one open request at a time; blocks hold across
      anonymous requests) and, while the bot needs to reach them, their id encrypted with AES-GCM
      under the context ``support:{conversation}:member``. Listeners and coordinators only ever see
      the member's label ("Member · K7Q2", or the name the member chose to give).
    * The member sees the listener only as "Listener · 7Q2X". Listener ids are stored in the
      clear (they act in a role) but never appear in the member's messages, custom ids or logs.
    * Text is relayed through the outbox (:mod:`bot.services.outbox`): encrypted while a delivery
      is pending, dropped when delivered. Topics are encrypted and dropped when the conversation ends.

Routing
    On-shift listeners are those on a rota shift now plus those on call (``/listener available``),
    minus anyone on a break, in cooldown after a heavy conversation, at their limit of
    conversations at once, or over their weekly hours. The request is offered to each by DM
    (Accept / Pass); the first to accept gets it (one atomic UPDATE), the other offers are withdrawn.
    Stage 1, after the offer timeout: every listener under their limits. Stage 2: the coordinators
    (an identity-free alert in the moderation channel with an Accept button: the bot can't list a
    role's members without the privileged members intent). Stage 3: the member is told it is taking
    long, and reminded of the crisis resources. Nobody on shift at all: the member is told at once
    and may queue for the next shift or leave a message.

Discord is reached through :class:`SupportPort` (attached by the support cog) and the outbox's
transport. Nothing here imports discord.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.clock import Clock
from bot.crypto import DecryptionError, Keyring
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.safety import Assessment, Level, assess
from bot.scheduler import Job, Scheduler
from bot.sends import RetryLater, is_rerun
from bot.services.access import AccessService, Actor
from bot.services.member_time import MemberTimeService
from bot.services.outbox import OutboxService
from bot.services.recurrence import local_phrase
from bot.services.rota import RotaService
from bot.services.sanitize import sanitize
from bot.storage.guilds import GuildSettingsRepository
from bot.storage.listeners import ListenerRepository
from bot.storage.support import Block, Conversation, Offer, OutboxRow, SupportRepository

log = logging.getLogger(__name__)

TAG_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TOPIC_LIMIT = 200
NAME_LIMIT = 40
RELAY_CHUNK = 3500
RELAY_LIMIT = 8000
NOTE_LIMIT = 500
COMMENT_LIMIT = 1000
BLOCK_FOR = timedelta(days=30)
URGENT_ALERT_EVERY = timedelta(minutes=30)
SOURCES = ("command", "dm", "checkin", "share", "other")

ESCALATE_JOB = "support.escalate"
IDLE_JOB = "support.idle"
TOUCH_EVERY = timedelta(minutes=1)  # how often relaying refreshes last_activity_at
HANDOFF_JOB = "support.handoff"
QUEUED_JOB = "support.queued"
JOB_KINDS = (ESCALATE_JOB, IDLE_JOB, HANDOFF_JOB, QUEUED_JOB)


def new_tag(length: int = 4) -> str:
    return "".join(secrets.choice(TAG_ALPHABET) for _ in range(length))


def member_context(conversation_public_id: str) -> str:
    return f"support:{conversation_public_id}:member"


def topic_context(conversation_public_id: str) -> str:
    return f"support:{conversation_public_id}:topic"


def chunks(text: str, size: int = RELAY_CHUNK) -> list[str]:
    """Split long text at line or word breaks into pieces of at most ``size`` characters."""
    pieces: list[str] = []
    rest = text
    while len(rest) > size:
        cut = rest.rfind("\n", 0, size)
        if cut < size // 2:
            cut = rest.rfind(" ", 0, size)
        if cut < size // 2:
            cut = size
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


# -- what the port renders ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notice:
    """A message to one side, rendered by the support cog. ``params`` never hold a member's id."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OfferCard:
    offer_public_id: str
    conversation_public_id: str
    guild_id: int
    kind: str  # request | handoff
    stage: int
    member_label: str
    topic: str | None
    urgent: bool
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """For the coordinators (the moderation channel). Identity-free unless the member chose a name."""

    kind: str  # request | urgent | blocked | comment | debrief | message_left
    guild_id: int
    params: dict[str, Any] = field(default_factory=dict)


class SupportPort(Protocol):
    async def tell(self, user_id: int, notice: Notice) -> bool:
        """A direct DM (not through the outbox); False if it couldn't be delivered."""
        ...

    async def send_offer(self, listener_user_id: int, card: OfferCard) -> tuple[int, int] | None: ...

    async def close_offer(self, channel_id: int, message_id: int, outcome: str) -> None: ...

    async def alert_coordinators(self, alert: Alert) -> tuple[int, int] | None: ...

    async def update_alert(self, channel_id: int, message_id: int, outcome: str) -> None: ...

    async def open_thread(self, conversation: Conversation, channel_id: int, listener_user_id: int) -> int | None: ...

    async def add_to_thread(self, thread_id: int, user_id: int) -> None: ...


# -- results --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    status: str  # offered | escalated | nobody
    conversation: Conversation | None
    offered: int = 0
    next_shift: datetime | None = None
    zone: str = "UTC"
    assessment: Assessment = field(default_factory=lambda: Assessment(Level.NONE))


@dataclass(frozen=True, slots=True)
class Accepted:
    conversation: Conversation
    topic: str | None
    handoff: bool
    previous_label: str | None = None


@dataclass(frozen=True, slots=True)
class Route:
    conversation: Conversation
    side: str  # member | listener


@dataclass(frozen=True, slots=True)
class RelayResult:
    held: bool
    first_held: bool
    urgent: bool
    pieces: int
    attachments_skipped: int
    empty: bool = False


@dataclass(frozen=True, slots=True)
class Ended:
    conversation: Conversation
    side: str
    was_waiting: bool


class SupportService:
    def __init__(
        self,
        repo: SupportRepository,
        listeners: ListenerRepository,
        rota: RotaService,
        outbox: OutboxService,
        keyring: Keyring,
        guild_settings: GuildSettingsRepository,
        member_time: MemberTimeService,
        access: AccessService,
        scheduler: Scheduler,
        clock: Clock,
    ) -> None:
        self.repo = repo
        self.listeners = listeners
        self.rota = rota
        self.outbox = outbox
        self.keyring = keyring
        self.guild_settings = guild_settings
        self.member_time = member_time
        self.access = access
        self.scheduler = scheduler
        self.clock = clock
        self.port: SupportPort | None = None
        self.outbox.on_failed = self._delivery_failed
        self.rota.active_counts = self.repo.active_counts

    def attach(self, port: SupportPort) -> None:
        self.port = port

    def _require_port(self) -> SupportPort:
        if self.port is None:
            raise RuntimeError("the support cog is not loaded")
        return self.port

    # -- identities ---------------------------------------------------------------------

    def member_hash(self, guild_id: int, user_id: int) -> bytes:
        return self.keyring.member_hash(guild_id, user_id)

    def member_id(self, conversation: Conversation) -> int | None:
        if conversation.member_user_enc is None:
            return None
        try:
            return self.keyring.decrypt_id(conversation.member_user_enc, member_context(conversation.public_id))
        except DecryptionError:
            log.warning("could not decrypt a member id conversation=%s", conversation.public_id)
            return None

    def topic(self, conversation: Conversation) -> str | None:
        if conversation.topic_enc is None:
            return None
        try:
            return self.keyring.decrypt_text(conversation.topic_enc, topic_context(conversation.public_id))
        except DecryptionError:
            return None

    def side_of(self, conversation: Conversation, user_id: int) -> str | None:
        if conversation.member_user_hash is not None and conversation.member_user_hash == self.member_hash(
            conversation.guild_id, user_id
        ):
            return "member"
        if conversation.listener_user_id == user_id:
            return "listener"
        return None

    async def get(self, public_id: str) -> Conversation:
        found = await self.repo.by_public_id(public_id)
        if found is None:
            raise NotFound("That conversation no longer exists.")
        return found

    async def by_thread(self, thread_id: int) -> Conversation | None:
        return await self.repo.by_thread(thread_id)

    # -- eligibility --------------------------------------------------------------------

    async def eligible(
        self, guild_id: int, candidates: set[int], *, exclude: set[int] | None = None, member_hash: bytes | None = None
    ) -> list[int]:
        """Listeners among ``candidates`` under their limits right now, in a stable order."""
        now = self.clock.now()
        counts = await self.repo.active_counts(guild_id)
        chosen: list[int] = []
        for listener in await self.listeners.active_listeners(guild_id):
            uid = listener.user_id
            if uid not in candidates or uid in (exclude or set()):
                continue
            if member_hash is not None and self.member_hash(guild_id, uid) == member_hash:
                continue  # never offer someone their own request
            if listener.break_until is not None and listener.break_until > now:
                continue
            if listener.cooldown_until is not None and listener.cooldown_until > now:
                continue
            if counts.get(uid, 0) >= listener.max_concurrent:
                continue
            if (
                listener.max_weekly_hours is not None
                and await self.rota.hours_this_week(guild_id, uid) >= listener.max_weekly_hours
            ):
                continue
            chosen.append(uid)
        return chosen

    async def has_listeners(self, guild_id: int) -> bool:
        return await self.listeners.has_active_listeners(guild_id)

    async def guilds_offering_support(self) -> list[int]:
        return [g for g in await self.listeners.guilds_with_settings() if await self.has_listeners(g)]

    # -- asking -------------------------------------------------------------------------

    async def check_can_request(self, guild_id: int, member_user_id: int) -> None:
        if not await self.has_listeners(guild_id):
            raise InvalidInput(
                "This server doesn't have volunteer listeners set up yet, so one-to-one support isn't available "
                "here. /resources lists services you can reach right now, any time."
            )
        h = self.member_hash(guild_id, member_user_id)
        if await self.repo.active_block(guild_id, h, self.clock.now()) is not None:
            raise NotAllowed(
                "You can't request one-to-one support in this server right now. If you need help, /resources "
                "lists services you can reach any time."
            )
        existing = await self.repo.open_for_member(guild_id, h)
        if existing is not None:
            what = "conversation with a listener is open" if existing.status == "active" else "request is still open"
            raise Conflict(f"Your {what}: write to me in our direct messages. To finish it, use /support end.")

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
            delivered = await self._require_port().tell(member_user_id, notice)
        except Exception:
            log.warning("support greeting failed conversation=%s", conversation.public_id)
            await self._discard(conversation)
            raise InvalidInput(
                "Discord didn't take my message to you just now, so your request wasn't sent. Please try again "
                "in a moment. Nobody was told about it."
            ) from None
        if not delivered:
            await self._discard(conversation)
            raise InvalidInput(
                "I couldn't send you a direct message, and the conversation happens there. Please allow direct "
                "messages from this server (Server name → Privacy Settings → Direct Messages) and ask again. "
                "Nobody was told about your request."
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
            await self._alert_urgent(conversation)
        offered = await self._offer(conversation, free, stage=0) if free else 0
        if offered:
            await self._schedule_escalation(conversation, 1)
            return RequestOutcome("offered", conversation, offered, zone=zone, assessment=assessment)
        await self._escalate(conversation, 1)
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
            raise InvalidInput("The message is empty. Write a few words, or queue without a message.")
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
                    "local": local_phrase(next_shift, zone) if next_shift else None,
                    "message": bool(text),
                },
            ),
        )
        if text:
            await self._enqueue_relay(conversation, "member", text, urgent=assess(text).level is Level.URGENT)
        if next_shift is not None:
            await self.scheduler.schedule(
                QUEUED_JOB,
                next_shift + timedelta(minutes=1),
                {"conversation": conversation.public_id},
                job_id=f"support:{conversation.public_id}:queued",
                grace=timedelta(hours=12),
            )
        else:
            await self._alert_request(conversation, "message_left" if text else "request")
        if assess(f"{cleaned or ''}\n{text}").level is Level.URGENT:
            await self._alert_urgent(conversation)
        log.info("support queued conversation=%s guild=%s", conversation.public_id, guild_id)
        return conversation

    async def _offer(
        self,
        conversation: Conversation,
        listeners: list[int],
        *,
        stage: int,
        kind: str = "request",
        note: str | None = None,
    ) -> int:
        port = self._require_port()
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
                conversation.member_label,
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

    async def _schedule_escalation(self, conversation: Conversation, stage: int, *, at: datetime | None = None) -> None:
        timeout = (await self.listeners.settings(conversation.guild_id)).offer_timeout_seconds
        await self.scheduler.schedule(
            ESCALATE_JOB,
            at or self.clock.now() + timedelta(seconds=timeout),
            {"conversation": conversation.public_id, "stage": stage},
            job_id=f"support:{conversation.public_id}:escalate:{stage}",
            grace=timedelta(hours=1),
        )

    async def _escalate(self, conversation: Conversation, stage: int) -> None:
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
            if free and await self._offer(conversation, free, stage=1):
                await self._notify(conversation, "member", "escalated_all", {})
                await self._schedule_escalation(conversation, 2)
                return
            await self._escalate(conversation, 2)
            return
        if stage == 2:
            alerted = await self._alert_request(conversation, "request")
            await self._notify(conversation, "member", "escalated_coordinators", {"alerted": alerted})
            await self._schedule_escalation(conversation, 3)
            return
        await self._notify(conversation, "member", "long_wait", {"guild_id": conversation.guild_id})

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
        await self._escalate(conversation, int(job.payload.get("stage", 1)))
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
        await self._notify(conversation, "member", "queue_started", {})
        if free and await self._offer(conversation, free, stage=0):
            await self._schedule_escalation(conversation, 1)
        else:
            await self._escalate(conversation, 1)

    # -- accepting ----------------------------------------------------------------------

    async def accept_offer(self, offer_public_id: str, user_id: int) -> Accepted:
        offer = await self.repo.offer_by_public_id(offer_public_id)
        if offer is None or offer.listener_user_id != user_id:
            raise NotFound("That offer isn't for you, or it no longer exists.")
        conversation = await self.repo.get(offer.conversation_id)
        if conversation is None:
            raise NotFound("That request no longer exists.")
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
                f"You're already with {limit} {'person' if limit == 1 else 'people'}, your limit at once. The request "
                "stays open for other listeners. /listener limits changes your limit."
            )
        return await self._after_accept(conversation, user_id)

    @staticmethod
    def _gone_text(conversation: Conversation) -> str:
        if conversation.status in ("closed", "cancelled") and conversation.accepted_at is None:
            return "The member withdrew this request. Thank you for being there."
        return "Another listener already took this one. Thank you for being there."

    async def coordinator_accept(self, public_id: str, actor: Actor) -> Accepted:
        conversation = await self.get(public_id)
        listener = await self.listeners.listener(conversation.guild_id, actor.user_id)
        is_listener = listener is not None and listener.active
        if not is_listener:
            await self.access.require_coordinator(conversation.guild_id, actor, "take support requests")
        if conversation.member_user_hash == self.member_hash(conversation.guild_id, actor.user_id):
            raise InvalidInput("That's your own request.")
        if not conversation.waiting:
            raise Conflict(self._gone_text(conversation))
        limit = listener.max_concurrent if listener is not None and is_listener else None
        if not await self.repo.accept(conversation.id, actor.user_id, new_tag(), None, self.clock.now(), limit):
            fresh = await self.repo.get(conversation.id)
            if fresh is None or not fresh.waiting:
                raise Conflict(self._gone_text(fresh or conversation))
            raise Conflict("You're at your limit of conversations at once.")
        return await self._after_accept(conversation, actor.user_id)

    async def _after_accept(self, conversation: Conversation, user_id: int) -> Accepted:
        await self.scheduler.cancel_prefix(f"support:{conversation.public_id}:")
        fresh = await self.repo.get(conversation.id)
        assert fresh is not None
        port = self._require_port()
        for other in await self.repo.offers_for(conversation.id, status="offered"):
            if await self.repo.set_offer_status(other.id, "withdrawn") and other.channel_id and other.message_id:
                await port.close_offer(other.channel_id, other.message_id, "taken")
        if fresh.alert_channel_id and fresh.alert_message_id:
            await port.update_alert(fresh.alert_channel_id, fresh.alert_message_id, "taken")
        if fresh.relay_mode == "thread":
            fresh = await self._open_thread(fresh, user_id)
        await self._notify(fresh, "member", "accepted", {"listener": fresh.listener_label})
        await self._touch(fresh)
        log.info("support accepted conversation=%s", fresh.public_id)
        return Accepted(fresh, self.topic(fresh), handoff=False)

    async def _open_thread(self, conversation: Conversation, user_id: int) -> Conversation:
        settings = await self.listeners.settings(conversation.guild_id)
        thread_id = None
        if settings.listeners_channel_id is not None:
            thread_id = await self._require_port().open_thread(conversation, settings.listeners_channel_id, user_id)
        if thread_id is None:
            log.warning("support thread not opened; relaying by DM conversation=%s", conversation.public_id)
            return await self.repo.update(conversation.id, relay_mode="dm")
        return await self.repo.update(conversation.id, thread_id=thread_id)

    async def pass_offer(self, offer_public_id: str, user_id: int) -> Offer:
        offer = await self.repo.offer_by_public_id(offer_public_id)
        if offer is None or offer.listener_user_id != user_id:
            raise NotFound("That offer isn't for you, or it no longer exists.")
        if not await self.repo.set_offer_status(offer.id, "passed"):
            raise Conflict("That offer was already settled.")
        conversation = await self.repo.get(offer.conversation_id)
        if (
            conversation is not None
            and offer.kind == "request"
            and conversation.status == "waiting"
            and offer.stage == conversation.stage
        ):
            still = await self.repo.offers_for(conversation.id, status="offered", kind="request")
            if not still:  # everyone asked has passed: don't make the member wait for the timeout
                await self._escalate(conversation, conversation.stage + 1)
                self.outbox.wake()
        elif conversation is not None and offer.kind == "handoff" and conversation.handoff_open:
            still = await self.repo.offers_for(conversation.id, status="offered", kind="handoff")
            if not still:
                await self._end_handoff(conversation, taken=False)
        return offer

    # -- the relay ----------------------------------------------------------------------

    async def routes_for(self, user_id: int) -> list[Route]:
        """The conversations a DM from this person could belong to."""
        routes = [Route(c, "listener") for c in await self.repo.active_for_listener(user_id)]
        for guild_id in await self.repo.open_guilds():
            found = await self.repo.open_for_member(guild_id, self.member_hash(guild_id, user_id))
            if found is not None:
                routes.append(Route(found, "member"))
        return routes

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
            raise InvalidInput("This conversation has ended. /support ask starts a new one.")
        if side == "listener" and fresh.status != "active":
            raise InvalidInput("This conversation has ended.")
        cleaned = sanitize(text or "", limit=RELAY_LIMIT)
        if not cleaned:
            return RelayResult(fresh.waiting, False, False, 0, attachments, empty=True)
        urgent = side == "member" and assess(cleaned).level is Level.URGENT
        if urgent:
            await self._notify(fresh, "member", "resources", {"guild_id": fresh.guild_id})
        pieces = await self._enqueue_relay(fresh, side, cleaned, urgent=urgent)
        first_held = False
        if fresh.waiting and not fresh.held_notice:
            await self.repo.update(fresh.id, held_notice=1)
            first_held = True
        if urgent:
            await self._alert_urgent(fresh)
        if fresh.status == "active" and self.clock.now() - fresh.last_activity_at >= TOUCH_EVERY:
            # The idle job is armed (at accept) and re-arms itself from last_activity_at, so a burst
            # of messages needs no write per line: a minute's precision is plenty for closing idle.
            await self._touch(fresh)
        self.outbox.wake(rescan=False)  # enqueue noted the stream
        return RelayResult(fresh.waiting, first_held, urgent, pieces, attachments)

    async def _enqueue_relay(self, conversation: Conversation, side: str, text: str, *, urgent: bool) -> int:
        stream = "listener" if side == "member" else "member"
        label = conversation.member_label if side == "member" else conversation.listener_label
        if urgent:
            await self.outbox.enqueue(
                conversation, stream, "notice", {"code": "urgent_banner", "params": {"guild_id": conversation.guild_id}}
            )
        pieces = chunks(text)
        for piece in pieces:
            await self.outbox.enqueue(
                conversation,
                stream,
                "relay",
                {"from": side, "label": label, "text": piece, "conversation": conversation.public_id},
            )
        return len(pieces)

    async def _notify(self, conversation: Conversation, stream: str, code: str, params: dict[str, Any]) -> OutboxRow:
        row = await self.outbox.enqueue(
            conversation, stream, "notice", {"code": code, "params": {"conversation": conversation.public_id, **params}}
        )
        self.outbox.wake()
        return row

    async def _touch(self, conversation: Conversation) -> None:
        now = self.clock.now()
        await self.repo.update(conversation.id, last_activity_at=now)
        idle = (await self.listeners.settings(conversation.guild_id)).idle_close_minutes
        await self.scheduler.schedule(
            IDLE_JOB,
            now + timedelta(minutes=idle),
            {"conversation": conversation.public_id},
            job_id=f"support:{conversation.public_id}:idle",
            grace=timedelta(hours=6),
        )

    async def _alert_urgent(self, conversation: Conversation) -> None:
        now = self.clock.now()
        if conversation.urgent_alerted_at is not None and now - conversation.urgent_alerted_at < URGENT_ALERT_EVERY:
            return
        await self.repo.update(conversation.id, urgent_alerted_at=now)
        if self.port is None:
            return
        await self.port.alert_coordinators(
            Alert(
                "urgent",
                conversation.guild_id,
                {
                    "conversation": conversation.public_id,
                    "named": conversation.member_name,
                    "listener_user_id": conversation.listener_user_id,
                    "listener": conversation.listener_label if conversation.listener_tag else None,
                    "status": conversation.status,
                },
            )
        )
        log.info("support urgent alert conversation=%s", conversation.public_id)

    async def _delivery_failed(self, conversation: Conversation, row: OutboxRow, kind: str) -> None:
        """A message could not be delivered for good: tell the other side once, in plain words."""
        if row.kind != "relay":
            return
        other = "listener" if row.stream == "member" else "member"
        who = "the member" if row.stream == "member" else "the listener"
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
            raise NotAllowed("Only the member can share who they are.")
        if conversation.status != "active":
            raise InvalidInput("This conversation isn't open any more.")
        name = sanitize(display_name, limit=NAME_LIMIT)
        await self._notify(
            conversation, "listener", "revealed", {"label": conversation.member_label, "user_id": user_id, "name": name}
        )
        log.info("support member revealed identity conversation=%s", public_id)
        return conversation

    # -- ending -------------------------------------------------------------------------

    async def open_for(self, user_id: int, guild_id: int | None = None) -> list[Route]:
        routes = await self.routes_for(user_id)
        return [r for r in routes if guild_id is None or r.conversation.guild_id == guild_id]

    async def end(self, public_id: str, user_id: int, *, by: str | None = None) -> Ended:
        conversation = await self.get(public_id)
        side = by or self.side_of(conversation, user_id)
        if side is None:
            raise NotAllowed("That conversation isn't yours.")
        if not conversation.is_open:
            raise Conflict("This conversation has already ended.")
        if conversation.waiting and side != "member":
            raise NotAllowed("Only the member can withdraw a request.")
        was_waiting = conversation.waiting
        if not await self.repo.close(conversation.id, side, self.clock.now()):
            raise Conflict("This conversation has already ended.")
        await self._closed(conversation, side, was_waiting)
        fresh = await self.repo.get(conversation.id)
        assert fresh is not None
        log.info("support ended conversation=%s by=%s", public_id, side)
        return Ended(fresh, side, was_waiting)

    async def _closed(self, conversation: Conversation, side: str, was_waiting: bool) -> None:
        await self.scheduler.cancel_prefix(f"support:{conversation.public_id}:")
        if was_waiting:
            await self.repo.drop_pending(conversation.id, "listener")
        # Closing dropped the topic (and a waiting request's unsent messages just went): leave no
        # copy of them, or of text relayed earlier, in the -wal file.
        await self.repo.db.checkpoint_after_delete()
        port = self.port
        if was_waiting:
            for offer in await self.repo.offers_for(conversation.id, status="offered"):
                if (
                    await self.repo.set_offer_status(offer.id, "withdrawn")
                    and port
                    and offer.channel_id
                    and offer.message_id
                ):
                    await port.close_offer(offer.channel_id, offer.message_id, "cancelled")
            if port and conversation.alert_channel_id and conversation.alert_message_id:
                await port.update_alert(conversation.alert_channel_id, conversation.alert_message_id, "cancelled")
            await self._notify(conversation, "member", "withdrawn", {})
            return
        idle = (await self.listeners.settings(conversation.guild_id)).idle_close_minutes
        how = {"member": "ended_by_member", "idle": "idle_closed", "block": "blocked"}.get(side, "ended_by_listener")
        if side == "block":
            await self._notify(conversation, "member", "blocked", {"guild_id": conversation.guild_id})
        else:
            await self._notify(conversation, "member", how, {"minutes": idle, "label": conversation.listener_label})
            await self._notify(conversation, "member", "feedback", {})
        await self._notify(
            conversation, "listener", "after_end", {"how": how, "label": conversation.member_label, "minutes": idle}
        )

    async def on_idle(self, job: Job) -> None:
        conversation = await self.repo.by_public_id(str(job.payload.get("conversation")))
        if conversation is not None and job.attempts and conversation.status == "closed":
            if conversation.closed_by == "idle":  # this job closed it before a restart: queue its notices
                await self._closed(conversation, "idle", was_waiting=False)  # (once: occurrence nonces)
            return
        if conversation is None or conversation.status != "active":
            return
        idle = (await self.listeners.settings(conversation.guild_id)).idle_close_minutes
        due = conversation.last_activity_at + timedelta(minutes=idle)
        if due > self.clock.now():
            # A job can't re-arm its own id (the scheduler marks it done after this returns): alternate.
            later = f"support:{conversation.public_id}:idle" + ("" if job.id.endswith(":later") else ":later")
            await self.scheduler.schedule(IDLE_JOB, due, {"conversation": conversation.public_id}, job_id=later)
            return
        if await self.repo.close(conversation.id, "idle", self.clock.now()):
            await self._closed(conversation, "idle", was_waiting=False)
            log.info("support closed idle conversation=%s", conversation.public_id)

    # -- after a conversation -----------------------------------------------------------

    async def feedback(self, public_id: str, user_id: int, score: int) -> bool:
        conversation = await self.get(public_id)
        if self.side_of(conversation, user_id) != "member":
            raise NotAllowed("Only the member can give feedback on this conversation.")
        if conversation.is_open:
            raise InvalidInput("You can give feedback once the conversation has ended.")
        if not 1 <= score <= 5:
            raise InvalidInput("Feedback is a score from 1 to 5.")
        return await self.repo.add_feedback(conversation, score, self.clock.now())

    async def comment(self, public_id: str, user_id: int, text: str) -> None:
        conversation = await self.get(public_id)
        if self.side_of(conversation, user_id) != "member":
            raise NotAllowed("Only the member can comment on this conversation.")
        cleaned = sanitize(text or "", limit=COMMENT_LIMIT)
        if not cleaned:
            raise InvalidInput("The comment is empty.")
        if not await self.repo.mark_commented(conversation.id):
            raise Conflict("Please choose a score first (or you already sent a comment).")
        score = await self.repo.feedback(conversation.id)
        await self._require_port().alert_coordinators(
            Alert(
                "comment",
                conversation.guild_id,
                {
                    "text": cleaned,
                    "score": score[0] if score else None,
                    "listener_user_id": conversation.listener_user_id,
                    "listener": conversation.listener_label,
                },
            )
        )

    async def mark_heavy(self, public_id: str, user_id: int) -> tuple[datetime | None, bool]:
        """The listener found it heavy: a cooldown before new requests; returns (until, debrief offer)."""
        conversation = await self.get(public_id)
        if conversation.listener_user_id != user_id:
            raise NotAllowed("Only the listener of this conversation can do that.")
        await self.repo.mark_heavy(conversation.id)
        until = await self.rota.start_cooldown(conversation.guild_id, user_id)
        listener = await self.listeners.listener(conversation.guild_id, user_id)
        log.info("support marked heavy conversation=%s", public_id)
        return until, listener is not None and listener.debrief_opt_in

    async def request_debrief(self, public_id: str, user_id: int) -> bool:
        conversation = await self.get(public_id)
        if conversation.listener_user_id != user_id:
            raise NotAllowed("Only the listener of this conversation can do that.")
        posted = await self._require_port().alert_coordinators(
            Alert("debrief", conversation.guild_id, {"listener_user_id": user_id})
        )
        return posted is not None

    # -- handoff ------------------------------------------------------------------------

    async def start_handoff(self, public_id: str, user_id: int, note: str | None) -> int:
        conversation = await self.get(public_id)
        if conversation.listener_user_id != user_id or conversation.status != "active":
            raise NotAllowed("Only the listener of an open conversation can hand it over.")
        if conversation.handoff_open:
            raise Conflict("You've already asked a colleague to take over; I'll tell you when someone does.")
        on_shift = await self.rota.on_shift(conversation.guild_id)
        free = await self.eligible(
            conversation.guild_id, on_shift, exclude={user_id}, member_hash=conversation.member_user_hash
        )
        if not free:
            raise InvalidInput(
                "No other listener on shift is free right now, so the conversation stays with you. You can still "
                "end it kindly, or ask a coordinator for help."
            )
        await self.repo.update(conversation.id, handoff_open=1)
        cleaned = sanitize(note or "", limit=NOTE_LIMIT) or None
        offered = await self._offer(conversation, free, stage=0, kind="handoff", note=cleaned)
        if not offered:
            await self.repo.update(conversation.id, handoff_open=0)
            raise InvalidInput("I couldn't reach the other listeners on shift (their DMs may be closed).")
        timeout = (await self.listeners.settings(conversation.guild_id)).offer_timeout_seconds
        await self.scheduler.schedule(
            HANDOFF_JOB,
            self.clock.now() + timedelta(seconds=timeout),
            {"conversation": conversation.public_id},
            job_id=f"support:{conversation.public_id}:handoff",
            grace=timedelta(hours=1),
        )
        log.info("support handoff asked conversation=%s", public_id)
        return offered

    async def _take_handoff(self, conversation: Conversation, offer: Offer, user_id: int, limit: int) -> Accepted:
        previous = conversation.listener_user_id
        previous_label = conversation.listener_label
        if offer.status != "offered" or not conversation.handoff_open or conversation.status != "active":
            await self.repo.set_offer_status(offer.id, "withdrawn")
            raise Conflict("Someone else already took over this conversation, or it ended. Thank you.")
        if not await self.repo.take_handoff(conversation.id, user_id, new_tag(), offer.id, self.clock.now(), limit):
            fresh = await self.repo.get(conversation.id)
            if fresh is None or not fresh.handoff_open:
                raise Conflict("Someone else already took over this conversation, or it ended. Thank you.")
            raise Conflict("You're at your limit of conversations at once.")
        fresh = await self.repo.get(conversation.id)
        assert fresh is not None
        await self._end_handoff(fresh, taken=True, previous=previous)
        if fresh.relay_mode == "thread" and fresh.thread_id is not None:
            await self._require_port().add_to_thread(fresh.thread_id, user_id)
        await self._notify(fresh, "member", "handed_off", {"listener": fresh.listener_label})
        await self._touch(fresh)
        log.info("support handed off conversation=%s", fresh.public_id)
        return Accepted(fresh, self.topic(fresh), handoff=True, previous_label=previous_label)

    async def _end_handoff(self, conversation: Conversation, *, taken: bool, previous: int | None = None) -> None:
        await self.scheduler.cancel(f"support:{conversation.public_id}:handoff")
        port = self._require_port()
        for other in await self.repo.offers_for(conversation.id, status="offered", kind="handoff"):
            if await self.repo.set_offer_status(other.id, "withdrawn") and other.channel_id and other.message_id:
                await port.close_offer(other.channel_id, other.message_id, "taken" if taken else "expired")
        if taken:
            if previous is not None:
                await self._tell_quietly(previous, Notice("handoff_done", {"listener": conversation.listener_label}))
        else:
            # Tell first: if that fails for a passing reason, the timeout job runs again and finds
            # the handoff still open.
            if conversation.listener_user_id is not None:
                await self._tell_quietly(
                    conversation.listener_user_id, Notice("handoff_none", {"label": conversation.member_label})
                )
            await self.repo.update(conversation.id, handoff_open=0)

    async def _tell_quietly(self, user_id: int, notice: Notice) -> None:
        """A courtesy DM whose failure must not undo what already happened (from a job, a passing
        failure is retried: the job runs again and the DM goes once)."""
        try:
            await self._require_port().tell(user_id, notice)
        except RetryLater:
            raise
        except Exception:
            log.warning("support notice not delivered code=%s", notice.code)

    async def on_handoff_timeout(self, job: Job) -> None:
        conversation = await self.repo.by_public_id(str(job.payload.get("conversation")))
        if conversation is None or not conversation.handoff_open or self.port is None:
            return
        await self._end_handoff(conversation, taken=False)

    # -- blocking -----------------------------------------------------------------------

    async def block(self, public_id: str, user_id: int) -> datetime:
        """End the conversation and stop this member from asking again here for a while, keyed
        on their hash: nobody learns who they are."""
        conversation = await self.get(public_id)
        if conversation.listener_user_id != user_id or conversation.status != "active":
            raise NotAllowed("Only the listener of an open conversation can end and block.")
        if conversation.member_user_hash is None:
            raise InvalidInput("This conversation can no longer be linked to anyone, so there is nobody to block.")
        now = self.clock.now()
        if not await self.repo.close(conversation.id, "block", now):
            raise Conflict("This conversation has already ended.")
        until = now + BLOCK_FOR
        block_id = await self.repo.add_block(
            conversation.guild_id, conversation.member_user_hash, until, public_id, now
        )
        await self._closed(conversation, "block", was_waiting=False)
        if self.port is not None:
            await self.port.alert_coordinators(
                Alert(
                    "blocked",
                    conversation.guild_id,
                    {
                        "block": block_id,
                        "until": until,
                        "label": conversation.member_label,
                        "listener_user_id": user_id,
                    },
                )
            )
        log.info("support member blocked conversation=%s block=%s", public_id, block_id)
        return until

    async def lift_block(self, block_id: int, actor: Actor) -> Block:
        block = await self.repo.block(block_id)
        if block is None:
            raise NotFound("That block no longer exists.")
        await self.access.require_coordinator(block.guild_id, actor, "lift support blocks")
        if not await self.repo.lift_block(block_id, self.clock.now()):
            raise Conflict("That block was already lifted.")
        log.info("support block lifted block=%s", block_id)
        found = await self.repo.block(block_id)
        assert found is not None
        return found

    async def report_data(self, guild_id: int, start: datetime, end: datetime) -> tuple[list[Conversation], list[int]]:
        """Requests made and feedback given in a period (for /rota report)."""
        return (
            await self.repo.requests_between(guild_id, start, end),
            await self.repo.feedback_between(guild_id, start, end),
        )

    # -- start-up -----------------------------------------------------------------------

    async def ensure_scheduled(self) -> int:
        """At start: every open request or conversation has its next job. A job missed while the bot
        was down longer than its grace would otherwise leave a member waiting for ever. Idempotent."""
        pending = set(await self.scheduler.jobs.pending_ids(prefix="support:"))
        now = self.clock.now()
        made = 0
        for conversation in await self.repo.open_conversations():
            prefix = f"support:{conversation.public_id}:"
            if any(job_id.startswith(prefix) for job_id in pending):
                continue
            payload = {"conversation": conversation.public_id}
            if conversation.status == "waiting" and conversation.stage < 3:
                await self._schedule_escalation(conversation, conversation.stage + 1, at=now)
            elif conversation.status == "queued" and conversation.queued_for is not None:
                await self.scheduler.schedule(
                    QUEUED_JOB,
                    max(now, conversation.queued_for),
                    payload,
                    job_id=prefix + "queued",
                    grace=timedelta(hours=12),
                )
            elif conversation.status == "active":
                idle = (await self.listeners.settings(conversation.guild_id)).idle_close_minutes
                due = max(now, conversation.last_activity_at + timedelta(minutes=idle))
                await self.scheduler.schedule(IDLE_JOB, due, payload, job_id=prefix + "idle", grace=timedelta(hours=6))
                if conversation.handoff_open:
                    await self.scheduler.schedule(HANDOFF_JOB, now, payload, job_id=prefix + "handoff")
            else:
                continue
            made += 1
        if made:
            log.info("support jobs restored count=%d", made)
        return made

    # -- wiring -------------------------------------------------------------------------

    def handlers(self) -> dict[str, Any]:
        return {
            ESCALATE_JOB: self.on_escalate,
            IDLE_JOB: self.on_idle,
            HANDOFF_JOB: self.on_handoff_timeout,
            QUEUED_JOB: self.on_queued,
        }
