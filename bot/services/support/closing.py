"""Closing a conversation (by either side, after it went idle, or with a block) and what follows:
the member's feedback and comment, the listener's cooldown and debrief, lifting a block, and the
figures for the rota report."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.i18n import N_, msg
from bot.scheduler import Job
from bot.services.access import Actor
from bot.services.sanitize import sanitize
from bot.services.support.core import SupportCore
from bot.services.support.models import BLOCK_FOR, COMMENT_LIMIT, Alert, Ended, Route
from bot.storage.support import Block, Conversation

log = logging.getLogger(__name__)


class Closing(SupportCore):
    # -- ending -------------------------------------------------------------------------

    async def open_for(self, user_id: int, guild_id: int | None = None) -> list[Route]:
        routes = await self.routes_for(user_id)
        return [r for r in routes if guild_id is None or r.conversation.guild_id == guild_id]

    async def end(self, public_id: str, user_id: int, *, by: str | None = None) -> Ended:
        conversation = await self.get(public_id)
        side = by or self.side_of(conversation, user_id)
        if side is None:
            raise NotAllowed(msg("That conversation isn't yours."))
        if not conversation.is_open:
            raise Conflict(msg("This conversation has already ended."))
        if conversation.waiting and side != "member":
            raise NotAllowed(msg("Only the member can withdraw a request."))
        was_waiting = conversation.waiting
        if not await self.repo.close(conversation.id, side, self.clock.now()):
            raise Conflict(msg("This conversation has already ended."))
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
                await port.update_alert(
                    conversation.guild_id, conversation.alert_channel_id, conversation.alert_message_id, "cancelled"
                )
            await self.notify(conversation, "member", "withdrawn", {})
            return
        idle = (await self.listeners.settings(conversation.guild_id)).idle_close_minutes
        how = {"member": "ended_by_member", "idle": "idle_closed", "block": "blocked"}.get(side, "ended_by_listener")
        if side == "block":
            await self.notify(conversation, "member", "blocked", {"guild_id": conversation.guild_id})
        else:
            await self.notify(conversation, "member", how, {"minutes": idle, "listener_tag": conversation.listener_tag})
            await self.notify(conversation, "member", "feedback", {})
        await self.notify(conversation, "listener", "after_end", {"how": how, "minutes": idle})

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
            await self.schedule_idle(conversation, conversation.last_activity_at, later=not job.id.endswith(":later"))
            return
        if await self.repo.close(conversation.id, "idle", self.clock.now()):
            await self._closed(conversation, "idle", was_waiting=False)
            log.info("support closed idle conversation=%s", conversation.public_id)

    # -- after a conversation -----------------------------------------------------------

    async def feedback(self, public_id: str, user_id: int, score: int) -> bool:
        conversation = await self.get(public_id)
        if self.side_of(conversation, user_id) != "member":
            raise NotAllowed(msg("Only the member can give feedback on this conversation."))
        if conversation.is_open:
            raise InvalidInput(msg("You can give feedback once the conversation has ended."))
        if not 1 <= score <= 5:
            raise InvalidInput(msg("Feedback is a score from 1 to 5."))
        return await self.repo.add_feedback(conversation, score, self.clock.now())

    async def comment(self, public_id: str, user_id: int, text: str) -> None:
        conversation = await self.get(public_id)
        if self.side_of(conversation, user_id) != "member":
            raise NotAllowed(msg("Only the member can comment on this conversation."))
        cleaned = sanitize(text or "", limit=COMMENT_LIMIT)
        if not cleaned:
            raise InvalidInput(msg("The comment is empty."))
        if not await self.repo.mark_commented(conversation.id):
            raise Conflict(msg("Please choose a score first (or you already sent a comment)."))
        score = await self.repo.feedback(conversation.id)
        await self.require_port().alert_coordinators(
            Alert(
                "comment",
                conversation.guild_id,
                {
                    "text": cleaned,
                    "score": score[0] if score else None,
                    "listener_user_id": conversation.listener_user_id,
                    "listener_tag": conversation.listener_tag,
                },
            )
        )

    async def mark_heavy(self, public_id: str, user_id: int) -> tuple[datetime | None, bool]:
        """The listener found it heavy: a cooldown before new requests; returns (until, debrief offer)."""
        conversation = await self.get(public_id)
        if conversation.listener_user_id != user_id:
            raise NotAllowed(msg("Only the listener of this conversation can do that."))
        await self.repo.mark_heavy(conversation.id)
        until = await self.rota.start_cooldown(conversation.guild_id, user_id)
        listener = await self.listeners.listener(conversation.guild_id, user_id)
        log.info("support marked heavy conversation=%s", public_id)
        return until, listener is not None and listener.debrief_opt_in

    async def request_debrief(self, public_id: str, user_id: int) -> bool:
        conversation = await self.get(public_id)
        if conversation.listener_user_id != user_id:
            raise NotAllowed(msg("Only the listener of this conversation can do that."))
        posted = await self.require_port().alert_coordinators(
            Alert("debrief", conversation.guild_id, {"listener_user_id": user_id})
        )
        return posted is not None

    # -- blocking -----------------------------------------------------------------------

    async def block(self, public_id: str, user_id: int) -> datetime:
        """End the conversation and stop this member from asking again here for a while, keyed
        on their hash: nobody learns who they are."""
        conversation = await self.get(public_id)
        if conversation.listener_user_id != user_id or conversation.status != "active":
            raise NotAllowed(msg("Only the listener of an open conversation can end and block."))
        if conversation.member_user_hash is None:
            raise InvalidInput(msg("This conversation can no longer be linked to anyone, so there is nobody to block."))
        now = self.clock.now()
        if not await self.repo.close(conversation.id, "block", now):
            raise Conflict(msg("This conversation has already ended."))
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
                        "member_tag": conversation.member_tag,
                        "member_name": conversation.member_name,
                        "listener_user_id": user_id,
                    },
                )
            )
        log.info("support member blocked conversation=%s block=%s", public_id, block_id)
        return until

    async def lift_block(self, block_id: int, actor: Actor) -> Block:
        block = await self.repo.block(block_id)
        if block is None:
            raise NotFound(msg("That block no longer exists."))
        await self.access.require_coordinator(block.guild_id, actor, N_("lift support blocks"))
        if not await self.repo.lift_block(block_id, self.clock.now()):
            raise Conflict(msg("That block was already lifted."))
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
