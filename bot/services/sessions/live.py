"""The session itself: opening at its start, “I'm here”, the go-round with its speaker timer,
closing (by the facilitator, or on its own after the end), then anonymous feedback and the
facilitators' report."""

from __future__ import annotations

import logging
from datetime import UTC, timedelta

from bot.concurrency import KeyedLock
from bot.errors import InvalidInput, NotFound
from bot.i18n import msg
from bot.scheduler import Job
from bot.sends import RetryLater
from bot.services.access import Actor
from bot.services.sessions.core import SessionCore, SessionDeps
from bot.services.sessions.models import (
    COMMENT_LIMIT,
    COMMENT_TOO_LONG,
    JOB_TIMER,
    REPORT_MINIMUM,
    TIMER_GRACE,
    GoRoundView,
    ReportRow,
    clean_text,
    job_prefix,
    not_live_text,
)
from bot.services.sessions.planning import Planning
from bot.storage.circles import Circle
from bot.storage.sessions import FEEDBACK_WINDOW, Series, StoredOccurrence

log = logging.getLogger(__name__)


class LiveSession(SessionCore):
    def __init__(self, deps: SessionDeps, planning: Planning) -> None:
        super().__init__(deps)
        self.planning = planning
        # One go-round start per session at a time: two facilitators pressing Go-round together each
        # posted one. The second now redraws the first's post.
        self._starting: KeyedLock[int] = KeyedLock()

    # -- jobs ---------------------------------------------------------------------------

    async def run_start(self, job: Job) -> None:
        found = await self.job_target(job)
        if found is None:
            return
        stored, series, circle = found
        if not circle.active:
            return
        port = self.port  # raises (the job is recorded as failed) if the cog never attached it
        if stored.status == "scheduled":
            if not await self.repo.set_status_if(stored.id, ("scheduled",), "open", opened_at=self.clock.now()):
                return
        elif not (job.attempts and stored.status == "open"):
            return  # skipped, cancelled or missed meanwhile (or opened by a run that finished)
        # else: this job opened it on an earlier try, or before a restart: do what is left.
        stored = await self.repo.occurrence(stored.id) or stored
        view = await self.view(stored, series, circle)
        channel_id = view.post_channel_id
        deferred: RetryLater | None = None
        if channel_id is not None and stored.opening_message_id is None:
            try:
                # Once per occurrence: a retry or re-run returns the opening Discord already has.
                message_id = await port.post_opening(channel_id, view, circle.ground_rules)
            except RetryLater as exc:
                deferred, message_id = exc, None  # the rest now, the opening on the next try
            except Exception:
                log.exception("could not post a session opening occurrence=%s", stored.id)
                message_id = None
            if message_id is not None:
                stored = await self.repo.update_occurrence(
                    stored.id, opening_channel_id=channel_id, opening_message_id=message_id
                )
        if stored.discord_event_id is not None and stored.event_status == "scheduled":
            try:
                if await port.set_event_status(stored.guild_id, stored.discord_event_id, "active"):
                    await self.repo.update_occurrence(stored.id, event_status="active")
            except Exception:
                log.warning("could not start a Discord event occurrence=%s", stored.id)
        await self.refresh_announcement(stored, await self.view(stored, series, circle))
        if deferred is not None:
            raise deferred
        log.info("session opened occurrence=%s", stored.id)

    async def run_end(self, job: Job) -> None:
        found = await self.job_target(job)
        if found is None:
            return
        stored, series, circle = found
        await self.settle(stored, series, circle)
        await self.planning.ensure_window(series)

    async def settle(self, stored: StoredOccurrence, series: Series, circle: Circle) -> None:
        """After its end: close a session nobody closed; record one that never opened as missed."""
        if stored.status == "open":
            await self._close(stored, series, circle, automatic=True)
        elif stored.status == "scheduled" and await self.repo.set_status_if(stored.id, ("scheduled",), "missed"):
            await self.scheduler.cancel_prefix(job_prefix(series.circle_id, stored.id))
            if stored.discord_event_id is not None and self.discord is not None and stored.event_status == "scheduled":
                try:
                    await self.discord.delete_event(stored.guild_id, stored.discord_event_id)
                except Exception:
                    log.warning("could not remove a past Discord event occurrence=%s", stored.id)
                await self.repo.update_occurrence(stored.id, event_status="gone")
            await self.refresh_announcement(stored, await self.view(stored, series, circle))
            log.info("session missed occurrence=%s", stored.id)

    async def run_timer(self, job: Job) -> None:
        found = await self.job_target(job)
        if found is None:
            return
        stored, series, circle = found
        if stored.status != "open" or stored.timer_state != "running" or stored.timer_ends_at is None:
            return
        if stored.timer_ends_at.isoformat() != job.payload.get("ends_at"):
            return
        stored = await self.repo.update_occurrence(stored.id, timer_state="done", timer_remaining_seconds=0)
        await self._refresh_goround(stored, series, circle)

    # -- the session itself -------------------------------------------------------------

    async def _open(self, occurrence_id: int) -> tuple[StoredOccurrence, Series, Circle]:
        stored = await self.repo.occurrence(occurrence_id)
        if stored is None:
            raise NotFound(msg("That session no longer exists."))
        series = await self.repo.series(stored.series_id)
        circle = await self.circles.get(stored.circle_id)
        if series is None or circle is None:
            raise NotFound(msg("That session no longer exists."))
        if stored.status == "scheduled":
            raise InvalidInput(msg("This session hasn't started yet. The buttons work once it opens."))
        if stored.status != "open":
            raise InvalidInput(
                msg("This session has closed. Thank you for coming.")
                if stored.status == "closed"
                else not_live_text(stored)
            )
        return stored, series, circle

    async def arrive(self, occurrence_id: int, user_id: int) -> bool:
        stored, _, _ = await self._open(occurrence_id)
        return await self.repo.arrive(stored, user_id, self.clock.now())

    async def step_out(self, occurrence_id: int, user_id: int) -> bool:
        stored, series, circle = await self._open(occurrence_id)
        gone = await self.repo.step_out(stored.id, user_id)
        if gone and stored.goround_message_id is not None:
            await self._refresh_goround(stored, series, circle)
        return gone

    async def _goround(self, stored: StoredOccurrence, series: Series) -> GoRoundView:
        order = [p for p in await self.repo.presence(stored.id) if p.speak_order is not None]
        speakers: list[int] = []
        current: int | None = None
        for person in order:
            if person.passed:
                continue
            if current is None and person.speak_order is not None and person.speak_order >= stored.goround_position:
                current = len(speakers)
            speakers.append(person.user_id)
        remaining = timedelta(seconds=series.speaker_minutes * 60)
        if stored.timer_state == "paused" and stored.timer_remaining_seconds is not None:
            remaining = timedelta(seconds=stored.timer_remaining_seconds)
        elif stored.timer_state == "running" and stored.timer_ends_at is not None:
            remaining = max(timedelta(0), stored.timer_ends_at - self.clock.now())
        elif stored.timer_state == "done":
            remaining = timedelta(0)
        return GoRoundView(
            speakers=tuple(speakers),
            current=current,
            timer_state=stored.timer_state,
            timer_ends_at=stored.timer_ends_at,
            remaining=remaining,
            speaker_minutes=series.speaker_minutes,
            closed=stored.status != "open",
        )

    async def _refresh_goround(self, stored: StoredOccurrence, series: Series, circle: Circle) -> None:
        if self.discord is None or stored.goround_message_id is None or stored.opening_channel_id is None:
            return
        view = await self.view(stored, series, circle)
        try:
            await self.discord.update_goround(
                stored.opening_channel_id, stored.goround_message_id, view, await self._goround(stored, series)
            )
        except Exception:
            log.warning("could not update the go-round occurrence=%s", stored.id)

    async def start_goround(self, actor: Actor, occurrence_id: int) -> GoRoundView:
        async with self._starting.hold(occurrence_id):
            return await self._start_goround(actor, occurrence_id)

    async def _start_goround(self, actor: Actor, occurrence_id: int) -> GoRoundView:
        stored, series, circle = await self._open(occurrence_id)
        await self.require_facilitator(circle, actor, msg("lead its sessions"))
        present = [p.user_id for p in await self.repo.presence(stored.id)]
        if not present:
            raise InvalidInput(
                msg(
                    "Nobody has pressed “I'm here” yet. A go-round only names people who did, so invite everyone "
                    "to press it first."
                )
            )
        self.rng.shuffle(present)
        await self.repo.set_order(stored.id, present)
        await self.scheduler.cancel(f"{job_prefix(series.circle_id, stored.id)}timer")
        stored = await self.repo.update_occurrence(
            stored.id, goround_position=0, timer_state="idle", timer_ends_at=None, timer_remaining_seconds=None
        )
        goround = await self._goround(stored, series)
        port = self.discord
        channel_id = stored.opening_channel_id or (await self.view(stored, series, circle)).post_channel_id
        if port is not None and channel_id is not None:
            view = await self.view(stored, series, circle)
            if stored.goround_message_id is not None and stored.opening_channel_id is not None:
                await port.update_goround(channel_id, stored.goround_message_id, view, goround)
            else:
                message_id = await port.post_goround(channel_id, view, goround)
                await self.repo.update_occurrence(
                    stored.id, goround_message_id=message_id, opening_channel_id=channel_id
                )
        log.info("session go-round started occurrence=%s people=%d", stored.id, len(present))
        return goround

    async def pass_turn(self, occurrence_id: int, user_id: int) -> bool:
        stored, series, circle = await self._open(occurrence_id)
        order = [p for p in await self.repo.presence(stored.id) if p.speak_order is not None]
        mine = next((p for p in order if p.user_id == user_id), None)
        if mine is None or mine.passed:
            return False
        goround = await self._goround(stored, series)
        was_current = goround.current is not None and goround.speakers[goround.current] == user_id
        await self.repo.set_passed(stored.id, user_id)
        if was_current:
            stored = await self._advance(stored, series)
        await self._refresh_goround(stored, series, circle)
        return True

    async def _advance(self, stored: StoredOccurrence, series: Series) -> StoredOccurrence:
        order = [p for p in await self.repo.presence(stored.id) if p.speak_order is not None]
        upcoming = [
            p.speak_order
            for p in order
            if not p.passed and p.speak_order is not None and p.speak_order > stored.goround_position
        ]
        position = min(upcoming) if upcoming else len(order)
        await self.scheduler.cancel(f"{job_prefix(series.circle_id, stored.id)}timer")
        return await self.repo.update_occurrence(
            stored.id, goround_position=position, timer_state="idle", timer_ends_at=None, timer_remaining_seconds=None
        )

    async def next_speaker(self, actor: Actor, occurrence_id: int) -> GoRoundView:
        stored, series, circle = await self._open(occurrence_id)
        await self.require_facilitator(circle, actor, msg("lead its sessions"))
        goround = await self._goround(stored, series)
        if goround.current is not None:
            current_user = goround.speakers[goround.current]
            order = {p.user_id: p for p in await self.repo.presence(stored.id)}
            position = order[current_user].speak_order
            if position is not None:
                stored = await self.repo.update_occurrence(stored.id, goround_position=position)
            stored = await self._advance(stored, series)
        await self._refresh_goround(stored, series, circle)
        return await self._goround(stored, series)

    async def timer(self, actor: Actor, occurrence_id: int, action: str) -> GoRoundView:
        stored, series, circle = await self._open(occurrence_id)
        await self.require_facilitator(circle, actor, msg("lead its sessions"))
        goround = await self._goround(stored, series)
        if goround.current is None:
            raise InvalidInput(msg("Everyone has had their turn. Start a new go-round for another round."))
        job_id = f"{job_prefix(series.circle_id, stored.id)}timer"
        now = self.clock.now()
        if action == "start" and stored.timer_state != "running":
            ends_at = (
                now + goround.remaining
                if stored.timer_state == "paused"
                else now + timedelta(minutes=series.speaker_minutes)
            )
            stored = await self.repo.update_occurrence(
                stored.id, timer_state="running", timer_ends_at=ends_at, timer_remaining_seconds=None
            )
            await self.scheduler.schedule(
                JOB_TIMER,
                ends_at,
                {"occurrence_id": stored.id, "ends_at": ends_at.astimezone(UTC).isoformat()},
                guild_id=stored.guild_id,
                job_id=job_id,
                grace=TIMER_GRACE,
            )
        elif action == "pause" and stored.timer_state == "running":
            left = int(goround.remaining.total_seconds())
            await self.scheduler.cancel(job_id)
            stored = await self.repo.update_occurrence(
                stored.id, timer_state="paused", timer_ends_at=None, timer_remaining_seconds=left
            )
        await self._refresh_goround(stored, series, circle)
        return await self._goround(stored, series)

    async def close(self, actor: Actor, occurrence_id: int) -> int:
        """The facilitator closes the session: closing words, feedback, attendance (a count)."""
        stored, series, circle = await self._open(occurrence_id)
        await self.require_facilitator(circle, actor, msg("close its sessions"))
        count = await self._close(stored, series, circle, automatic=False)
        await self.planning.ensure_window(series)
        return count

    async def _close(self, stored: StoredOccurrence, series: Series, circle: Circle, *, automatic: bool) -> int:
        if not await self.repo.set_status_if(stored.id, ("open",), "closed", closed_at=self.clock.now()):
            return stored.attendance_count or 0
        attendance = await self.repo.close_presence(stored.id)
        await self.scheduler.cancel(f"{job_prefix(series.circle_id, stored.id)}timer")
        stored = await self.repo.update_occurrence(stored.id, attendance_count=attendance, timer_state="idle")
        view = await self.view(stored, series, circle)
        port = self.discord
        if port is not None:
            if stored.opening_channel_id is not None and stored.opening_message_id is not None:
                try:
                    await port.close_opening(
                        stored.opening_channel_id, stored.opening_message_id, view, circle.ground_rules
                    )
                except Exception:
                    log.warning("could not update the opening post occurrence=%s", stored.id)
            if stored.goround_message_id is not None and stored.opening_channel_id is not None:
                try:
                    await port.update_goround(
                        stored.opening_channel_id, stored.goround_message_id, view, await self._goround(stored, series)
                    )
                except Exception:
                    log.warning("could not update the go-round occurrence=%s", stored.id)
            channel_id = stored.opening_channel_id or view.post_channel_id
            if channel_id is not None and circle.active:
                try:
                    await port.post_closing(channel_id, view)
                except Exception:
                    log.exception("could not post the closing words occurrence=%s", stored.id)
            if stored.discord_event_id is not None and stored.event_status == "active":
                try:
                    await port.set_event_status(stored.guild_id, stored.discord_event_id, "completed")
                    await self.repo.update_occurrence(stored.id, event_status="completed")
                except Exception:
                    log.warning("could not complete a Discord event occurrence=%s", stored.id)
            await self.refresh_announcement(stored, view)
        log.info("session closed occurrence=%s attendance=%d automatic=%s", stored.id, attendance, automatic)
        return attendance

    async def give_feedback(self, occurrence_id: int, user_id: int, score: int) -> int | None:
        """Store a score anonymously. None if this person already answered for this session."""
        if not 1 <= score <= 5:
            raise InvalidInput(msg("Pick a number from 1 to 5."))
        stored = await self.repo.occurrence(occurrence_id)
        if stored is None or stored.status != "closed" or stored.closed_at is None:
            raise InvalidInput(msg("Feedback opens when the session closes."))
        if self.clock.now() - stored.closed_at > FEEDBACK_WINDOW:
            raise InvalidInput(msg("Feedback for this session has closed. Thank you all the same."))
        return await self.repo.add_feedback(stored, user_id, score)

    async def add_comment(self, feedback_id: int, text: str) -> bool:
        comment = clean_text(text, COMMENT_LIMIT, COMMENT_TOO_LONG)
        if not comment:
            return False
        return await self.repo.add_comment(feedback_id, comment)

    async def report(self, actor: Actor, guild_id: int, circle_id: int) -> list[ReportRow]:
        circle = await self.circle(circle_id)
        if circle.guild_id != guild_id:
            raise NotFound(msg("That circle isn't in this server."))
        await self.require_facilitator(circle, actor, msg("see its session reports"))
        rows: list[ReportRow] = []
        for stored in await self.repo.closed_in_circle(circle.id):
            series = await self.repo.series(stored.series_id)
            scores, comments = await self.repo.feedback(stored.id)
            enough = len(scores) >= REPORT_MINIMUM
            shuffled = list(comments)
            self.rng.shuffle(shuffled)
            rows.append(
                ReportRow(
                    starts_at=stored.starts_at,
                    title=series.title if series else None,
                    attendance=stored.attendance_count,
                    responses=len(scores),
                    average=sum(scores) / len(scores) if enough else None,
                    comments=tuple(shuffled) if enough else (),
                )
            )
        return rows
