"""The share repository's one-statement reads on the way to the /share form: the circle, the
member's mute and their recent shares, with the same meaning as the separate lookups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import to_iso
from bot.crypto import Keyring
from bot.storage.circles import CircleRepository
from bot.storage.database import Database, SqliteDatabase
from bot.storage.shares import ShareRepository

GUILD = 1000
NOW = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)
HOUR_AGO = NOW - timedelta(hours=1)
ring = Keyring(b"s" * 32)


def count_statements(db: Database) -> list[int]:
    if db.backend != "sqlite":
        pytest.skip("counts hops to aiosqlite's thread (SQLite's round trips)")
    assert isinstance(db, SqliteDatabase)
    trips = [0]
    conn: Any = db.conn
    original = conn._execute

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips[0] += 1
        return await original(fn, *args, **kwargs)

    conn._execute = counting
    return trips


async def _world(db: Database) -> tuple[ShareRepository, int, int]:
    await db.execute("INSERT INTO guilds (guild_id, joined_at) VALUES (?, ?)", (GUILD, to_iso(NOW)))
    circles = CircleRepository(db)
    grief = await circles.insert(
        {
            "guild_id": GUILD,
            "name": "Grief",
            "name_key": "grief",
            "channel_id": 77,
            "member_role_id": 5,
            "ground_rules": "",
            "created_at": to_iso(NOW),
        }
    )
    other = await circles.insert(
        {
            "guild_id": GUILD,
            "name": "Other",
            "name_key": "other",
            "channel_id": 78,
            "member_role_id": 6,
            "ground_rules": "",
            "created_at": to_iso(NOW),
        }
    )
    return ShareRepository(db, ring.member_hash), grief.id, other.id


async def _share(repo: ShareRepository, circle_id: int, h: bytes, at: datetime, status: str = "posted") -> None:
    await repo.insert(
        {
            "guild_id": GUILD,
            "circle_id": circle_id,
            "author_user_hash": h,
            "epoch": "e",
            "pseudonym": "P",
            "content": "x",
            "status": status,
            "created_at": to_iso(at),
        }
    )


async def test_posting_state_counts_recent_shares_in_this_circle_only(db: Database) -> None:
    repo, grief, other = await _world(db)
    me, you = ring.member_hash(GUILD, 42), ring.member_hash(GUILD, 43)
    await _share(repo, grief, me, NOW - timedelta(minutes=50))
    await _share(repo, grief, me, NOW - timedelta(minutes=10))
    await _share(repo, grief, me, NOW - timedelta(minutes=70))  # older than the hour
    await _share(repo, grief, me, NOW - timedelta(minutes=5), status="rejected")  # doesn't count
    await _share(repo, other, me, NOW - timedelta(minutes=5))  # another circle
    await _share(repo, grief, you, NOW - timedelta(minutes=5))  # someone else
    state = await repo.posting_state(GUILD, grief, me, NOW, HOUR_AGO)
    assert (state.muted, state.recent, state.oldest_recent) == (False, 2, to_iso(NOW - timedelta(minutes=50)))
    found = await repo.circle_in_channel_for_posting(77, me, NOW, HOUR_AGO)
    assert found is not None and found[0].id == grief and found[1] == state
    assert await repo.circle_in_channel_for_posting(12345, me, NOW, HOUR_AGO) is None
    nobody = await repo.posting_state(GUILD, grief, ring.member_hash(GUILD, 44), NOW, HOUR_AGO)
    assert (nobody.muted, nobody.recent, nobody.oldest_recent) == (False, 0, None)


async def test_posting_state_reads_mutes_as_muted_until_does(db: Database) -> None:
    repo, grief, _ = await _world(db)
    cases = {
        42: None,  # until a moderator lifts it
        43: NOW + timedelta(days=1),  # still on
        44: NOW - timedelta(seconds=1),  # over
    }
    for user, until in cases.items():
        await repo.mute(GUILD, grief, ring.member_hash(GUILD, user), until, NOW - timedelta(days=2))
    for user in (*cases, 45):
        h = ring.member_hash(GUILD, user)
        state = await repo.posting_state(GUILD, grief, h, NOW, HOUR_AGO)
        assert (state.muted, state.muted_until) == await repo.muted_until(grief, h, NOW), user
    assert (await repo.posting_state(GUILD, grief, ring.member_hash(GUILD, 43), NOW, HOUR_AGO)).muted_until == to_iso(
        NOW + timedelta(days=1)
    )


async def test_opening_the_form_in_a_circle_channel_is_one_statement_using_the_author_index(db: Database) -> None:
    repo, _, _ = await _world(db)
    trips = count_statements(db)
    assert await repo.circle_in_channel_for_posting(77, ring.member_hash(GUILD, 42), NOW, HOUR_AGO) is not None
    assert trips[0] == 1
    plan = await db.fetchall(
        "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM shares x WHERE x.guild_id = ? AND x.author_user_hash = ? "
        "AND x.circle_id = ? AND x.created_at >= ?",
        (GUILD, b"h", 1, to_iso(NOW)),
    )
    assert any("shares_by_author" in row["detail"] for row in plan), [row["detail"] for row in plan]
