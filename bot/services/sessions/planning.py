"""Planning: a new series (checked, stored, its first occurrences made), the rolling window of
occurrences each with its Discord event, announcement and jobs, and the list of what's coming up.

A **series** stores the recurrence rule (:mod:`bot.timekeeping.recurrence`). Occurrences are made
ahead of time (:meth:`Planning.ensure_window`): always the next one, plus any others starting
within :data:`~bot.services.sessions.models.WINDOW` (at most ``MAX_AHEAD``). The window rolls
forward when an occurrence ends, is closed, skipped or cancelled, and at every start.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.errors import InvalidInput, MissingBotPermissions, NotFound, in_range
from bot.i18n import Speaker, msg
from bot.services.access import Actor
from bot.services.sessions.core import SessionCore
from bot.services.sessions.models import (
    AUTOCLOSE_AFTER,
    CAPACITY_RANGE,
    DEFAULT_REMINDERS,
    DESCRIPTION_LIMIT,
    DESCRIPTION_TOO_LONG,
    DURATION_OUT_OF_RANGE,
    DURATION_RANGE,
    END_GRACE,
    JOB_END,
    JOB_REMIND,
    JOB_START,
    LIST_AHEAD,
    LIVE,
    MAX_AHEAD,
    PLACES_OUT_OF_RANGE,
    REMINDER_GRACE,
    SPEAKER_OUT_OF_RANGE,
    SPEAKER_RANGE,
    TITLE_LIMIT,
    TITLE_TOO_LONG,
    WEEKS_OUT_OF_RANGE,
    WINDOW,
    ScheduleResult,
    SessionDraft,
    SessionView,
    UpcomingView,
    clean_text,
    job_prefix,
)
from bot.services.timezones import validate_timezone
from bot.storage.circles import Circle
from bot.storage.sessions import Series, StoredOccurrence
from bot.timekeeping.parsing import parse_date, parse_offsets, parse_time, parse_weekdays
from bot.timekeeping.recurrence import (
    LAST,
    Kind,
    Occurrence,
    Rule,
    describe,
    is_last_of_month,
    occurrences,
    week_of_month,
)
from bot.timekeeping.words import clock_time, short_date

log = logging.getLogger(__name__)


class Planning(SessionCore):
    async def build_rule(self, draft: SessionDraft, zone: str) -> Rule:
        first = parse_date(draft.first_date, today=self.clock.now().date())
        at = parse_time(draft.start_time)
        duration = timedelta(minutes=in_range(draft.duration_minutes, DURATION_RANGE, DURATION_OUT_OF_RANGE))
        kind = draft.recurrence.strip().lower()
        if kind not in ("once", "weekly", "monthly"):
            raise InvalidInput(msg("Choose how often: once, weekly, or monthly."))
        try:
            if kind == "weekly":
                days = parse_weekdays(draft.weekdays) if draft.weekdays else frozenset({first.weekday()})
                if not days:
                    days = frozenset({first.weekday()})
                interval = in_range(draft.every_weeks, (1, 12), WEEKS_OUT_OF_RANGE)
                return Rule(first, at, zone, duration, Kind.WEEKLY, days, interval)
            if kind == "monthly":
                nth = draft.month_week
                if nth is None:
                    nth = LAST if is_last_of_month(first) and week_of_month(first) == 5 else week_of_month(first)
                if nth not in (1, 2, 3, 4, 5, LAST):
                    raise InvalidInput(
                        msg("For monthly sessions, pick the 1st to 5th or the last weekday of the month.")
                    )
                return Rule(first, at, zone, duration, Kind.MONTHLY, month_week=nth, month_weekday=first.weekday())
            return Rule(first, at, zone, duration, Kind.ONCE)
        except ValueError:
            # The checks above word every refusal a person can cause; what Rule still refuses is
            # internal, in English: logged, and the person gets a plain sentence in their language.
            log.warning("session schedule refused by Rule", exc_info=True)
            raise InvalidInput(
                msg("That schedule doesn't work. Please check the date, time, length and repeat, and try again.")
            ) from None

    async def validate(self, guild_id: int, actor: Actor, draft: SessionDraft) -> tuple[Circle, Rule, Occurrence]:
        circle = await self.circle(draft.circle_id)
        if circle.guild_id != guild_id:
            raise NotFound(msg("That circle isn't in this server."))
        await self.require_facilitator(circle, actor, msg("schedule its sessions"))
        if not circle.active:
            raise InvalidInput(
                msg("The {circle} circle is archived, so it can't have new sessions.", circle=circle.name)
            )
        if circle.channel_id is None:
            raise InvalidInput(
                msg(
                    "The {circle} circle's channel is missing. A coordinator can run /circle repair first.",
                    circle=circle.name,
                )
            )
        if draft.channel_kind not in ("voice", "stage", "text"):
            raise InvalidInput(msg("Pick a voice channel, a stage, or a text channel for the session."))
        title = clean_text(draft.title, TITLE_LIMIT, TITLE_TOO_LONG)
        if not title:
            raise InvalidInput(msg("Give the session a short title, like “Weekly check-in”."))
        clean_text(draft.description, DESCRIPTION_LIMIT, DESCRIPTION_TOO_LONG)
        if draft.reminders is not None:
            parse_offsets(draft.reminders)
        if draft.capacity is not None:
            in_range(draft.capacity, CAPACITY_RANGE, PLACES_OUT_OF_RANGE)
        in_range(draft.speaker_minutes, SPEAKER_RANGE, SPEAKER_OUT_OF_RANGE)
        zone = validate_timezone(draft.timezone) if draft.timezone else (await self.settings.get(guild_id)).timezone
        rule = await self.build_rule(draft, zone)
        first = occurrences(rule, after=self.clock.now(), count=1)
        if not first:
            raise InvalidInput(
                msg(
                    "That time has already passed. Pick a date and time in the future "
                    "(times are in {zone}; add timezone: to use another).",
                    zone=zone,
                )
            )
        return circle, rule, first[0]

    async def schedule(self, actor: Actor, guild_id: int, draft: SessionDraft) -> ScheduleResult:
        circle, rule, first = await self.validate(guild_id, actor, draft)
        assert circle.channel_id is not None
        await self.port.require_event_permissions(guild_id, draft.channel_id, draft.channel_kind)
        await self.port.require_post(guild_id, circle.channel_id)
        if draft.channel_kind == "text" and draft.channel_id != circle.channel_id:
            await self.port.require_post(guild_id, draft.channel_id)
        offsets = parse_offsets(draft.reminders if draft.reminders is not None else DEFAULT_REMINDERS)
        series = await self.repo.insert_series(
            {
                "guild_id": guild_id,
                "circle_id": circle.id,
                "title": clean_text(draft.title, TITLE_LIMIT, TITLE_TOO_LONG),
                "description": clean_text(draft.description, DESCRIPTION_LIMIT, DESCRIPTION_TOO_LONG),
                "timezone": rule.zone,
                "start_date": rule.start_date.isoformat(),
                "start_time": rule.start_time.strftime("%H:%M"),
                "duration_minutes": int(rule.duration.total_seconds() // 60),
                "kind": rule.kind.value,
                "weekdays": ",".join(str(d) for d in sorted(rule.weekdays)),
                "interval_weeks": rule.interval,
                "month_week": rule.month_week,
                "month_weekday": rule.month_weekday,
                "channel_id": draft.channel_id,
                "channel_kind": draft.channel_kind,
                "channel_name": draft.channel_name[:100],
                "reminder_offsets": ",".join(str(m) for m in offsets),
                "capacity": draft.capacity,
                "speaker_minutes": draft.speaker_minutes,
                "created_at": self.clock.now(),
            }
        )
        try:
            made = await self.ensure_window(series, strict=True)
        except BaseException:
            await self._undo_series(series)
            raise
        log.info("session series scheduled series=%s circle=%s made=%d", series.id, circle.id, len(made))
        return ScheduleResult(series, made, first)

    async def _undo_series(self, series: Series) -> None:
        for occurrence in await self.repo.occurrences_of(series.id):
            await self.scheduler.cancel_prefix(job_prefix(series.circle_id, occurrence.id))
            if occurrence.discord_event_id is not None and self.discord is not None:
                try:
                    await self.discord.delete_event(series.guild_id, occurrence.discord_event_id)
                except Exception:
                    log.warning("could not remove a half-made event occurrence=%s", occurrence.id)
        await self.repo.delete_series(series.id)

    async def ensure_window(self, series: Series, *, strict: bool = False) -> list[SessionView]:
        """Make the occurrences that should exist by now (idempotent). Returns those it made."""
        series = await self.repo.series(series.id) or series
        if not series.active:
            return []
        circle = await self.circles.get(series.circle_id)
        if circle is None or not circle.active:
            return []
        now = self.clock.now()
        changes = await self.repo.changes(series.id)
        upcoming = occurrences(series.rule, after=now, count=MAX_AHEAD, changes=changes)
        wanted = [o for i, o in enumerate(upcoming) if i == 0 or o.starts_at <= now + WINDOW]
        made: list[SessionView] = []
        for occurrence in wanted:
            view = await self._materialize(series, circle, occurrence, strict=strict and not made)
            if view is not None:
                made.append(view)
        if not upcoming:
            live = await self.repo.occurrences_of(series.id, LIVE)
            if not live:
                await self.repo.update_series(series.id, status="ended")
                log.info("session series ended series=%s", series.id)
        return made

    async def _materialize(
        self, series: Series, circle: Circle, occurrence: Occurrence, *, strict: bool
    ) -> SessionView | None:
        stored = await self.repo.insert_occurrence(
            series, occurrence.original_date, occurrence.starts_at, occurrence.ends_at, self.clock.now()
        )
        if stored is None:
            return None
        view = await self.view(stored, series, circle)
        port = self.discord
        if port is None:
            log.warning("sessions port not attached; occurrence made without Discord occurrence=%s", stored.id)
        else:
            try:
                event_id = await port.create_event(view)
            except MissingBotPermissions:
                if strict:
                    raise
                await self._events_blocked(series, circle)
            except Exception:
                if strict:
                    raise
                log.exception("could not create a Discord event occurrence=%s", stored.id)
            else:
                stored = await self.repo.update_occurrence(
                    stored.id, discord_event_id=event_id, event_status="scheduled"
                )
                if series.events_blocked:
                    await self.repo.update_series(series.id, events_blocked=0)
            view = await self.view(stored, series, circle)
            if circle.channel_id is not None:
                try:
                    message_id = await port.post_announcement(circle.channel_id, view)
                except Exception:
                    if strict:
                        raise
                    log.exception("could not post a session announcement occurrence=%s", stored.id)
                    message_id = None
                if message_id is not None:
                    stored = await self.repo.update_occurrence(
                        stored.id, announce_channel_id=circle.channel_id, announce_message_id=message_id
                    )
        await self._schedule_jobs(series, stored)
        log.info("session occurrence made occurrence=%s series=%s", stored.id, series.id)
        return view

    async def _events_blocked(self, series: Series, circle: Circle) -> None:
        if series.events_blocked:
            return
        await self.repo.update_series(series.id, events_blocked=1)
        await self.tell_mods(
            series.guild_id,
            msg(
                "I couldn't add the next **{title}** session of the **{circle}** circle to Discord's "
                "Events list because I'm missing the **Create Events** permission. The session still happens, "
                "with its announcement and reminders; a server admin can give my role Create Events in "
                "Server Settings → Roles.",
                title=series.title,
                circle=circle.name,
            ),
        )

    async def _schedule_jobs(self, series: Series, occurrence: StoredOccurrence) -> None:
        now = self.clock.now()
        prefix = job_prefix(series.circle_id, occurrence.id)
        payload = {"occurrence_id": occurrence.id}
        for offset in series.offsets:
            run_at = occurrence.starts_at - timedelta(minutes=offset)
            if run_at > now:
                await self.scheduler.schedule(
                    JOB_REMIND,
                    run_at,
                    {**payload, "offset": offset},
                    guild_id=occurrence.guild_id,
                    job_id=f"{prefix}remind:{offset}",
                    grace=REMINDER_GRACE,
                )
        await self.scheduler.schedule(
            JOB_START,
            occurrence.starts_at,
            payload,
            guild_id=occurrence.guild_id,
            job_id=f"{prefix}start",
            grace=series.duration,
        )
        await self.scheduler.schedule(
            JOB_END,
            occurrence.ends_at + AUTOCLOSE_AFTER,
            payload,
            guild_id=occurrence.guild_id,
            job_id=f"{prefix}end",
            grace=END_GRACE,
        )

    async def reschedule_jobs(self, series: Series, occurrence: StoredOccurrence) -> None:
        await self.scheduler.cancel_prefix(job_prefix(series.circle_id, occurrence.id))
        await self._schedule_jobs(series, occurrence)

    async def ensure_jobs(self, series: Series, stored: StoredOccurrence) -> int:
        """Re-create any job of a live occurrence that has no row at all (never twice: a job that
        ran, was missed or is pending is left alone)."""
        prefix = job_prefix(series.circle_id, stored.id)
        now = self.clock.now()
        payload: dict[str, object] = {"occurrence_id": stored.id}
        wanted: list[tuple[str, str, datetime, dict[str, object], timedelta]] = []
        if stored.status == "scheduled":
            for offset in series.offsets:
                run_at = stored.starts_at - timedelta(minutes=offset)
                if run_at > now:
                    wanted.append(
                        (f"{prefix}remind:{offset}", JOB_REMIND, run_at, {**payload, "offset": offset}, REMINDER_GRACE)
                    )
            wanted.append((f"{prefix}start", JOB_START, stored.starts_at, payload, series.duration))
        wanted.append((f"{prefix}end", JOB_END, stored.ends_at + AUTOCLOSE_AFTER, payload, END_GRACE))
        made = 0
        for job_id, kind, run_at, data, grace in wanted:
            if await self.scheduler.jobs.get(job_id) is None:
                await self.scheduler.schedule(
                    kind, run_at, dict(data), guild_id=stored.guild_id, job_id=job_id, grace=grace
                )
                made += 1
        return made

    # -- reading ------------------------------------------------------------------------

    async def visible_to(self, circle: Circle, actor: Actor) -> bool:
        """Sessions of a private circle are listed for its members and facilitators only."""
        if not circle.is_private:
            return True
        if await self.circles.consented_at(circle.id, actor.user_id) is not None:
            return True
        return await self.can_facilitate(circle, actor)

    async def upcoming(
        self, guild_id: int, actor: Actor, *, circle_id: int | None = None, limit: int = 10
    ) -> list[UpcomingView]:
        now = self.clock.now()
        zone, _ = await self.member_time.zone_name(guild_id, actor.user_id)
        found: list[UpcomingView] = []
        for series in await self.repo.active_series(guild_id, circle_id):
            circle = await self.circles.get(series.circle_id)
            if circle is None or not circle.active or not await self.visible_to(circle, actor):
                continue
            changes = await self.repo.changes(series.id)
            for occurrence in occurrences(series.rule, after=now, until=now + LIST_AHEAD, count=4, changes=changes):
                stored = await self.repo.occurrence_on(series.id, occurrence.original_date)
                view = await self.view(stored, series, circle) if stored else None
                mine = await self.repo.rsvp(stored.id, actor.user_id) if stored else None
                found.append(
                    UpcomingView(
                        session=view,
                        series_id=series.id,
                        original_date=occurrence.original_date,
                        title=series.title,
                        circle_name=circle.name,
                        starts_at=view.starts_at if view else occurrence.starts_at,
                        ends_at=view.ends_at if view else occurrence.ends_at,
                        channel_id=series.channel_id,
                        zone=zone,
                        rsvp=mine.status if mine and mine.status != "declined" else None,
                    )
                )
            # An open session is "upcoming" too until it closes.
            for stored in await self.repo.occurrences_of(series.id, ("open",)):
                view = await self.view(stored, series, circle)
                found.append(
                    UpcomingView(
                        view,
                        series.id,
                        stored.day,
                        series.title,
                        circle.name,
                        stored.starts_at,
                        stored.ends_at,
                        series.channel_id,
                        zone,
                        None,
                    )
                )
        found.sort(key=lambda u: u.starts_at)
        return found[:limit]

    async def choices(
        self, guild_id: int, actor: Actor, query: str, *, series_only: bool = False, t: Speaker | None = None
    ) -> list[tuple[str, str]]:
        """Autocomplete: (label, ref) for sessions this person can see, matching ``query``; the labels
        in ``t``'s language (the person typing: English if not given)."""
        needle = query.strip().casefold()
        out: list[tuple[str, str]] = []
        for series in await self.repo.active_series(guild_id):
            circle = await self.circles.get(series.circle_id)
            if circle is None or not await self.visible_to(circle, actor):
                continue
            base = f"{series.title} · {circle.name}"
            if series_only:
                if needle in base.casefold():
                    out.append((f"{base} · {describe(series.rule, t)}"[:100], str(series.id)))
                continue
            changes = await self.repo.changes(series.id)
            for occurrence in occurrences(series.rule, after=self.clock.now(), count=6, changes=changes):
                stored = await self.repo.occurrence_on(series.id, occurrence.original_date)
                local = (stored.starts_at if stored else occurrence.starts_at).astimezone(occurrence.local_start.tzinfo)
                label = f"{base} · {short_date(local.date(), t, year=False)} {clock_time(local, t)}"
                if needle in label.casefold():
                    out.append((label[:100], f"{series.id}:{occurrence.original_date.isoformat()}"))
        return out[:25]

    async def info(self, guild_id: int, actor: Actor, ref: str) -> tuple[Series, list[UpcomingView], Circle]:
        series, _ = await self.resolve(guild_id, ref)
        circle = await self.circle(series.circle_id)
        if not await self.visible_to(circle, actor):
            raise NotFound(msg("I couldn't find that session. Pick one from the list Discord offers as you type."))
        upcoming = [u for u in await self.upcoming(guild_id, actor, circle_id=circle.id) if u.series_id == series.id]
        return series, upcoming, circle
