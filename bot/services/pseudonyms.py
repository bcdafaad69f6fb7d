"""Readable pseudonyms ("Quiet Otter · K7Q2M") derived under a secret key.

A pseudonym is HMAC-SHA256(key, server, circle, member hash, epoch): stable within an epoch,
unrelated across circles and epochs for anyone without the key. 256 adjectives x 256 nouns x a
5-character tag (32^5) give 2^41 names, so for 1,000 posters in one circle and epoch the chance of
any collision is about n^2 / 2N = 2.3e-7 (below 1 in a million). Collisions that do happen are
detected by the database (unique per circle and epoch) and resolved by deriving again with the
next attempt number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.crypto import Keyring
from bot.storage.circles import Rotation
from bot.storage.shares import ShareRepository

WORDS_PATH = Path(__file__).resolve().parent.parent.parent / "data" / "pseudonym_words.json"
TAG_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
TAG_LENGTH = 5
MAX_ATTEMPTS = 32


@dataclass(frozen=True, slots=True)
class Words:
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]


@lru_cache(maxsize=1)
def words() -> Words:
    data = json.loads(WORDS_PATH.read_text("utf-8"))
    found = Words(tuple(data["adjectives"]), tuple(data["nouns"]))
    if len(set(found.adjectives)) != 256 or len(set(found.nouns)) != 256:
        raise ValueError("pseudonym_words.json needs exactly 256 unique adjectives and 256 unique nouns")
    return found


def name_from_digest(digest: bytes) -> str:
    vocabulary = words()
    number = int.from_bytes(digest[2:6], "big")
    tag = "".join(TAG_ALPHABET[(number >> (5 * i)) & 31] for i in range(TAG_LENGTH))
    return f"{vocabulary.adjectives[digest[0]]} {vocabulary.nouns[digest[1]]} · {tag}"


def epoch_for(rotation: Rotation, now: datetime, zone: ZoneInfo, post_token: str) -> str:
    """Which epoch a post made ``now`` belongs to, in the server's time zone."""
    local = now.astimezone(zone)
    if rotation is Rotation.PER_POST:
        return f"post:{post_token}"
    if rotation is Rotation.DAILY:
        return f"day:{local.date().isoformat()}"
    if rotation is Rotation.WEEKLY:
        year, week, _ = local.isocalendar()
        return f"week:{year}-W{week:02d}"
    return "fixed"


class PseudonymService:
    def __init__(self, keyring: Keyring, shares: ShareRepository, clock: Clock) -> None:
        self.keyring = keyring
        self.shares = shares
        self.clock = clock

    async def pseudonym(self, guild_id: int, circle_id: int, member_hash: bytes, epoch: str) -> str:
        known = await self.shares.pseudonym_for(circle_id, epoch, member_hash)
        if known is not None:
            return known
        for attempt in range(MAX_ATTEMPTS):
            name = name_from_digest(self.keyring.pseudonym_digest(guild_id, circle_id, member_hash, epoch, attempt))
            if await self.shares.claim_pseudonym(guild_id, circle_id, epoch, member_hash, name, self.clock.now()):
                return name
            known = await self.shares.pseudonym_for(circle_id, epoch, member_hash)
            if known is not None:  # another request for the same member won the race
                return known
        raise RuntimeError("could not find a free pseudonym")  # pragma: no cover - 2^41 names
