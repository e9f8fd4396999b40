"""Sealing a dead letter's original bytes: AES-256-GCM under a key kept apart from the data.

A sealed payload is ``nonce (12 random bytes) || ciphertext || tag (16 bytes)``. The
associated data binds it to where the message came from (topic, partition, offset) and
to which part it is (``key`` or ``value``), so a ciphertext copied into another dead
letter, or a key swapped with a value, fails to open.

The key is 32 random bytes written in base64 (standard or URL-safe, padding optional),
made by :meth:`DeadLetterKey.generate` (``shopstream dlq keygen``). Passphrases are
refused on purpose: HKDF does not stretch a guessable secret, and this key guards raw
personal data. It is not a pseudonymisation key and must not be one
(``SHOPSTREAM_DLQ_KEY``, ``SHOPSTREAM_DLQ_KEY_ID``).

The key id recorded in each dead letter defaults to a check value derived from the key
(HMAC-SHA-256 of a fixed label, 8 bytes in hex): it reveals nothing about the key, and a
reader holding another key is told so before any decryption is tried.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shopstream.processors.deadletter.errors import DeadLetterDecodeError, DeadLetterKeyError

KEY_ENV = "SHOPSTREAM_DLQ_KEY"
KEY_ID_ENV = "SHOPSTREAM_DLQ_KEY_ID"
KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16

Part = Literal["key", "value"]

_AAD_LABEL = b"shopstream.deadletter.v1"
_KEY_ID_LABEL = b"shopstream.deadletter.key-id"
_KEY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class DeadLetterKeySettings(BaseSettings):
    """``SHOPSTREAM_DLQ_KEY`` (base64 of 32 bytes) and ``SHOPSTREAM_DLQ_KEY_ID`` (optional)."""

    model_config = SettingsConfigDict(env_prefix="SHOPSTREAM_DLQ_", extra="forbid", frozen=True)

    key: SecretStr | None = None
    key_id: str | None = None


def associated_data(*, topic: str, partition: int, offset: int, part: Part) -> bytes:
    """What a sealed payload is bound to, length-prefixed so no two contexts collide."""
    name = topic.encode("utf-8")
    label = part.encode("ascii")
    return b"".join(
        (
            _AAD_LABEL,
            struct.pack(">B", len(label)),
            label,
            struct.pack(">H", len(name)),
            name,
            struct.pack(">iq", partition, offset),
        )
    )


class DeadLetterKey:
    """The AES-256-GCM key that seals dead letters, with the id recorded beside each one."""

    __slots__ = ("_aead", "_key_id")

    def __init__(self, secret: SecretStr, *, key_id: str | None = None) -> None:
        raw = _decode_key(secret.get_secret_value())
        if key_id is not None and not _KEY_ID.fullmatch(key_id):
            raise DeadLetterKeyError(
                f"{KEY_ID_ENV} must be 1 to 64 characters of A-Z a-z 0-9 . _ : -"
            )
        self._aead = AESGCM(raw)
        self._key_id = key_id or _check_value(raw)

    @classmethod
    def from_env(cls, settings: DeadLetterKeySettings | None = None) -> DeadLetterKey | None:
        """The key named by the environment; ``None`` when ``SHOPSTREAM_DLQ_KEY`` is unset."""
        settings = settings or DeadLetterKeySettings()
        if settings.key is None or not settings.key.get_secret_value().strip():
            return None
        return cls(settings.key, key_id=settings.key_id or None)

    @staticmethod
    def generate() -> str:
        """A new random key, URL-safe base64, for ``SHOPSTREAM_DLQ_KEY``."""
        return base64.urlsafe_b64encode(os.urandom(KEY_SIZE)).decode("ascii")

    @property
    def key_id(self) -> str:
        return self._key_id

    def seal(
        self, plaintext: bytes, *, topic: str, partition: int, offset: int, part: Part
    ) -> bytes:
        """Encrypt ``plaintext`` bound to its source record and part: nonce || ciphertext || tag."""
        nonce = os.urandom(NONCE_SIZE)
        aad = associated_data(topic=topic, partition=partition, offset=offset, part=part)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(
        self,
        sealed: bytes,
        *,
        topic: str,
        partition: int,
        offset: int,
        part: Part,
        sealed_key_id: str | None = None,
    ) -> bytes:
        """Decrypt what :meth:`seal` made for the same source record and part.

        ``sealed_key_id`` (the id recorded with the payload) turns a wrong key into a
        message that says so. Raises :class:`DeadLetterKeyError` when the payload does
        not open: another key, or a ciphertext altered or moved from another record.
        """
        if sealed_key_id is not None and sealed_key_id != self._key_id:
            raise DeadLetterKeyError(
                f"the {part} was sealed under key id {sealed_key_id}; the key given has id {self._key_id}"
            )
        if len(sealed) < NONCE_SIZE + TAG_SIZE:
            raise DeadLetterDecodeError(
                f"sealed {part} is {len(sealed)} bytes, shorter than nonce and tag "
                f"({NONCE_SIZE + TAG_SIZE})",
                raw=sealed,
            )
        aad = associated_data(topic=topic, partition=partition, offset=offset, part=part)
        try:
            return self._aead.decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], aad)
        except InvalidTag as exc:
            raise DeadLetterKeyError(
                f"the {part} does not open under key id {self._key_id}: another key with that id, "
                f"or a ciphertext altered or moved from another record than {topic}[{partition}]@{offset}"
            ) from exc

    def __repr__(self) -> str:
        return f"DeadLetterKey(key_id={self._key_id!r})"


def _decode_key(text: str) -> bytes:
    compact = "".join(text.split()).replace("-", "+").replace("_", "/")
    compact += "=" * (-len(compact) % 4)
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DeadLetterKeyError(
            f"{KEY_ENV} is not base64; make a key with `shopstream dlq keygen`"
        ) from exc
    if len(raw) != KEY_SIZE:
        raise DeadLetterKeyError(
            f"{KEY_ENV} must be {KEY_SIZE} random bytes in base64, not {len(raw)} bytes "
            "(passphrases are not accepted); make a key with `shopstream dlq keygen`"
        )
    return raw


def _check_value(raw: bytes) -> str:
    return "dlq-" + hmac.new(raw, _KEY_ID_LABEL, hashlib.sha256).digest()[:8].hex()


__all__ = [
    "KEY_ENV",
    "KEY_ID_ENV",
    "NONCE_SIZE",
    "TAG_SIZE",
    "DeadLetterKey",
    "DeadLetterKeySettings",
    "Part",
    "associated_data",
]
