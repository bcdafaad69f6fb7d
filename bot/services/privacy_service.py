"""What a person can see and do about their own data: the overview, export and delete.

Everything goes through the :class:`~bot.privacy.PersonalDataRegistry`, so a feature that stores
data about people appears here as soon as its repository registers. Logs carry the server id and
row counts only, never who asked.
"""

from __future__ import annotations

import base64
import enum
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from bot.clock import Clock, to_iso
from bot.privacy import PersonalDataRegistry
from bot.storage.database import Database
from bot.storage.guilds_lifecycle import DEFAULT_PURGE_AFTER_DAYS, GuildLifecycleRepository

log = logging.getLogger(__name__)

INTRO = (
    "peer-circles keeps as little about you as it can. This is what it keeps in this server, "
    "who can see it, and what you can do about it."
)

NOTHING_YET = "Nothing about you personally is stored in this server yet."

# Who can see what. These describe how the bot is built, so they hold as features are added.
WHO_CAN_SEE = (
    "Only you can see the bot's replies to your commands, and your own check-ins and notes.",
    "Anonymous shares can't be traced to you by members, listeners, moderators or admins.",
    "In a one-to-one support conversation the listener sees only your label, never your account unless you share it.",
    "Server admins see the server's settings and audit lines, never who wrote anonymous content.",
    "The server operator who runs the bot holds the database. Linking anonymous content to a person "
    "would need both the database and the bot's secret key.",
    "Nothing is sent anywhere except to Discord.",
)

EXPORT_ABOUT = (
    "This file holds everything peer-circles keeps about you in one Discord server, grouped by table. "
    "Times are in UTC. Values stored encrypted or as a keyed hash (so that someone reading the database "
    "can't tell who they belong to) are shown as base64 text. "
    "Keep this file somewhere safe: it may include things you shared in confidence."
)


@dataclass(frozen=True, slots=True)
class PrivacyOverview:
    intro: str
    stored: tuple[str, ...]
    """What is kept about a person, and for how long (one line per kind of data)."""
    who_can_see: tuple[str, ...]
    choices: tuple[str, ...]
    """What the person can do: export, delete."""


@dataclass(frozen=True, slots=True)
class ExportFile:
    filename: str
    data: bytes
    rows: int


@dataclass(frozen=True, slots=True)
class DeletionReport:
    counts: dict[str, int]
    """Rows erased (or unlinked) per personal-data source."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def summary(self) -> str:
        if self.total == 0:
            return "There was nothing stored about you in this server, so there was nothing to erase."
        records = "record" if self.total == 1 else "records"
        return (
            f"Done. I erased {self.total} {records} about you in this server. Anonymous posts that were "
            "already public stay, but they can no longer be linked to anyone."
        )


def jsonable(value: Any) -> Any:
    """Turn a stored value into something JSON can hold: bytes as base64, times as ISO 8601."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime):
        return to_iso(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=str)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


class PrivacyService:
    def __init__(
        self,
        registry: PersonalDataRegistry,
        clock: Clock,
        *,
        guilds: GuildLifecycleRepository | None = None,
        db: Database | None = None,
    ) -> None:
        self.registry = registry
        self.clock = clock
        self.guilds = guilds
        # The database the registry's sources keep their rows in, checkpointed right after a
        # deletion so no copy of the erased rows stays in its -wal file. The app always passes it.
        self.db = db

    async def overview(self, guild_id: int) -> PrivacyOverview:
        days = await self.guilds.purge_after_days(guild_id) if self.guilds else DEFAULT_PURGE_AFTER_DAYS
        stored = list(self.registry.summaries()) or [NOTHING_YET]
        stored.append(
            f"If the bot is removed from this server, everything it kept here is deleted {days} days later "
            "(adding it back before then keeps it)."
        )
        choices = (
            "**Export my data** sends you a file with everything kept about you in this server, by direct message.",
            "**Delete my data** erases it. You'll be asked to confirm first.",
        )
        return PrivacyOverview(INTRO, tuple(stored), WHO_CAN_SEE, choices)

    async def export(self, guild_id: int, user_id: int) -> ExportFile:
        now = self.clock.now()
        data = jsonable(await self.registry.export_user(guild_id, user_id))
        rows = sum(len(v) for v in data.values())
        document = {
            "exported_at": to_iso(now),
            "server_id": str(guild_id),
            "about": EXPORT_ABOUT,
            "data": data,
        }
        body = json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")
        log.info("personal data exported guild=%s rows=%d", guild_id, rows)
        return ExportFile(f"peer-circles-export-{now.date().isoformat()}.json", body, rows)

    async def delete(self, guild_id: int, user_id: int) -> DeletionReport:
        counts = await self.registry.delete_user(guild_id, user_id)
        if self.db is not None:
            await self.db.checkpoint_after_delete()
        report = DeletionReport(counts)
        log.info("personal data deleted guild=%s rows=%d", guild_id, report.total)
        return report
