"""Avro single-object encoding with fastavro.

Framing (Avro specification, "Single-object encoding")::

    C3 01 | 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema's
          | parsing canonical form | Avro binary of the record

A reader finds the writer schema by fingerprint among every shipped version and
resolves the record into the current version of the same event type, so data
written under an earlier schema still decodes.

Fingerprints follow the specification and the Java implementation: a primitive
with a ``logicalType`` appears in the canonical form as the bare primitive name
(``"long"``). The Python ``avro`` package keeps ``{"type":"long"}`` there, so its
``Schema.fingerprint()`` differs for schemas with logical types; its CRC-64 over
our canonical form is identical (tests/unit/test_codec.py).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Mapping
from typing import Any, NamedTuple

from fastavro import schemaless_reader, schemaless_writer
from fastavro.validation import validate as _fastavro_validate

from shopstream.schemas.contract import Contract, EventSchema
from shopstream.schemas.errors import (
    DecodeError,
    EncodeError,
    MalformedError,
    NotAvroError,
    TruncatedError,
    UnknownSchemaError,
)

MAGIC = b"\xc3\x01"
HEADER_SIZE = len(MAGIC) + 8


class DecodedEvent(NamedTuple):
    """A decoded event: its type, the schema it was written with, the record."""

    name: str
    writer_version: int
    fingerprint: bytes
    record: dict[str, Any]
    """The record resolved into the current version of ``name``."""


class Codec:
    """Encode and decode events of every schema in a :class:`Contract`."""

    def __init__(self, contract: Contract | None = None) -> None:
        self.contract = contract or Contract.load()
        self._current = {n: self.contract.latest(n) for n in self.contract.names}
        self._headers = {n: MAGIC + s.fingerprint for n, s in self._current.items()}

    def schema(self, name: str) -> EventSchema:
        """The current schema of an event type."""
        return self.contract.latest(name)

    def encode(self, name: str, record: Mapping[str, Any], *, validate: bool = False) -> bytes:
        """Encode ``record`` under the current schema of ``name``, single-object framed.

        fastavro's writer trusts its input and coerces some wrong types (``4.5`` written
        as ``4``, ``"no"`` as ``True``). Records from the SDK's models are already
        validated; pass ``validate=True`` for records from anywhere else, to check the
        Avro types first (about twice the cost of the encode itself).
        """
        try:
            schema = self._current[name]
            header = self._headers[name]
        except KeyError:
            raise EncodeError(
                f"unknown event type {name!r}", schema_name=name, record=record
            ) from None
        if validate:
            problem = _explain(schema, record)
            if problem:
                raise EncodeError(f"{name}: {problem}", schema_name=name, record=record)
        if record.get("schema_version") != schema.version:
            # The field states the version written with; the framing's fingerprint must agree.
            record = {**record, "schema_version": schema.version}
        buffer = io.BytesIO()
        buffer.write(header)
        try:
            schemaless_writer(buffer, schema.parsed, record)
        except Exception as exc:  # fastavro raises TypeError, ValueError, KeyError, ...
            raise EncodeError(
                f"{name}: {describe_encode_failure(schema, record, exc)}",
                schema_name=name,
                record=record,
            ) from exc
        return buffer.getvalue()

    def decode(self, data: bytes) -> DecodedEvent:
        """Decode single-object framed bytes; raise a :class:`DecodeError` subclass if not valid."""
        if len(data) < HEADER_SIZE:
            if data[: len(MAGIC)] != MAGIC[: len(data)]:
                raise NotAvroError(
                    "does not start with the Avro single-object marker C3 01", raw=data
                )
            raise TruncatedError(
                f"{len(data)} bytes: shorter than the {HEADER_SIZE}-byte header", raw=data
            )
        if data[:2] != MAGIC:
            raise NotAvroError(
                f"starts with {data[:2].hex()}, not the Avro single-object marker c301", raw=data
            )
        fingerprint = bytes(data[2:HEADER_SIZE])
        writer = self.contract.by_fingerprint(fingerprint)
        if writer is None:
            raise UnknownSchemaError(
                f"no known schema has fingerprint {fingerprint.hex()}",
                raw=data,
                fingerprint=fingerprint,
            )
        record = read_body(data, HEADER_SIZE, writer, self._current[writer.name])
        return DecodedEvent(writer.name, writer.version, fingerprint, record)


def read_body(data: bytes, offset: int, writer: EventSchema, reader: EventSchema) -> dict[str, Any]:
    """Read one Avro binary record from ``data[offset:]``; the whole rest must be the record."""
    buffer = io.BytesIO(data)
    buffer.seek(offset)
    reader_schema = None if reader is writer else reader.parsed
    try:
        record = schemaless_reader(buffer, writer.parsed, reader_schema)
    except Exception as exc:  # garbage bodies raise many types; a re-read tells which case
        if isinstance(exc, EOFError) or _runs_out(data, offset, writer, reader_schema):
            raise TruncatedError(
                f"{writer.name} v{writer.version}: body ends early", raw=data
            ) from exc
        raise MalformedError(
            f"{writer.name} v{writer.version}: not a valid record ({type(exc).__name__}: {exc})",
            raw=data,
        ) from exc
    if buffer.tell() != len(data):
        raise MalformedError(
            f"{writer.name} v{writer.version}: {len(data) - buffer.tell()} bytes after the record",
            raw=data,
        )
    if not isinstance(record, dict):  # pragma: no cover - a record schema always yields a dict
        raise MalformedError(f"{writer.name}: decoded to {type(record).__name__}", raw=data)
    return record


class _ReadTracker(io.BytesIO):
    """A buffer that notes when a read gets fewer bytes than it asked for."""

    ran_out = False

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        if size is not None and size > 0 and len(chunk) < size:
            self.ran_out = True
        return chunk


def _runs_out(data: bytes, offset: int, writer: EventSchema, reader_schema: Any) -> bool:
    """Did reading fail because the bytes ended (error path only)?

    The reader's position cannot tell: a bad enum or union index in the last byte
    leaves it at the end too. fastavro reads a varint byte by byte and fails with an
    IndexError, not an EOFError, when the bytes end inside one.
    """
    buffer = _ReadTracker(data)
    buffer.seek(offset)
    try:
        schemaless_reader(buffer, writer.parsed, reader_schema)
    except Exception:
        return buffer.ran_out
    return False  # pragma: no cover - the same bytes failed a moment ago


def describe_encode_failure(schema: EventSchema, record: Any, exc: Exception) -> str:
    """Why ``record`` failed to encode: field paths and type names, never values."""
    return _explain(schema, record) or _without_values(exc)


def _explain(schema: EventSchema, record: Any) -> str | None:
    """Name the failing fields and types, never their values (error and validate paths only)."""
    try:
        _fastavro_validate(record, schema.parsed, raise_errors=True)
    except Exception as exc:
        errors = getattr(exc, "errors", None)
        if not errors:
            return _without_values(exc)
        return "; ".join(
            f"{e.field}: {type(e.datum).__name__} does not fit {_schema_label(e.schema)}"
            for e in errors
        )
    if isinstance(record, Mapping):
        for spec in schema.fields:
            value = record.get(spec.path)
            if spec.logical_type == "uuid" and isinstance(value, str):
                try:
                    uuid.UUID(value)
                except ValueError:
                    return f"{spec.path}: str is not a UUID"
    return None


def _schema_label(schema: Any) -> str:
    if isinstance(schema, dict):
        return str(schema.get("name") or schema.get("logicalType") or schema.get("type"))
    if isinstance(schema, list):
        return " or ".join(_schema_label(s) for s in schema)
    return str(schema)


def _without_values(exc: Exception) -> str:
    """fastavro's own messages can quote the value; keep the exception type only."""
    return f"{type(exc).__name__} while writing"


__all__ = [
    "HEADER_SIZE",
    "MAGIC",
    "Codec",
    "DecodeError",
    "DecodedEvent",
    "describe_encode_failure",
    "read_body",
]
