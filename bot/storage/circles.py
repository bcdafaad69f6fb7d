"""Circles and members' consent records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.clock import from_iso, to_iso
from bot.i18n import N_
from bot.privacy import ExportRows
from bot.storage.database import Database, Row
from bot.storage.rows import field_names, flag, from_row, insert_clause, set_clause


class Rotation(StrEnum):
    PER_POST = "per_post"
    DAILY = "daily"
    WEEKLY = "weekly"
    FIXED = "fixed"

    @property
    def label(self) -> str:
        return {
            Rotation.PER_POST: "a new pseudonym for every post",
            Rotation.DAILY: "a new pseudonym each day",
            Rotation.WEEKLY: "a new pseudonym each week",
            Rotation.FIXED: "the same pseudonym in this circle",
        }[self]


@dataclass(frozen=True, slots=True)
class Circle:
    id: int
    guild_id: int
    name: str
    name_key: str
    description: str
    channel_id: int | None
    channel_managed: bool
    member_role_id: int | None
    facilitator_role_id: int | None
    ground_rules: str
    is_private: bool
    anonymous_sharing: bool
    pseudonym_rotation: Rotation
    premoderation: bool
    retention_days: int
    status: str
    created_at: str
    archived_at: str | None
    share_rate_per_hour: int = 5
    share_delay_seconds: int = 0
    allow_invites: bool = False

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def needs_repair(self) -> bool:
        return self.channel_id is None or self.member_role_id is None

    @classmethod
    def from_row(cls, row: Row) -> Circle:
        return from_row(
            cls,
            row,
            channel_managed=flag,
            is_private=flag,
            anonymous_sharing=flag,
            premoderation=flag,
            allow_invites=flag,
            pseudonym_rotation=Rotation,
        )


EDITABLE = (
    "name",
    "name_key",
    "description",
    "channel_id",
    "channel_managed",
    "member_role_id",
    "facilitator_role_id",
    "ground_rules",
    "is_private",
    "anonymous_sharing",
    "pseudonym_rotation",
    "premoderation",
    "retention_days",
    "status",
    "archived_at",
    "share_rate_per_hour",
    "share_delay_seconds",
    "allow_invites",
)
# A new circle may be given any of its columns but the id (``checkin_tags`` has its own setter).
INSERTABLE = field_names(Circle, without=("id",))


class CircleRepository:
    """Circles, plus the consent records of their members (personal data: registered)."""

    name = "circles"
    tables: tuple[str, ...] = ("circle_members",)
    summary = N_(
        "Which circles you joined and when you agreed to their ground rules: kept while you are "
        "in the circle, deleted when you leave."
    )

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- circles ------------------------------------------------------------------------

    async def insert(self, values: dict[str, Any]) -> Circle:
        columns = insert_clause("circles", INSERTABLE, values)
        circle_id = await self.db.insert(f"INSERT INTO circles {columns}", tuple(values.values()))
        circle = await self.get(circle_id)
        assert circle is not None
        return circle

    async def get(self, circle_id: int) -> Circle | None:
        row = await self.db.fetchone("SELECT * FROM circles WHERE id = ?", (circle_id,))
        return Circle.from_row(row) if row else None

    async def by_name(self, guild_id: int, name_key: str) -> Circle | None:
        row = await self.db.fetchone("SELECT * FROM circles WHERE guild_id = ? AND name_key = ?", (guild_id, name_key))
        return Circle.from_row(row) if row else None

    async def by_channel(self, channel_id: int) -> Circle | None:
        row = await self.db.fetchone("SELECT * FROM circles WHERE channel_id = ?", (channel_id,))
        return Circle.from_row(row) if row else None

    async def by_role(self, guild_id: int, role_id: int) -> list[Circle]:
        rows = await self.db.fetchall(
            "SELECT * FROM circles WHERE guild_id = ? AND (member_role_id = ? OR facilitator_role_id = ?)",
            (guild_id, role_id, role_id),
        )
        return [Circle.from_row(r) for r in rows]

    async def in_guild(self, guild_id: int, *, include_archived: bool = False) -> list[Circle]:
        sql = "SELECT * FROM circles WHERE guild_id = ?"
        if not include_archived:
            sql += " AND status = 'active'"
        rows = await self.db.fetchall(sql + " ORDER BY name_key", (guild_id,))
        return [Circle.from_row(r) for r in rows]

    async def update(self, circle_id: int, **changes: Any) -> Circle:
        assignments = set_clause("circles", EDITABLE, changes)
        if changes:
            await self.db.execute(f"UPDATE circles SET {assignments} WHERE id = ?", (*changes.values(), circle_id))
        circle = await self.get(circle_id)
        assert circle is not None
        return circle

    async def delete(self, circle_id: int) -> None:
        await self.db.execute("DELETE FROM circles WHERE id = ?", (circle_id,))

    async def retention_by_circle(self) -> list[tuple[int, int, int]]:
        rows = await self.db.fetchall("SELECT id, guild_id, retention_days FROM circles")
        return [(r["id"], r["guild_id"], r["retention_days"]) for r in rows]

    # -- members ------------------------------------------------------------------------

    async def record_consent(self, circle: Circle, user_id: int, when: datetime) -> bool:
        """Record that this person agreed to the ground rules; False if already recorded."""
        changed = await self.db.execute(
            "INSERT INTO circle_members (circle_id, guild_id, user_id, consented_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (circle_id, user_id) DO NOTHING",
            (circle.id, circle.guild_id, user_id, to_iso(when)),
        )
        return changed == 1

    async def consented_at(self, circle_id: int, user_id: int) -> datetime | None:
        row = await self.db.fetchone(
            "SELECT consented_at FROM circle_members WHERE circle_id = ? AND user_id = ?", (circle_id, user_id)
        )
        return from_iso(row["consented_at"]) if row else None

    async def forget_member(self, circle_id: int, user_id: int) -> int:
        return await self.db.execute(
            "DELETE FROM circle_members WHERE circle_id = ? AND user_id = ?", (circle_id, user_id)
        )

    # -- personal data (registry) -------------------------------------------------------

    async def export_user(self, guild_id: int, user_id: int) -> ExportRows:
        rows = await self.db.fetchall(
            "SELECT c.name AS circle, m.consented_at FROM circle_members m JOIN circles c ON c.id = m.circle_id "
            "WHERE m.guild_id = ? AND m.user_id = ? ORDER BY m.consented_at",
            (guild_id, user_id),
        )
        return {"circle_members": [dict(r) for r in rows]}

    async def delete_user(self, guild_id: int, user_id: int) -> int:
        return await self.db.execute(
            "DELETE FROM circle_members WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )

    async def delete_user_in_circle(self, guild_id: int, circle_id: int, user_id: int) -> int:
        return await self.forget_member(circle_id, user_id)

    async def purge_expired(self, now: datetime) -> int:
        return 0  # consent records live exactly as long as the membership

    async def delete_guild(self, guild_id: int) -> int:
        return await self.db.execute("DELETE FROM circle_members WHERE guild_id = ?", (guild_id,))
