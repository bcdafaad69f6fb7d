"""Scheduled sessions: series, occurrences, exceptions, RSVPs, reminder opt-ins, presence, feedback.

Personal data (registered with the registry): RSVPs, reminder opt-ins, presence during a session,
and the keyed-hash list of who already gave feedback. Feedback itself carries no identity.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from bot.clock import from_iso, to_iso
from bot.crypto import derive_key
from bot.i18n import N_
from bot.privacy import ExportRows
from bot.storage.database import Database, Row
from bot.storage.rows import Column, field_names, flag, from_row, insert_clause, optional, set_clause
from bot.timekeeping.recurrence import Change, Kind, Rule

RSVP_KEPT_AFTER_END = timedelta(days=1)
PRESENCE_KEPT_AFTER_END = timedelta(days=1)
FEEDBACK_WINDOW = timedelta(days=7)

_time = optional(from_iso)  # a time column, NULL kept as None


def _change(row: Row) -> Change:
    """A row of ``session_exceptions`` (its empty columns: nothing changed there)."""
    return from_row(
        Change,
        row,
        original_date=date.fromisoformat,
        skip=flag,
        new_date=lambda text: date.fromisoformat(text) if text else None,
        new_time=lambda text: time.fromisoformat(text) if text else None,
        new_duration=Column("duration_minutes", lambda minutes: timedelta(minutes=minutes) if minutes else None),
    )


@dataclass(frozen=True, slots=True)
class Series:
    id: int
    guild_id: int
    circle_id: int
    title: str
    description: str
    timezone: str
    start_date: str
    start_time: str
    duration_minutes: int
    kind: str
    weekdays: str
    interval_weeks: int
    month_week: int | None
    month_weekday: int | None
    channel_id: int
    channel_kind: str
    channel_name: str
    reminder_offsets: str
    capacity: int | None
    speaker_minutes: int
    status: str
    events_blocked: bool
    created_at: str
    cancelled_at: str | None

    @classmethod
    def from_row(cls, row: Row) -> Series:
        return from_row(cls, row, events_blocked=flag)

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    @property
    def offsets(self) -> tuple[int, ...]:
        return tuple(int(x) for x in self.reminder_offsets.split(",") if x)

    @property
    def rule(self) -> Rule:
        return Rule(
            start_date=date.fromisoformat(self.start_date),
            start_time=time.fromisoformat(self.start_time),
            zone=self.timezone,
            duration=self.duration,
            kind=Kind(self.kind),
            weekdays=frozenset(int(d) for d in self.weekdays.split(",") if d),
            interval=self.interval_weeks,
            month_week=self.month_week,
            month_weekday=self.month_weekday,
        )


@dataclass(frozen=True, slots=True)
class StoredOccurrence:
    id: int
    series_id: int
    guild_id: int
    circle_id: int
    original_date: str
    starts_at: datetime
    ends_at: datetime
    status: str
    note: str | None
    discord_event_id: int | None
    event_status: str
    announce_channel_id: int | None
    announce_message_id: int | None
    opening_channel_id: int | None
    opening_message_id: int | None
    goround_message_id: int | None
    goround_position: int
    timer_state: str
    timer_ends_at: datetime | None
    timer_remaining_seconds: int | None
    reminders_sent: int
    reminders_undelivered: int
    attendance_count: int | None
    opened_at: str | None
    closed_at: datetime | None
    created_at: str

    @classmethod
    def from_row(cls, row: Row) -> StoredOccurrence:
        return from_row(cls, row, starts_at=_time, ends_at=_time, timer_ends_at=_time, closed_at=_time)

    @property
    def day(self) -> date:
        return date.fromisoformat(self.original_date)


@dataclass(frozen=True, slots=True)
class Rsvp:
    user_id: int
    status: str
    via_button: bool
    via_interested: bool
    dm_closed: bool
    created_at: str

    @classmethod
    def from_row(cls, row: Row) -> Rsvp:
        return from_row(cls, row, user_id=int, via_button=flag, via_interested=flag, dm_closed=flag)


@dataclass(frozen=True, slots=True)
class Presence:
    user_id: int
    speak_order: int | None
    passed: bool

    @classmethod
    def from_row(cls, row: Row) -> Presence:
        return from_row(cls, row, user_id=int, passed=flag)


# A new series may be given any of its columns but the id.
SERIES_INSERTABLE = field_names(Series, without=("id",))
SERIES_EDITABLE = (
    "title",
    "description",
    "start_time",
    "duration_minutes",
    "channel_id",
    "channel_kind",
    "channel_name",
    "reminder_offsets",
    "capacity",
    "speaker_minutes",
    "status",
    "events_blocked",
    "cancelled_at",
)
OCCURRENCE_EDITABLE = (
    "starts_at",
    "ends_at",
    "status",
    "note",
    "discord_event_id",
    "event_status",
    "announce_channel_id",
    "announce_message_id",
    "opening_channel_id",
    "opening_message_id",
    "goround_message_id",
    "goround_position",
    "timer_state",
    "timer_ends_at",
    "timer_remaining_seconds",
    "attendance_count",
    "opened_at",
    "closed_at",
)


def _value(value: Any) -> Any:
    return to_iso(value) if isinstance(value, datetime) else value


# The next place in an occurrence's line (the parameter is the occurrence id).
_NEXT_IN_LINE = "(SELECT COALESCE(MAX(q.queued), 0) + 1 FROM session_rsvps q WHERE q.occurrence_id = ?)"


class SessionRepository:
    name = "sessions"
    tables: tuple[str, ...] = (
        "session_rsvps",
        "session_reminder_optins",
        "session_presence",
        "session_feedback_voters",
    )
    summary = N_(
        "Group sessions: which sessions you said you're going to (kept until a day after each one), whether you "
        "asked for reminders for a circle's sessions (until you turn them off), who pressed “I'm here” during a "
        "session (deleted when it closes; only a count is kept), and a keyed hash noting that you gave feedback "
        "(deleted after a week). Your feedback score and comment are stored without anything linking them to you."
    )

    def __init__(self, db: Database, secret_key: bytes) -> None:
        self.db = db
        # Its own key (not the shares' member hash), so "gave feedback" can't be joined to anything else.
        self._key = derive_key(secret_key, "session-feedback-voter")

    def voter_hash(self, guild_id: int, user_id: int) -> str:
        return hmac.new(self._key, struct.pack(">QQ", guild_id, user_id), hashlib.sha256).hexdigest()

    # -- series -------------------------------------------------------------------------

    async def insert_series(self, values: dict[str, Any]) -> Series:
        columns = insert_clause("session_series", SERIES_INSERTABLE, values)
        series_id = await self.db.insert(
            f"INSERT INTO session_series {columns}", tuple(_value(v) for v in values.values())
        )
        series = await self.series(series_id)
        assert series is not None
        return series

    async def series(self, series_id: int) -> Series | None:
        row = await self.db.fetchone("SELECT * FROM session_series WHERE id = ?", (series_id,))
        return Series.from_row(row) if row else None

    async def active_series(self, guild_id: int | None = None, circle_id: int | None = None) -> list[Series]:
        sql = "SELECT * FROM session_series WHERE status = 'active'"
        params: list[Any] = []
        if guild_id is not None:
            sql += " AND guild_id = ?"
            params.append(guild_id)
        if circle_id is not None:
            sql += " AND circle_id = ?"
            params.append(circle_id)
        rows = await self.db.fetchall(sql + " ORDER BY id", params)
        return [Series.from_row(r) for r in rows]

    async def update_series(self, series_id: int, **changes: Any) -> Series:
        assignments = set_clause("session_series", SERIES_EDITABLE, changes)
        if changes:
            await self.db.execute(
                f"UPDATE session_series SET {assignments} WHERE id = ?",
                (*(_value(v) for v in changes.values()), series_id),
            )
        series = await self.series(series_id)
        assert series is not None
        return series

    async def delete_series(self, series_id: int) -> None:
        await self.db.execute("DELETE FROM session_series WHERE id = ?", (series_id,))

    # -- exceptions ---------------------------------------------------------------------

    async def changes(self, series_id: int) -> dict[date, Change]:
        rows = await self.db.fetchall("SELECT * FROM session_exceptions WHERE series_id = ?", (series_id,))
        changes = [_change(row) for row in rows]
        return {change.original_date: change for change in changes}

    async def exception_note(self, series_id: int, day: date) -> str | None:
        row = await self.db.fetchone(
            "SELECT note FROM session_exceptions WHERE series_id = ? AND original_date = ?",
            (series_id, day.isoformat()),
        )
        return str(row["note"]) if row and row["note"] else None

    async def put_change(self, series_id: int, change: Change, note: str | None = None) -> None:
        await self.db.execute(
            "INSERT INTO session_exceptions (series_id, original_date, skip, new_date, new_time, duration_minutes, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (series_id, original_date) DO UPDATE SET "
            "skip = excluded.skip, new_date = excluded.new_date, new_time = excluded.new_time, "
            "duration_minutes = excluded.duration_minutes, note = COALESCE(excluded.note, session_exceptions.note)",
            (
                series_id,
                change.original_date.isoformat(),
                int(change.skip),
                change.new_date.isoformat() if change.new_date else None,
                change.new_time.strftime("%H:%M") if change.new_time else None,
                int(change.new_duration.total_seconds() // 60) if change.new_duration else None,
                note,
            ),
        )

    # -- occurrences --------------------------------------------------------------------

    async def insert_occurrence(
        self, series: Series, original: date, starts_at: datetime, ends_at: datetime, now: datetime
    ) -> StoredOccurrence | None:
        """Store an occurrence; None if one already exists for that date (never made twice)."""
        changed = await self.db.execute(
            "INSERT INTO session_occurrences (series_id, guild_id, circle_id, original_date, starts_at, ends_at, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (series_id, original_date) DO NOTHING",
            (
                series.id,
                series.guild_id,
                series.circle_id,
                original.isoformat(),
                to_iso(starts_at),
                to_iso(ends_at),
                to_iso(now),
            ),
        )
        if changed != 1:
            return None
        return await self.occurrence_on(series.id, original)

    async def occurrence(self, occurrence_id: int) -> StoredOccurrence | None:
        row = await self.db.fetchone("SELECT * FROM session_occurrences WHERE id = ?", (occurrence_id,))
        return StoredOccurrence.from_row(row) if row else None

    async def occurrence_on(self, series_id: int, original: date) -> StoredOccurrence | None:
        row = await self.db.fetchone(
            "SELECT * FROM session_occurrences WHERE series_id = ? AND original_date = ?",
            (series_id, original.isoformat()),
        )
        return StoredOccurrence.from_row(row) if row else None

    async def occurrence_for_event(self, event_id: int) -> StoredOccurrence | None:
        row = await self.db.fetchone("SELECT * FROM session_occurrences WHERE discord_event_id = ?", (event_id,))
        return StoredOccurrence.from_row(row) if row else None

    async def occurrences_of(self, series_id: int, statuses: tuple[str, ...] | None = None) -> list[StoredOccurrence]:
        sql = "SELECT * FROM session_occurrences WHERE series_id = ?"
        params: list[Any] = [series_id]
        if statuses:
            sql += f" AND status IN ({', '.join('?' for _ in statuses)})"
            params.extend(statuses)
        rows = await self.db.fetchall(sql + " ORDER BY starts_at", params)
        return [StoredOccurrence.from_row(r) for r in rows]

    async def closed_in_circle(self, circle_id: int, limit: int = 10) -> list[StoredOccurrence]:
        rows = await self.db.fetchall(
            "SELECT * FROM session_occurrences WHERE circle_id = ? AND status = 'closed' "
            "ORDER BY starts_at DESC LIMIT ?",
            (circle_id, limit),
        )
        return [StoredOccurrence.from_row(r) for r in rows]

    async def open_occurrences(self) -> list[StoredOccurrence]:
        rows = await self.db.fetchall("SELECT * FROM session_occurrences WHERE status = 'open' ORDER BY starts_at")
        return [StoredOccurrence.from_row(r) for r in rows]

    async def update_occurrence(self, occurrence_id: int, **changes: Any) -> StoredOccurrence:
        assignments = set_clause("session_occurrences", OCCURRENCE_EDITABLE, changes)
        if changes:
            await self.db.execute(
                f"UPDATE session_occurrences SET {assignments} WHERE id = ?",
                (*(_value(v) for v in changes.values()), occurrence_id),
            )
        occurrence = await self.occurrence(occurrence_id)
        assert occurrence is not None
        return occurrence

    async def set_status_if(self, occurrence_id: int, expected: tuple[str, ...], status: str, **extra: Any) -> bool:
        """Move an occurrence to ``status`` only if it is in one of ``expected`` (one UPDATE: no races)."""
        assignments = set_clause("session_occurrences", OCCURRENCE_EDITABLE, {"status": status, **extra})
        changed = await self.db.execute(
            f"UPDATE session_occurrences SET {assignments} WHERE id = ? AND status IN "
            f"({', '.join('?' for _ in expected)})",
            (status, *(_value(v) for v in extra.values()), occurrence_id, *expected),
        )
        return changed == 1

    async def count_reminders(self, occurrence_id: int, sent: int, undelivered: int) -> None:
        await self.db.execute(
            "UPDATE session_occurrences SET reminders_sent = reminders_sent + ?, "
            "reminders_undelivered = reminders_undelivered + ? WHERE id = ?",
            (sent, undelivered, occurrence_id),
        )

    # -- RSVPs --------------------------------------------------------------------------

    async def rsvp(self, occurrence_id: int, user_id: int) -> Rsvp | None:
        row = await self.db.fetchone(
            "SELECT * FROM session_rsvps WHERE occurrence_id = ? AND user_id = ?", (occurrence_id, user_id)
        )
        return Rsvp.from_row(row) if row else None

    async def rsvps(self, occurrence_id: int, status: str | None = None) -> list[Rsvp]:
        sql = "SELECT * FROM session_rsvps WHERE occurrence_id = ?"
        params: list[Any] = [occurrence_id]
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        rows = await self.db.fetchall(sql + " ORDER BY created_at, queued", params)
        return [Rsvp.from_row(r) for r in rows]

    async def count_rsvps(self, occurrence_id: int) -> tuple[int, int]:
        """(going, waitlisted)."""
        row = await self.db.fetchone(
            "SELECT SUM(CASE WHEN status = 'going' THEN 1 ELSE 0 END) AS going, "
            "SUM(CASE WHEN status = 'waitlist' THEN 1 ELSE 0 END) AS waiting "
            "FROM session_rsvps WHERE occurrence_id = ?",
            (occurrence_id,),
        )
        return (int(row["going"] or 0), int(row["waiting"] or 0)) if row else (0, 0)

    async def put_rsvp(
        self,
        occurrence: StoredOccurrence,
        user_id: int,
        status: str,
        via_button: bool,
        via_interested: bool,
        now: datetime,
        *,
        keep_place: bool = True,
    ) -> None:
        """Insert or update; ``created_at`` (the place in the waitlist) is kept unless ``keep_place`` is off."""
        place = "session_rsvps" if keep_place else "excluded"
        await self.db.execute(
            "INSERT INTO session_rsvps (occurrence_id, guild_id, circle_id, user_id, status, via_button, "
            f"via_interested, created_at, queued) VALUES (?, ?, ?, ?, ?, ?, ?, ?, {_NEXT_IN_LINE}) "
            "ON CONFLICT (occurrence_id, user_id) "
            f"DO UPDATE SET status = excluded.status, via_button = excluded.via_button, "
            f"via_interested = excluded.via_interested, created_at = {place}.created_at, queued = {place}.queued",
            (
                occurrence.id,
                occurrence.guild_id,
                occurrence.circle_id,
                user_id,
                status,
                int(via_button),
                int(via_interested),
                to_iso(now),
                occurrence.id,
            ),
        )

    async def take_place(
        self,
        occurrence: StoredOccurrence,
        user_id: int,
        capacity: int | None,
        via_button: bool,
        via_interested: bool,
        now: datetime,
    ) -> str:
        """Going if there is a free place, else the end of the waitlist: counted and stored in one
        transaction, so two people pressing at once can't both take the last place."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT COUNT(*) FROM session_rsvps WHERE occurrence_id = ? AND status = 'going' AND user_id <> ?",
                (occurrence.id, user_id),
            )
            going = int(row[0]) if row else 0
            status = "waitlist" if capacity is not None and going >= capacity else "going"
            await tx.execute(
                "INSERT INTO session_rsvps (occurrence_id, guild_id, circle_id, user_id, status, via_button, "
                f"via_interested, created_at, queued) VALUES (?, ?, ?, ?, ?, ?, ?, ?, {_NEXT_IN_LINE}) "
                "ON CONFLICT (occurrence_id, user_id) "
                "DO UPDATE SET status = excluded.status, via_button = excluded.via_button, "
                "via_interested = excluded.via_interested, created_at = excluded.created_at, queued = excluded.queued",
                (
                    occurrence.id,
                    occurrence.guild_id,
                    occurrence.circle_id,
                    user_id,
                    status,
                    int(via_button),
                    int(via_interested),
                    to_iso(now),
                    occurrence.id,
                ),
            )
        return status

    async def promote_next(self, occurrence_id: int, capacity: int | None) -> int | None:
        """Move the first person on the waitlist into a free place (one transaction); their id, or None."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT COUNT(*) FROM session_rsvps WHERE occurrence_id = ? AND status = 'going'", (occurrence_id,)
            )
            if capacity is not None and row is not None and int(row[0]) >= capacity:
                return None
            first = await tx.fetchone(
                "SELECT user_id FROM session_rsvps WHERE occurrence_id = ? AND status = 'waitlist' "
                "ORDER BY created_at, queued LIMIT 1",
                (occurrence_id,),
            )
            if first is None:
                return None
            await tx.execute(
                "UPDATE session_rsvps SET status = 'going' WHERE occurrence_id = ? AND user_id = ?",
                (occurrence_id, first["user_id"]),
            )
            return int(first["user_id"])

    async def mark_dm_closed(self, occurrence_id: int, user_id: int) -> None:
        await self.db.execute(
            "UPDATE session_rsvps SET dm_closed = 1 WHERE occurrence_id = ? AND user_id = ?", (occurrence_id, user_id)
        )

    async def first_waiting(self, occurrence_id: int) -> Rsvp | None:
        waiting = await self.rsvps(occurrence_id, "waitlist")
        return waiting[0] if waiting else None

    # -- reminder opt-ins ---------------------------------------------------------------

    async def set_optin(self, circle_id: int, guild_id: int, user_id: int, on: bool, now: datetime) -> bool:
        """Returns whether anything changed."""
        if on:
            changed = await self.db.execute(
                "INSERT INTO session_reminder_optins (circle_id, guild_id, user_id, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (circle_id, user_id) DO NOTHING",
                (circle_id, guild_id, user_id, to_iso(now)),
            )
        else:
            changed = await self.db.execute(
                "DELETE FROM session_reminder_optins WHERE circle_id = ? AND user_id = ?", (circle_id, user_id)
            )
        return changed == 1

    async def has_optin(self, circle_id: int, user_id: int) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM session_reminder_optins WHERE circle_id = ? AND user_id = ?", (circle_id, user_id)
        )
        return row is not None

    async def optins_in_circle(self, circle_id: int) -> list[int]:
        """Opted-in people who are still members of the circle (their consent record exists)."""
        rows = await self.db.fetchall(
            "SELECT o.user_id FROM session_reminder_optins o JOIN circle_members m "
            "ON m.circle_id = o.circle_id AND m.user_id = o.user_id WHERE o.circle_id = ? ORDER BY o.created_at",
            (circle_id,),
        )
        return [int(r["user_id"]) for r in rows]

    # -- presence and the go-round ------------------------------------------------------

    async def arrive(self, occurrence: StoredOccurrence, user_id: int, now: datetime) -> bool:
        changed = await self.db.execute(
            "INSERT INTO session_presence (occurrence_id, guild_id, circle_id, user_id, arrived_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (occurrence_id, user_id) DO NOTHING",
            (occurrence.id, occurrence.guild_id, occurrence.circle_id, user_id, to_iso(now)),
        )
        return changed == 1

    async def step_out(self, occurrence_id: int, user_id: int) -> bool:
        changed = await self.db.execute(
            "DELETE FROM session_presence WHERE occurrence_id = ? AND user_id = ?", (occurrence_id, user_id)
        )
        return changed == 1

    async def presence(self, occurrence_id: int) -> list[Presence]:
        rows = await self.db.fetchall(
            "SELECT user_id, speak_order, passed FROM session_presence WHERE occurrence_id = ? "
            "ORDER BY speak_order IS NULL, speak_order, arrived_at",
            (occurrence_id,),
        )
        return [Presence.from_row(r) for r in rows]

    async def is_present(self, occurrence_id: int, user_id: int) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM session_presence WHERE occurrence_id = ? AND user_id = ?", (occurrence_id, user_id)
        )
        return row is not None

    async def set_order(self, occurrence_id: int, order: list[int]) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE session_presence SET speak_order = NULL, passed = 0 WHERE occurrence_id = ?", (occurrence_id,)
            )
            for position, user_id in enumerate(order):
                await tx.execute(
                    "UPDATE session_presence SET speak_order = ? WHERE occurrence_id = ? AND user_id = ?",
                    (position, occurrence_id, user_id),
                )

    async def set_passed(self, occurrence_id: int, user_id: int) -> bool:
        changed = await self.db.execute(
            "UPDATE session_presence SET passed = 1 WHERE occurrence_id = ? AND user_id = ? AND passed = 0 "
            "AND speak_order IS NOT NULL",
            (occurrence_id, user_id),
        )
        return changed == 1

    async def close_presence(self, occurrence_id: int) -> int:
        """Count who was present, and forget who they were."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone("SELECT COUNT(*) FROM session_presence WHERE occurrence_id = ?", (occurrence_id,))
            await tx.execute("DELETE FROM session_presence WHERE occurrence_id = ?", (occurrence_id,))
        return int(row[0]) if row else 0

    # -- feedback -----------------------------------------------------------------------

    async def add_feedback(self, occurrence: StoredOccurrence, user_id: int, score: int) -> int | None:
        """Store a score without identity; None if this person already gave feedback for it."""
        voter = self.voter_hash(occurrence.guild_id, user_id)
        async with self.db.transaction() as tx:
            changed = await tx.execute(
                "INSERT INTO session_feedback_voters (occurrence_id, guild_id, voter_user_hash) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (occurrence.id, occurrence.guild_id, voter),
            )
            if changed != 1:
                return None
            return await tx.insert(
                "INSERT INTO session_feedback (occurrence_id, score) VALUES (?, ?)", (occurrence.id, score)
            )

    async def add_comment(self, feedback_id: int, comment: str) -> bool:
        changed = await self.db.execute(
            "UPDATE session_feedback SET comment = ? WHERE id = ? AND comment IS NULL", (comment, feedback_id)
        )
        return changed == 1

    async def feedback(self, occurrence_id: int) -> tuple[list[int], list[str]]:
        rows = await self.db.fetchall(
            "SELECT score, comment FROM session_feedback WHERE occurrence_id = ?", (occurrence_id,)
        )
        return [int(r["score"]) for r in rows], [str(r["comment"]) for r in rows if r["comment"]]

    # -- personal data (registry) -------------------------------------------------------

    async def export_user(self, guild_id: int, user_id: int) -> ExportRows:
        rsvps = await self.db.fetchall(
            "SELECT s.title AS session, o.starts_at, r.status, r.via_button, r.via_interested, r.dm_closed, "
            "r.created_at FROM session_rsvps r JOIN session_occurrences o ON o.id = r.occurrence_id "
            "JOIN session_series s ON s.id = o.series_id WHERE r.guild_id = ? AND r.user_id = ? ORDER BY o.starts_at",
            (guild_id, user_id),
        )
        optins = await self.db.fetchall(
            "SELECT c.name AS circle, o.created_at FROM session_reminder_optins o JOIN circles c ON c.id = o.circle_id "
            "WHERE o.guild_id = ? AND o.user_id = ?",
            (guild_id, user_id),
        )
        presence = await self.db.fetchall(
            "SELECT s.title AS session, o.starts_at, p.arrived_at, p.speak_order, p.passed FROM session_presence p "
            "JOIN session_occurrences o ON o.id = p.occurrence_id JOIN session_series s ON s.id = o.series_id "
            "WHERE p.guild_id = ? AND p.user_id = ?",
            (guild_id, user_id),
        )
        voted = await self.db.fetchall(
            "SELECT s.title AS session, o.starts_at, v.voter_user_hash FROM session_feedback_voters v "
            "JOIN session_occurrences o ON o.id = v.occurrence_id JOIN session_series s ON s.id = o.series_id "
            "WHERE v.guild_id = ? AND v.voter_user_hash = ?",
            (guild_id, self.voter_hash(guild_id, user_id)),
        )
        return {
            "session_rsvps": [dict(r) for r in rsvps],
            "session_reminder_optins": [dict(r) for r in optins],
            "session_presence": [dict(r) for r in presence],
            "session_feedback_voters": [
                dict(r) | {"note": "you gave feedback for this session; your score is stored without your name"}
                for r in voted
            ],
        }

    async def delete_user(self, guild_id: int, user_id: int) -> int:
        voter = self.voter_hash(guild_id, user_id)
        async with self.db.transaction() as tx:
            total = 0
            for table in ("session_rsvps", "session_reminder_optins", "session_presence"):
                total += await tx.execute(
                    f"DELETE FROM {table} WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
                )
            total += await tx.execute(
                "DELETE FROM session_feedback_voters WHERE guild_id = ? AND voter_user_hash = ?", (guild_id, voter)
            )
        return total

    async def delete_user_in_circle(self, guild_id: int, circle_id: int, user_id: int) -> int:
        voter = self.voter_hash(guild_id, user_id)
        async with self.db.transaction() as tx:
            total = 0
            for table in ("session_rsvps", "session_reminder_optins", "session_presence"):
                total += await tx.execute(
                    f"DELETE FROM {table} WHERE guild_id = ? AND circle_id = ? AND user_id = ?",
                    (guild_id, circle_id, user_id),
                )
            total += await tx.execute(
                "DELETE FROM session_feedback_voters WHERE guild_id = ? AND voter_user_hash = ? AND occurrence_id IN "
                "(SELECT id FROM session_occurrences WHERE circle_id = ?)",
                (guild_id, voter, circle_id),
            )
        return total

    async def purge_expired(self, now: datetime) -> int:
        async with self.db.transaction() as tx:
            total = await tx.execute(
                "DELETE FROM session_rsvps WHERE occurrence_id IN "
                "(SELECT id FROM session_occurrences WHERE ends_at < ?)",
                (to_iso(now - RSVP_KEPT_AFTER_END),),
            )
            total += await tx.execute(
                "DELETE FROM session_presence WHERE occurrence_id IN "
                "(SELECT id FROM session_occurrences WHERE ends_at < ? AND status <> 'open')",
                (to_iso(now - PRESENCE_KEPT_AFTER_END),),
            )
            total += await tx.execute(
                "DELETE FROM session_feedback_voters WHERE occurrence_id IN "
                "(SELECT id FROM session_occurrences WHERE closed_at < ?)",
                (to_iso(now - FEEDBACK_WINDOW),),
            )
            # Anonymous feedback follows the circle's retention.
            for circle in await tx.fetchall("SELECT id, retention_days FROM circles"):
                total += await tx.execute(
                    "DELETE FROM session_feedback WHERE occurrence_id IN (SELECT id FROM session_occurrences "
                    "WHERE circle_id = ? AND starts_at < ?)",
                    (circle["id"], to_iso(now - timedelta(days=int(circle["retention_days"])))),
                )
        return total

    async def delete_guild(self, guild_id: int) -> int:
        async with self.db.transaction() as tx:
            total = 0
            for table in ("session_rsvps", "session_reminder_optins", "session_presence", "session_feedback_voters"):
                total += await tx.execute(f"DELETE FROM {table} WHERE guild_id = ?", (guild_id,))
            total += await tx.execute("DELETE FROM session_series WHERE guild_id = ?", (guild_id,))
        return total
