"""Readable pseudonyms ("Quiet Otter · K7Q2M") derived under a secret key.

A pseudonym is HMAC-SHA256(key, server, circle, member hash, epoch): stable within an epoch,
unrelated across circles and epochs for anyone without the key. 256 adjectives x 256 nouns x a
5-character tag (32^5) give 2^41 names, so for 1,000 posters in one circle and epoch the chance of
any collision is about n^2 / 2N = 2.3e-7 (below 1 in a million). Collisions that do happen are
detected by the database (unique per circle and epoch) and resolved by deriving again with the
next attempt number.

The words are in the language the circle reads (the server's, chosen by the caller), from
``data/pseudonym_words.json``: English ("Quiet Otter"), and per language a list of adjectives with a
form for each grammatical gender and a list of nouns with their gender, so the adjective always
agrees ("Nutria Tranquila", "Zorro Tranquilo", "Stiller Otter"). Every language has the same 256 x 256
words, so the keyed choice stays uniform and the name space the same; the digest alone decides the
name. A pseudonym is stored when first made, so changing the server's language never renames anyone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.crypto import Keyring
from bot.i18n import SOURCE
from bot.storage.circles import Rotation
from bot.storage.shares import ShareRepository

WORDS_PATH = Path(__file__).resolve().parent.parent.parent / "data" / "pseudonym_words.json"
TAG_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
TAG_LENGTH = 5
MAX_ATTEMPTS = 32
SIZE = 256  # adjectives and nouns per language: one byte of the digest picks each


@dataclass(frozen=True, slots=True)
class Words:
    """One language's pseudonym words.

    ``adjectives[i]`` holds adjective i's form for each gender the language has (one form in
    English); ``genders[j]`` is noun j's gender, as an index into those forms; ``pattern`` puts
    the two in the language's order.
    """

    language: str
    adjectives: tuple[tuple[str, ...], ...]
    nouns: tuple[str, ...]
    genders: tuple[int, ...]
    pattern: str = "{adjective} {noun}"

    def name(self, adjective: int, noun: int) -> str:
        return self.pattern.format(adjective=self.adjectives[adjective][self.genders[noun]], noun=self.nouns[noun])


def _read(language: str, entry: dict[str, Any]) -> Words:
    """English: plain lists. Other languages: ``genders``, ``pattern``, adjectives as a list of
    forms (one per gender, in ``genders``' order) and nouns as ``[word, gender]``."""
    genders: list[str] = entry.get("genders", ["-"])
    adjectives = tuple(tuple(a) if isinstance(a, list) else (a,) for a in entry["adjectives"])
    pairs = [n if isinstance(n, list) else [n, genders[0]] for n in entry["nouns"]]
    found = Words(
        language,
        adjectives,
        tuple(word for word, _ in pairs),
        tuple(genders.index(gender) for _, gender in pairs),
        entry.get("pattern", "{adjective} {noun}"),
    )
    _check(found, len(genders))
    return found


def _check(found: Words, forms: int) -> None:
    where = f"pseudonym_words.json ({found.language})"
    if len(found.adjectives) != SIZE or len(set(found.nouns)) != SIZE or len(found.nouns) != SIZE:
        raise ValueError(f"{where} needs exactly {SIZE} adjectives and {SIZE} unique nouns")
    if any(len(a) != forms for a in found.adjectives):
        raise ValueError(f"{where}: every adjective needs one form per gender")
    for gender in range(forms):
        if len({a[gender] for a in found.adjectives}) != SIZE:
            raise ValueError(f"{where}: two adjectives read the same for one gender")
    if any(not w or any(c.isspace() for c in w) for a in found.adjectives for w in a) or any(
        not w or any(c.isspace() for c in w) for w in found.nouns
    ):
        raise ValueError(f"{where}: every word is one word (a name is two words and a tag)")


@lru_cache(maxsize=1)
def _vocabularies() -> dict[str, Words]:
    data = json.loads(WORDS_PATH.read_text("utf-8"))
    found = {SOURCE: _read(SOURCE, {"adjectives": data["adjectives"], "nouns": data["nouns"]})}
    for language, entry in data.get("languages", {}).items():
        found[language] = _read(language, entry)
    return found


def word_languages() -> tuple[str, ...]:
    """The languages pseudonyms can be made in."""
    return tuple(sorted(_vocabularies()))


def words(language: str = SOURCE) -> Words:
    """The words for ``language`` (``pt_BR``, ``es``...): the exact one, else the language alone
    (``es_419`` -> ``es``), else any regional list of it (``pt`` -> ``pt_BR``), else English."""
    vocabularies = _vocabularies()
    head = language.partition("_")[0]
    for candidate in (language, head, *sorted(v for v in vocabularies if v.partition("_")[0] == head)):
        if candidate in vocabularies:
            return vocabularies[candidate]
    return vocabularies[SOURCE]


def name_from_digest(digest: bytes, language: str = SOURCE) -> str:
    """The readable name a digest stands for, in ``language``'s words: the same digest bytes pick
    the words in every language (byte 0 the adjective, byte 1 the noun, bytes 2-5 the tag)."""
    number = int.from_bytes(digest[2:6], "big")
    tag = "".join(TAG_ALPHABET[(number >> (5 * i)) & 31] for i in range(TAG_LENGTH))
    return f"{words(language).name(digest[0], digest[1])} · {tag}"


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

    async def pseudonym(
        self, guild_id: int, circle_id: int, member_hash: bytes, epoch: str, language: str = SOURCE
    ) -> str:
        """The member's pseudonym in this circle and epoch: the stored one, else a new one in
        ``language`` (the server's), stored now."""
        known = await self.shares.pseudonym_for(circle_id, epoch, member_hash)
        if known is not None:
            return known
        for attempt in range(MAX_ATTEMPTS):
            digest = self.keyring.pseudonym_digest(guild_id, circle_id, member_hash, epoch, attempt)
            name = name_from_digest(digest, language)
            if await self.shares.claim_pseudonym(guild_id, circle_id, epoch, member_hash, name, self.clock.now()):
                return name
            known = await self.shares.pseudonym_for(circle_id, epoch, member_hash)
            if known is not None:  # another request for the same member won the race
                return known
        raise RuntimeError("could not find a free pseudonym")  # pragma: no cover - 2^41 names
