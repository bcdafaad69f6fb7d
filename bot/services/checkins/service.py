"""The one object the app, the cogs and the scheduler use for check-ins: :class:`CheckinService`.

It builds the parts on one :class:`~bot.services.checkins.core.CheckinDeps` and hands each call to
the part that owns it (the table in ``__init__``); what all parts share (who may do what, finding
the circle) it has itself, from :class:`~bot.services.checkins.core.CheckinCore`.
"""

from __future__ import annotations

from bot.clock import Clock
from bot.scheduler import Scheduler
from bot.services.access import AccessService
from bot.services.checkins.core import CheckinCore, CheckinDeps
from bot.services.checkins.insights import Insights
from bot.services.checkins.port import CheckinDelivery
from bot.services.checkins.recording import Recording
from bot.services.checkins.schedules import Schedules
from bot.services.member_time import MemberTimeService
from bot.storage.checkins import CheckinRepository
from bot.storage.circles import Circle, CircleRepository
from bot.storage.guilds import GuildSettingsRepository


class CheckinService(CheckinCore):
    def __init__(
        self,
        checkins: CheckinRepository,
        circles: CircleRepository,
        access: AccessService,
        member_time: MemberTimeService,
        guild_settings: GuildSettingsRepository,
        scheduler: Scheduler,
        clock: Clock,
    ) -> None:
        deps = CheckinDeps(checkins, circles, access, member_time, guild_settings, scheduler, clock)
        super().__init__(deps)
        self.schedules = Schedules(deps)
        self.recording = Recording(deps, self.schedules)
        self.insights = Insights(deps)

        # The check-in itself.
        self.circle_to_open = self.recording.circle_to_open
        self.tap_context = self.recording.tap_context
        self.record = self.recording.record
        self.own = self.recording.own
        self.state = self.recording.state
        self.tags_for = self.recording.tags_for
        self.clean_note = self.recording.clean_note
        self.clean_tags = self.recording.clean_tags
        self.add_details = self.recording.add_details
        self.set_share = self.recording.set_share
        self.latest = self.recording.latest
        self.edit = self.recording.edit
        self.delete = self.recording.delete
        self.set_circle_tags = self.recording.set_circle_tags
        # Asking for a listener (the listener rota routes the requests).
        self.request_listener = self.recording.request_listener
        self.cancel_listener = self.recording.cancel_listener
        self.pending_requests = self.recording.pending_requests
        self.mark_request_routed = self.recording.mark_request_routed
        self.settings = self.recording.settings
        self.set_listener_after = self.recording.set_listener_after
        # History and the pulse.
        self.history = self.insights.history
        self.pulse = self.insights.pulse
        # Reminders and prompts.
        self.reminder = self.schedules.reminder
        self.set_reminder = self.schedules.set_reminder
        self.stop_reminder = self.schedules.stop_reminder
        self.reminder_by_id = self.schedules.reminder_by_id
        self.own_reminder = self.schedules.own_reminder
        self.stop_reminder_by_id = self.schedules.stop_reminder_by_id
        self.snooze = self.schedules.snooze
        self.run_reminder = self.schedules.run_reminder
        self.pop_notice = self.schedules.pop_notice
        self.prompt = self.schedules.prompt
        self.set_prompt = self.schedules.set_prompt
        self.stop_prompt = self.schedules.stop_prompt
        self.run_prompt = self.schedules.run_prompt
        self.ensure_scheduled = self.schedules.ensure_scheduled

    async def circle(self, circle_id: int) -> Circle | None:
        """The circle with this id, if it still exists."""
        return await self.circles.get(circle_id)

    async def zone_name(self, guild_id: int, user_id: int) -> str:
        """The time zone this member's times are shown in (their own, or the server's)."""
        return (await self.member_time.zone_name(guild_id, user_id))[0]

    def attach(self, delivery: CheckinDelivery) -> None:
        """The cog connects Discord (DMs, posting prompts, looking up a member's roles)."""
        self.deps.delivery = delivery
