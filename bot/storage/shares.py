"""Anonymous shares, replies, support, reports, mutes and pseudonym assignments.

Nothing here stores who wrote something in the clear: authors are keyed hashes (``*_user_hash``)
and, only while a feature needs it, an encrypted id (``author_user_enc``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.clock import to_iso
from bot.i18n import N_
from bot.privacy import ExportRows
from bot.storage.circles import Circle
from bot.storage.database import Database, Row
from bot.storage.rows import field_names, flag, from_row, insert_clause, set_clause

MemberHasher = Callable[[int, int], bytes]

UNPUBLISHED = ("draft", "pending_review", "scheduled")


@dataclass(frozen=True, slots=True)
class Share:
    id: int
    public_id: str
    guild_id: int
    circle_id: int
    author_user_hash: bytes | None
    author_user_enc: bytes | None
    notify: bool
    epoch: str
    pseudonym: str
    content: str | None
    content_warning: str | None
    risk: str
    status: str
    channel_id: int | None
    message_id: int | None
    thread_id: int | None
    support_count: int
    reply_count: int
    review_message_id: int | None
    created_at: str
    post_at: str | None
    posted_at: str | None

    @classmethod
    def from_row(cls, row: Row) -> Share:
        return from_row(cls, row, notify=flag)


@dataclass(frozen=True, slots=True)
class Report:
    id: int
    share_id: int
    guild_id: int
    reason: str
    status: str
    mod_message_id: int | None
    created_at: str

    @classmethod
    def from_row(cls, row: Row) -> Report:
        return from_row(cls, row)


# What a new share may be given: everything but the id and the counters, which start at 0.
SHARE_INSERTABLE = field_names(Share, without=("id", "support_count", "reply_count"))
# What changes once a share exists: its place in the review and posting, and what privacy and
# retention erase (the text, the links to its author). Never where it belongs, its pseudonym or
# its counters (those move only through add_reply and add_support).
SHARE_EDITABLE = (
    "status",
    "content",
    "content_warning",
    "author_user_hash",
    "author_user_enc",
    "notify",
    "channel_id",
    "message_id",
    "thread_id",
    "review_message_id",
    "post_at",
    "posted_at",
)
REPORT_EDITABLE = ("status", "mod_message_id")


@dataclass(frozen=True, slots=True)
class PostingState:
    """Whether a member may post in a circle right now: their mute (if any) and recent shares."""

    muted: bool
    muted_until: str | None
    """When the mute ends (ISO); None with ``muted`` means until a moderator lifts it."""
    recent: int
    oldest_recent: str | None


# Shares a member made in the circle since :since (drafts and rejected ones don't count). The
# guild_id lets SQLite use the shares_by_author index. ``k`` is the circle.
_RECENT = (
    "FROM shares x WHERE x.guild_id = k.guild_id AND x.author_user_hash = :hash AND x.circle_id = k.id "
    "AND x.created_at >= :since AND x.status NOT IN ('draft', 'rejected')"
)
_POSTING_COLUMNS = (
    "(SELECT COALESCE(m.until, '') FROM share_mutes m WHERE m.circle_id = k.id AND m.member_user_hash = :hash) "
    f"AS post_mute, (SELECT COUNT(*) {_RECENT}) AS post_recent, (SELECT MIN(x.created_at) {_RECENT}) AS post_oldest"
)


def _posting_state(row: Row, now: datetime) -> PostingState:
    mute = row["post_mute"]  # NULL: no mute; '': until lifted; else when it ends
    muted = mute is not None and (mute == "" or mute > to_iso(now))
    until = (mute or None) if muted else None
    return PostingState(muted, until, int(row["post_recent"]), row["post_oldest"])


class ShareRepository:
    name = "shares"
    tables: tuple[str, ...] = (
        "shares",
        "share_replies",
        "share_supports",
        "pseudonyms",
        "share_reports",
        "share_mutes",
    )
    summary = N_(
        "Anonymous shares and replies: the text (it is public in the circle), linked to you only by a keyed "
        "code that can't be reversed without the server operator's secret key, and, if you asked for "
        "notifications, your id encrypted; both links are dropped after the circle's retention period."
    )

    def __init__(self, db: Database, member_hash: MemberHasher) -> None:
        self.db = db
        self.member_hash = member_hash

    # -- shares -------------------------------------------------------------------------

    async def insert(self, values: dict[str, Any]) -> Share:
        values = {"public_id": os.urandom(8).hex(), **values}
        columns = insert_clause("shares", SHARE_INSERTABLE, values)
        row = await self.db.fetchone(f"INSERT INTO shares {columns} RETURNING *", tuple(values.values()))
        assert row is not None
        return Share.from_row(row)

    async def get(self, share_id: int) -> Share | None:
        row = await self.db.fetchone("SELECT * FROM shares WHERE id = ?", (share_id,))
        return Share.from_row(row) if row else None

    async def by_public_id(self, public_id: str) -> Share | None:
        row = await self.db.fetchone("SELECT * FROM shares WHERE public_id = ?", (public_id,))
        return Share.from_row(row) if row else None

    async def by_message(self, message_id: int) -> Share | None:
        row = await self.db.fetchone("SELECT * FROM shares WHERE message_id = ?", (message_id,))
        return Share.from_row(row) if row else None

    async def update(self, share_id: int, **changes: Any) -> Share:
        assignments = set_clause("shares", SHARE_EDITABLE, changes)
        if not changes:
            share = await self.get(share_id)
            assert share is not None
            return share
        row = await self.db.fetchone(
            f"UPDATE shares SET {assignments} WHERE id = ? RETURNING *", (*changes.values(), share_id)
        )
        assert row is not None, "the share to update exists"
        return Share.from_row(row)

    async def update_if(self, share_id: int, expected: str, **changes: Any) -> Share | None:
        """Change a share only while its status is ``expected``, in one UPDATE: of two moderators
        deciding at the same moment, one does. None when it had moved on."""
        assignments = set_clause("shares", SHARE_EDITABLE, changes)
        row = await self.db.fetchone(
            f"UPDATE shares SET {assignments} WHERE id = ? AND status = ? RETURNING *",
            (*changes.values(), share_id, expected),
        )
        return Share.from_row(row) if row else None

    async def delete(self, share_id: int) -> None:
        await self.db.execute("DELETE FROM shares WHERE id = ?", (share_id,))

    async def by_author(self, guild_id: int, author_hash: bytes, limit: int = 10) -> list[Share]:
        rows = await self.db.fetchall(
            "SELECT * FROM shares WHERE guild_id = ? AND author_user_hash = ? AND status IN "
            "('pending_review', 'scheduled', 'posted') ORDER BY id DESC LIMIT ?",
            (guild_id, author_hash, limit),
        )
        return [Share.from_row(r) for r in rows]

    async def posting_state(
        self, guild_id: int, circle_id: int, author_hash: bytes, now: datetime, since: datetime
    ) -> PostingState:
        """The member's mute and their shares in the circle since ``since``, in one statement."""
        row = await self.db.fetchone(
            f"SELECT {_POSTING_COLUMNS} FROM (SELECT CAST(:guild AS BIGINT) AS guild_id, CAST(:circle AS BIGINT) AS id) k",
            {"guild": guild_id, "circle": circle_id, "hash": author_hash, "since": to_iso(since)},
        )
        assert row is not None  # one row from the one-row subquery
        return _posting_state(row, now)

    async def circle_in_channel_for_posting(
        self, channel_id: int, author_hash: bytes, now: datetime, since: datetime
    ) -> tuple[Circle, PostingState] | None:
        """The circle whose channel this is, with the member's :meth:`posting_state`, in one statement."""
        row = await self.db.fetchone(
            f"SELECT k.*, {_POSTING_COLUMNS} FROM circles k WHERE k.channel_id = :channel",
            {"channel": channel_id, "hash": author_hash, "since": to_iso(since)},
        )
        return (Circle.from_row(row), _posting_state(row, now)) if row is not None else None

    # -- replies and support ------------------------------------------------------------

    async def add_reply(
        self, share: Share, author_hash: bytes, pseudonym: str, is_author: bool, message_id: int, now: datetime
    ) -> None:
        await self.db.execute(
            "INSERT INTO share_replies (share_id, guild_id, author_user_hash, pseudonym, is_author, message_id, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (share.id, share.guild_id, author_hash, pseudonym, int(is_author), message_id, to_iso(now)),
        )
        await self.db.execute("UPDATE shares SET reply_count = reply_count + 1 WHERE id = ?", (share.id,))

    async def reply_by_message(self, message_id: int) -> tuple[int, int] | None:
        row = await self.db.fetchone("SELECT id, share_id FROM share_replies WHERE message_id = ?", (message_id,))
        return (int(row["id"]), int(row["share_id"])) if row else None

    async def delete_reply(self, reply_id: int) -> None:
        await self.db.execute("DELETE FROM share_replies WHERE id = ?", (reply_id,))

    async def add_support(self, share: Share, supporter_hash: bytes, now: datetime) -> bool:
        changed = await self.db.execute(
            "INSERT INTO share_supports (share_id, guild_id, supporter_user_hash, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (share.id, share.guild_id, supporter_hash, to_iso(now)),
        )
        if changed:
            await self.db.execute("UPDATE shares SET support_count = support_count + 1 WHERE id = ?", (share.id,))
        return changed == 1

    # -- pseudonyms ---------------------------------------------------------------------

    async def pseudonym_for(self, circle_id: int, epoch: str, member_hash: bytes) -> str | None:
        row = await self.db.fetchone(
            "SELECT pseudonym FROM pseudonyms WHERE circle_id = ? AND epoch = ? AND member_user_hash = ?",
            (circle_id, epoch, member_hash),
        )
        return str(row["pseudonym"]) if row else None

    async def claim_pseudonym(
        self, guild_id: int, circle_id: int, epoch: str, member_hash: bytes, pseudonym: str, now: datetime
    ) -> bool:
        """Record the pseudonym unless another member already has it in this circle and epoch."""
        changed = await self.db.execute(
            "INSERT INTO pseudonyms (circle_id, guild_id, epoch, member_user_hash, pseudonym, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (circle_id, guild_id, epoch, member_hash, pseudonym, to_iso(now)),
        )
        return changed == 1

    # -- reports and mutes --------------------------------------------------------------

    async def add_report(self, share: Share, reporter_hash: bytes, reason: str, now: datetime) -> Report | None:
        added = await self.db.execute(
            "INSERT INTO share_reports (share_id, guild_id, reporter_user_hash, reason, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (share.id, share.guild_id, reporter_hash, reason, to_iso(now)),
        )
        if not added:
            return None
        row = await self.db.fetchone(
            "SELECT id FROM share_reports WHERE share_id = ? AND reporter_user_hash = ?", (share.id, reporter_hash)
        )
        return await self.report(int(row["id"])) if row else None

    async def report(self, report_id: int) -> Report | None:
        row = await self.db.fetchone("SELECT * FROM share_reports WHERE id = ?", (report_id,))
        return Report.from_row(row) if row else None

    async def set_report(self, report_id: int, **changes: Any) -> None:
        assignments = set_clause("share_reports", REPORT_EDITABLE, changes)
        await self.db.execute(f"UPDATE share_reports SET {assignments} WHERE id = ?", (*changes.values(), report_id))

    async def close_report_if_open(self, report_id: int, status: str) -> bool:
        """open → ``status`` in one UPDATE (two moderators pressing at once close it once)."""
        changed = await self.db.execute(
            "UPDATE share_reports SET status = ? WHERE id = ? AND status = 'open'", (status, report_id)
        )
        return changed == 1

    async def mute(
        self, guild_id: int, circle_id: int, member_hash: bytes, until: datetime | None, now: datetime
    ) -> None:
        await self.db.execute(
            "INSERT INTO share_mutes (guild_id, circle_id, member_user_hash, until, created_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (circle_id, member_user_hash) DO UPDATE SET until = excluded.until, created_at = excluded.created_at",
            (guild_id, circle_id, member_hash, to_iso(until) if until else None, to_iso(now)),
        )

    async def muted_until(self, circle_id: int, member_hash: bytes, now: datetime) -> tuple[bool, str | None]:
        row = await self.db.fetchone(
            "SELECT until FROM share_mutes WHERE circle_id = ? AND member_user_hash = ?", (circle_id, member_hash)
        )
        if row is None:
            return False, None
        until = row["until"]
        if until is not None and until <= to_iso(now):
            return False, None
        return True, until

    # -- personal data (registry) -------------------------------------------------------

    async def export_user(self, guild_id: int, user_id: int) -> ExportRows:
        h = self.member_hash(guild_id, user_id)
        shares = await self.db.fetchall(
            "SELECT s.public_id, c.name AS circle, s.pseudonym, s.content, s.content_warning, s.status, s.notify, "
            "s.support_count, s.reply_count, s.created_at, s.posted_at FROM shares s JOIN circles c ON c.id = s.circle_id "
            "WHERE s.guild_id = ? AND s.author_user_hash = ? ORDER BY s.id",
            (guild_id, h),
        )
        replies = await self.db.fetchall(
            "SELECT s.public_id AS share, r.pseudonym, r.is_author, r.created_at FROM share_replies r "
            "JOIN shares s ON s.id = r.share_id WHERE r.guild_id = ? AND r.author_user_hash = ? ORDER BY r.id",
            (guild_id, h),
        )
        supports = await self.db.fetchall(
            "SELECT s.public_id AS share, p.created_at FROM share_supports p JOIN shares s ON s.id = p.share_id "
            "WHERE p.guild_id = ? AND p.supporter_user_hash = ?",
            (guild_id, h),
        )
        names = await self.db.fetchall(
            "SELECT c.name AS circle, p.epoch, p.pseudonym FROM pseudonyms p JOIN circles c ON c.id = p.circle_id "
            "WHERE p.guild_id = ? AND p.member_user_hash = ?",
            (guild_id, h),
        )
        reports = await self.db.fetchall(
            "SELECT s.public_id AS share, r.reason, r.status, r.created_at FROM share_reports r "
            "JOIN shares s ON s.id = r.share_id WHERE r.guild_id = ? AND r.reporter_user_hash = ?",
            (guild_id, h),
        )
        mutes = await self.db.fetchall(
            "SELECT c.name AS circle, m.until FROM share_mutes m JOIN circles c ON c.id = m.circle_id "
            "WHERE m.guild_id = ? AND m.member_user_hash = ?",
            (guild_id, h),
        )
        return {
            "shares": [dict(r) for r in shares],
            "share_replies": [dict(r) for r in replies],
            "share_supports": [dict(r) for r in supports],
            "pseudonyms": [dict(r) for r in names],
            "share_reports": [dict(r) for r in reports],
            "share_mutes": [dict(r) for r in mutes],
        }

    async def _unlink(self, h: bytes, guild_id: int, circle_id: int | None) -> int:
        scope = "guild_id = ?" + (" AND circle_id = ?" if circle_id is not None else "")
        args: tuple[Any, ...] = (guild_id, circle_id) if circle_id is not None else (guild_id,)
        total = 0
        # Not yet public: delete outright. Public: keep the post, drop every link to the person.
        total += await self.db.execute(
            f"DELETE FROM shares WHERE {scope} AND author_user_hash = ? AND status IN ('draft', 'pending_review', 'scheduled')",
            (*args, h),
        )
        total += await self.db.execute(
            f"UPDATE shares SET author_user_hash = NULL, author_user_enc = NULL, notify = 0 WHERE {scope} AND author_user_hash = ?",
            (*args, h),
        )
        share_scope = "guild_id = ?" + (
            " AND share_id IN (SELECT id FROM shares WHERE circle_id = ?)" if circle_id is not None else ""
        )
        total += await self.db.execute(
            f"UPDATE share_replies SET author_user_hash = NULL WHERE {share_scope} AND author_user_hash = ?", (*args, h)
        )
        total += await self.db.execute(
            f"DELETE FROM share_supports WHERE {share_scope} AND supporter_user_hash = ?", (*args, h)
        )
        total += await self.db.execute(f"DELETE FROM pseudonyms WHERE {scope} AND member_user_hash = ?", (*args, h))
        # Reports stay for the moderators, but can no longer be tied to whoever made them.
        # Each report gets its own random bytes (one value for all would tie them to one person).
        reports = await self.db.fetchall(
            f"SELECT id FROM share_reports WHERE {share_scope} AND reporter_user_hash = ?", (*args, h)
        )
        for report in reports:
            total += await self.db.execute(
                "UPDATE share_reports SET reporter_user_hash = ? WHERE id = ?", (secrets.token_bytes(32), report["id"])
            )
        return total

    async def delete_user(self, guild_id: int, user_id: int) -> int:
        # Mutes are moderation decisions and stay until they end; they hold only a keyed hash.
        return await self._unlink(self.member_hash(guild_id, user_id), guild_id, None)

    async def delete_user_in_circle(self, guild_id: int, circle_id: int, user_id: int) -> int:
        return await self._unlink(self.member_hash(guild_id, user_id), guild_id, circle_id)

    async def purge_expired(self, now: datetime) -> int:
        total = 0
        circles = await self.db.fetchall("SELECT id, retention_days FROM circles")
        for circle in circles:
            cutoff = to_iso(now - timedelta(days=int(circle["retention_days"])))
            cid = circle["id"]
            total += await self.db.execute(
                "UPDATE shares SET author_user_hash = NULL, author_user_enc = NULL, notify = 0, content = NULL, "
                "content_warning = NULL WHERE circle_id = ? AND created_at < ? AND (author_user_hash IS NOT NULL "
                "OR author_user_enc IS NOT NULL OR content IS NOT NULL)",
                (cid, cutoff),
            )
            total += await self.db.execute(
                "DELETE FROM shares WHERE circle_id = ? AND created_at < ? AND status IN ('draft', 'rejected', 'deleted')",
                (cid, cutoff),
            )
            total += await self.db.execute(
                "UPDATE share_replies SET author_user_hash = NULL WHERE created_at < ? AND author_user_hash IS NOT NULL "
                "AND share_id IN (SELECT id FROM shares WHERE circle_id = ?)",
                (cutoff, cid),
            )
            total += await self.db.execute(
                "DELETE FROM share_supports WHERE created_at < ? AND share_id IN (SELECT id FROM shares WHERE circle_id = ?)",
                (cutoff, cid),
            )
            total += await self.db.execute(
                "DELETE FROM pseudonyms WHERE circle_id = ? AND created_at < ?", (cid, cutoff)
            )
            total += await self.db.execute(
                "DELETE FROM share_reports WHERE created_at < ? AND status != 'open' AND share_id IN "
                "(SELECT id FROM shares WHERE circle_id = ?)",
                (cutoff, cid),
            )
        total += await self.db.execute("DELETE FROM share_mutes WHERE until IS NOT NULL AND until < ?", (to_iso(now),))
        return total

    async def delete_guild(self, guild_id: int) -> int:
        total = 0
        for table in ("share_mutes", "share_reports", "share_supports", "share_replies", "pseudonyms", "shares"):
            total += await self.db.execute(f"DELETE FROM {table} WHERE guild_id = ?", (guild_id,))
        return total
