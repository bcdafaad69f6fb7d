"""Pseudonyms, keyed hashes, encrypted ids and sanitising: the primitives anonymity rests on."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.clock import FakeClock
from bot.crypto import DecryptionError, Keyring, derive_key
from bot.services.pseudonyms import PseudonymService, epoch_for, name_from_digest, word_languages, words
from bot.services.sanitize import has_live_mention, sanitize
from bot.storage.circles import Rotation
from bot.storage.database import Database
from bot.storage.shares import ShareRepository

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
ids = st.integers(min_value=1, max_value=2**63 - 1)
epochs = st.text(min_size=1, max_size=20)


def test_word_lists_give_a_name_space_large_enough() -> None:
    vocabulary = words()
    assert len(set(vocabulary.adjectives)) == 256 and len(set(vocabulary.nouns)) == 256
    space = 256 * 256 * 32**5
    posters = 1000
    collision = 1 - math.exp(-posters * (posters - 1) / (2 * space))
    assert collision < 1e-6


@given(ids, ids, ids, epochs)
def test_pseudonym_is_stable_within_an_epoch(guild: int, circle: int, user: int, epoch: str) -> None:
    ring = Keyring(KEY)
    member = ring.member_hash(guild, user)
    assert ring.pseudonym_digest(guild, circle, member, epoch) == Keyring(KEY).pseudonym_digest(
        guild, circle, member, epoch
    )


@given(ids, ids, ids, epochs, epochs)
def test_pseudonyms_differ_across_circles_and_epochs(guild: int, circle: int, user: int, a: str, b: str) -> None:
    ring = Keyring(KEY)
    member = ring.member_hash(guild, user)
    if a != b:
        assert ring.pseudonym_digest(guild, circle, member, a) != ring.pseudonym_digest(guild, circle, member, b)
    assert ring.pseudonym_digest(guild, circle, member, a) != ring.pseudonym_digest(guild, circle + 1, member, a)


@given(ids, ids)
def test_member_hash_is_keyed_and_per_server(guild: int, user: int) -> None:
    assert Keyring(KEY).member_hash(guild, user) != Keyring(OTHER_KEY).member_hash(guild, user)
    assert Keyring(KEY).member_hash(guild, user) != Keyring(KEY).member_hash(guild ^ 1, user)
    assert len(Keyring(KEY).member_hash(guild, user)) == 32


@given(ids, st.text(max_size=40))
def test_encrypted_ids_round_trip_with_random_nonces(user: int, context: str) -> None:
    ring = Keyring(KEY)
    a, b = ring.encrypt_id(user, context), ring.encrypt_id(user, context)
    assert a != b, "a fresh nonce every time"
    assert ring.decrypt_id(a, context) == user == ring.decrypt_id(b, context)


def test_encrypted_ids_are_bound_to_key_and_context() -> None:
    blob = Keyring(KEY).encrypt_id(42, "share:abc")
    with pytest.raises(DecryptionError):
        Keyring(OTHER_KEY).decrypt_id(blob, "share:abc")
    with pytest.raises(DecryptionError):
        Keyring(KEY).decrypt_id(blob, "share:other")
    with pytest.raises(DecryptionError):
        Keyring(KEY).decrypt_id(blob[:-1] + bytes([blob[-1] ^ 1]), "share:abc")


def test_keys_are_separated_by_purpose() -> None:
    assert len({derive_key(KEY, p) for p in ("member-hash", "pseudonym", "encrypted-ids")}) == 3
    with pytest.raises(ValueError):
        Keyring(b"short")


def test_epochs_follow_rotation_in_the_servers_zone() -> None:
    zone = ZoneInfo("Pacific/Auckland")
    late = datetime(2026, 3, 1, 11, 30, tzinfo=UTC)  # already 2 March in Auckland
    assert epoch_for(Rotation.DAILY, late, zone, "t") == "day:2026-03-02"
    assert epoch_for(Rotation.WEEKLY, late, zone, "t") == "week:2026-W10"
    assert epoch_for(Rotation.FIXED, late, zone, "t") == "fixed"
    assert epoch_for(Rotation.PER_POST, late, zone, "abc") == "post:abc"


async def test_collisions_are_detected_and_resolved(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    await db.execute("INSERT INTO guilds (guild_id, joined_at) VALUES (1, 'x')")
    await db.execute(
        "INSERT INTO circles (id, guild_id, name, name_key, ground_rules, created_at) VALUES (7, 1, 'G', 'g', 'r', 'x')"
    )
    ring = Keyring(KEY)
    repo = ShareRepository(db, ring.member_hash)
    service = PseudonymService(ring, repo, FakeClock())
    # Force every first attempt to produce the same name, as a collision would.
    original = ring.pseudonym_digest
    monkeypatch.setattr(
        ring,
        "pseudonym_digest",
        lambda g, c, m, e, attempt=0: original(g, c, b"same", e, 0) if attempt == 0 else original(g, c, m, e, attempt),
    )
    first = await service.pseudonym(1, 7, ring.member_hash(1, 100), "fixed")
    second = await service.pseudonym(1, 7, ring.member_hash(1, 200), "fixed")
    assert first != second, "the second member got the next name"
    assert await service.pseudonym(1, 7, ring.member_hash(1, 200), "fixed") == second, "and keeps it"


@given(st.binary(min_size=32, max_size=32))
def test_names_are_readable(digest: bytes) -> None:
    name = name_from_digest(digest)
    words_part, tag = name.split(" · ")
    assert len(words_part.split()) == 2 and len(tag) == 5 and tag.isalnum()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=3000))
def test_sanitised_text_has_no_live_mentions_and_respects_limits(text: str) -> None:
    clean = sanitize(text, limit=1800)
    assert len(clean) <= 1800
    assert not has_live_mention(clean)
    assert clean.count("\n") <= 40
    assert sanitize(clean, limit=1800) == clean, "sanitising twice changes nothing"


@pytest.mark.parametrize(
    "raw",
    [
        "@everyone look",
        "@here now",
        "<@123456789012345678>",
        "<@!123456789012345678>",
        "<@&123456789012345678>",
        "<#123456789012345678>",
    ],
)
def test_every_mention_form_is_neutralised(raw: str) -> None:
    assert not has_live_mention(sanitize(raw, limit=100))


def test_invites_are_removed_unless_allowed() -> None:
    text = "join https://discord.gg/abc and discord.com/invite/xyz"
    assert "discord.gg/abc" not in sanitize(text, limit=200)
    assert "discord.gg/abc" in sanitize(text, limit=200, allow_invites=True)


@pytest.mark.parametrize("language", word_languages())
def test_every_language_gives_the_same_name_space(language: str) -> None:
    vocabulary = words(language)
    assert vocabulary.language == language
    assert len(vocabulary.adjectives) == len(words().adjectives) and len(vocabulary.nouns) == len(words().nouns)
    assert len(set(vocabulary.nouns)) == 256
    forms = len(vocabulary.adjectives[0])
    for gender in range(forms):
        assert len({a[gender] for a in vocabulary.adjectives}) == 256, "each gender's forms read differently"
    assert set(vocabulary.genders) <= set(range(forms))


@settings(max_examples=50)
@given(st.binary(min_size=32, max_size=32), st.sampled_from(word_languages()))
def test_names_are_readable_in_every_language(digest: bytes, language: str) -> None:
    name = name_from_digest(digest, language)
    words_part, tag = name.split(" · ")
    assert len(words_part.split()) == 2 and tag == name_from_digest(digest).split(" · ")[1]


def test_adjectives_agree_with_the_noun() -> None:
    spanish = words("es")
    otter, fox = spanish.nouns.index("Nutria"), spanish.nouns.index("Zorro")
    quiet = next(i for i, forms in enumerate(spanish.adjectives) if forms == ("Tranquilo", "Tranquila"))
    assert (spanish.name(quiet, otter), spanish.name(quiet, fox)) == ("Nutria Tranquila", "Zorro Tranquilo")
    german = words("de")
    adjective = next(i for i, forms in enumerate(german.adjectives) if forms[0] == "Stiller")
    assert german.name(adjective, german.nouns.index("Otter")) == "Stiller Otter"
    assert german.name(adjective, german.nouns.index("Eule")) == "Stille Eule"
    assert german.name(adjective, german.nouns.index("Reh")) == "Stilles Reh"
    assert words("es_419") is spanish and words("pt").language == "pt_BR" and words("it").language == "en"


async def test_a_pseudonym_keeps_the_language_it_was_made_in(db: Database) -> None:
    await db.execute("INSERT INTO guilds (guild_id, joined_at) VALUES (1, 'x')")
    await db.execute(
        "INSERT INTO circles (id, guild_id, name, name_key, ground_rules, created_at) VALUES (7, 1, 'G', 'g', 'r', 'x')"
    )
    ring = Keyring(KEY)
    service = PseudonymService(ring, ShareRepository(db, ring.member_hash), FakeClock())
    member = ring.member_hash(1, 100)
    english = await service.pseudonym(1, 7, member, "fixed", "en")
    assert await service.pseudonym(1, 7, member, "fixed", "es") == english, "the server changed language: no rename"
    spanish = await service.pseudonym(1, 7, ring.member_hash(1, 200), "fixed", "es")
    assert spanish.split(" · ")[0].split()[0] in words("es").nouns
    digest = ring.pseudonym_digest(1, 7, ring.member_hash(1, 200), "fixed")
    assert spanish == name_from_digest(digest, "es"), "the same keyed derivation, in the server's words"
