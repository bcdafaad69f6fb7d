"""Who is coming to a session: RSVPs (Going / Not going, and Discord's own "Interested"), places
and the waitlist, reminders for all of a circle's sessions, and the reminder job itself."""

from __future__ import annotations

import logging

from bot.errors import InvalidInput, NotFound
from bot.i18n import msg
from bot.scheduler import Job
from bot.sends import RetryLater
from bot.services.sessions.core import SessionCore
from bot.services.sessions.models import LIVE, DmResult, ReminderView, RsvpResult, not_live_text
from bot.storage.sessions import StoredOccurrence
from bot.timekeeping.markup import stamp

log = logging.getLogger(__name__)


class Attendance(SessionCore):
    async def rsvp(self, occurrence_id: int, user_id: int, *, via: str = "button") -> RsvpResult:
        stored = await self.repo.occurrence(occurrence_id)
        if stored is None:
            raise NotFound(msg("That session no longer exists."))
        series = await self.repo.series(stored.series_id)
        if series is None:
            raise NotFound(msg("That session no longer exists."))
        if stored.status != "scheduled":
            raise InvalidInput(not_live_text(stored))
        existing = await self.repo.rsvp(stored.id, user_id)
        via_button = via == "button" or bool(existing and existing.via_button and existing.status != "declined")
        via_interested = via == "interested" or bool(
            existing and existing.via_interested and existing.status != "declined"
        )
        if existing is not None and existing.status in ("going", "waitlist"):
            await self.repo.put_rsvp(stored, user_id, existing.status, via_button, via_interested, self.clock.now())
            view = await self.view(stored, series)
            return RsvpResult(existing.status, await self._place(stored.id, user_id), True, view)
        status = await self.repo.take_place(
            stored, user_id, series.capacity, via_button, via_interested, self.clock.now()
        )
        view = await self.view(stored, series)
        await self.refresh_announcement(stored, view)
        log.info("session rsvp occurrence=%s status=%s via=%s", stored.id, status, via)
        return RsvpResult(status, await self._place(stored.id, user_id), False, view)

    async def _place(self, occurrence_id: int, user_id: int) -> int | None:
        waiting = await self.repo.rsvps(occurrence_id, "waitlist")
        for index, rsvp in enumerate(waiting, start=1):
            if rsvp.user_id == user_id:
                return index
        return None

    async def unrsvp(self, occurrence_id: int, user_id: int, *, via: str = "button") -> bool:
        """Not going (button: a clear decision, remembered) or Interested removed in Discord."""
        stored = await self.repo.occurrence(occurrence_id)
        if stored is None:
            return False
        existing = await self.repo.rsvp(stored.id, user_id)
        if existing is None or existing.status == "declined":
            if via == "button" and existing is None and stored.status in LIVE:
                # Remember the decision so Discord's "Interested" (read later) doesn't override it.
                await self.repo.put_rsvp(stored, user_id, "declined", False, False, self.clock.now())
            return False
        if via == "interested" and existing.via_button:
            await self.repo.put_rsvp(stored, user_id, existing.status, True, False, self.clock.now())
            return False
        if via == "button":
            await self.repo.put_rsvp(stored, user_id, "declined", False, False, self.clock.now())
        else:
            await self.repo.db.execute(
                "DELETE FROM session_rsvps WHERE occurrence_id = ? AND user_id = ?", (stored.id, user_id)
            )
        if existing.status == "going":
            await self.promote(stored.id)
        view = await self.view(stored)
        await self.refresh_announcement(stored, view)
        log.info("session unrsvp occurrence=%s via=%s", stored.id, via)
        return True

    async def promote(self, occurrence_id: int) -> int:
        """Move people from the waitlist into free places, in order, and tell them privately."""
        stored = await self.repo.occurrence(occurrence_id)
        if stored is None or stored.status != "scheduled":
            return 0
        series = await self.repo.series(stored.series_id)
        if series is None:
            return 0
        promoted = 0
        while True:
            user_id = await self.repo.promote_next(stored.id, series.capacity)
            if user_id is None:
                break
            promoted += 1
            if self.discord is not None:
                view = await self.view(stored, series)
                result = await self.discord.send_notice(
                    stored.guild_id,
                    user_id,
                    msg(
                        "Good news: a place opened up for **{title}** ({circle}) on {when}, so you're going now. "
                        "If you can't make it after all, press Not going on the announcement so someone else "
                        "can come.",
                        title=series.title,
                        circle=view.circle_name,
                        when=stamp(stored.starts_at),
                    ),
                )
                if result is DmResult.CLOSED:
                    await self.repo.mark_dm_closed(stored.id, user_id)
        if promoted:
            log.info("session waitlist promoted occurrence=%s count=%d", stored.id, promoted)
        return promoted

    async def interest_changed(self, guild_id: int, event_id: int, user_id: int, interested: bool) -> None:
        """Discord's own "Interested" was pressed or un-pressed on one of our events."""
        stored = await self.repo.occurrence_for_event(event_id)
        if stored is None or stored.guild_id != guild_id or stored.status != "scheduled":
            return
        if interested:
            await self._interest(stored, user_id)
        else:
            await self.unrsvp(stored.id, user_id, via="interested")

    async def _interest(self, stored: StoredOccurrence, user_id: int) -> None:
        circle = await self.circles.get(stored.circle_id)
        if circle is None:
            return
        if circle.is_private and await self.circles.consented_at(circle.id, user_id) is None:
            return  # not a member of a private circle: nothing is stored about them
        existing = await self.repo.rsvp(stored.id, user_id)
        if existing is not None and existing.status == "declined":
            return  # they pressed Not going: that decision stands until they press Going
        result = await self.rsvp(stored.id, user_id, via="interested")
        if not result.already and result.status == "waitlist" and self.discord is not None:
            await self.discord.send_notice(
                stored.guild_id,
                user_id,
                msg(
                    "Thanks for your interest in **{title}** ({circle}) on {when}. It's full right now, so you're "
                    "number {position} on the waitlist. I'll message you if a place opens up.",
                    title=result.view.title,
                    circle=result.view.circle_name,
                    when=stamp(result.view.starts_at),
                    position=result.position,
                ),
            )

    async def sync_interested(self, stored: StoredOccurrence) -> None:
        """Read Discord's "Interested" list (catches what happened while the bot was away)."""
        if self.discord is None or stored.discord_event_id is None or stored.event_status in ("none", "gone"):
            return
        try:
            ids = await self.discord.interested(stored.guild_id, stored.discord_event_id)
        except Exception:
            log.warning("could not read interested users occurrence=%s", stored.id)
            return
        if ids is None:
            return
        current = set(ids)
        known = {r.user_id: r for r in await self.repo.rsvps(stored.id)}
        for user_id in ids:
            if user_id not in known:
                await self._interest(stored, user_id)
        for user_id, rsvp in known.items():
            if rsvp.via_interested and user_id not in current and rsvp.status != "declined":
                await self.unrsvp(stored.id, user_id, via="interested")

    async def set_reminders(self, guild_id: int, circle_id: int, user_id: int, on: bool) -> bool:
        circle = await self.circle(circle_id)
        if circle.guild_id != guild_id:
            raise NotFound(msg("That circle isn't in this server."))
        if on and await self.circles.consented_at(circle.id, user_id) is None:
            raise InvalidInput(
                msg(
                    "Reminders for all of {circle}'s sessions are for its members. Join first with /circle join, "
                    "or press Going on a session's announcement to be reminded about that one.",
                    circle=circle.name,
                )
            )
        return await self.repo.set_optin(circle.id, guild_id, user_id, on, self.clock.now())

    async def run_reminder(self, job: Job) -> None:
        found = await self.job_target(job)
        if found is None:
            return
        stored, series, circle = found
        if stored.status != "scheduled" or not circle.active:
            return
        port = self.port  # raises (the job is recorded as failed) if the cog never attached it
        await self.sync_interested(stored)
        stored = await self.repo.occurrence(stored.id) or stored
        view = await self.view(stored, series, circle)
        going = [r.user_id for r in await self.repo.rsvps(stored.id, "going")]
        optins = [u for u in await self.repo.optins_in_circle(circle.id) if u not in set(going)]
        sent = closed = 0
        deferred: list[RetryLater] = []
        for user_id, is_going in [*((u, True) for u in going), *((u, False) for u in optins)]:
            zone, own = await self.member_time.zone_name(stored.guild_id, user_id)
            reminder = ReminderView(
                session=view,
                offset_minutes=int(job.payload.get("offset", 0)),
                zone=zone,
                zone_is_own=own,
                ground_rules=circle.ground_rules,
                going=is_going,
            )
            try:
                # Once per person and occurrence: a retry or a re-run skips those already sent.
                result = await port.send_reminder(user_id, reminder)
            except RetryLater as exc:
                deferred.append(exc)  # the others still get theirs now; this one on the retry
                continue
            if result is DmResult.SENT:
                sent += 1
            elif result is DmResult.CLOSED:
                closed += 1
                if is_going:
                    await self.repo.mark_dm_closed(stored.id, user_id)
        await self.repo.count_reminders(stored.id, sent, closed)
        log.info(
            "session reminders occurrence=%s sent=%d dms_closed=%d retrying=%d", stored.id, sent, closed, len(deferred)
        )
        if deferred:
            raise RetryLater.combine(deferred)
