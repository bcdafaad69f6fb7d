"""Changing plans: one occurrence moved or skipped, a whole series edited or cancelled, and a
circle's series stopped when the circle closes. Whoever said they were going is told privately."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from bot.errors import Conflict, InvalidInput, NotFound, in_range
from bot.i18n import Msg, msg, msgs
from bot.services.access import Actor
from bot.services.sessions.attendance import Attendance
from bot.services.sessions.core import SessionCore, SessionDeps
from bot.services.sessions.models import (
    CAPACITY_RANGE,
    DESCRIPTION_LIMIT,
    DESCRIPTION_TOO_LONG,
    DURATION_OUT_OF_RANGE,
    DURATION_RANGE,
    NOTE_TOO_LONG,
    PLACES_OUT_OF_RANGE,
    SPEAKER_OUT_OF_RANGE,
    SPEAKER_RANGE,
    TITLE_LIMIT,
    TITLE_TOO_LONG,
    DmResult,
    SessionView,
    channel_link,
    clean_text,
    job_prefix,
)
from bot.services.sessions.planning import Planning
from bot.storage.circles import Circle
from bot.storage.sessions import Series, StoredOccurrence
from bot.timekeeping.markup import stamp
from bot.timekeeping.parsing import parse_date, parse_offsets, parse_time
from bot.timekeeping.recurrence import Change, Occurrence, occurrence_on

log = logging.getLogger(__name__)


class Changes(SessionCore):
    def __init__(self, deps: SessionDeps, planning: Planning, attendance: Attendance) -> None:
        super().__init__(deps)
        self.planning = planning
        self.attendance = attendance

    async def _occurrence_for(self, series: Series, day: date | None) -> tuple[date, StoredOccurrence | None]:
        if day is None:
            raise InvalidInput(msg("Pick one session (a date) from the list Discord offers as you type."))
        changes = await self.repo.changes(series.id)
        stored = await self.repo.occurrence_on(series.id, day)
        if stored is None and occurrence_on(series.rule, day, changes) is None:
            raise NotFound(msg("That date isn't one of this session's dates any more. Pick one from the list."))
        return day, stored

    async def skip(self, actor: Actor, guild_id: int, ref: str, note: str | None = None) -> SessionView | Occurrence:
        series, day = await self.resolve(guild_id, ref)
        circle = await self.circle(series.circle_id)
        await self.require_facilitator(circle, actor, msg("skip its sessions"))
        day, stored = await self._occurrence_for(series, day)
        note = clean_text(note, 300, NOTE_TOO_LONG) or None
        if stored is not None and stored.status != "scheduled":
            raise Conflict(msg("That session has already started or isn't scheduled any more, so it can't be skipped."))
        planned = occurrence_on(series.rule, day, await self.repo.changes(series.id))
        await self.repo.put_change(series.id, Change(day, skip=True), note)
        if stored is None:
            assert planned is not None
            log.info("session occurrence skipped ahead series=%s", series.id)
            return planned
        view = await self.call_off(series, circle, stored, "skipped", note, tell=msg("it was skipped"), show_note=True)
        await self.planning.ensure_window(series)
        return view

    async def call_off(
        self,
        series: Series,
        circle: Circle | None,
        stored: StoredOccurrence,
        status: str,
        note: str | None,
        *,
        tell: Msg,
        show_note: bool = False,
        delete_event: bool = True,
    ) -> SessionView:
        """Skip or cancel a scheduled occurrence: jobs, event, announcement, and tell who RSVPed
        why (``tell``, e.g. "it was skipped"; and the facilitators' note if ``show_note``)."""
        if not await self.repo.set_status_if(stored.id, ("scheduled",), status, note=note):
            current = await self.repo.occurrence(stored.id)
            assert current is not None
            return await self.view(current, series, circle)
        await self.scheduler.cancel_prefix(job_prefix(series.circle_id, stored.id))
        stored = await self.repo.occurrence(stored.id) or stored
        if stored.discord_event_id is not None and delete_event and self.discord is not None:
            try:
                await self.discord.delete_event(series.guild_id, stored.discord_event_id)
            except Exception:
                log.warning("could not remove a Discord event occurrence=%s", stored.id)
        stored = await self.repo.update_occurrence(stored.id, event_status="gone")
        view = await self.view(stored, series, circle)
        await self.refresh_announcement(stored, view)
        about = {"title": series.title, "circle": view.circle_name, "when": stamp(view.starts_at), "reason": tell}
        if note and show_note:
            text = msg(
                "**{title}** ({circle}) on {when} won't take place: {reason}. A note from the facilitators: {note} "
                "You don't need to do anything.",
                note=note,
                **about,
            )
        else:
            text = msg(
                "**{title}** ({circle}) on {when} won't take place: {reason}. You don't need to do anything.", **about
            )
        await self._tell_rsvped(stored.guild_id, stored.id, text)
        log.info("session occurrence %s occurrence=%s", status, stored.id)
        return view

    async def _tell_rsvped(self, guild_id: int, occurrence_id: int, text: Msg) -> tuple[int, int]:
        if self.discord is None:
            return 0, 0
        sent = closed = 0
        for rsvp in await self.repo.rsvps(occurrence_id):
            if rsvp.status not in ("going", "waitlist"):
                continue
            result = await self.discord.send_notice(guild_id, rsvp.user_id, text)
            if result is DmResult.SENT:
                sent += 1
            elif result is DmResult.CLOSED:
                closed += 1
                await self.repo.mark_dm_closed(occurrence_id, rsvp.user_id)
        return sent, closed

    async def cancel(self, actor: Actor, guild_id: int, ref: str) -> tuple[Series, int]:
        """Cancel a whole series: its Discord events are removed and RSVPed members told privately."""
        series, _ = await self.resolve(guild_id, ref)
        circle = await self.circle(series.circle_id)
        await self.require_facilitator(circle, actor, msg("cancel its sessions"))
        if not series.active:
            raise Conflict(msg("That session series has already ended or been cancelled."))
        series = await self.repo.update_series(series.id, status="cancelled", cancelled_at=self.clock.now())
        removed = 0
        for stored in await self.repo.occurrences_of(series.id, ("scheduled",)):
            await self.call_off(
                series, circle, stored, "cancelled", None, tell=msg("the facilitators cancelled the series")
            )
            removed += 1
        log.info("session series cancelled series=%s occurrences=%d", series.id, removed)
        return series, removed

    async def edit_occurrence(
        self,
        actor: Actor,
        guild_id: int,
        ref: str,
        *,
        new_date: str | None = None,
        new_time: str | None = None,
        duration_minutes: int | None = None,
    ) -> SessionView | Occurrence:
        series, day = await self.resolve(guild_id, ref)
        circle = await self.circle(series.circle_id)
        await self.require_facilitator(circle, actor, msg("change its sessions"))
        day, stored = await self._occurrence_for(series, day)
        if stored is not None and stored.status != "scheduled":
            raise Conflict(msg("That session has already started or isn't scheduled any more, so it can't be changed."))
        if new_date is None and new_time is None and duration_minutes is None:
            raise InvalidInput(msg("Add a new date, time or duration to change this session."))
        changes = await self.repo.changes(series.id)
        current = changes.get(day)
        change = Change(
            day,
            new_date=parse_date(new_date, today=self.clock.now().date())
            if new_date
            else (current.new_date if current else None),
            new_time=parse_time(new_time) if new_time else (current.new_time if current else None),
            new_duration=timedelta(minutes=in_range(duration_minutes, DURATION_RANGE, DURATION_OUT_OF_RANGE))
            if duration_minutes
            else (current.new_duration if current else None),
        )
        moved = occurrence_on(series.rule, day, {**changes, day: change})
        assert moved is not None
        if moved.starts_at <= self.clock.now():
            raise InvalidInput(msg("That would put the session in the past. Pick a later date or time."))
        await self.repo.put_change(series.id, change)
        if stored is None:
            await self.planning.ensure_window(series)
            stored = await self.repo.occurrence_on(series.id, day)
            if stored is None:
                return moved
            return await self.view(stored, series, circle)
        return await self.move(series, circle, stored, moved.starts_at, moved.ends_at, by_hand=False)

    async def move(
        self,
        series: Series,
        circle: Circle | None,
        stored: StoredOccurrence,
        starts_at: datetime,
        ends_at: datetime,
        *,
        by_hand: bool,
    ) -> SessionView:
        """Follow a new time everywhere: the row first (so our own event edit isn't taken for a
        hand edit), then the Discord event, the announcement, the jobs, and the people going."""
        old = stored.starts_at
        stored = await self.repo.update_occurrence(stored.id, starts_at=starts_at, ends_at=ends_at)
        view = await self.view(stored, series, circle)
        if not by_hand and stored.discord_event_id is not None and self.discord is not None:
            try:
                if not await self.discord.update_event(view):
                    stored = await self.repo.update_occurrence(stored.id, event_status="gone")
            except Exception:
                log.warning("could not update a Discord event occurrence=%s", stored.id)
        await self.planning.reschedule_jobs(series, stored)
        await self.refresh_announcement(stored, view)
        if old != starts_at:
            await self._tell_rsvped(
                stored.guild_id,
                stored.id,
                msg(
                    "**{title}** ({circle}) has moved: it now starts {when} ({relative}). If you can't make the new "
                    "time, press Not going on the announcement.",
                    title=series.title,
                    circle=view.circle_name,
                    when=stamp(starts_at),
                    relative=stamp(starts_at, "R"),
                ),
            )
        return view

    async def edit_series(
        self,
        actor: Actor,
        guild_id: int,
        ref: str,
        *,
        title: str | None = None,
        description: str | None = None,
        start_time: str | None = None,
        duration_minutes: int | None = None,
        channel: tuple[int, str, str] | None = None,
        reminders: str | None = None,
        capacity: int | None = None,
        speaker_minutes: int | None = None,
    ) -> tuple[Series, list[Msg]]:
        """The series as changed, and what changed ("title → Weekly circle"), one message each."""
        series, _ = await self.resolve(guild_id, ref)
        circle = await self.circle(series.circle_id)
        await self.require_facilitator(circle, actor, msg("change its sessions"))
        if not series.active:
            raise Conflict(msg("That session series has ended or was cancelled; schedule a new one instead."))
        updates: dict[str, object] = {}
        said: list[Msg] = []
        if title is not None:
            cleaned = clean_text(title, TITLE_LIMIT, TITLE_TOO_LONG)
            if cleaned and cleaned != series.title:
                updates["title"] = cleaned
                said.append(msg("title → {title}", title=cleaned))
        if description is not None:
            cleaned = clean_text(description, DESCRIPTION_LIMIT, DESCRIPTION_TOO_LONG)
            if cleaned != series.description:
                updates["description"] = cleaned
                said.append(msg("description"))
        if start_time is not None:
            at = parse_time(start_time).strftime("%H:%M")
            if at != series.start_time:
                updates["start_time"] = at
                said.append(msg("start time → {time} ({zone})", time=at, zone=series.timezone))
        if duration_minutes is not None:
            minutes = in_range(duration_minutes, DURATION_RANGE, DURATION_OUT_OF_RANGE)
            if minutes != series.duration_minutes:
                updates["duration_minutes"] = minutes
                said.append(msgs("duration → {n} minute", "duration → {n} minutes", minutes))
        if channel is not None:
            channel_id, kind, name = channel
            if kind not in ("voice", "stage", "text"):
                raise InvalidInput(msg("Pick a voice channel, a stage, or a text channel for the session."))
            if channel_id != series.channel_id:
                await self.port.require_event_permissions(guild_id, channel_id, kind)
                if kind == "text":
                    await self.port.require_post(guild_id, channel_id)
                updates.update(channel_id=channel_id, channel_kind=kind, channel_name=name[:100])
                said.append(msg("place → {channel}", channel=channel_link(channel_id)))
        if reminders is not None:
            offsets = ",".join(str(m) for m in parse_offsets(reminders))
            if offsets != series.reminder_offsets:
                updates["reminder_offsets"] = offsets
                said.append(msg("reminders"))
        if capacity is not None:
            value = None if capacity == 0 else in_range(capacity, CAPACITY_RANGE, PLACES_OUT_OF_RANGE)
            if value != series.capacity:
                updates["capacity"] = value
                said.append(msg("places → {places}", places=value) if value else msg("places → no limit"))
        if speaker_minutes is not None:
            value = in_range(speaker_minutes, SPEAKER_RANGE, SPEAKER_OUT_OF_RANGE)
            if value != series.speaker_minutes:
                updates["speaker_minutes"] = value
                said.append(msg("minutes per speaker → {minutes}", minutes=value))
        if not updates:
            return series, []
        series = await self.repo.update_series(series.id, **updates)
        changes = await self.repo.changes(series.id)
        for stored in await self.repo.occurrences_of(series.id, ("scheduled",)):
            planned = occurrence_on(series.rule, stored.day, changes)
            if planned is None:
                continue
            if planned.starts_at != stored.starts_at or planned.ends_at != stored.ends_at:
                if planned.starts_at <= self.clock.now():
                    continue
                await self.move(series, circle, stored, planned.starts_at, planned.ends_at, by_hand=False)
                continue
            view = await self.view(stored, series, circle)
            if stored.discord_event_id is not None and self.discord is not None:
                try:
                    await self.discord.update_event(view)
                except Exception:
                    log.warning("could not update a Discord event occurrence=%s", stored.id)
            if "reminder_offsets" in updates:
                await self.planning.reschedule_jobs(series, stored)
            if "capacity" in updates:
                await self.attendance.promote(stored.id)
            await self.refresh_announcement(stored, await self.view(stored, series, circle))
        log.info("session series edited series=%s fields=%d", series.id, len(updates))
        return series, said

    async def stop_circle(self, circle_id: int) -> int:
        """A circle is being archived or deleted: end its series, remove upcoming Discord events,
        tell people who were going. Call before deleting the circle (its rows go with it)."""
        circle = await self.circles.get(circle_id)
        if circle is None:
            return 0
        stopped = 0
        for series in await self.repo.active_series(circle_id=circle_id):
            await self.stop_for_archived(series, circle)
            stopped += 1
        return stopped

    async def stop_for_archived(self, series: Series, circle: Circle) -> None:
        """An archived circle's series stops: upcoming events are removed (its jobs already were)."""
        await self.repo.update_series(series.id, status="ended")
        for stored in await self.repo.occurrences_of(series.id, ("scheduled",)):
            await self.call_off(series, circle, stored, "cancelled", None, tell=msg("the circle has closed"))
        log.info("session series stopped; circle archived series=%s", series.id)
