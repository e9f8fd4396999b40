"""Sealing dead-letter payloads: AES-256-GCM bound to the source record, typed key errors."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

from shopstream.processors.deadletter import (
    DeadLetterDecodeError,
    DeadLetterKey,
    DeadLetterKeyError,
)
from shopstream.processors.deadletter.sealing import (
    NONCE_SIZE,
    TAG_SIZE,
    DeadLetterKeySettings,
    associated_data,
)

PLAINTEXT = "김길동 010-2222-3333 gildong.kim@example.com".encode()
WHERE: dict[str, Any] = {"topic": "shop.events.raw", "partition": 3, "offset": 1234567}


def new_key(key_id: str | None = None) -> DeadLetterKey:
    return DeadLetterKey(SecretStr(DeadLetterKey.generate()), key_id=key_id)


@pytest.fixture
def key() -> DeadLetterKey:
    return new_key()


def test_round_trip(key: DeadLetterKey) -> None:
    sealed = key.seal(PLAINTEXT, part="value", **WHERE)
    assert key.open(sealed, part="value", **WHERE) == PLAINTEXT
    assert key.open(key.seal(b"", part="key", **WHERE), part="key", **WHERE) == b""


def test_layout_is_nonce_ciphertext_tag(key: DeadLetterKey) -> None:
    sealed = key.seal(PLAINTEXT, part="value", **WHERE)
    assert len(sealed) == NONCE_SIZE + len(PLAINTEXT) + TAG_SIZE == len(PLAINTEXT) + 28
    assert PLAINTEXT not in sealed
    assert "김길동".encode() not in sealed


def test_layout_matches_a_plain_aesgcm_decrypt() -> None:
    secret = DeadLetterKey.generate()
    sealed = DeadLetterKey(SecretStr(secret)).seal(PLAINTEXT, part="value", **WHERE)
    aead = AESGCM(base64.urlsafe_b64decode(secret))
    aad = associated_data(part="value", **WHERE)
    assert aead.decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], aad) == PLAINTEXT


def test_every_seal_has_a_fresh_nonce(key: DeadLetterKey) -> None:
    sealed = {key.seal(PLAINTEXT, part="value", **WHERE) for _ in range(50)}
    assert len(sealed) == 50
    assert len({s[:NONCE_SIZE] for s in sealed}) == 50


@pytest.mark.parametrize(
    "moved",
    [
        {"topic": "shop.events.raw2"},
        {"partition": 4},
        {"offset": 1234568},
        {"topic": "shop.events.ra", "partition": 3},
    ],
    ids=["topic", "partition", "offset", "topic-prefix"],
)
def test_a_ciphertext_moved_to_another_record_does_not_open(
    key: DeadLetterKey, moved: dict[str, Any]
) -> None:
    sealed = key.seal(PLAINTEXT, part="value", **WHERE)
    with pytest.raises(DeadLetterKeyError, match="altered or moved"):
        key.open(sealed, part="value", **{**WHERE, **moved})


def test_a_key_ciphertext_does_not_open_as_the_value(key: DeadLetterKey) -> None:
    sealed = key.seal(b"gildong-mart|member-000123", part="key", **WHERE)
    with pytest.raises(DeadLetterKeyError):
        key.open(sealed, part="value", **WHERE)


def test_associated_data_is_unambiguous() -> None:
    contexts = [
        associated_data(topic=t, partition=p, offset=o, part=part)
        for t in ("a", "ab", "a.b")
        for p in (0, 1, 256)
        for o in (0, 1, 2**40)
        for part in ("key", "value")
    ]
    assert len(set(contexts)) == len(contexts)


def test_an_altered_ciphertext_does_not_open(key: DeadLetterKey) -> None:
    sealed = bytearray(key.seal(PLAINTEXT, part="value", **WHERE))
    sealed[NONCE_SIZE + 2] ^= 0x01
    with pytest.raises(DeadLetterKeyError):
        key.open(bytes(sealed), part="value", **WHERE)


def test_a_wrong_key_is_a_typed_error_naming_both_ids(key: DeadLetterKey) -> None:
    sealed = key.seal(PLAINTEXT, part="value", **WHERE)
    other = new_key()
    with pytest.raises(DeadLetterKeyError) as caught:
        other.open(sealed, part="value", sealed_key_id=key.key_id, **WHERE)
    assert key.key_id in str(caught.value)
    assert other.key_id in str(caught.value)
    # Without the recorded id the decryption itself refuses.
    with pytest.raises(DeadLetterKeyError, match="does not open"):
        other.open(sealed, part="value", **WHERE)


def test_a_wrong_key_with_the_same_chosen_id_still_fails() -> None:
    first, second = new_key("prod-2025"), new_key("prod-2025")
    sealed = first.seal(PLAINTEXT, part="value", **WHERE)
    with pytest.raises(DeadLetterKeyError, match="does not open under key id prod-2025"):
        second.open(sealed, part="value", sealed_key_id="prod-2025", **WHERE)


def test_a_payload_shorter_than_nonce_and_tag_is_a_decode_error(key: DeadLetterKey) -> None:
    with pytest.raises(DeadLetterDecodeError, match="shorter than nonce and tag"):
        key.open(b"\x00" * 27, part="value", **WHERE)


# -- the key itself ----------------------------------------------------------------------------


def test_generate_gives_32_random_bytes_in_urlsafe_base64() -> None:
    keys = {DeadLetterKey.generate() for _ in range(20)}
    assert len(keys) == 20
    for text in keys:
        assert len(base64.urlsafe_b64decode(text)) == 32
        assert "+" not in text
        assert "/" not in text


def test_standard_urlsafe_and_unpadded_spellings_are_the_same_key() -> None:
    raw = os.urandom(32)
    spellings = [
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "  " + base64.b64encode(raw).decode() + "\n",
    ]
    keys = [DeadLetterKey(SecretStr(s)) for s in spellings]
    assert len({k.key_id for k in keys}) == 1
    sealed = keys[0].seal(PLAINTEXT, part="value", **WHERE)
    assert all(k.open(sealed, part="value", **WHERE) == PLAINTEXT for k in keys)


@pytest.mark.parametrize(
    ("secret", "match"),
    [
        ("correct horse battery staple", "not base64|passphrases"),
        (base64.b64encode(os.urandom(16)).decode(), "not 16 bytes"),
        (base64.b64encode(os.urandom(33)).decode(), "not 33 bytes"),
        ("%%%%", "not base64"),
        ("", "not 0 bytes"),
    ],
    ids=["passphrase", "aes-128", "too-long", "symbols", "empty"],
)
def test_a_malformed_key_is_refused_without_echoing_it(secret: str, match: str) -> None:
    with pytest.raises(DeadLetterKeyError, match=match) as caught:
        DeadLetterKey(SecretStr(secret))
    if secret:
        assert secret not in str(caught.value)
    assert "shopstream dlq keygen" in str(caught.value)


def test_a_malformed_key_id_is_refused() -> None:
    with pytest.raises(DeadLetterKeyError, match="SHOPSTREAM_DLQ_KEY_ID"):
        new_key("has spaces")


def test_the_default_key_id_is_a_check_value_not_the_key() -> None:
    secret = DeadLetterKey.generate()
    key = DeadLetterKey(SecretStr(secret))
    assert key.key_id.startswith("dlq-")
    assert len(key.key_id) == 4 + 16
    assert key.key_id == DeadLetterKey(SecretStr(secret)).key_id
    assert key.key_id[4:] not in base64.urlsafe_b64decode(secret).hex()
    assert new_key("rotation-7").key_id == "rotation-7"


def test_repr_does_not_show_the_key() -> None:
    secret = DeadLetterKey.generate()
    key = DeadLetterKey(SecretStr(secret))
    assert secret not in repr(key)
    assert repr(key) == f"DeadLetterKey(key_id={key.key_id!r})"


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = DeadLetterKey.generate()
    monkeypatch.delenv("SHOPSTREAM_DLQ_KEY", raising=False)
    monkeypatch.delenv("SHOPSTREAM_DLQ_KEY_ID", raising=False)
    assert DeadLetterKey.from_env() is None
    monkeypatch.setenv("SHOPSTREAM_DLQ_KEY", "  ")
    assert DeadLetterKey.from_env() is None
    monkeypatch.setenv("SHOPSTREAM_DLQ_KEY", secret)
    from_env = DeadLetterKey.from_env()
    assert from_env is not None
    assert from_env.key_id == DeadLetterKey(SecretStr(secret)).key_id
    monkeypatch.setenv("SHOPSTREAM_DLQ_KEY_ID", "dlq-2025-03")
    from_env = DeadLetterKey.from_env()
    assert from_env is not None
    assert from_env.key_id == "dlq-2025-03"
    monkeypatch.setenv("SHOPSTREAM_DLQ_KEY", "not a key")
    with pytest.raises(DeadLetterKeyError):
        DeadLetterKey.from_env()


def test_settings_keep_the_key_secret() -> None:
    secret = DeadLetterKey.generate()
    settings = DeadLetterKeySettings(key=SecretStr(secret))
    assert secret not in repr(settings)
    assert secret not in str(settings)
