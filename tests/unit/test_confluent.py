"""Confluent wire format: 00 | schema id | Avro binary.

No Schema Registry server can run on this machine (Confluent's is not served from the
registries we reach), so these tests use confluent-kafka's own in-memory registry client
(`mock://`). The system under test is our framing and resolution, which talk to the
client through its public API exactly as they would to a server.
"""

from __future__ import annotations

import json

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from shopstream.schemas.codec import HEADER_SIZE, Codec
from shopstream.schemas.confluent import ConfluentCodec
from shopstream.schemas.errors import (
    EncodeError,
    MalformedError,
    NotAvroError,
    TruncatedError,
    UnknownSchemaError,
)
from shopstream.schemas.examples import example_events

TOPIC = "shop.events.raw"


@pytest.fixture
def registry() -> SchemaRegistryClient:
    return SchemaRegistryClient.new_client({"url": "mock://shopstream-tests"})


@pytest.fixture
def confluent(registry: SchemaRegistryClient) -> ConfluentCodec:
    return ConfluentCodec(registry)


def test_every_type_round_trips_with_the_same_body_as_single_object(
    confluent: ConfluentCodec,
) -> None:
    single = Codec()
    for name, event in example_events().items():
        record = event.to_avro()
        data = confluent.encode(name, record, topic=TOPIC)
        assert data[0] == 0
        assert data[5:] == single.encode(name, record)[HEADER_SIZE:]
        decoded = confluent.decode(data)
        assert decoded.name == name
        assert decoded.record == record


def test_subjects_follow_the_topic_record_strategy(
    confluent: ConfluentCodec, registry: SchemaRegistryClient
) -> None:
    for name, event in example_events().items():
        confluent.encode(name, event.to_avro(), topic=TOPIC)
    assert sorted(registry.get_subjects()) == sorted(
        f"{TOPIC}-shopstream.events.{n.capitalize()}" for n in example_events()
    )


def test_framing_errors_are_typed_and_carry_the_bytes(confluent: ConfluentCodec) -> None:
    data = confluent.encode("visit", example_events()["visit"].to_avro(), topic=TOPIC)
    cases = [
        (b"\x01" + data[1:], NotAvroError),
        (data[:3], TruncatedError),
        (data[:-2], TruncatedError),
        (data + b"\x00", MalformedError),
        (b"\x00\x00\x00\x30\x39" + data[5:], UnknownSchemaError),
    ]
    for raw, error in cases:
        with pytest.raises(error) as caught:
            confluent.decode(raw)
        assert caught.value.raw == raw


def test_a_registered_schema_we_do_not_ship_is_unknown(registry: SchemaRegistryClient) -> None:
    foreign = {
        "type": "record",
        "name": "Other",
        "namespace": "elsewhere",
        "fields": [{"name": "x", "type": "int"}],
    }
    schema_id = registry.register_schema("other-value", Schema(json.dumps(foreign), "AVRO"))
    with pytest.raises(UnknownSchemaError, match="matches no shipped schema"):
        ConfluentCodec(registry).decode(b"\x00" + schema_id.to_bytes(4, "big") + b"\x02")


def test_a_bad_record_is_an_encode_error_naming_the_field(confluent: ConfluentCodec) -> None:
    record = {**example_events()["review"].to_avro(), "rating": "five"}
    with pytest.raises(EncodeError, match="rating"):
        confluent.encode("review", record, topic=TOPIC)
