"""Optional Confluent wire format: ``00 | 4-byte big-endian schema id | Avro binary``.

For teams that run a Schema Registry. Encoding goes through confluent-kafka's
``AvroSerializer`` (registration, subject naming); all event types share the raw
topic, so subjects follow the topic-record strategy (``<topic>-<record full name>``).
Decoding looks the schema id up in the registry once, matches the registered schema
to a shipped version by fingerprint, and reads with the same resolution into the
current version as :class:`~shopstream.schemas.codec.Codec`.

Needs the ``registry`` extra: ``pip install 'shopstream[registry]'``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from shopstream.schemas.codec import DecodedEvent, describe_encode_failure, read_body
from shopstream.schemas.contract import Contract, EventSchema, fingerprint_of
from shopstream.schemas.errors import EncodeError, NotAvroError, TruncatedError, UnknownSchemaError

try:
    from confluent_kafka.schema_registry import (
        SchemaRegistryClient,
        SchemaRegistryError,
        topic_record_subject_name_strategy,
    )
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "the Confluent wire format needs the registry extra: pip install 'shopstream[registry]'"
    ) from exc

MAGIC_BYTE = b"\x00"
HEADER_SIZE = 5


class ConfluentCodec:
    """Encode and decode events in the Confluent wire format against a Schema Registry."""

    def __init__(
        self,
        registry: SchemaRegistryClient,
        contract: Contract | None = None,
        *,
        auto_register: bool = True,
    ) -> None:
        self.contract = contract or Contract.load()
        self._registry = registry
        conf = {
            "auto.register.schemas": auto_register,
            "subject.name.strategy": topic_record_subject_name_strategy,
        }
        self._serializers = {
            name: AvroSerializer(registry, json.dumps(self.contract.latest(name).avsc), conf=conf)
            for name in self.contract.names
        }
        self._writers: dict[int, EventSchema] = {}

    def encode(self, name: str, record: Mapping[str, Any], *, topic: str) -> bytes:
        serializer = self._serializers.get(name)
        if serializer is None:
            raise EncodeError(f"unknown event type {name!r}", schema_name=name, record=record)
        try:
            version = self.contract.latest(name).version
            data = serializer(
                {**record, "schema_version": version},
                SerializationContext(topic, MessageField.VALUE),
            )
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
            # Registry and network errors propagate: they are not a problem of the record.
            schema = self.contract.latest(name)
            raise EncodeError(
                f"{name}: {describe_encode_failure(schema, record, exc)}",
                schema_name=name,
                record=record,
            ) from exc
        if not isinstance(data, bytes):  # the serializer returns None only for a None record
            raise EncodeError(
                f"{name}: serializer returned no bytes", schema_name=name, record=record
            )
        return data

    def decode(self, data: bytes) -> DecodedEvent:
        if len(data) < HEADER_SIZE:
            if data[:1] not in (b"", MAGIC_BYTE):
                raise NotAvroError("does not start with the Confluent magic byte 00", raw=data)
            raise TruncatedError(f"{len(data)} bytes: shorter than the 5-byte header", raw=data)
        if data[:1] != MAGIC_BYTE:
            raise NotAvroError(
                f"starts with {data[:1].hex()}, not the Confluent magic byte 00", raw=data
            )
        schema_id = int.from_bytes(data[1:HEADER_SIZE], "big")
        writer = self._writer(schema_id, data)
        current = self.contract.latest(writer.name)
        record = read_body(data, HEADER_SIZE, writer, current)
        return DecodedEvent(writer.name, writer.version, writer.fingerprint, record)

    def _writer(self, schema_id: int, data: bytes) -> EventSchema:
        writer = self._writers.get(schema_id)
        if writer is not None:
            return writer
        id_bytes = schema_id.to_bytes(8, "little")
        try:
            registered = self._registry.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise UnknownSchemaError(
                    f"schema id {schema_id} is not in the registry", raw=data, fingerprint=id_bytes
                ) from exc
            raise
        fingerprint = fingerprint_of(json.loads(registered.schema_str or "{}"))
        writer = self.contract.by_fingerprint(fingerprint)
        if writer is None:
            raise UnknownSchemaError(
                f"schema id {schema_id} (fingerprint {fingerprint.hex()}) matches no shipped schema",
                raw=data,
                fingerprint=fingerprint,
            )
        self._writers[schema_id] = writer
        return writer


__all__ = ["ConfluentCodec"]
