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
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from bot.clock import Clock, to_iso
from bot.i18n import N_, SOURCE, Msg, Speaker, msg, msgs, speaker
from bot.privacy import PersonalDataRegistry
from bot.storage.database import Database
from bot.storage.guilds_lifecycle import DEFAULT_PURGE_AFTER_DAYS, GuildLifecycleRepository

log = logging.getLogger(__name__)

# English, marked for the catalogues: the Discord side shows each in the reader's language.
INTRO = N_(
    "peer-circles keeps as little about you as it can. This is what it keeps in this server, "
    "who can see it, and what you can do about it."
)

NOTHING_YET = N_("Nothing about you personally is stored in this server yet.")

# Who can see what. These describe how the bot is built, so they hold as features are added.
WHO_CAN_SEE = (
    N_("Only you can see the bot's replies to your commands, and your own check-ins and notes."),
    N_("Anonymous shares can't be traced to you by members, listeners, moderators or admins."),
    N_(
        "In a one-to-one support conversation the listener sees only your label, never your account unless you "
        "share it."
    ),
    N_("Server admins see the server's settings and audit lines, never who wrote anonymous content."),
    N_(
        "The server operator who runs the bot holds the database. Linking anonymous content to a person "
        "would need both the database and the bot's secret key."
    ),
    N_("Nothing is sent anywhere except to Discord."),
)

CHOICES = (
    N_("**Export my data** sends you a file with everything kept about you in this server, by direct message."),
    N_("**Delete my data** erases it. You'll be asked to confirm first."),
)

EXPORT_ABOUT = N_(
    "This file holds everything peer-circles keeps about you in one Discord server, grouped by table. "
    "Times are in UTC. Values stored encrypted or as a keyed hash (so that someone reading the database "
    "can't tell who they belong to) are shown as base64 text. "
    "Keep this file somewhere safe: it may include things you shared in confidence."
)


@dataclass(frozen=True, slots=True)
class PrivacyOverview:
    """English messages (each shown in the reader's language), and the server's purge period."""

    intro: str
    kept: tuple[str, ...]
    """What is kept about a person, and for how long (one line per kind of data)."""
    purge_after_days: int
    who_can_see: tuple[str, ...]
    choices: tuple[str, ...]
    """What the person can do: export, delete."""

    @property
    def purge_note(self) -> Msg:
        return msgs(
            "If the bot is removed from this server, everything it kept here is deleted {n} day later "
            "(adding it back before then keeps it).",
            "If the bot is removed from this server, everything it kept here is deleted {n} days later "
            "(adding it back before then keeps it).",
            self.purge_after_days,
        )

    @property
    def stored(self) -> tuple[str, ...]:
        """Every line of what is kept, in English (the purge period last)."""
        return (*self.kept, str(self.purge_note))


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
    def message(self) -> Msg:
        if self.total == 0:
            return msg("There was nothing stored about you in this server, so there was nothing to erase.")
        return msgs(
            "Done. I erased {n} record about you in this server. Anonymous posts that were "
            "already public stay, but they can no longer be linked to anyone.",
            "Done. I erased {n} records about you in this server. Anonymous posts that were "
            "already public stay, but they can no longer be linked to anyone.",
            self.total,
        )

    @property
    def summary(self) -> str:
        """:attr:`message` in English."""
        return str(self.message)


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
        after_delete: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.registry = registry
        # What else forgets after a deletion: the processes' in-memory caches (bot/app.py).
        self.after_delete = after_delete
        self.clock = clock
        self.guilds = guilds
        # The database the registry's sources keep their rows in, checkpointed right after a
        # deletion so no copy of the erased rows stays in its -wal file. The app always passes it.
        self.db = db

    async def overview(self, guild_id: int) -> PrivacyOverview:
        days = await self.guilds.purge_after_days(guild_id) if self.guilds else DEFAULT_PURGE_AFTER_DAYS
        kept = tuple(self.registry.summaries()) or (NOTHING_YET,)
        return PrivacyOverview(INTRO, kept, days, WHO_CAN_SEE, CHOICES)

    async def export(self, guild_id: int, user_id: int, t: Speaker | None = None) -> ExportFile:
        """The person's data as a JSON file; its "about" note in ``t``'s language (the person's)."""
        t = t or speaker(SOURCE)
        now = self.clock.now()
        data = jsonable(await self.registry.export_user(guild_id, user_id))
        rows = sum(len(v) for v in data.values())
        document = {
            "exported_at": to_iso(now),
            "server_id": str(guild_id),
            "about": t(EXPORT_ABOUT),
            "data": data,
        }
        body = json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")
        log.info("personal data exported guild=%s rows=%d", guild_id, rows)
        return ExportFile(f"peer-circles-export-{now.date().isoformat()}.json", body, rows)

    async def delete(self, guild_id: int, user_id: int) -> DeletionReport:
        counts = await self.registry.delete_user(guild_id, user_id)
        if self.db is not None:
            await self.db.checkpoint_after_delete()
        if self.after_delete is not None:
            await self.after_delete()
        report = DeletionReport(counts)
        log.info("personal data deleted guild=%s rows=%d", guild_id, report.total)
        return report
