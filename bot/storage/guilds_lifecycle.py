"""When the bot joined and left each server, and which removed servers are due for purging.

Nothing here is about a person: rows are keyed by server id only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.clock import from_iso, to_iso
from bot.storage.database import Database

DEFAULT_PURGE_AFTER_DAYS = 30


class GuildLifecycleRepository:
    def __init__(self, db: Database, default_timezone: str = "UTC") -> None:
        self.db = db
        self.default_timezone = default_timezone

    async def mark_present(self, guild_id: int, when: datetime) -> bool:
        """The bot is in this server: add its row if new, and cancel any pending purge.

        Returns whether a pending purge was cancelled (the bot was re-added in time).
        """
        async with self.db.transaction() as tx:
            row = await tx.fetchone("SELECT removed_at FROM guilds WHERE guild_id = ?", (guild_id,))
            if row is None:
                await tx.execute(  # a setting saved at the same moment may have added it (ensure())
                    "INSERT INTO guilds (guild_id, joined_at, timezone) VALUES (?, ?, ?) ON CONFLICT (guild_id) DO NOTHING",
                    (guild_id, to_iso(when), self.default_timezone),
                )
                return False
            if row["removed_at"] is None:
                return False
            await tx.execute("UPDATE guilds SET removed_at = NULL WHERE guild_id = ?", (guild_id,))
            return True

    async def mark_present_many(self, guild_ids: set[int], when: datetime) -> list[int]:
        """:meth:`mark_present` for many servers in one transaction (at connect, for every server
        the bot is in). Returns the servers whose pending purge was cancelled."""
        async with self.db.transaction() as tx:
            rows = await tx.fetchall("SELECT guild_id, removed_at FROM guilds")
            known = {int(r["guild_id"]): r["removed_at"] for r in rows}
            new = sorted(g for g in guild_ids if g not in known)
            back = sorted(g for g in guild_ids if g in known and known[g] is not None)
            if new:
                await tx.executemany(
                    "INSERT INTO guilds (guild_id, joined_at, timezone) VALUES (?, ?, ?) ON CONFLICT (guild_id) DO NOTHING",
                    [(g, to_iso(when), self.default_timezone) for g in new],
                )
            if back:
                await tx.executemany("UPDATE guilds SET removed_at = NULL WHERE guild_id = ?", [(g,) for g in back])
        return back

    async def mark_removed(self, guild_id: int, when: datetime) -> None:
        """The bot was removed from this server; its data is purged after the grace period.

        A row is created if the server was never recorded, so anything stored for it is still purged.
        Removing twice keeps the first removal time (the grace period is not extended).
        """
        await self.db.execute(
            "INSERT INTO guilds (guild_id, joined_at, removed_at, timezone) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (guild_id) DO UPDATE SET removed_at = COALESCE(guilds.removed_at, excluded.removed_at)",
            (guild_id, to_iso(when), to_iso(when), self.default_timezone),
        )

    async def removed_at(self, guild_id: int) -> datetime | None:
        row = await self.db.fetchone("SELECT removed_at FROM guilds WHERE guild_id = ?", (guild_id,))
        return from_iso(row["removed_at"]) if row and row["removed_at"] else None

    async def purge_after_days(self, guild_id: int) -> int:
        row = await self.db.fetchone("SELECT purge_after_days FROM guilds WHERE guild_id = ?", (guild_id,))
        return int(row["purge_after_days"]) if row else DEFAULT_PURGE_AFTER_DAYS

    async def present_guild_ids(self) -> list[int]:
        rows = await self.db.fetchall("SELECT guild_id FROM guilds WHERE removed_at IS NULL ORDER BY guild_id")
        return [int(r["guild_id"]) for r in rows]

    async def due_for_purge(self, now: datetime) -> list[int]:
        """Servers the bot was removed from whose grace period (``purge_after_days``) has passed."""
        rows = await self.db.fetchall(
            "SELECT guild_id, removed_at, purge_after_days FROM guilds WHERE removed_at IS NOT NULL ORDER BY guild_id"
        )
        return [
            int(r["guild_id"])
            for r in rows
            if from_iso(r["removed_at"]) + timedelta(days=int(r["purge_after_days"])) <= now
        ]

    async def delete(self, guild_id: int) -> int:
        """Delete the server's row; tables referencing it cascade."""
        return await self.db.execute("DELETE FROM guilds WHERE guild_id = ?", (guild_id,))
