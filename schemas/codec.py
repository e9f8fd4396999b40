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

import datetime as dt
import io
import re
import uuid
from collections.abc import Mapping
from typing import Any, NamedTuple

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.validation import validate as _fastavro_validate

from shopstream.schemas.contract import Contract, EventSchema
from shopstream.schemas.errors import (
    DecodeError,
    EncodeError,
    MalformedError,
    NotAvroError,
    SchemaDefinitionError,
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


PLAIN_LOGICAL_TYPES = ("uuid", "timestamp-millis")
"""The logical types a ``plain_ids_and_times`` codec leaves as they are on the wire."""


class Codec:
    """Encode and decode events of every schema in a :class:`Contract`.

    By default values of logical types are Python's: ``uuid.UUID``, aware UTC
    ``datetime``, ``date``. With ``plain_ids_and_times`` (stage 1's choice: it passes ids
    and times through, and fastavro's conversions cost a third of its decode) uuids stay
    text and timestamp-millis stay integer epoch milliseconds, both ways; dates are still
    dates. Decoding accepts and refuses exactly the same bytes either way, and gives the
    same values: a uuid in its canonical form (lower-case, hyphenated; another form that
    ``uuid.UUID`` reads is rewritten to it), a time within ``datetime``'s range.
    """

    def __init__(
        self, contract: Contract | None = None, *, plain_ids_and_times: bool = False
    ) -> None:
        self.contract = contract or Contract.load()
        self._current = {n: self.contract.latest(n) for n in self.contract.names}
        self._headers = {n: MAGIC + s.fingerprint for n, s in self._current.items()}
        self._plain: dict[int, _PlainSchema] | None = None
        if plain_ids_and_times:
            self._plain = {id(s): _PlainSchema.of(s) for s in self.contract}

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
        parsed = schema.parsed if self._plain is None else self._plain[id(schema)].parsed
        buffer = io.BytesIO()
        buffer.write(header)
        try:
            schemaless_writer(buffer, parsed, record)
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
        reader = self._current[writer.name]
        if self._plain is None:
            record = read_body(data, HEADER_SIZE, writer, reader)
        else:
            plain = self._plain[id(reader)]
            record = _read(data, HEADER_SIZE, writer, self._plain[id(writer)].parsed, plain.parsed)
            plain.check(record, data)
        return DecodedEvent(writer.name, writer.version, fingerprint, record)


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def datetime_from_millis(ms: int) -> dt.datetime:
    """The aware UTC datetime of epoch milliseconds: what the default codec decodes a
    timestamp-millis to, and a ``plain_ids_and_times`` codec leaves as the integer."""
    return EPOCH + dt.timedelta(milliseconds=ms)


_CANONICAL_UUID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
).fullmatch
_MIN_MS = -((EPOCH - dt.datetime.min.replace(tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1))
_MAX_MS = (dt.datetime.max.replace(tzinfo=dt.UTC) - EPOCH) // dt.timedelta(milliseconds=1)
"""The epoch milliseconds a datetime can hold: what fastavro's timestamp-millis reader accepts."""


class _PlainSchema(NamedTuple):
    """A schema parsed without the uuid and timestamp-millis logical types, and what
    decoding still owes: the checks fastavro's conversions made (top-level fields only:
    the contract has these types nowhere else, which :meth:`of` makes sure of)."""

    parsed: Any
    uuids: tuple[str, ...]
    times: tuple[str, ...]

    @classmethod
    def of(cls, schema: EventSchema) -> _PlainSchema:
        uuids = tuple(f["name"] for f in schema.avsc["fields"] if _logical(f["type"]) == "uuid")
        times = tuple(
            f["name"] for f in schema.avsc["fields"] if _logical(f["type"]) == "timestamp-millis"
        )
        if _count_logical(schema.avsc) != len(uuids) + len(times):
            raise SchemaDefinitionError(
                f"{schema.name} v{schema.version}: a uuid or timestamp-millis below the top "
                "level; plain_ids_and_times checks top-level fields only"
            )
        return cls(parse_schema(_without_logical(schema.avsc)), uuids, times)

    def check(self, record: dict[str, Any], data: bytes) -> None:
        """Refuse what fastavro's conversions would have refused; canonical uuid text."""
        for name in self.uuids:
            value = record.get(name)
            if isinstance(value, str) and not _CANONICAL_UUID(value):
                try:
                    record[name] = str(uuid.UUID(value))
                except ValueError as exc:
                    raise MalformedError(
                        f"{name}: not a UUID ({type(exc).__name__})", raw=data
                    ) from exc
        for name in self.times:
            value = record.get(name)
            if isinstance(value, int) and not _MIN_MS <= value <= _MAX_MS:
                raise MalformedError(f"{name}: outside the range of a datetime", raw=data)


def _logical(avro_type: Any) -> str | None:
    """The logical type of a field's type, looking inside a ``["null", X]`` union."""
    if isinstance(avro_type, list):
        found = {_logical(t) for t in avro_type} - {None}
        return found.pop() if len(found) == 1 else None
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        return logical if isinstance(logical, str) else None
    return None


def _count_logical(node: Any) -> int:
    """How many uuid and timestamp-millis annotations a schema has, anywhere in it."""
    if isinstance(node, list):
        return sum(_count_logical(x) for x in node)
    if isinstance(node, dict):
        own = 1 if node.get("logicalType") in PLAIN_LOGICAL_TYPES else 0
        return own + sum(_count_logical(v) for v in node.values())
    return 0


def _without_logical(avsc: Any) -> Any:
    """A copy of a schema without the uuid and timestamp-millis logical-type annotations."""
    if isinstance(avsc, dict):
        return {
            k: _without_logical(v)
            for k, v in avsc.items()
            if not (k == "logicalType" and v in PLAIN_LOGICAL_TYPES)
        }
    if isinstance(avsc, list):
        return [_without_logical(x) for x in avsc]
    return avsc


def read_body(data: bytes, offset: int, writer: EventSchema, reader: EventSchema) -> dict[str, Any]:
    """Read one Avro binary record from ``data[offset:]``; the whole rest must be the record."""
    return _read(data, offset, writer, writer.parsed, reader.parsed)


def _read(
    data: bytes, offset: int, writer: EventSchema, writer_parsed: Any, reader_parsed: Any
) -> dict[str, Any]:
    buffer = io.BytesIO(data)
    buffer.seek(offset)
    reader_schema = None if reader_parsed is writer_parsed else reader_parsed
    try:
        record = schemaless_reader(buffer, writer_parsed, reader_schema)
    except Exception as exc:  # garbage bodies raise many types; a re-read tells which case
        if isinstance(exc, EOFError) or _runs_out(data, offset, writer_parsed, reader_schema):
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


def _runs_out(data: bytes, offset: int, writer_parsed: Any, reader_schema: Any) -> bool:
    """Did reading fail because the bytes ended (error path only)?

    The reader's position cannot tell: a bad enum or union index in the last byte
    leaves it at the end too. fastavro reads a varint byte by byte and fails with an
    IndexError, not an EOFError, when the bytes end inside one.
    """
    buffer = _ReadTracker(data)
    buffer.seek(offset)
    try:
        schemaless_reader(buffer, writer_parsed, reader_schema)
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
    "EPOCH",
    "HEADER_SIZE",
    "MAGIC",
    "PLAIN_LOGICAL_TYPES",
    "Codec",
    "DecodeError",
    "DecodedEvent",
    "datetime_from_millis",
    "describe_encode_failure",
    "read_body",
]
