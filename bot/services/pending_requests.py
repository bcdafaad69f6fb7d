"""Hand check-in "ask a listener" requests over to the support relay.

A member can ask for a listener from a check-in before the server has any listeners; the request is
kept as pending. Once listeners exist (a listener is approved, or at start), each pending request is
offered to whoever is on shift, or queued for the next shift, and marked routed.
"""

from __future__ import annotations

import logging

from bot.errors import PeerCirclesError
from bot.services.checkins.service import CheckinService
from bot.services.support.service import SupportService

log = logging.getLogger(__name__)


class PendingRequestSweep:
    def __init__(self, checkins: CheckinService, support: SupportService) -> None:
        self.checkins = checkins
        self.support = support

    async def sweep_all(self) -> int:
        """At connect: sweep every server with listeners that this process owns (several
        processes: each sweeps its own, so no request is routed twice)."""
        owns = self.support.scheduler.scope.shards.owns
        return sum([await self.sweep(g) for g in await self.support.guilds_offering_support() if owns(g)])

    async def sweep(self, guild_id: int) -> int:
        """Route every pending check-in request in this server; return how many moved."""
        if not await self.support.has_listeners(guild_id):
            return 0
        moved = 0
        for request in await self.checkins.pending_requests(guild_id):
            try:
                outcome = await self.support.open_request(
                    guild_id, request.user_id, None, "checkin", circle_id=request.circle_id
                )
                if outcome.status == "nobody":
                    await self.support.queue_request(
                        guild_id, request.user_id, None, "checkin", circle_id=request.circle_id
                    )
            except PeerCirclesError:  # blocked, DMs closed, already talking: it stays pending
                log.info("pending listener request not routed request=%s", request.id)
                continue
            await self.checkins.mark_request_routed(request.id)
            moved += 1
        if moved:
            log.info("pending listener requests routed guild=%s count=%d", guild_id, moved)
        return moved
