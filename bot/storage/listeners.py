"""Listeners, rota slots, who took which shift, swaps, on-call time, and per-server support settings.

Listeners are volunteers acting in a role, so their ids are stored in the clear here. They are
still personal data: this repository is a :class:`~bot.privacy.PersonalDataSource`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.clock import from_iso, to_iso
from bot.clock import from_iso_or_none as _when
from bot.i18n import N_
from bot.privacy import ExportRows
from bot.storage.database import Database, Row
from bot.storage.rows import field_names, flag, from_row, insert_clause, set_clause


@dataclass(frozen=True, slots=True)
class SupportSettings:
    guild_id: int
    listener_role_id: int | None = None
    listeners_channel_id: int | None = None
    auto_approve: bool = False
    relay_mode: str = "dm"
    offer_timeout_seconds: int = 300
    idle_close_minutes: int = 60
    reminder_minutes: int = 30
    cooldown_minutes: int = 30
    board_channel_id: int | None = None
    board_message_id: int | None = None

    @classmethod
    def from_row(cls, row: Row) -> SupportSettings:
        return from_row(cls, row, auto_approve=flag)


SETTINGS_EDITABLE = (
    "listener_role_id",
    "listeners_channel_id",
    "auto_approve",
    "relay_mode",
    "offer_timeout_seconds",
    "idle_close_minutes",
    "reminder_minutes",
    "cooldown_minutes",
    "board_channel_id",
    "board_message_id",
)


@dataclass(frozen=True, slots=True)
class Listener:
    id: int
    public_id: str
    guild_id: int
    user_id: int
    status: str
    agreed_at: datetime
    approved_at: datetime | None
    review_message_id: int | None
    available_until: datetime | None
    break_until: datetime | None
    cooldown_until: datetime | None
    max_concurrent: int
    max_weekly_hours: int | None
    reminder_minutes: int | None
    debrief_opt_in: bool

    @property
    def active(self) -> bool:
        return self.status == "active"

    @classmethod
    def from_row(cls, row: Row) -> Listener:
        return from_row(
            cls,
            row,
            agreed_at=from_iso,
            approved_at=_when,
            available_until=_when,
            break_until=_when,
            cooldown_until=_when,
            debrief_opt_in=flag,
        )


LISTENER_EDITABLE = (
    "status",
    "approved_at",
    "review_message_id",
    "available_until",
    "break_until",
    "cooldown_until",
    "max_concurrent",
    "max_weekly_hours",
    "reminder_minutes",
    "debrief_opt_in",
)


@dataclass(frozen=True, slots=True)
class Slot:
    id: int
    guild_id: int
    kind: str  # weekly | once
    weekday: int | None
    local_date: str | None
    start_time: str
    duration_minutes: int
    needed: int
    timezone: str
    label: str | None
    status: str

    @classmethod
    def from_row(cls, row: Row) -> Slot:
        return from_row(cls, row)


@dataclass(frozen=True, slots=True)
class Assignment:
    id: int
    slot_id: int
    guild_id: int
    occurrence: str
    user_id: int
    starts_at: datetime
    ends_at: datetime

    @property
    def hours(self) -> float:
        return (self.ends_at - self.starts_at).total_seconds() / 3600

    @classmethod
    def from_row(cls, row: Row) -> Assignment:
        return from_row(cls, row, starts_at=from_iso, ends_at=from_iso)


@dataclass(frozen=True, slots=True)
class Swap:
    id: int
    public_id: str
    guild_id: int
    from_user_id: int
    to_user_id: int
    slot_id: int
    occurrence: str
    their_slot_id: int | None
    their_occurrence: str | None
    status: str

    @classmethod
    def from_row(cls, row: Row) -> Swap:
        return from_row(cls, row)


# A new slot or swap may be given any of its columns but the id, and when it was made.
SLOT_INSERTABLE = (*field_names(Slot, without=("id",)), "created_at")
SWAP_INSERTABLE = (*field_names(Swap, without=("id",)), "created_at")


@dataclass(frozen=True, slots=True)
class OnCall:
    user_id: int
    started_at: datetime
    ended_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> OnCall:
        return from_row(cls, row, started_at=from_iso, ended_at=from_iso)


class ListenerRepository:
    name = "listeners"
    tables: tuple[str, ...] = ("listeners", "listener_oncall", "rota_assignments", "rota_swaps")
    summary = N_(
        "If you volunteer as a listener: when you agreed to the listener guidelines, your limits and "
        "availability, the shifts you took or swapped and your on-call times (kept for the server's "
        "retention period, to report coverage and hours). Deleted when you delete your data."
    )

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- settings -----------------------------------------------------------------------

    async def settings(self, guild_id: int) -> SupportSettings:
        row = await self.db.fetchone("SELECT * FROM support_settings WHERE guild_id = ?", (guild_id,))
        return SupportSettings.from_row(row) if row else SupportSettings(guild_id)

    async def has_settings(self, guild_id: int) -> bool:
        return await self.db.fetchone("SELECT 1 FROM support_settings WHERE guild_id = ?", (guild_id,)) is not None

    async def update_settings(self, guild_id: int, now: datetime, **changes: Any) -> SupportSettings:
        assignments = set_clause("support_settings", SETTINGS_EDITABLE, changes)
        await self.db.execute(
            "INSERT INTO support_settings (guild_id, updated_at) VALUES (?, ?) ON CONFLICT (guild_id) DO NOTHING",
            (guild_id, to_iso(now)),
        )
        if changes:
            await self.db.execute(
                f"UPDATE support_settings SET {assignments}, updated_at = ? WHERE guild_id = ?",
                (*changes.values(), to_iso(now), guild_id),
            )
        return await self.settings(guild_id)

    async def guilds_with_settings(self) -> list[int]:
        rows = await self.db.fetchall("SELECT guild_id FROM support_settings")
        return [int(r["guild_id"]) for r in rows]

    # -- listeners ----------------------------------------------------------------------

    async def listener(self, guild_id: int, user_id: int) -> Listener | None:
        row = await self.db.fetchone("SELECT * FROM listeners WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
        return Listener.from_row(row) if row else None

    async def listener_by_public_id(self, public_id: str) -> Listener | None:
        row = await self.db.fetchone("SELECT * FROM listeners WHERE public_id = ?", (public_id,))
        return Listener.from_row(row) if row else None

    async def save_agreement(self, guild_id: int, user_id: int, status: str, now: datetime) -> Listener:
        """Record that this person agreed to the guidelines (again, after a decline)."""
        stamp = to_iso(now)
        await self.db.execute(
            "INSERT INTO listeners (public_id, guild_id, user_id, status, agreed_at, approved_at, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id) DO UPDATE SET status = excluded.status, "
            "agreed_at = excluded.agreed_at, approved_at = excluded.approved_at, updated_at = excluded.updated_at",
            (
                secrets.token_hex(8),
                guild_id,
                user_id,
                status,
                stamp,
                stamp if status == "active" else None,
                stamp,
                stamp,
            ),
        )
        found = await self.listener(guild_id, user_id)
        assert found is not None
        return found

    async def update_listener(self, listener_id: int, now: datetime, **changes: Any) -> Listener:
        assignments = set_clause("listeners", LISTENER_EDITABLE, changes)
        values = {k: to_iso(v) if isinstance(v, datetime) else v for k, v in changes.items()}
        if values:
            await self.db.execute(
                f"UPDATE listeners SET {assignments}, updated_at = ? WHERE id = ?",
                (*values.values(), to_iso(now), listener_id),
            )
        row = await self.db.fetchone("SELECT * FROM listeners WHERE id = ?", (listener_id,))
        assert row is not None
        return Listener.from_row(row)

    async def set_review_status(self, listener_id: int, status: str, now: datetime) -> bool:
        """pending → active/declined in one step (two coordinators pressing at once decide once)."""
        changed = await self.db.execute(
            "UPDATE listeners SET status = ?, approved_at = ?, updated_at = ? WHERE id = ? AND status = 'pending'",
            (status, to_iso(now) if status == "active" else None, to_iso(now), listener_id),
        )
        return changed == 1

    async def remove_listener(self, listener_id: int) -> None:
        await self.db.execute("DELETE FROM listeners WHERE id = ?", (listener_id,))

    async def has_active_listeners(self, guild_id: int) -> bool:
        row = await self.db.fetchone(
            "SELECT EXISTS (SELECT 1 FROM listeners WHERE guild_id = ? AND status = 'active') AS found", (guild_id,)
        )
        return bool(row and row["found"])

    async def active_listeners(self, guild_id: int) -> list[Listener]:
        rows = await self.db.fetchall(
            "SELECT * FROM listeners WHERE guild_id = ? AND status = 'active' ORDER BY id", (guild_id,)
        )
        return [Listener.from_row(r) for r in rows]

    async def available_listeners(self, guild_id: int, now: datetime) -> list[Listener]:
        rows = await self.db.fetchall(
            "SELECT * FROM listeners WHERE guild_id = ? AND status = 'active' AND available_until > ? ORDER BY id",
            (guild_id, to_iso(now)),
        )
        return [Listener.from_row(r) for r in rows]

    # -- on call ------------------------------------------------------------------------

    async def start_oncall(self, guild_id: int, user_id: int, start: datetime, end: datetime) -> None:
        await self.end_oncall(guild_id, user_id, start)
        await self.db.execute(
            "INSERT INTO listener_oncall (guild_id, user_id, started_at, ended_at) VALUES (?, ?, ?, ?)",
            (guild_id, user_id, to_iso(start), to_iso(end)),
        )

    async def end_oncall(self, guild_id: int, user_id: int, now: datetime) -> None:
        await self.db.execute(
            "UPDATE listener_oncall SET ended_at = ? WHERE guild_id = ? AND user_id = ? AND ended_at > ?",
            (to_iso(now), guild_id, user_id, to_iso(now)),
        )

    async def oncall_between(
        self, guild_id: int, start: datetime, end: datetime, user_id: int | None = None
    ) -> list[OnCall]:
        sql = "SELECT user_id, started_at, ended_at FROM listener_oncall WHERE guild_id = ? AND started_at < ? AND ended_at > ?"
        args: tuple[Any, ...] = (guild_id, to_iso(end), to_iso(start))
        if user_id is not None:
            sql += " AND user_id = ?"
            args = (*args, user_id)
        rows = await self.db.fetchall(sql, args)
        return [OnCall.from_row(r) for r in rows]

    # -- slots --------------------------------------------------------------------------

    async def add_slot(self, values: dict[str, Any], now: datetime) -> Slot:
        values = {**values, "created_at": to_iso(now)}
        columns = insert_clause("rota_slots", SLOT_INSERTABLE, values)
        slot_id = await self.db.insert(f"INSERT INTO rota_slots {columns}", tuple(values.values()))
        slot = await self.slot(slot_id)
        assert slot is not None
        return slot

    async def slot(self, slot_id: int) -> Slot | None:
        row = await self.db.fetchone("SELECT * FROM rota_slots WHERE id = ?", (slot_id,))
        return Slot.from_row(row) if row else None

    async def slots(self, guild_id: int) -> list[Slot]:
        rows = await self.db.fetchall(
            "SELECT * FROM rota_slots WHERE guild_id = ? AND status = 'active' ORDER BY id", (guild_id,)
        )
        return [Slot.from_row(r) for r in rows]

    async def remove_slot(self, slot_id: int, now: datetime) -> list[Assignment]:
        """Mark the slot removed and drop its future assignments; return those assignments."""
        future = await self.db.fetchall(
            "SELECT * FROM rota_assignments WHERE slot_id = ? AND ends_at > ?", (slot_id, to_iso(now))
        )
        async with self.db.transaction() as tx:
            await tx.execute("UPDATE rota_slots SET status = 'removed' WHERE id = ?", (slot_id,))
            await tx.execute("DELETE FROM rota_assignments WHERE slot_id = ? AND ends_at > ?", (slot_id, to_iso(now)))
            await tx.execute(
                "UPDATE rota_swaps SET status = 'cancelled' WHERE status = 'pending' AND (slot_id = ? OR their_slot_id = ?)",
                (slot_id, slot_id),
            )
        return [Assignment.from_row(r) for r in future]

    # -- assignments --------------------------------------------------------------------

    async def take(
        self, slot: Slot, occurrence: str, user_id: int, starts_at: datetime, ends_at: datetime, now: datetime
    ) -> Assignment | None:
        """Take one place on an occurrence if one is free; None when it is full (checked atomically)."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT COUNT(*) AS n FROM rota_assignments WHERE slot_id = ? AND occurrence = ?",
                (slot.id, occurrence),
            )
            if row is not None and int(row["n"]) >= slot.needed:
                return None
            assignment_id = await tx.insert(
                "INSERT INTO rota_assignments (slot_id, guild_id, occurrence, user_id, starts_at, ends_at, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (slot.id, slot.guild_id, occurrence, user_id, to_iso(starts_at), to_iso(ends_at), to_iso(now)),
            )
            found = await tx.fetchone("SELECT * FROM rota_assignments WHERE id = ?", (assignment_id,))
        return Assignment.from_row(found) if found else None

    async def assignment(self, slot_id: int, occurrence: str, user_id: int) -> Assignment | None:
        row = await self.db.fetchone(
            "SELECT * FROM rota_assignments WHERE slot_id = ? AND occurrence = ? AND user_id = ?",
            (slot_id, occurrence, user_id),
        )
        return Assignment.from_row(row) if row else None

    async def assignment_by_id(self, assignment_id: int) -> Assignment | None:
        row = await self.db.fetchone("SELECT * FROM rota_assignments WHERE id = ?", (assignment_id,))
        return Assignment.from_row(row) if row else None

    async def drop(self, assignment_id: int) -> bool:
        return await self.db.execute("DELETE FROM rota_assignments WHERE id = ?", (assignment_id,)) == 1

    async def swap(self, swap: Swap, mine: Assignment, theirs: Assignment | None, now: datetime) -> bool:
        """Carry out an accepted swap in one transaction; False if it was already decided."""
        async with self.db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE rota_swaps SET status = 'accepted' WHERE id = ? AND status = 'pending'", (swap.id,)
            )
            if changed != 1:
                return False
            await tx.execute(
                "UPDATE rota_assignments SET user_id = ?, created_at = ? WHERE id = ?",
                (swap.to_user_id, to_iso(now), mine.id),
            )
            if theirs is not None:
                await tx.execute(
                    "UPDATE rota_assignments SET user_id = ?, created_at = ? WHERE id = ?",
                    (swap.from_user_id, to_iso(now), theirs.id),
                )
        return True

    async def assignments_between(self, guild_id: int, start: datetime, end: datetime) -> list[Assignment]:
        """Assignments overlapping [start, end), by start time."""
        rows = await self.db.fetchall(
            "SELECT * FROM rota_assignments WHERE guild_id = ? AND starts_at < ? AND ends_at > ? ORDER BY starts_at, id",
            (guild_id, to_iso(end), to_iso(start)),
        )
        return [Assignment.from_row(r) for r in rows]

    async def assignments_of(self, guild_id: int, user_id: int, after: datetime) -> list[Assignment]:
        rows = await self.db.fetchall(
            "SELECT * FROM rota_assignments WHERE guild_id = ? AND user_id = ? AND ends_at > ? ORDER BY starts_at",
            (guild_id, user_id, to_iso(after)),
        )
        return [Assignment.from_row(r) for r in rows]

    async def covering(self, guild_id: int, now: datetime) -> list[Assignment]:
        return await self.assignments_between(guild_id, now, now + timedelta(microseconds=1))

    async def future_assignments(self, now: datetime) -> list[Assignment]:
        rows = await self.db.fetchall("SELECT * FROM rota_assignments WHERE ends_at > ?", (to_iso(now),))
        return [Assignment.from_row(r) for r in rows]

    # -- swaps --------------------------------------------------------------------------

    async def add_swap(self, values: dict[str, Any], now: datetime) -> Swap:
        values = {"public_id": secrets.token_hex(8), **values, "created_at": to_iso(now)}
        columns = insert_clause("rota_swaps", SWAP_INSERTABLE, values)
        swap_id = await self.db.insert(f"INSERT INTO rota_swaps {columns}", tuple(values.values()))
        row = await self.db.fetchone("SELECT * FROM rota_swaps WHERE id = ?", (swap_id,))
        assert row is not None
        return Swap.from_row(row)

    async def swap_by_public_id(self, public_id: str) -> Swap | None:
        row = await self.db.fetchone("SELECT * FROM rota_swaps WHERE public_id = ?", (public_id,))
        return Swap.from_row(row) if row else None

    async def close_swap(self, swap_id: int, status: str) -> bool:
        changed = await self.db.execute(
            "UPDATE rota_swaps SET status = ? WHERE id = ? AND status = 'pending'", (status, swap_id)
        )
        return changed == 1

    # -- personal data (registry) -------------------------------------------------------

    async def export_user(self, guild_id: int, user_id: int) -> ExportRows:
        listener = await self.db.fetchall(
            "SELECT status, agreed_at, approved_at, available_until, break_until, cooldown_until, max_concurrent, "
            "max_weekly_hours, reminder_minutes, debrief_opt_in FROM listeners WHERE guild_id = ? AND user_id = ?",
            (guild_id, user_id),
        )
        oncall = await self.db.fetchall(
            "SELECT started_at, ended_at FROM listener_oncall WHERE guild_id = ? AND user_id = ? ORDER BY started_at",
            (guild_id, user_id),
        )
        shifts = await self.db.fetchall(
            "SELECT a.occurrence, a.starts_at, a.ends_at, s.label FROM rota_assignments a "
            "JOIN rota_slots s ON s.id = a.slot_id WHERE a.guild_id = ? AND a.user_id = ? ORDER BY a.starts_at",
            (guild_id, user_id),
        )
        swaps = await self.db.fetchall(
            "SELECT occurrence, their_occurrence, status, created_at, "
            "CASE WHEN from_user_id = ? THEN 'you offered' ELSE 'offered to you' END AS direction "
            "FROM rota_swaps WHERE guild_id = ? AND (from_user_id = ? OR to_user_id = ?) ORDER BY id",
            (user_id, guild_id, user_id, user_id),
        )
        return {
            "listeners": [dict(r) for r in listener],
            "listener_oncall": [dict(r) for r in oncall],
            "rota_assignments": [dict(r) for r in shifts],
            "rota_swaps": [dict(r) for r in swaps],
        }

    async def delete_user(self, guild_id: int, user_id: int) -> int:
        total = 0
        total += await self.db.execute(
            "DELETE FROM rota_swaps WHERE guild_id = ? AND (from_user_id = ? OR to_user_id = ?)",
            (guild_id, user_id, user_id),
        )
        for table in ("rota_assignments", "listener_oncall", "listeners"):
            total += await self.db.execute(
                f"DELETE FROM {table} WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            )
        return total

    async def delete_user_in_circle(self, guild_id: int, circle_id: int, user_id: int) -> int:
        return 0  # listening is server-wide, not circle data

    async def purge_expired(self, now: datetime) -> int:
        total = 0
        rows = await self.db.fetchall("SELECT guild_id, retention_days FROM guilds")
        retention = {int(r["guild_id"]): int(r["retention_days"]) for r in rows}
        for guild_id in {*retention, *await self.guilds_with_settings()}:
            cutoff = to_iso(now - timedelta(days=retention.get(guild_id, 90)))
            total += await self.db.execute(
                "DELETE FROM rota_assignments WHERE guild_id = ? AND ends_at < ?", (guild_id, cutoff)
            )
            total += await self.db.execute(
                "DELETE FROM listener_oncall WHERE guild_id = ? AND ended_at < ?", (guild_id, cutoff)
            )
        total += await self.db.execute(
            "DELETE FROM rota_swaps WHERE status != 'pending' AND created_at < ?", (to_iso(now - timedelta(days=30)),)
        )
        return total

    async def delete_guild(self, guild_id: int) -> int:
        total = 0
        for table in (
            "rota_swaps",
            "rota_assignments",
            "listener_oncall",
            "listeners",
            "rota_slots",
            "support_settings",
        ):
            total += await self.db.execute(f"DELETE FROM {table} WHERE guild_id = ?", (guild_id,))
        return total
