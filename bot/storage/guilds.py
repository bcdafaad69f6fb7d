"""Per-server settings (the ``guilds`` table). Nothing here is about a person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.clock import to_iso
from bot.storage.database import Database, Row
from bot.storage.rows import from_row, set_clause


@dataclass(frozen=True, slots=True)
class GuildSettings:
    guild_id: int
    timezone: str = "UTC"
    region: str | None = None
    mod_channel_id: int | None = None
    coordinator_role_id: int | None = None
    retention_days: int = 90
    purge_after_days: int = 30
    language: str | None = None  # /setup language; None: Discord's server locale
    discord_locale: str | None = None  # Discord's server locale, as last seen (see remember_locales)

    @classmethod
    def from_row(cls, row: Row) -> GuildSettings:
        return from_row(cls, row)


EDITABLE = (
    "timezone",
    "region",
    "mod_channel_id",
    "coordinator_role_id",
    "retention_days",
    "purge_after_days",
    "language",
)


class GuildSettingsRepository:
    def __init__(self, db: Database, default_timezone: str = "UTC") -> None:
        self.db = db
        self.default_timezone = default_timezone

    async def ensure(self, guild_id: int, now: datetime) -> None:
        await self.db.execute(
            "INSERT INTO guilds (guild_id, joined_at, timezone) VALUES (?, ?, ?) ON CONFLICT (guild_id) DO NOTHING",
            (guild_id, to_iso(now), self.default_timezone),
        )

    async def get(self, guild_id: int) -> GuildSettings:
        row = await self.db.fetchone("SELECT * FROM guilds WHERE guild_id = ?", (guild_id,))
        if row is None:
            return GuildSettings(guild_id, timezone=self.default_timezone)
        return GuildSettings.from_row(row)

    async def remember_locales(self, locales: dict[int, str]) -> None:
        """Discord's locale of each server (as the process that owns it sees it), for processes that
        answer a DM about a server they have no copy of. Writes only what changed; no row is made."""
        if locales:
            async with self.db.transaction() as tx:
                await tx.executemany(
                    "UPDATE guilds SET discord_locale = ? WHERE guild_id = ? "
                    "AND (discord_locale IS NULL OR discord_locale <> ?)",
                    [(locale, guild_id, locale) for guild_id, locale in locales.items()],
                )

    async def update(self, guild_id: int, now: datetime, **changes: Any) -> GuildSettings:
        assignments = set_clause("guilds", EDITABLE, changes)
        await self.ensure(guild_id, now)
        if changes:
            await self.db.execute(f"UPDATE guilds SET {assignments} WHERE guild_id = ?", (*changes.values(), guild_id))
        return await self.get(guild_id)
