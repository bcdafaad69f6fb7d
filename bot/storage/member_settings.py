"""A member's own preferences in a server. Personal data: registered with the registry."""

from __future__ import annotations

from datetime import datetime

from bot.clock import to_iso
from bot.i18n import N_
from bot.privacy import ExportRows
from bot.storage.database import Database


class MemberSettingsRepository:
    name = "member_settings"
    tables: tuple[str, ...] = ("member_settings",)
    summary = N_(
        "Your time zone, if you set one with /timezone, and the language you last used with the bot here "
        "(for reminders by DM): kept until you clear them or delete your data."
    )

    def __init__(self, db: Database) -> None:
        self.db = db

    async def timezone(self, guild_id: int, user_id: int) -> str | None:
        row = await self.db.fetchone(
            "SELECT timezone FROM member_settings WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )
        return str(row["timezone"]) if row and row["timezone"] else None

    async def set_timezone(self, guild_id: int, user_id: int, timezone: str | None, now: datetime) -> None:
        await self.db.execute(
            "INSERT INTO member_settings (guild_id, user_id, timezone, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (guild_id, user_id) DO UPDATE SET timezone = excluded.timezone, updated_at = excluded.updated_at",
            (guild_id, user_id, timezone, to_iso(now)),
        )
        await self._drop_if_empty(guild_id, user_id)

    async def language(self, guild_id: int, user_id: int) -> str | None:
        row = await self.db.fetchone(
            "SELECT language FROM member_settings WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )
        return str(row["language"]) if row and row["language"] else None

    async def set_language(self, guild_id: int, user_id: int, language: str, now: datetime) -> None:
        """Remembered as a side effect of any interaction, an anonymous post or a support request
        included: so the row keeps only the day, never the moment (a precise time next to a user id
        could be matched with the created_at of what they posted anonymously)."""
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        await self.db.execute(
            "INSERT INTO member_settings (guild_id, user_id, language, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (guild_id, user_id) DO UPDATE SET language = excluded.language, updated_at = excluded.updated_at",
            (guild_id, user_id, language, to_iso(day)),
        )

    async def _drop_if_empty(self, guild_id: int, user_id: int) -> None:
        """Nothing kept means no row: clearing the time zone of someone with no language leaves nothing."""
        await self.db.execute(
            "DELETE FROM member_settings WHERE guild_id = ? AND user_id = ? AND timezone IS NULL AND language IS NULL",
            (guild_id, user_id),
        )

    async def export_user(self, guild_id: int, user_id: int) -> ExportRows:
        rows = await self.db.fetchall(
            "SELECT timezone, language, updated_at FROM member_settings WHERE guild_id = ? AND user_id = ?",
            (guild_id, user_id),
        )
        return {"member_settings": [dict(r) for r in rows]}

    async def delete_user(self, guild_id: int, user_id: int) -> int:
        return await self.db.execute(
            "DELETE FROM member_settings WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )

    async def delete_user_in_circle(self, guild_id: int, circle_id: int, user_id: int) -> int:
        return 0  # server-wide preferences, not circle data

    async def purge_expired(self, now: datetime) -> int:
        return 0  # kept until the member clears it

    async def delete_guild(self, guild_id: int) -> int:
        return await self.db.execute("DELETE FROM member_settings WHERE guild_id = ?", (guild_id,))
