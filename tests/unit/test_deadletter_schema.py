"""The dead-letter schema: golden bytes, an independent decoder, its annotations.

A change to schemas/avro/deadletter/dead_letter/v1.avsc changes the fingerprint and these
bytes: a deliberate change needs a v2 beside v1 and new golden bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from typing import Any

import avro.io
import avro.schema
import pytest

from shopstream.processors.deadletter import (
    DeadLetter,
    DeadLetterDecodeError,
    Reason,
    decode_dead_letter,
    encode_dead_letter,
)
from shopstream.processors.deadletter.letters import dead_letter_codec
from shopstream.schemas.contract import Contract, schemas_root
from shopstream.schemas.conventions import check_contract

AVSC = schemas_root() / "deadletter" / "dead_letter" / "v1.avsc"

GOLDEN = DeadLetter(
    dead_letter_id="4f0d6c1e-2b3a-4c5d-8e9f-a0b1c2d3e4f5",
    processor="clean",
    processor_version="0.1.0",
    failed_time=1741944414123,
    source_topic="shop.events.raw",
    source_partition=3,
    source_offset=1234567,
    source_timestamp=1741944413589,
    event_type="signup",
    event_id="0195b1a2-3c4d-7e5f-8a9b-0c1d2e3f4a5b",
    shop_id="gildong-mart",
    schema_fingerprint="0123456789abcdef",
    reasons=(
        Reason("email", "format", "does not match the email format"),
        Reason("$", "buyer_or_anonymous", "neither buyer_id nor anonymous_id is set"),
    ),
    encryption_key_id="dlq-0011223344556677",
    encrypted_key=bytes(range(12)) + b"KEY" + bytes(range(16)),
    encrypted_value=bytes(range(12)) + b"VALUE" + bytes(range(16, 32)),
)

GOLDEN_HEX = (
    "c301037404e3f9d1eab74834663064366331652d326233612d346335642d386539662d613062316332643365"
    "3466350a636c65616e0a302e312e30d6fed2bfb2651e73686f702e6576656e74732e726177068eda960102aa"
    "f6d2bfb265020c7369676e7570024830313935623161322d336334642d376535662d386139622d3063316432"
    "65336634613562021867696c646f6e672d6d617274022030313233343536373839616263646566040a656d61"
    "696c0c666f726d61743e646f6573206e6f74206d617463682074686520656d61696c20666f726d6174022424"
    "62757965725f6f725f616e6f6e796d6f7573506e6569746865722062757965725f6964206e6f7220616e6f6e"
    "796d6f75735f6964206973207365740028646c712d30303131323233333434353536363737023e0001020304"
    "05060708090a0b4b4559000102030405060708090a0b0c0d0e0f42000102030405060708090a0b56414c5545"
    "101112131415161718191a1b1c1d1e1f"
)

GOLDEN_FINGERPRINT = "037404e3f9d1eab7"


def test_encode_gives_the_golden_bytes() -> None:
    assert encode_dead_letter(GOLDEN).hex() == GOLDEN_HEX


def test_golden_bytes_decode_to_the_letter() -> None:
    assert decode_dead_letter(bytes.fromhex(GOLDEN_HEX)) == GOLDEN


def test_nulls_round_trip() -> None:
    letter = DeadLetter(
        **{
            **{f: getattr(GOLDEN, f) for f in GOLDEN.__dataclass_fields__},
            "source_timestamp": None,
            "event_type": None,
            "event_id": None,
            "shop_id": None,
            "schema_fingerprint": None,
            "encrypted_key": None,
        }
    )
    assert decode_dead_letter(encode_dead_letter(letter)) == letter


def test_framing_names_the_schema_fingerprint() -> None:
    data = bytes.fromhex(GOLDEN_HEX)
    assert data[:2] == b"\xc3\x01"
    assert data[2:10].hex() == GOLDEN_FINGERPRINT
    assert dead_letter_codec().schema("dead_letter").fingerprint_hex == GOLDEN_FINGERPRINT


# -- the reference implementation, independent of fastavro and our codec ----------------------


def _reference_schema() -> avro.schema.Schema:
    return avro.schema.parse(AVSC.read_text("utf-8"))


def test_reference_package_computes_the_same_fingerprint() -> None:
    # The spec writes a primitive with a logicalType as the bare name in the canonical form;
    # the reference package keeps {"type":"long"} (see schemas/codec.py).
    canonical = re.sub(
        r'\{"type":"(null|boolean|int|long|float|double|bytes|string)"\}',
        r'"\1"',
        _reference_schema().canonical_form,
    )
    fingerprint = avro.schema._crc_64_fingerprint(canonical.encode("utf-8"))
    assert fingerprint.hex() == GOLDEN_FINGERPRINT


def test_reference_package_decodes_the_golden_bytes() -> None:
    body = io.BytesIO(bytes.fromhex(GOLDEN_HEX)[10:])
    record: dict[str, Any] = avro.io.DatumReader(_reference_schema()).read(
        avro.io.BinaryDecoder(body)
    )
    assert body.read() == b""  # the whole body is the record
    assert record["dead_letter_id"] == GOLDEN.dead_letter_id
    assert record["failed_time"] == dt.datetime(2025, 3, 14, 9, 26, 54, 123000, tzinfo=dt.UTC)
    assert record["source_timestamp"] == dt.datetime(2025, 3, 14, 9, 26, 53, 589000, tzinfo=dt.UTC)
    assert (record["source_topic"], record["source_partition"], record["source_offset"]) == (
        "shop.events.raw",
        3,
        1234567,
    )
    assert [tuple(r.values()) for r in record["reasons"]] == [
        (r.path, r.rule, r.message) for r in GOLDEN.reasons
    ]
    assert record["encrypted_key"] == GOLDEN.encrypted_key
    assert record["encrypted_value"] == GOLDEN.encrypted_value
    plain = ("processor", "processor_version", "event_type", "event_id", "shop_id")
    assert {k: record[k] for k in plain} == {k: getattr(GOLDEN, k) for k in plain}


# -- annotations and the main contract ---------------------------------------------------------


def _fields(record: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for field in record["fields"]:
        found.append(field)
        kind = field["type"]
        if isinstance(kind, dict) and kind.get("type") == "array":
            found.extend(_fields(kind["items"]))
    return found


def test_every_field_is_documented_and_holds_no_personal_data() -> None:
    fields = _fields(json.loads(AVSC.read_text("utf-8")))
    assert len(fields) == 19  # 16 top-level, 3 in Reason
    for field in fields:
        assert field["doc"], field["name"]
        assert field["x-pii"] == "none", field["name"]
        assert field["x-treatment"], field["name"]
    treatments = {f["name"]: f["x-treatment"] for f in fields}
    # The word before ':' is the pipeline's treatment (the dead-letter topic is never
    # pseudonymised, it holds nothing in the clear); the rest says how the bytes are kept.
    for name in ("encrypted_key", "encrypted_value"):
        assert treatments[name].startswith("keep: encrypted with AES-256-GCM"), name


def test_deadletter_contract_keeps_the_conventions() -> None:
    contract = Contract.load(schemas_root() / "deadletter")
    assert contract.names == ("dead_letter",)
    assert check_contract(contract) == []


def test_main_contract_does_not_load_the_dead_letter_schema() -> None:
    contract = Contract.load()
    assert "deadletter" not in contract.names
    assert "dead_letter" not in contract.names
    assert contract.by_fingerprint(bytes.fromhex(GOLDEN_FINGERPRINT)) is None


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc3",
        b"hello, not avro",
        b'{"email": "gildong.kim@example.com"}',
        bytes.fromhex(GOLDEN_HEX)[:-5],  # truncated
        bytes.fromhex(GOLDEN_HEX) + b"\x00",  # trailing bytes
        b"\xc3\x01" + b"\x00" * 8 + b"body",  # unknown schema
    ],
    ids=["empty", "one-byte", "text", "json", "truncated", "trailing", "unknown-schema"],
)
def test_garbage_is_a_typed_error(data: bytes) -> None:
    with pytest.raises(DeadLetterDecodeError) as caught:
        decode_dead_letter(data)
    assert caught.value.raw == data
    assert "gildong" not in str(caught.value)


def test_an_event_is_not_a_dead_letter() -> None:
    from shopstream.schemas.codec import Codec

    from .records import GOLDEN_RECORDS

    event = Codec().encode("visit", GOLDEN_RECORDS["visit"])
    with pytest.raises(DeadLetterDecodeError, match="no known schema"):
        decode_dead_letter(event)
