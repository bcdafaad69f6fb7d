"""What people see of the rota: who is on shift now, the board of the next two weeks, the shifts a
listener could take, /rota mine, and the coordinators' report."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.errors import InvalidInput
from bot.i18n import msg
from bot.services.access import Actor
from bot.services.rota.core import RotaCore
from bot.services.rota.models import (
    BOARD_DAYS,
    POST_BOARD,
    SEE_REPORT,
    BoardDay,
    Coverage,
    Mine,
    Report,
    ReportRow,
    coverage,
)
from bot.storage.listeners import Assignment, Slot, SupportSettings
from bot.timekeeping.shifts import hours_in

log = logging.getLogger(__name__)


class Board(RotaCore):
    # -- who is on shift --------------------------------------------------------------------

    async def on_shift(self, guild_id: int) -> set[int]:
        """Listeners on a rota shift right now, plus those on call (/listener available)."""
        now = self.clock.now()
        active = {listener.user_id for listener in await self.repo.active_listeners(guild_id)}
        on = {a.user_id for a in await self.repo.covering(guild_id, now)}
        on |= {listener.user_id for listener in await self.repo.available_listeners(guild_id, now)}
        return on & active

    async def next_covered_shift(self, guild_id: int) -> datetime | None:
        """When the next shift that has a listener on it starts (None if none is planned)."""
        now = self.clock.now()
        future = [a for a in await self.repo.assignments_between(guild_id, now, now + timedelta(days=60))]
        starts = [a.starts_at for a in future if a.starts_at > now]
        return min(starts) if starts else None

    async def board(self, guild_id: int, days: int = BOARD_DAYS) -> list[BoardDay]:
        zone = ZoneInfo(await self._zone(guild_id))
        grouped: dict[date, list[Coverage]] = defaultdict(list)
        for row in await self.window(guild_id, days):
            grouped[row.occurrence.starts_at.astimezone(zone).date()].append(row)
        return [BoardDay(day, rows) for day, rows in sorted(grouped.items())]

    async def set_board(self, guild_id: int, actor: Actor) -> SupportSettings:
        await self.access.require_coordinator(guild_id, actor, POST_BOARD)
        return await self.repo.settings(guild_id)

    async def remember_board(self, guild_id: int, channel_id: int | None, message_id: int | None) -> None:
        await self.repo.update_settings(
            guild_id, self.clock.now(), board_channel_id=channel_id, board_message_id=message_id
        )

    async def open_for(self, guild_id: int, user_id: int) -> list[Coverage]:
        """Occurrences in the board window this listener could take."""
        return [c for c in await self.window(guild_id) if not c.full and user_id not in c.listeners]

    async def mine_upcoming(self, guild_id: int, user_id: int) -> list[tuple[Assignment, Slot | None]]:
        found = []
        for assignment in await self.repo.assignments_of(guild_id, user_id, self.clock.now()):
            found.append((assignment, await self.repo.slot(assignment.slot_id)))
        return found

    # -- what a listener sees ---------------------------------------------------------------

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

    # -- report -----------------------------------------------------------------------------

    async def report(
        self,
        guild_id: int,
        actor: Actor,
        start: datetime,
        end: datetime,
        conversations: Iterable[Any],
        feedback: list[int],
    ) -> Report:
        await self.access.require_coordinator(guild_id, actor, SEE_REPORT)
        if end <= start:
            raise InvalidInput(msg("The report's end must be after its start."))
        if end - start > timedelta(days=366):
            raise InvalidInput(msg("A report covers at most a year."))
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
