"""What check-ins show back.

- History: the member's own days, averages and streak (the chart is drawn by
  :mod:`bot.services.mood_chart`).
- Pulse: facilitators see a circle's distribution and trend only from shared check-ins, and only
  when at least :data:`~bot.services.checkins.models.PULSE_MIN_PEOPLE` distinct members
  contributed. Never per-person data.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.errors import InvalidInput
from bot.i18n import msg
from bot.services.access import Actor
from bot.services.checkins.core import CheckinCore
from bot.services.checkins.models import HISTORY_DAYS, PULSE_MIN_PEOPLE, History, Period, Pulse, PulseWeek, average
from bot.storage.circles import Circle

log = logging.getLogger(__name__)


class Insights(CheckinCore):
    # -- history --------------------------------------------------------------------------------

    async def history(self, guild_id: int, user_id: int, days: int, circle: Circle | None = None) -> History:
        if days not in HISTORY_DAYS:
            raise InvalidInput(msg("History covers the last 30 or 90 days."))
        zone = await self._zone_name(guild_id, user_id)
        today = self.clock.now().astimezone(ZoneInfo(zone)).date()
        start = today - timedelta(days=days - 1)
        entries = await self.repo.member_checkins(
            guild_id, user_id, start - timedelta(days=6), circle.id if circle else None
        )
        per_day: dict[date, list[int]] = defaultdict(list)
        for entry in entries:
            per_day[entry.local_date].append(entry.mood)
        daily = {day: sum(moods) / len(moods) for day, moods in sorted(per_day.items()) if day <= today}
        in_window = [e for e in entries if start <= e.local_date <= today]
        moods = [e.mood for e in in_window]
        lowest = min(in_window, key=lambda e: (e.mood, e.created_at), default=None)
        highest = max(in_window, key=lambda e: (e.mood, e.created_at), default=None)

        def weekaverage(last: date) -> float | None:
            return average([e.mood for e in entries if last - timedelta(days=6) <= e.local_date <= last])

        all_days = set((await self.repo.daily_latest_moods(guild_id, user_id, today - timedelta(days=400))).keys())
        streak_from = today if today in all_days else today - timedelta(days=1)
        streak = 0
        while streak_from - timedelta(days=streak) in all_days:
            streak += 1
        return History(
            start=start,
            end=today,
            days=days,
            zone=zone,
            daily=daily,
            checkins=len(in_window),
            days_checked_in=len({e.local_date for e in in_window}),
            average=average(moods),
            last_week=weekaverage(today),
            week_before=weekaverage(today - timedelta(days=7)),
            streak=streak,
            lowest=(lowest.mood, lowest.local_date) if lowest else None,
            highest=(highest.mood, highest.local_date) if highest else None,
            circle_name=circle.name if circle else None,
        )

    # -- pulse ----------------------------------------------------------------------------------

    async def pulse(self, circle: Circle, actor: Actor, period: Period) -> Pulse:
        """The circle's shared moods, only when at least PULSE_MIN_PEOPLE distinct members shared.

        Each member counts once per day (their latest shared check-in that day), so one person
        checking in often doesn't outweigh the others. Tags are shown only when at least
        PULSE_MIN_PEOPLE members chose them. Nothing identifies anyone.
        """
        await self.require_facilitator(circle, actor, msg("see the circle's pulse"))
        now = self.clock.now()
        window = timedelta(days=period.days)
        entries = await self.repo.shared_since(circle.id, now - 2 * window)
        latest: dict[tuple[int, date], tuple[datetime, int, tuple[str, ...]]] = {}
        for entry in entries:
            latest[(entry.person, entry.local_date)] = (entry.created_at, entry.mood, entry.tags)

        def between(since: datetime, until: datetime) -> list[tuple[int, int, tuple[str, ...]]]:
            return [(person, m, tags) for (person, _), (at, m, tags) in latest.items() if since < at <= until]

        current = between(now - window, now)
        people = {person for person, _, _ in current}
        if len(people) < PULSE_MIN_PEOPLE:
            log.info("pulse withheld circle=%s period=%s", circle.id, period.value)
            return Pulse(circle, period, enough=False)
        counts = {value: sum(1 for _, m, _ in current if m == value) for value in range(1, 6)}
        percentages = {value: round(100 * count / len(current)) for value, count in counts.items()}
        previous = between(now - 2 * window, now - window)
        previous_average = (
            average([m for _, m, _ in previous]) if len({p for p, _, _ in previous}) >= PULSE_MIN_PEOPLE else None
        )
        weeks: list[PulseWeek] = []
        if period is Period.MONTH:
            for index in range(4):
                until = now - timedelta(days=7 * index)
                since = until - timedelta(days=7)
                week = between(since, until)
                enough = len({p for p, _, _ in week}) >= PULSE_MIN_PEOPLE
                weeks.append(
                    PulseWeek(since.date(), until.date(), average([m for _, m, _ in week]) if enough else None)
                )
        tag_people: dict[str, set[int]] = defaultdict(set)
        for person, _, chosen in current:
            for tag in chosen:
                tag_people[tag].add(person)
        tags = tuple(
            sorted(
                ((tag, len(who)) for tag, who in tag_people.items() if len(who) >= PULSE_MIN_PEOPLE),
                key=lambda t: (-t[1], t[0]),
            )
        )
        log.info("pulse shown circle=%s period=%s", circle.id, period.value)
        return Pulse(
            circle,
            period,
            enough=True,
            people=len(people),
            entries=len(current),
            percentages=percentages,
            average=average([m for _, m, _ in current]),
            previous_average=previous_average,
            weeks=tuple(reversed(weeks)),
            tags=tags,
        )
