"""Reminders and circle prompts: wall-clock rules turned into scheduler jobs.

- Reminders: a wall-clock rule in the member's own zone. The next UTC instant is computed from the
  rule each time (:func:`~bot.timekeeping.wallclock.next_wall_time`), so daylight-saving changes
  never shift it. One job is pending per reminder; the handler schedules the next. Closed DMs
  pause the reminder.
- Circle prompts: facilitators schedule a daily or weekly post with a persistent Check in button.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.errors import InvalidInput, NotFound
from bot.i18n import Msg, msg
from bot.scheduler import Job
from bot.services.access import Actor
from bot.services.checkins.core import CheckinCore
from bot.services.checkins.models import (
    NOTICES,
    PROMPT_GRACE,
    PROMPT_JOB,
    REMINDER_GRACE,
    REMINDER_JOB,
    SNOOZE,
    DeliveryResult,
    job_stamp,
    prompt_job_prefix,
    reminder_job_prefix,
)
from bot.storage.checkins import Prompt, Reminder
from bot.storage.circles import Circle
from bot.timekeeping.parsing import TIME_EXAMPLE, parse_time, parse_weekdays
from bot.timekeeping.wallclock import next_wall_time
from bot.timekeeping.words import EVERY_DAY, format_time, weekday_digits

log = logging.getLogger(__name__)


class Schedules(CheckinCore):
    # -- reminders ------------------------------------------------------------------------------

    async def reminder(self, guild_id: int, user_id: int) -> Reminder | None:
        return await self.repo.reminder_for(guild_id, user_id)

    async def set_reminder(
        self, guild_id: int, actor: Actor, circle: Circle, time_text: str | None, days_text: str | None
    ) -> Reminder:
        """Turn reminders on (or change them). Validates everything before storing anything."""
        self.check_can_check_in(circle, actor)
        existing = await self.repo.reminder_for(guild_id, actor.user_id)
        if time_text is None and existing is None:
            raise InvalidInput(msg("Add a time for your reminder. {example}", example=msg(TIME_EXAMPLE)))
        at = parse_time(time_text if time_text is not None else existing.local_time if existing else None)
        if days_text is not None:
            days = weekday_digits(parse_weekdays(days_text) or EVERY_DAY)  # nothing named: every day
        else:
            days = existing.weekdays if existing else weekday_digits(EVERY_DAY)
        reminder = await self.repo.upsert_reminder(
            guild_id, actor.user_id, circle.id, format_time(at), days, self.clock.now()
        )
        await self._schedule_reminder(reminder, self.clock.now())
        log.info("reminder set reminder=%s", reminder.id)
        stored = await self.repo.get_reminder(reminder.id)
        assert stored is not None
        return stored

    async def _schedule_reminder(self, reminder: Reminder, after: datetime, *, at: datetime | None = None) -> datetime:
        zone = await self.member_time.zone(reminder.guild_id, reminder.user_id)
        run_at = at or next_wall_time(after, parse_time(reminder.local_time), reminder.weekdays, zone)
        prefix = reminder_job_prefix(reminder.id)
        await self.scheduler.cancel_prefix(prefix)
        await self.scheduler.schedule(
            REMINDER_JOB,
            run_at,
            {"reminder": reminder.id},
            guild_id=reminder.guild_id,
            job_id=prefix + job_stamp(run_at),
            grace=REMINDER_GRACE,
        )
        await self.repo.set_reminder_next(reminder.id, run_at)
        return run_at

    async def stop_reminder(self, guild_id: int, user_id: int) -> bool:
        """Switch reminders off. Their settings are deleted, not kept."""
        reminder = await self.repo.reminder_for(guild_id, user_id)
        if reminder is None:
            return False
        await self.scheduler.cancel_prefix(reminder_job_prefix(reminder.id))
        await self.repo.delete_reminder(reminder.id)
        log.info("reminder stopped reminder=%s", reminder.id)
        return True

    async def reminder_by_id(self, reminder_id: int) -> Reminder | None:
        return await self.repo.get_reminder(reminder_id)

    async def own_reminder(self, reminder_id: int, user_id: int) -> Reminder:
        reminder = await self.repo.get_reminder(reminder_id)
        if reminder is None or reminder.user_id != user_id:
            raise NotFound(msg("Those reminders are already off. Turn them on again with /checkin reminders."))
        return reminder

    async def stop_reminder_by_id(self, reminder_id: int, user_id: int) -> None:
        reminder = await self.own_reminder(reminder_id, user_id)
        await self.stop_reminder(reminder.guild_id, user_id)

    async def snooze(self, reminder_id: int, user_id: int) -> tuple[datetime, str]:
        """Remind again in an hour (instead of the next regular time if that is sooner). Returns
        (when, zone name)."""
        reminder = await self.own_reminder(reminder_id, user_id)
        if not reminder.active:
            raise InvalidInput(
                msg("Your reminders are paused, so there's nothing to snooze. Turn them on with /checkin reminders.")
            )
        when = await self._schedule_reminder(reminder, self.clock.now(), at=self.clock.now() + SNOOZE)
        return when, await self._zone_name(reminder.guild_id, user_id)

    async def run_reminder(self, job: Job) -> None:
        """The scheduler's handler for ``checkin.reminder``: DM the member, then schedule the next."""
        reminder = await self.repo.get_reminder(int(job.payload.get("reminder", 0)))
        if reminder is None or not reminder.active:
            return  # stopped, deleted with the member's data, or its circle was deleted
        circle = await self.circles.get(reminder.circle_id)
        if circle is None:
            return
        now = self.clock.now()
        if not circle.active:
            await self.repo.pause_reminder(reminder.id, "circle_closed", now)
            log.info("reminder paused reason=circle_closed reminder=%s", reminder.id)
            return
        if self.delivery is None:
            raise RuntimeError("no delivery attached: is the check-ins cog loaded?")
        roles = await self.delivery.member_role_ids(reminder.guild_id, reminder.user_id)
        if roles is None or circle.member_role_id not in roles:
            await self.repo.pause_reminder(reminder.id, "not_in_circle", now)
            log.info("reminder paused reason=not_in_circle reminder=%s", reminder.id)
            return
        try:
            result = await self.delivery.send_reminder(reminder, circle)
        except Exception:
            await self._schedule_reminder(reminder, max(now, job.run_at))  # one failure doesn't end reminders
            raise
        if result is DeliveryResult.DMS_CLOSED:
            await self.repo.pause_reminder(reminder.id, "dms_closed", now)
            log.info("reminder paused reason=dms_closed reminder=%s", reminder.id)
            return
        fresh = await self.repo.get_reminder(reminder.id)
        if fresh is not None and fresh.active and fresh.next_at != reminder.next_at:
            # Changed while this DM went out (the member pressed Snooze on it at once, possibly in
            # another process): their choice stands, and the next regular one follows it.
            log.info("reminder sent reminder=%s (rescheduled meanwhile)", reminder.id)
            return
        if fresh is not None and fresh.active:
            await self._schedule_reminder(fresh, max(now, job.run_at))
        log.info("reminder sent reminder=%s", reminder.id)

    async def pop_notice(self, guild_id: int, user_id: int) -> Msg | None:
        """A one-time note about paused reminders, shown the next time the member uses /checkin."""
        reminder = await self.repo.reminder_for(guild_id, user_id)
        if reminder is None or not reminder.notice_due or reminder.active:
            return None
        if not await self.repo.clear_notice(reminder.id):
            return None
        circle = await self.circles.get(reminder.circle_id)
        text = NOTICES.get(reminder.paused_reason or "", NOTICES["dms_closed"])
        # Translators: "that" stands in for the name of a circle that was deleted since (rare).
        return msg(text, circle=circle.name if circle else msg("that"))

    # -- circle prompts -------------------------------------------------------------------------

    async def prompt(self, circle: Circle) -> Prompt | None:
        return await self.repo.prompt(circle.id)

    async def set_prompt(
        self, circle: Circle, actor: Actor, frequency: str, time_text: str | None, weekday: int | None
    ) -> Prompt:
        await self.require_facilitator(circle, actor, msg("schedule check-in prompts"))
        if not circle.active:
            raise InvalidInput(
                msg("The {circle} circle is archived, so it can't have check-in prompts.", circle=circle.name)
            )
        if frequency not in ("daily", "weekly"):
            raise InvalidInput(msg("A prompt is daily or weekly."))
        existing = await self.repo.prompt(circle.id)
        if time_text is None and existing is None:
            raise InvalidInput(msg("Add a time for the prompt. {example}", example=msg(TIME_EXAMPLE)))
        at = parse_time(time_text if time_text is not None else existing.local_time if existing else None)
        if frequency == "weekly":
            weekday = weekday if weekday is not None else (existing.weekday if existing else None)
            if weekday is None or not 0 <= weekday <= 6:
                raise InvalidInput(msg("A weekly prompt needs a day: add the day option."))
        else:
            weekday = None
        prompt = await self.repo.upsert_prompt(
            circle.id, circle.guild_id, frequency, weekday, format_time(at), self.clock.now()
        )
        await self._schedule_prompt(prompt, self.clock.now())
        log.info("prompt scheduled circle=%s frequency=%s", circle.id, frequency)
        stored = await self.repo.prompt(circle.id)
        assert stored is not None
        return stored

    async def stop_prompt(self, circle: Circle, actor: Actor) -> bool:
        await self.require_facilitator(circle, actor, msg("stop check-in prompts"))
        await self.scheduler.cancel_prefix(prompt_job_prefix(circle.id))
        return await self.repo.delete_prompt(circle.id) > 0

    async def _schedule_prompt(self, prompt: Prompt, after: datetime) -> datetime:
        zone = ZoneInfo(await self.server_zone(prompt.guild_id))
        days = EVERY_DAY if prompt.weekday is None else {prompt.weekday}
        run_at = next_wall_time(after, parse_time(prompt.local_time), days, zone)
        prefix = prompt_job_prefix(prompt.circle_id)
        await self.scheduler.cancel_prefix(prefix)
        await self.scheduler.schedule(
            PROMPT_JOB,
            run_at,
            {"circle": prompt.circle_id},
            guild_id=prompt.guild_id,
            job_id=prefix + job_stamp(run_at),
            grace=PROMPT_GRACE,
        )
        await self.repo.set_prompt_state(prompt.circle_id, next_at=run_at)
        return run_at

    async def run_prompt(self, job: Job) -> None:
        """The scheduler's handler for ``checkin.prompt``: post in the circle's channel, schedule the next."""
        circle_id = int(job.payload.get("circle", 0))
        prompt = await self.repo.prompt(circle_id)
        circle = await self.circles.get(circle_id)
        if prompt is None or circle is None or not circle.active:
            return
        try:
            if circle.channel_id is None:
                log.warning("prompt skipped: the circle's channel is missing circle=%s", circle.id)
            else:
                if self.delivery is None:
                    raise RuntimeError("no delivery attached: is the check-ins cog loaded?")
                posted = await self.delivery.post_prompt(circle, prompt.last_message_id)
                if posted is not None:
                    await self.repo.set_prompt_state(circle.id, next_at=None, last_message_id=posted)
                    log.info("prompt posted circle=%s", circle.id)
        finally:
            await self._schedule_prompt(prompt, max(self.clock.now(), job.run_at))

    # -- start-up -------------------------------------------------------------------------------

    async def ensure_scheduled(self) -> int:
        """At start (after the scheduler): give every active reminder and prompt a pending job.

        A job can be missing when the bot was down past its grace window (the scheduler records it
        as missed). Returns how many were scheduled.
        """
        # Only the ids this looks at (reminders by prefix, prompts by kind): at scale every pending
        # job id (80,000 with 20,000 sessions) cost ~10 MiB at start for nothing.
        jobs = self.scheduler.jobs
        pending = set(await jobs.pending_ids(prefix="checkin:reminder:")) | set(await jobs.pending_ids(kind=PROMPT_JOB))
        now = self.clock.now()
        scheduled = 0
        owns = self.scheduler.scope.shards.owns  # several processes: each ensures its own servers'
        for reminder in await self.repo.active_reminders():
            if not owns(reminder.guild_id):
                continue
            prefix = reminder_job_prefix(reminder.id)
            if not any(job_id.startswith(prefix) for job_id in pending):
                await self._schedule_reminder(reminder, now)
                scheduled += 1
        for prompt in await self.repo.all_prompts():
            if not owns(prompt.guild_id):
                continue
            circle = await self.circles.get(prompt.circle_id)
            prefix = prompt_job_prefix(prompt.circle_id)
            if circle is not None and circle.active and not any(job_id.startswith(prefix) for job_id in pending):
                await self._schedule_prompt(prompt, now)
                scheduled += 1
        if scheduled:
            log.info("check-in schedules rebuilt count=%d", scheduled)
        return scheduled
