"""The one object the app, the cogs and the scheduler use for sessions: :class:`SessionService`.

It builds the parts on one :class:`~bot.services.sessions.core.SessionDeps` and hands each call
to the part that owns it (the table in ``__init__``); what all parts share (rights, look-ups,
views) it has itself, from :class:`~bot.services.sessions.core.SessionCore`.
"""

from __future__ import annotations

import random

from bot.clock import Clock
from bot.scheduler import JobHandler, Scheduler
from bot.services.access import AccessService
from bot.services.member_time import MemberTimeService
from bot.services.sessions.attendance import Attendance
from bot.services.sessions.changes import Changes
from bot.services.sessions.core import SessionCore, SessionDeps
from bot.services.sessions.event_sync import EventSync
from bot.services.sessions.live import LiveSession
from bot.services.sessions.models import JOB_END, JOB_REMIND, JOB_START, JOB_TIMER
from bot.services.sessions.planning import Planning
from bot.services.sessions.port import SessionDiscord
from bot.storage.circles import CircleRepository
from bot.storage.guilds import GuildSettingsRepository
from bot.storage.sessions import SessionRepository


class SessionService(SessionCore):
    def __init__(
        self,
        sessions: SessionRepository,
        circles: CircleRepository,
        settings: GuildSettingsRepository,
        access: AccessService,
        member_time: MemberTimeService,
        scheduler: Scheduler,
        clock: Clock,
        *,
        rng: random.Random | None = None,
    ) -> None:
        deps = SessionDeps(
            sessions, circles, settings, access, member_time, scheduler, clock, rng or random.SystemRandom()
        )
        super().__init__(deps)
        self.attendance = Attendance(deps)
        self.planning = Planning(deps)
        self.changes = Changes(deps, self.planning, self.attendance)
        self.live = LiveSession(deps, self.planning)
        self.sync = EventSync(deps, self.planning, self.changes, self.live)

        # Planning: a new series, its occurrences, what's coming up.
        self.build_rule = self.planning.build_rule
        self.validate = self.planning.validate
        self.schedule = self.planning.schedule
        self.ensure_window = self.planning.ensure_window
        self.visible_to = self.planning.visible_to
        self.upcoming = self.planning.upcoming
        self.choices = self.planning.choices
        self.info = self.planning.info
        # Changing plans.
        self.skip = self.changes.skip
        self.cancel = self.changes.cancel
        self.edit_occurrence = self.changes.edit_occurrence
        self.edit_series = self.changes.edit_series
        self.stop_circle = self.changes.stop_circle
        # Attendance and the waitlist.
        self.rsvp = self.attendance.rsvp
        self.unrsvp = self.attendance.unrsvp
        self.interest_changed = self.attendance.interest_changed
        self.sync_interested = self.attendance.sync_interested
        self.set_reminders = self.attendance.set_reminders
        self.run_reminder = self.attendance.run_reminder
        # The session itself.
        self.run_start = self.live.run_start
        self.run_end = self.live.run_end
        self.run_timer = self.live.run_timer
        self.arrive = self.live.arrive
        self.step_out = self.live.step_out
        self.start_goround = self.live.start_goround
        self.pass_turn = self.live.pass_turn
        self.next_speaker = self.live.next_speaker
        self.timer = self.live.timer
        self.close = self.live.close
        self.give_feedback = self.live.give_feedback
        self.add_comment = self.live.add_comment
        self.report = self.live.report
        # Following what was changed by hand in Discord, and catching up at connect.
        self.event_removed = self.sync.event_removed
        self.event_changed = self.sync.event_changed
        self.rebuild = self.sync.rebuild

    def attach(self, port: SessionDiscord | None) -> None:
        """The cog attaches its Discord port when it loads (and detaches it when it unloads)."""
        self.deps.discord = port

    def job_handlers(self) -> dict[str, JobHandler]:
        return {
            JOB_REMIND: self.attendance.run_reminder,
            JOB_START: self.live.run_start,
            JOB_END: self.live.run_end,
            JOB_TIMER: self.live.run_timer,
        }
