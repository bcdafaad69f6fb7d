"""Listeners and their rota: slots, shifts taken and dropped, swaps, availability, limits, hours.

When a slot's shifts happen, across clock changes, and the hours worked in a period are pure time
arithmetic, in :mod:`bot.timekeeping.shifts`. Here: who covers which shift, and :class:`RotaService`,
which keeps the rules. Discord is reached only through the :class:`RotaPort` the listeners cog
attaches (DMs to listeners, alerts to coordinators, the board).
Every timed thing is a scheduler job keyed ``rota:{guild}:...``, so it survives restarts.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.scheduler import Job, Scheduler
from bot.services.access import AccessService, Actor
from bot.services.timezones import validate_timezone
from bot.storage.database import typed_id
from bot.storage.guilds import GuildSettingsRepository
from bot.storage.listeners import Assignment, Listener, ListenerRepository, Slot, SupportSettings, Swap
from bot.timekeeping.parsing import MAX_DAYS_AHEAD, parse_date, parse_time
from bot.timekeeping.shifts import Occurrence, all_occurrences, hours_in, occurrence_on, occurrences, slot_start_time
from bot.timekeeping.wallclock import to_utc, week_bounds
from bot.timekeeping.words import WEEKDAY_NAMES

log = logging.getLogger(__name__)

BOARD_DAYS = 14
UNCOVERED_NOTICE = timedelta(hours=48)
MAX_AVAILABLE_HOURS = 12
DURATION_MINUTES = (30, 720)
NEEDED_RANGE = (1, 20)
KEY = re.compile(r"^(\d+):(\d{4}-\d{2}-\d{2})$")

REMINDER_JOB = "rota.reminder"
SHIFT_START_JOB = "rota.shift_start"
SHIFT_END_JOB = "rota.shift_end"
COVERAGE_JOB = "rota.coverage"
DAILY_JOB = "rota.daily"
ONCALL_END_JOB = "rota.oncall_end"
JOB_KINDS = (REMINDER_JOB, SHIFT_START_JOB, SHIFT_END_JOB, COVERAGE_JOB, DAILY_JOB, ONCALL_END_JOB)


# -- slots and coverage ---------------------------------------------------------------------


def parse_key(key: str) -> tuple[int, date]:
    match = KEY.match(key.strip())
    slot_id = typed_id(match.group(1)) if match else None
    if match is None or slot_id is None:
        raise InvalidInput("Please pick a shift from the list Discord offers.")
    try:
        return slot_id, date.fromisoformat(match.group(2))
    except ValueError:
        raise InvalidInput("Please pick a shift from the list Discord offers.") from None


@dataclass(frozen=True, slots=True)
class Coverage:
    occurrence: Occurrence
    slot: Slot
    listeners: tuple[int, ...]

    @property
    def filled(self) -> int:
        return len(self.listeners)

    @property
    def needed(self) -> int:
        return self.slot.needed

    @property
    def full(self) -> bool:
        return self.filled >= self.needed


def coverage(
    slots: Iterable[Slot], assignments: Iterable[Assignment], start: datetime, end: datetime
) -> list[Coverage]:
    by_key: dict[str, list[int]] = defaultdict(list)
    for assignment in assignments:
        by_key[f"{assignment.slot_id}:{assignment.occurrence}"].append(assignment.user_id)
    slot_list = list(slots)
    by_id = {s.id: s for s in slot_list}
    return [Coverage(o, by_id[o.slot_id], tuple(by_key.get(o.key, ()))) for o in all_occurrences(slot_list, start, end)]


def describe_slot(slot: Slot) -> str:
    start = slot_start_time(slot)
    end = (datetime.combine(date(2000, 1, 1), start) + timedelta(minutes=slot.duration_minutes)).time()
    times = f"{start.strftime('%H:%M')}–{end.strftime('%H:%M')}"
    label = f" · {slot.label}" if slot.label else ""
    if slot.kind == "once":
        assert slot.local_date is not None
        day = date.fromisoformat(slot.local_date)
        when = f"Once, {day.strftime('%a')} {day.day} {day.strftime('%b %Y')}"
    else:
        assert slot.weekday is not None
        when = f"{WEEKDAY_NAMES[slot.weekday]}s"
    return f"{when} {times} ({slot.timezone}), {slot.needed} needed{label}"


# -- the port to Discord --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RotaNotice:
    """Something to tell a listener or the coordinators. The cog renders it; ``params`` hold
    only times, labels, slot descriptions and listener ids (never anything about members)."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)


class RotaPort(Protocol):
    async def tell_listener(self, user_id: int, notice: RotaNotice) -> int | None:
        """DM a listener; the message id, or None if it couldn't be delivered."""
        ...

    async def tell_coordinators(self, guild_id: int, notice: RotaNotice) -> int | None:
        """Post in the server's moderation channel; the message id, or None."""
        ...

    async def refresh_board(self, guild_id: int) -> None: ...

    async def set_listener_role(self, guild_id: int, user_id: int, role_id: int, give: bool) -> bool: ...


# -- the service ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JoinOutcome:
    listener: Listener
    approved: bool
    coordinators_told: bool


@dataclass(frozen=True, slots=True)
class BoardDay:
    day: date
    rows: list[Coverage]


@dataclass(frozen=True, slots=True)
class Mine:
    listener: Listener
    shifts: list[tuple[Assignment, Slot | None]]
    on_shift_until: datetime | None
    hours_this_week: float
    planned_this_week: float
    conversations: int
    break_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReportRow:
    user_id: int
    hours: float
    shifts: int
    conversations: int
    heavy: int


@dataclass(frozen=True, slots=True)
class Report:
    start: datetime
    end: datetime
    occurrences: int
    covered: int
    partly: int
    uncovered: int
    rows: list[ReportRow]
    requests: int
    answered: int
    feedback: list[int]

    @property
    def coverage_percent(self) -> int:
        return round(100 * self.covered / self.occurrences) if self.occurrences else 100


def _bounded(value: int | None, low: int, high: int, what: str) -> int | None:
    if value is not None and not low <= value <= high:
        raise InvalidInput(f"{what} must be between {low} and {high}.")
    return value


def _job_prefix(guild_id: int, assignment_id: int) -> str:
    return f"rota:{guild_id}:shift:{assignment_id}:"


class RotaService:
    def __init__(
        self,
        repo: ListenerRepository,
        guild_settings: GuildSettingsRepository,
        access: AccessService,
        scheduler: Scheduler,
        clock: Clock,
        *,
        active_counts: Callable[[int], Awaitable[dict[int, int]]] | None = None,
    ) -> None:
        self.repo = repo
        self.guild_settings = guild_settings
        self.access = access
        self.scheduler = scheduler
        self.clock = clock
        self.port: RotaPort | None = None
        # A server's open support conversations per listener (for /rota mine), given at wiring.
        self.active_counts = active_counts

    def attach(self, port: RotaPort) -> None:
        self.port = port

    async def _zone(self, guild_id: int) -> str:
        return (await self.guild_settings.get(guild_id)).timezone

    # -- settings -----------------------------------------------------------------------

    async def settings(self, guild_id: int) -> SupportSettings:
        return await self.repo.settings(guild_id)

    async def update_settings(self, guild_id: int, actor: Actor, **changes: Any) -> tuple[SupportSettings, list[str]]:
        """Change support settings (coordinators); returns the new settings and audit lines."""
        await self.access.require_coordinator(guild_id, actor, "change the listener and support settings")
        changes = {k: v for k, v in changes.items() if v is not None}
        current = await self.repo.settings(guild_id)
        if "offer_timeout_seconds" in changes:
            _bounded(changes["offer_timeout_seconds"], 60, 3600, "The offer timeout (seconds)")
        if "idle_close_minutes" in changes:
            _bounded(changes["idle_close_minutes"], 5, 1440, "The idle time before a conversation closes (minutes)")
        if "reminder_minutes" in changes:
            _bounded(changes["reminder_minutes"], 0, 1440, "The shift reminder (minutes before)")
        if "cooldown_minutes" in changes:
            _bounded(changes["cooldown_minutes"], 0, 1440, "The cooldown after a heavy conversation (minutes)")
        if changes.get("relay_mode") not in (None, "dm", "thread"):
            raise InvalidInput("The relay mode is either dm or thread.")
        channel = changes.get("listeners_channel_id", current.listeners_channel_id)
        if changes.get("relay_mode", current.relay_mode) == "thread" and channel is None:
            raise InvalidInput(
                "Private-thread relay needs a listeners' channel: add listeners_channel:#your-listeners-channel."
            )
        if "auto_approve" in changes:
            changes["auto_approve"] = int(bool(changes["auto_approve"]))
        labels = {
            "listener_role_id": lambda v: f"<@&{v}>",
            "listeners_channel_id": lambda v: f"<#{v}>",
            "auto_approve": lambda v: "on" if v else "off",
            "relay_mode": lambda v: "private threads" if v == "thread" else "direct messages",
            "offer_timeout_seconds": lambda v: f"{v // 60} min" if v % 60 == 0 else f"{v} s",
            "idle_close_minutes": lambda v: f"{v} min",
            "reminder_minutes": lambda v: f"{v} min before",
            "cooldown_minutes": lambda v: f"{v} min",
        }
        names = {
            "listener_role_id": "the listener role",
            "listeners_channel_id": "the listeners' channel",
            "auto_approve": "auto-approval of listeners",
            "relay_mode": "the support relay",
            "offer_timeout_seconds": "the offer timeout",
            "idle_close_minutes": "the idle close time",
            "reminder_minutes": "the default shift reminder",
            "cooldown_minutes": "the cooldown after a heavy conversation",
        }
        lines = [
            f"set {names[k]} to {labels[k](v)}"
            for k, v in changes.items()
            if k in labels and getattr(current, k) != (bool(v) if k == "auto_approve" else v)
        ]
        updated = await self.repo.update_settings(guild_id, self.clock.now(), **changes)
        await self.ensure_guild_jobs(guild_id)
        return updated, lines

    # -- listeners ----------------------------------------------------------------------

    async def listener(self, guild_id: int, user_id: int) -> Listener | None:
        return await self.repo.listener(guild_id, user_id)

    async def require_listener(self, guild_id: int, user_id: int) -> Listener:
        found = await self.repo.listener(guild_id, user_id)
        if found is None or found.status == "declined":
            raise NotAllowed("That's for volunteer listeners. If you'd like to become one, run /listener join.")
        if found.status == "pending":
            raise NotAllowed("Your listener application is waiting for a coordinator's approval. I'll DM you.")
        return found

    async def check_can_join(self, guild_id: int, user_id: int) -> None:
        found = await self.repo.listener(guild_id, user_id)
        if found is not None and found.status == "active":
            raise Conflict("You're already a listener here. /rota mine shows your shifts.")
        if found is not None and found.status == "pending":
            raise Conflict("Your application is already waiting for a coordinator. I'll DM you when it's decided.")
        settings = await self.repo.settings(guild_id)
        if not settings.auto_approve and (await self.guild_settings.get(guild_id)).mod_channel_id is None:
            raise InvalidInput(
                "Listeners here are approved by a coordinator, but the server has no moderation channel yet. "
                "Please ask an admin to set one with /setup."
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
                guild_id, RotaNotice("review", {"listener": listener.public_id, "user_id": user_id})
            )
            told = message_id is not None
            if message_id is not None:
                listener = await self.repo.update_listener(listener.id, now, review_message_id=message_id)
        log.info("listener agreed guild=%s listener=%s status=%s", guild_id, listener.public_id, status)
        return JoinOutcome(listener, status == "active", told)

    async def _give_role(self, guild_id: int, user_id: int, give: bool) -> bool:
        role = (await self.repo.settings(guild_id)).listener_role_id
        if role is None or self.port is None:
            return False
        return await self.port.set_listener_role(guild_id, user_id, role, give)

    async def require_reviewer(self, public_id: str, actor: Actor) -> Listener:
        listener = await self.repo.listener_by_public_id(public_id)
        if listener is None:
            raise NotFound("That application no longer exists (they may have withdrawn it).")
        await self.access.require_coordinator(listener.guild_id, actor, "approve listeners")
        if listener.status != "pending":
            raise Conflict("Someone already decided on this application.")
        return listener

    async def review(self, public_id: str, actor: Actor, approve: bool) -> Listener:
        listener = await self.require_reviewer(public_id, actor)
        now = self.clock.now()
        if not await self.repo.set_review_status(listener.id, "active" if approve else "declined", now):
            raise Conflict("Someone already decided on this application.")
        if approve:
            await self._give_role(listener.guild_id, listener.user_id, True)
        if self.port is not None:
            await self.port.tell_listener(listener.user_id, RotaNotice("approved" if approve else "declined", {}))
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
                await self._drop_assignment(assignment, notify=True)
                dropped += 1
        await self.repo.end_oncall(guild_id, user_id, now)
        await self.scheduler.cancel(f"rota:{guild_id}:oncall:{listener.public_id}")
        await self.repo.remove_listener(listener.id)
        await self._give_role(guild_id, user_id, False)
        await self._refresh(guild_id)
        log.info("listener left guild=%s", guild_id)
        return dropped

    async def set_available(self, guild_id: int, user_id: int, hours: float) -> datetime:
        listener = await self.require_listener(guild_id, user_id)
        if not 0.25 <= hours <= MAX_AVAILABLE_HOURS:
            raise InvalidInput(f"You can be on call for between 15 minutes and {MAX_AVAILABLE_HOURS} hours at a time.")
        now = self.clock.now()
        until = now + timedelta(minutes=round(hours * 60))
        await self.repo.update_listener(listener.id, now, available_until=until, break_until=None)
        await self.repo.start_oncall(guild_id, user_id, now, until)
        await self.scheduler.schedule(
            ONCALL_END_JOB,
            until,
            {"guild_id": guild_id, "listener": listener.public_id},
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

    async def shift_end_now(self, guild_id: int, user_id: int) -> datetime | None:
        """When the listener's current shift or on-call time ends (None if neither)."""
        now = self.clock.now()
        ends = [a.ends_at for a in await self.repo.covering(guild_id, now) if a.user_id == user_id]
        listener = await self.repo.listener(guild_id, user_id)
        if listener is not None and listener.available_until is not None and listener.available_until > now:
            ends.append(listener.available_until)
        return max(ends) if ends else None

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
                "You're not on shift or on call right now, so no requests come to you: there's nothing to pause."
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
            changes["max_concurrent"] = _bounded(max_conversations, 1, 5, "Conversations at once")
        if max_hours is not None:
            changes["max_weekly_hours"] = None if max_hours == 0 else _bounded(max_hours, 1, 80, "Hours per week")
        if reminder_minutes is not None:
            changes["reminder_minutes"] = _bounded(reminder_minutes, 0, 1440, "The reminder (minutes before a shift)")
        if debrief is not None:
            changes["debrief_opt_in"] = int(debrief)
        updated = await self.repo.update_listener(listener.id, self.clock.now(), **changes)
        if "reminder_minutes" in changes:
            for assignment in await self.repo.assignments_of(guild_id, user_id, self.clock.now()):
                await self._schedule_reminder(assignment)
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

    # -- who is on shift ----------------------------------------------------------------

    async def on_shift(self, guild_id: int) -> set[int]:
        """Listeners on a rota shift right now, plus those on call (/listener available)."""
        now = self.clock.now()
        active = {listener.user_id for listener in await self.repo.active_listeners(guild_id)}
        on = {a.user_id for a in await self.repo.covering(guild_id, now)}
        on |= {listener.user_id for listener in await self.repo.available_listeners(guild_id, now)}
        return on & active

    async def hours_this_week(self, guild_id: int, user_id: int, *, planned: bool = False) -> float:
        """Hours in the current local week: up to now (or, with ``planned``, the whole week)."""
        now = self.clock.now()
        start, end = week_bounds(now, await self._zone(guild_id))
        stop = end if planned else now
        shifts = [a for a in await self.repo.assignments_between(guild_id, start, stop) if a.user_id == user_id]
        oncall = await self.repo.oncall_between(guild_id, start, stop, user_id)
        return hours_in(shifts, oncall, start, stop).get(user_id, 0.0)

    async def next_covered_shift(self, guild_id: int) -> datetime | None:
        """When the next shift that has a listener on it starts (None if none is planned)."""
        now = self.clock.now()
        future = [a for a in await self.repo.assignments_between(guild_id, now, now + timedelta(days=60))]
        starts = [a.starts_at for a in future if a.starts_at > now]
        return min(starts) if starts else None

    # -- slots --------------------------------------------------------------------------

    async def add_slot(
        self,
        guild_id: int,
        actor: Actor,
        *,
        start: str,
        hours: float,
        needed: int = 1,
        weekday: int | None = None,
        on_date: str | None = None,
        label: str | None = None,
    ) -> Slot:
        await self.access.require_coordinator(guild_id, actor, "change the rota")
        at = parse_time(start)
        minutes = round(hours * 60)
        low, high = DURATION_MINUTES
        if not low <= minutes <= high:
            raise InvalidInput("A shift lasts between 30 minutes and 12 hours.")
        _bounded(needed, *NEEDED_RANGE, "The number of listeners needed")
        zone = validate_timezone(await self._zone(guild_id))
        values: dict[str, Any] = {
            "guild_id": guild_id,
            "start_time": at.strftime("%H:%M"),
            "duration_minutes": minutes,
            "needed": needed,
            "timezone": zone,
            "label": (label or "").strip()[:60] or None,
        }
        if on_date:
            day = parse_date(on_date, today=self.clock.now().date())
            start_at, _ = to_utc(day, at, zone)
            if start_at <= self.clock.now():
                raise InvalidInput("That one-off shift would be in the past. Pick a later date or time.")
            values.update(kind="once", local_date=day.isoformat())
        elif weekday is not None:
            if not 0 <= weekday <= 6:
                raise InvalidInput("Pick a day of the week from the list.")
            values.update(kind="weekly", weekday=weekday)
        else:
            raise InvalidInput("Say when: a weekday for a weekly shift, or a date (like 2026-03-17) for a one-off.")
        await self.repo.update_settings(guild_id, self.clock.now())  # the server now uses the rota
        slot = await self.repo.add_slot(values, self.clock.now())
        await self._schedule_coverage_check(slot)
        await self.ensure_guild_jobs(guild_id)
        await self._refresh(guild_id)
        log.info("rota slot added guild=%s slot=%s", guild_id, slot.id)
        return slot

    async def slots(self, guild_id: int) -> list[Slot]:
        return await self.repo.slots(guild_id)

    async def remove_slot(self, guild_id: int, actor: Actor, slot_id: int) -> Slot:
        await self.access.require_coordinator(guild_id, actor, "change the rota")
        slot = await self.repo.slot(slot_id)
        if slot is None or slot.guild_id != guild_id or slot.status != "active":
            raise NotFound("That shift isn't on the rota any more.")
        dropped = await self.repo.remove_slot(slot.id, self.clock.now())
        for assignment in dropped:
            await self.scheduler.cancel_prefix(_job_prefix(guild_id, assignment.id))
            if self.port is not None and assignment.starts_at > self.clock.now():
                await self.port.tell_listener(
                    assignment.user_id,
                    RotaNotice("slot_removed", {"starts_at": assignment.starts_at, "slot": describe_slot(slot)}),
                )
        await self.scheduler.cancel_prefix(f"rota:{guild_id}:slot:{slot.id}:")
        await self._refresh(guild_id)
        log.info("rota slot removed guild=%s slot=%s", guild_id, slot.id)
        return slot

    async def _slot_occurrence(self, guild_id: int, key: str) -> tuple[Slot, Occurrence]:
        slot_id, day = parse_key(key)
        if day > self.clock.now().date() + timedelta(days=MAX_DAYS_AHEAD):  # typed by hand: not on the rota
            raise NotFound("That shift isn't on the rota that far ahead. /rota view shows the next two weeks.")
        slot = await self.repo.slot(slot_id)
        if slot is None or slot.guild_id != guild_id or slot.status != "active":
            raise NotFound("That shift isn't on the rota any more.")
        occurrence = occurrence_on(slot, day)
        if occurrence is None:
            raise NotFound("That shift doesn't happen on that day.")
        return slot, occurrence

    # -- the board ----------------------------------------------------------------------

    async def window(self, guild_id: int, days: int = BOARD_DAYS) -> list[Coverage]:
        """Every occurrence from now for ``days``, with who is on it."""
        now = self.clock.now()
        end = now + timedelta(days=days)
        slots = await self.repo.slots(guild_id)
        assignments = await self.repo.assignments_between(guild_id, now, end)
        return [c for c in coverage(slots, assignments, now, end) if c.occurrence.ends_at > now]

    async def board(self, guild_id: int, days: int = BOARD_DAYS) -> list[BoardDay]:
        zone = ZoneInfo(await self._zone(guild_id))
        grouped: dict[date, list[Coverage]] = defaultdict(list)
        for row in await self.window(guild_id, days):
            grouped[row.occurrence.starts_at.astimezone(zone).date()].append(row)
        return [BoardDay(day, rows) for day, rows in sorted(grouped.items())]

    async def set_board(self, guild_id: int, actor: Actor) -> SupportSettings:
        await self.access.require_coordinator(guild_id, actor, "post the rota board")
        return await self.repo.settings(guild_id)

    async def remember_board(self, guild_id: int, channel_id: int | None, message_id: int | None) -> None:
        await self.repo.update_settings(
            guild_id, self.clock.now(), board_channel_id=channel_id, board_message_id=message_id
        )

    async def _refresh(self, guild_id: int) -> None:
        if self.port is not None:
            try:
                await self.port.refresh_board(guild_id)
            except Exception:  # the board is a convenience: never fail the action for it
                log.exception("rota board refresh failed guild=%s", guild_id)

    # -- taking, dropping, swapping -----------------------------------------------------

    async def open_for(self, guild_id: int, user_id: int) -> list[Coverage]:
        """Occurrences in the board window this listener could take."""
        return [c for c in await self.window(guild_id) if not c.full and user_id not in c.listeners]

    async def mine_upcoming(self, guild_id: int, user_id: int) -> list[tuple[Assignment, Slot | None]]:
        found = []
        for assignment in await self.repo.assignments_of(guild_id, user_id, self.clock.now()):
            found.append((assignment, await self.repo.slot(assignment.slot_id)))
        return found

    async def take(self, guild_id: int, user_id: int, key: str) -> tuple[Assignment, Slot]:
        listener = await self.require_listener(guild_id, user_id)
        slot, occurrence = await self._slot_occurrence(guild_id, key)
        now = self.clock.now()
        if occurrence.ends_at <= now:
            raise InvalidInput("That shift is already over.")
        if await self.repo.assignment(slot.id, occurrence.local_date.isoformat(), user_id) is not None:
            raise Conflict("You're already on that shift.")
        if listener.max_weekly_hours is not None:
            start, end = week_bounds(occurrence.starts_at, slot.timezone)
            planned = [a for a in await self.repo.assignments_between(guild_id, start, end) if a.user_id == user_id]
            oncall = await self.repo.oncall_between(guild_id, start, end, user_id)
            have = hours_in(planned, oncall, start, end).get(user_id, 0.0)
            if have + occurrence.hours > listener.max_weekly_hours + 1e-9:
                raise InvalidInput(
                    f"That would take you to {have + occurrence.hours:g} hours that week, over your limit of "
                    f"{listener.max_weekly_hours}. Looking after yourself matters: /listener limits changes it."
                )
        assignment = await self.repo.take(
            slot, occurrence.local_date.isoformat(), user_id, occurrence.starts_at, occurrence.ends_at, now
        )
        if assignment is None:
            raise Conflict("That shift just filled up. /rota view shows the ones that still need someone.")
        await self._schedule_shift_jobs(assignment)
        await self._refresh(guild_id)
        log.info("rota shift taken guild=%s slot=%s", guild_id, slot.id)
        return assignment, slot

    async def drop(self, guild_id: int, user_id: int, key: str) -> tuple[Assignment, Slot]:
        await self.require_listener(guild_id, user_id)
        slot, occurrence = await self._slot_occurrence(guild_id, key)
        assignment = await self.repo.assignment(slot.id, occurrence.local_date.isoformat(), user_id)
        if assignment is None:
            raise NotFound("You're not on that shift. /rota mine lists yours.")
        if assignment.ends_at <= self.clock.now():
            raise InvalidInput("That shift is already over.")
        await self._drop_assignment(assignment, notify=True)
        await self._refresh(guild_id)
        return assignment, slot

    async def _drop_assignment(self, assignment: Assignment, *, notify: bool) -> None:
        await self.repo.drop(assignment.id)
        await self.scheduler.cancel_prefix(_job_prefix(assignment.guild_id, assignment.id))
        log.info("rota shift dropped guild=%s slot=%s", assignment.guild_id, assignment.slot_id)
        now = self.clock.now()
        if not notify or assignment.starts_at - now > UNCOVERED_NOTICE or assignment.starts_at <= now:
            return
        slot = await self.repo.slot(assignment.slot_id)
        if slot is None:
            return
        occurrence = occurrence_on(slot, date.fromisoformat(assignment.occurrence))
        if occurrence is None:
            return
        rows = [c for c in await self.window(assignment.guild_id, 3) if c.occurrence.key == occurrence.key]
        filled = rows[0].filled if rows else 0
        if filled < slot.needed and self.port is not None:
            await self.port.tell_coordinators(
                assignment.guild_id,
                RotaNotice(
                    "dropped_uncovered",
                    {
                        "starts_at": occurrence.starts_at,
                        "ends_at": occurrence.ends_at,
                        "filled": filled,
                        "needed": slot.needed,
                        "slot": describe_slot(slot),
                    },
                ),
            )

    async def request_swap(
        self, guild_id: int, user_id: int, key: str, to_user_id: int, their_key: str | None = None
    ) -> Swap:
        await self.require_listener(guild_id, user_id)
        if to_user_id == user_id:
            raise InvalidInput("Pick another listener to swap with.")
        other = await self.repo.listener(guild_id, to_user_id)
        if other is None or not other.active:
            raise InvalidInput("You can only swap with another listener here.")
        slot, occurrence = await self._slot_occurrence(guild_id, key)
        mine = await self.repo.assignment(slot.id, occurrence.local_date.isoformat(), user_id)
        if mine is None:
            raise NotFound("You're not on that shift. /rota mine lists yours.")
        if mine.starts_at <= self.clock.now():
            raise InvalidInput("That shift has already started, so it can't be swapped.")
        if await self.repo.assignment(slot.id, occurrence.local_date.isoformat(), to_user_id) is not None:
            raise Conflict("They're already on that shift.")
        values: dict[str, Any] = {
            "guild_id": guild_id,
            "from_user_id": user_id,
            "to_user_id": to_user_id,
            "slot_id": slot.id,
            "occurrence": occurrence.local_date.isoformat(),
        }
        theirs_text = None
        if their_key:
            their_slot, their_occurrence = await self._slot_occurrence(guild_id, their_key)
            theirs = await self.repo.assignment(their_slot.id, their_occurrence.local_date.isoformat(), to_user_id)
            if theirs is None:
                raise NotFound("They're not on the shift you'd take in exchange.")
            if theirs.starts_at <= self.clock.now():
                raise InvalidInput("Their shift has already started, so it can't be swapped.")
            if await self.repo.assignment(their_slot.id, their_occurrence.local_date.isoformat(), user_id):
                raise Conflict("You're already on their shift.")
            values.update(their_slot_id=their_slot.id, their_occurrence=their_occurrence.local_date.isoformat())
            theirs_text = {"starts_at": theirs.starts_at, "ends_at": theirs.ends_at}
        swap = await self.repo.add_swap(values, self.clock.now())
        if self.port is not None:
            delivered = await self.port.tell_listener(
                to_user_id,
                RotaNotice(
                    "swap_request",
                    {
                        "swap": swap.public_id,
                        "from_user_id": user_id,
                        "starts_at": mine.starts_at,
                        "ends_at": mine.ends_at,
                        "theirs": theirs_text,
                    },
                ),
            )
            if delivered is None:
                await self.repo.close_swap(swap.id, "cancelled")
                raise InvalidInput("I couldn't DM them about the swap (their DMs may be closed). Ask them directly.")
        log.info("rota swap requested guild=%s swap=%s", guild_id, swap.public_id)
        return swap

    async def answer_swap(self, public_id: str, user_id: int, accept: bool) -> Swap:
        swap = await self.repo.swap_by_public_id(public_id)
        if swap is None or swap.to_user_id != user_id:
            raise NotFound("That swap request isn't for you, or it no longer exists.")
        if swap.status != "pending":
            raise Conflict("That swap was already settled.")
        if not accept:
            await self.repo.close_swap(swap.id, "declined")
            if self.port is not None:
                await self.port.tell_listener(swap.from_user_id, RotaNotice("swap_declined", {"swap": public_id}))
            return swap
        mine = await self.repo.assignment(swap.slot_id, swap.occurrence, swap.from_user_id)
        theirs = (
            await self.repo.assignment(swap.their_slot_id, swap.their_occurrence, swap.to_user_id)
            if swap.their_slot_id is not None and swap.their_occurrence is not None
            else None
        )
        now = self.clock.now()
        if mine is None or mine.starts_at <= now or (swap.their_slot_id is not None and theirs is None):
            await self.repo.close_swap(swap.id, "cancelled")
            raise Conflict("The shifts changed since the swap was asked for, so it can't go ahead.")
        if theirs is not None and theirs.starts_at <= now:
            await self.repo.close_swap(swap.id, "cancelled")
            raise Conflict("Your shift has already started, so it can't be swapped.")
        if await self.repo.assignment(swap.slot_id, swap.occurrence, swap.to_user_id) is not None:
            await self.repo.close_swap(swap.id, "cancelled")
            raise Conflict("You're already on that shift.")
        if not await self.repo.swap(swap, mine, theirs, now):
            raise Conflict("That swap was already settled.")
        for moved in (mine, theirs):
            if moved is not None:
                updated = await self.repo.assignment_by_id(moved.id)
                if updated is not None:
                    await self._schedule_shift_jobs(updated)
        if self.port is not None:
            await self.port.tell_listener(
                swap.from_user_id,
                RotaNotice("swap_accepted", {"to_user_id": swap.to_user_id, "starts_at": mine.starts_at}),
            )
        await self._refresh(swap.guild_id)
        log.info("rota swap accepted guild=%s swap=%s", swap.guild_id, public_id)
        found = await self.repo.swap_by_public_id(public_id)
        assert found is not None
        return found

    # -- what a listener sees -----------------------------------------------------------

    async def mine(self, guild_id: int, user_id: int) -> Mine:
        listener = await self.require_listener(guild_id, user_id)
        counts = await self.active_counts(guild_id) if self.active_counts is not None else {}
        return Mine(
            listener=listener,
            shifts=await self.mine_upcoming(guild_id, user_id),
            on_shift_until=await self.shift_end_now(guild_id, user_id),
            hours_this_week=await self.hours_this_week(guild_id, user_id),
            planned_this_week=await self.hours_this_week(guild_id, user_id, planned=True),
            conversations=counts.get(user_id, 0),
            break_until=listener.break_until
            if listener.break_until and listener.break_until > self.clock.now()
            else None,
        )

    # -- report -------------------------------------------------------------------------

    async def report(
        self,
        guild_id: int,
        actor: Actor,
        start: datetime,
        end: datetime,
        conversations: Iterable[Any],
        feedback: list[int],
    ) -> Report:
        await self.access.require_coordinator(guild_id, actor, "see the rota report")
        if end <= start:
            raise InvalidInput("The report's end must be after its start.")
        if end - start > timedelta(days=366):
            raise InvalidInput("A report covers at most a year.")
        slots = await self.repo.slots(guild_id)
        assignments = await self.repo.assignments_between(guild_id, start, end)
        rows = [c for c in coverage(slots, assignments, start, end) if c.occurrence.starts_at >= start]
        oncall = await self.repo.oncall_between(guild_id, start, end)
        hours = hours_in(assignments, oncall, start, end)
        shifts: dict[int, int] = defaultdict(int)
        for a in assignments:
            shifts[a.user_id] += 1
        talks: dict[int, int] = defaultdict(int)
        heavy: dict[int, int] = defaultdict(int)
        convs = list(conversations)
        for conv in convs:
            if conv.listener_user_id is not None and conv.accepted_at is not None:
                talks[conv.listener_user_id] += 1
                heavy[conv.listener_user_id] += int(conv.heavy)
        people = set(hours) | set(talks)
        return Report(
            start=start,
            end=end,
            occurrences=len(rows),
            covered=sum(1 for r in rows if r.full),
            partly=sum(1 for r in rows if 0 < r.filled < r.needed),
            uncovered=sum(1 for r in rows if r.filled == 0),
            rows=sorted(
                (
                    ReportRow(u, round(hours.get(u, 0.0), 2), shifts.get(u, 0), talks.get(u, 0), heavy.get(u, 0))
                    for u in people
                ),
                key=lambda r: (-r.hours, r.user_id),
            ),
            requests=len(convs),
            answered=sum(1 for c in convs if c.accepted_at is not None),
            feedback=feedback,
        )

    # -- jobs ---------------------------------------------------------------------------

    async def _reminder_minutes(self, assignment: Assignment) -> int:
        listener = await self.repo.listener(assignment.guild_id, assignment.user_id)
        if listener is not None and listener.reminder_minutes is not None:
            return listener.reminder_minutes
        return (await self.repo.settings(assignment.guild_id)).reminder_minutes

    async def _schedule_reminder(self, assignment: Assignment) -> None:
        job_id = _job_prefix(assignment.guild_id, assignment.id) + "reminder"
        minutes = await self._reminder_minutes(assignment)
        at = assignment.starts_at - timedelta(minutes=minutes)
        if minutes <= 0 or at <= self.clock.now():
            await self.scheduler.cancel(job_id)
            return
        await self.scheduler.schedule(
            REMINDER_JOB,
            at,
            {"assignment": assignment.id},
            job_id=job_id,
            grace=timedelta(minutes=max(5, minutes // 2)),
        )

    async def _schedule_shift_jobs(self, assignment: Assignment) -> None:
        prefix = _job_prefix(assignment.guild_id, assignment.id)
        now = self.clock.now()
        await self._schedule_reminder(assignment)
        if assignment.starts_at > now:
            await self.scheduler.schedule(
                SHIFT_START_JOB,
                assignment.starts_at,
                {"assignment": assignment.id},
                job_id=prefix + "start",
                grace=timedelta(minutes=30),
            )
        await self.scheduler.schedule(
            SHIFT_END_JOB,
            assignment.ends_at,
            {"assignment": assignment.id},
            job_id=prefix + "end",
            grace=timedelta(hours=2),
        )

    async def _schedule_coverage_check(self, slot: Slot) -> None:
        """A job 48 hours before the slot's next occurrence whose 48-hour mark is still ahead."""
        now = self.clock.now()
        for occurrence in occurrences(slot, now + UNCOVERED_NOTICE, now + UNCOVERED_NOTICE + timedelta(days=8)):
            check_at = occurrence.starts_at - UNCOVERED_NOTICE
            if check_at <= now:
                continue
            job_id = f"rota:{slot.guild_id}:slot:{slot.id}:coverage:{occurrence.local_date.isoformat()}"
            if await self.scheduler.jobs.get(job_id) is None:
                await self.scheduler.schedule(
                    COVERAGE_JOB,
                    check_at,
                    {"slot": slot.id, "occurrence": occurrence.local_date.isoformat()},
                    job_id=job_id,
                    grace=timedelta(hours=12),
                )
            return

    async def ensure_guild_jobs(self, guild_id: int) -> None:
        """The daily board refresh and each slot's next coverage check (idempotent)."""
        for slot in await self.repo.slots(guild_id):
            await self._schedule_coverage_check(slot)
        zone = await self._zone(guild_id)
        today = self.clock.now().astimezone(ZoneInfo(zone)).date()
        at, _ = to_utc(today + timedelta(days=1), time(0, 5), zone)
        job_id = f"rota:{guild_id}:daily:{(today + timedelta(days=1)).isoformat()}"
        if await self.scheduler.jobs.get(job_id) is None:
            await self.scheduler.schedule(
                DAILY_JOB, at, {"guild_id": guild_id}, job_id=job_id, grace=timedelta(hours=20)
            )

    async def ensure_scheduled(self) -> None:
        """At start: every server's daily job and coverage checks, and the jobs of every future
        shift (a shift taken just before a crash may have missed them). Idempotent."""
        for guild_id in await self.repo.guilds_with_settings():
            await self.ensure_guild_jobs(guild_id)
        now = self.clock.now()
        for assignment in await self.repo.future_assignments(now):
            prefix = _job_prefix(assignment.guild_id, assignment.id)
            if await self.scheduler.jobs.get(prefix + "end") is None:
                await self._schedule_shift_jobs(assignment)

    async def _assignment_of(self, job: Job) -> Assignment | None:
        return await self.repo.assignment_by_id(int(job.payload.get("assignment", 0)))

    async def on_reminder(self, job: Job) -> None:
        assignment = await self._assignment_of(job)
        if assignment is None or self.port is None:
            return
        await self.port.tell_listener(
            assignment.user_id,
            RotaNotice("reminder", {"starts_at": assignment.starts_at, "ends_at": assignment.ends_at}),
        )

    async def on_shift_start(self, job: Job) -> None:
        assignment = await self._assignment_of(job)
        if assignment is None or self.port is None:
            return
        await self.port.tell_listener(
            assignment.user_id,
            RotaNotice("shift_started", {"starts_at": assignment.starts_at, "ends_at": assignment.ends_at}),
        )

    async def on_shift_end(self, job: Job) -> None:
        assignment = await self._assignment_of(job)
        if assignment is None:
            return
        listener = await self.repo.listener(assignment.guild_id, assignment.user_id)
        if listener is not None and listener.break_until is not None and listener.break_until <= assignment.ends_at:
            await self.repo.update_listener(listener.id, self.clock.now(), break_until=None)
        if self.port is not None:
            await self.port.tell_listener(
                assignment.user_id,
                RotaNotice(
                    "shift_ended",
                    {
                        "hours": round(assignment.hours, 2),
                        "week_hours": round(await self.hours_this_week(assignment.guild_id, assignment.user_id), 1),
                    },
                ),
            )

    async def on_coverage(self, job: Job) -> None:
        slot = await self.repo.slot(int(job.payload.get("slot", 0)))
        if slot is None or slot.status != "active":
            return
        occurrence = occurrence_on(slot, date.fromisoformat(str(job.payload.get("occurrence"))))
        if occurrence is not None:
            filled = len(
                [
                    a
                    for a in await self.repo.assignments_between(
                        slot.guild_id, occurrence.starts_at, occurrence.ends_at
                    )
                    if a.slot_id == slot.id and a.occurrence == occurrence.local_date.isoformat()
                ]
            )
            if filled < slot.needed and self.port is not None:
                await self.port.tell_coordinators(
                    slot.guild_id,
                    RotaNotice(
                        "uncovered",
                        {
                            "starts_at": occurrence.starts_at,
                            "ends_at": occurrence.ends_at,
                            "filled": filled,
                            "needed": slot.needed,
                            "slot": describe_slot(slot),
                        },
                    ),
                )
                log.info("rota uncovered alert guild=%s slot=%s", slot.guild_id, slot.id)
        await self._schedule_coverage_check(slot)

    async def on_daily(self, job: Job) -> None:
        guild_id = int(job.payload.get("guild_id", 0))
        if not await self.repo.has_settings(guild_id):
            return
        await self.ensure_guild_jobs(guild_id)
        await self._refresh(guild_id)

    async def on_oncall_end(self, job: Job) -> None:
        listener = await self.repo.listener_by_public_id(str(job.payload.get("listener")))
        if listener is None:
            return
        now = self.clock.now()
        if listener.available_until is not None and listener.available_until <= now:
            # Tell first: after a passing failure the job runs again and finds them still on call.
            if self.port is not None:
                await self.port.tell_listener(listener.user_id, RotaNotice("oncall_ended", {}))
            await self.repo.update_listener(listener.id, now, available_until=None, break_until=None)

    def handlers(self) -> dict[str, Any]:
        """Scheduler job kinds and their handlers (registered once at wiring)."""
        return {
            REMINDER_JOB: self.on_reminder,
            SHIFT_START_JOB: self.on_shift_start,
            SHIFT_END_JOB: self.on_shift_end,
            COVERAGE_JOB: self.on_coverage,
            DAILY_JOB: self.on_daily,
            ONCALL_END_JOB: self.on_oncall_end,
        }
