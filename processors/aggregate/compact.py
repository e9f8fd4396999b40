"""Lossless short forms of what the state stores: times as ms, ids and pseudonyms as base64.

The state is JSON and is read and written once per event, so its size is its cost. A
canonical UUID (36 characters) is stored as the base64 of its 16 bytes (22), a
lower-case hex SHA-256 pseudonym (64) as the base64 of its 32 bytes (43). Anything else
is kept verbatim behind a ``=`` (a character unpadded base64 never starts with), so
every short form maps back to exactly the string it came from.
"""

from __future__ import annotations

import binascii
import uuid
from datetime import UTC, datetime, timedelta

from shopstream.schemas.codec import EPOCH as _EPOCH
from shopstream.schemas.codec import datetime_from_millis

DAY_MS = 86_400_000
_MS = timedelta(milliseconds=1)
_VERBATIM = "="


def to_ms(value: datetime | int) -> int:
    """Milliseconds since the epoch of a decoded timestamp-millis (aware datetime or int).

    Exact integer arithmetic: ``int(t.timestamp() * 1000)`` is off by one for some values.
    A naive datetime is taken as UTC.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return (value - _EPOCH) // _MS
    return int(value)


def to_datetime(ms: int) -> datetime:
    """The aware UTC datetime of ``ms`` (what fastavro decodes timestamp-millis to)."""
    return datetime_from_millis(ms)


def compact_id(event_id: object) -> str:
    """Short form of ``str(event_id)``: base64 of the UUID bytes when it is a canonical UUID."""
    if isinstance(event_id, uuid.UUID):
        return binascii.b2a_base64(event_id.bytes, newline=False)[:22].decode("ascii")
    text = str(event_id)
    if len(text) == 36 and text[8] == text[13] == text[18] == text[23] == "-":
        hexits = text.replace("-", "")
        raw = _from_lower_hex(hexits, 16)
        if raw is not None:
            return binascii.b2a_base64(raw, newline=False)[:22].decode("ascii")
    return _VERBATIM + text


def expand_id(short: str) -> str:
    """The ``str(event_id)`` that :func:`compact_id` made ``short`` from."""
    if short.startswith(_VERBATIM):
        return short[1:]
    return str(uuid.UUID(bytes=binascii.a2b_base64(short + "==")))


def compact_pseudonym(pseudonym: str) -> str:
    """Short form of a pseudonym: base64 of the bytes of 64 lower-case hex digits."""
    if len(pseudonym) == 64:
        raw = _from_lower_hex(pseudonym, 32)
        if raw is not None:
            return binascii.b2a_base64(raw, newline=False)[:43].decode("ascii")
    return _VERBATIM + pseudonym


def expand_pseudonym(short: str) -> str:
    """The pseudonym that :func:`compact_pseudonym` made ``short`` from."""
    if short.startswith(_VERBATIM):
        return short[1:]
    return binascii.a2b_base64(short + "=").hex()


def _from_lower_hex(hexits: str, size: int) -> bytes | None:
    try:
        raw = bytes.fromhex(hexits)
    except ValueError:
        return None
    # fromhex also takes upper case and spaces; only the canonical spelling is shortened.
    return raw if len(raw) == size and raw.hex() == hexits else None


__all__ = [
    "DAY_MS",
    "compact_id",
    "compact_pseudonym",
    "expand_id",
    "expand_pseudonym",
    "to_datetime",
    "to_ms",
]
