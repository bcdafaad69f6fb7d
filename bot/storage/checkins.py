"""Check-ins, reminders, check-in settings, listener requests and circle prompts.

Personal data (registered with the registry): a member's check-ins are theirs alone, so they are
stored with ``user_id`` and take part in /privacy export and delete. Notes are encrypted at rest
(:class:`NoteCipher`), so a copy of the database alone doesn't reveal them. Circle prompts hold
nothing about a person.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.clock import from_iso, from_iso_or_none, to_iso
from bot.crypto import derive_key
from bot.i18n import N_
from bot.privacy import ExportRows
from bot.storage.circles import Circle
from bot.storage.database import Database, Row
from bot.storage.rows import Column, Computed, check_columns, flag, from_row, set_clause

log = logging.getLogger(__name__)

NONCE_BYTES = 12
NOTE_FORMAT = b"\x01"


class NoteCipher:
    """AES-GCM for check-in notes under their own key (HKDF from SECRET_KEY, purpose
    ``checkin-notes``), with a random nonce per note, bound to the check-in's id so a note can't be
    moved to another row."""

    def __init__(self, secret: bytes) -> None:
        self._aead = AESGCM(derive_key(secret, "checkin-notes"))

    @staticmethod
    def _context(checkin_id: int) -> bytes:
        return f"checkin-note:{checkin_id}".encode()

    def seal(self, checkin_id: int, note: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return NOTE_FORMAT + nonce + self._aead.encrypt(nonce, note.encode("utf-8"), self._context(checkin_id))

    def open(self, checkin_id: int, blob: bytes) -> str | None:
        """The note, or None if it can't be read (a different SECRET_KEY, or tampering)."""
        if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != NOTE_FORMAT:
            return None
        try:
            plain = self._aead.decrypt(blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :], self._context(checkin_id))
        except InvalidTag:
            log.warning("a check-in note could not be decrypted checkin=%s", checkin_id)
            return None
        return plain.decode("utf-8")


def _tags(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    try:
        value = json.loads(raw)
    except ValueError:
        return ()
    return tuple(str(t) for t in value) if isinstance(value, list) else ()


def _day_or_none(raw: str | None) -> date | None:
    return date.fromisoformat(raw) if raw else None


@dataclass(frozen=True, slots=True)
class Checkin:
    id: int
    guild_id: int
    circle_id: int
    user_id: int
    mood: int
    note: str | None
    tags: tuple[str, ...]
    share_pulse: bool
    timezone: str
    local_date: date
    created_at: datetime
    updated_at: datetime | None

    @classmethod
    def from_row(cls, row: Row, notes: NoteCipher) -> Checkin:
        return from_row(
            cls,
            row,
            note=Computed(lambda r: notes.open(r["id"], r["note_enc"]) if r["note_enc"] is not None else None),
            tags=_tags,
            share_pulse=flag,
            local_date=date.fromisoformat,
            created_at=from_iso,
            updated_at=from_iso_or_none,
        )


@dataclass(frozen=True, slots=True)
class Reminder:
    id: int
    guild_id: int
    user_id: int
    circle_id: int
    local_time: str
    weekdays: str
    status: str
    paused_reason: str | None
    notice_due: bool
    next_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status == "active"

    @classmethod
    def from_row(cls, row: Row) -> Reminder:
        return from_row(cls, row, notice_due=flag, next_at=from_iso_or_none)


@dataclass(frozen=True, slots=True)
class SupportRequest:
    id: int
    guild_id: int
    circle_id: int
    user_id: int
    checkin_id: int | None
    status: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> SupportRequest:
        return from_row(cls, row, created_at=from_iso)


@dataclass(frozen=True, slots=True)
class Prompt:
    circle_id: int
    guild_id: int
    frequency: str
    weekday: int | None
    local_time: str
    last_message_id: int | None
    next_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> Prompt:
        return from_row(cls, row, next_at=from_iso_or_none)


@dataclass(frozen=True, slots=True)
class CheckinSettings:
    listener_after_days: int | None = None
    listener_offered_on: date | None = None

    @classmethod
    def from_row(cls, row: Row) -> CheckinSettings:
        return from_row(cls, row, listener_offered_on=_day_or_none)


@dataclass(frozen=True, slots=True)
class TapContext:
    """Everything a mood tap needs besides the circle, read in the same statement as it.

    The zone rule is :meth:`bot.services.member_time.MemberTimeService.zone_name`'s: ``own_zone``
    if the member set one, else ``server_zone`` (None when the server has no settings row yet: the
    caller falls back to the default, as ``GuildSettingsRepository.get`` does).
    """

    own_zone: str | None
    server_zone: str | None
    settings: CheckinSettings
    pending: SupportRequest | None


# One statement for a tap: the member's zone (their own, else the server's), their listener-offer
# settings and any pending listener request in the circle. ``k`` is the circle (a row of
# ``circles``, or just its id and server); ``:user`` the member.
_TAP_COLUMNS = (
    "(SELECT m.timezone FROM member_settings m WHERE m.guild_id = k.guild_id AND m.user_id = :user) AS tap_own_zone, "
    "(SELECT g.timezone FROM guilds g WHERE g.guild_id = k.guild_id) AS tap_server_zone, "
    "s.listener_after_days AS tap_after_days, s.listener_offered_on AS tap_offered_on, "
    "r.id AS tap_request_id, r.checkin_id AS tap_request_checkin, r.created_at AS tap_request_created"
)
_TAP_JOINS = (
    "LEFT JOIN checkin_settings s ON s.guild_id = k.guild_id AND s.user_id = :user "
    "LEFT JOIN checkin_support_requests r ON r.circle_id = k.id AND r.user_id = :user AND r.status = 'pending'"
)


def _tap_context(row: Row, guild_id: int, circle_id: int, user_id: int) -> TapContext:
    # The pending request's server, circle and member are the ones asked about (the join's terms).
    pending = (
        SupportRequest(
            id=row["tap_request_id"],
            guild_id=guild_id,
            circle_id=circle_id,
            user_id=user_id,
            checkin_id=row["tap_request_checkin"],
            status="pending",
            created_at=from_iso(row["tap_request_created"]),
        )
        if row["tap_request_id"] is not None
        else None
    )
    settings = from_row(
        CheckinSettings,
        row,
        listener_after_days=Column("tap_after_days"),
        listener_offered_on=Column("tap_offered_on", _day_or_none),
    )
    return TapContext(
        own_zone=row["tap_own_zone"] or None,
        server_zone=row["tap_server_zone"] or None,
        settings=settings,
        pending=pending,
    )


@dataclass(frozen=True, slots=True)
class PulseEntry:
    """One shared check-in as the pulse sees it: no note, and the person only as an opaque key."""

    person: int
    mood: int
    tags: tuple[str, ...]
    local_date: date
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> PulseEntry:
        return from_row(
            cls, row, person=Column("user_id"), tags=_tags, local_date=date.fromisoformat, created_at=from_iso
        )


# What a member may change on a check-in, and the columns those are stored in (the note encrypted).
CHECKIN_EDITABLE = ("mood", "note", "tags", "share_pulse")
CHECKIN_EDITABLE_COLUMNS = ("mood", "note_enc", "tags", "share_pulse")


class CheckinRepository:
    name = "checkins"
    tables: tuple[str, ...] = ("checkins", "checkin_settings", "checkin_reminders", "checkin_support_requests")
    summary = N_(
        "Your check-ins (mood, and any note and tags you add, and whether you shared the mood with the "
        "circle's anonymous pulse), and listener requests made from a check-in: only you can see them; "
        "kept for the circle's retention period. Your check-in reminder and listener-offer settings: "
        "kept until you change them."
    )

    def __init__(self, db: Database, notes: NoteCipher) -> None:
        self.db = db
        self.notes = notes

    def _checkin(self, row: Row) -> Checkin:
        return Checkin.from_row(row, self.notes)

    # -- check-ins ----------------------------------------------------------------------

    async def insert_checkin(
        self,
        *,
        guild_id: int,
        circle_id: int,
        user_id: int,
        mood: int,
        timezone: str,
        local_date: date,
        created_at: datetime,
        source_key: str | None,
    ) -> tuple[Checkin, bool]:
        """Store a check-in; with a ``source_key`` seen before, return the stored one instead.

        Returns (check-in, created).
        """
        # One statement: a repeated source_key (a double click) inserts nothing and returns no row.
        row = await self.db.fetchone(
            "INSERT INTO checkins (guild_id, circle_id, user_id, mood, timezone, local_date, created_at, source_key) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source_key) DO NOTHING RETURNING *",
            (guild_id, circle_id, user_id, mood, timezone, local_date.isoformat(), to_iso(created_at), source_key),
        )
        if row is not None:
            return self._checkin(row), True
        existing = await self.db.fetchone("SELECT * FROM checkins WHERE source_key = ?", (source_key,))
        assert existing is not None
        return self._checkin(existing), False

    async def tap_context(self, guild_id: int, circle_id: int, user_id: int) -> TapContext:
        """What recording a tap needs besides the circle, in one statement."""
        row = await self.db.fetchone(
            f"SELECT {_TAP_COLUMNS} FROM (SELECT CAST(:guild AS BIGINT) AS guild_id, CAST(:circle AS BIGINT) AS id) k {_TAP_JOINS}",
            {"guild": guild_id, "circle": circle_id, "user": user_id},
        )
        assert row is not None  # one row from the one-row subquery
        return _tap_context(row, guild_id, circle_id, user_id)

    async def circle_and_tap_context(self, circle_id: int, user_id: int) -> tuple[Circle, TapContext] | None:
        """The circle (None if it is gone) and the tap context, in one statement: a mood button
        carries only the circle's id."""
        row = await self.db.fetchone(
            f"SELECT k.*, {_TAP_COLUMNS} FROM circles k {_TAP_JOINS} WHERE k.id = :circle",
            {"circle": circle_id, "user": user_id},
        )
        if row is None:
            return None
        circle = Circle.from_row(row)
        return circle, _tap_context(row, circle.guild_id, circle.id, user_id)

    async def circle_in_channel(self, channel_id: int, user_id: int) -> tuple[Circle, bool] | None:
        """The circle whose channel this is, and whether the member has a paused-reminder notice
        waiting (see ``pop_notice``), in one statement."""
        row = await self.db.fetchone(
            "SELECT k.*, EXISTS (SELECT 1 FROM checkin_reminders r WHERE r.guild_id = k.guild_id AND r.user_id = ? "
            "AND r.notice_due = 1 AND r.status != 'active') AS notice_waiting FROM circles k WHERE k.channel_id = ?",
            (user_id, channel_id),
        )
        if row is None:
            return None
        return Circle.from_row(row), bool(row["notice_waiting"])

    async def get_checkin(self, checkin_id: int) -> Checkin | None:
        row = await self.db.fetchone("SELECT * FROM checkins WHERE id = ?", (checkin_id,))
        return self._checkin(row) if row else None

    async def update_checkin(self, checkin_id: int, when: datetime, **changes: Any) -> Checkin:
        check_columns("checkins", CHECKIN_EDITABLE, changes)
        values = dict(changes)
        if "note" in values:
            note = values.pop("note")
            values["note_enc"] = self.notes.seal(checkin_id, note) if note else None
        if "tags" in values:
            values["tags"] = json.dumps(list(values["tags"]))
        if "share_pulse" in values:
            values["share_pulse"] = int(bool(values["share_pulse"]))
        if values:
            assignments = set_clause("checkins", CHECKIN_EDITABLE_COLUMNS, values)
            await self.db.execute(
                f"UPDATE checkins SET {assignments}, updated_at = ? WHERE id = ?",
                (*values.values(), to_iso(when), checkin_id),
            )
        checkin = await self.get_checkin(checkin_id)
        assert checkin is not None
        return checkin

    async def delete_checkin(self, checkin_id: int) -> int:
        return await self.db.execute("DELETE FROM checkins WHERE id = ?", (checkin_id,))

    async def latest(self, guild_id: int, user_id: int) -> Checkin | None:
        row = await self.db.fetchone(
            "SELECT * FROM checkins WHERE guild_id = ? AND user_id = ? ORDER BY created_at DESC, id DESC LIMIT 1",
            (guild_id, user_id),
        )
        return self._checkin(row) if row else None

    async def member_checkins(
        self, guild_id: int, user_id: int, since_local: date, circle_id: int | None = None
    ) -> list[Checkin]:
        sql = "SELECT * FROM checkins WHERE guild_id = ? AND user_id = ? AND local_date >= ?"
        params: list[Any] = [guild_id, user_id, since_local.isoformat()]
        if circle_id is not None:
            sql += " AND circle_id = ?"
            params.append(circle_id)
        rows = await self.db.fetchall(sql + " ORDER BY created_at, id", params)
        return [self._checkin(r) for r in rows]

    async def shared_since(self, circle_id: int, since: datetime) -> list[PulseEntry]:
        """Check-ins members chose to share with the pulse: mood, tags and day only (never notes)."""
        rows = await self.db.fetchall(
            "SELECT user_id, mood, tags, local_date, created_at FROM checkins "
            "WHERE circle_id = ? AND share_pulse = 1 AND created_at >= ? ORDER BY created_at, id",
            (circle_id, to_iso(since)),
        )
        return [PulseEntry.from_row(r) for r in rows]

    # -- circle tags ----------------------------------------------------------------------

    async def circle_tags(self, circle_id: int) -> tuple[str, ...] | None:
        row = await self.db.fetchone("SELECT checkin_tags FROM circles WHERE id = ?", (circle_id,))
        if row is None or row["checkin_tags"] is None:
            return None
        return _tags(row["checkin_tags"])

    async def set_circle_tags(self, circle_id: int, tags: tuple[str, ...] | None) -> None:
        value = json.dumps(list(tags)) if tags is not None else None
        await self.db.execute("UPDATE circles SET checkin_tags = ? WHERE id = ?", (value, circle_id))

    # -- settings -------------------------------------------------------------------------

    async def settings(self, guild_id: int, user_id: int) -> CheckinSettings:
        row = await self.db.fetchone(
            "SELECT listener_after_days, listener_offered_on FROM checkin_settings WHERE guild_id = ? AND user_id = ?",
            (guild_id, user_id),
        )
        return CheckinSettings.from_row(row) if row else CheckinSettings()

    async def set_listener_after(self, guild_id: int, user_id: int, days: int | None, when: datetime) -> None:
        if days is None:
            await self.db.execute(
                "DELETE FROM checkin_settings WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            )
            return
        await self.db.execute(
            "INSERT INTO checkin_settings (guild_id, user_id, listener_after_days, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (guild_id, user_id) DO UPDATE SET listener_after_days = excluded.listener_after_days, "
            "updated_at = excluded.updated_at",
            (guild_id, user_id, days, to_iso(when)),
        )

    async def mark_listener_offered(self, guild_id: int, user_id: int, on: date, when: datetime) -> None:
        await self.db.execute(
            "UPDATE checkin_settings SET listener_offered_on = ?, updated_at = ? WHERE guild_id = ? AND user_id = ?",
            (on.isoformat(), to_iso(when), guild_id, user_id),
        )

    async def daily_latest_moods(self, guild_id: int, user_id: int, since_local: date) -> dict[date, int]:
        """Each local day's last check-in mood since a date (for the opt-in listener offer)."""
        rows = await self.db.fetchall(
            "SELECT local_date, mood FROM checkins WHERE guild_id = ? AND user_id = ? AND local_date >= ? "
            "ORDER BY created_at, id",
            (guild_id, user_id, since_local.isoformat()),
        )
        return {date.fromisoformat(r["local_date"]): int(r["mood"]) for r in rows}

    # -- reminders ------------------------------------------------------------------------

    async def reminder_for(self, guild_id: int, user_id: int) -> Reminder | None:
        row = await self.db.fetchone(
            "SELECT * FROM checkin_reminders WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )
        return Reminder.from_row(row) if row else None

    async def get_reminder(self, reminder_id: int) -> Reminder | None:
        row = await self.db.fetchone("SELECT * FROM checkin_reminders WHERE id = ?", (reminder_id,))
        return Reminder.from_row(row) if row else None

    async def upsert_reminder(
        self, guild_id: int, user_id: int, circle_id: int, local_time: str, weekdays: str, when: datetime
    ) -> Reminder:
        await self.db.execute(
            "INSERT INTO checkin_reminders (guild_id, user_id, circle_id, local_time, weekdays, status, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'active', ?, ?) "
            "ON CONFLICT (guild_id, user_id) DO UPDATE SET circle_id = excluded.circle_id, "
            "local_time = excluded.local_time, weekdays = excluded.weekdays, status = 'active', "
            "paused_reason = NULL, notice_due = 0, updated_at = excluded.updated_at",
            (guild_id, user_id, circle_id, local_time, weekdays, to_iso(when), to_iso(when)),
        )
        reminder = await self.reminder_for(guild_id, user_id)
        assert reminder is not None
        return reminder

    async def set_reminder_next(self, reminder_id: int, next_at: datetime | None) -> None:
        await self.db.execute(
            "UPDATE checkin_reminders SET next_at = ? WHERE id = ?",
            (to_iso(next_at) if next_at else None, reminder_id),
        )

    async def pause_reminder(self, reminder_id: int, reason: str, when: datetime) -> None:
        await self.db.execute(
            "UPDATE checkin_reminders SET status = 'paused', paused_reason = ?, notice_due = 1, next_at = NULL, "
            "updated_at = ? WHERE id = ?",
            (reason, to_iso(when), reminder_id),
        )

    async def clear_notice(self, reminder_id: int) -> bool:
        changed = await self.db.execute(
            "UPDATE checkin_reminders SET notice_due = 0 WHERE id = ? AND notice_due = 1", (reminder_id,)
        )
        return changed == 1

    async def delete_reminder(self, reminder_id: int) -> int:
        return await self.db.execute("DELETE FROM checkin_reminders WHERE id = ?", (reminder_id,))

    async def active_reminders(self) -> list[Reminder]:
        rows = await self.db.fetchall("SELECT * FROM checkin_reminders WHERE status = 'active' ORDER BY id")
        return [Reminder.from_row(r) for r in rows]

    # -- listener requests ----------------------------------------------------------------

    async def pending_request(self, circle_id: int, user_id: int) -> SupportRequest | None:
        row = await self.db.fetchone(
            "SELECT * FROM checkin_support_requests WHERE circle_id = ? AND user_id = ? AND status = 'pending'",
            (circle_id, user_id),
        )
        return SupportRequest.from_row(row) if row else None

    async def add_request(
        self, guild_id: int, circle_id: int, user_id: int, checkin_id: int | None, when: datetime
    ) -> tuple[SupportRequest, bool]:
        """A pending request (one per member per circle). Returns (request, created)."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT * FROM checkin_support_requests WHERE circle_id = ? AND user_id = ? AND status = 'pending'",
                (circle_id, user_id),
            )
            if row is not None:
                return SupportRequest.from_row(row), False
            request_id = await tx.insert(
                "INSERT INTO checkin_support_requests (guild_id, circle_id, user_id, checkin_id, status, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
                (guild_id, circle_id, user_id, checkin_id, to_iso(when), to_iso(when)),
            )
            row = await tx.fetchone("SELECT * FROM checkin_support_requests WHERE id = ?", (request_id,))
        assert row is not None
        return SupportRequest.from_row(row), True

    async def get_request(self, request_id: int) -> SupportRequest | None:
        row = await self.db.fetchone("SELECT * FROM checkin_support_requests WHERE id = ?", (request_id,))
        return SupportRequest.from_row(row) if row else None

    async def set_request_status(self, request_id: int, status: str, when: datetime) -> None:
        await self.db.execute(
            "UPDATE checkin_support_requests SET status = ?, updated_at = ? WHERE id = ?",
            (status, to_iso(when), request_id),
        )

    async def pending_requests(self, guild_id: int) -> list[SupportRequest]:
        rows = await self.db.fetchall(
            "SELECT * FROM checkin_support_requests WHERE guild_id = ? AND status = 'pending' ORDER BY created_at",
            (guild_id,),
        )
        return [SupportRequest.from_row(r) for r in rows]

    # -- circle prompts -------------------------------------------------------------------

    async def prompt(self, circle_id: int) -> Prompt | None:
        row = await self.db.fetchone("SELECT * FROM checkin_prompts WHERE circle_id = ?", (circle_id,))
        return Prompt.from_row(row) if row else None

    async def upsert_prompt(
        self, circle_id: int, guild_id: int, frequency: str, weekday: int | None, local_time: str, when: datetime
    ) -> Prompt:
        await self.db.execute(
            "INSERT INTO checkin_prompts (circle_id, guild_id, frequency, weekday, local_time, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (circle_id) DO UPDATE SET frequency = excluded.frequency, "
            "weekday = excluded.weekday, local_time = excluded.local_time, updated_at = excluded.updated_at",
            (circle_id, guild_id, frequency, weekday, local_time, to_iso(when)),
        )
        prompt = await self.prompt(circle_id)
        assert prompt is not None
        return prompt

    async def set_prompt_state(
        self, circle_id: int, *, next_at: datetime | None, last_message_id: int | None = None
    ) -> None:
        if last_message_id is None:
            await self.db.execute(
                "UPDATE checkin_prompts SET next_at = ? WHERE circle_id = ?",
                (to_iso(next_at) if next_at else None, circle_id),
            )
        else:
            await self.db.execute(
                "UPDATE checkin_prompts SET next_at = ?, last_message_id = ? WHERE circle_id = ?",
                (to_iso(next_at) if next_at else None, last_message_id, circle_id),
            )

    async def delete_prompt(self, circle_id: int) -> int:
        return await self.db.execute("DELETE FROM checkin_prompts WHERE circle_id = ?", (circle_id,))

    async def all_prompts(self) -> list[Prompt]:
        rows = await self.db.fetchall("SELECT * FROM checkin_prompts ORDER BY circle_id")
        return [Prompt.from_row(r) for r in rows]

    # -- personal data (registry) -------------------------------------------------------

    async def export_user(self, guild_id: int, user_id: int) -> ExportRows:
        checkins = await self.db.fetchall(
            "SELECT k.id, c.name AS circle, k.mood, k.note_enc, k.tags, k.share_pulse, k.timezone, k.local_date, "
            "k.created_at, k.updated_at FROM checkins k JOIN circles c ON c.id = k.circle_id "
            "WHERE k.guild_id = ? AND k.user_id = ? ORDER BY k.created_at, k.id",
            (guild_id, user_id),
        )
        reminders = await self.db.fetchall(
            "SELECT c.name AS circle, r.local_time, r.weekdays, r.status, r.paused_reason, r.created_at, "
            "r.updated_at FROM checkin_reminders r JOIN circles c ON c.id = r.circle_id "
            "WHERE r.guild_id = ? AND r.user_id = ?",
            (guild_id, user_id),
        )
        settings = await self.db.fetchall(
            "SELECT listener_after_days, listener_offered_on, updated_at FROM checkin_settings "
            "WHERE guild_id = ? AND user_id = ?",
            (guild_id, user_id),
        )
        requests = await self.db.fetchall(
            "SELECT c.name AS circle, s.status, s.created_at, s.updated_at FROM checkin_support_requests s "
            "JOIN circles c ON c.id = s.circle_id WHERE s.guild_id = ? AND s.user_id = ? ORDER BY s.created_at",
            (guild_id, user_id),
        )
        exported_checkins = []
        for row in checkins:
            item = dict(row)
            checkin_id, sealed = item.pop("id"), item.pop("note_enc")
            item["note"] = self.notes.open(checkin_id, sealed) if sealed is not None else None
            item["tags"] = list(_tags(item["tags"]))
            item["share_pulse"] = bool(item["share_pulse"])
            exported_checkins.append(item)
        return {
            "checkins": exported_checkins,
            "checkin_reminders": [
                dict(r) | {"weekdays": [WEEKDAY_NAMES[int(d)] for d in r["weekdays"]]} for r in reminders
            ],
            "checkin_settings": [dict(r) for r in settings],
            "checkin_support_requests": [dict(r) for r in requests],
        }

    async def delete_user(self, guild_id: int, user_id: int) -> int:
        total = 0
        async with self.db.transaction() as tx:
            for table in ("checkin_support_requests", "checkins", "checkin_reminders", "checkin_settings"):
                total += await tx.execute(
                    f"DELETE FROM {table} WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
                )
        return total

    async def delete_user_in_circle(self, guild_id: int, circle_id: int, user_id: int) -> int:
        total = 0
        async with self.db.transaction() as tx:
            for table in ("checkin_support_requests", "checkins", "checkin_reminders"):
                total += await tx.execute(
                    f"DELETE FROM {table} WHERE guild_id = ? AND circle_id = ? AND user_id = ?",
                    (guild_id, circle_id, user_id),
                )
        return total

    async def purge_expired(self, now: datetime) -> int:
        """Check-ins and listener requests older than their circle's retention period."""
        circles = await self.db.fetchall("SELECT id, retention_days FROM circles")
        total = 0
        for circle in circles:
            cutoff = to_iso(now - timedelta(days=int(circle["retention_days"])))
            async with self.db.transaction() as tx:
                total += await tx.execute(
                    "DELETE FROM checkin_support_requests WHERE circle_id = ? AND created_at < ?",
                    (circle["id"], cutoff),
                )
                total += await tx.execute(
                    "DELETE FROM checkins WHERE circle_id = ? AND created_at < ?", (circle["id"], cutoff)
                )
        return total

    async def delete_guild(self, guild_id: int) -> int:
        total = 0
        async with self.db.transaction() as tx:
            for table in (
                "checkin_support_requests",
                "checkins",
                "checkin_reminders",
                "checkin_settings",
                "checkin_prompts",
            ):
                total += await tx.execute(f"DELETE FROM {table} WHERE guild_id = ?", (guild_id,))
        return total


WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
