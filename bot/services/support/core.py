"""What every part of support shares: its stores, services, clock and port (one
:class:`SupportDeps`), and on :class:`SupportCore`, the base of each part, who someone is in a
conversation, which listeners are free, and the notices, relayed text and alerts any part sends.

Logs carry event kinds and opaque conversation ids: never user ids, never text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.crypto import DecryptionError, Keyring
from bot.errors import NotFound
from bot.i18n import msg
from bot.scheduler import Scheduler
from bot.services.access import AccessService
from bot.services.member_time import MemberTimeService
from bot.services.outbox import OutboxService
from bot.services.rota.service import RotaService
from bot.services.support.models import (
    IDLE_GRACE,
    IDLE_JOB,
    URGENT_ALERT_EVERY,
    Alert,
    Route,
    chunks,
    topic_context,
)
from bot.services.support.port import SupportPort
from bot.storage.guilds import GuildSettingsRepository
from bot.storage.listeners import ListenerRepository
from bot.storage.support import Conversation, Offer, OutboxRow, SupportRepository

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SupportDeps:
    """One per service, shared by its parts: attaching the port here attaches it for all of them."""

    repo: SupportRepository
    listeners: ListenerRepository
    rota: RotaService
    outbox: OutboxService
    keyring: Keyring
    guild_settings: GuildSettingsRepository
    member_time: MemberTimeService
    access: AccessService
    scheduler: Scheduler
    clock: Clock
    port: SupportPort | None = None


class SupportCore:
    def __init__(self, deps: SupportDeps) -> None:
        self.deps = deps
        self.repo = deps.repo
        self.listeners = deps.listeners
        self.rota = deps.rota
        self.outbox = deps.outbox
        self.keyring = deps.keyring
        self.guild_settings = deps.guild_settings
        self.member_time = deps.member_time
        self.access = deps.access
        self.scheduler = deps.scheduler
        self.clock = deps.clock

    @property
    def port(self) -> SupportPort | None:
        """The support cog's port: None until the cog loads."""
        return self.deps.port

    def require_port(self) -> SupportPort:
        if self.port is None:
            raise RuntimeError("the support cog is not loaded")
        return self.port

    # -- identities ---------------------------------------------------------------------

    def member_hash(self, guild_id: int, user_id: int) -> bytes:
        return self.keyring.member_hash(guild_id, user_id)

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
            raise NotFound(msg("That conversation no longer exists."))
        return found

    async def by_thread(self, thread_id: int) -> Conversation | None:
        return await self.repo.by_thread(thread_id)

    async def offer_at(self, channel_id: int, message_id: int) -> Offer | None:
        """The offer a listener was shown in this message, if it is still known."""
        return await self.repo.offer_by_message(channel_id, message_id)

    async def routes_for(self, user_id: int) -> list[Route]:
        """The conversations a DM from this person could belong to."""
        routes = [Route(c, "listener") for c in await self.repo.active_for_listener(user_id)]
        for guild_id in await self.repo.open_guilds():
            found = await self.repo.open_for_member(guild_id, self.member_hash(guild_id, user_id))
            if found is not None:
                routes.append(Route(found, "member"))
        return routes

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

    # -- notices, relayed text and alerts -----------------------------------------------

    async def enqueue_relay(self, conversation: Conversation, side: str, text: str, *, urgent: bool) -> int:
        stream = "listener" if side == "member" else "member"
        # Each reader sees the writer's label in their own language, made from the writer's tag (a
        # listener's changes with a handoff, so it is kept with the text).
        tag = conversation.member_tag if side == "member" else conversation.listener_tag
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
                {"from": side, "tag": tag, "text": piece, "conversation": conversation.public_id},
            )
        return len(pieces)

    async def notify(self, conversation: Conversation, stream: str, code: str, params: dict[str, Any]) -> OutboxRow:
        row = await self.outbox.enqueue(
            conversation, stream, "notice", {"code": code, "params": {"conversation": conversation.public_id, **params}}
        )
        self.outbox.wake()
        return row

    async def touch(self, conversation: Conversation) -> None:
        now = self.clock.now()
        await self.repo.update(conversation.id, last_activity_at=now)
        await self.schedule_idle(conversation, now)

    async def schedule_idle(self, conversation: Conversation, last_activity: datetime, *, later: bool = False) -> None:
        """The check that closes a quiet conversation, its idle time after ``last_activity`` (at once
        if that has passed). ``later``: under the second id, for the job that re-arms itself (a job
        can't re-arm its own id: the scheduler marks it done after it returns). One place for all."""
        idle = (await self.listeners.settings(conversation.guild_id)).idle_close_minutes
        await self.scheduler.schedule(
            IDLE_JOB,
            max(self.clock.now(), last_activity + timedelta(minutes=idle)),
            {"conversation": conversation.public_id},
            guild_id=conversation.guild_id,
            job_id=f"support:{conversation.public_id}:idle" + (":later" if later else ""),
            grace=IDLE_GRACE,
        )

    async def alert_urgent(self, conversation: Conversation) -> None:
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
                    "listener_tag": conversation.listener_tag,
                    "status": conversation.status,
                },
            )
        )
        log.info("support urgent alert conversation=%s", conversation.public_id)
