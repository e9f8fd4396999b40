"""Avro -> Arrow: the documented mapping, on a schema with every construct and on every
shipped clean and features schema; decoded records -> Arrow columns -> Parquet and back."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopstream.processors.sinks.parquet import ArrowMappingError, arrow_schema
from shopstream.processors.sinks.parquet.arrow import RecordColumns, arrow_type
from shopstream.schemas.contract import Contract, EventSchema, schemas_root
from shopstream.schemas.pseudonymised import load_clean_contract

from .sink_parquet_data import CLEAN_CODEC, FEATURES_CODEC, clean_topic, features_topic

UTC_MS = pa.timestamp("ms", tz="UTC")

EVERYTHING: dict[str, Any] = {
    "type": "record",
    "name": "Everything",
    "namespace": "test.arrow",
    "fields": [
        {"name": "n", "type": "null"},
        {"name": "b", "type": "boolean", "doc": "A flag."},
        {"name": "i", "type": "int"},
        {"name": "l", "type": "long"},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "double"},
        {"name": "by", "type": "bytes"},
        {"name": "s", "type": "string"},
        {"name": "u", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "e", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "BLUE"]}},
        {"name": "e2", "type": "Colour"},
        {"name": "fx", "type": {"type": "fixed", "name": "Four", "size": 4}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "tm", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "tu", "type": {"type": "long", "logicalType": "time-micros"}},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "tsu", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "lts", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
        {
            "name": "dec",
            "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2},
        },
        {"name": "odd", "type": {"type": "string", "logicalType": "not-a-known-one"}},
        {"name": "wrapped", "type": {"type": "long"}},
        {"name": "ns", "type": ["null", "string"]},
        {"name": "sn", "type": ["string", "null"]},
        {"name": "nts", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
        {"name": "arr", "type": {"type": "array", "items": "long"}},
        {"name": "narr", "type": {"type": "array", "items": ["null", "string"]}},
        {"name": "m", "type": {"type": "map", "values": "int"}},
        {
            "name": "rec",
            "type": [
                "null",
                {
                    "type": "record",
                    "name": "Inner",
                    "fields": [
                        {"name": "x", "type": "int"},
                        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
                    ],
                },
            ],
        },
        {"name": "recs", "type": {"type": "array", "items": "test.arrow.Inner"}},
    ],
}

EXPECTED = pa.schema(
    [
        pa.field("n", pa.null(), True),
        pa.field("b", pa.bool_(), False),
        pa.field("i", pa.int32(), False),
        pa.field("l", pa.int64(), False),
        pa.field("f", pa.float32(), False),
        pa.field("d", pa.float64(), False),
        pa.field("by", pa.binary(), False),
        pa.field("s", pa.string(), False),
        pa.field("u", pa.string(), False),
        pa.field("e", pa.string(), False),
        pa.field("e2", pa.string(), False),
        pa.field("fx", pa.binary(4), False),
        pa.field("day", pa.date32(), False),
        pa.field("tm", pa.time32("ms"), False),
        pa.field("tu", pa.time64("us"), False),
        pa.field("ts", UTC_MS, False),
        pa.field("tsu", pa.timestamp("us", tz="UTC"), False),
        pa.field("lts", pa.timestamp("ms"), False),
        pa.field("dec", pa.decimal128(12, 2), False),
        pa.field("odd", pa.string(), False),
        pa.field("wrapped", pa.int64(), False),
        pa.field("ns", pa.string(), True),
        pa.field("sn", pa.string(), True),
        pa.field("nts", UTC_MS, True),
        pa.field("arr", pa.list_(pa.field("item", pa.int64(), False)), False),
        pa.field("narr", pa.list_(pa.field("item", pa.string(), True)), False),
        pa.field("m", pa.map_(pa.string(), pa.field("value", pa.int32(), False)), False),
        pa.field(
            "rec",
            pa.struct([pa.field("x", pa.int32(), False), pa.field("id", pa.string(), False)]),
            True,
        ),
        pa.field(
            "recs",
            pa.list_(
                pa.field(
                    "item",
                    pa.struct(
                        [pa.field("x", pa.int32(), False), pa.field("id", pa.string(), False)]
                    ),
                    False,
                )
            ),
            False,
        ),
    ]
)


def test_every_construct_maps_as_documented() -> None:
    schema = arrow_schema(EVERYTHING)
    assert schema.equals(EXPECTED), schema.to_string(show_field_metadata=False)
    assert schema.field("b").metadata == {b"doc": b"A flag."}


def test_the_mapping_is_pure() -> None:
    assert arrow_schema(EVERYTHING).equals(arrow_schema(EVERYTHING), check_metadata=True)


@pytest.mark.parametrize(
    "union", [["string", "long"], ["null", "string", "long"], []], ids=["two", "three", "empty"]
)
def test_a_union_of_several_types_is_refused(union: list[Any]) -> None:
    with pytest.raises(ArrowMappingError, match="union"):
        arrow_type(union)


def test_an_unknown_name_is_refused() -> None:
    with pytest.raises(ArrowMappingError, match="Nowhere"):
        arrow_type("Nowhere")


def _expected_type(avro: Any, named: dict[str, pa.DataType]) -> tuple[pa.DataType, bool]:
    """An independent reading of the mapping, for the shapes the shipped schemas use."""
    if isinstance(avro, list):
        (branch,) = [b for b in avro if b != "null"]
        return _expected_type(branch, named)[0], "null" in avro
    if isinstance(avro, str):
        primitive = {"string": pa.string(), "int": pa.int32(), "long": pa.int64()}
        primitive |= {"boolean": pa.bool_(), "double": pa.float64()}
        return (primitive[avro] if avro in primitive else named[avro]), False
    logical = avro.get("logicalType")
    if logical is not None:
        return {"uuid": pa.string(), "timestamp-millis": UTC_MS, "date": pa.date32()}[
            logical
        ], False
    if avro["type"] in ("string", "int", "long", "boolean", "double"):
        return _expected_type(avro["type"], named)
    if avro["type"] == "enum":
        named[avro["name"]] = pa.string()
        return pa.string(), False
    if avro["type"] == "array":
        item, nullable = _expected_type(avro["items"], named)
        return pa.list_(pa.field("item", item, nullable)), False
    assert avro["type"] == "record", avro
    fields = [pa.field(f["name"], *_expected_type(f["type"], named)) for f in avro["fields"]]
    named[avro["name"]] = pa.struct(fields)
    return pa.struct(fields), False


def _shipped() -> list[EventSchema]:
    features = Contract.load(schemas_root() / "features")
    return [*load_clean_contract(), *features]


@pytest.mark.parametrize("schema", _shipped(), ids=lambda s: f"{s.name}-v{s.version}")
def test_every_shipped_schema_maps_field_by_field(schema: EventSchema) -> None:
    arrow = arrow_schema(schema.avsc)
    assert arrow.names == [f["name"] for f in schema.avsc["fields"]]
    named: dict[str, pa.DataType] = {}
    for field in schema.avsc["fields"]:
        data_type, nullable = _expected_type(field["type"], named)
        got = arrow.field(field["name"])
        assert got.type == data_type, field["name"]
        assert got.nullable == nullable, field["name"]
        assert got.metadata == {b"doc": field["doc"].encode()}


@pytest.mark.parametrize("name", load_clean_contract().names)
def test_decoded_clean_events_become_columns_and_survive_parquet(name: str) -> None:
    records = [
        r.event.record
        for part in clean_topic(count=120).values()
        for r in part
        if r.event.name == name
    ]
    assert records, name
    _round_trip(CLEAN_CODEC.schema(name).avsc, records)


def test_decoded_features_become_columns_and_survive_parquet() -> None:
    records = [r.event.record for part in features_topic().values() for r in part]
    _round_trip(FEATURES_CODEC.schema("buyer").avsc, records)


def _round_trip(avsc: Any, records: list[dict[str, Any]]) -> None:
    columns = RecordColumns.from_avro(avsc)
    table = pa.Table.from_arrays(columns.columns(records), schema=columns.schema)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    back = pq.read_table(io.BytesIO(buffer.getvalue()))
    assert back.schema.equals(columns.schema)
    for record, row in zip(records, back.to_pylist(), strict=True):
        assert row == {k: (str(v) if k == "event_id" else v) for k, v in record.items()}


def test_nested_uuids_and_maps_convert() -> None:
    import datetime as dt
    import decimal
    import uuid

    when = dt.datetime(2025, 3, 14, 9, 26, 53, 589000, tzinfo=dt.UTC)
    ident = uuid.UUID(int=7)
    record = {
        "n": None,
        "b": True,
        "i": 1,
        "l": 2,
        "f": 0.5,
        "d": 0.25,
        "by": b"\x00",
        "s": "가",
        "u": ident,
        "e": "RED",
        "e2": "BLUE",
        "fx": b"abcd",
        "day": dt.date(2025, 3, 14),
        "tm": dt.time(9, 26, 53, 589000),
        "tu": dt.time(9, 26, 53, 589123),
        "ts": when,
        "tsu": when,
        "lts": when.replace(tzinfo=None),
        "dec": decimal.Decimal("12.34"),
        "odd": "x",
        "wrapped": 3,
        "ns": None,
        "sn": "y",
        "nts": None,
        "arr": [1, 2],
        "narr": ["a", None],
        "m": {"k": 1},
        "rec": {"x": 1, "id": ident},
        "recs": [{"x": 2, "id": ident}],
    }
    columns = RecordColumns.from_avro(EVERYTHING)
    table = pa.Table.from_arrays(columns.columns([record]), schema=columns.schema)
    row = table.to_pylist()[0]
    assert row["u"] == str(ident)
    assert row["rec"] == {"x": 1, "id": str(ident)}
    assert row["recs"] == [{"x": 2, "id": str(ident)}]
    assert row["m"] == [("k", 1)]
    assert row["ts"] == when
