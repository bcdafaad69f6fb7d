"""Following Discord: an event deleted, cancelled or moved by hand in Discord's Events list (as it
happens, or caught up at connect), and at connect, every live occurrence settled or given its jobs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, time

from bot.i18n import msg
from bot.services.sessions.changes import Changes
from bot.services.sessions.core import SessionCore, SessionDeps
from bot.services.sessions.live import LiveSession
from bot.services.sessions.models import (
    AUTOCLOSE_AFTER,
    HAND_EDIT_TOLERANCE,
    LIVE,
    NOTE_EVENT_CANCELLED,
    NOTE_EVENT_DELETED,
    EventState,
)
from bot.services.sessions.planning import Planning
from bot.timekeeping.markup import stamp
from bot.timekeeping.recurrence import Change
from bot.timekeeping.wallclock import tz

log = logging.getLogger(__name__)


class EventSync(SessionCore):
    def __init__(self, deps: SessionDeps, planning: Planning, changes: Changes, live: LiveSession) -> None:
        super().__init__(deps)
        self.planning = planning
        self.changes = changes
        self.live = live

    # -- things changed by hand in Discord ------------------------------------------------

    async def event_removed(self, guild_id: int, event_id: int, *, how: str = "deleted") -> bool:
        """A Discord event was deleted or cancelled (``how``) by hand: that occurrence is skipped."""
        stored = await self.repo.occurrence_for_event(event_id)
        if stored is None or stored.guild_id != guild_id:
            return False
        if stored.status != "scheduled":
            if stored.event_status not in ("gone", "completed"):
                await self.repo.update_occurrence(stored.id, event_status="gone")
            return False
        series = await self.repo.series(stored.series_id)
        if series is None:
            return False
        circle = await self.circles.get(series.circle_id)
        cancelled = how == "cancelled"
        note = NOTE_EVENT_CANCELLED if cancelled else NOTE_EVENT_DELETED
        await self.repo.put_change(series.id, Change(stored.day, skip=True), note)
        await self.repo.update_occurrence(stored.id, event_status="gone")
        view = await self.changes.call_off(
            series, circle, stored, "skipped", note, tell=msg("it was called off"), delete_event=False
        )
        log.info("session event %s by hand; occurrence skipped occurrence=%s", how, stored.id)
        await self.planning.ensure_window(series)
        about = {"title": series.title, "when": stamp(view.starts_at)}
        if cancelled:
            text = msg(
                "The Discord event for **{title}** on {when} was cancelled by hand, so I treated that session as "
                "skipped (its reminders are off and members who were going were told). The rest of the series goes on.",
                **about,
            )
        else:
            text = msg(
                "The Discord event for **{title}** on {when} was deleted by hand, so I treated that session as "
                "skipped (its reminders are off and members who were going were told). The rest of the series goes on.",
                **about,
            )
        await self.tell_mods(guild_id, text)
        return True

    async def event_changed(
        self, guild_id: int, event_id: int, status: str, starts_at: datetime, ends_at: datetime | None
    ) -> bool:
        """A Discord event was edited (by hand or by us). Follow a hand-cancel or a new time."""
        if status == "canceled":
            return await self.event_removed(guild_id, event_id, how="cancelled")
        stored = await self.repo.occurrence_for_event(event_id)
        if stored is None or stored.guild_id != guild_id or stored.status != "scheduled":
            return False
        if abs(starts_at - stored.starts_at) <= HAND_EDIT_TOLERANCE and (
            ends_at is None or abs(ends_at - stored.ends_at) <= HAND_EDIT_TOLERANCE
        ):
            return False
        series = await self.repo.series(stored.series_id)
        if series is None:
            return False
        circle = await self.circles.get(series.circle_id)
        new_end = (
            ends_at if ends_at is not None and ends_at > starts_at else starts_at + (stored.ends_at - stored.starts_at)
        )
        local = starts_at.astimezone(tz(series.timezone))
        change = Change(
            stored.day,
            new_date=local.date(),
            new_time=time(local.hour, local.minute),
            new_duration=new_end - starts_at if new_end - starts_at != series.duration else None,
        )
        await self.repo.put_change(series.id, change, "time edited in Discord's Events list")
        await self.changes.move(series, circle, stored, starts_at, new_end, by_hand=True)
        log.info("session event time edited by hand; followed occurrence=%s", stored.id)
        await self.tell_mods(
            guild_id,
            msg(
                "The Discord event for **{title}** was moved by hand to {when}. "
                "I followed: its announcement and reminders now use the new time.",
                title=series.title,
                when=stamp(starts_at),
            ),
        )
        return True

    # -- start-up -------------------------------------------------------------------------

    async def rebuild(
        self, events: Mapping[int, EventState] | None = None, guild_ids: set[int] | None = None
    ) -> dict[str, int]:
        """At connect: catch up on what happened while the bot was away, and make sure every
        live occurrence has its jobs. ``events`` are the Discord events the bot can see now (by
        id) for the servers in ``guild_ids``; an occurrence whose event is missing from a server
        in ``guild_ids`` was deleted by hand while the bot was away."""
        counts = {"series": 0, "made": 0, "settled": 0, "removed": 0, "moved": 0, "jobs": 0}
        now = self.clock.now()
        for series in await self.repo.active_series():
            if not self.scheduler.scope.shards.owns(series.guild_id):
                continue  # another process's server (several processes): it rebuilds its own
            circle = await self.circles.get(series.circle_id)
            if circle is None:
                continue
            counts["series"] += 1
            if not circle.active:
                await self.changes.stop_for_archived(series, circle)
                continue
            for stored in await self.repo.occurrences_of(series.id, LIVE):
                if stored.status == "scheduled" and stored.ends_at <= now:
                    await self.live.settle(stored, series, circle)
                    counts["settled"] += 1
                    continue
                if stored.status == "open" and stored.ends_at + AUTOCLOSE_AFTER <= now:
                    await self.live.settle(stored, series, circle)
                    counts["settled"] += 1
                    continue
                if (
                    stored.status == "scheduled"
                    and stored.discord_event_id is not None
                    and stored.event_status == "scheduled"
                    and events is not None
                    and guild_ids is not None
                    and stored.guild_id in guild_ids
                ):
                    state = events.get(stored.discord_event_id)
                    if state is None:
                        counts["removed"] += int(await self.event_removed(stored.guild_id, stored.discord_event_id))
                        continue
                    if await self.event_changed(
                        stored.guild_id, stored.discord_event_id, state.status, state.starts_at, state.ends_at
                    ):
                        counts["moved"] += 1
                        continue
                counts["jobs"] += await self.planning.ensure_jobs(series, stored)
            counts["made"] += len(await self.planning.ensure_window(series))
        log.info(
            "sessions rebuilt series=%d made=%d settled=%d removed=%d moved=%d jobs=%d",
            *(counts[k] for k in ("series", "made", "settled", "removed", "moved", "jobs")),
        )
        return counts
