"""Keys derived from SECRET_KEY, keyed hashes and encrypted ids.

Each purpose gets its own key (HKDF-SHA256 with a distinct ``info``), so a key used for one thing
never works for another:

- :meth:`Keyring.member_hash` — a keyed hash of a member in a server (HMAC-SHA256). Stable across
  pseudonym rotation, so moderation, rate limits and "my posts" work; not reversible and not
  linkable across servers without the key.
- :meth:`Keyring.pseudonym_digest` — the input to pseudonym derivation.
- :meth:`Keyring.encrypt_id` / :meth:`decrypt_id` — AES-GCM with a random 96-bit nonce per value,
  bound to a context string (associated data) so a value can't be moved to another row or use.
- :meth:`Keyring.encrypt_text` / :meth:`decrypt_text` — the same for short text (support topics and
  relayed messages waiting in the outbox), under its own key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12
VERSION = b"\x01"


class DecryptionError(ValueError):
    """The value was not made with this key and context (or was tampered with)."""


def derive_key(secret: bytes, purpose: str, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=b"peer-circles/v1", info=purpose.encode()).derive(secret)


class Keyring:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("SECRET_KEY must be at least 32 bytes")
        self._member = derive_key(secret, "member-hash")
        self._pseudonym = derive_key(secret, "pseudonym")
        self._ids = AESGCM(derive_key(secret, "encrypted-ids"))
        self._text = AESGCM(derive_key(secret, "encrypted-text"))

    def member_hash(self, guild_id: int, user_id: int) -> bytes:
        return hmac.new(self._member, struct.pack(">QQ", guild_id, user_id), hashlib.sha256).digest()

    def pseudonym_digest(
        self, guild_id: int, circle_id: int, member_hash: bytes, epoch: str, attempt: int = 0
    ) -> bytes:
        message = struct.pack(">QQI", guild_id, circle_id, attempt) + member_hash + epoch.encode()
        return hmac.new(self._pseudonym, message, hashlib.sha256).digest()

    def encrypt_id(self, user_id: int, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return VERSION + nonce + self._ids.encrypt(nonce, struct.pack(">Q", user_id), context.encode())

    def decrypt_id(self, blob: bytes, context: str) -> int:
        if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != VERSION:
            raise DecryptionError("not an encrypted id")
        nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            plain = self._ids.decrypt(nonce, sealed, context.encode())
        except InvalidTag:
            raise DecryptionError("wrong key or context") from None
        return int(struct.unpack(">Q", plain)[0])

    def encrypt_text(self, text: str, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return VERSION + nonce + self._text.encrypt(nonce, text.encode("utf-8"), context.encode())

    def decrypt_text(self, blob: bytes, context: str) -> str:
        if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != VERSION:
            raise DecryptionError("not encrypted text")
        nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            plain = self._text.decrypt(nonce, sealed, context.encode())
        except InvalidTag:
            raise DecryptionError("wrong key or context") from None
        return plain.decode("utf-8")
