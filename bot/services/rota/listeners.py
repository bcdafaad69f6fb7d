"""Listeners themselves: joining (approved at once or by a coordinator), leaving, being on call,
breaks, limits and cooldowns; and the server's listener and support settings."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.errors import Conflict, InvalidInput, NotFound
from bot.i18n import Msg, msg
from bot.services.access import Actor
from bot.services.rota.core import RotaCore, RotaDeps
from bot.services.rota.jobs import Jobs
from bot.services.rota.models import (
    APPROVE_LISTENERS,
    CHANGE_SUPPORT_SETTINGS,
    MAX_AVAILABLE_HOURS,
    ONCALL_END_JOB,
    JoinOutcome,
    RotaNotice,
    bounded,
)
from bot.services.rota.slots import Slots
from bot.storage.listeners import Listener, SupportSettings

log = logging.getLogger(__name__)


class Listeners(RotaCore):
    def __init__(self, deps: RotaDeps, jobs: Jobs, slots: Slots) -> None:
        super().__init__(deps)
        self.jobs = jobs
        self.slots = slots

    # -- settings ---------------------------------------------------------------------------

    async def update_settings(self, guild_id: int, actor: Actor, **changes: Any) -> tuple[SupportSettings, list[Msg]]:
        """Change support settings (coordinators); returns the new settings and audit lines (each
        read after the coordinator's name: "set the offer timeout to 3 min")."""
        await self.access.require_coordinator(guild_id, actor, CHANGE_SUPPORT_SETTINGS)
        changes = {k: v for k, v in changes.items() if v is not None}
        current = await self.repo.settings(guild_id)
        if "offer_timeout_seconds" in changes:
            bounded(changes["offer_timeout_seconds"], 60, 3600, msg("The offer timeout (seconds)"))
        if "idle_close_minutes" in changes:
            bounded(changes["idle_close_minutes"], 5, 1440, msg("The idle time before a conversation closes (minutes)"))
        if "reminder_minutes" in changes:
            bounded(changes["reminder_minutes"], 0, 1440, msg("The shift reminder (minutes before)"))
        if "cooldown_minutes" in changes:
            bounded(changes["cooldown_minutes"], 0, 1440, msg("The cooldown after a heavy conversation (minutes)"))
        if changes.get("relay_mode") not in (None, "dm", "thread"):
            raise InvalidInput(msg("The relay mode is either dm or thread."))
        channel = changes.get("listeners_channel_id", current.listeners_channel_id)
        if changes.get("relay_mode", current.relay_mode) == "thread" and channel is None:
            raise InvalidInput(
                msg("Private-thread relay needs a listeners' channel: add listeners_channel:#your-listeners-channel.")
            )
        if "auto_approve" in changes:
            changes["auto_approve"] = int(bool(changes["auto_approve"]))
        labels: dict[str, Callable[[Any], str | Msg]] = {
            "listener_role_id": lambda v: f"<@&{v}>",
            "listeners_channel_id": lambda v: f"<#{v}>",
            # Translators: a setting that is switched on or off.
            "auto_approve": lambda v: msg("on") if v else msg("off"),
            "relay_mode": lambda v: msg("private threads") if v == "thread" else msg("direct messages"),
            "offer_timeout_seconds": lambda v: (
                msg("{minutes} min", minutes=v // 60) if v % 60 == 0 else msg("{seconds} s", seconds=v)
            ),
            "idle_close_minutes": lambda v: msg("{minutes} min", minutes=v),
            "reminder_minutes": lambda v: msg("{minutes} min before", minutes=v),
            "cooldown_minutes": lambda v: msg("{minutes} min", minutes=v),
        }
        names = {
            "listener_role_id": msg("the listener role"),
            "listeners_channel_id": msg("the listeners' channel"),
            "auto_approve": msg("auto-approval of listeners"),
            "relay_mode": msg("the support relay"),
            "offer_timeout_seconds": msg("the offer timeout"),
            "idle_close_minutes": msg("the idle close time"),
            "reminder_minutes": msg("the default shift reminder"),
            "cooldown_minutes": msg("the cooldown after a heavy conversation"),
        }
        lines = [
            # Translators: an audit line after the coordinator's name ("@Ana set the offer timeout to 3 min").
            msg("set {setting} to {value}", setting=names[k], value=labels[k](v))
            for k, v in changes.items()
            if k in labels and getattr(current, k) != (bool(v) if k == "auto_approve" else v)
        ]
        updated = await self.repo.update_settings(guild_id, self.clock.now(), **changes)
        await self.jobs.ensure_guild_jobs(guild_id)
        return updated, lines

    # -- joining and leaving ----------------------------------------------------------------

    async def check_can_join(self, guild_id: int, user_id: int) -> None:
        found = await self.repo.listener(guild_id, user_id)
        if found is not None and found.status == "active":
            raise Conflict(msg("You're already a listener here. /rota mine shows your shifts."))
        if found is not None and found.status == "pending":
            raise Conflict(msg("Your application is already waiting for a coordinator. I'll DM you when it's decided."))
        settings = await self.repo.settings(guild_id)
        if not settings.auto_approve and (await self.guild_settings.get(guild_id)).mod_channel_id is None:
            raise InvalidInput(
                msg(
                    "Listeners here are approved by a coordinator, but the server has no moderation channel yet. "
                    "Please ask an admin to set one with /setup."
                )
            )

    async def join(self, guild_id: int, user_id: int) -> JoinOutcome:
        """The person agreed to the guidelines: approve at once (auto-approve) or ask coordinators."""
        await self.check_can_join(guild_id, user_id)
        settings = await self.repo.settings(guild_id)
        now = self.clock.now()
        status = "active" if settings.auto_approve else "pending"
        listener = await self.repo.save_agreement(guild_id, user_id, status, now)
        told = False
        if status == "active":
            await self._give_role(guild_id, user_id, True)
        elif self.port is not None:
            message_id = await self.port.tell_coordinators(
                guild_id, RotaNotice("review", guild_id, {"listener": listener.public_id, "user_id": user_id})
            )
            told = message_id is not None
            if message_id is not None:
                listener = await self.repo.update_listener(listener.id, now, review_message_id=message_id)
        log.info("listener agreed guild=%s listener=%s status=%s", guild_id, listener.public_id, status)
        return JoinOutcome(listener, status == "active", told)

    async def require_reviewer(self, public_id: str, actor: Actor) -> Listener:
        listener = await self.repo.listener_by_public_id(public_id)
        if listener is None:
            raise NotFound(msg("That application no longer exists (they may have withdrawn it)."))
        await self.access.require_coordinator(listener.guild_id, actor, APPROVE_LISTENERS)
        if listener.status != "pending":
            raise Conflict(msg("Someone already decided on this application."))
        return listener

    async def review(self, public_id: str, actor: Actor, approve: bool) -> Listener:
        listener = await self.require_reviewer(public_id, actor)
        now = self.clock.now()
        if not await self.repo.set_review_status(listener.id, "active" if approve else "declined", now):
            raise Conflict(msg("Someone already decided on this application."))
        if approve:
            await self._give_role(listener.guild_id, listener.user_id, True)
        if self.port is not None:
            await self.port.tell_listener(
                listener.user_id, RotaNotice("approved" if approve else "declined", listener.guild_id)
            )
        log.info("listener reviewed listener=%s approved=%s", public_id, approve)
        found = await self.repo.listener_by_public_id(public_id)
        assert found is not None
        return found

    async def leave(self, guild_id: int, user_id: int) -> int:
        """Stop being a listener: future shifts are dropped (coordinators told about gaps)."""
        listener = await self.require_listener(guild_id, user_id)
        now = self.clock.now()
        dropped = 0
        for assignment in await self.repo.assignments_of(guild_id, user_id, now):
            if assignment.starts_at > now:
                await self.slots.drop_assignment(assignment, notify=True)
                dropped += 1
        await self.repo.end_oncall(guild_id, user_id, now)
        await self.scheduler.cancel(f"rota:{guild_id}:oncall:{listener.public_id}")
        await self.repo.remove_listener(listener.id)
        await self._give_role(guild_id, user_id, False)
        await self._refresh(guild_id)
        log.info("listener left guild=%s", guild_id)
        return dropped

    # -- availability and limits ------------------------------------------------------------

    async def set_available(self, guild_id: int, user_id: int, hours: float) -> datetime:
        listener = await self.require_listener(guild_id, user_id)
        if not 0.25 <= hours <= MAX_AVAILABLE_HOURS:
            raise InvalidInput(
                msg("You can be on call for between 15 minutes and {hours} hours at a time.", hours=MAX_AVAILABLE_HOURS)
            )
        now = self.clock.now()
        until = now + timedelta(minutes=round(hours * 60))
        await self.repo.update_listener(listener.id, now, available_until=until, break_until=None)
        await self.repo.start_oncall(guild_id, user_id, now, until)
        await self.scheduler.schedule(
            ONCALL_END_JOB,
            until,
            {"guild_id": guild_id, "listener": listener.public_id},
            guild_id=guild_id,
            job_id=f"rota:{guild_id}:oncall:{listener.public_id}",
            grace=timedelta(hours=6),
        )
        return until

    async def set_unavailable(self, guild_id: int, user_id: int) -> bool:
        listener = await self.require_listener(guild_id, user_id)
        now = self.clock.now()
        was = listener.available_until is not None and listener.available_until > now
        await self.repo.update_listener(listener.id, now, available_until=None)
        await self.repo.end_oncall(guild_id, user_id, now)
        await self.scheduler.cancel(f"rota:{guild_id}:oncall:{listener.public_id}")
        return was

    async def toggle_break(self, guild_id: int, user_id: int) -> datetime | None:
        """Pause new requests for the rest of the shift; run again to come back. Returns the end of
        the break, or None when the break was ended."""
        listener = await self.require_listener(guild_id, user_id)
        now = self.clock.now()
        if listener.break_until is not None and listener.break_until > now:
            await self.repo.update_listener(listener.id, now, break_until=None)
            return None
        until = await self.shift_end_now(guild_id, user_id)
        if until is None:
            raise InvalidInput(
                msg("You're not on shift or on call right now, so no requests come to you: there's nothing to pause.")
            )
        await self.repo.update_listener(listener.id, now, break_until=until)
        return until

    async def set_limits(
        self,
        guild_id: int,
        user_id: int,
        *,
        max_conversations: int | None = None,
        max_hours: int | None = None,
        reminder_minutes: int | None = None,
        debrief: bool | None = None,
    ) -> Listener:
        listener = await self.require_listener(guild_id, user_id)
        changes: dict[str, Any] = {}
        if max_conversations is not None:
            changes["max_concurrent"] = bounded(max_conversations, 1, 5, msg("Conversations at once"))
        if max_hours is not None:
            changes["max_weekly_hours"] = None if max_hours == 0 else bounded(max_hours, 1, 80, msg("Hours per week"))
        if reminder_minutes is not None:
            changes["reminder_minutes"] = bounded(
                reminder_minutes, 0, 1440, msg("The reminder (minutes before a shift)")
            )
        if debrief is not None:
            changes["debrief_opt_in"] = int(debrief)
        updated = await self.repo.update_listener(listener.id, self.clock.now(), **changes)
        if "reminder_minutes" in changes:
            for assignment in await self.repo.assignments_of(guild_id, user_id, self.clock.now()):
                await self.jobs.schedule_reminder(assignment)
        return updated

    async def start_cooldown(self, guild_id: int, user_id: int) -> datetime | None:
        listener = await self.repo.listener(guild_id, user_id)
        if listener is None:
            return None
        minutes = (await self.repo.settings(guild_id)).cooldown_minutes
        if minutes <= 0:
            return None
        now = self.clock.now()
        until = now + timedelta(minutes=minutes)
        await self.repo.update_listener(listener.id, now, cooldown_until=until)
        return until
