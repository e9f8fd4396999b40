"""The codec: Avro single-object encoding, proved against the specification and the reference `avro` package.

Golden bytes were derived without our codec: ``C3 01`` + the CRC-64-AVRO fingerprint of
the parsing canonical form + the body written by the reference package's
``DatumWriter`` / ``BinaryEncoder`` (see :func:`reference_single_object`). They are
frozen here as hex, so any change to a schema or to the codec shows up as a failing
test; a deliberate schema change needs a new version and new golden bytes.
"""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import avro.io
import avro.schema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopstream.schemas import Codec, Contract, DecodedEvent, DecodeError, EncodeError
from shopstream.schemas.codec import HEADER_SIZE, MAGIC, read_body
from shopstream.schemas.contract import schemas_root
from shopstream.schemas.errors import (
    MalformedError,
    NotAvroError,
    TruncatedError,
    UnknownSchemaError,
)

from .records import GOLDEN_RECORDS
from .schema_strategies import avro_records

# Example counts come from the loaded profile (tests/conftest.py): "ci" by default, "soak" in make soak.
PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
EVENT_NAMES = ("signup", "visit", "review", "purchase", "product")
DECODE_ERRORS = (NotAvroError, TruncatedError, UnknownSchemaError, MalformedError)

# Frozen from reference_single_object(); see the module docstring.
GOLDEN_HEX: dict[str, str] = {
    "signup": (
        "c301ed2d0582f86fcc814830313935623161322d336334642d376535662d386139622d3063316432"
        "65336634613562021867696c646f6e672d6d617274aaf6d2bfb265f8fcd2bfb265021a6d656d6265"
        "722d30303031323302146465762d376633613963000212eab980eab8b8eb8f99022e67696c646f6e"
        "672e6b696d406578616d706c652e636f6d021a3031302d323232322d33333333021eec849cec9ab8"
        "ed8ab9ebb384ec8b9c0218ec9881eb93b1ed8faceab5ac024cec97acec9d98eb8f84eb8f9920ed91"
        "b8eba5b8ec9584ed8c8ced8ab82033eb8f992032ed98b8020a303733323702b486010002010001"
    ),
    "visit": (
        "c3015cb0090295277a7d4830313935623161322d336334642d376535662d386139622d3063316432"
        "65336634613563021867696c646f6e672d6d617274aaf6d2bfb265f8fcd2bfb2650002146465762d"
        "376633613963020e736573732d303104020c502d313030310202aaf105"
    ),
    "review": (
        "c301214ffda7adca19724830313935623161322d336334642d376535662d386139622d3063316432"
        "65336634613564021867696c646f6e672d6d617274aaf6d2bfb265f8fcd2bfb265021a6d656d6265"
        "722d30303031323300000c502d31303031021a4f52442d323032352d303030310a029801ebb0b0ec"
        "86a1ec9db420ebb9a8eb9dbcec9a942e20eab7a4ec9db420eb8baceab3a020eba79bec9e88ec96b4"
        "ec9a942120eb8ba4ec9d8cec9790eb8f8420ec82b4eab28cec9a9420f09f8d8a01"
    ),
    "purchase": (
        "c30191ce9d5991e74f134830313935623161322d336334642d376535662d386139622d3063316432"
        "65336634613565021867696c646f6e672d6d617274aaf6d2bfb265f8fcd2bfb265021a6d656d6265"
        "722d30303031323300020e736573732d30311a4f52442d323032352d30303031040c502d31303031"
        "0e432d465255495404c8c901d00f0c502d3230303212432d4b49544348454e0290bf050000d0c208"
        "064b52570800"
    ),
    "product": (
        "c301589db3b0d29d0ddb4830313935623161322d336334642d376535662d386139622d3063316432"
        "65336634613566021867696c646f6e672d6d617274aaf6d2bfb265f8fcd2bfb2650000000c502d31"
        "30303122eca09ceca3bc20eab090eab7a420356b670e432d4652554954060cec8b9ded92880ceab3"
        "bcec9dbc0ceab090eab7a400000218ed959ceb9dbceb868dec9b90021273656c6c65722d34328882"
        "04064b52570102020ceca3bced99a90206356b6700000218ec8388ecbda4eb8bacecbda402a05100"
    ),
}


# -- the independent encoder ----------------------------------------------------------------

_PRIMITIVE_OBJECT = re.compile(r'\{"type":"(null|boolean|int|long|float|double|bytes|string)"\}')


def reference_schema(name: str, root: Path | None = None) -> avro.schema.Schema:
    """The .avsc file parsed by the reference package (not by our Contract)."""
    return avro.schema.parse((root or schemas_root()).joinpath(name, "v1.avsc").read_text("utf-8"))


def spec_canonical_form(schema: avro.schema.Schema) -> str:
    """The reference package's canonical form with the spec's [PRIMITIVES] rule applied.

    The package keeps ``{"type":"long"}`` where a logicalType was stripped; the
    specification (and Java, and fastavro) write ``"long"``.
    """
    return _PRIMITIVE_OBJECT.sub(r'"\1"', schema.canonical_form)


def for_reference(value: Any) -> Any:
    """The reference package writes and reads the uuid logical type as ``str``."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {k: for_reference(v) for k, v in value.items()}
    if isinstance(value, list):
        return [for_reference(v) for v in value]
    return value


def reference_single_object(name: str, record: Mapping[str, Any]) -> bytes:
    """Single-object encoding built from the Avro specification and the reference package only."""
    schema = reference_schema(name)
    fingerprint = avro.schema._crc_64_fingerprint(spec_canonical_form(schema).encode("utf-8"))
    body = io.BytesIO()
    avro.io.DatumWriter(schema).write(for_reference(record), avro.io.BinaryEncoder(body))
    return b"\xc3\x01" + fingerprint + body.getvalue()


def reference_decode(writer: avro.schema.Schema, data: bytes) -> Any:
    """Strip the 10-byte header and read the body with the reference package."""
    decoder = avro.io.BinaryDecoder(io.BytesIO(data[10:]))
    return avro.io.DatumReader(writer).read(decoder)


@pytest.fixture(scope="module")
def codec() -> Codec:
    return Codec()


# -- golden bytes ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_encode_gives_the_golden_bytes(codec: Codec, name: str) -> None:
    assert codec.encode(name, GOLDEN_RECORDS[name]).hex() == GOLDEN_HEX[name]


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_golden_bytes_decode_to_the_record(codec: Codec, name: str) -> None:
    decoded = codec.decode(bytes.fromhex(GOLDEN_HEX[name]))
    assert decoded.name == name
    assert decoded.writer_version == 1
    assert decoded.fingerprint == bytes.fromhex(GOLDEN_HEX[name])[2:10]
    assert decoded.record == GOLDEN_RECORDS[name]


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_golden_bytes_agree_with_the_reference_encoding(name: str) -> None:
    assert reference_single_object(name, GOLDEN_RECORDS[name]).hex() == GOLDEN_HEX[name]


def test_golden_records_cover_every_event_type() -> None:
    assert set(GOLDEN_RECORDS) == set(GOLDEN_HEX) == set(Contract.load().names)


def _zigzag_varint(n: int) -> bytes:
    """A long as the Avro specification writes it: zig-zag, then 7 bits a byte, low first."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        byte, z = z & 0x7F, z >> 7
        out.append(byte | (0x80 if z else 0))
        if not z:
            return bytes(out)


def test_zigzag_varint_matches_the_spec_examples() -> None:
    # The specification's table: 0 -> 00, -1 -> 01, 1 -> 02, -2 -> 03, 2 -> 04, -64 -> 7f, 64 -> 80 01
    examples = {0: "00", -1: "01", 1: "02", -2: "03", 2: "04", -64: "7f", 64: "8001"}
    assert {n: _zigzag_varint(n).hex() for n in examples} == examples


def test_golden_bytes_keep_hangul_as_utf8() -> None:
    # A string is the zig-zag varint of its UTF-8 byte count, then the bytes.
    text = GOLDEN_RECORDS["review"]["text"].encode("utf-8")
    golden = bytes.fromhex(GOLDEN_HEX["review"])
    assert _zigzag_varint(len(text)) + text in golden
    name = GOLDEN_RECORDS["signup"]["name"].encode("utf-8")
    assert name == bytes.fromhex("eab980eab8b8eb8f99")  # 김길동, 3 bytes a syllable
    # union branch 1 (string), then the string
    assert b"\x02" + _zigzag_varint(len(name)) + name in bytes.fromhex(GOLDEN_HEX["signup"])


# -- interoperability with the reference package --------------------------------------------


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_reference_package_decodes_our_bytes(codec: Codec, name: str) -> None:
    data = codec.encode(name, GOLDEN_RECORDS[name])
    assert reference_decode(reference_schema(name), data) == for_reference(GOLDEN_RECORDS[name])


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_header_fingerprint_is_crc64_of_our_canonical_form(codec: Codec, name: str) -> None:
    schema = codec.schema(name)
    data = codec.encode(name, GOLDEN_RECORDS[name])
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == avro.schema._crc_64_fingerprint(schema.canonical_form.encode("utf-8"))
    assert schema.fingerprint == data[2:10]


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_canonical_form_differs_from_the_reference_package_only_by_primitive_objects(
    name: str,
) -> None:
    ours = Contract.load().latest(name).canonical_form
    theirs = reference_schema(name).canonical_form
    # The package keeps {"type":"long"} where it stripped a logicalType (every schema has
    # timestamp-millis), so its own fingerprint() cannot be used to frame our messages ...
    assert theirs != ours
    assert '{"type":"long"}' in theirs
    assert reference_schema(name).fingerprint() != Contract.load().latest(name).fingerprint
    # ... and once {"type":"<primitive>"} is written "<primitive>" the two are identical.
    assert spec_canonical_form(reference_schema(name)) == ours


def test_canonical_form_follows_the_spec_for_logical_types() -> None:
    canonical = json.loads(Contract.load().latest("signup").canonical_form)
    fields = {f["name"]: f["type"] for f in canonical["fields"]}
    assert fields["event_id"] == "string"  # uuid stripped to its primitive
    assert fields["event_time"] == "long"  # timestamp-millis
    assert fields["birth_date"] == ["null", "int"]  # date inside a union


# -- properties over random records ---------------------------------------------------------


@pytest.mark.parametrize("name", EVENT_NAMES)
@PROPERTY
@given(data=st.data())
def test_random_records_round_trip(codec: Codec, name: str, data: st.DataObject) -> None:
    drawn = data.draw(avro_records(codec.schema(name).avsc))
    encoded = codec.encode(name, drawn)
    # The codec writes the version of the schema it encodes with, whatever the record said.
    record = {**drawn, "schema_version": codec.schema(name).version}
    decoded = codec.decode(encoded)
    assert decoded.name == name
    assert decoded.record == record
    assert reference_decode(reference_schema(name), encoded) == for_reference(record)


@pytest.mark.parametrize("name", EVENT_NAMES)
@PROPERTY
@given(data=st.data())
def test_every_strict_prefix_is_truncated(codec: Codec, name: str, data: st.DataObject) -> None:
    encoded = codec.encode(name, data.draw(avro_records(codec.schema(name).avsc)))
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(TruncatedError) as caught:
        codec.decode(encoded[:cut])
    assert caught.value.raw == encoded[:cut]


def _fingerprints() -> list[bytes]:
    return [s.fingerprint for s in Contract.load()]


def _mutated(data: st.DataObject, encoded: bytes) -> bytes:
    how = data.draw(st.sampled_from(["flip", "insert", "delete", "append", "truncate"]))
    at = data.draw(st.integers(0, len(encoded) - 1))
    if how == "flip":
        return (
            encoded[:at] + bytes([encoded[at] ^ data.draw(st.integers(1, 255))]) + encoded[at + 1 :]
        )
    if how == "insert":
        return encoded[:at] + data.draw(st.binary(min_size=1, max_size=8)) + encoded[at:]
    if how == "delete":
        return encoded[:at] + encoded[at + 1 :]
    if how == "append":
        return encoded + data.draw(st.binary(min_size=1, max_size=8))
    return encoded[:at]


def _decode_or_error(codec: Codec, raw: bytes) -> DecodedEvent | DecodeError:
    # Anything but a DecodeError propagates and fails the test.
    try:
        return codec.decode(raw)
    except DecodeError as exc:
        return exc


def _assert_decodes_or_raises_decode_error(codec: Codec, raw: bytes) -> None:
    outcome = _decode_or_error(codec, raw)
    if isinstance(outcome, DecodeError):
        assert type(outcome) in DECODE_ERRORS
        assert outcome.raw == raw
        assert outcome.reason in {"not_avro", "truncated", "unknown_schema", "malformed"}
    else:
        assert isinstance(outcome.record, dict)
        assert outcome.name in EVENT_NAMES


@PROPERTY
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_decode(codec: Codec, raw: bytes) -> None:
    _assert_decodes_or_raises_decode_error(codec, raw)


@PROPERTY
@given(fingerprint=st.sampled_from(_fingerprints()), body=st.binary(max_size=300))
def test_random_bodies_behind_a_known_header_never_crash_decode(
    codec: Codec, fingerprint: bytes, body: bytes
) -> None:
    _assert_decodes_or_raises_decode_error(codec, MAGIC + fingerprint + body)


@pytest.mark.parametrize("name", EVENT_NAMES)
@PROPERTY
@given(data=st.data())
def test_damaged_messages_never_crash_decode(codec: Codec, name: str, data: st.DataObject) -> None:
    encoded = codec.encode(name, data.draw(avro_records(codec.schema(name).avsc)))
    _assert_decodes_or_raises_decode_error(codec, _mutated(data, encoded))


# -- typed decode errors --------------------------------------------------------------------


def _golden(name: str) -> bytes:
    return bytes.fromhex(GOLDEN_HEX[name])


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00\x00\x00\x00\x07" + _golden("visit")[10:],  # Confluent wire format
        b'{"event_id": "x"}',
        b"\xc3\x02" + _golden("visit")[2:],  # marker of an unknown single-object version
        b"\x00",
        b"\xc4",
    ],
    ids=["confluent", "json", "wrong-version-byte", "one-zero-byte", "one-wrong-byte"],
)
def test_wrong_magic_is_not_avro(codec: Codec, raw: bytes) -> None:
    with pytest.raises(NotAvroError) as caught:
        codec.decode(raw)
    assert caught.value.raw == raw
    assert caught.value.reason == "not_avro"


@pytest.mark.parametrize("size", range(HEADER_SIZE))
def test_short_header_is_truncated(codec: Codec, size: int) -> None:
    raw = _golden("visit")[:size]
    with pytest.raises(TruncatedError) as caught:
        codec.decode(raw)
    assert caught.value.raw == raw
    assert caught.value.reason == "truncated"


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_body_cut_short_is_truncated(codec: Codec, name: str) -> None:
    golden = _golden(name)
    for cut in range(HEADER_SIZE, len(golden)):
        with pytest.raises(TruncatedError):
            codec.decode(golden[:cut])


def test_unknown_fingerprint_is_named(codec: Codec) -> None:
    unknown = bytes(range(1, 9))
    assert unknown not in _fingerprints()
    raw = MAGIC + unknown + _golden("visit")[10:]
    with pytest.raises(UnknownSchemaError) as caught:
        codec.decode(raw)
    assert caught.value.fingerprint == unknown
    assert caught.value.raw == raw
    assert unknown.hex() in str(caught.value)
    assert caught.value.reason == "unknown_schema"


@pytest.mark.parametrize("trailer", [b"\x00", b"\x02abc"])
def test_trailing_bytes_are_malformed(codec: Codec, trailer: bytes) -> None:
    raw = _golden("visit") + trailer
    with pytest.raises(MalformedError) as caught:
        codec.decode(raw)
    assert caught.value.raw == raw
    assert "after the record" in str(caught.value)


def _visit_body(shop_id: bytes, page_type_index: int) -> bytes:
    """A visit body written field by field with the reference BinaryEncoder."""
    out = io.BytesIO()
    enc = avro.io.BinaryEncoder(out)
    enc.write_utf8("0195b1a2-3c4d-7e5f-8a9b-0c1d2e3f4a5c")
    enc.write_int(1)
    enc.write_bytes(shop_id)  # a string is length-prefixed bytes: lets us write invalid UTF-8
    enc.write_long(1741944413589)
    enc.write_long(1741944414012)
    for _ in range(3):  # buyer_id, anonymous_id, session_id: the null branch
        enc.write_long(0)
    enc.write_int(page_type_index)
    enc.write_long(0)  # product_id null
    enc.write_int(7)  # referrer_class unknown
    enc.write_int(4)  # device unknown
    enc.write_long(0)  # dwell_ms
    return out.getvalue()


def test_hand_written_visit_body_decodes(codec: Codec) -> None:
    # Guards the two malformed cases below: only the one named byte is wrong in each.
    raw = MAGIC + codec.schema("visit").fingerprint + _visit_body(b"gildong-mart", 2)
    record = codec.decode(raw).record
    assert (record["shop_id"], record["page_type"], record["dwell_ms"]) == (
        "gildong-mart",
        "product",
        0,
    )


@pytest.mark.parametrize(
    ("shop_id", "page_type_index"),
    [
        (b"gildong-\xff\xfe", 2),
        (b"gildong-mart", 8),
        pytest.param(
            b"gildong-mart",
            -1,
            marks=pytest.mark.xfail(
                strict=True,
                reason="fastavro indexes enum symbols (and union branches) Python-style: -1 reads "
                "as the last symbol instead of failing",
            ),
        ),
    ],
    ids=["invalid-utf8", "enum-index-past-symbols", "negative-enum-index"],
)
def test_invalid_body_is_malformed(codec: Codec, shop_id: bytes, page_type_index: int) -> None:
    raw = MAGIC + codec.schema("visit").fingerprint + _visit_body(shop_id, page_type_index)
    with pytest.raises(MalformedError) as caught:
        codec.decode(raw)
    assert caught.value.raw == raw
    assert caught.value.reason == "malformed"


@pytest.mark.parametrize(
    ("name", "last_byte"),
    [("purchase", _zigzag_varint(4)), ("product", _zigzag_varint(2))],
    ids=["status-enum-index-past-symbols", "intangible-union-index-past-branches"],
)
def test_bad_index_in_the_last_byte_is_malformed_not_truncated(
    codec: Codec, name: str, last_byte: bytes
) -> None:
    # The reader stops at the very end here, exactly as it does when the bytes run out.
    golden = _golden(name)
    assert golden[-1:] == b"\x00"  # status "ordered" / intangible null
    raw = golden[:-1] + last_byte
    with pytest.raises(MalformedError):
        codec.decode(raw)


# -- schema resolution across versions ------------------------------------------------------

SCROLL_DEPTH = {
    "name": "scroll_depth",
    "type": "int",
    "default": -1,
    "doc": "How far down the page the visitor scrolled; -1 when not measured.",
    "x-min": -1,
    "x-max": 100,
    "x-unit": "percent",
    "x-pii": "none",
    "x-treatment": "keep",
}


@pytest.fixture
def contract_with_visit_v2(tmp_path: Path) -> Contract:
    root = tmp_path / "avro"
    shutil.copytree(schemas_root(), root)
    v2 = json.loads((root / "visit" / "v1.avsc").read_text("utf-8"))
    v2["fields"].append(SCROLL_DEPTH)
    (root / "visit" / "v2.avsc").write_text(json.dumps(v2, ensure_ascii=False, indent=2), "utf-8")
    return Contract.load(root)


def test_v1_data_gains_the_default_under_v2(contract_with_visit_v2: Contract) -> None:
    v1_codec = Codec()
    v2_codec = Codec(contract_with_visit_v2)
    assert v2_codec.schema("visit").version == 2
    data = v1_codec.encode("visit", GOLDEN_RECORDS["visit"])
    decoded = v2_codec.decode(data)
    assert (decoded.name, decoded.writer_version) == ("visit", 1)
    assert decoded.fingerprint == v1_codec.schema("visit").fingerprint
    assert decoded.record == {**GOLDEN_RECORDS["visit"], "scroll_depth": -1}


def test_v2_data_is_read_back_into_v1(contract_with_visit_v2: Contract) -> None:
    v2_codec = Codec(contract_with_visit_v2)
    v2_record = {**GOLDEN_RECORDS["visit"], "schema_version": 2, "scroll_depth": 73}
    data = v2_codec.encode("visit", v2_record)
    assert v2_codec.decode(data).record == v2_record
    # Old reads new: v1 as the reader drops the field it does not know.
    writer = contract_with_visit_v2.versions("visit")[1]
    reader = Codec().schema("visit")
    # schema_version keeps what the writer wrote: v2 data stays recognisable downstream.
    v1_view = {**GOLDEN_RECORDS["visit"], "schema_version": 2}
    assert read_body(data, HEADER_SIZE, writer, reader) == v1_view
    # The reference package resolves the same way.
    resolved = avro.io.DatumReader(
        avro.schema.parse(json.dumps(writer.avsc)), reference_schema("visit")
    ).read(avro.io.BinaryDecoder(io.BytesIO(data[HEADER_SIZE:])))
    assert resolved == for_reference(v1_view)


def test_a_reader_without_the_writer_schema_cannot_resolve(
    contract_with_visit_v2: Contract,
) -> None:
    # Single-object encoding names the writer by fingerprint only: a reader must ship it.
    data = Codec(contract_with_visit_v2).encode(
        "visit", {**GOLDEN_RECORDS["visit"], "scroll_depth": 5}
    )
    with pytest.raises(UnknownSchemaError) as caught:
        Codec().decode(data)
    assert caught.value.fingerprint == contract_with_visit_v2.latest("visit").fingerprint


def test_v2_codec_still_encodes_other_types_with_their_v1(contract_with_visit_v2: Contract) -> None:
    v2_codec = Codec(contract_with_visit_v2)
    assert v2_codec.encode("review", GOLDEN_RECORDS["review"]).hex() == GOLDEN_HEX["review"]


# -- encode errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "change", "field"),
    [
        ("visit", {"dwell_ms": "48213"}, "dwell_ms"),
        ("visit", {"shop_id": None}, "shop_id"),
        ("visit", {"device": "smart-tv"}, "device"),
        ("review", {"text": b"bytes, not text"}, "text"),
        ("signup", {"birth_date": 1993.5}, "birth_date"),
        ("signup", {"address": {"province": 11}}, "province"),
        ("signup", {"address": {"district": "영등포구"}}, "province"),
        ("product", {"tangible": {"weight_g": "5kg"}}, "weight_g"),
        (
            "purchase",
            {"items": [{**GOLDEN_RECORDS["purchase"]["items"][0], "quantity": "2"}]},
            "quantity",
        ),
    ],
)
def test_encode_error_names_the_field(
    codec: Codec, name: str, change: dict[str, Any], field: str
) -> None:
    record = {**copy.deepcopy(GOLDEN_RECORDS[name]), **change}
    with pytest.raises(EncodeError) as caught:
        codec.encode(name, record)
    assert re.search(rf"\b{field}\b", str(caught.value)), str(caught.value)
    assert caught.value.schema_name == name
    assert caught.value.record is record


def test_schema_version_always_states_the_schema_written_with(codec: Codec) -> None:
    record = {**GOLDEN_RECORDS["visit"], "schema_version": 7}
    decoded = codec.decode(codec.encode("visit", record))
    assert decoded.writer_version == decoded.record["schema_version"] == 1


def test_encode_error_for_an_unknown_event_type(codec: Codec) -> None:
    with pytest.raises(EncodeError, match="wishlist"):
        codec.encode("wishlist", {})


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("review", {"rating": 4.5}),
        ("signup", {"marketing_sms": "no"}),
        ("product", {"category_path": "식품/과일/감귤"}),
        ("visit", {"event_id": "not-a-uuid"}),
    ],
    ids=["float-as-int", "str-as-boolean", "str-as-array", "bad-uuid-string"],
)
def test_encode_rejects_what_it_cannot_write_faithfully(
    codec: Codec, name: str, change: dict[str, Any]
) -> None:
    record = {**GOLDEN_RECORDS[name], **change}
    # Without validate=True fastavro's writer coerces these (documented on Codec.encode).
    with pytest.raises(EncodeError) as caught:
        codec.encode(name, record, validate=True)
    assert next(iter(change)) in str(caught.value)
    for value in change.values():  # the message names the field, never quotes the value
        assert repr(value) not in str(caught.value)
        assert str(value) not in str(caught.value).split()
