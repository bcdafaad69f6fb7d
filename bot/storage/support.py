"""Support requests and conversations, offers to listeners, the relay outbox, blocks and feedback.

Nothing here holds a member in the clear: ``member_user_hash`` is a keyed hash (one open request
at a time, blocks) and ``member_user_enc`` the member's id encrypted with AES-GCM, kept only while
the bot needs to reach them. Relayed text exists only as outbox ciphertext while a delivery is
pending.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock, SystemClock, from_iso, to_iso
from bot.clock import from_iso_or_none as _when
from bot.i18n import N_
from bot.privacy import ExportRows
from bot.shards import ShardPlan
from bot.storage.database import Database, Row
from bot.storage.rows import field_names, flag, from_row, insert_clause, set_clause

MemberHasher = Callable[[int, int], bytes]

OPEN = ("waiting", "queued", "active")
WAITING = ("waiting", "queued")


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    public_id: str
    guild_id: int
    circle_id: int | None
    source: str
    member_user_hash: bytes | None
    member_user_enc: bytes | None
    member_tag: str
    member_name: str | None
    topic_enc: bytes | None
    listener_user_id: int | None
    listener_tag: str | None
    status: str
    stage: int
    relay_mode: str
    thread_id: int | None
    alert_channel_id: int | None
    alert_message_id: int | None
    handoff_open: bool
    handoffs: int
    heavy: bool
    urgent_alerted_at: datetime | None
    held_notice: bool
    closed_by: str | None
    queued_for: datetime | None
    created_at: datetime
    accepted_at: datetime | None
    last_activity_at: datetime
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def waiting(self) -> bool:
        return self.status in WAITING

    @classmethod
    def from_row(cls, row: Row) -> Conversation:
        return from_row(
            cls,
            row,
            handoff_open=flag,
            heavy=flag,
            urgent_alerted_at=_when,
            held_notice=flag,
            queued_for=_when,
            created_at=from_iso,
            accepted_at=_when,
            last_activity_at=from_iso,
            closed_at=_when,
        )


CONVERSATION_EDITABLE = (
    "status",
    "stage",
    "thread_id",
    "alert_channel_id",
    "alert_message_id",
    "handoff_open",
    "heavy",
    "urgent_alerted_at",
    "held_notice",
    "queued_for",
    "last_activity_at",
    "member_name",
    "topic_enc",
    "member_user_enc",
    "relay_mode",
)
# A new conversation may be given any of its columns but the id.
CONVERSATION_INSERTABLE = field_names(Conversation, without=("id",))


@dataclass(frozen=True, slots=True)
class Offer:
    id: int
    public_id: str
    conversation_id: int
    guild_id: int
    listener_user_id: int
    kind: str
    stage: int
    status: str
    channel_id: int | None
    message_id: int | None

    @classmethod
    def from_row(cls, row: Row) -> Offer:
        return from_row(cls, row)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    conversation_id: int
    stream: str
    seq: int
    kind: str
    ciphertext: bytes | None
    nonce: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    channel_id: int | None
    discord_message_id: int | None

    @classmethod
    def from_row(cls, row: Row) -> OutboxRow:
        return from_row(cls, row, next_attempt_at=from_iso)


@dataclass(frozen=True, slots=True)
class Block:
    id: int
    guild_id: int
    until: datetime
    conversation_id: str | None
    lifted_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> Block:
        return from_row(cls, row, until=from_iso, lifted_at=_when)


class SupportRepository:
    name = "support"
    tables: tuple[str, ...] = ("support_conversations", "support_offers", "support_blocks")
    summary = N_(
        "If you asked for one-to-one support: when, which label you had, who the listener was and any "
        "feedback score, kept for the server's retention period, linked to you only by a keyed code; your "
        "id is kept encrypted only while the bot needs to reach you. Messages are relayed, never stored "
        "(only encrypted for the moment a delivery is pending). If you are a listener: the conversations "
        "and offers you had."
    )

    def __init__(self, db: Database, member_hash: MemberHasher, clock: Clock | None = None) -> None:
        self.db = db
        self.member_hash = member_hash
        self.clock: Clock = clock or SystemClock()

    # -- conversations ------------------------------------------------------------------

    async def insert(self, values: dict[str, Any]) -> Conversation:
        values = {"public_id": secrets.token_hex(8), **values}
        values = {k: to_iso(v) if isinstance(v, datetime) else v for k, v in values.items()}
        columns = insert_clause("support_conversations", CONVERSATION_INSERTABLE, values)
        conv_id = await self.db.insert(f"INSERT INTO support_conversations {columns}", tuple(values.values()))
        found = await self.get(conv_id)
        assert found is not None
        return found

    async def delete(self, conversation_id: int) -> None:
        await self.db.execute("DELETE FROM support_conversations WHERE id = ?", (conversation_id,))

    async def get(self, conversation_id: int) -> Conversation | None:
        row = await self.db.fetchone("SELECT * FROM support_conversations WHERE id = ?", (conversation_id,))
        return Conversation.from_row(row) if row else None

    async def by_public_id(self, public_id: str) -> Conversation | None:
        row = await self.db.fetchone("SELECT * FROM support_conversations WHERE public_id = ?", (public_id,))
        return Conversation.from_row(row) if row else None

    async def by_thread(self, thread_id: int) -> Conversation | None:
        row = await self.db.fetchone(
            "SELECT * FROM support_conversations WHERE thread_id = ? ORDER BY id DESC LIMIT 1", (thread_id,)
        )
        return Conversation.from_row(row) if row else None

    async def open_for_member(self, guild_id: int, member_hash: bytes) -> Conversation | None:
        row = await self.db.fetchone(
            "SELECT * FROM support_conversations WHERE guild_id = ? AND member_user_hash = ? "
            "AND status IN ('waiting', 'queued', 'active') ORDER BY id DESC LIMIT 1",
            (guild_id, member_hash),
        )
        return Conversation.from_row(row) if row else None

    async def latest_for_member(self, guild_id: int, member_hash: bytes) -> Conversation | None:
        row = await self.db.fetchone(
            "SELECT * FROM support_conversations WHERE guild_id = ? AND member_user_hash = ? ORDER BY id DESC LIMIT 1",
            (guild_id, member_hash),
        )
        return Conversation.from_row(row) if row else None

    async def open_guilds(self) -> list[int]:
        rows = await self.db.fetchall(
            "SELECT DISTINCT guild_id FROM support_conversations WHERE status IN ('waiting', 'queued', 'active')"
        )
        return [int(r["guild_id"]) for r in rows]

    async def active_for_listener(self, user_id: int, guild_id: int | None = None) -> list[Conversation]:
        sql = "SELECT * FROM support_conversations WHERE listener_user_id = ? AND status = 'active'"
        args: tuple[Any, ...] = (user_id,)
        if guild_id is not None:
            sql += " AND guild_id = ?"
            args = (*args, guild_id)
        rows = await self.db.fetchall(sql + " ORDER BY accepted_at, id", args)
        return [Conversation.from_row(r) for r in rows]

    async def active_counts(self, guild_id: int) -> dict[int, int]:
        rows = await self.db.fetchall(
            "SELECT listener_user_id, COUNT(*) AS n FROM support_conversations WHERE guild_id = ? AND status = 'active' "
            "AND listener_user_id IS NOT NULL GROUP BY listener_user_id",
            (guild_id,),
        )
        return {int(r["listener_user_id"]): int(r["n"]) for r in rows}

    async def queued(self, guild_id: int) -> list[Conversation]:
        rows = await self.db.fetchall(
            "SELECT * FROM support_conversations WHERE guild_id = ? AND status = 'queued' ORDER BY id", (guild_id,)
        )
        return [Conversation.from_row(r) for r in rows]

    async def open_conversations(self) -> list[Conversation]:
        rows = await self.db.fetchall(
            "SELECT * FROM support_conversations WHERE status IN ('waiting', 'queued', 'active') ORDER BY id"
        )
        return [Conversation.from_row(r) for r in rows]

    async def update(self, conversation_id: int, **changes: Any) -> Conversation:
        assignments = set_clause("support_conversations", CONVERSATION_EDITABLE, changes)
        values = {k: to_iso(v) if isinstance(v, datetime) else v for k, v in changes.items()}
        if values:
            await self.db.execute(
                f"UPDATE support_conversations SET {assignments} WHERE id = ?", (*values.values(), conversation_id)
            )
        found = await self.get(conversation_id)
        assert found is not None
        return found

    async def set_stage(self, conversation_id: int, stage: int) -> bool:
        """Move a waiting request on to a later stage (once: a repeated job does nothing)."""
        changed = await self.db.execute(
            "UPDATE support_conversations SET stage = ? WHERE id = ? AND status = 'waiting' AND stage < ?",
            (stage, conversation_id, stage),
        )
        return changed == 1

    async def accept(
        self,
        conversation_id: int,
        listener_user_id: int,
        tag: str,
        offer_id: int | None,
        now: datetime,
        max_concurrent: int | None,
    ) -> bool:
        """The first to accept gets it: one UPDATE … WHERE status = 'waiting', with the listener's
        concurrency limit checked in the same transaction."""
        async with self.db.transaction() as tx:
            if max_concurrent is not None:
                row = await tx.fetchone(
                    "SELECT COUNT(*) AS n FROM support_conversations WHERE guild_id = "
                    "(SELECT guild_id FROM support_conversations WHERE id = ?) AND listener_user_id = ? AND status = 'active'",
                    (conversation_id, listener_user_id),
                )
                if row is not None and int(row["n"]) >= max_concurrent:
                    return False
            changed = await tx.execute(
                "UPDATE support_conversations SET status = 'active', listener_user_id = ?, listener_tag = ?, "
                "accepted_at = ?, last_activity_at = ? WHERE id = ? AND status IN ('waiting', 'queued')",
                (listener_user_id, tag, to_iso(now), to_iso(now), conversation_id),
            )
            if changed != 1:
                return False
            if offer_id is not None:
                await tx.execute("UPDATE support_offers SET status = 'accepted' WHERE id = ?", (offer_id,))
        return True

    async def take_handoff(
        self, conversation_id: int, listener_user_id: int, tag: str, offer_id: int, now: datetime, max_concurrent: int
    ) -> bool:
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT COUNT(*) AS n FROM support_conversations WHERE guild_id = "
                "(SELECT guild_id FROM support_conversations WHERE id = ?) AND listener_user_id = ? AND status = 'active'",
                (conversation_id, listener_user_id),
            )
            if row is not None and int(row["n"]) >= max_concurrent:
                return False
            changed = await tx.execute(
                "UPDATE support_conversations SET listener_user_id = ?, listener_tag = ?, handoff_open = 0, "
                "handoffs = handoffs + 1, last_activity_at = ? WHERE id = ? AND status = 'active' AND handoff_open = 1",
                (listener_user_id, tag, to_iso(now), conversation_id),
            )
            if changed != 1:
                return False
            await tx.execute("UPDATE support_offers SET status = 'accepted' WHERE id = ?", (offer_id,))
        return True

    async def queue(self, conversation_id: int, until: datetime | None) -> None:
        await self.db.execute(
            "UPDATE support_conversations SET status = 'queued', queued_for = ? WHERE id = ? AND status = 'waiting'",
            (to_iso(until) if until else None, conversation_id),
        )

    async def unqueue(self, conversation_id: int) -> bool:
        changed = await self.db.execute(
            "UPDATE support_conversations SET status = 'waiting', stage = 0 WHERE id = ? AND status = 'queued'",
            (conversation_id,),
        )
        return changed == 1

    async def close(self, conversation_id: int, closed_by: str, now: datetime) -> bool:
        """Close once: whoever gets here first decides how it ended."""
        changed = await self.db.execute(
            "UPDATE support_conversations SET status = CASE WHEN status = 'active' THEN 'closed' ELSE 'cancelled' END, "
            "closed_by = ?, closed_at = ?, topic_enc = NULL, handoff_open = 0 "
            "WHERE id = ? AND status IN ('waiting', 'queued', 'active')",
            (closed_by, to_iso(now), conversation_id),
        )
        return changed == 1

    async def mark_heavy(self, conversation_id: int) -> None:
        await self.db.execute("UPDATE support_conversations SET heavy = 1 WHERE id = ?", (conversation_id,))

    async def forget_member_if_done(self, conversation_id: int) -> bool:
        """Drop the member's encrypted id once the conversation is over and nothing waits to reach them."""
        changed = await self.db.execute(
            "UPDATE support_conversations SET member_user_enc = NULL, topic_enc = NULL WHERE id = ? "
            "AND status IN ('closed', 'cancelled') AND member_user_enc IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM support_outbox WHERE conversation_id = ? AND stream = 'member' AND status = 'pending')",
            (conversation_id, conversation_id),
        )
        return changed == 1

    async def closed_between(self, guild_id: int, start: datetime, end: datetime) -> list[Conversation]:
        rows = await self.db.fetchall(
            "SELECT * FROM support_conversations WHERE guild_id = ? AND accepted_at IS NOT NULL AND accepted_at >= ? "
            "AND accepted_at < ? ORDER BY accepted_at",
            (guild_id, to_iso(start), to_iso(end)),
        )
        return [Conversation.from_row(r) for r in rows]

    async def requests_between(self, guild_id: int, start: datetime, end: datetime) -> list[Conversation]:
        rows = await self.db.fetchall(
            "SELECT * FROM support_conversations WHERE guild_id = ? AND created_at >= ? AND created_at < ? ORDER BY id",
            (guild_id, to_iso(start), to_iso(end)),
        )
        return [Conversation.from_row(r) for r in rows]

    # -- offers -------------------------------------------------------------------------

    async def add_offer(
        self, conversation: Conversation, listener_user_id: int, kind: str, stage: int, now: datetime
    ) -> Offer:
        offer_id = await self.db.insert(
            "INSERT INTO support_offers (public_id, conversation_id, guild_id, listener_user_id, kind, stage, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (secrets.token_hex(8), conversation.id, conversation.guild_id, listener_user_id, kind, stage, to_iso(now)),
        )
        row = await self.db.fetchone("SELECT * FROM support_offers WHERE id = ?", (offer_id,))
        assert row is not None
        return Offer.from_row(row)

    async def offer_by_public_id(self, public_id: str) -> Offer | None:
        row = await self.db.fetchone("SELECT * FROM support_offers WHERE public_id = ?", (public_id,))
        return Offer.from_row(row) if row else None

    async def offer_by_message(self, channel_id: int, message_id: int) -> Offer | None:
        """The offer shown in this message (to edit it in its listener's language)."""
        row = await self.db.fetchone(
            "SELECT * FROM support_offers WHERE message_id = ? AND channel_id = ?", (message_id, channel_id)
        )
        return Offer.from_row(row) if row else None

    async def offers_for(
        self, conversation_id: int, *, status: str | None = None, kind: str | None = None
    ) -> list[Offer]:
        sql = "SELECT * FROM support_offers WHERE conversation_id = ?"
        args: tuple[Any, ...] = (conversation_id,)
        if status is not None:
            sql += " AND status = ?"
            args = (*args, status)
        if kind is not None:
            sql += " AND kind = ?"
            args = (*args, kind)
        rows = await self.db.fetchall(sql + " ORDER BY id", args)
        return [Offer.from_row(r) for r in rows]

    async def set_offer_status(self, offer_id: int, status: str) -> bool:
        changed = await self.db.execute(
            "UPDATE support_offers SET status = ? WHERE id = ? AND status = 'offered'", (status, offer_id)
        )
        return changed == 1

    async def set_offer_message(self, offer_id: int, channel_id: int, message_id: int) -> None:
        await self.db.execute(
            "UPDATE support_offers SET channel_id = ?, message_id = ? WHERE id = ?", (channel_id, message_id, offer_id)
        )

    # -- outbox -------------------------------------------------------------------------

    async def enqueue(
        self, conversation_id: int, stream: str, kind: str, ciphertext: bytes, now: datetime, *, nonce: str
    ) -> OutboxRow:
        """Store a message to send, next in its stream's order (one statement: atomic on its own)."""
        found = await self.db.fetchone(
            "INSERT INTO support_outbox (conversation_id, stream, seq, kind, ciphertext, nonce, next_attempt_at, "
            "created_at) SELECT ?, ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ? FROM support_outbox "
            "WHERE conversation_id = ? AND stream = ? RETURNING *",
            (conversation_id, stream, kind, ciphertext, nonce, to_iso(now), to_iso(now), conversation_id, stream),
        )
        assert found is not None
        return OutboxRow.from_row(found)

    async def outbox_row_by_nonce(self, nonce: str) -> OutboxRow | None:
        row = await self.db.fetchone("SELECT * FROM support_outbox WHERE nonce = ?", (nonce,))
        return OutboxRow.from_row(row) if row else None

    async def pending_rows(self) -> list[OutboxRow]:
        rows = await self.db.fetchall(
            "SELECT * FROM support_outbox WHERE status = 'pending' ORDER BY conversation_id, stream, seq"
        )
        return [OutboxRow.from_row(r) for r in rows]

    async def pending_streams(self, shards: ShardPlan | None = None) -> list[tuple[int, str]]:
        """(conversation id, stream) of every stream with a row still to send (with ``shards``:
        only of the conversations whose server is on them)."""
        mine, params = shards.where("c.guild_id") if shards is not None else ("", [])
        if not mine:
            rows = await self.db.fetchall(
                "SELECT DISTINCT conversation_id, stream FROM support_outbox WHERE status = 'pending' "
                "ORDER BY conversation_id, stream"
            )
        else:
            rows = await self.db.fetchall(
                "SELECT DISTINCT o.conversation_id, o.stream FROM support_outbox o "
                f"JOIN support_conversations c ON c.id = o.conversation_id WHERE o.status = 'pending' AND {mine} "
                "ORDER BY o.conversation_id, o.stream",
                params,
            )
        return [(int(r["conversation_id"]), str(r["stream"])) for r in rows]

    async def pending_rows_for(self, conversation_id: int, stream: str) -> list[OutboxRow]:
        rows = await self.db.fetchall(
            "SELECT * FROM support_outbox WHERE conversation_id = ? AND stream = ? AND status = 'pending' ORDER BY seq",
            (conversation_id, stream),
        )
        return [OutboxRow.from_row(r) for r in rows]

    async def get_outbox_row(self, row_id: int) -> OutboxRow | None:
        row = await self.db.fetchone("SELECT * FROM support_outbox WHERE id = ?", (row_id,))
        return OutboxRow.from_row(row) if row else None

    async def outbox_rows(self, conversation_id: int) -> list[OutboxRow]:
        rows = await self.db.fetchall(
            "SELECT * FROM support_outbox WHERE conversation_id = ? ORDER BY stream, seq", (conversation_id,)
        )
        return [OutboxRow.from_row(r) for r in rows]

    async def mark_delivered(self, row_id: int, channel_id: int, message_id: int, now: datetime) -> bool:
        changed = await self.db.execute(
            "UPDATE support_outbox SET status = 'delivered', ciphertext = NULL, channel_id = ?, discord_message_id = ?, "
            "delivered_at = ?, attempts = attempts + 1 WHERE id = ? AND status = 'pending'",
            (channel_id, message_id, to_iso(now), row_id),
        )
        return changed == 1

    async def mark_failed(self, row_id: int, error: str) -> None:
        await self.db.execute(
            "UPDATE support_outbox SET status = 'failed', ciphertext = NULL, last_error = ?, attempts = attempts + 1 "
            "WHERE id = ? AND status = 'pending'",
            (error, row_id),
        )

    async def retry_later(self, row_id: int, next_attempt_at: datetime, error: str) -> None:
        await self.db.execute(
            "UPDATE support_outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? "
            "WHERE id = ? AND status = 'pending'",
            (to_iso(next_attempt_at), error, row_id),
        )

    async def drop_pending(self, conversation_id: int, stream: str | None = None) -> int:
        sql = "UPDATE support_outbox SET status = 'dropped', ciphertext = NULL WHERE conversation_id = ? AND status = 'pending'"
        args: tuple[Any, ...] = (conversation_id,)
        if stream is not None:
            sql += " AND stream = ?"
            args = (*args, stream)
        return await self.db.execute(sql, args)

    async def pending_count(self, conversation_id: int, stream: str) -> int:
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS n FROM support_outbox WHERE conversation_id = ? AND stream = ? AND status = 'pending'",
            (conversation_id, stream),
        )
        return int(row["n"]) if row else 0

    async def conversation_of_message(self, message_id: int) -> int | None:
        row = await self.db.fetchone(
            "SELECT conversation_id FROM support_outbox WHERE discord_message_id = ?", (message_id,)
        )
        return int(row["conversation_id"]) if row else None

    # -- blocks -------------------------------------------------------------------------

    async def add_block(
        self, guild_id: int, member_hash: bytes, until: datetime, conversation_public_id: str, now: datetime
    ) -> int:
        return await self.db.insert(
            "INSERT INTO support_blocks (guild_id, member_user_hash, until, conversation_id, created_at) VALUES (?, ?, ?, ?, ?)",
            (guild_id, member_hash, to_iso(until), conversation_public_id, to_iso(now)),
        )

    async def active_block(self, guild_id: int, member_hash: bytes, now: datetime) -> Block | None:
        row = await self.db.fetchone(
            "SELECT * FROM support_blocks WHERE guild_id = ? AND member_user_hash = ? AND lifted_at IS NULL AND until > ? "
            "ORDER BY until DESC LIMIT 1",
            (guild_id, member_hash, to_iso(now)),
        )
        return Block.from_row(row) if row else None

    async def block(self, block_id: int) -> Block | None:
        row = await self.db.fetchone("SELECT * FROM support_blocks WHERE id = ?", (block_id,))
        return Block.from_row(row) if row else None

    async def lift_block(self, block_id: int, now: datetime) -> bool:
        changed = await self.db.execute(
            "UPDATE support_blocks SET lifted_at = ? WHERE id = ? AND lifted_at IS NULL", (to_iso(now), block_id)
        )
        return changed == 1

    # -- feedback -----------------------------------------------------------------------

    async def add_feedback(self, conversation: Conversation, score: int, now: datetime) -> bool:
        changed = await self.db.execute(
            "INSERT INTO support_feedback (conversation_id, guild_id, score, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (conversation.id, conversation.guild_id, score, to_iso(now)),
        )
        return changed == 1

    async def feedback(self, conversation_id: int) -> tuple[int, bool] | None:
        row = await self.db.fetchone(
            "SELECT score, commented FROM support_feedback WHERE conversation_id = ?", (conversation_id,)
        )
        return (int(row["score"]), bool(row["commented"])) if row else None

    async def mark_commented(self, conversation_id: int) -> bool:
        changed = await self.db.execute(
            "UPDATE support_feedback SET commented = 1 WHERE conversation_id = ? AND commented = 0", (conversation_id,)
        )
        return changed == 1

    async def feedback_between(self, guild_id: int, start: datetime, end: datetime) -> list[int]:
        rows = await self.db.fetchall(
            "SELECT score FROM support_feedback WHERE guild_id = ? AND created_at >= ? AND created_at < ?",
            (guild_id, to_iso(start), to_iso(end)),
        )
        return [int(r["score"]) for r in rows]

    # -- personal data (registry) -------------------------------------------------------

    async def export_user(self, guild_id: int, user_id: int) -> ExportRows:
        h = self.member_hash(guild_id, user_id)
        asked = await self.db.fetchall(
            "SELECT c.member_tag, c.member_name, c.source, c.status, c.listener_tag, c.created_at, c.accepted_at, "
            "c.closed_at, c.closed_by, c.topic_enc IS NOT NULL AS topic_kept_encrypted, f.score AS feedback_score "
            "FROM support_conversations c LEFT JOIN support_feedback f ON f.conversation_id = c.id "
            "WHERE c.guild_id = ? AND c.member_user_hash = ? ORDER BY c.id",
            (guild_id, h),
        )
        listened = await self.db.fetchall(
            "SELECT member_tag, listener_tag, status, created_at, accepted_at, closed_at, closed_by, heavy "
            "FROM support_conversations WHERE guild_id = ? AND listener_user_id = ? ORDER BY id",
            (guild_id, user_id),
        )
        offers = await self.db.fetchall(
            "SELECT kind, stage, status, created_at FROM support_offers WHERE guild_id = ? AND listener_user_id = ? ORDER BY id",
            (guild_id, user_id),
        )
        blocks = await self.db.fetchall(
            "SELECT until, lifted_at, created_at FROM support_blocks WHERE guild_id = ? AND member_user_hash = ?",
            (guild_id, h),
        )
        conversations = [{"role": "member", **dict(r)} for r in asked] + [
            {"role": "listener", **dict(r)} for r in listened
        ]
        return {
            "support_conversations": conversations,
            "support_offers": [dict(r) for r in offers],
            "support_blocks": [dict(r) for r in blocks],
        }

    async def _close_for_privacy(self, where: str, args: tuple[Any, ...], now: datetime) -> int:
        rows = await self.db.fetchall(
            f"SELECT id FROM support_conversations WHERE {where} AND status IN ('waiting', 'queued', 'active')", args
        )
        for row in rows:
            await self.close(int(row["id"]), "privacy", now)
            await self.drop_pending(int(row["id"]))
        return len(rows)

    async def delete_user(self, guild_id: int, user_id: int) -> int:
        now = self.clock.now()
        h = self.member_hash(guild_id, user_id)
        total = await self._close_for_privacy("guild_id = ? AND member_user_hash = ?", (guild_id, h), now)
        total += await self._close_for_privacy("guild_id = ? AND listener_user_id = ?", (guild_id, user_id), now)
        # As a member: keep the anonymous metadata (times, the listener's label, a score), unlinked.
        total += await self.db.execute(
            "UPDATE support_conversations SET member_user_hash = NULL, member_user_enc = NULL, member_name = NULL, "
            "topic_enc = NULL WHERE guild_id = ? AND member_user_hash = ?",
            (guild_id, h),
        )
        # As a listener: the conversations stay (without you), your offers go.
        total += await self.db.execute(
            "UPDATE support_conversations SET listener_user_id = NULL WHERE guild_id = ? AND listener_user_id = ?",
            (guild_id, user_id),
        )
        total += await self.db.execute(
            "DELETE FROM support_offers WHERE guild_id = ? AND listener_user_id = ?", (guild_id, user_id)
        )
        # Blocks stay until they end: deleting data must not lift a listener's block.
        return total

    async def delete_user_in_circle(self, guild_id: int, circle_id: int, user_id: int) -> int:
        return 0  # support is server-wide, not circle data

    async def purge_expired(self, now: datetime) -> int:
        total = 0
        rows = await self.db.fetchall("SELECT guild_id, retention_days FROM guilds")
        retention = {int(r["guild_id"]): int(r["retention_days"]) for r in rows}
        guilds = await self.db.fetchall("SELECT DISTINCT guild_id FROM support_conversations")
        for row in guilds:
            guild_id = int(row["guild_id"])
            cutoff = to_iso(now - timedelta(days=retention.get(guild_id, 90)))
            total += await self.db.execute(
                "DELETE FROM support_conversations WHERE guild_id = ? AND status IN ('closed', 'cancelled') "
                "AND closed_at < ?",
                (guild_id, cutoff),
            )
        closed = await self.db.fetchall(
            "SELECT id FROM support_conversations WHERE status IN ('closed', 'cancelled') AND member_user_enc IS NOT NULL"
        )
        for row in closed:
            total += int(await self.forget_member_if_done(int(row["id"])))
        total += await self.db.execute(
            "DELETE FROM support_blocks WHERE until < ? OR lifted_at IS NOT NULL AND lifted_at < ?",
            (to_iso(now), to_iso(now - timedelta(days=30))),
        )
        return total

    async def delete_guild(self, guild_id: int) -> int:
        total = 0
        for table in ("support_blocks", "support_feedback", "support_offers", "support_conversations"):
            total += await self.db.execute(f"DELETE FROM {table} WHERE guild_id = ?", (guild_id,))
        return total
