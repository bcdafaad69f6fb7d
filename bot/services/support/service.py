"""The one object the app, the cogs and the scheduler use for support: :class:`SupportService`.

It builds the parts on one :class:`~bot.services.support.core.SupportDeps` and hands each call to
the part that owns it (the table in ``__init__``); what all parts share (identities, eligibility)
it has itself, from :class:`~bot.services.support.core.SupportCore`. It also restores the jobs of
open conversations at start.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.clock import Clock
from bot.crypto import Keyring
from bot.scheduler import Scheduler
from bot.services.access import AccessService
from bot.services.member_time import MemberTimeService
from bot.services.outbox import OutboxService
from bot.services.rota.service import RotaService
from bot.services.support.closing import Closing
from bot.services.support.conversation import LiveConversation
from bot.services.support.core import SupportCore, SupportDeps
from bot.services.support.intake import Intake
from bot.services.support.models import ESCALATE_JOB, HANDOFF_JOB, IDLE_JOB, QUEUED_JOB
from bot.services.support.port import SupportPort
from bot.storage.guilds import GuildSettingsRepository
from bot.storage.listeners import ListenerRepository
from bot.storage.support import SupportRepository

log = logging.getLogger(__name__)


class SupportService(SupportCore):
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
        deps = SupportDeps(
            repo, listeners, rota, outbox, keyring, guild_settings, member_time, access, scheduler, clock
        )
        super().__init__(deps)
        self.intake = Intake(deps)
        self.conversation = LiveConversation(deps, self.intake)
        self.closing = Closing(deps)
        # Delivery failures of relayed messages come here (bot/app.py wires the outbox to it).
        self.delivery_failed = self.conversation.delivery_failed

        # Asking, and routing to listeners.
        self.check_can_request = self.intake.check_can_request
        self.open_request = self.intake.open_request
        self.topic_is_urgent = self.intake.topic_is_urgent
        self.queue_request = self.intake.queue_request
        self.route_queued = self.intake.route_queued
        self.on_escalate = self.intake.on_escalate
        self.on_queued = self.intake.on_queued
        # The live conversation: accepting, the relay, handing over.
        self.accept_offer = self.conversation.accept_offer
        self.coordinator_accept = self.conversation.coordinator_accept
        self.pass_offer = self.conversation.pass_offer
        self.route_dm = self.conversation.route_dm
        self.relay = self.conversation.relay
        self.reveal = self.conversation.reveal
        self.start_handoff = self.conversation.start_handoff
        self.on_handoff_timeout = self.conversation.on_handoff_timeout
        # Closing, and what follows.
        self.open_for = self.closing.open_for
        self.end = self.closing.end
        self.on_idle = self.closing.on_idle
        self.feedback = self.closing.feedback
        self.comment = self.closing.comment
        self.mark_heavy = self.closing.mark_heavy
        self.request_debrief = self.closing.request_debrief
        self.block = self.closing.block
        self.lift_block = self.closing.lift_block
        self.report_data = self.closing.report_data

    def attach(self, port: SupportPort) -> None:
        self.deps.port = port

    # -- start-up -----------------------------------------------------------------------

    async def ensure_scheduled(self) -> int:
        """At start: every open request or conversation has its next job. A job missed while the bot
        was down longer than its grace would otherwise leave a member waiting for ever. Idempotent."""
        pending = set(await self.scheduler.jobs.pending_ids(prefix="support:"))
        now = self.clock.now()
        made = 0
        owns = self.scheduler.scope.shards.owns  # several processes: each ensures its own servers'
        for conversation in await self.repo.open_conversations():
            if not owns(conversation.guild_id):
                continue
            prefix = f"support:{conversation.public_id}:"
            if any(job_id.startswith(prefix) for job_id in pending):
                continue
            payload = {"conversation": conversation.public_id}
            if conversation.status == "waiting" and conversation.stage < 3:
                await self.intake.schedule_escalation(conversation, conversation.stage + 1, at=now)
            elif conversation.status == "queued" and conversation.queued_for is not None:
                await self.intake.schedule_queued(conversation, conversation.queued_for)
            elif conversation.status == "active":
                await self.schedule_idle(conversation, conversation.last_activity_at)
                if conversation.handoff_open:
                    await self.scheduler.schedule(
                        HANDOFF_JOB, now, payload, guild_id=conversation.guild_id, job_id=prefix + "handoff"
                    )
            else:
                continue
            made += 1
        if made:
            log.info("support jobs restored count=%d", made)
        return made

    # -- wiring -------------------------------------------------------------------------

    def handlers(self) -> dict[str, Any]:
        return {
            ESCALATE_JOB: self.intake.on_escalate,
            IDLE_JOB: self.closing.on_idle,
            HANDOFF_JOB: self.conversation.on_handoff_timeout,
            QUEUED_JOB: self.intake.on_queued,
        }
