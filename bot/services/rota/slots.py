"""Slots added and removed by coordinators; shifts taken, dropped and swapped by listeners."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from bot.errors import Conflict, InvalidInput, NotFound
from bot.i18n import msg
from bot.services.access import Actor
from bot.services.rota.core import RotaCore, RotaDeps
from bot.services.rota.jobs import Jobs
from bot.services.rota.models import (
    CHANGE_ROTA,
    DURATION_MINUTES,
    NEEDED_RANGE,
    UNCOVERED_NOTICE,
    RotaNotice,
    bounded,
    job_prefix,
)
from bot.services.timezones import validate_timezone
from bot.storage.listeners import Assignment, Slot, Swap
from bot.timekeeping.parsing import parse_date, parse_time, parse_weekdays
from bot.timekeeping.shifts import hours_in, occurrence_on
from bot.timekeeping.wallclock import to_utc, week_bounds

log = logging.getLogger(__name__)


class Slots(RotaCore):
    def __init__(self, deps: RotaDeps, jobs: Jobs) -> None:
        super().__init__(deps)
        self.jobs = jobs

    # -- slots ------------------------------------------------------------------------------

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
        """One weekly slot on ``weekday``, or a one-off on ``on_date``."""
        (slot,) = await self.add_slots(
            guild_id, actor, start=start, hours=hours, needed=needed, weekday=weekday, on_date=on_date, label=label
        )
        return slot

    async def add_slots(
        self,
        guild_id: int,
        actor: Actor,
        *,
        start: str,
        hours: float,
        needed: int = 1,
        weekday: int | None = None,
        days: str | None = None,
        on_date: str | None = None,
        label: str | None = None,
    ) -> list[Slot]:
        """A one-off slot on ``on_date``, or a weekly slot on each day of ``weekday`` and ``days``
        (typed like "mon, wed" or "weekdays"). Everything is checked before anything is stored."""
        await self.access.require_coordinator(guild_id, actor, CHANGE_ROTA)
        at = parse_time(start)
        minutes = round(hours * 60)
        low, high = DURATION_MINUTES
        if not low <= minutes <= high:
            raise InvalidInput(msg("A shift lasts between 30 minutes and 12 hours."))
        bounded(needed, *NEEDED_RANGE, msg("The number of listeners needed"))
        zone = validate_timezone(await self._zone(guild_id))
        values: dict[str, Any] = {
            "guild_id": guild_id,
            "start_time": at.strftime("%H:%M"),
            "duration_minutes": minutes,
            "needed": needed,
            "timezone": zone,
            "label": (label or "").strip()[:60] or None,
        }
        chosen = set(parse_weekdays(days))
        if on_date:
            day = parse_date(on_date, today=self.clock.now().date())
            start_at, _ = to_utc(day, at, zone)
            if start_at <= self.clock.now():
                raise InvalidInput(msg("That one-off shift would be in the past. Pick a later date or time."))
            kinds: list[dict[str, Any]] = [{"kind": "once", "local_date": day.isoformat()}]
        elif weekday is not None or chosen:
            if weekday is not None:
                if not 0 <= weekday <= 6:
                    raise InvalidInput(msg("Pick a day of the week from the list."))
                chosen.add(weekday)
            kinds = [{"kind": "weekly", "weekday": d} for d in sorted(chosen)]
        else:
            raise InvalidInput(
                msg(
                    "Say when: a weekday (or days, like mon, wed or weekdays) for a weekly shift, "
                    "or a date (like 2026-03-17) for a one-off."
                )
            )
        await self.repo.update_settings(guild_id, self.clock.now())  # the server now uses the rota
        made: list[Slot] = []
        for kind in kinds:
            slot = await self.repo.add_slot(values | kind, self.clock.now())
            await self.jobs.schedule_coverage_check(slot)
            log.info("rota slot added guild=%s slot=%s", guild_id, slot.id)
            made.append(slot)
        await self.jobs.ensure_guild_jobs(guild_id)
        await self._refresh(guild_id)
        return made

    async def slots(self, guild_id: int) -> list[Slot]:
        return await self.repo.slots(guild_id)

    async def remove_slot(self, guild_id: int, actor: Actor, slot_id: int) -> Slot:
        await self.access.require_coordinator(guild_id, actor, CHANGE_ROTA)
        slot = await self.repo.slot(slot_id)
        if slot is None or slot.guild_id != guild_id or slot.status != "active":
            raise NotFound(msg("That shift isn't on the rota any more."))
        dropped = await self.repo.remove_slot(slot.id, self.clock.now())
        for assignment in dropped:
            await self.scheduler.cancel_prefix(job_prefix(guild_id, assignment.id))
            if self.port is not None and assignment.starts_at > self.clock.now():
                await self.port.tell_listener(
                    assignment.user_id,
                    RotaNotice("slot_removed", guild_id, {"starts_at": assignment.starts_at, "slot": slot}),
                )
        await self.scheduler.cancel_prefix(f"rota:{guild_id}:slot:{slot.id}:")
        await self._refresh(guild_id)
        log.info("rota slot removed guild=%s slot=%s", guild_id, slot.id)
        return slot

    # -- taking, dropping, swapping ---------------------------------------------------------

    async def take(self, guild_id: int, user_id: int, key: str) -> tuple[Assignment, Slot]:
        listener = await self.require_listener(guild_id, user_id)
        slot, occurrence = await self._slot_occurrence(guild_id, key)
        now = self.clock.now()
        if occurrence.ends_at <= now:
            raise InvalidInput(msg("That shift is already over."))
        if await self.repo.assignment(slot.id, occurrence.local_date.isoformat(), user_id) is not None:
            raise Conflict(msg("You're already on that shift."))
        if listener.max_weekly_hours is not None:
            start, end = week_bounds(occurrence.starts_at, slot.timezone)
            planned = [a for a in await self.repo.assignments_between(guild_id, start, end) if a.user_id == user_id]
            oncall = await self.repo.oncall_between(guild_id, start, end, user_id)
            have = hours_in(planned, oncall, start, end).get(user_id, 0.0)
            if have + occurrence.hours > listener.max_weekly_hours + 1e-9:
                raise InvalidInput(
                    # Translators: keep "{hours:g}" as it is (a number of hours without trailing zeros).
                    msg(
                        "That would take you to {hours:g} hours that week, over your limit of {limit}. "
                        "Looking after yourself matters: /listener limits changes it.",
                        hours=have + occurrence.hours,
                        limit=listener.max_weekly_hours,
                    )
                )
        assignment = await self.repo.take(
            slot, occurrence.local_date.isoformat(), user_id, occurrence.starts_at, occurrence.ends_at, now
        )
        if assignment is None:
            raise Conflict(msg("That shift just filled up. /rota view shows the ones that still need someone."))
        await self.jobs.schedule_shift_jobs(assignment)
        await self._refresh(guild_id)
        log.info("rota shift taken guild=%s slot=%s", guild_id, slot.id)
        return assignment, slot

    async def drop(self, guild_id: int, user_id: int, key: str) -> tuple[Assignment, Slot]:
        await self.require_listener(guild_id, user_id)
        slot, occurrence = await self._slot_occurrence(guild_id, key)
        assignment = await self.repo.assignment(slot.id, occurrence.local_date.isoformat(), user_id)
        if assignment is None:
            raise NotFound(msg("You're not on that shift. /rota mine lists yours."))
        if assignment.ends_at <= self.clock.now():
            raise InvalidInput(msg("That shift is already over."))
        await self.drop_assignment(assignment, notify=True)
        await self._refresh(guild_id)
        return assignment, slot

    async def drop_assignment(self, assignment: Assignment, *, notify: bool) -> None:
        await self.repo.drop(assignment.id)
        await self.scheduler.cancel_prefix(job_prefix(assignment.guild_id, assignment.id))
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
                    assignment.guild_id,
                    {
                        "starts_at": occurrence.starts_at,
                        "ends_at": occurrence.ends_at,
                        "filled": filled,
                        "needed": slot.needed,
                        "slot": slot,
                    },
                ),
            )

    async def request_swap(
        self, guild_id: int, user_id: int, key: str, to_user_id: int, their_key: str | None = None
    ) -> Swap:
        await self.require_listener(guild_id, user_id)
        if to_user_id == user_id:
            raise InvalidInput(msg("Pick another listener to swap with."))
        other = await self.repo.listener(guild_id, to_user_id)
        if other is None or not other.active:
            raise InvalidInput(msg("You can only swap with another listener here."))
        slot, occurrence = await self._slot_occurrence(guild_id, key)
        mine = await self.repo.assignment(slot.id, occurrence.local_date.isoformat(), user_id)
        if mine is None:
            raise NotFound(msg("You're not on that shift. /rota mine lists yours."))
        if mine.starts_at <= self.clock.now():
            raise InvalidInput(msg("That shift has already started, so it can't be swapped."))
        if await self.repo.assignment(slot.id, occurrence.local_date.isoformat(), to_user_id) is not None:
            raise Conflict(msg("They're already on that shift."))
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
                raise NotFound(msg("They're not on the shift you'd take in exchange."))
            if theirs.starts_at <= self.clock.now():
                raise InvalidInput(msg("Their shift has already started, so it can't be swapped."))
            if await self.repo.assignment(their_slot.id, their_occurrence.local_date.isoformat(), user_id):
                raise Conflict(msg("You're already on their shift."))
            values.update(their_slot_id=their_slot.id, their_occurrence=their_occurrence.local_date.isoformat())
            theirs_text = {"starts_at": theirs.starts_at, "ends_at": theirs.ends_at}
        swap = await self.repo.add_swap(values, self.clock.now())
        if self.port is not None:
            delivered = await self.port.tell_listener(
                to_user_id,
                RotaNotice(
                    "swap_request",
                    guild_id,
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
                raise InvalidInput(
                    msg("I couldn't DM them about the swap (their DMs may be closed). Ask them directly.")
                )
        log.info("rota swap requested guild=%s swap=%s", guild_id, swap.public_id)
        return swap

    async def answer_swap(self, public_id: str, user_id: int, accept: bool) -> Swap:
        swap = await self.repo.swap_by_public_id(public_id)
        if swap is None or swap.to_user_id != user_id:
            raise NotFound(msg("That swap request isn't for you, or it no longer exists."))
        if swap.status != "pending":
            raise Conflict(msg("That swap was already settled."))
        if not accept:
            await self.repo.close_swap(swap.id, "declined")
            if self.port is not None:
                await self.port.tell_listener(
                    swap.from_user_id, RotaNotice("swap_declined", swap.guild_id, {"swap": public_id})
                )
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
            raise Conflict(msg("The shifts changed since the swap was asked for, so it can't go ahead."))
        if theirs is not None and theirs.starts_at <= now:
            await self.repo.close_swap(swap.id, "cancelled")
            raise Conflict(msg("Your shift has already started, so it can't be swapped."))
        if await self.repo.assignment(swap.slot_id, swap.occurrence, swap.to_user_id) is not None:
            await self.repo.close_swap(swap.id, "cancelled")
            raise Conflict(msg("You're already on that shift."))
        if not await self.repo.swap(swap, mine, theirs, now):
            raise Conflict(msg("That swap was already settled."))
        for moved in (mine, theirs):
            if moved is not None:
                updated = await self.repo.assignment_by_id(moved.id)
                if updated is not None:
                    await self.jobs.schedule_shift_jobs(updated)
        if self.port is not None:
            await self.port.tell_listener(
                swap.from_user_id,
                RotaNotice(
                    "swap_accepted", swap.guild_id, {"to_user_id": swap.to_user_id, "starts_at": mine.starts_at}
                ),
            )
        await self._refresh(swap.guild_id)
        log.info("rota swap accepted guild=%s swap=%s", swap.guild_id, public_id)
        found = await self.repo.swap_by_public_id(public_id)
        assert found is not None
        return found
