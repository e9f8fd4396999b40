"""Dead letters: what a processor writes to ``shop.events.dlq`` for a message it rejects.

A processor builds one in a single call::

    letter = build_dead_letter(
        processor="clean", processor_version=__version__, key=dlq_key,
        source_topic=msg.topic(), source_partition=msg.partition(),
        source_offset=msg.offset(), source_timestamp=msg.timestamp()[1],
        raw_key=msg.key(), raw_value=msg.value(), reasons=reasons_from_violations(found),
    )
    producer.produce(dlq_topic, encode_dead_letter(letter), ...)

Everything left in the clear is free of personal data: the original bytes are sealed
(:mod:`.sealing`), reason messages never quote values, and the identifying fields are
kept only when they have their expected shape (an ``event_id`` that is not a UUID is
dropped rather than copied out of a bad record).
"""

from __future__ import annotations

import datetime as dt
import re
import time
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from shopstream.processors.deadletter.errors import DeadLetterDecodeError
from shopstream.processors.deadletter.sealing import DeadLetterKey, Part
from shopstream.schemas.codec import HEADER_SIZE, MAGIC, Codec
from shopstream.schemas.contract import Contract, schemas_root
from shopstream.schemas.errors import (
    DecodeError,
    MalformedError,
    NotAvroError,
    TruncatedError,
    UnknownSchemaError,
)
from shopstream.schemas.validation import Violation

SCHEMA_NAME = "dead_letter"
DECODE_RULES = ("not_avro", "truncated", "unknown_schema", "malformed")
"""Rule names of reasons made from decode errors; the validator's rule names join them."""

MAX_MESSAGE_LENGTH = 300
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a message was rejected: field path (``$`` for all of it), rule, value-free message."""

    path: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule} at {self.path}: {self.message}"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead letter, field for field as ``schemas/avro/deadletter/dead_letter/v1.avsc``.

    Times are milliseconds since the Unix epoch, UTC (``failed_at`` gives a datetime).
    """

    dead_letter_id: str
    processor: str
    processor_version: str
    failed_time: int
    source_topic: str
    source_partition: int
    source_offset: int
    source_timestamp: int | None
    event_type: str | None
    event_id: str | None
    shop_id: str | None
    schema_fingerprint: str | None
    reasons: tuple[Reason, ...]
    encryption_key_id: str
    encrypted_key: bytes | None
    encrypted_value: bytes

    @property
    def failed_at(self) -> dt.datetime:
        return _EPOCH + self.failed_time * _MS

    @property
    def source(self) -> str:
        """``topic[partition]@offset`` of the rejected message."""
        return f"{self.source_topic}[{self.source_partition}]@{self.source_offset}"

    @property
    def rules(self) -> frozenset[str]:
        return frozenset(r.rule for r in self.reasons)

    def open_key(self, key: DeadLetterKey) -> bytes | None:
        """The original message key; raises ``DeadLetterKeyError`` under another key."""
        if self.encrypted_key is None:
            return None
        return key.open(self.encrypted_key, part="key", **self._context())

    def open_value(self, key: DeadLetterKey) -> bytes:
        """The original message value; raises ``DeadLetterKeyError`` under another key."""
        return key.open(self.encrypted_value, part="value", **self._context())

    def _context(self) -> dict[str, Any]:
        return {
            "topic": self.source_topic,
            "partition": self.source_partition,
            "offset": self.source_offset,
            "sealed_key_id": self.encryption_key_id,
        }


def build_dead_letter(
    *,
    processor: str,
    processor_version: str,
    key: DeadLetterKey,
    source_topic: str,
    source_partition: int,
    source_offset: int,
    source_timestamp: int | None,
    raw_key: bytes | None,
    raw_value: bytes,
    reasons: Sequence[Reason],
    event_type: str | None = None,
    event_id: str | uuid.UUID | None = None,
    shop_id: str | None = None,
    fingerprint: bytes | None = None,
    now_ms: int | None = None,
) -> DeadLetter:
    """Seal the original bytes and record where they came from and why they were rejected.

    ``fingerprint`` and ``event_type`` default to what the value's single-object header
    names. ``event_id`` is kept only if it is a UUID, ``shop_id`` only if it has the
    contract's shop id format, ``event_type`` only if it looks like a type name: a value
    taken from a rejected record must not carry personal data into the clear. A
    ``source_timestamp`` that is not positive (Kafka's "none" is -1) is recorded as null.
    Reasons pass through :func:`safe_message`. A message without a value (a tombstone)
    has nothing to keep: pass ``b""``.
    """
    if not reasons:
        raise ValueError("a dead letter needs at least one reason")
    if fingerprint is None and raw_value[: len(MAGIC)] == MAGIC and len(raw_value) >= HEADER_SIZE:
        fingerprint = bytes(raw_value[len(MAGIC) : HEADER_SIZE])
    if fingerprint is not None and len(fingerprint) != HEADER_SIZE - len(MAGIC):
        raise ValueError(f"a schema fingerprint is 8 bytes, not {len(fingerprint)}")
    if event_type is None and fingerprint is not None:
        known = Contract.load().by_fingerprint(fingerprint)
        event_type = known.name if known else None

    def seal(raw: bytes, part: Part) -> bytes:
        return key.seal(
            raw, topic=source_topic, partition=source_partition, offset=source_offset, part=part
        )

    return DeadLetter(
        dead_letter_id=str(uuid.uuid4()),
        processor=processor,
        processor_version=processor_version,
        failed_time=time.time_ns() // 1_000_000 if now_ms is None else now_ms,
        source_topic=source_topic,
        source_partition=source_partition,
        source_offset=source_offset,
        source_timestamp=source_timestamp if source_timestamp and source_timestamp > 0 else None,
        event_type=event_type if event_type and _EVENT_TYPE.fullmatch(event_type) else None,
        event_id=_as_uuid(event_id),
        shop_id=shop_id if shop_id and _shop_id_pattern().fullmatch(shop_id) else None,
        schema_fingerprint=fingerprint.hex() if fingerprint is not None else None,
        reasons=tuple(
            Reason(safe_message(r.path), safe_message(r.rule), safe_message(r.message))
            for r in reasons
        ),
        encryption_key_id=key.key_id,
        encrypted_key=None if raw_key is None else seal(raw_key, "key"),
        encrypted_value=seal(raw_value, "value"),
    )


# -- reasons -------------------------------------------------------------------------------


def reasons_from_violations(violations: Iterable[Violation]) -> tuple[Reason, ...]:
    """One reason per validator violation, with the validator's rule names.

    The validator's messages name limits and formats, never values; they are still
    passed through the same sanitiser as every other reason.
    """
    return tuple(Reason(v.path, v.rule, safe_message(v.message)) for v in violations)


def reason_from_decode_error(exc: Exception) -> Reason:
    """A reason for bytes that did not decode, built from the error's type, not its text.

    The codec's messages may quote leading bytes or the Avro library's own text (which
    can hold a decoded value), so the message is composed here from safe facts: the
    length, and the schema fingerprint for unknown schemas. Other exceptions give
    ``processing_error`` with the exception's type name only.
    """
    raw = getattr(exc, "raw", b"")
    size = f"{len(raw)} bytes" if isinstance(raw, bytes | bytearray | memoryview) else "input"
    if isinstance(exc, NotAvroError):
        message = f"{size}: no Avro framing marker (single-object c301 or Confluent 00)"
    elif isinstance(exc, TruncatedError):
        message = f"{size}: the bytes end before the header or the record is complete"
    elif isinstance(exc, UnknownSchemaError):
        message = f"{size}: no known schema has fingerprint {bytes(exc.fingerprint).hex()}"
    elif isinstance(exc, MalformedError):
        cause = exc.__cause__
        detail = f" ({type(cause).__name__})" if cause is not None else ""
        message = f"{size}: the body is not a valid record of the named schema{detail}"
    elif isinstance(exc, DecodeError):
        message = f"{size}: could not be decoded ({type(exc).__name__})"
    else:
        return Reason("$", "processing_error", f"{type(exc).__name__} while processing")
    return Reason("$", getattr(exc, "reason", "decode_error"), message)


def safe_message(message: str) -> str:
    """A message fit to print and log: no control or format characters, bounded length.

    Control characters (terminal escapes, newlines that forge log lines) and format
    characters (bidirectional overrides) become ``?``.
    """
    cleaned = "".join("?" if unicodedata.category(c)[0] == "C" else c for c in message)
    if len(cleaned) > MAX_MESSAGE_LENGTH:
        cleaned = cleaned[: MAX_MESSAGE_LENGTH - 1] + "…"
    return cleaned


# -- encoding ------------------------------------------------------------------------------


@cache
def dead_letter_codec() -> Codec:
    """The codec of the dead-letter contract (``schemas/avro/deadletter/``)."""
    return Codec(Contract.load(schemas_root() / "deadletter"))


def encode_dead_letter(letter: DeadLetter) -> bytes:
    """Avro single-object encoding of ``letter`` (C3 01, fingerprint, Avro binary)."""
    return dead_letter_codec().encode(SCHEMA_NAME, _to_record(letter))


def decode_dead_letter(data: bytes) -> DeadLetter:
    """The dead letter in ``data``; raises :class:`DeadLetterDecodeError` if it is not one."""
    try:
        decoded = dead_letter_codec().decode(data)
    except DecodeError as exc:
        raise DeadLetterDecodeError(
            f"not a dead letter: {reason_from_decode_error(exc).message}", raw=data
        ) from exc
    return _from_record(decoded.record)


def _to_record(letter: DeadLetter) -> dict[str, Any]:
    return {
        "dead_letter_id": letter.dead_letter_id,
        "processor": letter.processor,
        "processor_version": letter.processor_version,
        "failed_time": letter.failed_time,
        "source_topic": letter.source_topic,
        "source_partition": letter.source_partition,
        "source_offset": letter.source_offset,
        "source_timestamp": letter.source_timestamp,
        "event_type": letter.event_type,
        "event_id": letter.event_id,
        "shop_id": letter.shop_id,
        "schema_fingerprint": letter.schema_fingerprint,
        "reasons": [{"path": r.path, "rule": r.rule, "message": r.message} for r in letter.reasons],
        "encryption_key_id": letter.encryption_key_id,
        "encrypted_key": letter.encrypted_key,
        "encrypted_value": letter.encrypted_value,
    }


def _from_record(record: Mapping[str, Any]) -> DeadLetter:
    return DeadLetter(
        dead_letter_id=str(record["dead_letter_id"]),
        processor=record["processor"],
        processor_version=record["processor_version"],
        failed_time=_ms(record["failed_time"]),
        source_topic=record["source_topic"],
        source_partition=record["source_partition"],
        source_offset=record["source_offset"],
        source_timestamp=(
            None if record["source_timestamp"] is None else _ms(record["source_timestamp"])
        ),
        event_type=record["event_type"],
        event_id=record["event_id"],
        shop_id=record["shop_id"],
        schema_fingerprint=record["schema_fingerprint"],
        reasons=tuple(Reason(r["path"], r["rule"], r["message"]) for r in record["reasons"]),
        encryption_key_id=record["encryption_key_id"],
        encrypted_key=record["encrypted_key"],
        encrypted_value=record["encrypted_value"],
    )


def _ms(value: dt.datetime | int) -> int:
    """fastavro reads timestamp-millis as an aware datetime; exact integer milliseconds back."""
    if isinstance(value, dt.datetime):
        return (value - _EPOCH) // _MS
    return value


def _as_uuid(value: str | uuid.UUID | None) -> str | None:
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


@cache
def _shop_id_pattern() -> re.Pattern[str]:
    spec = next(f for f in Contract.load().envelope_fields if f["name"] == "shop_id")
    return re.compile(spec["x-pattern"])


__all__ = [
    "DECODE_RULES",
    "DeadLetter",
    "Reason",
    "build_dead_letter",
    "dead_letter_codec",
    "decode_dead_letter",
    "encode_dead_letter",
    "reason_from_decode_error",
    "reasons_from_violations",
    "safe_message",
]
